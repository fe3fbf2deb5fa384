//! OCI 1.1 referrers against real registries: listing (the referrers API where the
//! registry has one, the fallback tag where it has not), filters, pushes that keep the
//! fallback tag up to date (also with four writers at once), deletes that leave it,
//! fallback tags holding something else, copies that bring referrers along, and saving
//! an artifact's files.

mod common;

use common::*;
use rr::builder::{ArtifactBuilder, ImageBuilder};
use rr::image::Image;
use rr::manifest::OCI_INDEX;
use rr::remote::referrers::{self, Found};
use rr::remote::{self, write, Client};
use rr::ErrorKind;
use rr_testkit::{shared_seeded_on, Mode, Options, Registry, Server};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

const SBOM: &str = "application/vnd.example.sbom+json";
const SIGNATURE: &str = "application/vnd.example.signature";

/// A small image of its own, pushed to `reference`; its digest.
fn push_subject(c: &Client, reference: &str, seed: u64) -> String {
    let dir = temp_dir();
    let mut b = ImageBuilder::new();
    let layer = write_file(
        dir.path(),
        "l.tar.gz",
        &gzip(&tar_bytes(seed, 20_000 + seed as usize)),
    );
    b.add_layer_file(&layer, None).unwrap();
    let img = b.build().unwrap();
    write::write_image(c, reference, &img).unwrap();
    img.digest().to_string()
}

/// An artifact of `artifact_type` with one file, `name` holding `content`, whose subject
/// is the manifest at `subject` (a reference).
fn artifact(c: &Client, artifact_type: &str, subject: &str, name: &str, content: &[u8]) -> Image {
    // The built image reads its files when it is pushed: they stay for the whole run.
    static FILES: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = FILES
        .get_or_init(temp_dir)
        .path()
        .join(rr::digest::of_bytes(content));
    std::fs::create_dir_all(&dir).unwrap();
    let file = write_file(&dir, name, content);
    let mut b = ArtifactBuilder::new(artifact_type).unwrap();
    b.add_file(&file, "application/octet-stream").unwrap();
    b.add_annotation("com.example.name", name).unwrap();
    let found = remote::head(c, subject).unwrap();
    b.set_subject(&found.media_type, &found.digest, found.size)
        .unwrap();
    b.build().unwrap()
}

/// Pushes `img` by digest into `repo`; its digest.
fn attach(c: &Client, repo: &str, img: &Image) -> String {
    write::write_image(c, &format!("{repo}@{}", img.digest()), img).unwrap();
    img.digest().to_string()
}

fn listed(c: &Client, subject: &str, artifact_type: Option<&str>) -> (BTreeSet<String>, Found) {
    let found = referrers::referrers(c, subject, artifact_type).unwrap();
    let digests = found
        .index
        .children()
        .iter()
        .map(|d| d.digest.clone())
        .collect();
    (digests, found.found)
}

