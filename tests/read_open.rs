//! The read path against a real distribution registry without auth: manifests, images,
//! indexes and platforms, layers, tags, the catalog, errors, integrity.

use rr::remote::{self, list, Client, ProgressSink};
use rr::ErrorKind;
use rr_testkit::{sha256_digest, shared_seeded_on, skip, Registry, Server};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

fn client() -> Client {
    let c = Client::new();
    c.set_keychain(false);
    c
}

#[test]
fn get_returns_the_exact_manifest_bytes_skopeo_sees() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let d = remote::get(&client(), &seeded.app.reference).unwrap();
        let raw = reg.skopeo_inspect_raw(&seeded.app.reference);
        assert_eq!(d.manifest.as_deref(), Some(raw.as_slice()));
        assert_eq!(d.digest, sha256_digest(&raw));
        assert_eq!(d.digest, seeded.app.manifest_digest);
        assert_eq!(d.size, raw.len() as u64);
        assert_eq!(d.media_type, "application/vnd.oci.image.manifest.v1+json");
    }
}

#[test]
fn head_reports_digest_size_and_type_without_bytes() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (_reg, seeded) = shared_seeded_on(server);
        let d = remote::head(&client(), &seeded.multi.reference).unwrap();
        assert_eq!(d.digest, seeded.multi.digest);
        assert_eq!(d.size, seeded.multi.manifest_bytes.len() as u64);
        assert_eq!(d.media_type, "application/vnd.oci.image.index.v1+json");
        assert!(d.manifest.is_none());
        // Opening the image from a HEAD descriptor fetches the bytes by digest.
        let img = d.image().unwrap();
        assert_eq!(img.digest(), seeded.multi.children[0].1.manifest_digest);
    }
}

#[test]
fn by_digest_get_is_verified_and_works() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let by_digest = format!("{}/demo/app@{}", reg.host(), seeded.app.manifest_digest);
        let d = remote::get(&client(), &by_digest).unwrap();
        assert_eq!(d.digest, seeded.app.manifest_digest);
        let tagged_digest = format!("{}/demo/app:v1@{}", reg.host(), seeded.app.manifest_digest);
        assert_eq!(
            remote::get(&client(), &tagged_digest).unwrap().digest,
            d.digest
        );
    }
}

#[test]
fn image_open_gives_config_and_layers_that_match_the_fixture() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (_reg, seeded) = shared_seeded_on(server);
        let img = remote::image(&client(), &seeded.app.reference).unwrap();
        assert_eq!(img.digest(), seeded.app.manifest_digest);
        assert_eq!(img.manifest_bytes(), seeded.app.manifest_bytes.as_slice());
        let layers: Vec<_> = img.layers().iter().map(|l| l.digest.clone()).collect();
        assert_eq!(layers, seeded.app.layer_digests);
        let sizes: Vec<_> = img.layers().iter().map(|l| l.size).collect();
        assert_eq!(sizes, seeded.app.layer_sizes);
        let config = img.config().unwrap();
        assert_eq!(config, seeded.app.config_bytes.as_slice());
        assert_eq!(sha256_digest(config), seeded.app.config_digest);
        // Kept: the same bytes come back without another fetch.
        assert_eq!(img.config().unwrap().as_ptr(), config.as_ptr());
    }
}

#[test]
fn layers_stream_and_save_verified() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (_reg, seeded) = shared_seeded_on(server);
        let img = remote::image(&client(), &seeded.app.reference).unwrap();
        for (i, want) in seeded.app.layer_digests.iter().enumerate() {
            let mut bytes = Vec::new();
            let mut chunks = 0;
            img.layer_read(i, &mut |c| {
                chunks += 1;
                bytes.extend_from_slice(c);
                Ok(())
            })
            .unwrap();
            assert_eq!(&sha256_digest(&bytes), want);
            assert_eq!(bytes.len() as u64, seeded.app.layer_sizes[i]);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("layer.tar.gz");
            std::fs::write(&path, b"old content is replaced").unwrap();
            img.layer_save(i, &path).unwrap();
            assert_eq!(&sha256_digest(&std::fs::read(&path).unwrap()), want);
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                1,
                "no temp file left"
            );
        }
        let big = seeded.app.layer_sizes[0];
        assert!(
            big > 256 * 1024,
            "the first fixture layer spans several chunks"
        );
        let e = img.layer_read(9, &mut |_| Ok(())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }
}

