//! Proxies end to end, through the harness's CONNECT and forward proxy, which records
//! what it relays: a proxy set for one registry through the API (it applies even to
//! loopback registries), and HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment.
//!
//! The environment is read when a client builds its HTTP agents, from the process's
//! environment; setting it here would race with the other tests' threads (setenv is
//! not thread-safe), so the environment tests run their client in a child process:
//! this test binary again, running only `child`, with the variables set on the
//! command. Loopback addresses are never proxied from the environment, so there the
//! registry is reached as `registry.rr.test:PORT`, a name that only the proxy resolves
//! (to 127.0.0.1): a request that arrives went through the proxy.

use rr::remote::{self, Client};
use rr::ErrorKind;
use rr_testkit::*;
use std::process::Command;

const REPO_TAG: &str = "demo/app:v1";

fn client() -> Client {
    let c = Client::new();
    c.set_keychain(false);
    c.set_default_certs_dirs(false);
    c.set_retry(1, 0).unwrap();
    c
}

fn with_basic(c: &Client, reg: &Registry, as_host: &str) {
    if let Some((u, p)) = reg.credentials() {
        c.set_basic_auth(as_host, u, p).unwrap();
    }
}

#[test]
fn a_registry_proxy_carries_https_through_connect_even_to_loopback() {
    let reg = Registry::start(Mode::Tls);
    let image = reg.push_image(REPO_TAG, &ImageSpec::random(21, &[4000]));
    let proxy = HttpProxy::start();
    let c = client();
    with_basic(&c, &reg, &reg.host());
    c.add_ca_file(reg.ca_pem_path().unwrap().to_str().unwrap())
        .unwrap();
    c.set_proxy(&reg.host(), Some(&proxy.url())).unwrap();
    let d = remote::get(&c, &image.reference).unwrap();
    assert_eq!(d.digest, image.manifest_digest);
    assert_eq!(d.image().unwrap().config().unwrap(), image.config_bytes);
    let relayed = proxy.relayed();
    assert!(!relayed.is_empty());
    // A loopback registry may speak plain http: when the https ping through the proxy
    // takes a while (a debug build), an http ping is sent beside it, and the TLS
    // registry refuses it. Everything else went through CONNECT.
    let probe = format!("http://{}/v2/", reg.host());
    for r in &relayed {
        if (r.method.as_str(), r.target.as_str()) == ("GET", probe.as_str()) {
            assert_eq!(r.status, 400, "{relayed:?}");
            continue;
        }
        assert_eq!(
            (r.method.as_str(), r.target.as_str(), r.status),
            ("CONNECT", reg.host().as_str(), 200),
            "{relayed:?}"
        );
    }

    // Removing the setting goes back to the environment, which never proxies loopback.
    proxy.clear();
    c.set_proxy(&reg.host(), None).unwrap();
    assert_eq!(
        remote::get(&c, &image.reference).unwrap().digest,
        image.manifest_digest
    );
    assert_eq!(proxy.relayed(), Vec::new());
}

/// The proxy sees every connection: a loopback registry's https attempt is a CONNECT,
/// and a registry set plain-http gets none.
#[test]
fn a_plain_http_registry_gets_no_https_attempt() {
    let reg = Registry::start(Mode::Open);
    let image = reg.push_image(REPO_TAG, &ImageSpec::random(23, &[4000]));
    let proxy = HttpProxy::start();
    let connects = |relayed: &[Relayed]| relayed.iter().filter(|r| r.method == "CONNECT").count();

    let tries_https = client();
    tries_https
        .set_proxy(&reg.host(), Some(&proxy.url()))
        .unwrap();
    let img = remote::image(&tries_https, &image.reference).unwrap();
    assert_eq!(img.config().unwrap(), image.config_bytes);
    assert_eq!(connects(&proxy.relayed()), 1, "{:?}", proxy.relayed());

    proxy.clear();
    let plain = client();
    plain.set_proxy(&reg.host(), Some(&proxy.url())).unwrap();
    plain.set_plain_http(&reg.host()).unwrap();
    let img = remote::image(&plain, &image.reference).unwrap();
    assert_eq!(img.config().unwrap(), image.config_bytes);
    let relayed = proxy.relayed();
    assert_eq!(connects(&relayed), 0, "{relayed:?}");
    let ping = format!("http://{}/v2/", reg.host());
    assert_eq!(relayed[0].target, ping, "{relayed:?}");

    // A TLS registry set so refuses the plain request, and rr says so.
    let tls = Registry::start(Mode::Tls);
    let c = client();
    c.set_plain_http(&tls.host()).unwrap();
    let e = remote::get(&c, &format!("{}/demo/app:v1", tls.host())).unwrap_err();
    assert_eq!(e.http_status, 400, "{e}");
    assert!(e.message.contains("ping of registry"), "{e}");
}

