//! Correct answers from every registry implementation the harness runs: distribution 2.8
//! (Debian's), distribution v3 and go-containerregistry's registry, which paginate,
//! refuse page sizes, mount and delete each in their own way.

mod common;

use common::client;
use rr::remote::list;
use rr_testkit::{Fault, FaultProxy, ImageSpec, Mode, Options, Registry, Rule, Server};

const MANY: usize = 1006;

/// A registry of `server` holding `demo/many` with `count` tags (`t0000`...).
fn with_many_tags(options: Options, count: usize) -> (Registry, Vec<String>) {
    let reg = Registry::start_with(options);
    reg.push_image("demo/many:t0000", &ImageSpec::random(7, &[512]));
    let tags: Vec<String> = (0..count).map(|i| format!("t{i:04}")).collect();
    reg.add_tags("demo/many", "t0000", &tags[1..]);
    (reg, tags)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn tag_requests(reg: &Registry) -> Vec<String> {
    reg.requests()
        .into_iter()
        .filter(|r| r.uri.contains("/tags/list"))
        .map(|r| format!("{} {}", r.uri, r.status))
        .collect()
}

#[test]
fn every_tag_is_listed_by_every_server_at_every_page_size() {
    for server in Server::ALL {
        let (reg, tags) = with_many_tags(Options::new(server, Mode::Open), MANY);
        let repo = format!("{}/demo/many", reg.host());
        for page_size in [None, Some(1000), Some(503), Some(100), Some(1)] {
            let c = client();
            c.set_page_size(page_size).unwrap();
            let got = list::list(&c, &repo)
                .unwrap_or_else(|e| panic!("{server}, page size {page_size:?}: {e}"));
            assert_eq!(
                got.len(),
                MANY,
                "{server}, page size {page_size:?}: {:?}",
                tag_requests(&reg)
            );
            assert_eq!(sorted(got), tags, "{server}, page size {page_size:?}");
        }
    }
}

/// distribution v3 refuses `n` above `catalog.maxentries` (here 2) on the catalog with
/// `400 PAGINATION_NUMBER_INVALID`: the catalog is asked again without `n`, and the
/// registry's own pages (of 2, with `Link`) are followed to the end.
#[test]
fn a_refused_page_size_is_asked_again_without_it() {
    let options = Options {
        catalog_max_entries: Some(2),
        ..Options::new(Server::DistributionV3, Mode::Open)
    };
    let reg = Registry::start_with(options);
    let want = ["demo/r1", "demo/r2", "demo/r3", "demo/r4", "demo/r5"];
    for (i, name) in want.iter().enumerate() {
        reg.push_image(
            &format!("{name}:v1"),
            &ImageSpec::random(10 + i as u64, &[256]),
        );
    }
    let c = client();
    c.set_page_size(Some(1000)).unwrap();
    let before = reg.requests().len();
    assert_eq!(sorted(list::catalog(&c, &reg.host()).unwrap()), want);
    let asked: Vec<(String, u16)> = reg.requests()[before..]
        .iter()
        .filter(|r| r.uri.starts_with("/v2/_catalog"))
        .map(|r| (r.uri.clone(), r.status))
        .collect();
    assert_eq!(
        asked[0],
        ("/v2/_catalog?n=1000".to_string(), 400),
        "{asked:?}"
    );
    assert_eq!(asked[1], ("/v2/_catalog".to_string(), 200), "{asked:?}");
    assert_eq!(asked.len(), 4, "pages of 2 after the refusal: {asked:?}");
    // By default no `n` is sent: no refusal.
    let before = reg.requests().len();
    assert_eq!(sorted(list::catalog(&client(), &reg.host()).unwrap()), want);
    assert!(reg.requests()[before..].iter().all(|r| r.status == 200));
    // A page size the registry accepts is used as given.
    let small = client();
    small.set_page_size(Some(1)).unwrap();
    assert_eq!(sorted(list::catalog(&small, &reg.host()).unwrap()), want);
}

/// The catalog comes out whole at any page size: distribution paginates it with `Link`,
/// go-containerregistry's registry ignores `last` there (it repeats its first page), and
/// is then asked once for the whole catalog.
#[test]
fn every_repository_is_in_the_catalog_of_every_server() {
    for server in Server::ALL {
        let reg = Registry::start_server(server);
        let mut want = Vec::new();
        for r in 0..5 {
            let name = format!("cat/r{r}");
            reg.push_image(&format!("{name}:v1"), &ImageSpec::random(20 + r, &[128]));
            want.push(name);
        }
        for page_size in [None, Some(1000), Some(5), Some(2), Some(1)] {
            let c = client();
            c.set_page_size(page_size).unwrap();
            let got = list::catalog(&c, &reg.host())
                .unwrap_or_else(|e| panic!("{server}, page size {page_size:?}: {e}"));
            assert_eq!(sorted(got), want, "{server}, page size {page_size:?}");
        }
    }
}

/// Requests of `reg` since `from`, as `METHOD path` with the query, for blob traffic of
/// repository `repo`.
fn blob_requests(reg: &Registry, from: usize, repo: &str) -> Vec<(String, String)> {
    reg.requests()[from..]
        .iter()
        .filter(|r| r.uri.starts_with(&format!("/v2/{repo}/blobs/")))
        .map(|r| (r.method.clone(), r.uri.clone()))
        .collect()
}

/// Waits until go-containerregistry's registry has logged what it answered (it logs after
/// the response is written).
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(100));
}

