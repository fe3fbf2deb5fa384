//! `rr-testkit`: run a harness registry outside `cargo test` (ctest
//! fixtures, demos).
//!
//! ```text
//! rr-testkit serve --mode open|basic|tls|token [--mtls] [--seed] --env-file PATH
//!                  [--max-seconds N] [--detach [--log PATH]]
//!                  [--netem-rtt-ms N [--netem-rate-mbit R] [--netem-total-mbit T]
//!                   [--netem-jitter-ms J]] [--token-realm-host NAME]
//! rr-testkit stop --env-file PATH [--timeout-seconds N]
//! ```
//!
//! `serve` starts a registry (seeding it with `seed_standard` and
//! `seed_annotated` on `--seed`;
//! with `--mtls` it speaks https and requires a client certificate, named by
//! `RR_TEST_CLIENT_CERT` and `RR_TEST_CLIENT_KEY` in the env file),
//! writes `KEY=VALUE` lines to the env file atomically once ready, and runs
//! until SIGTERM/SIGINT/SIGHUP or `--max-seconds` (default 3600), then kills
//! the registry and removes the env file. With `--detach` it starts itself
//! in the background (output to `--log`, default `ENV_FILE.log`), waits for
//! the env file and exits 0, so it can be a ctest FIXTURES_SETUP step.
//! `stop` sends SIGTERM to `RR_TEST_PID` from the env file and waits for it
//! to exit (SIGKILL after the timeout). A missing env file is not an error.
//!
//! With `--netem-rtt-ms` the registry is also reached over an emulated wide-area link
//! ([`rr_testkit::netem`]; RTT and jitter in ms, rates in Mbit/s per direction, per
//! connection and in total, as `rr-netem` takes them): a `NetEm` with that link in front of
//! the registry, whose address is `RR_TEST_WAN_REGISTRY` (`RR_TEST_REGISTRY` stays direct,
//! to push fixtures fast), and in Token mode another in front of the token server, whose
//! address is the realm the registry names (so a token costs its round trips whichever
//! address a client uses; each emulator has its own total). On SIGUSR1 the process writes
//! both emulators' request logs, merged, as JSON lines (`rr-netem`'s format, one clock) to
//! the file `RR_TEST_WAN_LOG` names and empties them: remove the file, send the signal to
//! `RR_TEST_PID`, and wait for the file to appear. TLS through the emulators (Tls mode,
//! mTLS) is proxied but not logged.
//!
//! `--token-realm-host NAME` (Token mode) names the token server by NAME in the realm
//! (`http://NAME:PORT/token`) instead of 127.0.0.1: use `localhost` for crane, which
//! refuses a realm at a loopback IP literal other than the registry's own host:port.
//!
//! An open registry also gets a fault proxy in front of it that adds Docker
//! Hub's rate-limit headers (`ratelimit-limit: 100;w=21600`,
//! `ratelimit-remaining: 76;w=21600`) to every manifest response:
//! `RR_TEST_RATELIMITED_REGISTRY` is its `host:port`, and with `--seed`
//! `RR_TEST_RATELIMITED_IMAGE` the seeded image through it.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rr_testkit::netem::log::{self, DumpSignal};
use rr_testkit::netem::{Link, NetEm};
use rr_testkit::{Annotated, Fault, FaultProxy, Mode, Options, Registry, Rule, Seeded, Server};

