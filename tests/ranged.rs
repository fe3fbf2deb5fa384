//! A large blob pulled into a layout over several connections when one is slow
//! (`remote::ranged`), on the three registry servers, behind the network emulator with a
//! per-connection rate well under what the machine can do: the blob is split into `Range`
//! requests that every server answers 206, the layout's file is the blob to the byte, and
//! with one connection allowed (or a proxy that drops `Range`) it is read whole on one.

mod common;

use common::client;
use rr::remote;
use rr_testkit::netem::{ExchangeRecord, Link, NetEm};
use rr_testkit::{Fault, FaultProxy, Rule};
use rr_testkit::{ImageSpec, Mode, Options, Registry, Server};
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::time::Duration;

/// 20 MiB: over the 16 MiB below which a blob is never split.
const LAYER: usize = 20 << 20;

/// One test at a time: each wants the machine's cores for its transfer.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// 10 ms away at 40 Mbit/s per connection: one connection takes about 4 s for the layer.
fn slow_link() -> Link {
    Link::rtt(Duration::from_millis(10))
        .per_connection_mbit(40)
        .total_mbit(400)
}

struct Pulled {
    layer_digest: String,
    layer_gets: Vec<ExchangeRecord>,
}

/// Pushes a one-layer image to a `server` registry, pulls it into a layout through the
/// emulator (and `fault`, when given, in front of it) with `connections`, and checks the
/// layout's layer file against its digest.
fn pull_through(server: Server, connections: u32, fault: Option<Fault>) -> Pulled {
    let reg = Registry::start_with(Options::new(server, Mode::Open));
    let pushed = reg.push_image("ranged/app:v1", &ImageSpec::random(41, &[LAYER]));
    let netem = NetEm::start(&reg.host(), slow_link());
    let proxy = fault.map(|f| {
        FaultProxy::start(
            &netem.host(),
            vec![Rule::new(Some("GET"), "/blobs/", f, 1000)],
        )
    });
    let front = proxy.as_ref().map_or_else(|| netem.host(), |p| p.host());
    let reference = pushed.reference.replacen(&reg.host(), &front, 1);

    let c = client();
    c.set_blob_connections(connections).unwrap();
    let img = remote::image(&c, &reference).unwrap();
    let dir = tempfile::tempdir().unwrap();
    rr::layout::write_image(&c, dir.path(), &img, Some("v1")).unwrap();

    let digest = pushed.layer_digests[0].clone();
    let file = dir
        .path()
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes.len() as u64, pushed.layer_sizes[0]);
    assert_eq!(format!("sha256:{:x}", Sha256::digest(&bytes)), digest);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rr-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let blob_path = format!("/v2/ranged/app/blobs/{digest}");
    let mut layer_gets: Vec<ExchangeRecord> = netem
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == blob_path)
        .collect();
    layer_gets.sort_by_key(|r| r.start);
    Pulled {
        layer_digest: digest,
        layer_gets,
    }
}

fn statuses(gets: &[ExchangeRecord]) -> Vec<u16> {
    gets.iter().map(|r| r.status).collect()
}

fn assert_split(server: Server) {
    let _turn = serial();
    let pulled = pull_through(server, 4, None);
    let gets = &pulled.layer_gets;
    // The GET of the whole blob, then up to three ranges, each answered 206 and carrying
    // at least 2 MiB (no range is smaller).
    assert!(
        (2..=4).contains(&gets.len()),
        "{server:?} {}: {:?}",
        pulled.layer_digest,
        statuses(gets)
    );
    // The first connection stopped short where the ranges begin: the emulator saw its
    // answer cut off (status 0: not complete when the connection closed).
    assert_eq!(gets[0].status, 0, "{gets:?}");
    for range in &gets[1..] {
        assert_eq!(range.status, 206, "{gets:?}");
        assert!(range.bytes_down >= 2 << 20, "{gets:?}");
    }
    // The ranges carried most of the blob, and not all of it: the first connection's
    // share came on it.
    let in_ranges: u64 = gets[1..].iter().map(|r| r.bytes_down).sum();
    assert!(
        in_ranges >= LAYER as u64 / 2 && in_ranges < LAYER as u64,
        "{in_ranges} of {LAYER} in ranges: {gets:?}"
    );
    // Every byte came once (the heads aside), plus what the first connection had been sent
    // past where it stopped: at most what its socket buffers held.
    let total: u64 = gets.iter().map(|r| r.bytes_down).sum();
    assert!(
        total >= LAYER as u64 && total < LAYER as u64 + (4 << 20),
        "{total} bytes down for {LAYER}: {gets:?}"
    );
}

#[test]
fn distribution_28_answers_the_ranges_of_a_slow_blob() {
    assert_split(Server::Distribution28);
}

#[test]
fn distribution_v3_answers_the_ranges_of_a_slow_blob() {
    assert_split(Server::DistributionV3);
}

#[test]
fn ggcr_answers_the_ranges_of_a_slow_blob() {
    assert_split(Server::Ggcr);
}

#[test]
fn one_connection_allowed_reads_the_blob_whole() {
    let _turn = serial();
    let pulled = pull_through(Server::Distribution28, 1, None);
    assert_eq!(statuses(&pulled.layer_gets), vec![200]);
    assert!(pulled.layer_gets[0].bytes_down > LAYER as u64);
}

/// A proxy that drops `Range`: the ranges come back whole (200), rr reads nothing of them
/// and reads the blob to its end on the first connection.
#[test]
fn a_proxy_that_drops_range_leaves_the_blob_on_one_connection() {
    let _turn = serial();
    let pulled = pull_through(Server::Distribution28, 4, Some(Fault::DropRange));
    let gets = &pulled.layer_gets;
    assert!(gets.len() >= 2, "the ranges were asked for: {gets:?}");
    assert_eq!(gets[0].status, 200, "{gets:?}");
    assert!(
        gets[0].bytes_down > LAYER as u64,
        "the first read it all: {gets:?}"
    );
    for refused in &gets[1..] {
        // Dropped unread: the emulator saw the whole blob's answer cut off.
        assert_eq!(refused.status, 0, "{gets:?}");
    }
}
