//! OCI 1.1 artifacts built with `ArtifactBuilder` and pushed like any image, against every
//! registry of the matrix: what the registry keeps is what was built (skopeo reads it
//! back byte for byte), and reads return the artifactType, subject, titles and config.

mod common;

use common::*;
use rr::builder::{ArtifactBuilder, TITLE_ANNOTATION};
use rr::ffi::artifact::*;
use rr::ffi::client::{rr_client, rr_client_free, rr_client_new, rr_client_set_keychain};
use rr::ffi::error::rr_error_message;
use rr::ffi::image::{rr_image_subject_digest, rr_image_subject_media_type, rr_image_subject_size};
use rr::ffi::rr_status;
use rr::manifest::{OCI_EMPTY, OCI_MANIFEST};
use rr::remote::{self, write};
use rr::ErrorKind;
use rr_testkit::{shared_seeded_on, Server};
use std::ffi::{CStr, CString};
use std::ptr;

const SBOM: &str = "application/vnd.example.sbom+json";
const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn ffi_client() -> *mut rr_client {
    let mut c = ptr::null_mut();
    assert_eq!(unsafe { rr_client_new(&mut c) }, rr_status::RR_OK);
    assert_eq!(
        unsafe { rr_client_set_keychain(c, false) },
        rr_status::RR_OK
    );
    c
}

