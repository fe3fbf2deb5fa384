use super::*;
use crate::digest::of_bytes;
use crate::error::ErrorKind;
use crate::image::CONFIG_SIZE_LIMIT;
use crate::manifest::{
    OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A tar archive with a few files, one large enough to span many blocks.
fn sample_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let files: [(&str, Vec<u8>); 3] = [
        ("etc/hello.txt", b"hello world\n".to_vec()),
        ("empty", Vec::new()),
        (
            "big.bin",
            (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect(),
        ),
    ];
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, name, &data[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

fn config_of(image: &Image) -> Value {
    serde_json::from_slice(image.config().unwrap()).unwrap()
}

fn kind_of(result: Result<()>) -> ErrorKind {
    result.unwrap_err().kind
}

#[test]
fn plain_gzip_and_zstd_layers_are_detected_and_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let tar = sample_tar();
    let cases = [
        ("l.tar", tar.clone(), OCI_LAYER_TAR),
        ("l.tar.gz", gzip(&tar), OCI_LAYER_GZIP),
        ("l.tar.zst", zstd(&tar), OCI_LAYER_ZSTD),
    ];
    let mut b = ImageBuilder::new();
    for (name, data, _) in &cases {
        b.add_layer_file(&write(dir.path(), name, data), None)
            .unwrap();
    }
    for (layer, (name, data, media_type)) in b.layers.iter().zip(&cases) {
        assert_eq!(layer.media_type, *media_type, "{name}");
        assert_eq!(layer.digest, of_bytes(data), "{name}");
        assert_eq!(layer.size, data.len() as u64, "{name}");
        assert_eq!(layer.diff_id, of_bytes(&tar), "{name}");
        assert!(layer.path.is_absolute());
    }
}

#[test]
fn concatenated_gzip_members_and_an_empty_archive_are_layers() {
    let dir = tempfile::tempdir().unwrap();
    let tar = sample_tar();
    let (a, b) = tar.split_at(5000);
    let mut two_members = gzip(a);
    two_members.extend(gzip(b));
    let empty = tar::Builder::new(Vec::new()).into_inner().unwrap();
    assert_eq!(empty.len(), 1024);

    let mut builder = ImageBuilder::new();
    builder
        .add_layer_file(&write(dir.path(), "two.gz", &two_members), None)
        .unwrap();
    builder
        .add_layer_file(&write(dir.path(), "empty.tar", &empty), None)
        .unwrap();
    assert_eq!(builder.layers[0].diff_id, of_bytes(&tar));
    assert_eq!(builder.layers[0].digest, of_bytes(&two_members));
    assert_eq!(builder.layers[1].diff_id, of_bytes(&empty));
}

#[test]
fn given_media_types_are_checked_against_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let tar = sample_tar();
    let plain = write(dir.path(), "l.tar", &tar);
    let gz = write(dir.path(), "l.tgz", &gzip(&tar));
    let zst = write(dir.path(), "l.zst", &zstd(&tar));
    let mut b = ImageBuilder::new();

    b.add_layer_file(&gz, Some(crate::manifest::DOCKER_LAYER_GZIP))
        .unwrap();
    b.add_layer_file(&plain, Some("application/vnd.docker.image.rootfs.diff.tar"))
        .unwrap();
    b.add_layer_file(&zst, Some(OCI_LAYER_ZSTD)).unwrap();
    b.add_layer_file(&plain, Some(OCI_LAYER_TAR)).unwrap();
    assert_eq!(b.layers[0].media_type, crate::manifest::DOCKER_LAYER_GZIP);
    assert_eq!(b.layers.len(), 4);

    use ErrorKind::InvalidArgument;
    let e = b.add_layer_file(&plain, Some(OCI_LAYER_GZIP)).unwrap_err();
    assert_eq!(e.kind, InvalidArgument);
    assert!(e.message.contains("does not match its media type"), "{e}");
    assert!(
        e.message.contains("l.tar") && e.message.contains("gzip"),
        "{e}"
    );
    assert_eq!(
        kind_of(b.add_layer_file(&gz, Some(OCI_LAYER_TAR))),
        InvalidArgument
    );
    assert_eq!(
        kind_of(b.add_layer_file(&gz, Some(OCI_LAYER_ZSTD))),
        InvalidArgument
    );
    assert_eq!(
        kind_of(b.add_layer_file(&zst, Some(OCI_LAYER_GZIP))),
        InvalidArgument
    );
    let e = b
        .add_layer_file(&plain, Some("application/json"))
        .unwrap_err();
    assert_eq!(e.kind, InvalidArgument);
    assert!(e.message.contains("unknown layer media type"), "{e}");
    assert_eq!(b.layers.len(), 4, "failed adds add nothing");
}

#[test]
fn content_that_is_not_a_tar_stream_is_an_invalid_argument() {
    let dir = tempfile::tempdir().unwrap();
    let random: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut truncated = sample_tar();
    truncated.truncate(20_000);
    let mut bad_gzip = gzip(&sample_tar());
    let n = bad_gzip.len();
    bad_gzip[n / 2] ^= 0xff;
    let cases = [
        ("random.bin", random.clone()),
        ("short.bin", b"not a tar".to_vec()),
        ("empty.tar", Vec::new()),
        ("truncated.tar", truncated),
        ("random.gz", gzip(&random)),
        ("nothing.gz", gzip(b"")),
        ("random.zst", zstd(&random)),
        ("corrupt.gz", bad_gzip),
    ];
    for (name, data) in cases {
        let path = write(dir.path(), name, &data);
        let e = ImageBuilder::new().add_layer_file(&path, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{name}: {e}");
        assert!(e.message.contains(name), "{name}: {e}");
    }
}

#[test]
fn missing_or_unreadable_files_are_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tar");
    let e = ImageBuilder::new()
        .add_layer_file(&missing, None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(e.message.contains("missing.tar"), "{e}");
    // A directory opens but cannot be read.
    let e = ImageBuilder::new()
        .add_layer_file(dir.path(), None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{e}");
}

#[test]
fn config_gets_platform_rootfs_history_and_created() {
    let dir = tempfile::tempdir().unwrap();
    let tar = sample_tar();
    let mut b = ImageBuilder::new();
    b.set_config(
        br#"{"config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":["x"]},
            "history":[{"created_by":"old"}],"variant":"v9"}"#,
    )
    .unwrap();
    b.add_layer_file(&write(dir.path(), "a.tar", &tar), None)
        .unwrap();
    b.add_layer_file(&write(dir.path(), "b.tar.gz", &gzip(&tar)), None)
        .unwrap();

    let config = config_of(&b.build().unwrap());
    assert_eq!(config["config"]["Env"][0], "A=1");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    assert!(
        config.get("variant").is_none(),
        "the default replaces a stray variant"
    );
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([of_bytes(&tar), of_bytes(&tar)])
    );
    let history = config["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["created_by"], "rr image builder: a.tar");
    assert_eq!(history[1]["created_by"], "rr image builder: b.tar.gz");
    let created = default_created(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref());
    assert_eq!(history[0]["created"], created.as_str());
    assert_eq!(history[1]["created"], created.as_str());
    assert_eq!(config["created"], created.as_str());
}

#[test]
fn the_platform_comes_from_the_builder_then_the_base_config_then_the_default() {
    let mut b = ImageBuilder::new();
    b.set_config(
        br#"{"os":"windows","architecture":"arm64","variant":"v8","os.version":"10.0.1"}"#,
    )
    .unwrap();
    let c = config_of(&b.build().unwrap());
    assert_eq!(
        (
            &c["os"],
            &c["architecture"],
            &c["variant"],
            &c["os.version"]
        ),
        (
            &"windows".into(),
            &"arm64".into(),
            &"v8".into(),
            &"10.0.1".into()
        )
    );

    b.set_platform("linux/arm/v7").unwrap();
    let c = config_of(&b.build().unwrap());
    assert_eq!(
        (&c["os"], &c["architecture"], &c["variant"]),
        (&"linux".into(), &"arm".into(), &"v7".into())
    );
    assert!(c.get("os.version").is_none());

    b.set_platform("windows/x86_64:10.0.17763.1").unwrap();
    let c = config_of(&b.build().unwrap());
    assert_eq!(c["architecture"], "amd64");
    assert_eq!(c["os.version"], "10.0.17763.1");
    assert!(c.get("variant").is_none());

    let mut only_os = ImageBuilder::new();
    only_os.set_config(br#"{"os":"freebsd"}"#).unwrap();
    let c = config_of(&only_os.build().unwrap());
    assert_eq!(
        (&c["os"], &c["architecture"]),
        (&"linux".into(), &"amd64".into())
    );

    let e = b.set_platform("linux").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidReference);
}

#[test]
fn created_comes_from_the_base_then_source_date_epoch_then_the_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = ImageBuilder::new();
    b.add_layer_file(&write(dir.path(), "a.tar", &sample_tar()), None)
        .unwrap();
    let config = |b: &ImageBuilder, epoch: Option<&str>| -> Value {
        serde_json::from_slice(&b.config_bytes(epoch).unwrap()).unwrap()
    };
    let c = config(&b, None);
    assert_eq!(
        (&c["created"], &c["history"][0]["created"]),
        (&EPOCH.into(), &EPOCH.into())
    );
    let c = config(&b, Some("1700000000"));
    assert_eq!(c["created"], "2023-11-14T22:13:20Z");
    assert_eq!(c["history"][0]["created"], "2023-11-14T22:13:20Z");
    assert_eq!(config(&b, Some("yesterday"))["created"], EPOCH);
    assert_eq!(config(&b, Some("99999999999999"))["created"], EPOCH);

    b.set_config(br#"{"created":"2020-02-02T02:02:02Z"}"#)
        .unwrap();
    let c = config(&b, Some("1700000000"));
    assert_eq!(c["created"], "2020-02-02T02:02:02Z");
    assert_eq!(c["history"][0]["created"], "2020-02-02T02:02:02Z");
}

#[test]
fn a_base_config_must_be_a_json_object() {
    let mut b = ImageBuilder::new();
    for bad in [&b""[..], b"[]", b"42", b"\"x\"", b"null", b"{", b"{} {}"] {
        let e = b.set_config(bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad:?}");
        assert!(e.message.contains("base config"), "{e}");
    }
    b.set_config(b" {} ").unwrap();
}

#[test]
fn the_manifest_names_the_config_and_layers_and_the_image_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let tar = sample_tar();
    let gz = gzip(&tar);
    let mut b = ImageBuilder::new();
    b.add_layer_file(&write(dir.path(), "a.tar.gz", &gz), None)
        .unwrap();
    b.add_layer_file(&write(dir.path(), "b.tar", &tar), None)
        .unwrap();
    let image = b.build().unwrap();

    assert_eq!(image.media_type(), OCI_MANIFEST);
    assert_eq!(image.digest(), of_bytes(image.manifest_bytes()));
    let config = image.config().unwrap().to_vec();
    let expected = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":{}}},"layers":[{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{}","size":{}}},{{"mediaType":"{OCI_LAYER_TAR}","digest":"{}","size":{}}}]}}"#,
        of_bytes(&config),
        config.len(),
        of_bytes(&gz),
        gz.len(),
        of_bytes(&tar),
        tar.len()
    );
    assert_eq!(String::from_utf8_lossy(image.manifest_bytes()), expected);

    // The config is also served by the source, verified, as a push would read it.
    let (contexts, _) = image.source().own_contexts().unwrap();
    let served = image
        .source()
        .read_small(&image.manifest().config, CONFIG_SIZE_LIMIT, &contexts)
        .unwrap();
    assert_eq!(served, config);

    for (i, data) in [&gz, &tar].into_iter().enumerate() {
        let mut got = Vec::new();
        image
            .layer_read(i, &mut |chunk| {
                got.extend_from_slice(chunk);
                Ok(())
            })
            .unwrap();
        assert_eq!(&got, data);
    }

    // Building again gives the same image, byte for byte.
    let again = b.build().unwrap();
    assert_eq!(again.manifest_bytes(), image.manifest_bytes());
    assert_eq!(again.config().unwrap(), &config[..]);
}

