//! Pull mirrors against real registries: distribution 2.8 as the origin, distribution v3
//! and go-containerregistry's registry as mirrors (seeded by copying into a `cache/`
//! namespace), a fault proxy in front of a mirror where one must fail. A mirror that
//! lacks the image, one that is down and one that serves corrupted bytes all end in a
//! verified pull from the origin (and a copy elsewhere uploads from the origin); a mirror
//! that has it serves it; registries.conf files are read; writes send nothing to a
//! mirror.

mod common;

use common::*;
use rr::builder::ImageBuilder;
use rr::registries::PullFrom;
use rr::remote::{self, write, Client};
use rr::{layout, ErrorKind};
use rr_testkit::{
    sha256_digest, shared_seeded_on, Fault, FaultProxy, Mode, Options, Registry, Rule, Server,
};
use std::sync::{Arc, Mutex};

struct Lines(Mutex<Vec<String>>);

impl rr::transport::LogSink for Lines {
    fn line(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }
}

impl Lines {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A client that logs its requests, retrying quickly.
fn logged_client() -> (Client, Arc<Lines>) {
    let c = client();
    c.set_retry(3, 20).unwrap();
    let lines = Arc::new(Lines(Mutex::new(Vec::new())));
    c.set_log(Some(lines.clone()));
    (c, lines)
}

/// The standard app image copied to `mirrors/<case>/app:v1` on the shared distribution
/// 2.8 registry (a repository of the case's own, so that its access log is the case's):
/// the origin, its reference and the image.
fn origin_image(case: &str) -> (&'static Registry, String, rr::image::Image) {
    let (reg, seeded) = shared_seeded_on(Server::Distribution28);
    let reference = format!("{}/mirrors/{case}/app:v1", reg.host());
    write::copy(&client(), &seeded.app.reference, &reference).unwrap();
    let img = remote::image(&client(), &reference).unwrap();
    (reg, reference, img)
}

/// A registry of `server` holding the image of `reference` (on `origin`) under `cache/`.
fn seeded_mirror(server: Server, origin: &Registry, reference: &str) -> Registry {
    let mirror = Registry::start_with(Options::new(server, Mode::Open));
    let there = reference.replacen(&origin.host(), &format!("{}/cache", mirror.host()), 1);
    write::copy(&client(), reference, &there).unwrap();
    mirror
}

/// A loopback port nothing listens on.
fn refused_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr.to_string()
}

