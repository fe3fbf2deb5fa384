//! The ping cache (`Client::set_ping_cache_dir`) against real registries: a second client
//! sends no `GET /v2/`, remembered answers the registry contradicts are replaced, and a
//! registry whose scheme the ping decides is never remembered.

use rr::remote::{self, Client};
use rr::transport::challenge::Challenge;
use rr::transport::ping_store::PingStore;
use rr_testkit::netem::{critical_path, Link, NetEm};
use rr_testkit::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn pings(reg: &Registry) -> usize {
    reg.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.uri == "/v2/")
        .count()
}

fn client(reg: &Registry, dir: &Path) -> Client {
    let user = (reg.mode() == Mode::Token).then_some((TOKEN_PULLER, TOKEN_PULLER_PASSWORD));
    client_of(&reg.host(), dir, user)
}

/// A client of `host` (plain http) with the ping cache in `dir`, and `user` when given.
fn client_of(host: &str, dir: &Path, user: Option<(&str, &str)>) -> Client {
    let c = Client::new();
    c.set_keychain(false);
    c.set_plain_http(host).unwrap();
    c.set_ping_cache_dir(Some(dir.to_str().unwrap())).unwrap();
    if let Some((name, password)) = user {
        c.set_basic_auth(host, name, password).unwrap();
    }
    c
}

fn bearer(realm: &str) -> Challenge {
    let mut params = BTreeMap::new();
    params.insert("realm".to_string(), realm.to_string());
    params.insert("service".to_string(), "rr-testkit".to_string());
    Challenge {
        scheme: "bearer".to_string(),
        params,
    }
}

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// A registry of `server` in `mode` holding `demo/app:v1`, and an empty ping cache
/// directory (kept while the `TempDir` lives).
fn started(
    server: Server,
    mode: Mode,
    seed: u64,
) -> (Registry, PushedImage, tempfile::TempDir, std::path::PathBuf) {
    let reg = Registry::start_with(Options::new(server, mode));
    let app = reg.push_image("demo/app:v1", &ImageSpec::random(seed, &[3000]));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pings");
    (reg, app, tmp, dir)
}

#[test]
fn a_second_client_asks_the_remembered_realm_at_once() {
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, app, _tmp, dir) = started(server, Mode::Token, 41);
        let pings_before = pings(&reg);
        reg.clear_token_requests();

        let d = remote::get(&client(&reg, &dir), &app.reference).unwrap();
        assert_eq!(d.digest, app.manifest_digest);
        assert_eq!(pings(&reg), pings_before + 1);
        let files = entries(&dir);
        assert_eq!(files.len(), 1, "{files:?}");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&files[0]), 0o600);
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains(&reg.token_realm().unwrap()), "{text}");
        assert!(
            !text.contains(TOKEN_PULLER_PASSWORD) && !text.contains("scope"),
            "{text}"
        );

        // A new client (a new process, as far as the registry can tell): its ping goes
        // beside the token exchange (see the emulator's test below for the order).
        let img = remote::image(&client(&reg, &dir), &app.reference).unwrap();
        assert_eq!(img.digest(), app.manifest_digest);
        assert_eq!(pings(&reg), pings_before + 2);
        assert_eq!(reg.token_requests().len(), 2, "{:?}", reg.token_requests());
        let refused: Vec<_> = reg
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.uri.contains("/manifests/") && r.status == 401)
            .collect();
        assert!(
            refused.is_empty(),
            "a manifest read went without its token: {refused:?}"
        );
    }
}

#[test]
fn a_wrong_remembered_realm_is_tried_once_then_the_registry_is_asked() {
    let (reg, app, _tmp, dir) = started(Server::Distribution28, Mode::Token, 42);
    let store = PingStore::new(&dir);
    // Nothing listens on port 9: the token exchange fails as it would after the token
    // server moved.
    store.save(
        &reg.host(),
        "http",
        Some(&bearer("http://127.0.0.1:9/token")),
    );
    let c = client(&reg, &dir);
    let before = pings(&reg);
    let tokens = reg.token_requests().len();
    let d = remote::get(&c, &app.reference).unwrap();
    assert_eq!(d.digest, app.manifest_digest);
    assert_eq!(pings(&reg), before + 1);
    assert_eq!(reg.token_requests().len(), tokens + 1);
    let now = store.load(&reg.host(), "http").unwrap().unwrap();
    assert_eq!(now.param("realm"), reg.token_realm().as_deref());

    // The same client uses the live answer from now on.
    remote::get(&c, &app.reference).unwrap();
    assert_eq!(pings(&reg), before + 1);
}

#[test]
fn a_registry_remembered_open_that_asks_for_a_token_now() {
    let (reg, app, _tmp, dir) = started(Server::Distribution28, Mode::Token, 43);
    let store = PingStore::new(&dir);
    store.save(&reg.host(), "http", None);
    let before = pings(&reg);
    let d = remote::get(&client(&reg, &dir), &app.reference).unwrap();
    assert_eq!(d.digest, app.manifest_digest);
    // The manifest's own 401 named the challenge: no ping was needed, and it replaced
    // the wrong entry (without the request's scope).
    assert_eq!(pings(&reg), before);
    let now = store.load(&reg.host(), "http").unwrap().unwrap();
    assert_eq!(now.param("realm"), reg.token_realm().as_deref());
    assert_eq!(now.param("scope"), None);

    // The next client uses it (and checks it with a ping beside its token exchange).
    let tokens = reg.token_requests().len();
    remote::get(&client(&reg, &dir), &app.reference).unwrap();
    assert_eq!(pings(&reg), before + 1);
    assert_eq!(reg.token_requests().len(), tokens + 1);
}

