//! The token server behind an emulated link ([`Options::token_link`]): the realm the
//! registry names is the emulator's, token requests appear in its log, and a token on a
//! new connection costs the two round trips a real one does (handshake, then the request
//! and its answer). The bounds are the emulator's own delays, with room for a loaded
//! machine above them; nothing about any client's speed is asserted.

use std::time::{Duration, Instant};

use rr_testkit::netem::Link;
use rr_testkit::{Mode, Options, Registry, Server, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD};
use serde_json::Value;

fn basic(user: &str, pw: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

fn token_registry(rtt: Duration, realm_host: Option<&'static str>) -> Registry {
    Registry::start_with(Options {
        token_link: Some(Link::rtt(rtt)),
        token_realm_host: realm_host,
        ..Options::new(Server::Distribution28, Mode::Token)
    })
}

/// The realm of the registry's challenge to an anonymous `GET /v2/`.
fn challenged_realm(reg: &Registry) -> String {
    match ureq::get(&reg.url("/v2/")).call() {
        Err(ureq::Error::Status(401, r)) => {
            let c = r.header("WWW-Authenticate").unwrap_or_default();
            let start = c.find("realm=\"").expect("a realm") + "realm=\"".len();
            c[start..][..c[start..].find('"').unwrap()].to_string()
        }
        other => panic!("anonymous /v2/ should be 401, got {other:?}"),
    }
}

#[test]
fn the_token_round_trips_cross_the_emulator() {
    let rtt = Duration::from_millis(100);
    let reg = token_registry(rtt, None);
    let netem = reg.token_netem().expect("a token emulator");
    let token_host = reg.token_server().unwrap().host();
    assert_ne!(netem.host(), token_host);
    let realm = reg.token_realm().unwrap();
    assert_eq!(realm, format!("http://{}/token", netem.host()));
    assert_eq!(
        challenged_realm(&reg),
        realm,
        "the registry names the emulator"
    );

    // A token on a new connection (ureq opens one for a new host).
    let url = format!(
        "{realm}?service={}&scope=repository:demo/app:pull,push",
        rr_testkit::TOKEN_SERVICE
    );
    let started = Instant::now();
    let text = ureq::get(&url)
        .set("Authorization", &basic(TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let took = started.elapsed();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(body["token"].as_str().is_some_and(|t| !t.is_empty()));
    eprintln!("a token through a {rtt:?} link: {took:?}");
    assert!(
        took >= 2 * rtt && took < 2 * rtt + Duration::from_millis(400),
        "2 RTT (handshake, request and answer): {took:?}"
    );

    // It is in the emulator's log, as the first request on its connection.
    let log = netem.requests();
    assert_eq!(log.len(), 1, "{log:?}");
    let r = &log[0];
    assert_eq!((r.method.as_str(), r.seq, r.status), ("GET", 0, 200));
    assert!(r.path.starts_with("/token?"), "{}", r.path);
    assert!(
        r.end - r.start >= 2 * rtt - Duration::from_millis(5),
        "{r:?}"
    );
    assert!(r.bytes_down > body["token"].as_str().unwrap().len() as u64);
    // And the token server saw it too.
    let seen = reg.token_requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].user.as_deref(), Some(TOKEN_PUSHER));
    assert_eq!(netem.take_requests().len(), 1);
    assert!(netem.requests().is_empty());
}

#[test]
fn the_realm_can_name_the_emulator_by_a_host_name() {
    let reg = token_registry(Duration::from_millis(10), Some("localhost"));
    let netem = reg.token_netem().unwrap();
    let port = netem.host().rsplit_once(':').unwrap().1.to_string();
    let realm = reg.token_realm().unwrap();
    assert_eq!(realm, format!("http://localhost:{port}/token"));
    assert_eq!(challenged_realm(&reg), realm);
    let url = format!("{realm}?service={}", rr_testkit::TOKEN_SERVICE);
    assert_eq!(ureq::get(&url).call().unwrap().status(), 200);
    // The emulator records an exchange on its own thread once the last byte has gone
    // down, which can be just after the client has read it.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while netem.requests().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(netem.requests().len(), 1);
}

#[test]
fn without_a_token_link_the_realm_is_the_token_server() {
    let reg = Registry::start(Mode::Token);
    assert!(reg.token_netem().is_none());
    assert_eq!(
        reg.token_realm().unwrap(),
        format!("http://{}/token", reg.token_server().unwrap().host())
    );
}

#[test]
#[should_panic(expected = "for Token mode")]
fn a_token_link_needs_token_mode() {
    Registry::start_with(Options {
        token_link: Some(Link::rtt(Duration::from_millis(10))),
        ..Options::new(Server::Distribution28, Mode::Open)
    });
}