/// Pulls `reference` into a fresh layout and checks that every blob there hashes to its
/// name and that the image's layers are all there.
fn pull_verified(c: &Client, reference: &str, expected: &rr::image::Image) -> tempfile::TempDir {
    let dir = temp_dir();
    let img = remote::image(c, reference).unwrap();
    assert_eq!(img.digest(), expected.digest());
    layout::write_image(c, dir.path(), &img, Some("v1")).unwrap();
    for layer in expected.layers() {
        let hex = layer.digest.strip_prefix("sha256:").unwrap();
        let bytes = std::fs::read(dir.path().join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(sha256_digest(&bytes), layer.digest);
    }
    dir
}

/// The digests of the config and the layers of `img`.
fn blobs_of(img: &rr::image::Image) -> Vec<String> {
    std::iter::once(&img.manifest().config)
        .chain(img.layers())
        .map(|d| d.digest.clone())
        .collect()
}

/// GETs of `/v2/<repo>/blobs/...` the origin answered with 200.
fn origin_blob_gets(origin: &Registry, repo: &str) -> Vec<String> {
    requests_for(origin, repo)
        .into_iter()
        .filter(|r| r.method == "GET" && r.uri.contains("/blobs/") && r.status == 200)
        .map(|r| r.uri)
        .collect()
}

fn fell_through(lines: &[String], mirror_host: &str) -> bool {
    lines
        .iter()
        .any(|l| l.starts_with(&format!("mirror {mirror_host}")) && l.contains("trying"))
}

#[test]
fn a_mirror_that_lacks_the_image_is_passed_over() {
    let case = "lacking";
    let (origin, reference, img) = origin_image(case);
    for server in [Server::DistributionV3, Server::Ggcr] {
        eprintln!("mirror on {server}");
        let empty = Registry::start_with(Options::new(server, Mode::Open));
        let (c, lines) = logged_client();
        c.add_mirror(
            &origin.host(),
            &format!("{}/cache", empty.host()),
            PullFrom::All,
        )
        .unwrap();
        pull_verified(&c, &reference, &img);
        let lines = lines.all();
        assert!(fell_through(&lines, &empty.host()), "{lines:#?}");
        assert!(
            lines.iter().any(|l| l.contains("404")),
            "the mirror's 404 is in the log: {lines:#?}"
        );
        let missed = requests_for(&empty, &format!("cache/mirrors/{case}/app"));
        assert!(!missed.is_empty(), "the mirror was asked first");
    }
    assert!(!origin_blob_gets(origin, &format!("mirrors/{case}/app")).is_empty());
}

#[test]
fn a_mirror_that_is_down_is_passed_over_and_then_skipped() {
    let (origin, reference, img) = origin_image("down");
    let down = refused_port();
    let (c, lines) = logged_client();
    c.add_mirror(&origin.host(), &down, PullFrom::All).unwrap();
    let started = std::time::Instant::now();
    pull_verified(&c, &reference, &img);
    let lines = lines.all();
    assert!(fell_through(&lines, &down), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("mirror {down}")) && l.contains("skipped, unreachable")),
        "after the first failure the mirror is skipped: {lines:#?}"
    );
    // One attempt per scheme, never the retry policy's backoff for each blob.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_mirror_that_corrupts_blobs_or_manifests_ends_in_a_verified_pull_from_the_origin() {
    let case = "corrupt";
    let (origin, reference, img) = origin_image(case);
    let repo = format!("mirrors/{case}/app");
    for server in [Server::DistributionV3, Server::Ggcr] {
        eprintln!("mirror on {server}");
        let mirror = seeded_mirror(server, origin, &reference);
        // Every blob GET gets a flipped byte: the reader sees it at the end of the body.
        let rules = blobs_of(&img)
            .iter()
            .map(|d| Rule::new(Some("GET"), d, Fault::FlipByte(100), usize::MAX))
            .collect();
        let proxy = FaultProxy::start(&mirror.host(), rules);
        let (c, lines) = logged_client();
        c.add_mirror(
            &origin.host(),
            &format!("{}/cache", proxy.host()),
            PullFrom::All,
        )
        .unwrap();
        let before = origin_blob_gets(origin, &repo).len();
        let dir = pull_verified(&c, &reference, &img);
        let lines = lines.all();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&proxy.host()) && l.contains("not asked for this blob again")),
            "{lines:#?}"
        );
        let flipped = proxy.seen().iter().filter(|r| r.fault.is_some()).count();
        assert_eq!(
            flipped,
            blobs_of(&img).len(),
            "each blob once from the mirror"
        );
        let from_origin = origin_blob_gets(origin, &repo).len() - before;
        assert_eq!(
            from_origin,
            blobs_of(&img).len(),
            "the config and the layers came from the origin"
        );
        // A second pull does not ask the mirror for those layers again.
        proxy.clear_seen();
        drop(dir);
        pull_verified(&c, &reference, &img);
        assert!(
            proxy.seen().iter().all(|r| r.fault.is_none()),
            "{:#?}",
            proxy.seen()
        );

        // A layer saved on its own starts over from the origin too.
        let fresh = client();
        fresh
            .add_mirror(
                &origin.host(),
                &format!("{}/cache", proxy.host()),
                PullFrom::All,
            )
            .unwrap();
        let opened = remote::image(&fresh, &reference).unwrap();
        let config = opened.config().unwrap();
        assert_eq!(sha256_digest(config), img.manifest().config.digest);
        let out = temp_dir();
        let path = out.path().join("layer0");
        opened.layer_save(0, &path).unwrap();
        assert_eq!(
            sha256_digest(&std::fs::read(&path).unwrap()),
            img.layers()[0].digest
        );
    }

    // A manifest mangled by the mirror is not JSON: the origin's is taken instead.
    let mirror = seeded_mirror(Server::DistributionV3, origin, &reference);
    let proxy = FaultProxy::start(
        &mirror.host(),
        vec![Rule::new(
            Some("GET"),
            "/manifests/v1",
            Fault::FlipByte(10),
            usize::MAX,
        )],
    );
    let (c, lines) = logged_client();
    c.add_mirror(
        &origin.host(),
        &format!("{}/cache", proxy.host()),
        PullFrom::All,
    )
    .unwrap();
    let d = remote::get(&c, &reference).unwrap();
    assert_eq!(d.digest, img.digest());
    assert_eq!(d.manifest.as_deref(), Some(img.manifest_bytes()));
    let lines = lines.all();
    assert!(
        lines.iter().any(|l| l.contains("is not JSON")),
        "{lines:#?}"
    );
}