fn set(items: &[&String]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The three servers of the matrix, and go-containerregistry's registry with the referrers
/// API on (the harness's `rr-registry-ggcr-referrers`).
const SERVERS: [Server; 4] = [
    Server::Distribution28,
    Server::DistributionV3,
    Server::Ggcr,
    Server::GgcrReferrers,
];

/// How each server answers `/v2/<name>/referrers/<digest>`.
fn expected_found(server: Server) -> Found {
    match server {
        // None of the three has the API (ggcr's cmd/registry leaves it off): 404.
        Server::Distribution28 | Server::DistributionV3 | Server::Ggcr => Found::FallbackTag,
        Server::GgcrReferrers => Found::Api,
    }
}

#[test]
fn attached_artifacts_are_listed_and_filtered_on_every_registry() {
    for server in SERVERS {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_on(server);
        let c = client();
        let repo = format!("{}/referrers/listed", reg.host());
        let subject_digest = push_subject(&c, &format!("{repo}:v1"), 1);
        let subject = format!("{repo}@{subject_digest}");

        let (none, _) = listed(&c, &subject, None);
        assert!(none.is_empty(), "{server}: nothing attached yet");

        let sbom_a = attach(
            &c,
            &repo,
            &artifact(&c, SBOM, &subject, "a.json", b"{\"a\":1}"),
        );
        let sbom_b = attach(
            &c,
            &repo,
            &artifact(&c, SBOM, &subject, "b.json", b"{\"b\":2}"),
        );
        let sig = attach(
            &c,
            &repo,
            &artifact(&c, SIGNATURE, &subject, "sig", b"signed"),
        );

        let (all, found) = listed(&c, &subject, None);
        assert_eq!(found, expected_found(server), "{server}");
        assert_eq!(all, set(&[&sbom_a, &sbom_b, &sig]), "{server}");
        // A tag is resolved to its digest first.
        let (by_tag, _) = listed(&c, &format!("{repo}:v1"), None);
        assert_eq!(by_tag, all, "{server}");

        let (sboms, _) = listed(&c, &subject, Some(SBOM));
        assert_eq!(sboms, set(&[&sbom_a, &sbom_b]), "{server}");
        let (sigs, _) = listed(&c, &subject, Some(SIGNATURE));
        assert_eq!(sigs, set(&[&sig]), "{server}");
        let (other, _) = listed(&c, &subject, Some("application/vnd.example.none"));
        assert!(other.is_empty(), "{server}");

        // Each entry says what the referrer is, and opens as it.
        let found = referrers::referrers(&c, &subject, Some(SIGNATURE)).unwrap();
        let entry = &found.index.children()[0];
        assert_eq!(entry.artifact_type.as_deref(), Some(SIGNATURE));
        assert_eq!(entry.annotations["com.example.name"], "sig");
        assert_eq!(found.index.media_type(), OCI_INDEX);
        let opened = found.index.child_image(0).unwrap();
        assert_eq!(opened.digest(), sig);
        assert_eq!(opened.subject().unwrap().digest, subject_digest);

        let bad = referrers::referrers(&c, &subject, Some("not a type")).unwrap_err();
        assert_eq!(bad.kind, ErrorKind::InvalidArgument, "{}", bad.message);

        // The fallback tag is written only where the registry did not say it indexes
        // the referrer (OCI-Subject).
        let tag = fallback_index(reg, "referrers/listed", &subject_digest);
        match expected_found(server) {
            Found::Api => assert!(tag.is_none(), "{server}: {tag:?}"),
            Found::FallbackTag => assert_eq!(
                fallback_digests(&tag.unwrap()),
                set(&[&sbom_a, &sbom_b, &sig])
            ),
        }
    }
}

/// A registry of its own with the referrers API, as `options` say.
fn api_registry(options: impl FnOnce(&mut Options)) -> Registry {
    let mut o = Options::new(Server::GgcrReferrers, Mode::Open);
    options(&mut o);
    Registry::start_with(o)
}

#[test]
fn every_page_of_the_referrers_api_is_followed() {
    let reg = api_registry(|o| o.referrers_page_size = Some(2));
    let c = client();
    let repo = format!("{}/referrers/paged", reg.host());
    let subject_digest = push_subject(&c, &format!("{repo}:v1"), 10);
    let subject = format!("{repo}@{subject_digest}");
    let mut attached = BTreeSet::new();
    for i in 0..5 {
        let t = if i % 2 == 0 { SBOM } else { SIGNATURE };
        let name = format!("f{i}");
        attached.insert(attach(
            &c,
            &repo,
            &artifact(&c, t, &subject, &name, name.as_bytes()),
        ));
    }
    let found = referrers::referrers(&c, &subject, None).unwrap();
    assert_eq!(found.found, Found::Api);
    let all: BTreeSet<String> = found
        .index
        .children()
        .iter()
        .map(|d| d.digest.clone())
        .collect();
    assert_eq!(all, attached);
    let pages = reg
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.uri.contains("/referrers/"))
        .count();
    assert_eq!(pages, 3, "5 referrers in pages of 2");
    // rr's index of the pages, not one page's bytes.
    let bytes: serde_json::Value = serde_json::from_slice(found.index.manifest_bytes()).unwrap();
    assert_eq!(bytes["manifests"].as_array().unwrap().len(), 5);
    assert_eq!(listed(&c, &subject, Some(SIGNATURE)).0.len(), 2);
}