#[test]
fn an_image_without_layers_can_be_built() {
    let image = ImageBuilder::new().build().unwrap();
    assert!(image.layers().is_empty());
    let manifest: Value = serde_json::from_slice(image.manifest_bytes()).unwrap();
    assert_eq!(manifest["layers"], serde_json::json!([]));
    let config = config_of(&image);
    assert_eq!(config["rootfs"]["diff_ids"], serde_json::json!([]));
    assert_eq!(config["history"], serde_json::json!([]));
}

#[test]
fn a_layer_file_changed_after_add_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a.tar", &sample_tar());
    let mut b = ImageBuilder::new();
    b.add_layer_file(&path, None).unwrap();
    let image = b.build().unwrap();
    let mut changed = sample_tar();
    changed[600] ^= 1;
    std::fs::write(&path, &changed).unwrap();
    let e = image.layer_read(0, &mut |_| Ok(())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DigestMismatch, "{e}");
}

fn image_with(platform: Option<&str>, config: &[u8]) -> Image {
    let mut b = ImageBuilder::new();
    b.set_config(config).unwrap();
    if let Some(p) = platform {
        b.set_platform(p).unwrap();
    }
    b.build().unwrap()
}

#[test]
fn the_index_builder_lists_images_with_their_platforms() {
    let amd = image_with(None, b"{}");
    let arm = image_with(Some("linux/arm64/v8"), b"{}");
    let win = image_with(Some("windows/amd64:10.0.17763.1"), b"{}");

    let mut b = IndexBuilder::new();
    b.add_image(&amd, None).unwrap();
    b.add_image(&arm, None).unwrap();
    b.add_image(&win, None).unwrap();
    b.add_image(&arm, Some("linux/arm64/v8")).unwrap();
    b.add_image(&amd, Some("linux/amd64/v3")).unwrap();
    let index = b.build().unwrap();

    assert_eq!(index.media_type(), OCI_INDEX);
    assert_eq!(index.digest(), of_bytes(index.manifest_bytes()));
    let entry = |img: &Image, platform: &str| {
        format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{platform}}}"#,
            img.digest(),
            img.manifest_bytes().len()
        )
    };
    let expected = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{},{},{},{}]}}"#,
        entry(&amd, r#"{"architecture":"amd64","os":"linux"}"#),
        entry(
            &arm,
            r#"{"architecture":"arm64","os":"linux","variant":"v8"}"#
        ),
        entry(
            &win,
            r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1"}"#
        ),
        entry(
            &amd,
            r#"{"architecture":"amd64","os":"linux","variant":"v3"}"#
        ),
    );
    assert_eq!(String::from_utf8_lossy(index.manifest_bytes()), expected);

    assert_eq!(index.children().len(), 4);
    assert_eq!(index.child_platform(1).as_deref(), Some("linux/arm64/v8"));
    let child = index.child_image(1).unwrap();
    assert_eq!(child.digest(), arm.digest());
    assert_eq!(child.config().unwrap(), arm.config().unwrap());
    let chosen = index
        .image_for_platform(&Platform::parse("windows/amd64").unwrap())
        .unwrap();
    assert_eq!(chosen.digest(), win.digest());
}

#[test]
fn the_index_builder_needs_images_and_platforms() {
    let mut b = IndexBuilder::new();
    assert_eq!(b.build().unwrap_err().kind, ErrorKind::InvalidArgument);

    // A config without os and architecture: no platform unless one is given.
    let mut ib = ImageBuilder::new();
    ib.set_config(b"{}").unwrap();
    let built = ib.build().unwrap();
    let bare = {
        let config = br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":{}}},"layers":[]}}"#,
            of_bytes(&config),
            config.len()
        );
        let source = built.source().clone();
        Image::new(
            source,
            manifest.clone().into_bytes(),
            OCI_MANIFEST.into(),
            of_bytes(manifest.as_bytes()),
        )
        .unwrap()
        .with_config(config)
    };
    let e = b.add_image(&bare, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(
        e.message.contains("no platform") && e.message.contains("give one"),
        "{e}"
    );
    assert_eq!(
        b.add_image(&bare, Some("linux")).unwrap_err().kind,
        ErrorKind::InvalidReference
    );
    b.add_image(&bare, Some("linux/s390x")).unwrap();
    let index = b.build().unwrap();
    assert_eq!(index.child_platform(0).as_deref(), Some("linux/s390x"));
}
