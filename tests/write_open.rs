//! The write path against a real distribution registry without auth: pushes from every
//! kind of source, mounts, the no-op re-push, indexes, tags, deletes, layouts, progress and
//! cancellation, interop with skopeo both ways, and bad input.

mod common;

use common::*;
use rr::builder::{ImageBuilder, IndexBuilder};
use rr::remote::{self, write, ProgressSink};
use rr::{layout, ErrorKind};
use rr_testkit::{run_skopeo, sha256_digest, shared_seeded_on, skip, Mode, Registry, Server};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

fn built_image(dir: &std::path::Path, seed: u64) -> rr::image::Image {
    let plain = tar_bytes(seed, 3000);
    let gz = gzip(&tar_bytes(seed + 1, 200_000));
    let zs = zstd(&tar_bytes(seed + 2, 50_000));
    let mut b = ImageBuilder::new();
    b.set_platform("linux/arm64").unwrap();
    b.set_config(br#"{"config":{"Cmd":["/bin/true"]}}"#)
        .unwrap();
    for (name, bytes) in [("a.tar", &plain), ("b.tar.gz", &gz), ("c.tar.zst", &zs)] {
        let p = write_file(dir, &format!("{seed}-{name}"), bytes);
        b.add_layer_file(&p, None).unwrap();
    }
    b.build().unwrap()
}

#[test]
fn a_built_image_pushes_and_skopeo_reads_it_with_the_same_digests() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_on(server);
        let dir = temp_dir();
        let img = built_image(dir.path(), 10);
        let reference = format!("{}/write/built:v1", reg.host());
        write::write_image(&client(), &reference, &img).unwrap();

        let raw = reg.skopeo_inspect_raw(&reference);
        assert_eq!(
            raw,
            img.manifest_bytes(),
            "the manifest is stored byte for byte"
        );
        assert_eq!(sha256_digest(&raw), img.digest());

        // skopeo copies it into a layout; every blob there hashes to its name.
        let out_dir = dir.path().join("skopeo-layout");
        // --preserve-digests: skopeo otherwise gzips the plain tar layer on the way.
        let out = run_skopeo(&[
            "copy".to_string(),
            "--preserve-digests".to_string(),
            "--src-tls-verify=false".to_string(),
            reg.docker_ref(&reference),
            format!("oci:{}:v1", out_dir.display()),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let back = layout::read_image(&out_dir, Some("v1")).unwrap();
        assert_eq!(back.digest(), img.digest());
        for (i, layer) in img.layers().iter().enumerate() {
            assert_eq!(back.layers()[i].digest, layer.digest);
        }
        assert_eq!(back.config().unwrap(), img.config().unwrap());

        // The pushed config lists the sha256 of each uncompressed tar as its diff_id.
        let config: serde_json::Value =
            serde_json::from_slice(&reg.skopeo_inspect_config(&reference)).unwrap();
        let expected: Vec<String> = [
            tar_bytes(10, 3000),
            tar_bytes(11, 200_000),
            tar_bytes(12, 50_000),
        ]
        .iter()
        .map(|t| sha256_digest(t))
        .collect();
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(diff_ids, expected);
        assert_eq!(config["architecture"], "arm64");
        assert_eq!(config["history"].as_array().unwrap().len(), 3);

        // rr reads back the zstd layer exactly.
        let pulled = remote::image(&client(), &reference).unwrap();
        let mut bytes = Vec::new();
        pulled
            .layer_read(2, &mut |c| {
                bytes.extend_from_slice(c);
                Ok(())
            })
            .unwrap();
        assert_eq!(sha256_digest(&bytes), img.layers()[2].digest);
        assert_eq!(
            img.layers()[2].media_type,
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
    }
}

#[test]
fn a_copy_within_the_registry_mounts_every_blob_and_uploads_none() {
    for server in Server::ALL {
        if server == Server::Ggcr {
            skip(
                server,
                "a_copy_within_the_registry_mounts_every_blob_and_uploads_none",
                "it answers every mount with 202 (tests/registries.rs checks that path)",
            );
            continue;
        }
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let dst = format!("{}/write/mounted:v1", reg.host());
        write::copy(&client(), &seeded.app.reference, &dst).unwrap();
        assert_eq!(reg.skopeo_inspect_raw(&dst), seeded.app.manifest_bytes);

        let requests = requests_for(reg, "write/mounted");
        let mounts: Vec<_> = requests
            .iter()
            .filter(|r| {
                r.method == "POST" && r.uri.contains("mount=") && r.uri.contains("from=demo%2Fapp")
            })
            .collect();
        assert_eq!(
            mounts.len(),
            1 + seeded.app.layer_digests.len(),
            "config and every layer mounted: {requests:#?}"
        );
        assert!(mounts.iter().all(|r| r.status == 201), "{mounts:#?}");
        assert!(
            !requests.iter().any(|r| r.method == "PATCH"),
            "nothing uploaded: {requests:#?}"
        );
    }
}

#[test]
fn a_second_write_of_the_same_image_makes_at_most_two_requests() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let c = client();
        let img = remote::image(&c, &seeded.app.reference).unwrap();
        let dst = format!("{}/write/again:v1", reg.host());
        write::write_image(&c, &dst, &img).unwrap();
        let before = requests_for(reg, "write/again").len();
        write::write_image(&c, &dst, &img).unwrap();
        let after = requests_for(reg, "write/again");
        let new = &after[before..];
        assert!(
            new.len() <= 2,
            "second write made {} requests: {new:#?}",
            new.len()
        );
        assert!(new.iter().all(|r| r.method == "HEAD"), "{new:#?}");
    }
}