#[test]
fn the_artifact_type_filter_is_applied_by_rr_unless_the_registry_says_it_did() {
    for registry_filters in [false, true] {
        let reg = api_registry(|o| o.apply_referrer_filters = registry_filters);
        let c = client();
        let repo = format!("{}/referrers/filtered", reg.host());
        let subject_digest = push_subject(&c, &format!("{repo}:v1"), 11);
        let subject = format!("{repo}@{subject_digest}");
        let sbom = attach(&c, &repo, &artifact(&c, SBOM, &subject, "s", b"sbom"));
        attach(&c, &repo, &artifact(&c, SIGNATURE, &subject, "g", b"sig"));
        let found = referrers::referrers(&c, &subject, Some(SBOM)).unwrap();
        assert_eq!(found.filtered_by_registry, registry_filters);
        let digests: Vec<&str> = found
            .index
            .children()
            .iter()
            .map(|d| d.digest.as_str())
            .collect();
        assert_eq!(
            digests,
            [sbom.as_str()],
            "registry filters: {registry_filters}"
        );
        let asked = reg
            .requests()
            .iter()
            .any(|r| r.uri.contains("/referrers/") && r.uri.contains("artifactType="));
        assert!(asked, "the filter is asked of the registry");
    }
}

#[test]
fn a_registry_with_the_api_but_no_oci_subject_gets_the_fallback_tag_too() {
    let reg = api_registry(|o| o.omit_oci_subject = true);
    let c = client();
    let repo = format!("{}/referrers/no-subject-header", reg.host());
    let subject_digest = push_subject(&c, &format!("{repo}:v1"), 12);
    let subject = format!("{repo}@{subject_digest}");
    let sig = attach(&c, &repo, &artifact(&c, SIGNATURE, &subject, "g", b"sig"));
    let (all, found) = listed(&c, &subject, None);
    assert_eq!((all, found), (set(&[&sig]), Found::Api));
    let tag = fallback_index(&reg, "referrers/no-subject-header", &subject_digest).unwrap();
    assert_eq!(fallback_digests(&tag), set(&[&sig]));
}

#[test]
fn attaches_at_once_and_deletes_through_the_referrers_api() {
    let reg = api_registry(|_| {});
    let setup = client();
    let repo = format!("{}/referrers/api-concurrent", reg.host());
    let subject_digest = push_subject(&setup, &format!("{repo}:v1"), 13);
    let subject = format!("{repo}@{subject_digest}");
    let artifacts: Vec<Image> = (0..4)
        .map(|i| {
            artifact(
                &setup,
                SBOM,
                &subject,
                &format!("a{i}"),
                format!("api {i}").as_bytes(),
            )
        })
        .collect();
    let pushed = Mutex::new(BTreeSet::new());
    std::thread::scope(|s| {
        for a in &artifacts {
            let (pushed, repo) = (&pushed, &repo);
            s.spawn(move || {
                let digest = attach(&client(), repo, a);
                pushed.lock().unwrap().insert(digest);
            });
        }
    });
    let pushed = pushed.into_inner().unwrap();
    assert_eq!(listed(&setup, &subject, None), (pushed.clone(), Found::Api));
    let gone = pushed.iter().next().unwrap().clone();
    write::delete(&setup, &format!("{repo}@{gone}")).unwrap();
    let (left, _) = listed(&setup, &subject, None);
    assert_eq!(left.len(), 3);
    assert!(!left.contains(&gone));
    assert!(fallback_index(&reg, "referrers/api-concurrent", &subject_digest).is_none());
}

/// The index the fallback tag of `subject` holds, as the registry keeps it.
fn fallback_index(reg: &Registry, repo_path: &str, subject: &str) -> Option<serde_json::Value> {
    let c = client();
    let tag = subject.replacen(':', "-", 1);
    match remote::get(&c, &format!("{}/{repo_path}:{tag}", reg.host())) {
        Ok(d) => Some(serde_json::from_slice(&d.manifest.unwrap()).unwrap()),
        Err(e) if e.kind == ErrorKind::NotFound => None,
        Err(e) => panic!("{e}"),
    }
}

