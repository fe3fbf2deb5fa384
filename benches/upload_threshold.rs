//! How long uploading one blob takes, monolithic (POST, PUT with the body) against
//! streamed (POST, PATCH with the body, PUT), for blobs of 16 KiB to 64 MiB, on
//! distribution 2.8 and v3: the measurement behind the default monolithic threshold
//! (README, "Uploads"). `cargo bench --bench upload_threshold` (release build of rr; the
//! registries are the harness's, on loopback). Each blob is new to the registry (fresh
//! random bytes from a file), so the HEAD, POST and upload requests all happen; the time
//! is the whole `upload` call. Prints a Markdown table of medians.

use rr::digest::of_bytes;
use rr::manifest::Descriptor;
use rr::name::Repository;
use rr::remote::upload::{self, BlobJob, Destination};
use rr::remote::{Client, UploadStrategy};
use rr::source::{BlobSource, LocalBlob, LocalStore, SourceContexts};
use rr_testkit::{Mode, Options, Registry, Server};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

const SIZES: [usize; 10] = [
    16 << 10,
    64 << 10,
    256 << 10,
    512 << 10,
    768 << 10,
    1 << 20,
    2 << 20,
    4 << 20,
    16 << 20,
    64 << 20,
];

fn runs_for(size: usize) -> usize {
    if size >= 16 << 20 {
        5
    } else {
        11
    }
}

/// `size` bytes that no other call returns (xorshift from `seed`).
fn random_bytes(seed: u64, size: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(size);
    out
}

/// Uploads a new blob of `size` bytes to `repo` through `client`; the seconds it took.
fn time_upload(
    client: &Client,
    repo: &Repository,
    dir: &std::path::Path,
    seed: u64,
    size: usize,
) -> f64 {
    let bytes = random_bytes(seed, size);
    let digest = of_bytes(&bytes);
    let path = dir.join(format!("blob-{seed}"));
    std::fs::write(&path, &bytes).expect("writing the blob");
    drop(bytes);
    let desc = Descriptor {
        media_type: "application/octet-stream".into(),
        digest: digest.clone(),
        size: size as u64,
        platform: None,
        urls: Vec::new(),
        annotations: Default::default(),
        data: None,
        artifact_type: None,
    };
    let mut blobs = HashMap::new();
    blobs.insert(digest, LocalBlob::File(path.clone()));
    let source = BlobSource::Local(Arc::new(LocalStore {
        blobs,
        manifests: HashMap::new(),
    }));

    let start = Instant::now();
    let op = client.operation().expect("operation");
    let session = op.ctx.session(
        repo.registry(),
        Some(repo.path()),
        vec![repo.scope("push,pull")],
    );
    let dest = Destination::new(&session, repo, &op.uploads);
    let contexts = Arc::new(SourceContexts::new(&op));
    let job = BlobJob {
        desc: &desc,
        source: &source,
        mount_from: None,
        contexts: &contexts,
        progress: &op.progress,
    };
    let outcome = upload::upload(&dest, &job).expect("upload");
    let took = start.elapsed().as_secs_f64();
    assert_eq!(outcome, upload::Outcome::Uploaded);
    std::fs::remove_file(&path).expect("removing the blob");
    took
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("a temporary directory");
    println!("| server | blob | monolithic ms | streamed ms | streamed - monolithic ms |");
    println!("|---|---:|---:|---:|---:|");
    let mut seed = 1u64;
    for server in [Server::Distribution28, Server::DistributionV3] {
        let reg = Registry::start_with(Options::new(server, Mode::Open));
        let repo = Repository::parse(&format!("{}/bench/blobs", reg.host())).expect("repository");
        let clients: Vec<Client> = [UploadStrategy::Monolithic, UploadStrategy::Streamed]
            .into_iter()
            .map(|strategy| {
                let c = Client::new();
                c.set_keychain(false);
                c.set_upload_strategy(None, strategy, None)
                    .expect("strategy");
                // One upload first, so that the ping and the scheme are settled.
                time_upload(&c, &repo, dir.path(), 1 << 40 | seed, 1024);
                seed += 1;
                c
            })
            .collect();
        for size in SIZES {
            let mut times = [Vec::new(), Vec::new()];
            // Alternate the strategies run by run, so that both see the same conditions.
            for _ in 0..runs_for(size) {
                for (i, c) in clients.iter().enumerate() {
                    times[i].push(time_upload(c, &repo, dir.path(), seed, size) * 1000.0);
                    seed += 1;
                }
            }
            let [mono, streamed] = times.map(median);
            let label = if size >= 1 << 20 && size % (1 << 20) == 0 {
                format!("{} MiB", size >> 20)
            } else {
                format!("{} KiB", size >> 10)
            };
            println!(
                "| {server} | {label} | {mono:.2} | {streamed:.2} | {:+.2} |",
                streamed - mono
            );
        }
    }
}