#[test]
fn a_registry_proxy_forwards_plain_http() {
    let reg = Registry::start(Mode::Open);
    let image = reg.push_image(REPO_TAG, &ImageSpec::random(22, &[4000]));
    let proxy = HttpProxy::start();
    let before = reg.requests().len();
    let c = client();
    c.set_proxy(&reg.host(), Some(&proxy.url())).unwrap();
    let img = remote::image(&c, &image.reference).unwrap();
    assert_eq!(img.config().unwrap(), image.config_bytes);
    let relayed = proxy.relayed();
    let manifest = format!("http://{}/v2/demo/app/manifests/v1", reg.host());
    assert!(
        relayed
            .iter()
            .any(|r| r.method == "GET" && r.target == manifest && r.status == 200),
        "{relayed:?}"
    );
    let config = format!(
        "http://{}/v2/demo/app/blobs/{}",
        reg.host(),
        image.config_digest
    );
    assert!(
        relayed
            .iter()
            .any(|r| r.target == config && r.status == 200),
        "{relayed:?}"
    );
    // Every request the registry answered came through the proxy: as many as it relayed
    // over plain http (the https attempt of the ping is a CONNECT the registry answers
    // with no request of its own).
    let forwarded = relayed.iter().filter(|r| r.method != "CONNECT").count();
    assert_eq!(reg.requests().len() - before, forwarded, "{relayed:?}");
}

