//! The `rr-testkit` binary: serve / stop, for ctest fixtures.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rr-testkit");

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_env(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn serve_detached_seeded_then_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let env_file = tmp.path().join("registry.env");
    let out = Command::new(BIN)
        .args([
            "serve",
            "--mode",
            "open",
            "--seed",
            "--detach",
            "--env-file",
        ])
        .arg(&env_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = read_env(&env_file);
    let host = &env["RR_TEST_REGISTRY"];
    assert_eq!(env["RR_TEST_MODE"], "open");
    assert_eq!(env["RR_TEST_IMAGE"], format!("{host}/demo/app:v1"));
    assert_eq!(env["RR_TEST_INDEX"], format!("{host}/demo/multi:latest"));
    assert_eq!(env["RR_TEST_MANY"], format!("{host}/demo/many"));
    assert_eq!(
        env["RR_TEST_ANNOTATED_IMAGE"],
        format!("{host}/demo/annotated:v1")
    );
    assert_eq!(
        env["RR_TEST_ANNOTATED_INDEX"],
        format!("{host}/demo/annotated:index")
    );
    assert!(!env.contains_key("RR_TEST_CA"));
    assert!(!env.contains_key("RR_TEST_USER"));
    let pid: u32 = env["RR_TEST_PID"].parse().unwrap();
    let reg_pid: u32 = env["RR_TEST_REGISTRY_PID"].parse().unwrap();
    assert!(alive(pid) && alive(reg_pid));

    let resp = ureq::get(&format!("http://{host}/v2/demo/app/manifests/v1"))
        .set("Accept", rr_testkit::MANIFEST_ACCEPT)
        .call()
        .unwrap();
    assert_eq!(
        resp.header("Docker-Content-Digest"),
        Some(env["RR_TEST_IMAGE_DIGEST"].as_str())
    );
    // The same image through the rate-limit proxy, with Docker Hub's headers added.
    let limited = &env["RR_TEST_RATELIMITED_REGISTRY"];
    assert_eq!(
        env["RR_TEST_RATELIMITED_IMAGE"],
        format!("{limited}/demo/app:v1")
    );
    let resp = ureq::head(&format!("http://{limited}/v2/demo/app/manifests/v1"))
        .set("Accept", rr_testkit::MANIFEST_ACCEPT)
        .call()
        .unwrap();
    assert_eq!(resp.header("ratelimit-limit"), Some("100;w=21600"));
    assert_eq!(resp.header("ratelimit-remaining"), Some("76;w=21600"));
    let resp = ureq::get(&format!("http://{host}/v2/demo/annotated/manifests/index"))
        .set("Accept", rr_testkit::MANIFEST_ACCEPT)
        .call()
        .unwrap();
    assert_eq!(
        resp.header("Docker-Content-Digest"),
        Some(env["RR_TEST_ANNOTATED_INDEX_DIGEST"].as_str())
    );

    let out = Command::new(BIN)
        .args(["stop", "--env-file"])
        .arg(&env_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!alive(pid));
    wait_until("the registry to die", 5, || !alive(reg_pid));
    assert!(!env_file.exists());
    // Stopping again is fine.
    let again = Command::new(BIN)
        .args(["stop", "--env-file"])
        .arg(&env_file)
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[test]
fn serve_exits_after_max_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let env_file = tmp.path().join("tls.env");
    let mut child = Command::new(BIN)
        .args(["serve", "--mode", "tls", "--max-seconds", "2", "--env-file"])
        .arg(&env_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the env file", 15, || env_file.exists());
    let env = read_env(&env_file);
    assert_eq!(env["RR_TEST_USER"], rr_testkit::BASIC_USER);
    assert_eq!(env["RR_TEST_PASSWORD"], rr_testkit::BASIC_PASSWORD);
    assert!(Path::new(&env["RR_TEST_CA"]).is_file());
    let reg_pid: u32 = env["RR_TEST_REGISTRY_PID"].parse().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(!alive(reg_pid));
    assert!(!env_file.exists());
}

#[test]
fn killing_serve_with_sigkill_takes_the_registry_down() {
    let tmp = tempfile::tempdir().unwrap();
    let env_file = tmp.path().join("token.env");
    let mut child = Command::new(BIN)
        .args(["serve", "--mode", "token", "--env-file"])
        .arg(&env_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the env file", 15, || env_file.exists());
    let env = read_env(&env_file);
    assert_eq!(env["RR_TEST_USER"], rr_testkit::TOKEN_PUSHER);
    assert!(env["RR_TEST_TOKEN_REALM"].ends_with("/token"));
    let reg_pid: u32 = env["RR_TEST_REGISTRY_PID"].parse().unwrap();
    assert!(alive(reg_pid));
    child.kill().unwrap(); // SIGKILL: no cleanup code runs
    child.wait().unwrap();
    wait_until("the orphaned registry to die", 5, || !alive(reg_pid));
    // Nothing could clean its temp dir; the next Registry::start sweeps it.
    let dir = Path::new(&env["RR_TEST_STORAGE"])
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(dir.exists());
    drop(rr_testkit::Registry::start(rr_testkit::Mode::Open));
    assert!(!dir.exists(), "stale dir {} not swept", dir.display());
}

#[test]
fn serve_behind_an_emulated_link_logs_both_emulators_on_sigusr1() {
    let tmp = tempfile::tempdir().unwrap();
    let env_file = tmp.path().join("wan.env");
    let out = Command::new(BIN)
        .args([
            "serve",
            "--mode",
            "token",
            "--netem-rtt-ms",
            "20",
            "--netem-rate-mbit",
            "100",
            "--netem-total-mbit",
            "200",
            "--token-realm-host",
            "localhost",
            "--detach",
            "--env-file",
        ])
        .arg(&env_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = read_env(&env_file);
    let (direct, wan) = (&env["RR_TEST_REGISTRY"], &env["RR_TEST_WAN_REGISTRY"]);
    assert_ne!(direct, wan);
    assert!(wan.starts_with("127.0.0.1:"));
    let realm = &env["RR_TEST_TOKEN_REALM"];
    assert!(realm.starts_with("http://localhost:"), "{realm}");
    let log = Path::new(&env["RR_TEST_WAN_LOG"]).to_path_buf();
    let pid: i32 = env["RR_TEST_PID"].parse().unwrap();
    let dump = || -> Vec<serde_json::Value> {
        let _ = std::fs::remove_file(&log);
        // SAFETY: plain syscall.
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        wait_until("the WAN log", 10, || log.exists());
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };

    // Through the emulator: a challenge, then a token from the realm it names.
    let challenge = match ureq::get(&format!("http://{wan}/v2/")).call() {
        Err(ureq::Error::Status(401, r)) => r.header("WWW-Authenticate").unwrap().to_string(),
        other => panic!("expected 401, got {other:?}"),
    };
    assert!(
        challenge.contains(&format!("realm=\"{realm}\"")),
        "{challenge}"
    );
    ureq::get(&format!("{realm}?service={}", rr_testkit::TOKEN_SERVICE))
        .call()
        .unwrap();
    // Direct requests are not logged.
    let _ = ureq::get(&format!("http://{direct}/v2/")).call();
    let lines = dump();
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(paths.len(), 2, "{lines:?}");
    assert_eq!(paths[0], "/v2/");
    assert!(paths[1].starts_with("/token?"), "{paths:?}");
    assert_eq!(lines[0]["status"], 401);
    assert_eq!(lines[1]["status"], 200);
    // One clock: the token request started after the challenge ended.
    assert!(lines[1]["start_us"].as_u64() >= lines[0]["end_us"].as_u64());
    // The log was emptied.
    assert!(dump().is_empty());

    let out = Command::new(BIN)
        .args(["stop", "--env-file"])
        .arg(&env_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!env_file.exists());
}

#[test]
fn serve_refuses_link_flags_without_an_rtt() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--mode",
            "open",
            "--netem-rate-mbit",
            "10",
            "--env-file",
        ])
        .arg(tmp.path().join("x.env"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("need --netem-rtt-ms"));
    let out = Command::new(BIN)
        .args([
            "serve",
            "--mode",
            "open",
            "--token-realm-host",
            "localhost",
            "--env-file",
        ])
        .arg(tmp.path().join("x.env"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mode token"));
}