fn message() -> String {
    unsafe { CStr::from_ptr(rr_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn an_artifact_with_files_and_a_subject_round_trips_on_every_registry() {
    let dir = temp_dir();
    let sbom = write_file(
        dir.path(),
        "sbom.spdx.json",
        br#"{"spdxVersion":"SPDX-2.3"}"#,
    );
    let notes = write_file(dir.path(), "NOTES.txt", b"built on a quiet day\n");
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_on(server);
        let c = client();
        let subject = remote::head(&c, &seeded.app.reference).unwrap();

        let mut b = ArtifactBuilder::new(SBOM).unwrap();
        b.add_file(&sbom, "application/spdx+json").unwrap();
        b.add_file(&notes, "text/plain").unwrap();
        b.add_annotation("org.opencontainers.image.created", "2026-01-01T00:00:00Z")
            .unwrap();
        b.add_annotation("com.example.tool", "rr").unwrap();
        b.set_subject(&subject.media_type, &subject.digest, subject.size)
            .unwrap();
        let built = b.build().unwrap();

        let dst = format!("{}/art/sbom:v1", reg.host());
        write::write_image(&c, &dst, &built).unwrap();
        assert_eq!(
            reg.skopeo_inspect_raw(&dst),
            built.manifest_bytes(),
            "{server}: the registry keeps the bytes built"
        );

        let read = remote::image(&c, &dst).unwrap();
        assert_eq!(read.digest(), built.digest());
        assert_eq!(read.media_type(), OCI_MANIFEST);
        assert_eq!(read.artifact_type(), Some(SBOM));
        let s = read.subject().expect("a subject");
        assert_eq!(s.digest, seeded.app.manifest_digest);
        assert_eq!(s.media_type, subject.media_type);
        assert_eq!(s.size, seeded.app.manifest_bytes.len() as u64);
        let cfg = read.config_descriptor();
        assert_eq!(
            (cfg.media_type.as_str(), cfg.digest.as_str(), cfg.size),
            (OCI_EMPTY, EMPTY_DIGEST, 2)
        );
        assert_eq!(read.config().unwrap(), b"{}");
        let layers: Vec<_> = read
            .layers()
            .iter()
            .map(|l| {
                (
                    l.media_type.as_str(),
                    l.annotations[TITLE_ANNOTATION].as_str(),
                )
            })
            .collect();
        assert_eq!(
            layers,
            [
                ("application/spdx+json", "sbom.spdx.json"),
                ("text/plain", "NOTES.txt")
            ]
        );
        assert_eq!(read.annotations()["com.example.tool"], "rr");
        let mut got = Vec::new();
        read.layer_read(1, &mut |chunk| {
            got.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, b"built on a quiet day\n");
    }
}

#[test]
fn an_artifact_without_files_has_the_empty_layer_and_pushes() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_on(server);
        let c = client();
        let mut b = ArtifactBuilder::new("application/vnd.example.marker").unwrap();
        b.add_annotation("com.example.note", "nothing but this")
            .unwrap();
        let built = b.build().unwrap();
        let json: serde_json::Value = serde_json::from_slice(built.manifest_bytes()).unwrap();
        assert_eq!(
            json["layers"],
            serde_json::json!([{"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2}])
        );
        assert!(json.get("subject").is_none());

        let dst = format!("{}/art/marker:v1", reg.host());
        write::write_image(&c, &dst, &built).unwrap();
        assert_eq!(reg.skopeo_inspect_raw(&dst), built.manifest_bytes());
        let read = remote::image(&c, &dst).unwrap();
        assert_eq!(read.layers().len(), 1);
        assert_eq!(read.layers()[0].digest, EMPTY_DIGEST);
        assert_eq!(read.subject(), None);
    }
}

#[test]
fn an_artifact_with_its_own_config_keeps_it() {
    let (reg, _) = shared_seeded_on(Server::DistributionV3);
    let dir = temp_dir();
    let file = write_file(dir.path(), "chart.tgz", &gzip(b"not really a chart"));
    let mut b = ArtifactBuilder::new("application/vnd.example.chart").unwrap();
    b.set_config(
        "application/vnd.example.chart.config.v1+json",
        br#"{"name":"x"}"#,
    )
    .unwrap();
    b.add_file(&file, "application/vnd.example.chart.content.v1.tar+gzip")
        .unwrap();
    let built = b.build().unwrap();
    let c = client();
    let dst = format!("{}/art/chart:v1", reg.host());
    write::write_image(&c, &dst, &built).unwrap();
    let read = remote::image(&c, &dst).unwrap();
    assert_eq!(
        read.config_descriptor().media_type,
        "application/vnd.example.chart.config.v1+json"
    );
    assert_eq!(read.config().unwrap(), br#"{"name":"x"}"#);
}

#[test]
fn a_subject_that_does_not_exist_is_not_found_and_nothing_is_uploaded() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_on(server);
        let c = ffi_client();
        let at = CString::new(SBOM).unwrap();
        let reference = CString::new(format!("{}/art/absent:nope", reg.host())).unwrap();
        unsafe {
            let mut b = ptr::null_mut();
            assert_eq!(
                rr_artifact_builder_new(at.as_ptr(), &mut b),
                rr_status::RR_OK
            );
            assert_eq!(
                rr_artifact_builder_set_subject_ref(b, c, reference.as_ptr()),
                rr_status::RR_ERR_NOT_FOUND,
                "{server}: {}",
                message()
            );
            assert!(message().contains("art/absent"), "{}", message());
            rr_artifact_builder_free(b);
            rr_client_free(c);
        }
        let seen = requests_for(reg, "art/absent");
        assert!(!seen.is_empty(), "{server}: the HEAD is logged");
        assert!(
            seen.iter().all(|r| r.method == "HEAD"),
            "{server}: only the HEAD was sent: {seen:?}"
        );
    }
}

#[test]
fn a_subject_by_reference_is_the_manifest_it_names() {
    let (_, seeded) = shared_seeded_on(Server::Ggcr);
    let c = ffi_client();
    let at = CString::new(SBOM).unwrap();
    let reference = CString::new(seeded.app.reference.as_str()).unwrap();
    unsafe {
        let mut b = ptr::null_mut();
        assert_eq!(
            rr_artifact_builder_new(at.as_ptr(), &mut b),
            rr_status::RR_OK
        );
        assert_eq!(
            rr_artifact_builder_set_subject_ref(b, c, reference.as_ptr()),
            rr_status::RR_OK,
            "{}",
            message()
        );
        let mut img = ptr::null_mut();
        assert_eq!(rr_artifact_builder_build(b, &mut img), rr_status::RR_OK);
        let text = |p: *const std::ffi::c_char| CStr::from_ptr(p).to_str().unwrap().to_string();
        assert_eq!(
            text(rr_image_subject_digest(img)),
            seeded.app.manifest_digest
        );
        assert_eq!(
            rr_image_subject_size(img),
            seeded.app.manifest_bytes.len() as u64
        );
        let mt = text(rr_image_subject_media_type(img));
        assert!(mt == OCI_MANIFEST || mt.contains("docker"), "{mt}");
        rr::ffi::image::rr_image_free(img);
        rr_artifact_builder_free(b);
        rr_client_free(c);
    }
}

#[test]
fn bad_media_types_and_annotation_keys_are_invalid_arguments() {
    let dir = temp_dir();
    let file = write_file(dir.path(), "a.txt", b"a");
    for bad in [
        "",
        "text",
        "text/",
        "/plain",
        "text/plain; charset=utf-8",
        "a/b/c",
        "té/x",
    ] {
        let e = ArtifactBuilder::new(bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad:?}");
        assert!(e.message.contains(&format!("{bad:?}")), "{}", e.message);
    }
    let mut b = ArtifactBuilder::new("application/vnd.example+json").unwrap();
    let e = b.add_file(&file, "text plain").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("\"text plain\""), "{}", e.message);
    let e = b.set_config("nope", b"{}").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    let e = b.set_subject("x", EMPTY_DIGEST, 2).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    let e = b.set_subject(OCI_MANIFEST, "sha256:abc", 2).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    let e = b.add_annotation("", "v").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    // A failed call changes nothing.
    let built = b.build().unwrap();
    assert_eq!(built.layers().len(), 1);
    assert_eq!(built.layers()[0].media_type, OCI_EMPTY);
    assert!(built.annotations().is_empty());
}
