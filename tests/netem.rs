//! Honesty of the network emulator (`rr_testkit::netem`) against a real registry, measured
//! with curl's timings: a fresh connection's first byte after 2 RTT (handshake, then there
//! and back), a reused connection's after 1 RTT, a 64 MiB blob at 100 Mbit/s in the time
//! the rate says, two connections sharing a total cap evenly, and the request log of a pull
//! made with rr, its critical path the chain ping, manifest, blob.
//!
//! The tests take turns (one lock), so that one's transfers do not slow another's on a
//! small machine; the bounds leave room for a loaded machine (a few ms on latencies, a
//! few percent on transfers) but every one of them fails a proxy that delays per byte,
//! forgets the handshake, or ignores a rate.

mod common;

use common::{client, random_bytes};
use rr::remote::{self, single_blob};
use rr_testkit::netem::{critical_path, ExchangeRecord, Link, NetEm};
use rr_testkit::{ImageSpec, Mode, Options, Registry, Server};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One test at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn registry() -> Registry {
    Registry::start_with(Options::new(Server::Distribution28, Mode::Open))
}

/// curl's `-w` values (one line per URL, fields separated by spaces) for `urls`, the
/// bodies thrown away.
fn curl(format: &str, urls: &[String]) -> Vec<Vec<f64>> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-f", "--noproxy", "*"]);
    for url in urls {
        cmd.args(["-o", "/dev/null", url]);
    }
    cmd.args(["-w", &format!("{format}\\n")]);
    let out = cmd.output().expect("run curl");
    assert!(
        out.status.success(),
        "curl {urls:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|v| v.parse().expect("a number"))
                .collect()
        })
        .collect()
}

/// Pushes `size` random bytes as a blob of `repo` straight to the registry; its GET URL
/// through `host`.
fn push_blob(reg: &Registry, repo: &str, size: usize, seed: u64) -> impl Fn(&str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, random_bytes(seed, size)).unwrap();
    let written =
        single_blob::write_file(&client(), &format!("{}/{repo}", reg.host()), &path, None).unwrap();
    assert_eq!(written.size, size as u64);
    let repo = repo.to_string();
    move |host: &str| format!("http://{host}/v2/{repo}/blobs/{}", written.digest)
}

#[test]
fn first_byte_takes_two_round_trips_on_a_new_connection_and_one_on_a_reused_one() {
    let _turn = serial();
    let reg = registry();
    let netem = NetEm::start(&reg.host(), Link::rtt(ms(100)));
    let ping = format!("http://{}/v2/", netem.host());
    let fresh = curl(
        "%{time_connect} %{time_starttransfer}",
        std::slice::from_ref(&ping),
    );
    let (connect, first_byte) = (fresh[0][0], fresh[0][1]);
    eprintln!("new connection: connect {connect:.3} s, first byte {first_byte:.3} s");
    assert!(
        connect < 0.02,
        "connect() on loopback returns at once: {connect}"
    );
    assert!(
        (0.190..0.260).contains(&first_byte),
        "2 RTT (handshake, request, answer): {first_byte}"
    );
    // Two URLs on one command line: the second reuses the connection.
    let both = curl(
        "%{num_connects} %{time_starttransfer}",
        &[ping.clone(), ping.clone()],
    );
    eprintln!("first request {:?}, second {:?}", both[0], both[1]);
    assert_eq!(both[1][0], 0.0, "the second transfer opened no connection");
    let again = both[1][1];
    assert!((0.090..0.160).contains(&again), "1 RTT: {again}");
    // Both connections' exchanges were logged, the first of each paying the handshake.
    let log = netem.requests();
    let shape: Vec<_> = log
        .iter()
        .map(|r| (r.seq, r.method.as_str(), r.path.as_str(), r.status))
        .collect();
    assert_eq!(
        shape,
        vec![
            (0, "GET", "/v2/", 200),
            (0, "GET", "/v2/", 200),
            (1, "GET", "/v2/", 200)
        ]
    );
    for r in &log {
        let took = r.end - r.start;
        let want = if r.seq == 0 { ms(195) } else { ms(100) };
        assert!(took >= want && took < want + ms(60), "{r:?} took {took:?}");
    }
}