fn fallback_digests(index: &serde_json::Value) -> BTreeSet<String> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap().to_string())
        .collect()
}

/// How the four writers of `four_writers_attaching_at_once_are_all_listed` reach the
/// registry.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Writers {
    /// Four clients, straight to the registry.
    Apart,
    /// Four threads of one client.
    OneClient,
    /// Four clients whose reads of the fallback tag are answered 150 ms late, so that
    /// they all read it before any of them has written it: every write but the last is
    /// lost, found out by the read back and made again.
    StaleReads,
}

#[test]
fn four_writers_attaching_at_once_are_all_listed() {
    let (reg, _) = shared_seeded_on(Server::Distribution28);
    let setup = client();
    for writers in [Writers::Apart, Writers::OneClient, Writers::StaleReads] {
        let repo_path = format!("referrers/concurrent-{writers:?}").to_lowercase();
        let repo = format!("{}/{repo_path}", reg.host());
        let subject_digest = push_subject(&setup, &format!("{repo}:v1"), 2);
        let subject = format!("{repo}@{subject_digest}");
        let artifacts: Vec<Image> = (0..4)
            .map(|i| {
                artifact(
                    &setup,
                    SBOM,
                    &subject,
                    &format!("part{i}.json"),
                    format!("{{\"part\":{i}}}").as_bytes(),
                )
            })
            .collect();
        let proxy = proxy_always(
            reg,
            Some("GET"),
            "/manifests/sha256-",
            rr_testkit::Fault::DelayAnswer(std::time::Duration::from_millis(150)),
        );
        let host = match writers {
            Writers::StaleReads => proxy.host(),
            _ => reg.host(),
        };
        let writer_repo = format!("{host}/{repo_path}");
        let one = client();
        let pushed = Mutex::new(BTreeSet::new());
        let start = Arc::new(std::sync::Barrier::new(artifacts.len()));
        std::thread::scope(|s| {
            for a in &artifacts {
                let c = if writers == Writers::OneClient {
                    one.clone()
                } else {
                    client()
                };
                let (start, pushed, repo) = (start.clone(), &pushed, &writer_repo);
                s.spawn(move || {
                    start.wait();
                    let digest = attach(&c, repo, a);
                    pushed.lock().unwrap().insert(digest);
                });
            }
        });
        let pushed = pushed.into_inner().unwrap();
        assert_eq!(pushed.len(), 4);
        let (all, found) = listed(&setup, &subject, None);
        assert_eq!(found, Found::FallbackTag);
        assert_eq!(all, pushed, "{writers:?}");
        let index = fallback_index(reg, &repo_path, &subject_digest).unwrap();
        assert_eq!(fallback_digests(&index), pushed);
        let tag_path = format!(
            "/v2/{repo_path}/manifests/{}",
            subject_digest.replacen(':', "-", 1)
        );
        let puts = requests_for(reg, &repo_path)
            .iter()
            .filter(|r| r.method == "PUT" && r.uri == tag_path)
            .count();
        eprintln!("{writers:?}: {puts} PUTs of the fallback tag");
        match writers {
            Writers::Apart => assert!(puts >= 4, "{puts}"),
            Writers::OneClient => assert_eq!(puts, 4, "threads of one client wait in turn"),
            Writers::StaleReads => assert!(puts > 4, "the lost writes were made again: {puts}"),
        }
    }
}

#[test]
fn a_deleted_referrer_leaves_the_fallback_tag() {
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_on(server);
        let c = client();
        let repo_path = "referrers/deleted";
        let repo = format!("{}/{repo_path}", reg.host());
        let subject_digest = push_subject(&c, &format!("{repo}:v1"), 3);
        let subject = format!("{repo}@{subject_digest}");
        let kept = attach(&c, &repo, &artifact(&c, SBOM, &subject, "kept", b"kept"));
        let gone = attach(&c, &repo, &artifact(&c, SBOM, &subject, "gone", b"gone"));
        assert_eq!(listed(&c, &subject, None).0, set(&[&kept, &gone]));

        write::delete(&c, &format!("{repo}@{gone}")).unwrap();
        assert_eq!(listed(&c, &subject, None).0, set(&[&kept]), "{server}");
        let index = fallback_index(reg, repo_path, &subject_digest).unwrap();
        assert_eq!(fallback_digests(&index), set(&[&kept]), "{server}");
        // Deleting a tag deletes no manifest: the fallback tag is left as it is.
        write::delete(&c, &format!("{repo}:v1")).ok();
        assert_eq!(listed(&c, &subject, None).0, set(&[&kept]), "{server}");
    }
}

