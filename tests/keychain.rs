//! The default keychain end to end: a temporary DOCKER_CONFIG with `auths`, and a
//! credential-helper script, against real registries. Environment variables are process
//! wide, so these tests take turns.

use rr::remote::{self, Client};
use rr::ErrorKind;
use rr_testkit::*;
use std::sync::Mutex;

static ENV: Mutex<()> = Mutex::new(());

fn with_env<T>(vars: &[(&str, Option<&str>)], f: impl FnOnce() -> T) -> T {
    let _guard = ENV.lock().unwrap_or_else(|p| p.into_inner());
    let saved: Vec<_> = vars
        .iter()
        .map(|(k, _)| (*k, std::env::var(k).ok()))
        .collect();
    for (k, v) in vars {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    let out = f();
    for (k, v) in saved {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    out
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn docker_config_auths_are_used_and_read_at_lookup_time() {
    let (reg, seeded) = shared_seeded(Mode::Basic);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let empty_home = tempfile::tempdir().unwrap();
    let vars = [
        ("DOCKER_CONFIG", Some(dir.path().to_str().unwrap())),
        ("HOME", Some(empty_home.path().to_str().unwrap())),
        ("REGISTRY_AUTH_FILE", None),
        ("XDG_RUNTIME_DIR", None),
        ("XDG_CONFIG_HOME", None),
    ];
    with_env(&vars, || {
        let c = Client::new();
        // No file yet: anonymous, refused.
        let e = remote::get(&c, &seeded.app.reference).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized);
        // The file appears: the next operation reads it.
        let auth = b64(&format!("{BASIC_USER}:{BASIC_PASSWORD}"));
        std::fs::write(
            &config,
            format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
        )
        .unwrap();
        let d = remote::get(&c, &seeded.app.reference).unwrap();
        assert_eq!(d.digest, seeded.app.manifest_digest);
        // Basic auth set on the client comes first.
        c.set_basic_auth(&reg.host(), BASIC_USER, "wrong").unwrap();
        assert_eq!(
            remote::get(&c, &seeded.app.reference).unwrap_err().kind,
            ErrorKind::Unauthorized
        );
        // With the keychain off the file is ignored.
        let off = Client::new();
        off.set_keychain(false);
        assert_eq!(
            remote::get(&off, &seeded.app.reference).unwrap_err().kind,
            ErrorKind::Unauthorized
        );
    });
}

#[test]
fn credential_helper_script_supplies_token_auth_credentials() {
    let (reg, seeded) = shared_seeded(Mode::Token);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("helper.log");
    let helper = bin.join("docker-credential-rrtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread -r key || true\necho \"$key\" >> {log}\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{TOKEN_PULLER}\",\"Secret\":\"{TOKEN_PULLER_PASSWORD}\"}}' \"$key\"\n",
            log = log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config_dir = dir.path().join("docker");
    std::fs::create_dir(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"rrtest"}}}}"#, reg.host()),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let vars = [
        ("DOCKER_CONFIG", Some(config_dir.to_str().unwrap())),
        ("PATH", Some(path.as_str())),
    ];
    with_env(&vars, || {
        let c = Client::new();
        let d = remote::get(&c, &seeded.app.reference).unwrap();
        assert_eq!(d.digest, seeded.app.manifest_digest);
    });
    let asked = std::fs::read_to_string(&log).unwrap();
    assert!(
        asked.lines().any(|l| l == reg.host()),
        "helper was asked for: {asked:?}"
    );
}

#[test]
fn a_failing_credential_helper_fails_the_operation_without_leaking() {
    let (reg, seeded) = shared_seeded(Mode::Token);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        format!(
            r#"{{"credHelpers":{{"{}":"does-not-exist-rr"}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    with_env(
        &[("DOCKER_CONFIG", Some(dir.path().to_str().unwrap()))],
        || {
            let e = remote::get(&Client::new(), &seeded.app.reference).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Io, "{}", e.message);
            assert!(
                e.message.contains("docker-credential-does-not-exist-rr"),
                "{}",
                e.message
            );
        },
    );
}