#[test]
fn a_missing_a_down_and_a_corrupting_mirror_in_a_row_end_at_the_origin() {
    let case = "in-a-row";
    let (origin, reference, img) = origin_image(case);
    let empty = Registry::start_with(Options::new(Server::Ggcr, Mode::Open));
    let down = refused_port();
    let full = seeded_mirror(Server::DistributionV3, origin, &reference);
    let rules = img
        .layers()
        .iter()
        .map(|l| Rule::new(Some("GET"), &l.digest, Fault::FlipByte(7), usize::MAX))
        .collect();
    let corrupting = FaultProxy::start(&full.host(), rules);
    let repo = format!("mirrors/{case}/app");
    let before = origin_blob_gets(origin, &repo).len();
    let (c, lines) = logged_client();
    for m in [
        format!("{}/cache", empty.host()),
        down.clone(),
        format!("{}/cache", corrupting.host()),
    ] {
        c.add_mirror(&origin.host(), &m, PullFrom::All).unwrap();
    }
    pull_verified(&c, &reference, &img);
    let lines = lines.all();
    for host in [empty.host(), down, corrupting.host()] {
        assert!(fell_through(&lines, &host), "{host}: {lines:#?}");
    }
    assert_eq!(
        origin_blob_gets(origin, &repo).len() - before,
        img.layers().len(),
        "the layers, and only they, came from the origin"
    );
}

#[test]
fn a_copy_whose_source_mirror_corrupts_blobs_uploads_them_from_the_origin() {
    let case = "copy-source";
    let (origin, reference, img) = origin_image(case);
    let mirror = seeded_mirror(Server::DistributionV3, origin, &reference);
    let rules = blobs_of(&img)
        .iter()
        .map(|d| Rule::new(Some("GET"), d, Fault::FlipByte(3), usize::MAX))
        .collect();
    let proxy = FaultProxy::start(&mirror.host(), rules);
    let dest = Registry::start_with(Options::new(Server::Ggcr, Mode::Open));
    let (c, lines) = logged_client();
    c.add_mirror(
        &origin.host(),
        &format!("{}/cache", proxy.host()),
        PullFrom::All,
    )
    .unwrap();
    let copied = format!("{}/copied/app:v1", dest.host());
    write::copy(&c, &reference, &copied).unwrap_or_else(|e| panic!("{e}: {:#?}", lines.all()));
    assert_eq!(
        proxy.seen().iter().filter(|r| r.fault.is_some()).count(),
        blobs_of(&img).len(),
        "each blob was read from the mirror once"
    );
    // What the destination holds is the image, blob for blob.
    pull_verified(&client(), &copied, &img);
}

#[test]
fn a_mirror_that_has_the_image_serves_it_whole() {
    let case = "served";
    let (origin, reference, img) = origin_image(case);
    let mirror = seeded_mirror(Server::DistributionV3, origin, &reference);
    let repo = format!("mirrors/{case}/app");
    let asked_before = requests_for(origin, &repo).len();
    let (c, lines) = logged_client();
    c.add_mirror(
        &origin.host(),
        &format!("{}/cache", mirror.host()),
        PullFrom::All,
    )
    .unwrap();
    pull_verified(&c, &reference, &img);
    let config = remote::image(&c, &reference)
        .unwrap()
        .config()
        .unwrap()
        .to_vec();
    assert_eq!(sha256_digest(&config), img.manifest().config.digest);
    let head = remote::head(&c, &reference).unwrap();
    assert_eq!(head.digest, img.digest());
    assert_eq!(
        requests_for(origin, &repo).len(),
        asked_before,
        "the origin was not asked: {:#?}",
        lines.all()
    );
    let from_mirror = requests_for(&mirror, &format!("cache/{repo}"));
    assert!(from_mirror.iter().any(|r| r.uri.contains("/blobs/")));
}

#[test]
fn digest_only_mirrors_serve_no_tag_and_an_index_reads_its_children_by_digest() {
    let (reg, seeded) = shared_seeded_on(Server::Distribution28);
    let reference = format!("{}/mirrors/digest-only/multi:v1", reg.host());
    write::copy(&client(), &seeded.multi.reference, &reference).unwrap();
    let mirror = seeded_mirror(Server::DistributionV3, reg, &reference);
    let repo = "mirrors/digest-only/multi";
    let (c, _) = logged_client();
    c.add_mirror(
        &reg.host(),
        &format!("{}/cache", mirror.host()),
        PullFrom::DigestOnly,
    )
    .unwrap();
    let before = requests_for(reg, repo).len();
    let idx = remote::index(&c, &reference).unwrap();
    let child = idx.image_for_platform(&c.platform()).unwrap();
    child.layer_save(0, &temp_dir().path().join("l")).unwrap();
    let asked: Vec<_> = requests_for(reg, repo).into_iter().skip(before).collect();
    assert!(
        asked
            .iter()
            .all(|r| r.uri.ends_with("/manifests/v1") && r.method == "GET"),
        "only the tag went to the origin: {asked:#?}"
    );
    assert!(!asked.is_empty());
    let mirrored = requests_for(&mirror, &format!("cache/{repo}"));
    assert!(
        mirrored
            .iter()
            .any(|r| r.uri.ends_with(&format!("/manifests/{}", child.digest()))),
        "the child manifest came from the mirror: {mirrored:#?}"
    );
    assert!(idx.children().iter().any(|d| d.digest == child.digest()));
    assert!(mirrored.iter().any(|r| r.uri.contains("/blobs/")));
}