/// go-containerregistry's registry answers every mount with 202 and an upload session.
/// The first 202 stops the mounts for the rest of the copy; a session opened that way is
/// used only after a HEAD says the blob is missing, and cancelled when the blob is there.
/// A second copy of the same image to a new repository uploads nothing.
#[test]
fn mounts_answered_202_still_skip_blobs_already_there() {
    let reg = Registry::start_server(Server::Ggcr);
    let pushed = reg.push_image(
        "m/src:v1",
        &ImageSpec::random(31, &[1 << 20, 1 << 20, 1 << 20]),
    );
    let blobs = pushed.layer_digests.len() + 1;
    let c = client();

    // First copy: the blobs are new to m/one's repository (ggcr keeps blobs per registry,
    // so a HEAD finds them: nothing is uploaded either way, but the sessions are handled).
    let before = reg.requests().len();
    rr::remote::write::copy(&c, &pushed.reference, &format!("{}/m/one:v1", reg.host())).unwrap();
    settle();
    let first = blob_requests(&reg, before, "m/one");
    let mounts: Vec<_> = first
        .iter()
        .filter(|(m, u)| m == "POST" && u.contains("mount="))
        .collect();
    assert_eq!(mounts.len(), 1, "one mount tried, then none: {first:#?}");
    let heads = first.iter().filter(|(m, _)| m == "HEAD").count();
    assert_eq!(heads, blobs, "every blob HEADed once: {first:#?}");
    let patches = first.iter().filter(|(m, _)| m == "PATCH").count();
    assert_eq!(patches, 0, "nothing uploaded: {first:#?}");
    let deletes: Vec<_> = first.iter().filter(|(m, _)| m == "DELETE").collect();
    assert_eq!(
        deletes.len(),
        1,
        "the mount's session cancelled: {first:#?}"
    );
    assert!(deletes[0].1.contains("/blobs/uploads/"), "{deletes:?}");
    assert_eq!(first.len(), blobs + 2, "{first:#?}");

    // Second copy, to another new repository: the same, and still no upload.
    let before = reg.requests().len();
    rr::remote::write::copy(&c, &pushed.reference, &format!("{}/m/two:v1", reg.host())).unwrap();
    settle();
    let second = blob_requests(&reg, before, "m/two");
    assert!(
        second.iter().all(|(m, _)| m != "PATCH" && m != "PUT"),
        "no blob uploaded again: {second:#?}"
    );
    assert_eq!(
        rr::remote::get(&c, &format!("{}/m/two:v1", reg.host()))
            .unwrap()
            .digest,
        pushed.manifest_digest
    );
}

/// Blob requests (method, path and query, status) that distribution answered for `repo`
/// since `from`.
fn answered(reg: &Registry, from: usize, repo: &str) -> Vec<(String, String, u16)> {
    reg.requests()[from..]
        .iter()
        .filter(|r| r.uri.starts_with(&format!("/v2/{repo}/blobs/")))
        .map(|r| (r.method.clone(), r.uri.clone(), r.status))
        .collect()
}

fn count(seen: &[(String, String, u16)], method: &str, status: u16) -> usize {
    seen.iter()
        .filter(|(m, _, s)| m == method && *s == status)
        .count()
}