#[test]
fn an_index_copies_with_every_platform_and_nested_children_first() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let dst = format!("{}/write/multi:all", reg.host());
        write::copy(&client(), &seeded.multi.reference, &dst).unwrap();
        assert_eq!(reg.skopeo_inspect_raw(&dst), seeded.multi.manifest_bytes);
        for (_, child) in &seeded.multi.children {
            let by_digest = format!("{}/write/multi@{}", reg.host(), child.manifest_digest);
            assert_eq!(reg.skopeo_inspect_raw(&by_digest), child.manifest_bytes);
        }
        let requests = requests_for(reg, "write/multi");
        let puts: Vec<_> = requests
            .iter()
            .filter(|r| r.method == "PUT" && r.uri.contains("/manifests/"))
            .collect();
        assert!(
            puts.last().unwrap().uri.ends_with("/manifests/all"),
            "index last: {puts:#?}"
        );

        // An index built from images of other sources, with the platforms given or read.
        let dir = temp_dir();
        let a = built_image(dir.path(), 20);
        let b = remote::image(&client(), &seeded.app.reference).unwrap();
        let mut ib = IndexBuilder::new();
        ib.add_image(&a, None).unwrap();
        ib.add_image(&b, Some("linux/amd64")).unwrap();
        let idx = ib.build().unwrap();
        let dst = format!("{}/write/built-index:v1", reg.host());
        write::write_index(&client(), &dst, &idx).unwrap();
        let raw = reg.skopeo_inspect_raw(&dst);
        assert_eq!(raw, idx.manifest_bytes());
        let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(json["manifests"][0]["platform"]["architecture"], "arm64");
        let arm = remote::index(&client(), &dst)
            .unwrap()
            .image_for_platform(&rr::platform::Platform::parse("linux/arm64").unwrap())
            .unwrap();
        assert_eq!(arm.digest(), a.digest());
    }
}

struct Recorder {
    calls: Mutex<Vec<(u64, u64)>>,
    cancel_after: Option<usize>,
}

impl ProgressSink for Recorder {
    fn report(&self, complete: u64, total: u64) -> bool {
        let mut calls = self.calls.lock().unwrap();
        calls.push((complete, total));
        self.cancel_after.is_none_or(|n| calls.len() < n)
    }
}

#[test]
fn progress_reaches_the_total_and_never_goes_back() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_on(server);
        let dir = temp_dir();
        let img = built_image(dir.path(), 30);
        let c = client();
        let rec = Arc::new(Recorder {
            calls: Mutex::new(Vec::new()),
            cancel_after: None,
        });
        c.set_progress(Some(rec.clone()));
        write::write_image(&c, &format!("{}/write/progress:v1", reg.host()), &img).unwrap();
        let calls = rec.calls.lock().unwrap().clone();
        let expected: u64 =
            img.manifest().config.size + img.layers().iter().map(|l| l.size).sum::<u64>();
        assert_eq!(calls.last().copied(), Some((expected, expected)));
        assert!(
            calls.windows(2).all(|w| w[0].0 <= w[1].0),
            "complete never decreases"
        );
        assert!(calls.iter().all(|(c, t)| c <= t));
    }
}