#[test]
fn a_bad_proxy_setting_is_refused_without_repeating_it() {
    let c = client();
    let e = c
        .set_proxy("r.example", Some("https://user:secret@proxy:3128"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(!e.message.contains("secret"), "{}", e.message);
    let e = c
        .set_proxy("r.example", Some("http://user:secret@[bad"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(!e.message.contains("secret"), "{}", e.message);
    let e = c.set_proxy("bad host", Some("")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidReference, "{}", e.message);
    c.set_proxy("r.example", Some("proxy.example:3128"))
        .unwrap();
    c.set_proxy("r.example", Some("")).unwrap();
}

// ---- the environment, in a child process ----

const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
];

/// Runs `child` in a child process with `scenario` and `env` (and no other proxy
/// variables), and fails unless it passed.
fn run_child(scenario: &str, env: &[(&str, String)]) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    cmd.env("RR_PROXY_CHILD", scenario);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {scenario} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run only by run_child"))
}

/// The client side of the environment tests, run by `run_child` with `RR_PROXY_CHILD`
/// naming the scenario and `RR_CHILD_*` describing the registry.
#[test]
#[ignore = "run by the environment-proxy tests in a child process with its own environment"]
fn child() {
    let scenario = env_var("RR_PROXY_CHILD");
    let reference = env_var("RR_CHILD_REF");
    let host = env_var("RR_CHILD_HOST");
    let digest = env_var("RR_CHILD_DIGEST");
    let c = client();
    if let Ok(ca) = std::env::var("RR_CHILD_CA") {
        c.add_ca_file(&ca).unwrap();
    }
    if let Ok(user) = std::env::var("RR_CHILD_USER") {
        c.set_basic_auth(&host, &user, &env_var("RR_CHILD_PASSWORD"))
            .unwrap();
    }
    match scenario.as_str() {
        "read" => {
            assert_eq!(remote::get(&c, &reference).unwrap().digest, digest);
        }
        "read-insecure" => {
            // Not loopback by name, so plain http only when allowed.
            c.set_insecure(&host).unwrap();
            assert_eq!(remote::get(&c, &reference).unwrap().digest, digest);
        }
        "no-proxy" => {
            // NO_PROXY sends it direct, where the name resolves nowhere.
            c.set_timeout(2000, 2000).unwrap();
            let e = remote::get(&c, &reference).unwrap_err();
            eprintln!("child {scenario}: {}", e.message);
            assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
        }
        "registry-proxy" => {
            // The registry's own proxy wins over HTTPS_PROXY and NO_PROXY.
            c.set_proxy(&host, Some(&env_var("RR_CHILD_PROXY")))
                .unwrap();
            assert_eq!(remote::get(&c, &reference).unwrap().digest, digest);
        }
        "registry-direct" => {
            // "" for the registry: no proxy, whatever HTTPS_PROXY says.
            c.set_proxy(&host, Some("")).unwrap();
            c.set_timeout(2000, 2000).unwrap();
            let e = remote::get(&c, &reference).unwrap_err();
            eprintln!("child {scenario}: {}", e.message);
            assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
        }
        other => panic!("unknown scenario {other:?}"),
    }
}

/// The registry as the child reaches it: by its proxy-only name.
fn child_env(reg: &Registry, image: &PushedImage) -> Vec<(&'static str, String)> {
    let host = reg.host_as(PROXY_ONLY_HOST);
    let reference = image.reference.replacen(&reg.host(), &host, 1);
    let mut env = vec![
        ("RR_CHILD_REF", reference),
        ("RR_CHILD_HOST", host),
        ("RR_CHILD_DIGEST", image.manifest_digest.clone()),
    ];
    if let Some(ca) = reg.ca_pem_path() {
        env.push(("RR_CHILD_CA", ca.display().to_string()));
    }
    if let Some((u, p)) = reg.credentials() {
        env.push(("RR_CHILD_USER", u.to_string()));
        env.push(("RR_CHILD_PASSWORD", p.to_string()));
    }
    env
}

#[test]
fn https_proxy_from_the_environment_carries_https_end_to_end() {
    let reg = Registry::start(Mode::Tls);
    let image = reg.push_image(REPO_TAG, &ImageSpec::random(23, &[4000]));
    let proxy = HttpProxy::start();
    let mut env = child_env(&reg, &image);
    env.push(("HTTPS_PROXY", proxy.url()));
    run_child("read", &env);
    let relayed = proxy.relayed();
    let target = reg.host_as(PROXY_ONLY_HOST);
    assert!(!relayed.is_empty());
    assert!(
        relayed
            .iter()
            .all(|r| r.method == "CONNECT" && r.target == target && r.status == 200),
        "{relayed:?}"
    );
    assert!(reg
        .requests()
        .iter()
        .any(|r| r.uri == "/v2/demo/app/manifests/v1" && r.status == 200));
}

#[test]
fn http_proxy_from_the_environment_forwards_plain_http_end_to_end() {
    let reg = Registry::start(Mode::Open);
    let image = reg.push_image(REPO_TAG, &ImageSpec::random(24, &[4000]));
    let proxy = HttpProxy::start();
    let mut env = child_env(&reg, &image);
    env.push(("HTTPS_PROXY", proxy.url()));
    env.push(("HTTP_PROXY", proxy.url()));
    run_child("read-insecure", &env);
    let relayed = proxy.relayed();
    let host = reg.host_as(PROXY_ONLY_HOST);
    // https first (a tunnel to a plain-http registry, which fails), then plain http.
    assert!(
        relayed
            .iter()
            .any(|r| r.method == "CONNECT" && r.target == host),
        "{relayed:?}"
    );
    let manifest = format!("http://{host}/v2/demo/app/manifests/v1");
    assert!(
        relayed
            .iter()
            .any(|r| r.method == "GET" && r.target == manifest && r.status == 200),
        "{relayed:?}"
    );
}

#[test]
fn no_proxy_and_registry_settings_override_the_environment_proxy() {
    let reg = Registry::start(Mode::Tls);
    let image = reg.push_image(REPO_TAG, &ImageSpec::random(25, &[4000]));
    let env_proxy = HttpProxy::start();
    let registry_proxy = HttpProxy::start();
    let base = child_env(&reg, &image);

    // A `.domain` entry among others (and a CIDR one) keeps the request off the proxy.
    let mut env = base.clone();
    env.push(("HTTPS_PROXY", env_proxy.url()));
    env.push(("NO_PROXY", "10.0.0.0/8,.rr.test".to_string()));
    run_child("no-proxy", &env);
    assert_eq!(env_proxy.relayed(), Vec::new());

    // The registry's own proxy beats both HTTPS_PROXY and NO_PROXY.
    let mut env = base.clone();
    env.push(("HTTPS_PROXY", env_proxy.url()));
    env.push(("NO_PROXY", "*".to_string()));
    env.push(("RR_CHILD_PROXY", registry_proxy.url()));
    run_child("registry-proxy", &env);
    assert_eq!(env_proxy.relayed(), Vec::new());
    let target = reg.host_as(PROXY_ONLY_HOST);
    assert!(
        registry_proxy
            .relayed()
            .iter()
            .any(|r| r.method == "CONNECT" && r.target == target && r.status == 200),
        "{:?}",
        registry_proxy.relayed()
    );

    // "" for the registry goes direct although HTTPS_PROXY is set.
    let mut env = base;
    env.push(("HTTPS_PROXY", env_proxy.url()));
    run_child("registry-direct", &env);
    assert_eq!(env_proxy.relayed(), Vec::new());

    // And the environment proxy alone would have carried it (the control).
    let mut env = child_env(&reg, &image);
    env.push(("HTTPS_PROXY", env_proxy.url()));
    run_child("read", &env);
    assert!(!env_proxy.relayed().is_empty());
}