#[test]
fn a_64_mib_blob_at_100_mbit_takes_the_time_the_rate_says() {
    let _turn = serial();
    let reg = registry();
    let url = push_blob(&reg, "netem/big", 64 * MIB, 1);
    let netem = NetEm::start(&reg.host(), Link::rtt(ms(20)).per_connection_mbit(100));
    let t = curl("%{time_starttransfer} %{time_total}", &[url(&netem.host())]);
    let (first_byte, total) = (t[0][0], t[0][1]);
    // 64 MiB × 8 / 10^8 = 5.37 s, plus 2 RTT to the first byte.
    let expected = 2.0 * 0.020 + (64 * MIB * 8) as f64 / 1e8;
    eprintln!("64 MiB at 100 Mbit/s: {total:.2} s (first byte {first_byte:.3} s), expected {expected:.2} s");
    assert!((5.2..6.5).contains(&total), "{total} s");
    let log = netem.requests();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].status, 200);
    assert!(log[0].bytes_down > (64 * MIB) as u64);
    let logged = (log[0].end - log[0].start).as_secs_f64();
    assert!(
        (logged - total).abs() < 0.1,
        "the log says {logged} s, curl {total} s"
    );
}

#[test]
fn two_connections_share_the_total_rate_evenly() {
    let _turn = serial();
    let reg = registry();
    let url = push_blob(&reg, "netem/shared", 16 * MIB, 2);
    let netem = NetEm::start(
        &reg.host(),
        Link::rtt(ms(20)).per_connection_mbit(100).total_mbit(100),
    );
    let url = url(&netem.host());
    let started = Instant::now();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || curl("%{time_starttransfer} %{time_total}", &[url]))
        })
        .collect();
    let times: Vec<f64> = runs.into_iter().map(|r| r.join().unwrap()[0][1]).collect();
    let wall = started.elapsed().as_secs_f64();
    // Alone each would take 1.38 s at 100 Mbit/s; sharing 100 Mbit/s, each gets 50: 2.72 s.
    let each = 2.0 * 0.020 + (16 * MIB * 8) as f64 / 50e6;
    eprintln!("two 16 MiB GETs sharing 100 Mbit/s: {times:?} s each, {wall:.2} s in all, expected {each:.2} s each");
    for t in &times {
        assert!(
            (each * 0.95..each * 1.25).contains(t),
            "{t} s, expected {each}"
        );
    }
    let (fast, slow) = (times[0].min(times[1]), times[0].max(times[1]));
    assert!(slow / fast < 1.15, "one got more than its half: {times:?}");
}

