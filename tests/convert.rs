//! Docker schema 2 images and manifest lists (pushed with `skopeo copy --format v2s2`)
//! converted to OCI media types against a real registry: the blobs stay the same, the
//! converted layout is readable by skopeo under its name, and pushing it back gives the
//! converted digest. Without conversion, a layout keeps the Docker media types, and skopeo
//! finds the entry only without a name.

mod common;

use common::*;
use rr::convert::{image_to_oci, index_to_oci};
use rr::manifest::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX,
    OCI_LAYER_GZIP, OCI_MANIFEST,
};
use rr::remote::{self, write};
use rr::{layout, ErrorKind};
use rr_testkit::{run_skopeo, sha256_digest, shared_seeded, Mode, Registry};
use serde_json::Value;
use std::path::Path;

/// `skopeo copy --format v2s2 [--all]` of `src` to `dst`, both in `reg`.
fn copy_as_docker(reg: &Registry, src: &str, dst: &str, all: bool) {
    let mut args = vec![
        "copy".to_string(),
        "--format".to_string(),
        "v2s2".to_string(),
        "--src-tls-verify=false".to_string(),
        "--dest-tls-verify=false".to_string(),
    ];
    if all {
        args.push("--all".to_string());
    }
    args.push(reg.docker_ref(src));
    args.push(reg.docker_ref(dst));
    let out = run_skopeo(&args);
    assert!(
        out.status.success(),
        "skopeo {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `skopeo inspect --raw TRANSPORT:REF`: stdout on success, stderr on failure.
fn skopeo_raw(reference: &str) -> Result<Vec<u8>, String> {
    let out = run_skopeo(&["inspect", "--raw", "--tls-verify=false", reference]);
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The only entry of the layout's index.json.
fn layout_entry(dir: &Path) -> Value {
    let index = json(&std::fs::read(dir.join("index.json")).unwrap());
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    entries[0].clone()
}

/// `before` with the Docker media types of an image manifest replaced by OCI ones.
fn as_oci_image(mut before: Value) -> Value {
    assert_eq!(before["mediaType"], DOCKER_MANIFEST);
    before["mediaType"] = Value::from(OCI_MANIFEST);
    assert_eq!(before["config"]["mediaType"], DOCKER_CONFIG);
    before["config"]["mediaType"] = Value::from(OCI_CONFIG);
    for layer in before["layers"].as_array_mut().unwrap() {
        assert_eq!(layer["mediaType"], DOCKER_LAYER_GZIP);
        layer["mediaType"] = Value::from(OCI_LAYER_GZIP);
    }
    before
}

#[test]
fn a_docker_image_converts_to_oci_and_round_trips_through_a_layout() {
    let (reg, seeded) = shared_seeded(Mode::Open);
    let c = client();
    let docker_ref = format!("{}/convert/docker:v1", reg.host());
    copy_as_docker(reg, &seeded.app.reference, &docker_ref, false);

    let docker = remote::image(&c, &docker_ref).unwrap();
    assert_eq!(docker.media_type(), DOCKER_MANIFEST);
    let oci = image_to_oci(&docker).unwrap();
    assert_eq!(oci.media_type(), OCI_MANIFEST);
    assert_eq!(oci.digest(), sha256_digest(oci.manifest_bytes()));
    assert_ne!(oci.digest(), docker.digest());
    assert_eq!(
        json(oci.manifest_bytes()),
        as_oci_image(json(docker.manifest_bytes())),
        "only the media types changed"
    );
    assert_eq!(oci.manifest().config.digest, seeded.app.config_digest);
    let layers: Vec<&str> = oci.layers().iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(layers, seeded.app.layer_digests);
    assert_eq!(oci.config().unwrap(), seeded.app.config_bytes.as_slice());
    // An OCI image is returned as it is.
    assert_eq!(image_to_oci(&oci).unwrap().digest(), oci.digest());

    let dir = temp_dir();
    // Without conversion: the Docker descriptor byte for byte; skopeo reads the layout
    // only without a name (it looks names up among OCI media types).
    let kept = dir.path().join("docker-layout");
    layout::write_image(&c, &kept, &docker, Some("v1")).unwrap();
    let entry = layout_entry(&kept);
    assert_eq!(entry["mediaType"], DOCKER_MANIFEST);
    assert_eq!(entry["digest"], docker.digest());
    let unnamed = skopeo_raw(&format!("oci:{}", kept.display())).unwrap();
    assert_eq!(sha256_digest(&unnamed), docker.digest());
    let named = skopeo_raw(&format!("oci:{}:v1", kept.display())).unwrap_err();
    assert!(named.contains("no descriptor found"), "{named}");

    // Converted: skopeo reads it by name.
    let converted = dir.path().join("oci-layout");
    layout::write_image(&c, &converted, &oci, Some("v1")).unwrap();
    let entry = layout_entry(&converted);
    assert_eq!(entry["mediaType"], OCI_MANIFEST);
    assert_eq!(entry["digest"], oci.digest());
    let raw = skopeo_raw(&format!("oci:{}:v1", converted.display())).unwrap();
    assert_eq!(raw, oci.manifest_bytes());
    for digest in std::iter::once(&seeded.app.config_digest).chain(&seeded.app.layer_digests) {
        let blob = std::fs::read(converted.join("blobs/sha256").join(&digest[7..])).unwrap();
        assert_eq!(&sha256_digest(&blob), digest);
    }

    // Pushed back from the layout: the registry has the converted manifest.
    let back = layout::read_image(&converted, Some("v1")).unwrap();
    let pushed_ref = format!("{}/convert/pushed:v1", reg.host());
    write::write_image(&c, &pushed_ref, &back).unwrap();
    assert_eq!(remote::head(&c, &pushed_ref).unwrap().digest, oci.digest());
    let raw = reg.skopeo_inspect_raw(&pushed_ref);
    assert_eq!(sha256_digest(&raw), oci.digest());
    assert_eq!(json(&raw)["mediaType"], OCI_MANIFEST);

    // Pushed straight from the registry image: within the registry every blob is mounted.
    let mounted_ref = format!("{}/convert/mounted:v1", reg.host());
    write::write_image(&c, &mounted_ref, &oci).unwrap();
    assert_eq!(remote::head(&c, &mounted_ref).unwrap().digest, oci.digest());
    let requests = requests_for(reg, "convert/mounted");
    let mounts = requests
        .iter()
        .filter(|r| r.method == "POST" && r.uri.contains("from=convert%2Fdocker"))
        .count();
    assert_eq!(mounts, 1 + layers.len(), "{requests:#?}");
    assert!(
        !requests.iter().any(|r| r.method == "PATCH"),
        "{requests:#?}"
    );
}

#[test]
fn a_docker_manifest_list_converts_with_its_children() {
    let (reg, seeded) = shared_seeded(Mode::Open);
    let c = client();
    let list_ref = format!("{}/convert/list:v1", reg.host());
    copy_as_docker(reg, &seeded.multi.reference, &list_ref, true);

    let list = remote::index(&c, &list_ref).unwrap();
    assert_eq!(list.media_type(), DOCKER_LIST);
    assert_eq!(list.children().len(), seeded.multi.children.len());
    let oci = index_to_oci(&list).unwrap();
    assert_eq!(oci.media_type(), OCI_INDEX);
    assert_eq!(oci.digest(), sha256_digest(oci.manifest_bytes()));
    let before = json(list.manifest_bytes());
    let after = json(oci.manifest_bytes());
    assert_eq!(after["mediaType"], OCI_INDEX);
    for (i, (platform, pushed)) in seeded.multi.children.iter().enumerate() {
        assert_eq!(oci.child_platform(i).as_deref(), Some(platform.as_str()));
        assert_eq!(
            after["manifests"][i]["platform"],
            before["manifests"][i]["platform"]
        );
        assert_eq!(oci.children()[i].media_type, OCI_MANIFEST);
        let docker_child = list.child_image(i).unwrap();
        let child = oci.child_image(i).unwrap();
        assert_eq!(child.media_type(), OCI_MANIFEST);
        assert_eq!(oci.children()[i].digest, child.digest());
        assert_eq!(oci.children()[i].size, child.manifest_bytes().len() as u64);
        assert_eq!(
            json(child.manifest_bytes()),
            as_oci_image(json(docker_child.manifest_bytes()))
        );
        let layers: Vec<&str> = child.layers().iter().map(|l| l.digest.as_str()).collect();
        assert_eq!(layers, pushed.layer_digests);
        assert_eq!(child.manifest().config.digest, pushed.config_digest);
    }
    assert_eq!(index_to_oci(&oci).unwrap().digest(), oci.digest());
    // The OCI index skopeo's --all kept as it was is returned unchanged.
    let original = remote::index(&c, &seeded.multi.reference).unwrap();
    assert_eq!(
        index_to_oci(&original).unwrap().digest(),
        seeded.multi.digest
    );

    // Into a layout, read by skopeo by name, and back to the registry.
    let dir = temp_dir();
    let converted = dir.path().join("oci-layout");
    layout::write_index(&c, &converted, &oci, Some("all")).unwrap();
    let entry = layout_entry(&converted);
    assert_eq!(entry["mediaType"], OCI_INDEX);
    assert_eq!(entry["digest"], oci.digest());
    let raw = skopeo_raw(&format!("oci:{}:all", converted.display())).unwrap();
    assert_eq!(raw, oci.manifest_bytes());

    let from_layout = layout::read_index(&converted)
        .unwrap()
        .child_index(0)
        .unwrap();
    assert_eq!(from_layout.digest(), oci.digest());
    let pushed_ref = format!("{}/convert/list-pushed:v1", reg.host());
    write::write_index(&c, &pushed_ref, &from_layout).unwrap();
    assert_eq!(remote::head(&c, &pushed_ref).unwrap().digest, oci.digest());
    let raw = reg.skopeo_inspect_raw(&pushed_ref);
    assert_eq!(sha256_digest(&raw), oci.digest());
    for child in oci.children() {
        let raw = reg.skopeo_inspect_raw(&format!(
            "{}/convert/list-pushed@{}",
            reg.host(),
            child.digest
        ));
        assert_eq!(json(&raw)["mediaType"], OCI_MANIFEST);
    }

    // Pushed straight from the converted index: the children come from memory, their
    // blobs are mounted from the Docker list's repository.
    let mounted_ref = format!("{}/convert/list-mounted:v1", reg.host());
    write::write_index(&c, &mounted_ref, &oci).unwrap();
    assert_eq!(remote::head(&c, &mounted_ref).unwrap().digest, oci.digest());
    let requests = requests_for(reg, "convert/list-mounted");
    assert!(
        requests
            .iter()
            .any(|r| r.method == "POST" && r.uri.contains("from=convert%2Flist")),
        "{requests:#?}"
    );
    assert!(
        !requests.iter().any(|r| r.method == "PATCH"),
        "{requests:#?}"
    );
}

#[test]
fn the_c_functions_check_their_arguments_and_convert() {
    use rr::ffi::image::{
        rr_image, rr_image_free, rr_image_media_type, rr_image_open, rr_image_to_oci,
    };
    use rr::ffi::index::{rr_index, rr_index_free, rr_index_to_oci};
    use rr::ffi::rr_status;
    use std::ffi::{CStr, CString};
    use std::ptr;

    let (reg, seeded) = shared_seeded(Mode::Open);
    unsafe {
        let mut img: *mut rr_image = ptr::null_mut();
        assert_eq!(
            rr_image_to_oci(ptr::null(), &mut img),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert!(img.is_null());
        let mut idx: *mut rr_index = ptr::null_mut();
        assert_eq!(
            rr_index_to_oci(ptr::null(), &mut idx),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert!(idx.is_null());

        let docker_ref = format!("{}/convert/ffi:v1", reg.host());
        copy_as_docker(reg, &seeded.app.reference, &docker_ref, false);
        let mut client = ptr::null_mut();
        assert_eq!(
            rr::ffi::client::rr_client_new(&mut client),
            rr_status::RR_OK
        );
        rr::ffi::client::rr_client_set_keychain(client, false);
        let reference = CString::new(docker_ref).unwrap();
        assert_eq!(
            rr_image_open(client, reference.as_ptr(), &mut img),
            rr_status::RR_OK
        );
        assert_eq!(
            rr_image_to_oci(img, ptr::null_mut()),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        let mut oci: *mut rr_image = ptr::null_mut();
        assert_eq!(rr_image_to_oci(img, &mut oci), rr_status::RR_OK);
        rr_image_free(img);

        let list_ref = format!("{}/convert/ffi-list:v1", reg.host());
        copy_as_docker(reg, &seeded.multi.reference, &list_ref, true);
        let reference = CString::new(list_ref).unwrap();
        assert_eq!(
            rr::ffi::index::rr_index_open(client, reference.as_ptr(), &mut idx),
            rr_status::RR_OK
        );
        rr::ffi::client::rr_client_free(client);
        let mut converted: *mut rr_index = ptr::null_mut();
        assert_eq!(rr_index_to_oci(idx, &mut converted), rr_status::RR_OK);
        rr_index_free(idx);
        assert_eq!(
            CStr::from_ptr(rr::ffi::index::rr_index_media_type(converted))
                .to_str()
                .unwrap(),
            OCI_INDEX
        );
        let mut child: *mut rr_image = ptr::null_mut();
        assert_eq!(
            rr::ffi::index::rr_index_child_image(converted, 0, &mut child),
            rr_status::RR_OK
        );
        rr_index_free(converted);
        assert_eq!(
            CStr::from_ptr(rr_image_media_type(child)).to_str().unwrap(),
            OCI_MANIFEST
        );
        rr_image_free(child);
        assert_eq!(
            CStr::from_ptr(rr_image_media_type(oci)).to_str().unwrap(),
            OCI_MANIFEST
        );
        rr_image_free(oci);
    }
}

#[test]
fn an_unknown_docker_config_type_is_unsupported() {
    // A Docker plugin: its config type has no OCI counterpart.
    let config = br#"{"description":"a plugin"}"#;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.plugin.v1+json","size":{},"digest":"{}"}},"layers":[]}}"#,
        config.len(),
        sha256_digest(config)
    );
    let dir = temp_dir();
    let source = rr::source::BlobSource::Layout {
        dir: std::sync::Arc::new(dir.path().to_path_buf()),
    };
    let img = rr::image::Image::new(
        source,
        manifest.clone().into_bytes(),
        DOCKER_MANIFEST.to_string(),
        sha256_digest(manifest.as_bytes()),
    )
    .unwrap();
    let e = image_to_oci(&img).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(
        e.message.contains("application/vnd.docker.plugin.v1+json"),
        "{}",
        e.message
    );
}