struct Recorder {
    calls: Mutex<Vec<(u64, u64)>>,
    cancel_after: Option<u64>,
}

impl ProgressSink for Recorder {
    fn report(&self, complete: u64, total: u64) -> bool {
        self.calls.lock().unwrap().push((complete, total));
        self.cancel_after.is_none_or(|limit| complete < limit)
    }
}

#[test]
fn layer_progress_never_decreases_ends_at_total_and_can_cancel() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (_reg, seeded) = shared_seeded_on(server);
        let c = client();
        let rec = Arc::new(Recorder {
            calls: Mutex::new(Vec::new()),
            cancel_after: None,
        });
        c.set_progress(Some(rec.clone()));
        let img = remote::image(&c, &seeded.app.reference).unwrap();
        img.layer_read(0, &mut |_| Ok(())).unwrap();
        let calls = rec.calls.lock().unwrap().clone();
        let size = seeded.app.layer_sizes[0];
        assert!(calls.len() >= 2, "{calls:?}");
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(calls.iter().all(|(_, t)| *t == size));
        assert_eq!(calls.last().unwrap(), &(size, size));

        let cancel = Arc::new(Recorder {
            calls: Mutex::new(Vec::new()),
            cancel_after: Some(1),
        });
        c.set_progress(Some(cancel.clone()));
        let img = remote::image(&c, &seeded.app.reference).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cancelled");
        let e = img.layer_save(0, &path).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing written"
        );
    }
}

#[test]
fn index_children_and_platform_resolution() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let c = client();
        let idx = remote::index(&c, &seeded.multi.reference).unwrap();
        assert_eq!(idx.digest(), seeded.multi.digest);
        assert_eq!(idx.manifest_bytes(), seeded.multi.manifest_bytes.as_slice());
        assert_eq!(idx.children().len(), 3);
        for (i, (platform, child)) in seeded.multi.children.iter().enumerate() {
            assert_eq!(idx.child_platform(i).as_deref(), Some(platform.as_str()));
            assert_eq!(idx.child_image(i).unwrap().digest(), child.manifest_digest);
        }
        let pick = |p: &str| {
            idx.image_for_platform(&rr::platform::Platform::parse(p).unwrap())
                .map(|i| i.digest().to_string())
        };
        let digest_of = |p: &str| {
            seeded
                .multi
                .children
                .iter()
                .find(|(q, _)| q == p)
                .unwrap()
                .1
                .manifest_digest
                .clone()
        };
        assert_eq!(pick("linux/amd64").unwrap(), digest_of("linux/amd64"));
        assert_eq!(pick("linux/x86_64").unwrap(), digest_of("linux/amd64"));
        assert_eq!(pick("linux/arm64").unwrap(), digest_of("linux/arm64/v8"));
        assert_eq!(
            pick("linux/aarch64/v8").unwrap(),
            digest_of("linux/arm64/v8")
        );
        assert_eq!(pick("linux/arm/v7").unwrap(), digest_of("linux/arm/v7"));
        assert_eq!(
            pick("linux/arm/v8").unwrap(),
            digest_of("linux/arm/v7"),
            "v8 may take v7"
        );
        let e = pick("linux/arm/v6").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.contains("linux/arm/v6"), "{}", e.message);
        assert_eq!(pick("windows/amd64").unwrap_err().kind, ErrorKind::NotFound);

        // The client's platform drives rr_image_open on an index.
        c.set_platform("linux/arm64").unwrap();
        let img = remote::image(&c, &seeded.multi.reference).unwrap();
        assert_eq!(img.digest(), digest_of("linux/arm64/v8"));
        assert_eq!(
            img.config().unwrap(),
            seeded.multi.children[1].1.config_bytes.as_slice()
        );
        let _ = reg;
    }
}

#[test]
fn asking_for_the_wrong_kind_is_unsupported_and_says_which_it_is() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (_reg, seeded) = shared_seeded_on(server);
        let e = remote::index(&client(), &seeded.app.reference).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("is an image"), "{}", e.message);
        let idx = remote::index(&client(), &seeded.multi.reference).unwrap();
        assert_eq!(idx.child_index(0).unwrap_err().kind, ErrorKind::Unsupported);
    }
}