#[test]
fn cancelling_from_the_progress_callback_leaves_no_manifest_and_no_session() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_on(server);
        let dir = temp_dir();
        let big = write_file(dir.path(), "big.tar", &tar_bytes(40, 8 * 1024 * 1024));
        let mut b = ImageBuilder::new();
        b.add_layer_file(&big, None).unwrap();
        let img = b.build().unwrap();
        let c = client();
        c.set_jobs(1).unwrap();
        let rec = Arc::new(Recorder {
            calls: Mutex::new(Vec::new()),
            cancel_after: Some(3),
        });
        c.set_progress(Some(rec));
        let reference = format!("{}/write/cancelled:v1", reg.host());
        let e = write::write_image(&c, &reference, &img).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled, "{e}");
        let e = remote::head(&client(), &reference).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "no manifest was written");
        // Every session opened was cancelled. (distribution 2.8 cannot honour the DELETE of a
        // session whose PATCH was cut short: it checks the offset in `_state`, finds it stale,
        // and its own cancel then fails on a closed writer; its upload purger removes the data.
        // tests/uploads.rs checks that such sessions are really gone on distribution v3.)
        let left = sessions_never_cancelled(reg, "write/cancelled");
        assert!(
            left.is_empty(),
            "{left:?}: {:#?}",
            requests_for(reg, "write/cancelled")
        );
        assert!(!requests_for(reg, "write/cancelled")
            .iter()
            .any(|r| r.method == "PUT" && r.uri.contains("/manifests/")),);
    }
}

#[test]
fn tag_and_delete_by_digest_work_and_tag_deletion_is_unsupported_here() {
    let reg = Registry::start(Mode::Open);
    let c = client();
    let dir = temp_dir();
    let img = built_image(dir.path(), 50);
    let reference = format!("{}/write/tags:v1", reg.host());
    write::write_image(&c, &reference, &img).unwrap();
    write::tag(&c, &reference, "v2").unwrap();
    assert_eq!(
        remote::head(&c, &format!("{}/write/tags:v2", reg.host()))
            .unwrap()
            .digest,
        img.digest()
    );
    assert_eq!(
        write::tag(&c, &reference, "bad tag").unwrap_err().kind,
        ErrorKind::InvalidReference
    );

    // distribution 2.8 does not delete tags: the manifest must stay.
    let e = write::delete(&c, &reference).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert!(remote::head(&c, &reference).is_ok());

    let by_digest = format!("{}/write/tags@{}", reg.host(), img.digest());
    write::delete(&c, &by_digest).unwrap();
    assert_eq!(
        remote::head(&c, &by_digest).unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        write::delete(&c, &by_digest).unwrap_err().kind,
        ErrorKind::NotFound
    );

    let no_deletes = Registry::start_with_deletes(Mode::Open, false);
    let reference = format!("{}/write/tags:v1", no_deletes.host());
    write::write_image(&c, &reference, &img).unwrap();
    let e = write::delete(
        &c,
        &format!("{}/write/tags@{}", no_deletes.host(), img.digest()),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert_eq!(e.http_status, 405);
}

#[test]
fn push_permission_is_checked_without_leaving_a_session() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_on(server);
        write::check_push_permission(&client(), &format!("{}/write/perm:v1", reg.host())).unwrap();
        if server == Server::Ggcr {
            skip(
                server,
                "push_permission_is_checked_without_leaving_a_session: the sessions",
                "it cannot cancel an upload session (a DELETE of one is answered 400)",
            );
        } else {
            assert_eq!(open_upload_sessions(reg, "write/perm"), 0);
            assert!(sessions_left_behind(reg, "write/perm").is_empty());
        }
        let posts = requests_for(reg, "write/perm");
        assert!(posts.iter().any(|r| r.method == "POST"), "{posts:#?}");
        assert!(posts.iter().any(|r| r.method == "DELETE"), "{posts:#?}");
    }
}