const USAGE: &str = "usage:
  rr-testkit serve --mode open|basic|tls|token [--mtls] [--seed] --env-file PATH [--max-seconds N] [--detach [--log PATH]]
                   [--netem-rtt-ms N [--netem-rate-mbit R] [--netem-total-mbit T] [--netem-jitter-ms J]] [--token-realm-host NAME]
  rr-testkit stop --env-file PATH [--timeout-seconds N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("stop") => stop(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("rr-testkit: {msg}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Default)]
struct Opts {
    mode: Option<Mode>,
    mtls: bool,
    seed: bool,
    env_file: Option<PathBuf>,
    max_seconds: Option<u64>,
    detach: bool,
    log: Option<PathBuf>,
    timeout_seconds: Option<u64>,
    netem_rtt_ms: Option<f64>,
    netem_rate_mbit: Option<f64>,
    netem_total_mbit: Option<f64>,
    netem_jitter_ms: Option<f64>,
    token_realm_host: Option<String>,
}

fn parse(args: &[String], allowed: &[&str]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        if !allowed.contains(&key) {
            return Err(format!("unexpected argument {a:?}\n{USAGE}"));
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{key} needs a value"))
        };
        match key {
            "--mode" => o.mode = Some(value()?.parse()?),
            "--seed" => o.seed = true,
            "--mtls" => o.mtls = true,
            "--detach" => o.detach = true,
            "--env-file" => o.env_file = Some(value()?.into()),
            "--log" => o.log = Some(value()?.into()),
            "--max-seconds" => o.max_seconds = Some(number(&value()?)?),
            "--timeout-seconds" => o.timeout_seconds = Some(number(&value()?)?),
            "--netem-rtt-ms" => o.netem_rtt_ms = Some(real(key, &value()?)?),
            "--netem-rate-mbit" => o.netem_rate_mbit = Some(real(key, &value()?)?),
            "--netem-total-mbit" => o.netem_total_mbit = Some(real(key, &value()?)?),
            "--netem-jitter-ms" => o.netem_jitter_ms = Some(real(key, &value()?)?),
            "--token-realm-host" => o.token_realm_host = Some(value()?),
            _ => unreachable!(),
        }
    }
    Ok(o)
}

fn number(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("not a number: {s:?}"))
}

/// A finite number ≥ 0 (fractions allowed).
fn real(key: &str, s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{key}: not a number ≥ 0: {s:?}")),
    }
}

/// The emulated link of `--netem-*`, if any.
fn wan_link(o: &Opts) -> Result<Option<Link>, String> {
    let Some(rtt) = o.netem_rtt_ms else {
        if o.netem_rate_mbit.is_some()
            || o.netem_total_mbit.is_some()
            || o.netem_jitter_ms.is_some()
        {
            return Err(
                "--netem-rate-mbit, --netem-total-mbit and --netem-jitter-ms need --netem-rtt-ms"
                    .into(),
            );
        }
        return Ok(None);
    };
    Link::from_flags(
        rtt,
        o.netem_rate_mbit,
        o.netem_total_mbit,
        o.netem_jitter_ms,
    )
    .map(Some)
}