#[test]
fn missing_tag_is_not_found_with_the_registry_code() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _seeded) = shared_seeded_on(server);
        let r = format!("{}/demo/app:nope", reg.host());
        let e = remote::get(&client(), &r).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.http_status, 404);
        assert_eq!(e.registry_code.as_deref(), Some("MANIFEST_UNKNOWN"));
        assert!(
            e.message.contains("/v2/demo/app/manifests/nope"),
            "{}",
            e.message
        );
        let e = remote::head(&client(), &r).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.http_status, 404);
        assert_eq!(e.registry_code, None, "a HEAD has no body");
        let e = list::list(&client(), &format!("{}/no/such/repo", reg.host())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.registry_code.as_deref(), Some("NAME_UNKNOWN"));
    }
}

#[test]
fn all_tags_across_pages_and_the_catalog() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let mut tags = list::list(&client(), &format!("{}/demo/many", reg.host())).unwrap();
        tags.sort();
        assert_eq!(tags, seeded.many_tags);
        assert_eq!(tags.len(), 320);
        // Pages of 100 make the registry send Link headers (relative URLs) three times.
        let paged = client();
        paged.set_page_size(Some(100)).unwrap();
        let mut tags = list::list(&paged, &format!("{}/demo/many", reg.host())).unwrap();
        tags.sort();
        assert_eq!(tags, seeded.many_tags);
        paged.set_page_size(Some(1)).unwrap();
        let repos = list::catalog(&paged, &reg.host()).unwrap();
        assert!(repos.len() >= 3, "{repos:?}");
        assert_eq!(
            paged.set_page_size(Some(1001)).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            paged.set_page_size(Some(0)).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        let e = list::list(&client(), &format!("{}/demo/many:t001", reg.host())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidReference);
        let repos = list::catalog(&client(), &reg.host()).unwrap();
        for want in ["demo/app", "demo/multi", "demo/many"] {
            assert!(
                repos.iter().any(|r| r == want),
                "{want} missing from {repos:?}"
            );
        }
    }
}

#[test]
fn a_corrupted_blob_is_a_digest_mismatch_and_leaves_no_file() {
    for server in Server::ALL {
        if server == Server::Ggcr {
            skip(
                server,
                "a_corrupted_blob_is_a_digest_mismatch_and_leaves_no_file",
                "it keeps blobs in memory, so no stored byte can be flipped (tests/faults.rs \
                 flips one in transit)",
            );
            continue;
        }
        eprintln!("on {server}");
        let reg = Registry::start_server(server);
        let seeded = reg.seed_standard();
        let layer = &seeded.app.layer_digests[1];
        let data = reg.blob_data_path(layer);
        let mut bytes = std::fs::read(&data).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&data, &bytes).unwrap();

        let img = remote::image(&client(), &seeded.app.reference).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer");
        let e = img.layer_save(1, &path).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DigestMismatch, "{}", e.message);
        assert!(e.message.contains(layer.as_str()), "{}", e.message);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        // A corrupted config is caught the same way.
        let cfg = reg.blob_data_path(&seeded.app.config_digest);
        let mut cb = std::fs::read(&cfg).unwrap();
        cb[0] ^= 0x20;
        std::fs::write(&cfg, &cb).unwrap();
        let img = remote::image(&client(), &seeded.app.reference).unwrap();
        assert_eq!(img.config().unwrap_err().kind, ErrorKind::DigestMismatch);
    }
}

#[test]
fn parallel_reads_share_one_client() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (_reg, seeded) = shared_seeded_on(server);
        let c = client();
        let total = Arc::new(AtomicU64::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                let c = c.clone();
                let total = total.clone();
                let reference = seeded.app.reference.clone();
                s.spawn(move || {
                    let img = remote::image(&c, &reference).unwrap();
                    img.layer_read(0, &mut |chunk| {
                        total.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        Ok(())
                    })
                    .unwrap();
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * seeded.app.layer_sizes[0]);
    }
}

#[test]
fn an_unreachable_registry_is_a_transport_error() {
    let c = client();
    c.set_retry(1, 0).unwrap();
    // A port nothing listens on: bind one, drop it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = remote::get(&c, &format!("127.0.0.1:{port}/a/b:c")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(
        e.message.contains(&format!("127.0.0.1:{port}")),
        "{}",
        e.message
    );
}
