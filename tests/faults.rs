//! Faults a real registry will not produce on demand, injected by a proxy in front of a
//! real one: passing 5xx, 429 with Retry-After, resets and truncation mid-blob, corrupted
//! bytes, stalls, redirects to another origin, persistent failure; for reads and writes.

mod common;

use common::*;
use rr::remote::{self, write};
use rr::ErrorKind;
use rr_testkit::{shared_seeded_in, skip, Fault, FaultProxy, Mode, Rule, Server};
use std::time::{Duration, Instant};

fn via(proxy: &FaultProxy, reference: &str, registry: &str) -> String {
    reference.replacen(registry, &proxy.host(), 1)
}

fn fast_client() -> rr::remote::Client {
    let c = client();
    c.set_retry(5, 50).unwrap();
    c
}

#[test]
fn passing_503s_are_retried_and_the_manifest_arrives() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Open);
        let proxy = FaultProxy::start(
            &reg.host(),
            vec![Rule::new(Some("GET"), "/manifests/", Fault::status(503), 2)],
        );
        let d = remote::get(
            &fast_client(),
            &via(&proxy, &seeded.app.reference, &reg.host()),
        )
        .unwrap();
        assert_eq!(d.digest, seeded.app.manifest_digest);
        let gets = proxy
            .seen()
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains("/manifests/"))
            .count();
        assert_eq!(gets, 3, "two injected 503s, then the real answer");
    }
}

#[test]
fn a_429_waits_at_least_its_retry_after() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Open);
        let proxy = FaultProxy::start(
            &reg.host(),
            vec![Rule::new(
                Some("GET"),
                "/manifests/",
                Fault::status_retry_after(429, "1"),
                1,
            )],
        );
        let started = Instant::now();
        remote::get(
            &fast_client(),
            &via(&proxy, &seeded.app.reference, &reg.host()),
        )
        .unwrap();
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "waited {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn persistent_503_ends_with_the_status_and_code_after_every_attempt() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Open);
        let proxy = FaultProxy::start(
            &reg.host(),
            vec![Rule::new(
                Some("GET"),
                "/manifests/",
                Fault::status(503),
                usize::MAX,
            )],
        );
        let c = client();
        c.set_retry(3, 20).unwrap();
        let e = remote::get(&c, &via(&proxy, &seeded.app.reference, &reg.host())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Registry, "{e}");
        assert_eq!(e.http_status, 503);
        assert_eq!(e.registry_code.as_deref(), Some("UNAVAILABLE"));
        let gets = proxy
            .seen()
            .iter()
            .filter(|r| r.path.contains("/manifests/"))
            .count();
        assert_eq!(gets, 3, "exactly max_attempts requests");
    }
}

fn save_layer(reference: &str, c: &rr::remote::Client) -> (rr::Result<()>, tempfile::TempDir) {
    let dir = temp_dir();
    let img = remote::image(c, reference).unwrap();
    let out = dir.path().join("layer");
    (img.layer_save(0, &out), dir)
}

#[test]
fn a_blob_cut_off_midway_resumes_with_range_and_verifies() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Open);
        for fault in [Fault::ResetAfter(1000), Fault::Truncate] {
            let proxy = FaultProxy::start(
                &reg.host(),
                vec![Rule::new(
                    Some("GET"),
                    &seeded.app.layer_digests[0],
                    fault.clone(),
                    1,
                )],
            );
            let (result, dir) = save_layer(
                &via(&proxy, &seeded.app.reference, &reg.host()),
                &fast_client(),
            );
            result.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
            let saved = std::fs::read(dir.path().join("layer")).unwrap();
            assert_eq!(
                rr_testkit::sha256_digest(&saved),
                seeded.app.layer_digests[0]
            );
            let ranges: Vec<_> = proxy.seen().into_iter().filter_map(|r| r.range).collect();
            assert_eq!(ranges.len(), 1, "{fault:?}: one resume: {ranges:?}");
            assert_ne!(ranges[0], "bytes=0-", "resumed past the start");
        }
    }
}

#[test]
fn a_flipped_byte_is_a_digest_mismatch_and_leaves_no_file() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Open);
        let proxy = FaultProxy::start(
            &reg.host(),
            vec![Rule::new(
                Some("GET"),
                &seeded.app.layer_digests[0],
                Fault::FlipByte(100),
                1,
            )],
        );
        let (result, dir) = save_layer(
            &via(&proxy, &seeded.app.reference, &reg.host()),
            &fast_client(),
        );
        let e = result.unwrap_err();
        assert_eq!(e.kind, ErrorKind::DigestMismatch, "{e}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no file, no temporary"
        );
    }
}