fn serve(args: &[String]) -> Result<(), String> {
    let o = parse(
        args,
        &[
            "--mode",
            "--mtls",
            "--seed",
            "--env-file",
            "--max-seconds",
            "--detach",
            "--log",
            "--netem-rtt-ms",
            "--netem-rate-mbit",
            "--netem-total-mbit",
            "--netem-jitter-ms",
            "--token-realm-host",
        ],
    )?;
    let mode = o.mode.ok_or("serve needs --mode")?;
    let env_file = o.env_file.clone().ok_or("serve needs --env-file")?;
    let link = wan_link(&o)?;
    if let Some(name) = &o.token_realm_host {
        if mode != Mode::Token {
            return Err("--token-realm-host is for --mode token".into());
        }
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(format!("--token-realm-host: not a host name: {name:?}"));
        }
    }
    if o.detach {
        return detach(args, &env_file, o.log.as_deref());
    }

    // Before anything slow, so an early SIGTERM still leads to a clean stop.
    let quit = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&quit))
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
    }
    let dump = link.map(|_| DumpSignal::install()).transpose()?;
    let max = Duration::from_secs(o.max_seconds.unwrap_or(3600));
    let started = Instant::now();

    let mut reg = Registry::start_with(Options {
        mtls: o.mtls,
        token_link: link.filter(|_| mode == Mode::Token),
        // One registry per process: leaking the name is fine.
        token_realm_host: o
            .token_realm_host
            .clone()
            .map(|n| &*Box::leak(n.into_boxed_str())),
        ..Options::new(Server::Distribution28, mode)
    });
    let wan = link.map(|l| NetEm::start(&reg.host(), l));
    let wan_log = reg.dir().join("wan-log.jsonl");
    let seeded = o.seed.then(|| (reg.seed_standard(), reg.seed_annotated()));
    // Kept until the registry stops; requests to it end with the process.
    let rate_limited = (mode == Mode::Open && !o.mtls).then(|| {
        FaultProxy::start(
            &reg.host(),
            vec![Rule::new(
                None,
                "/manifests/",
                Fault::add_headers(&[
                    ("ratelimit-limit", "100;w=21600"),
                    ("ratelimit-remaining", "76;w=21600"),
                ]),
                usize::MAX,
            )],
        )
    });
    let mut lines = env_lines(&reg, seeded.as_ref());
    if let Some(proxy) = &rate_limited {
        lines.push(("RR_TEST_RATELIMITED_REGISTRY".into(), proxy.host()));
        if let Some((s, _)) = &seeded {
            lines.push((
                "RR_TEST_RATELIMITED_IMAGE".into(),
                s.app.reference.replacen(&reg.host(), &proxy.host(), 1),
            ));
        }
    }
    if let Some(netem) = &wan {
        lines.push(("RR_TEST_WAN_REGISTRY".into(), netem.host()));
        lines.push(("RR_TEST_WAN_LOG".into(), wan_log.display().to_string()));
    }
    write_env_file(&env_file, &lines)?;
    eprintln!(
        "rr-testkit: {mode} registry on {} (pid {}), env file {}",
        reg.host(),
        std::process::id(),
        env_file.display()
    );
    if let (Some(netem), Some(link)) = (&wan, link) {
        eprintln!(
            "rr-testkit: emulated link {link:?}: registry via {}{}",
            netem.host(),
            reg.token_realm()
                .map(|r| format!(", token realm {r}"))
                .unwrap_or_default()
        );
    }
    // Quick to answer SIGUSR1 when emulating, as the benchmark waits for each log.
    let tick = Duration::from_millis(if wan.is_some() { 20 } else { 100 });

    let reason = loop {
        if dump.as_ref().is_some_and(DumpSignal::due) {
            let mut emulators: Vec<&NetEm> = wan.iter().collect();
            emulators.extend(reg.token_netem());
            if let Err(e) = log::dump(&wan_log, &emulators) {
                eprintln!("rr-testkit: {e}");
            }
        }
        if quit.load(Ordering::Relaxed) {
            break "signal";
        }
        if started.elapsed() >= max {
            break "--max-seconds elapsed";
        }
        if !reg.is_running() {
            break "registry exited unexpectedly";
        }
        std::thread::sleep(tick);
    };
    eprintln!("rr-testkit: stopping ({reason})");
    let crashed = !reg.is_running();
    let tail = reg.log_tail(20);
    drop(wan);
    drop(rate_limited);
    reg.stop();
    drop(reg);
    let _ = fs::remove_file(&env_file);
    if crashed && reason != "signal" {
        return Err(format!("the registry died; log tail:\n{tail}"));
    }
    Ok(())
}

fn env_lines(reg: &Registry, seeded: Option<&(Seeded, Annotated)>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, val: String| v.push((k.to_string(), val));
    put("RR_TEST_REGISTRY", reg.host());
    put("RR_TEST_MODE", reg.mode().to_string());
    put("RR_TEST_PID", std::process::id().to_string());
    put("RR_TEST_REGISTRY_PID", reg.pid().to_string());
    put("RR_TEST_BASE_URL", reg.base_url());
    put("RR_TEST_STORAGE", reg.storage_dir().display().to_string());
    put("RR_TEST_LOG", reg.log_path().display().to_string());
    if let Some(ca) = reg.ca_pem_path() {
        put("RR_TEST_CA", ca.display().to_string());
    }
    if reg.is_mtls() {
        if let (Some(cert), Some(key)) = (reg.client_cert_pem_path(), reg.client_key_pem_path()) {
            put("RR_TEST_CLIENT_CERT", cert.display().to_string());
            put("RR_TEST_CLIENT_KEY", key.display().to_string());
        }
    }
    if let Some((u, p)) = reg.credentials() {
        put("RR_TEST_USER", u.to_string());
        put("RR_TEST_PASSWORD", p.to_string());
    }
    if let Some(realm) = reg.token_realm() {
        put("RR_TEST_TOKEN_REALM", realm);
        put("RR_TEST_PULL_USER", rr_testkit::TOKEN_PULLER.to_string());
        put(
            "RR_TEST_PULL_PASSWORD",
            rr_testkit::TOKEN_PULLER_PASSWORD.to_string(),
        );
    }
    if let Some((s, a)) = seeded {
        put("RR_TEST_ANNOTATED_IMAGE", a.image.reference.clone());
        put(
            "RR_TEST_ANNOTATED_IMAGE_DIGEST",
            a.image.manifest_digest.clone(),
        );
        put("RR_TEST_ANNOTATED_INDEX", a.index.reference.clone());
        put("RR_TEST_ANNOTATED_INDEX_DIGEST", a.index.digest.clone());
        put("RR_TEST_IMAGE", s.app.reference.clone());
        put("RR_TEST_IMAGE_DIGEST", s.app.manifest_digest.clone());
        put("RR_TEST_INDEX", s.multi.reference.clone());
        put("RR_TEST_INDEX_DIGEST", s.multi.digest.clone());
        put("RR_TEST_MANY", format!("{}/demo/many", reg.host()));
        put("RR_TEST_MANY_TAG_COUNT", s.many_tags.len().to_string());
        if let Some(p) = &s.public_app {
            put("RR_TEST_PUBLIC_IMAGE", p.reference.clone());
            put("RR_TEST_PUBLIC_IMAGE_DIGEST", p.manifest_digest.clone());
        }
    }
    v
}