#[test]
fn a_registries_conf_file_gives_the_mirrors_and_a_blocked_prefix_refuses_reads() {
    let case = "conf";
    let (origin, reference, img) = origin_image(case);
    let mirror = seeded_mirror(Server::Ggcr, origin, &reference);
    let dir = temp_dir();
    let conf = write_file(
        dir.path(),
        "registries.conf",
        format!(
            r#"
unqualified-search-registries = ["docker.io"]

[[registry]]
location = "{origin}"

[[registry.mirror]]
location = "{down}"

[[registry.mirror]]
location = "{mirror}/cache"
insecure = true

[[registry]]
prefix = "{origin}/mirrors/{case}/blocked"
location = "{origin}/mirrors/{case}/blocked"
blocked = true
"#,
            origin = origin.host(),
            mirror = mirror.host(),
            down = refused_port(),
        )
        .as_bytes(),
    );
    let (c, lines) = logged_client();
    c.load_registries_conf(Some(conf.to_str().unwrap()))
        .unwrap();
    let repo = format!("mirrors/{case}/app");
    let before = requests_for(origin, &repo).len();
    pull_verified(&c, &reference, &img);
    assert_eq!(
        requests_for(origin, &repo).len(),
        before,
        "{:#?}",
        lines.all()
    );
    let e = remote::get(
        &c,
        &format!("{}/mirrors/{case}/blocked/app:v1", origin.host()),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied, "{e}");
    assert!(e.message.contains("blocked"), "{e}");

    // What cannot be read changes nothing.
    let v1 = write_file(
        dir.path(),
        "v1.conf",
        b"[registries.search]\nregistries = ['r.io']\n",
    );
    let e = c
        .load_registries_conf(Some(v1.to_str().unwrap()))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("v1 format"), "{e}");
    let e = c
        .load_registries_conf(Some(dir.path().join("missing.conf").to_str().unwrap()))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{e}");
    pull_verified(&c, &reference, &img);
}

#[test]
fn writes_send_nothing_to_a_mirror() {
    let case = "writes";
    let (origin, reference, _) = origin_image(case);
    let mirror = seeded_mirror(Server::DistributionV3, origin, &reference);
    let proxy = FaultProxy::start(&mirror.host(), vec![]);
    let (c, lines) = logged_client();
    c.add_mirror(
        &origin.host(),
        &format!("{}/cache", proxy.host()),
        PullFrom::All,
    )
    .unwrap();

    // A built image: nothing to read, so nothing at all goes to the mirror.
    let dir = temp_dir();
    let mut b = ImageBuilder::new();
    b.add_layer_file(&write_file(dir.path(), "l.tar", &tar_bytes(41, 5000)), None)
        .unwrap();
    let built = b.build().unwrap();
    let built_ref = format!("{}/mirrors/{case}/built:v1", origin.host());
    write::write_image(&c, &built_ref, &built).unwrap();
    write::check_push_permission(&c, &built_ref).unwrap();
    write::tag(&c, &built_ref, "v2").unwrap();
    let _ = write::delete(&c, &format!("{}/mirrors/{case}/built:v2", origin.host()));
    assert!(proxy.seen().is_empty(), "{:#?}", proxy.seen());

    // A copy within the origin reads the source manifest (through the mirror) and mounts
    // every blob: the mirror is asked for no blob, and nothing but reads.
    let copied = format!("{}/mirrors/{case}/copy:v1", origin.host());
    write::copy(&c, &reference, &copied).unwrap();
    let seen = proxy.seen();
    assert!(
        !seen.is_empty(),
        "the source manifest was read through the mirror"
    );
    for r in &seen {
        assert_eq!(r.method, "GET", "{r:?}");
        assert!(
            r.path == "/v2/" || r.path.contains("/manifests/"),
            "only the ping and the source manifest: {r:?}"
        );
    }
    let d = remote::get(&client(), &copied).unwrap();
    assert_eq!(d.digest, remote::get(&client(), &reference).unwrap().digest);
    assert!(
        lines
            .all()
            .iter()
            .all(|l| !l.contains(&proxy.host()) || l.starts_with("GET ")),
        "{:#?}",
        lines.all()
    );
}
