//! Referrers made and read by rr, oras (v1.3.6) and regctl (v0.11.7), both ways, on a
//! registry without the referrers API (distribution 2.8: the fallback tag each tool keeps)
//! and on one with it (go-containerregistry's registry with referrers support): what one
//! tool attaches, the others list with the same digest and artifact type, and pull as the
//! same files; a `regctl image copy --referrers` is read back by rr.

mod common;

use common::*;
use rr::builder::{ArtifactBuilder, ImageBuilder};
use rr::remote::referrers::{self, Found};
use rr::remote::{self, write, Client};
use rr_testkit::{shared_seeded_on, Registry, Server};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const SBOM: &str = "application/spdx+json";
const SIGNATURE: &str = "application/vnd.example.signature";
const SERVERS: [Server; 2] = [Server::Distribution28, Server::GgcrReferrers];

fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e} (run scripts/install-deps.sh)"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// oras SUBCOMMAND with the registry's flags, then `args`, in `dir`.
fn oras(reg: &Registry, dir: &Path, subcommand: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(rr_testkit::oras());
    cmd.current_dir(dir)
        .arg(subcommand)
        .args(reg.oras_flags())
        .args(args);
    run(cmd, &format!("oras {subcommand} {args:?}"))
}

/// regctl `args` with a configuration naming every registry of `regs` as plain http.
fn regctl(regs: &[&Registry], dir: &Path, args: &[&str]) -> Vec<u8> {
    let hosts: serde_json::Map<String, Value> = regs
        .iter()
        .map(|r| (r.host(), serde_json::json!({"tls": "disabled"})))
        .collect();
    let config = dir.join("regctl.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "hosts": hosts, "incDockerCred": false, "incDockerCert": false
        }))
        .unwrap(),
    )
    .unwrap();
    let out = Command::new(rr_testkit::regctl())
        .env("REGCTL_CONFIG", &config)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run regctl (scripts/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "regctl {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn push_subject(c: &Client, reference: &str, seed: u64) -> String {
    let dir = temp_dir();
    let layer = write_file(dir.path(), "l.tar.gz", &gzip(&tar_bytes(seed, 30_000)));
    let mut b = ImageBuilder::new();
    b.add_layer_file(&layer, None).unwrap();
    let img = b.build().unwrap();
    write::write_image(c, reference, &img).unwrap();
    img.digest().to_string()
}