/// Writes `path` whole (a temporary file renamed).
fn write_env_file(path: &Path, lines: &[(String, String)]) -> Result<(), String> {
    let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    log::write_atomically(path, text.as_bytes())
}

fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, std::io::Error> {
    Ok(fs::read_to_string(path)?
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

/// Re-runs `serve` without `--detach` in a new session, waits for the env
/// file (or the child's death) and returns.
fn detach(args: &[String], env_file: &Path, log: Option<&Path>) -> Result<(), String> {
    let _ = fs::remove_file(env_file);
    let log_path = log.map(Path::to_path_buf).unwrap_or_else(|| {
        let mut p = env_file.as_os_str().to_owned();
        p.push(".log");
        PathBuf::from(p)
    });
    let log =
        fs::File::create(&log_path).map_err(|e| format!("create {}: {e}", log_path.display()))?;
    let mut child_args: Vec<String> = Vec::new();
    let mut skip_next = false;
    for a in args {
        if skip_next {
            skip_next = false;
            continue;
        }
        match a.as_str() {
            "--detach" => {}
            "--log" => skip_next = true,
            _ if a.starts_with("--log=") => {}
            _ => child_args.push(a.clone()),
        }
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("serve")
        .args(&child_args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| format!("spawn serve: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if env_file.exists() {
            println!("{}", env_file.display());
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("serve exited early ({status}):\n{log}"));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("serve did not become ready within 300 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(args: &[String]) -> Result<(), String> {
    let o = parse(args, &["--env-file", "--timeout-seconds"])?;
    let env_file = o.env_file.ok_or("stop needs --env-file")?;
    let vars = match read_env_file(&env_file) {
        Ok(v) => v,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "rr-testkit: {} does not exist; nothing to stop",
                env_file.display()
            );
            return Ok(());
        }
        Err(e) => return Err(format!("read {}: {e}", env_file.display())),
    };
    let pid: libc::pid_t = vars
        .iter()
        .find(|(k, _)| k == "RR_TEST_PID")
        .and_then(|(_, v)| v.parse().ok())
        .filter(|p| *p > 1)
        .ok_or_else(|| format!("no valid RR_TEST_PID in {}", env_file.display()))?;
    if !is_rr_testkit(pid) {
        eprintln!("rr-testkit: pid {pid} is not running rr-testkit; nothing to stop");
        let _ = fs::remove_file(&env_file);
        return Ok(());
    }
    // SAFETY: plain syscall.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(o.timeout_seconds.unwrap_or(20));
    while alive(pid) {
        if Instant::now() > deadline {
            eprintln!("rr-testkit: pid {pid} ignored SIGTERM; sending SIGKILL");
            // SAFETY: plain syscall.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // Its registry dies with it (PR_SET_PDEATHSIG).
            let _ = fs::remove_file(&env_file);
            return Err(format!("pid {pid} had to be killed"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn is_rr_testkit(pid: libc::pid_t) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("rr-testkit"))
        .unwrap_or(false)
}

/// Running and not a zombie.
fn alive(pid: libc::pid_t) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // State follows the ")" closing the command name.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}