#[test]
fn open_registries_are_remembered_on_every_server() {
    for server in [Server::Distribution28, Server::DistributionV3, Server::Ggcr] {
        eprintln!("on {server}");
        let (reg, app, _tmp, dir) = started(server, Mode::Open, 44);
        let before = pings(&reg);
        remote::get(&client(&reg, &dir), &app.reference).unwrap();
        assert_eq!(pings(&reg), before + 1);
        assert_eq!(
            PingStore::new(&dir).load(&reg.host(), "http"),
            Some(None),
            "remembered as asking for nothing"
        );
        // No token to fetch: nothing to ping beside, the first request goes at once.
        let d = remote::get(&client(&reg, &dir), &app.reference).unwrap();
        assert_eq!(d.digest, app.manifest_digest);
        assert_eq!(pings(&reg), before + 1, "the second client pinged");
    }
}

#[test]
fn a_registry_whose_scheme_the_ping_decides_is_not_remembered() {
    let (_reg, seeded) = shared_seeded(Mode::Open);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pings");
    // Loopback, not given to set_plain_http: https is tried first, so the ping is what
    // finds the scheme out.
    let c = Client::new();
    c.set_keychain(false);
    c.set_ping_cache_dir(Some(dir.to_str().unwrap())).unwrap();
    remote::get(&c, &seeded.app.reference).unwrap();
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    assert!(!dir.exists());
}

#[test]
fn the_setting_refuses_what_cannot_be_a_directory() {
    let c = Client::new();
    let e = c.set_ping_cache_dir(Some("")).unwrap_err();
    assert_eq!(e.kind, rr::ErrorKind::InvalidArgument);
    let file = tempfile::NamedTempFile::new().unwrap();
    let e = c
        .set_ping_cache_dir(Some(file.path().to_str().unwrap()))
        .unwrap_err();
    assert_eq!(e.kind, rr::ErrorKind::InvalidArgument);
    assert!(e.message.contains("not a directory"), "{}", e.message);
    c.set_ping_cache_dir(None).unwrap();
}

/// Through the emulator (20 ms RTT to the registry and to its token server): the first
/// client's manifest read waits for the ping and then the token (5 round trips); the
/// second one's token exchange and ping run side by side and the manifest goes on the
/// ping's connection (3).
#[test]
fn a_remembered_challenge_takes_two_round_trips_off_the_critical_path() {
    let rtt = std::time::Duration::from_millis(20);
    let reg = Registry::start_with(Options {
        token_link: Some(Link::rtt(rtt)),
        ..Options::new(Server::Distribution28, Mode::Token)
    });
    let app = reg.push_image("demo/app:v1", &ImageSpec::random(45, &[3000]));
    let netem = NetEm::start(&reg.host(), Link::rtt(rtt));
    let token_netem = reg.token_netem().unwrap();
    let reference = app.reference.replacen(&reg.host(), &netem.host(), 1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pings");
    let client = || {
        client_of(
            &netem.host(),
            &dir,
            Some((TOKEN_PULLER, TOKEN_PULLER_PASSWORD)),
        )
    };
    let mut round_trips = Vec::new();
    for first in [true, false] {
        netem.clear_requests();
        token_netem.clear_requests();
        let d = remote::get(&client(), &reference).unwrap();
        assert_eq!(d.digest, app.manifest_digest);
        let registry_log = netem.requests();
        let mut all = registry_log.clone();
        all.extend(token_netem.requests());
        let cp = critical_path(&all, std::time::Duration::from_millis(2));
        let chain: Vec<&str> = cp.chain.iter().map(|r| r.path.as_str()).collect();
        eprintln!("first {first}: {} round trips: {chain:?}", cp.round_trips);
        let find = |path: &str| {
            registry_log
                .iter()
                .find(|r| r.path.contains(path))
                .unwrap_or_else(|| panic!("no {path} in {registry_log:?}"))
        };
        let (ping, manifest) = (find("/v2/"), find("/manifests/"));
        assert_eq!(manifest.status, 200);
        assert_eq!(
            (manifest.conn, manifest.seq),
            (ping.conn, 1),
            "the manifest went on the ping's connection"
        );
        round_trips.push(cp.round_trips);
    }
    assert_eq!(round_trips, vec![5, 3]);
}

/// A copy's source read and destination HEAD start together on one registry: with a
/// remembered challenge, one of them checks it (one ping) and both use one token.
#[test]
fn a_copy_checks_a_remembered_challenge_once_and_fetches_one_token() {
    let reg = Registry::start(Mode::Token);
    let app = reg.push_image("demo/app:v1", &ImageSpec::random(46, &[3000, 5000]));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pings");
    let c = |dir: &Path| {
        client_of(
            &reg.host(),
            dir,
            Some((TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD)),
        )
    };
    remote::get(&c(&dir), &app.reference).unwrap();
    for round in 0..3 {
        let before = pings(&reg);
        reg.clear_token_requests();
        let dst = format!("{}/copied/app{round}:v1", reg.host());
        remote::write::copy(&c(&dir), &app.reference, &dst).unwrap();
        assert_eq!(
            remote::get(&c(&dir), &dst).unwrap().digest,
            app.manifest_digest
        );
        // The read-back above is a client of its own: 2 pings and 2 tokens in all.
        assert_eq!(pings(&reg), before + 2, "round {round}");
        assert_eq!(
            reg.token_requests().len(),
            2,
            "round {round}: {:?}",
            reg.token_requests()
        );
    }
}