#[test]
fn a_fallback_tag_holding_something_else_is_ignored() {
    let (reg, _) = shared_seeded_on(Server::Distribution28);
    let c = client();
    let logged = Arc::new(LogLines::default());
    c.set_log(Some(logged.clone()));
    let repo = format!("{}/referrers/garbage", reg.host());
    let subject_digest = push_subject(&c, &format!("{repo}:v1"), 4);
    let subject = format!("{repo}@{subject_digest}");
    let tag = subject_digest.replacen(':', "-", 1);

    // An image where the index should be.
    push_subject(&c, &format!("{repo}:{tag}"), 5);
    let (none, found) = listed(&c, &subject, None);
    assert!(none.is_empty());
    assert_eq!(found, Found::FallbackTag);
    assert!(
        logged.contains(&format!("fallback tag {tag}): ignored, it holds")),
        "{:?}",
        logged.all()
    );

    // An index whose entries are not referrers of the subject: another manifest, and one
    // that is not there at all.
    let unrelated = push_subject(&c, &format!("{repo}:unrelated"), 6);
    let missing = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": rr::manifest::OCI_MANIFEST, "digest": unrelated, "size": 1,
             "artifactType": SBOM},
            {"mediaType": rr::manifest::OCI_MANIFEST, "digest": missing, "size": 1},
            {"mediaType": rr::manifest::OCI_MANIFEST, "digest": "not a digest", "size": 1},
        ]
    });
    // distribution 2.8 checks that an index's children exist: the missing one is left
    // out of what it is given, and the rest is exercised.
    let mut given = index.clone();
    given["manifests"].as_array_mut().unwrap().remove(1);
    given["manifests"].as_array_mut().unwrap().remove(1);
    write::put(
        &c,
        &format!("{repo}:{tag}"),
        Some(OCI_INDEX),
        &serde_json::to_vec(&given).unwrap(),
    )
    .unwrap();
    let (none, _) = listed(&c, &subject, None);
    assert!(none.is_empty(), "{none:?}");
    assert!(
        logged.contains(&format!("left out {unrelated}, whose subject is none")),
        "{:?}",
        logged.all()
    );

    // Attaching replaces what is not an index and keeps entries it does not own.
    let sig = attach(&c, &repo, &artifact(&c, SIGNATURE, &subject, "sig", b"sig"));
    assert_eq!(listed(&c, &subject, None).0, set(&[&sig]));
    let kept = fallback_index(reg, "referrers/garbage", &subject_digest).unwrap();
    assert_eq!(fallback_digests(&kept), set(&[&unrelated, &sig]));
}

/// The request log's lines, for what the library says it left out.
#[derive(Default)]
struct LogLines(Mutex<Vec<String>>);

impl rr::transport::LogSink for LogLines {
    fn line(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }
}

impl LogLines {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn contains(&self, needle: &str) -> bool {
        self.all().iter().any(|l| l.contains(needle))
    }
}