/// Blobs of 4 MiB and more are hashed on a helper thread from the buffers being written;
/// a resume and a corruption must come out the same as for small blobs.
#[test]
fn a_large_blob_hashed_beside_its_write_resumes_and_catches_a_flipped_byte() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_in(server, Mode::Open);
        let big = reg.push_image(
            "faults/big:v1",
            &rr_testkit::ImageSpec::random(11, &[6 << 20]),
        );
        assert!(big.layer_sizes[0] >= 6 << 20);
        let layer = big.layer_digests[0].clone();
        let rule = |fault| vec![Rule::new(Some("GET"), &layer, fault, 1)];

        let proxy = FaultProxy::start(&reg.host(), rule(Fault::ResetAfter(3_000_000)));
        let (result, dir) = save_layer(&via(&proxy, &big.reference, &reg.host()), &fast_client());
        result.unwrap();
        let saved = std::fs::read(dir.path().join("layer")).unwrap();
        assert_eq!(rr_testkit::sha256_digest(&saved), layer);
        let ranges: Vec<_> = proxy.seen().into_iter().filter_map(|r| r.range).collect();
        assert_eq!(
            ranges,
            vec![format!("bytes=3000000-{}", big.layer_sizes[0] - 1)]
        );

        let proxy = FaultProxy::start(&reg.host(), rule(Fault::FlipByte(5_000_000)));
        let reference = via(&proxy, &big.reference, &reg.host());
        let (result, dir) = save_layer(&reference, &fast_client());
        let e = result.unwrap_err();
        assert_eq!(e.kind, ErrorKind::DigestMismatch, "{e}");
        assert!(e.message.contains(&layer), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        proxy.set_rules(rule(Fault::FlipByte(5_000_000)));
        let layout = temp_dir();
        let c = fast_client();
        let img = remote::image(&c, &reference).unwrap();
        let e = rr::layout::write_image(&c, layout.path(), &img, Some("big")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DigestMismatch, "{e}");
        let blobs: Vec<_> = std::fs::read_dir(layout.path().join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            !blobs
                .iter()
                .any(|name| name.contains(&layer["sha256:".len()..])),
            "no layer file and no temporary: {blobs:?}"
        );
        assert!(!layout.path().join("index.json").exists());
    }
}

#[test]
fn a_stall_after_the_headers_times_out_and_resumes() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Open);
        let proxy = FaultProxy::start(
            &reg.host(),
            vec![Rule::new(
                Some("GET"),
                &seeded.app.layer_digests[0],
                Fault::StallAfterHeaders(Duration::from_secs(5)),
                1,
            )],
        );
        let c = fast_client();
        c.set_timeout(5_000, 500).unwrap();
        let started = Instant::now();
        let (result, _dir) = save_layer(&via(&proxy, &seeded.app.reference, &reg.host()), &c);
        result.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "did not wait out the stall: {:?}",
            started.elapsed()
        );
        assert!(
            proxy.seen().iter().any(|r| r.range.is_some()),
            "resumed after the stall"
        );
    }
}

#[test]
fn a_redirect_to_another_origin_gets_no_authorization() {
    let reg = rr_testkit::Registry::start(Mode::Basic);
    let seeded_app = reg.push_image("demo/app:v1", &rr_testkit::ImageSpec::random(7, &[3000]));
    let proxy = FaultProxy::start(
        &reg.host(),
        vec![Rule::new(
            Some("GET"),
            &seeded_app.layer_digests[0],
            Fault::RedirectToOtherOrigin,
            1,
        )],
    );
    let c = fast_client();
    c.set_basic_auth(
        &proxy.host(),
        rr_testkit::BASIC_USER,
        rr_testkit::BASIC_PASSWORD,
    )
    .unwrap();
    let reference = format!("{}/demo/app:v1", proxy.host());
    let (result, _dir) = save_layer(&reference, &c);
    // The target is another origin and gets no credentials, so the registry behind it
    // refuses (a CDN would take its signed URL instead): the password never went there.
    let e = result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
    let seen = proxy.seen();
    let at_target: Vec<_> = seen.iter().filter(|r| r.at_redirect_target).collect();
    assert!(
        !at_target.is_empty(),
        "the redirect was followed: {seen:#?}"
    );
    assert!(at_target.iter().all(|r| !r.authorization), "{at_target:#?}");
    assert!(
        seen.iter()
            .any(|r| !r.at_redirect_target && r.authorization),
        "the registry itself got them"
    );
}