/// distribution 2.8 behind a proxy that turns mounts into plain upload POSTs, so that
/// every mount is answered 202 with a session, as by a registry that does not mount.
/// Blobs missing at the destination (HEAD 404) are uploaded into the mount's session and
/// the others through sessions of their own, without mounts (these blobs are small: each
/// goes in one PUT with its body); blobs already there (HEAD 200)
/// cancel the mount's session and upload nothing. No session is left open either way.
#[test]
fn a_202_mount_uploads_into_its_session_only_when_the_blob_is_missing() {
    let reg = Registry::start(Mode::Open);
    let pushed = reg.push_image("demo/src:v1", &ImageSpec::random(41, &[4096, 8192, 100]));
    let blobs = pushed.layer_digests.len() + 1;
    let proxy = FaultProxy::start(
        &reg.host(),
        vec![Rule::new(Some("POST"), "mount=", Fault::DropQuery, 100)],
    );
    let src = format!("{}/demo/src:v1", proxy.host());
    let c = client();

    let before = reg.requests().len();
    rr::remote::write::copy(&c, &src, &format!("{}/m/dst:v1", proxy.host())).unwrap();
    let seen = answered(&reg, before, "m/dst");
    let mounts = proxy
        .seen()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("mount="))
        .count();
    assert_eq!(
        mounts, 1,
        "after the first 202 no mount is tried: {seen:#?}"
    );
    assert_eq!(
        count(&seen, "HEAD", 404),
        blobs,
        "every blob HEADed: {seen:#?}"
    );
    assert_eq!(
        count(&seen, "POST", 202),
        blobs,
        "the mount's session and one per other blob: {seen:#?}"
    );
    assert_eq!(count(&seen, "PATCH", 202), 0, "{seen:#?}");
    assert_eq!(count(&seen, "PUT", 201), blobs, "{seen:#?}");
    assert_eq!(seen.len(), 3 * blobs, "{seen:#?}");
    assert_eq!(common::open_upload_sessions(&reg, "m/dst"), 0);

    // Again into the same repository under another tag: every blob is there.
    proxy.clear_seen();
    let before = reg.requests().len();
    rr::remote::write::copy(&c, &src, &format!("{}/m/dst:v2", proxy.host())).unwrap();
    let seen = answered(&reg, before, "m/dst");
    assert_eq!(count(&seen, "POST", 202), 1, "only the mount: {seen:#?}");
    assert_eq!(count(&seen, "HEAD", 200), blobs, "{seen:#?}");
    assert_eq!(
        count(&seen, "DELETE", 204),
        1,
        "the mount's session cancelled: {seen:#?}"
    );
    assert_eq!(seen.len(), blobs + 2, "{seen:#?}");
    assert_eq!(common::open_upload_sessions(&reg, "m/dst"), 0);
    for tag in ["v1", "v2"] {
        let d = rr::remote::get(&c, &format!("{}/m/dst:{tag}", reg.host())).unwrap();
        assert_eq!(d.digest, pushed.manifest_digest);
    }
}

/// What `rr delete REPO:TAG` does on each server: distribution 2.8 keeps tags (it deletes
/// manifests by digest only), v3 and go-containerregistry's registry delete the tag and
/// keep the manifest; with deletion disabled, the hint says so, not "delete by digest".
/// Finding out deletes nothing the caller did not ask to delete.
#[test]
fn deletion_hints_say_what_the_registry_really_refuses() {
    for (server, deletes) in [
        (Server::Distribution28, true),
        (Server::Distribution28, false),
        (Server::DistributionV3, true),
        (Server::DistributionV3, false),
        (Server::Ggcr, true),
    ] {
        let reg = Registry::start_with(Options {
            deletes_enabled: deletes,
            ..Options::new(server, Mode::Open)
        });
        let pushed = reg.push_image("del/app:v1", &ImageSpec::random(51, &[256]));
        reg.add_tags("del/app", "v1", &["v2".to_string()]);
        let c = client();
        let by_digest = format!("{}/del/app@{}", reg.host(), pushed.manifest_digest);
        let tag = format!("{}/del/app:v2", reg.host());
        let result = rr::remote::write::delete(&c, &tag);
        let case = format!("{server}, deletion enabled: {deletes}");
        match (server, deletes) {
            (Server::Distribution28, true) => {
                let e = result.expect_err(&case);
                assert_eq!(e.kind, rr::ErrorKind::Unsupported, "{case}: {e}");
                assert!(
                    e.message
                        .contains("does not delete tags; delete the manifest by digest"),
                    "{case}: {e}"
                );
            }
            (_, false) => {
                let e = result.expect_err(&case);
                assert_eq!(e.kind, rr::ErrorKind::Unsupported, "{case}: {e}");
                assert!(
                    e.message
                        .contains("(deletion is disabled on this registry)"),
                    "{case}: {e}"
                );
                assert!(!e.message.contains("by digest"), "{case}: {e}");
                let e = rr::remote::write::delete(&c, &by_digest).expect_err(&case);
                assert!(e.message.contains("deletion is disabled"), "{case}: {e}");
            }
            _ => {
                result.unwrap_or_else(|e| panic!("{case}: {e}"));
                let e = rr::remote::get(&c, &tag).expect_err(&case);
                assert_eq!(
                    e.kind,
                    rr::ErrorKind::NotFound,
                    "{case}: the tag is gone: {e}"
                );
            }
        }
        // Nothing else was deleted: the manifest and its first tag are there.
        for kept in [&by_digest, &format!("{}/del/app:v1", reg.host())] {
            let d = rr::remote::get(&c, kept).unwrap_or_else(|e| panic!("{case}: {kept}: {e}"));
            assert_eq!(d.digest, pushed.manifest_digest, "{case}");
        }
        if deletes {
            rr::remote::write::delete(&c, &by_digest).unwrap_or_else(|e| panic!("{case}: {e}"));
            let e = rr::remote::get(&c, &by_digest).expect_err(&case);
            assert_eq!(e.kind, rr::ErrorKind::NotFound, "{case}: {e}");
        }
    }
}