/// The referrers rr lists: digest → artifact type.
fn rr_listed(c: &Client, reference: &str) -> BTreeMap<String, String> {
    referrers::referrers(c, reference, None)
        .unwrap()
        .index
        .children()
        .iter()
        .map(|d| {
            (
                d.digest.clone(),
                d.artifact_type.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn oras_and_rr_read_each_other_s_referrers() {
    for server in SERVERS {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_on(server);
        let c = client();
        let repo = format!("{}/interop/oras", reg.host());
        let subject_digest = push_subject(&c, &format!("{repo}:v1"), 21);
        let subject = format!("{repo}@{subject_digest}");
        let work = temp_dir();

        // rr attaches an SBOM of two files; oras discovers it and pulls the same files.
        let sbom_file = write_file(
            work.path(),
            "sbom.spdx.json",
            b"{\"spdxVersion\":\"SPDX-2.3\"}",
        );
        let notes = write_file(work.path(), "NOTES.txt", b"notes from rr\n");
        let mut b = ArtifactBuilder::new(SBOM).unwrap();
        b.add_file(&sbom_file, "application/json").unwrap();
        b.add_file(&notes, "text/plain").unwrap();
        b.add_annotation("com.example.by", "rr").unwrap();
        let s = remote::head(&c, &subject).unwrap();
        b.set_subject(&s.media_type, &s.digest, s.size).unwrap();
        let sbom = b.build().unwrap();
        write::write_image(&c, &format!("{repo}@{}", sbom.digest()), &sbom).unwrap();

        let discovered: Value = serde_json::from_str(&oras(
            reg,
            work.path(),
            "discover",
            &["--format", "json", &subject],
        ))
        .unwrap();
        let found: Vec<(&str, &str)> = discovered["referrers"]
            .as_array()
            .expect("oras discover lists referrers")
            .iter()
            .map(|r| {
                (
                    r["digest"].as_str().unwrap(),
                    r["artifactType"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(found, [(sbom.digest(), SBOM)], "{server}: oras discover");

        let pulled = work.path().join("oras-pulled");
        std::fs::create_dir(&pulled).unwrap();
        oras(
            reg,
            &pulled,
            "pull",
            &[&format!("{repo}@{}", sbom.digest())],
        );
        assert_eq!(
            std::fs::read(pulled.join("sbom.spdx.json")).unwrap(),
            b"{\"spdxVersion\":\"SPDX-2.3\"}"
        );
        assert_eq!(
            std::fs::read(pulled.join("NOTES.txt")).unwrap(),
            b"notes from rr\n"
        );

        // oras attaches a signature to rr's SBOM; rr lists it with its digest and type,
        // and saves its file.
        write_file(work.path(), "sig.txt", b"signed by oras\n");
        let attached: Value = serde_json::from_str(&oras(
            reg,
            work.path(),
            "attach",
            &[
                "--artifact-type",
                SIGNATURE,
                "--format",
                "json",
                &format!("{repo}@{}", sbom.digest()),
                "sig.txt:text/plain",
            ],
        ))
        .unwrap();
        let sig = attached["digest"].as_str().expect("oras attach's digest");
        let listed = rr_listed(&c, &format!("{repo}@{}", sbom.digest()));
        assert_eq!(
            listed,
            BTreeMap::from([(sig.to_string(), SIGNATURE.to_string())]),
            "{server}: rr referrers"
        );
        let img = remote::image(&c, &format!("{repo}@{sig}")).unwrap();
        let out = work.path().join("rr-pulled");
        let saved = rr::artifact_files::save_files(&img, &out).unwrap();
        assert_eq!(saved.files.len(), 1);
        assert_eq!(
            std::fs::read(out.join("sig.txt")).unwrap(),
            b"signed by oras\n"
        );

        let found = referrers::referrers(&c, &subject, None).unwrap().found;
        let want = if server == Server::GgcrReferrers {
            Found::Api
        } else {
            Found::FallbackTag
        };
        assert_eq!(found, want, "{server}");
    }
}

#[test]
fn regctl_reads_what_rr_attached_and_rr_reads_regctl_s_copies() {
    let (plain, _) = shared_seeded_on(Server::Distribution28);
    let (api, _) = shared_seeded_on(Server::GgcrReferrers);
    let c = client();
    let work = temp_dir();
    let repo = format!("{}/interop/regctl", plain.host());
    let subject_digest = push_subject(&c, &format!("{repo}:v1"), 22);
    let subject = format!("{repo}@{subject_digest}");

    let file = write_file(work.path(), "signature.txt", b"signed by rr\n");
    let mut b = ArtifactBuilder::new(SIGNATURE).unwrap();
    b.add_file(&file, "text/plain").unwrap();
    let s = remote::head(&c, &subject).unwrap();
    b.set_subject(&s.media_type, &s.digest, s.size).unwrap();
    let sig = b.build().unwrap();
    write::write_image(&c, &format!("{repo}@{}", sig.digest()), &sig).unwrap();

    // regctl artifact list and get, on the fallback tag rr wrote.
    let list = regctl(
        &[plain],
        work.path(),
        &[
            "artifact",
            "list",
            &subject,
            "--format",
            "{{json .Descriptors}}",
        ],
    );
    let descriptors: Value = serde_json::from_slice(&list).unwrap();
    let found: Vec<(&str, &str)> = descriptors
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["digest"].as_str().unwrap(),
                d["artifactType"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(found, [(sig.digest(), SIGNATURE)], "regctl artifact list");
    let got = regctl(
        &[plain],
        work.path(),
        &["artifact", "get", &format!("{repo}@{}", sig.digest())],
    );
    assert_eq!(got, b"signed by rr\n", "regctl artifact get");

    // regctl copies the image with its referrers to the registry with the API, and
    // back to distribution (where regctl writes the fallback tag): rr lists the
    // signature under the subject's digest on both.
    let there = format!("{}/interop/regctl-copy", api.host());
    regctl(
        &[plain, api],
        work.path(),
        &[
            "image",
            "copy",
            "--referrers",
            &format!("{repo}:v1"),
            &format!("{there}:v1"),
        ],
    );
    let back = format!("{}/interop/regctl-back", plain.host());
    regctl(
        &[plain, api],
        work.path(),
        &[
            "image",
            "copy",
            "--referrers",
            &format!("{there}:v1"),
            &format!("{back}:v1"),
        ],
    );
    for (dst, want) in [(&there, Found::Api), (&back, Found::FallbackTag)] {
        let found = referrers::referrers(&c, &format!("{dst}@{subject_digest}"), None).unwrap();
        assert_eq!(found.found, want, "{dst}");
        let digests: Vec<(&str, Option<&str>)> = found
            .index
            .children()
            .iter()
            .map(|d| (d.digest.as_str(), d.artifact_type.as_deref()))
            .collect();
        assert_eq!(
            digests,
            [(sig.digest(), Some(SIGNATURE))],
            "rr referrers of {dst}"
        );
    }
}

#[test]
fn rr_copies_with_referrers_that_oras_discovers_at_the_destination() {
    let (src_reg, _) = shared_seeded_on(Server::GgcrReferrers);
    let (dst_reg, _) = shared_seeded_on(Server::Distribution28);
    let c = client();
    let work = temp_dir();
    let repo = format!("{}/interop/copy", src_reg.host());
    let subject_digest = push_subject(&c, &format!("{repo}:v1"), 23);
    let subject = format!("{repo}@{subject_digest}");
    // Attached by oras, at both levels: a signature of an SBOM.
    write_file(work.path(), "sbom.json", b"{}");
    write_file(work.path(), "sig.txt", b"sig");
    let attach = |to: &str, artifact_type: &str, file: &str| -> String {
        let out: Value = serde_json::from_str(&oras(
            src_reg,
            work.path(),
            "attach",
            &[
                "--artifact-type",
                artifact_type,
                "--format",
                "json",
                to,
                file,
            ],
        ))
        .unwrap();
        out["digest"].as_str().unwrap().to_string()
    };
    let sbom = attach(&subject, SBOM, "sbom.json:application/json");
    let sig = attach(&format!("{repo}@{sbom}"), SIGNATURE, "sig.txt:text/plain");

    let dst = format!("{}/interop/rr-copy", dst_reg.host());
    referrers::copy_with_referrers(&c, &format!("{repo}:v1"), &format!("{dst}:v1")).unwrap();
    let discovered: Value = serde_json::from_str(&oras(
        dst_reg,
        work.path(),
        "discover",
        &["--format", "json", &format!("{dst}@{subject_digest}")],
    ))
    .unwrap();
    let level1 = discovered["referrers"].as_array().unwrap();
    assert_eq!(level1.len(), 1, "{discovered}");
    assert_eq!(level1[0]["digest"], sbom.as_str());
    assert_eq!(level1[0]["artifactType"], SBOM);
    let level2 = level1[0]["referrers"].as_array().unwrap();
    assert_eq!(level2.len(), 1, "{discovered}");
    assert_eq!(level2[0]["digest"], sig.as_str());
}