#[test]
fn uploads_and_manifest_puts_survive_passing_failures() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_in(server, Mode::Open);
        let proxy = FaultProxy::start(
            &reg.host(),
            vec![
                // The layer is small: it goes in one PUT with the body (monolithic).
                Rule::new(Some("PUT"), "/blobs/uploads/", Fault::status(502), 1),
                Rule::new(Some("PUT"), "/manifests/", Fault::status(500), 1),
                Rule::new(
                    Some("POST"),
                    "/blobs/uploads/",
                    Fault::status_retry_after(503, "0"),
                    1,
                ),
            ],
        );
        let dir = temp_dir();
        let layer = write_file(dir.path(), "l.tar.gz", &gzip(&tar_bytes(77, 300_000)));
        let mut b = rr::builder::ImageBuilder::new();
        b.add_layer_file(&layer, None).unwrap();
        let img = b.build().unwrap();
        let c = fast_client();
        c.set_jobs(1).unwrap();
        let dst = format!("{}/faults/upload:v1", proxy.host());
        write::write_image(&c, &dst, &img).unwrap();
        assert_eq!(
            reg.skopeo_inspect_raw(&format!("{}/faults/upload:v1", reg.host())),
            img.manifest_bytes()
        );
        let seen = proxy.seen();
        let faults = seen.iter().filter(|r| r.fault.is_some()).count();
        assert_eq!(faults, 3, "{seen:#?}");
        if server == Server::Ggcr {
            skip(
                server,
                "uploads_and_manifest_puts_survive_passing_failures: the sessions",
                "it cannot cancel an upload session (a DELETE of one is answered 400)",
            );
        } else {
            assert!(sessions_left_behind(reg, "faults/upload").is_empty());
        }
    }
}

#[test]
fn backoff_grows_between_attempts() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Open);
        let proxy = FaultProxy::start(
            &reg.host(),
            vec![Rule::new(Some("GET"), "/manifests/", Fault::status(502), 3)],
        );
        let c = client();
        c.set_retry(5, 100).unwrap();
        let started = Instant::now();
        remote::get(&c, &via(&proxy, &seeded.app.reference, &reg.host())).unwrap();
        // 100 + 200 + 400 ms at least (doubling from the initial backoff).
        assert!(
            started.elapsed() >= Duration::from_millis(700),
            "waited only {:?}",
            started.elapsed()
        );
    }
}

struct CancelWhenBlobBStarts(std::sync::atomic::AtomicBool);

impl rr::remote::ProgressSink for CancelWhenBlobBStarts {
    fn report(&self, complete: u64, _total: u64) -> bool {
        if complete > 0 {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            return false;
        }
        true
    }
}

#[test]
fn cancelling_wakes_an_upload_out_of_its_retry_after_wait() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_in(server, Mode::Open);
        let dir = temp_dir();
        let a = write_file(dir.path(), "a.tar.gz", &gzip(&tar_bytes(91, 100_000)));
        let b = write_file(dir.path(), "b.tar.gz", &gzip(&tar_bytes(92, 100_000)));
        let mut builder = rr::builder::ImageBuilder::new();
        builder.add_layer_file(&a, None).unwrap();
        builder.add_layer_file(&b, None).unwrap();
        let img = builder.build().unwrap();
        // Every upload session opened gets 503 with a long Retry-After, except that the
        // config's upload goes through: its progress cancels the operation while the layer
        // uploads wait.
        let proxy = FaultProxy::start(
            &reg.host(),
            vec![Rule::new(
                Some("PUT"),
                "/blobs/uploads/",
                Fault::status_retry_after(503, "30"),
                2,
            )],
        );
        let c = client();
        c.set_jobs(3).unwrap();
        let sink = std::sync::Arc::new(CancelWhenBlobBStarts(Default::default()));
        c.set_progress(Some(sink.clone()));
        let started = Instant::now();
        let e = write::write_image(&c, &format!("{}/faults/cancel-wait:v1", proxy.host()), &img)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled, "{e}");
        assert!(sink.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the 30 s wait was cut short: {:?}",
            started.elapsed()
        );
        assert_eq!(
            remote::head(&client(), &format!("{}/faults/cancel-wait:v1", reg.host()))
                .unwrap_err()
                .kind,
            ErrorKind::NotFound
        );
    }
}