#[test]
fn a_copy_with_referrers_brings_signatures_of_sboms_along() {
    let (src_reg, _) = shared_seeded_on(Server::Distribution28);
    for dst_server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("to {dst_server}");
        let (dst_reg, _) = shared_seeded_on(dst_server);
        let c = client();
        let repo = format!("{}/referrers/copy-src", src_reg.host());
        let subject_digest = push_subject(&c, &format!("{repo}:v1"), 7);
        let subject = format!("{repo}@{subject_digest}");
        let sig = attach(
            &c,
            &repo,
            &artifact(&c, SIGNATURE, &subject, "sig", b"sig1"),
        );
        let sbom = attach(&c, &repo, &artifact(&c, SBOM, &subject, "sbom", b"sbom"));
        let sbom_ref = format!("{repo}@{sbom}");
        let sbom_sig = attach(&c, &repo, &artifact(&c, SIGNATURE, &sbom_ref, "s", b"sig2"));

        let dst_repo = format!("{}/referrers/copy-dst-{dst_server}", dst_reg.host());
        referrers::copy_with_referrers(&c, &format!("{repo}:v1"), &format!("{dst_repo}:v1"))
            .unwrap();
        for digest in [&subject_digest, &sig, &sbom, &sbom_sig] {
            let there = remote::head(&c, &format!("{dst_repo}@{digest}")).unwrap();
            assert_eq!(&there.digest, digest, "{dst_server}");
        }
        let dst_subject = format!("{dst_repo}@{subject_digest}");
        assert_eq!(listed(&c, &dst_subject, None).0, set(&[&sig, &sbom]));
        assert_eq!(
            listed(&c, &format!("{dst_repo}@{sbom}"), None).0,
            set(&[&sbom_sig])
        );
        // Copied again, nothing changes.
        referrers::copy_with_referrers(&c, &format!("{repo}:v1"), &format!("{dst_repo}:v1"))
            .unwrap();
        assert_eq!(listed(&c, &dst_subject, None).0, set(&[&sig, &sbom]));
    }
}

#[test]
fn an_index_copy_brings_the_referrers_of_its_children() {
    let (reg, seeded) = shared_seeded_on(Server::Distribution28);
    let c = client();
    let src_repo = format!("{}/demo/multi", reg.host());
    let idx = remote::index(&c, &seeded.multi.reference).unwrap();
    let child = idx.children()[1].digest.clone();
    let child_ref = format!("{src_repo}@{child}");
    let sig = attach(
        &c,
        &src_repo,
        &artifact(&c, SIGNATURE, &child_ref, "sig", b"child signature"),
    );
    let dst_repo = format!("{}/referrers/index-copy", reg.host());
    referrers::copy_with_referrers(&c, &seeded.multi.reference, &format!("{dst_repo}:latest"))
        .unwrap();
    assert_eq!(
        listed(&c, &format!("{dst_repo}@{child}"), None).0,
        set(&[&sig])
    );
}

#[test]
fn an_artifact_s_files_are_saved_under_their_titles() {
    let (reg, _) = shared_seeded_on(Server::Distribution28);
    let c = client();
    let src = temp_dir();
    let sbom = write_file(src.path(), "sbom.json", b"{\"sbom\":true}");
    let notes = write_file(src.path(), "NOTES.txt", b"notes\n");
    let mut b = ArtifactBuilder::new(SBOM).unwrap();
    b.add_file(&sbom, "application/json").unwrap();
    b.add_file(&notes, "text/plain").unwrap();
    let built = b.build().unwrap();
    let reference = format!("{}/referrers/files:v1", reg.host());
    write::write_image(&c, &reference, &built).unwrap();

    let out = temp_dir();
    let dir = out.path().join("new/dir");
    let img = remote::image(&c, &reference).unwrap();
    let saved = rr::artifact_files::save_files(&img, &dir).unwrap();
    assert_eq!(saved.files.len(), 2);
    assert_eq!(saved.untitled, 0);
    assert_eq!(
        std::fs::read(dir.join("sbom.json")).unwrap(),
        b"{\"sbom\":true}"
    );
    assert_eq!(std::fs::read(dir.join("NOTES.txt")).unwrap(), b"notes\n");
    assert_eq!(names_in(&dir), ["NOTES.txt", "sbom.json"]);
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn hostile_titles_are_refused_and_nothing_is_written() {
    let (reg, _) = shared_seeded_on(Server::Distribution28);
    let c = client();
    let repo = format!("{}/referrers/hostile", reg.host());
    let good = rr::digest::of_bytes(b"good");
    let evil = rr::digest::of_bytes(b"evil");
    let empty = rr::digest::of_bytes(b"{}");
    for bytes in [&b"good"[..], b"evil", b"{}"] {
        let reader = Box::new(std::io::Cursor::new(bytes.to_vec()));
        rr::remote::single_blob::write_reader(&c, &repo, reader, None, None).unwrap();
    }
    for title in ["../../x", "/etc/x", "..", "a/b", "a\\b", "x\u{0}y", ""] {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": rr::manifest::OCI_MANIFEST,
            "artifactType": SBOM,
            "config": {"mediaType": rr::manifest::OCI_EMPTY, "digest": empty, "size": 2},
            "layers": [
                {"mediaType": "text/plain", "digest": good, "size": 4,
                 "annotations": {"org.opencontainers.image.title": "good.txt"}},
                {"mediaType": "text/plain", "digest": evil, "size": 4,
                 "annotations": {"org.opencontainers.image.title": title}},
            ]
        });
        let reference = format!("{repo}:t");
        write::put(
            &c,
            &reference,
            None,
            &serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
        let img = remote::image(&c, &reference).unwrap();
        let out = temp_dir();
        let dir = out.path().join("a/b/c");
        let err = rr::artifact_files::save_files(&img, &dir).unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::InvalidResponse,
            "{title:?}: {}",
            err.message
        );
        assert!(
            err.message.contains("refused as a file name"),
            "{}",
            err.message
        );
        assert!(!dir.exists(), "{title:?}: nothing is made");
        assert!(!out.path().join("x").exists() && !out.path().join("a/x").exists());
    }
}

