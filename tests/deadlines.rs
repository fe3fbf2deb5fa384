//! No call hangs: a trickling server (one byte every few hundred ms, which restarts any
//! idle timeout) ends a call by the minimum rate or the deadline with RR_ERR_TRANSPORT
//! and a message naming the limit; a stalled blob body is fetched again (with Range
//! from where it had reached, as after a reset).

mod common;

use common::*;
use rr::remote;
use rr::ErrorKind;
use rr_testkit::{shared_seeded_in, Fault, FaultProxy, Mode, Rule, Server};
use std::time::{Duration, Instant};

fn via(proxy: &FaultProxy, reference: &str, registry: &str) -> String {
    reference.replacen(registry, &proxy.host(), 1)
}

fn trickling_manifests(reg: &rr_testkit::Registry) -> FaultProxy {
    proxy_always(
        reg,
        Some("GET"),
        "/manifests/",
        Fault::Trickle(Duration::from_millis(300)),
    )
}

#[test]
fn a_trickling_manifest_ends_by_the_deadline() {
    let (reg, seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let proxy = trickling_manifests(reg);
    let c = client();
    c.set_deadline(2000).unwrap();
    let started = Instant::now();
    let e = remote::get(&c, &via(&proxy, &seeded.app.reference, &reg.host())).unwrap_err();
    let took = started.elapsed();
    eprintln!("deadline: {took:?}: {}", e.message);
    assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
    assert!(e.message.contains("deadline of 2000 ms"), "{}", e.message);
    assert!(took < Duration::from_millis(2500), "took {took:?}");
}

#[test]
fn a_trickling_manifest_fails_the_minimum_rate_at_once() {
    let (reg, seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let proxy = trickling_manifests(reg);
    let c = client();
    c.set_retry(5, 10).unwrap();
    c.set_min_rate(100, 1000).unwrap();
    let started = Instant::now();
    let e = remote::get(&c, &via(&proxy, &seeded.app.reference, &reg.host())).unwrap_err();
    let took = started.elapsed();
    eprintln!("minimum rate: {took:?}: {}", e.message);
    assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
    assert!(e.message.contains("minimum rate of 100"), "{}", e.message);
    let gets = proxy
        .seen()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/manifests/"))
        .count();
    // The body is read after the exchange, so its stall is not a retried exchange: the
    // call ends after one window rather than after five.
    assert_eq!(gets, 1, "a stalled manifest body is not fetched five times");
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn a_silent_server_fails_the_first_byte_timeout() {
    let (reg, seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let proxy = proxy_always(
        reg,
        Some("GET"),
        "/manifests/",
        Fault::StallBeforeAnswer(Duration::from_secs(30)),
    );
    let c = client();
    c.set_retry(5, 10).unwrap();
    c.set_first_byte_timeout(500).unwrap();
    let started = Instant::now();
    let e = remote::get(&c, &via(&proxy, &seeded.app.reference, &reg.host())).unwrap_err();
    eprintln!("first byte: {:?}: {}", started.elapsed(), e.message);
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(e.message.contains("first-byte timeout"), "{}", e.message);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_stalled_blob_body_is_fetched_again_within_the_limits() {
    let (reg, seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let img = remote::image(&client(), &seeded.app.reference).unwrap();
    let big = (0..img.layers().len())
        .max_by_key(|&i| img.layers()[i].size)
        .unwrap();
    let proxy = FaultProxy::start(
        &reg.host(),
        vec![Rule::new(
            Some("GET"),
            "/blobs/sha256:",
            Fault::StallAfterHeaders(Duration::from_secs(30)),
            1,
        )],
    );
    let c = client();
    c.set_retry(5, 10).unwrap();
    c.set_min_rate(1024, 500).unwrap();
    let img = remote::image(&c, &via(&proxy, &seeded.app.reference, &reg.host())).unwrap();
    let dir = temp_dir();
    let path = dir.path().join("layer");
    let started = Instant::now();
    img.layer_save(big, &path).unwrap();
    eprintln!("stalled blob saved in {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        img.layers()[big].size
    );
    let blob_gets = proxy
        .seen()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/blobs/"))
        .count();
    assert!(blob_gets >= 2, "the stalled GET was followed by another");
}

#[test]
fn out_of_range_limits_are_invalid_arguments_and_zero_means_none() {
    let c = client();
    for e in [
        c.set_deadline(u64::MAX).unwrap_err(),
        c.set_first_byte_timeout(8 * 24 * 3600 * 1000).unwrap_err(),
        c.set_min_rate(1, u64::MAX).unwrap_err(),
        c.set_min_rate(u64::MAX, 1000).unwrap_err(),
    ] {
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    }
    c.set_deadline(0).unwrap();
    c.set_first_byte_timeout(0).unwrap();
    c.set_min_rate(0, 0).unwrap();
}