#[test]
fn layouts_round_trip_with_skopeo_both_ways() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let dir = temp_dir();
        let c = client();

        // rr writes a layout skopeo reads and pushes; the digests survive.
        let rr_layout = dir.path().join("rr-layout");
        let img = remote::image(&c, &seeded.app.reference).unwrap();
        layout::write_image(&c, &rr_layout, &img, Some("app")).unwrap();
        let idx = remote::index(&c, &seeded.multi.reference).unwrap();
        layout::write_index(&c, &rr_layout, &idx, Some("multi")).unwrap();
        let out = run_skopeo(&[
            "inspect",
            "--raw",
            &format!("oci:{}:app", rr_layout.display()),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, seeded.app.manifest_bytes);
        let out = reg.skopeo_copy_to(
            &format!("oci:{}:multi", rr_layout.display()),
            "write/from-rr-layout:multi",
            None,
            true,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            reg.skopeo_inspect_raw("write/from-rr-layout:multi"),
            seeded.multi.manifest_bytes
        );

        // Writing the same name again replaces its entry; blobs already there are kept.
        layout::write_image(&c, &rr_layout, &img, Some("app")).unwrap();
        let index = layout::read_index(&rr_layout).unwrap();
        assert_eq!(index.children().len(), 2);
        let mut entries: Vec<String> = std::fs::read_dir(&rr_layout)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            ["blobs", "index.json", "oci-layout"],
            "nothing else is left in the layout"
        );

        // skopeo writes a layout rr reads and pushes; the digests survive.
        let sk_layout = dir.path().join("skopeo-layout");
        let out = run_skopeo(&[
            "copy".to_string(),
            "--all".to_string(),
            "--src-tls-verify=false".to_string(),
            reg.docker_ref(&seeded.multi.reference),
            format!("oci:{}:multi", sk_layout.display()),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let index = layout::read_index(&sk_layout).unwrap();
        let from_layout = index.child_index(0).unwrap();
        assert_eq!(from_layout.digest(), seeded.multi.digest);
        let dst = format!("{}/write/from-skopeo-layout:multi", reg.host());
        write::write_index(&c, &dst, &from_layout).unwrap();
        assert_eq!(reg.skopeo_inspect_raw(&dst), seeded.multi.manifest_bytes);
        let amd = layout::read_image(&sk_layout, Some("multi")).unwrap();
        assert_eq!(amd.digest(), seeded.multi.children[0].1.manifest_digest);
    }
}

#[test]
fn bad_input_gets_a_clear_status_and_leaves_nothing() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let c = client();
        let img = remote::image(&c, &seeded.app.reference).unwrap();

        let e = write::write_image(&c, &format!("{}/write/bad", reg.host()), &img).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidReference, "{e}");
        let wrong = format!("{}/write/bad@{}", reg.host(), seeded.many.manifest_digest);
        assert_eq!(
            write::write_image(&c, &wrong, &img).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );

        let dir = temp_dir();
        let e = layout::read_image(dir.path(), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
        assert!(e.message.contains("not an OCI image layout"), "{e}");

        // A layout with a missing blob: the push fails and writes no manifest.
        // A layer no registry has seen (go-containerregistry's registry keeps blobs for
        // every repository at once, so a seeded layer would be found there).
        let fresh = built_image(dir.path(), 9000 + server as u64);
        let l = dir.path().join("layout");
        layout::write_image(&c, &l, &fresh, Some("app")).unwrap();
        let e = layout::read_image(&l, Some("nope")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
        let from_layout = layout::read_image(&l, Some("app")).unwrap();
        let victim = rr::source::layout_blob_path(&l, &fresh.layers()[0].digest).unwrap();
        std::fs::remove_file(&victim).unwrap();
        let target = format!("{}/write/from-broken-layout:v1", reg.host());
        let e = write::write_image(&c, &target, &from_layout).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
        assert_eq!(
            remote::head(&c, &target).unwrap_err().kind,
            ErrorKind::NotFound
        );

        // A corrupt blob: digest mismatch, still no manifest, no session left open.
        std::fs::write(&victim, vec![0u8; fresh.layers()[0].size as usize]).unwrap();
        let e = write::write_image(&c, &target, &from_layout).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DigestMismatch, "{e}");
        assert_eq!(
            remote::head(&c, &target).unwrap_err().kind,
            ErrorKind::NotFound
        );
        if server == Server::Ggcr {
            skip(
                server,
                "bad_input_gets_a_clear_status_and_leaves_nothing: the sessions",
                "it cannot cancel an upload session (a DELETE of one is answered 400)",
            );
        } else {
            assert_eq!(open_upload_sessions(reg, "write/from-broken-layout"), 0);
            assert!(sessions_left_behind(reg, "write/from-broken-layout").is_empty());
        }

        // Writing a layout from a source that fails leaves no entry and no partial blob.
        let l2 = dir.path().join("layout2");
        let e = layout::write_image(&c, &l2, &from_layout, Some("x")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DigestMismatch);
        assert!(!l2.join("index.json").exists());
        let blobs: Vec<_> = std::fs::read_dir(l2.join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            !blobs.iter().any(|n| n.to_string_lossy().contains("tmp")),
            "{blobs:?}"
        );
        assert!(!l2
            .join("blobs/sha256")
            .join(img.layers()[0].digest.trim_start_matches("sha256:"))
            .exists());
    }
}