#[test]
fn a_referrer_deleted_behind_rr_s_back_does_not_block_the_next_attach() {
    // distribution checks an index's children: the fallback index naming a manifest that
    // another tool deleted (leaving the tag as it was) is refused whole.
    let (reg, _) = shared_seeded_on(Server::Distribution28);
    let c = client();
    let logged = Arc::new(LogLines::default());
    c.set_log(Some(logged.clone()));
    let repo_path = "referrers/stale";
    let repo = format!("{}/{repo_path}", reg.host());
    let subject_digest = push_subject(&c, &format!("{repo}:v1"), 8);
    let subject = format!("{repo}@{subject_digest}");
    let gone = attach(
        &c,
        &repo,
        &artifact(&c, SBOM, &subject, "gone", b"stale one"),
    );
    let status = ureq::delete(&reg.url(&format!("/v2/{repo_path}/manifests/{gone}")))
        .call()
        .unwrap()
        .status();
    assert_eq!(status, 202);

    let next = attach(
        &c,
        &repo,
        &artifact(&c, SBOM, &subject, "next", b"next one"),
    );
    assert_eq!(listed(&c, &subject, None).0, set(&[&next]));
    let index = fallback_index(reg, repo_path, &subject_digest).unwrap();
    assert_eq!(fallback_digests(&index), set(&[&next]));
    assert!(
        logged.contains(&format!("dropped {gone}, which is no longer in")),
        "{:?}",
        logged.all()
    );
}

#[test]
fn pushing_a_referrer_again_lists_it_when_its_first_push_could_not() {
    let (reg, _) = shared_seeded_on(Server::Distribution28);
    let c = client();
    let repo_path = "referrers/again";
    let repo = format!("{}/{repo_path}", reg.host());
    let subject_digest = push_subject(&c, &format!("{repo}:v1"), 9);
    let subject = format!("{repo}@{subject_digest}");
    let sig = artifact(&c, SIGNATURE, &subject, "sig", b"pushed twice");

    // The fallback tag cannot be written: the manifest is there, unlisted, and the push
    // says why.
    let proxy = proxy_always(
        reg,
        Some("PUT"),
        "/manifests/sha256-",
        rr_testkit::Fault::status(403),
    );
    let through = format!("{}/{repo_path}@{}", proxy.host(), sig.digest());
    let err = write::write_image(&client(), &through, &sig).unwrap_err();
    assert!(
        err.message
            .contains("was pushed, but listing it as a referrer"),
        "{}",
        err.message
    );
    assert!(listed(&c, &subject, None).0.is_empty());
    remote::head(&c, &format!("{repo}@{}", sig.digest())).unwrap();

    // Pushed again where the tag can be written: the manifest is there already, and is
    // listed now.
    let digest = attach(&c, &repo, &sig);
    assert_eq!(listed(&c, &subject, None).0, set(&[&digest]));
}