#[test]
fn the_log_of_a_pull_shows_its_requests_and_the_chain_that_waited() {
    let _turn = serial();
    let reg = registry();
    let pushed = reg.push_image("netem/app:v1", &ImageSpec::random(3, &[300_000, 2_000]));
    let registry_netem = NetEm::start(&reg.host(), Link::rtt(ms(20)));
    let reference = pushed
        .reference
        .replacen(&reg.host(), &registry_netem.host(), 1);
    let c = client();
    let started = Instant::now();
    let img = remote::image(&c, &reference).unwrap();
    let mut bytes = 0u64;
    img.layer_read(0, &mut |chunk| {
        bytes += chunk.len() as u64;
        Ok(())
    })
    .unwrap();
    let wall = started.elapsed();
    assert_eq!(bytes, pushed.layer_sizes[0]);
    let log = registry_netem.requests();
    for r in &log {
        eprintln!(
            "conn {} #{} {} {} {} {:?}..{:?} up {} down {}",
            r.conn, r.seq, r.method, r.path, r.status, r.start, r.end, r.bytes_up, r.bytes_down
        );
    }
    let find = |method: &str, path: &str| -> &ExchangeRecord {
        log.iter()
            .find(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("no {method} {path} in {log:?}"))
    };
    let ping = find("GET", "/v2/");
    let manifest = find("GET", "/v2/netem/app/manifests/v1");
    let layer = find(
        "GET",
        &format!("/v2/netem/app/blobs/{}", pushed.layer_digests[0]),
    );
    assert_eq!(
        (ping.status, manifest.status, layer.status),
        (200, 200, 200)
    );
    assert!(ping.end <= manifest.start && manifest.end <= layer.start);
    assert!(manifest.bytes_down > pushed.manifest_bytes.len() as u64);
    assert!(layer.bytes_down > pushed.layer_sizes[0] && layer.bytes_up > 0);
    for r in &log {
        // Every exchange took at least a round trip, the first on a connection two (less
        // the moment between the client's connect and its first byte).
        let least = if r.seq == 0 { ms(35) } else { ms(20) };
        assert!(r.end - r.start >= least, "{r:?}");
        assert!(r.end - r.start < wall, "{r:?}");
    }
    let cp = critical_path(&log, ms(2));
    let chain: Vec<&str> = cp.chain.iter().map(|r| r.path.as_str()).collect();
    eprintln!(
        "critical path: {} requests, {} setups, {} round trips: {chain:?}; wall {wall:?}",
        cp.requests, cp.setups, cp.round_trips
    );
    assert!(cp.requests >= 3, "{chain:?}");
    let at = |p: &str| chain.iter().position(|c| c.contains(p));
    let (manifest_at, blob_at) = (at("/manifests/"), at("/blobs/"));
    assert!(
        chain[0] == "/v2/" && manifest_at.is_some() && blob_at.is_some() && manifest_at < blob_at,
        "ping, manifest, blob in order: {chain:?}"
    );
    // The floor the chain sets holds: the pull took at least its round trips.
    assert!(
        wall >= ms(20) * cp.round_trips as u32,
        "{wall:?} for {} round trips",
        cp.round_trips
    );
}

#[test]
fn a_pull_from_a_token_registry_fetches_its_token_through_the_token_emulator() {
    let _turn = serial();
    let rtt = ms(20);
    let reg = Registry::start_with(Options {
        token_link: Some(Link::rtt(rtt)),
        ..Options::new(Server::Distribution28, Mode::Token)
    });
    let pushed = reg.push_image("netem/token:v1", &ImageSpec::random(4, &[50_000]));
    let registry_netem = NetEm::start(&reg.host(), Link::rtt(rtt));
    let token_netem = reg.token_netem().unwrap();
    token_netem.clear_requests();
    let reference = pushed
        .reference
        .replacen(&reg.host(), &registry_netem.host(), 1);
    let c = client();
    c.set_basic_auth(
        &registry_netem.host(),
        rr_testkit::TOKEN_PUSHER,
        rr_testkit::TOKEN_PUSHER_PASSWORD,
    )
    .unwrap();
    let img = remote::image(&c, &reference).unwrap();
    img.layer_read(0, &mut |_| Ok(())).unwrap();
    let tokens = token_netem.requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(tokens[0].path.starts_with("/token?") && tokens[0].status == 200);
    // Both logs on one clock: the chain goes challenge, token, manifest, blob.
    let mut all = registry_netem.requests();
    all.extend(tokens);
    let cp = critical_path(&all, ms(2));
    let chain: Vec<&str> = cp.chain.iter().map(|r| r.path.as_str()).collect();
    eprintln!("critical path: {} round trips: {chain:?}", cp.round_trips);
    let at = |p: &str| chain.iter().position(|c| c.contains(p));
    assert!(
        at("/token?").is_some() && at("/token?") < at("/manifests/"),
        "{chain:?}"
    );
    assert!(at("/manifests/") < at("/blobs/"), "{chain:?}");
}