#[test]
fn concurrent_writes_from_many_threads_share_one_client() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let c = client();
        let failures = AtomicU64::new(0);
        std::thread::scope(|s| {
            for t in 0..4 {
                let c = c.clone();
                let failures = &failures;
                let reg = &reg;
                let seeded = &seeded;
                s.spawn(move || {
                    let dst = format!("{}/write/threads-{t}:v1", reg.host());
                    if write::copy(&c, &seeded.multi.reference, &dst).is_err() {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(failures.load(Ordering::SeqCst), 0);
        for t in 0..4 {
            assert_eq!(
                reg.skopeo_inspect_raw(&format!("write/threads-{t}:v1")),
                seeded.multi.manifest_bytes
            );
        }
    }
}

#[test]
fn concurrent_layout_writers_keep_every_entry() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (_reg, seeded) = shared_seeded_on(server);
        let c = client();
        let img = remote::image(&c, &seeded.app.reference).unwrap();
        let dir = temp_dir();
        let l = dir.path().join("shared-layout");
        std::thread::scope(|s| {
            for t in 0..6 {
                let (c, img, l) = (&c, &img, &l);
                s.spawn(move || layout::write_image(c, l, img, Some(&format!("n{t}"))).unwrap());
            }
        });
        let index = layout::read_index(&l).unwrap();
        let mut names: Vec<String> = index
            .children()
            .iter()
            .map(|d| d.annotations[layout::REF_NAME].clone())
            .collect();
        names.sort();
        assert_eq!(names, ["n0", "n1", "n2", "n3", "n4", "n5"]);
    }
}

#[test]
fn an_image_built_on_a_base_mounts_the_base_layers_and_keeps_its_history() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let c = client();
        let base = remote::image(&c, &seeded.app.reference).unwrap();
        let base_config: serde_json::Value =
            serde_json::from_slice(base.config().unwrap()).unwrap();
        let dir = temp_dir();
        let extra = write_file(dir.path(), "extra.tar.gz", &gzip(&tar_bytes(60, 20_000)));
        let mut b = ImageBuilder::new();
        b.set_base_image(&base).unwrap();
        b.add_layer_file(&extra, None).unwrap();
        let img = b.build().unwrap();
        drop(base);
        assert_eq!(img.layers().len(), seeded.app.layer_digests.len() + 1);
        for (i, d) in seeded.app.layer_digests.iter().enumerate() {
            assert_eq!(&img.layers()[i].digest, d);
        }

        let dst = format!("{}/write/appended:v1", reg.host());
        write::write_image(&c, &dst, &img).unwrap();
        assert_eq!(reg.skopeo_inspect_raw(&dst), img.manifest_bytes());
        let config: serde_json::Value =
            serde_json::from_slice(&reg.skopeo_inspect_config(&dst)).unwrap();
        let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
        assert_eq!(diff_ids.len(), seeded.app.layer_digests.len() + 1);
        assert_eq!(
            &diff_ids[..seeded.app.diff_ids.len()],
            &base_config["rootfs"]["diff_ids"].as_array().unwrap()[..]
        );
        assert_eq!(
            config["history"].as_array().unwrap().len(),
            base_config["history"].as_array().map_or(0, |h| h.len()) + 1
        );
        assert_eq!(config["architecture"], base_config["architecture"]);

        if server == Server::Ggcr {
            skip(
                server,
                "an_image_built_on_a_base_mounts_the_base_layers_and_keeps_its_history: the mounts",
                "it answers every mount with 202 (tests/registries.rs checks that path)",
            );
            continue;
        }
        let requests = requests_for(reg, "write/appended");
        let mounts = requests
            .iter()
            .filter(|r| r.method == "POST" && r.uri.contains("from=demo%2Fapp") && r.status == 201)
            .count();
        assert_eq!(
            mounts,
            seeded.app.layer_digests.len(),
            "base layers mounted: {requests:#?}"
        );
        let commits = requests
            .iter()
            .filter(|r| r.method == "PUT" && r.uri.contains("digest=") && r.status == 201)
            .count();
        assert_eq!(
            commits, 2,
            "the new layer and the config uploaded: {requests:#?}"
        );
    }
}
