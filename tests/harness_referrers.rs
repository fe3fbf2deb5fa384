//! The harness's OCI 1.1 referrers support (issue 14), not rr's: `Server::GgcrReferrers`
//! pages, filters or does not filter, and answers `OCI-Subject` as its options say; oras
//! pushes and attaches to it, regctl reads it, both through the testkit's helpers.

use std::path::Path;
use std::process::Command;

use rr_testkit::{Mode, Options, Registry, Server, MANIFEST_ACCEPT};
use serde_json::{json, Value};

const SIG: &str = "application/vnd.rr.test.signature";
const SBOM: &str = "application/vnd.rr.test.sbom";
const REPO: &str = "demo/app";

/// Runs oras `args` (the subcommand first) with the registry's flags, in `dir`.
fn oras(reg: &Registry, dir: &Path, args: &[&str]) -> String {
    let (subcommand, rest) = args.split_first().expect("an oras subcommand");
    let out = Command::new(rr_testkit::oras())
        .current_dir(dir)
        .arg(subcommand)
        .args(reg.oras_flags())
        .args(rest)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", rr_testkit::oras().display()));
    assert!(
        out.status.success(),
        "oras {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Pushes `demo/app:v1` with oras and attaches three referrers to it, two signatures and
/// an SBOM; returns the subject's digest.
fn push_and_attach(reg: &Registry) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("app.txt", "app"),
        ("s1", "sig one"),
        ("s2", "sig two"),
        ("b", "sbom"),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let subject = format!("{}/{REPO}:v1", reg.host());
    oras(
        reg,
        dir.path(),
        &[
            "push",
            &subject,
            "--artifact-type",
            "application/vnd.rr.test.app",
            "app.txt:text/plain",
        ],
    );
    for (artifact_type, file) in [(SIG, "s1"), (SIG, "s2"), (SBOM, "b")] {
        oras(
            reg,
            dir.path(),
            &[
                "attach",
                "--artifact-type",
                artifact_type,
                &subject,
                &format!("{file}:text/plain"),
            ],
        );
    }
    let head = reg
        .agent()
        .head(&reg.url(&format!("/v2/{REPO}/manifests/v1")))
        .set("Accept", MANIFEST_ACCEPT)
        .call()
        .expect("HEAD the subject");
    head.header("Docker-Content-Digest")
        .expect("a digest")
        .to_string()
}

struct Page {
    entries: Vec<Value>,
    next: Option<String>,
    filters_applied: Option<String>,
}

fn get_page(reg: &Registry, url: &str) -> Page {
    let resp = reg
        .agent()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(
        resp.content_type(),
        "application/vnd.oci.image.index.v1+json",
        "{url}"
    );
    let next = resp.header("Link").map(|link| {
        let target = link
            .strip_prefix('<')
            .and_then(|l| l.split_once(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("a next Link: {link}"))
            .0;
        if target.starts_with("http") {
            target.to_string()
        } else {
            reg.url(target)
        }
    });
    let filters_applied = resp.header("OCI-Filters-Applied").map(str::to_string);
    let index: Value = serde_json::from_reader(resp.into_reader()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    Page {
        entries: index["manifests"].as_array().expect("manifests").clone(),
        next,
        filters_applied,
    }
}

/// Every page of the referrers of `subject` with `query` (such as `?artifactType=...`).
fn all_pages(reg: &Registry, subject: &str, query: &str) -> Vec<Page> {
    let mut pages = Vec::new();
    let mut url = Some(reg.url(&format!("/v2/{REPO}/referrers/{subject}{query}")));
    while let Some(u) = url {
        assert!(pages.len() < 10, "too many pages");
        let page = get_page(reg, &u);
        url = page.next.clone();
        pages.push(page);
    }
    pages
}

fn artifact_types(pages: &[Page]) -> Vec<String> {
    let mut types: Vec<String> = pages
        .iter()
        .flat_map(|p| &p.entries)
        .map(|e| e["artifactType"].as_str().unwrap_or("").to_string())
        .collect();
    types.sort();
    types
}

fn start(page_size: Option<u32>, ignore: bool, apply: bool) -> Registry {
    Registry::start_with(Options {
        referrers_page_size: page_size,
        ignore_referrer_filters: ignore,
        apply_referrer_filters: apply,
        ..Options::new(Server::GgcrReferrers, Mode::Open)
    })
}

#[test]
fn referrers_come_in_pages_and_regctl_sees_them() {
    let reg = start(Some(2), false, false);
    let subject = push_and_attach(&reg);

    let pages = all_pages(&reg, &subject, "");
    assert_eq!(pages.len(), 2, "3 referrers in pages of 2");
    assert_eq!(pages[0].entries.len(), 2);
    assert_eq!(pages[1].entries.len(), 1);
    assert!(pages[0].next.is_some() && pages[1].next.is_none());
    let mut digests: Vec<&str> = pages
        .iter()
        .flat_map(|p| &p.entries)
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    let listed = digests.clone();
    digests.sort();
    digests.dedup();
    assert_eq!(digests, listed, "sorted by digest, each once");
    // The manifests' own artifactType, not go-containerregistry's config.mediaType.
    assert_eq!(artifact_types(&pages), [SBOM, SIG, SIG]);

    // go-containerregistry does not filter: the answer is whole, and says nothing; the
    // next page keeps the query.
    let pages = all_pages(&reg, &subject, &format!("?artifactType={SIG}"));
    assert_eq!(artifact_types(&pages), [SBOM, SIG, SIG]);
    assert!(pages.iter().all(|p| p.filters_applied.is_none()));
    let next = pages[0].next.as_deref().unwrap();
    assert!(
        next.contains("artifactType=application%2Fvnd.rr.test.signature")
            && next.contains("last=sha256%3A"),
        "{next}"
    );
    // The log has what the client sent.
    let logged: Vec<String> = reg
        .requests()
        .into_iter()
        .filter(|r| r.uri.contains("/referrers/"))
        .map(|r| r.uri)
        .collect();
    assert!(
        logged
            .iter()
            .any(|u| u.contains("artifactType=") && u.contains("last=")),
        "{logged:#?}"
    );

    let out = Command::new(rr_testkit::regctl())
        .envs(reg.regctl_env())
        .args(["artifact", "list", "--format", "{{json .}}"])
        .arg(format!("{}/{REPO}:v1", reg.host()))
        .output()
        .expect("run regctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut types: Vec<&str> = listed["descriptors"]
        .as_array()
        .expect("descriptors")
        .iter()
        .map(|d| d["artifactType"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(types, [SBOM, SIG, SIG], "regctl follows the pages");
}

#[test]
fn ignored_filters_answer_everything_without_saying_filtered() {
    let reg = start(None, true, false);
    let subject = push_and_attach(&reg);
    let pages = all_pages(&reg, &subject, &format!("?artifactType={SIG}"));
    assert_eq!(pages.len(), 1, "no pagination asked");
    assert_eq!(artifact_types(&pages), [SBOM, SIG, SIG]);
    assert_eq!(pages[0].filters_applied, None);
}

#[test]
fn applied_filters_filter_and_say_so() {
    let reg = start(Some(1), false, true);
    let subject = push_and_attach(&reg);
    let pages = all_pages(&reg, &subject, &format!("?artifactType={SIG}"));
    assert_eq!(pages.len(), 2);
    assert_eq!(artifact_types(&pages), [SIG, SIG]);
    assert!(pages
        .iter()
        .all(|p| p.filters_applied.as_deref() == Some("artifactType")));
    let pages = all_pages(&reg, &subject, "");
    assert_eq!(artifact_types(&pages), [SBOM, SIG, SIG]);
    assert!(pages.iter().all(|p| p.filters_applied.is_none()));
}

/// PUTs a manifest whose subject is `subject` and returns the answer's `OCI-Subject`.
fn put_with_subject(reg: &Registry, subject: &str) -> Option<String> {
    let empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": SIG,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": 2},
    });
    let resp = reg
        .agent()
        .put(&reg.url(&format!("/v2/{REPO}/manifests/signed")))
        .set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .send_string(&manifest.to_string())
        .expect("PUT a manifest with a subject");
    assert_eq!(resp.status(), 201);
    resp.header("OCI-Subject").map(str::to_string)
}

#[test]
fn oci_subject_is_answered_unless_omitted() {
    let subject = format!("sha256:{}", "ab".repeat(32));
    let reg = start(None, false, false);
    assert_eq!(
        put_with_subject(&reg, &subject).as_deref(),
        Some(subject.as_str())
    );
    let reg = Registry::start_with(Options {
        omit_oci_subject: true,
        ..Options::new(Server::GgcrReferrers, Mode::Open)
    });
    assert_eq!(put_with_subject(&reg, &subject), None);
}
