//! OCI fixtures: deterministic layers, OCI image layouts written to temp
//! dirs, pushed with `skopeo copy` (format untouched, so they stay OCI), and
//! checked against `skopeo inspect --raw`.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use flate2::read::GzDecoder;
use flate2::{Compression, GzBuilder};
use serde_json::{json, Value};

use crate::digest::{sha256_digest, sha256_hex};
use crate::http::{any_status, MANIFEST_ACCEPT};
use crate::registry::Registry;
use crate::skopeo::skopeo_ok;
use crate::Mode;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Number of tags `seed_standard` gives `demo/many` (`t000`..`t319`).
pub const STANDARD_MANY_TAGS: usize = 320;

/// Concurrent PUT streams of `add_tags`.
const ADD_TAGS_STREAMS: usize = 4;

/// What to build: gzip'd tar layers, a platform, and extra config fields.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    /// Each a tar.gz (e.g. from [`make_layer_tar_gz`]).
    pub layers: Vec<Vec<u8>>,
    /// (os, architecture, variant).
    pub platform: (String, String, Option<String>),
    /// Merged over the generated config's top-level object (if an object).
    pub config_extra: Value,
    /// Fields of the manifest and of its descriptors beyond the required ones; all empty
    /// by default, so that the JSON of the standard fixtures stays byte-identical.
    pub extras: ManifestExtras,
}

/// Optional manifest fields a fixture may carry (image-spec 1.1): annotations, artifact
/// types, and the platform's os.version and os.features.
#[derive(Clone, Debug, Default)]
pub struct ManifestExtras {
    /// The manifest's `annotations`.
    pub annotations: Vec<(String, String)>,
    /// The manifest's `artifactType`.
    pub artifact_type: Option<String>,
    /// `annotations` of layer i (missing entries: none).
    pub layer_annotations: Vec<Vec<(String, String)>>,
    /// `artifactType` of layer i (missing entries: none).
    pub layer_artifact_types: Vec<Option<String>>,
    /// Platform `os.version` (config and index entry).
    pub os_version: Option<String>,
    /// Platform `os.features` (config and index entry).
    pub os_features: Vec<String>,
    /// `annotations` of this image's entry in an index.
    pub entry_annotations: Vec<(String, String)>,
    /// `artifactType` of this image's entry in an index.
    pub entry_artifact_type: Option<String>,
}

fn object_of(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

impl ImageSpec {
    /// No layers yet, given platform, no extra config.
    pub fn new(os: &str, arch: &str, variant: Option<&str>) -> ImageSpec {
        ImageSpec {
            layers: Vec::new(),
            platform: (os.into(), arch.into(), variant.map(Into::into)),
            config_extra: Value::Null,
            extras: ManifestExtras::default(),
        }
    }

    /// linux/amd64 with layers of pseudo-random content of `sizes` bytes,
    /// the i-th from seed `seed + i`.
    pub fn random(seed: u64, sizes: &[usize]) -> ImageSpec {
        ImageSpec::new("linux", "amd64", None).with_random_layers(seed, sizes)
    }

    /// Adds layers of pseudo-random content of `sizes` bytes (seeds `seed + i`).
    pub fn with_random_layers(mut self, seed: u64, sizes: &[usize]) -> ImageSpec {
        for (i, size) in sizes.iter().enumerate() {
            self.layers.push(make_layer_tar_gz(seed + i as u64, *size));
        }
        self
    }

    /// Sets [`ImageSpec::config_extra`].
    pub fn with_config_extra(mut self, extra: Value) -> ImageSpec {
        self.config_extra = extra;
        self
    }

    /// Sets [`ImageSpec::extras`].
    pub fn with_extras(mut self, extras: ManifestExtras) -> ImageSpec {
        self.extras = extras;
        self
    }

    /// `os/arch` or `os/arch/variant`.
    pub fn platform_string(&self) -> String {
        let (os, arch, variant) = &self.platform;
        match variant {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        }
    }
}

impl Default for ImageSpec {
    fn default() -> Self {
        ImageSpec::new("linux", "amd64", None)
    }
}

/// An image manifest in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedImage {
    /// `HOST/repo:tag`, or `HOST/repo@digest` for an index child.
    pub reference: String,
    pub manifest_digest: String,
    pub manifest_bytes: Vec<u8>,
    pub config_digest: String,
    pub config_bytes: Vec<u8>,
    pub layer_digests: Vec<String>,
    pub layer_sizes: Vec<u64>,
    /// sha256 of each uncompressed layer tar (the config's `rootfs.diff_ids`).
    pub diff_ids: Vec<String>,
}

/// An OCI image index in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedIndex {
    /// `HOST/repo:tag`.
    pub reference: String,
    pub digest: String,
    pub manifest_bytes: Vec<u8>,
    /// (`os/arch[/variant]`, child image), in index order.
    pub children: Vec<(String, PushedImage)>,
}

/// What [`Registry::seed_standard`] pushed.
#[derive(Clone, Debug)]
pub struct Seeded {
    /// `demo/app:v1`: 2 layers (about 1 MiB and 20 kB), linux/amd64.
    pub app: PushedImage,
    /// `demo/multi:latest`: linux/amd64, linux/arm64/v8, linux/arm/v7.
    pub multi: PushedIndex,
    /// `demo/many:t000`; the same manifest is also tagged `t001`..`t319`.
    pub many: PushedImage,
    /// All tags of `demo/many`, sorted.
    pub many_tags: Vec<String>,
    /// `public/app:v1` (Token mode only; same content as `demo/app:v1`).
    pub public_app: Option<PushedImage>,
}

/// `artifactType` of the image of [`Registry::seed_annotated`] and of its index's Windows
/// entry.
pub const ANNOTATED_ARTIFACT_TYPE: &str = "application/vnd.example.getters+json";
/// `artifactType` of layer 1 of that image.
pub const ANNOTATED_LAYER_ARTIFACT_TYPE: &str = "application/vnd.example.part";
/// `os.version` of that index's Windows child.
pub const ANNOTATED_OS_VERSION: &str = "10.0.17763.1234";

/// What [`Registry::seed_annotated`] pushed.
#[derive(Clone, Debug)]
pub struct Annotated {
    /// `demo/annotated:v1`.
    pub image: PushedImage,
    /// Its manifest annotations, in the order written.
    pub image_annotations: Vec<(String, String)>,
    /// The annotations of its layer 0 (layer 1 has none, and an artifact type).
    pub layer_annotations: Vec<(String, String)>,
    /// `demo/annotated:index`: windows/amd64 (`os.version`, `os.features` win32k), then
    /// linux/arm64/v8.
    pub index: PushedIndex,
    /// The index's own annotations.
    pub index_annotations: Vec<(String, String)>,
    /// The annotations of the index's Windows entry.
    pub child_annotations: Vec<(String, String)>,
}

/// A deterministic, valid tar.gz holding one file (`layer-<seed>.bin`) of
/// `size` pseudo-random bytes from `seed`.
pub fn make_layer_tar_gz(seed: u64, size: usize) -> Vec<u8> {
    let content = pseudo_random_bytes(seed, size);
    let mut header = tar::Header::new_ustar();
    header
        .set_path(format!("layer-{seed}.bin"))
        .expect("tar path");
    header.set_size(size as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::with_capacity(size + 2048));
    builder
        .append(&header, content.as_slice())
        .expect("tar append");
    let tar = builder.into_inner().expect("tar finish");

    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::with_capacity(size + 4096), Compression::fast());
    gz.write_all(&tar).expect("gzip");
    gz.finish().expect("gzip finish")
}

/// splitmix64 stream.
fn pseudo_random_bytes(seed: u64, size: usize) -> Vec<u8> {
    let mut state = seed ^ 0x5eed_0f72_7e57_u64;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(size);
    out
}

/// An OCI image layout directory being written.
struct Layout<'a> {
    dir: &'a Path,
}

/// A manifest written into a layout, not yet pushed.
struct Built {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer_digests: Vec<String>,
    layer_sizes: Vec<u64>,
    diff_ids: Vec<String>,
}

impl<'a> Layout<'a> {
    fn create(dir: &'a Path) -> Layout<'a> {
        fs::create_dir_all(dir.join("blobs/sha256")).expect("create layout");
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        Layout { dir }
    }

    fn put_blob(&self, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        fs::write(
            self.dir.join("blobs/sha256").join(sha256_hex(&digest)),
            bytes,
        )
        .expect("write blob");
        digest
    }

    fn build_image(&self, spec: &ImageSpec) -> Built {
        let (os, arch, variant) = &spec.platform;
        let mut layer_digests = Vec::new();
        let mut layer_sizes = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in &spec.layers {
            let mut tar = Vec::new();
            GzDecoder::new(layer.as_slice())
                .read_to_end(&mut tar)
                .expect("ImageSpec layers must be gzip'd tars");
            diff_ids.push(sha256_digest(&tar));
            layer_digests.push(self.put_blob(layer));
            layer_sizes.push(layer.len() as u64);
        }
        let mut config = json!({
            "created": "2024-01-01T00:00:00Z",
            "architecture": arch,
            "os": os,
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": spec.layers.iter().enumerate()
                .map(|(i, _)| json!({"created": "2024-01-01T00:00:00Z", "created_by": format!("rr-testkit layer {i}")}))
                .collect::<Vec<_>>(),
        });
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        let extras = &spec.extras;
        if let Some(v) = &extras.os_version {
            config["os.version"] = json!(v);
        }
        if !extras.os_features.is_empty() {
            config["os.features"] = json!(extras.os_features);
        }
        if let (Some(obj), Some(extra)) = (config.as_object_mut(), spec.config_extra.as_object()) {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        let config = serde_json::to_vec(&config).expect("serialize config");
        let config_digest = self.put_blob(&config);
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len()},
            "layers": layer_digests.iter().zip(&layer_sizes).enumerate()
                .map(|(i, (d, s))| {
                    let mut layer = json!({"mediaType": OCI_LAYER_GZIP, "digest": d, "size": s});
                    if let Some(Some(t)) = extras.layer_artifact_types.get(i) {
                        layer["artifactType"] = json!(t);
                    }
                    match extras.layer_annotations.get(i) {
                        Some(a) if !a.is_empty() => layer["annotations"] = object_of(a),
                        _ => {}
                    }
                    layer
                })
                .collect::<Vec<_>>(),
        });
        if let Some(t) = &extras.artifact_type {
            manifest["artifactType"] = json!(t);
        }
        if !extras.annotations.is_empty() {
            manifest["annotations"] = object_of(&extras.annotations);
        }
        let manifest = serde_json::to_vec_pretty(&manifest).expect("serialize manifest");
        self.put_blob(&manifest);
        Built {
            manifest,
            config,
            layer_digests,
            layer_sizes,
            diff_ids,
        }
    }

    /// Writes index.json naming one top-level descriptor `name`.
    fn set_root(&self, name: &str, media_type: &str, bytes: &[u8]) {
        let index = json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": media_type,
                "digest": sha256_digest(bytes),
                "size": bytes.len(),
                "annotations": {REF_NAME: name},
            }],
        });
        fs::write(self.dir.join("index.json"), index.to_string()).expect("write index.json");
    }
}

fn platform_json(spec: &ImageSpec) -> Value {
    let (os, arch, variant) = &spec.platform;
    let mut p = json!({"architecture": arch, "os": os});
    if let Some(v) = variant {
        p["variant"] = json!(v);
    }
    if let Some(v) = &spec.extras.os_version {
        p["os.version"] = json!(v);
    }
    if !spec.extras.os_features.is_empty() {
        p["os.features"] = json!(spec.extras.os_features);
    }
    p
}

/// The entry of the image `built` from `spec` in an index.
fn index_entry(built: &Built, spec: &ImageSpec) -> Value {
    let mut entry = json!({
        "mediaType": OCI_MANIFEST,
        "digest": sha256_digest(&built.manifest),
        "size": built.manifest.len(),
        "platform": platform_json(spec),
    });
    if let Some(t) = &spec.extras.entry_artifact_type {
        entry["artifactType"] = json!(t);
    }
    if !spec.extras.entry_annotations.is_empty() {
        entry["annotations"] = object_of(&spec.extras.entry_annotations);
    }
    entry
}

fn split_repo_tag(repo_tag: &str) -> (&str, &str) {
    match repo_tag.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') && !repo.is_empty() && !tag.is_empty() => {
            (repo, tag)
        }
        _ => panic!("rr-testkit: expected REPO:TAG, got {repo_tag:?}"),
    }
}

impl Registry {
    fn push_layout(&self, layout_dir: &Path, repo_tag: &str, all: bool) {
        let out = self.skopeo_copy_to(
            &format!("oci:{}:fixture", layout_dir.display()),
            repo_tag,
            self.credentials(),
            all,
        );
        if !out.status.success() {
            panic!(
                "rr-testkit: skopeo push of {repo_tag} to {} ({}) failed ({}):\n{}\nregistry log:\n{}",
                self.host(),
                self.mode(),
                out.status,
                String::from_utf8_lossy(&out.stderr),
                self.log_tail(20)
            );
        }
    }

    fn pushed(&self, reference: String, built: Built) -> PushedImage {
        let manifest_digest = sha256_digest(&built.manifest);
        let raw = self.skopeo_inspect_raw(&reference);
        assert_eq!(
            sha256_digest(&raw),
            manifest_digest,
            "rr-testkit: registry's manifest for {reference} differs from the pushed one"
        );
        PushedImage {
            reference,
            manifest_digest,
            manifest_bytes: built.manifest,
            config_digest: sha256_digest(&built.config),
            config_bytes: built.config,
            layer_digests: built.layer_digests,
            layer_sizes: built.layer_sizes,
            diff_ids: built.diff_ids,
        }
    }

    /// Builds an OCI image from `spec` and pushes it as `repo_tag` with
    /// skopeo (mode's push credentials); asserts the registry serves the
    /// same manifest bytes.
    pub fn push_image(&self, repo_tag: &str, spec: &ImageSpec) -> PushedImage {
        split_repo_tag(repo_tag);
        let tmp = tempfile::tempdir_in(self.dir()).expect("layout temp dir");
        let layout = Layout::create(tmp.path());
        let built = layout.build_image(spec);
        layout.set_root("fixture", OCI_MANIFEST, &built.manifest);
        self.push_layout(tmp.path(), repo_tag, false);
        self.pushed(format!("{}/{repo_tag}", self.host()), built)
    }

    /// Builds a multi-platform OCI index (one image per spec) and pushes it
    /// as `repo_tag` with `skopeo copy --all`; asserts the registry serves
    /// the same index and child manifest bytes.
    pub fn push_index(&self, repo_tag: &str, specs: &[ImageSpec]) -> PushedIndex {
        self.push_index_annotated(repo_tag, specs, &[])
    }

    /// [`Registry::push_index`] with the index's own `annotations` (none: the same bytes
    /// as `push_index`).
    pub fn push_index_annotated(
        &self,
        repo_tag: &str,
        specs: &[ImageSpec],
        annotations: &[(String, String)],
    ) -> PushedIndex {
        let (repo, _) = split_repo_tag(repo_tag);
        assert!(
            !specs.is_empty(),
            "rr-testkit: an index needs at least one image"
        );
        let tmp = tempfile::tempdir_in(self.dir()).expect("layout temp dir");
        let layout = Layout::create(tmp.path());
        let built: Vec<Built> = specs.iter().map(|s| layout.build_image(s)).collect();
        let mut index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": built.iter().zip(specs).map(|(b, s)| index_entry(b, s)).collect::<Vec<_>>(),
        });
        if !annotations.is_empty() {
            index["annotations"] = object_of(annotations);
        }
        let index = serde_json::to_vec_pretty(&index).expect("serialize index");
        layout.put_blob(&index);
        layout.set_root("fixture", OCI_INDEX, &index);
        self.push_layout(tmp.path(), repo_tag, true);
        let extras = !annotations.is_empty()
            || specs.iter().any(|s| {
                s.extras.entry_artifact_type.is_some() || !s.extras.entry_annotations.is_empty()
            });
        if extras {
            // skopeo 1.9 writes the index again from what it understands, dropping an
            // entry's artifactType: its children are in place, so the exact bytes go up
            // over what it wrote.
            let (_, tag) = split_repo_tag(repo_tag);
            self.put_manifest_bytes(repo, tag, OCI_INDEX, &index);
        }

        let digest = sha256_digest(&index);
        let reference = format!("{}/{repo_tag}", self.host());
        let raw = self.skopeo_inspect_raw(&reference);
        assert_eq!(
            sha256_digest(&raw),
            digest,
            "rr-testkit: registry's index for {reference} differs from the pushed one"
        );
        let children = built
            .into_iter()
            .zip(specs)
            .map(|(b, s)| {
                let child_ref = format!("{}/{repo}@{}", self.host(), sha256_digest(&b.manifest));
                (s.platform_string(), self.pushed(child_ref, b))
            })
            .collect();
        PushedIndex {
            reference,
            digest,
            manifest_bytes: index,
            children,
        }
    }

    /// PUTs `bytes` as the manifest `repo:tag` with the registry's own HTTP API (mode's
    /// push credentials), expecting 201.
    pub fn put_manifest_bytes(&self, repo: &str, tag: &str, media_type: &str, bytes: &[u8]) {
        let scope = format!("repository:{repo}:pull,push");
        let mut request = self
            .agent()
            .put(&self.url(&format!("/v2/{repo}/manifests/{tag}")))
            .set("Content-Type", media_type);
        if let Some(a) = self.auth_header(&[&scope]) {
            request = request.set("Authorization", &a);
        }
        let r = any_status(request.send_bytes(bytes))
            .unwrap_or_else(|e| panic!("rr-testkit: PUT {repo}:{tag}: {e}"));
        assert_eq!(
            r.status(),
            201,
            "rr-testkit: PUT {repo}:{tag} answered {}: {}",
            r.status(),
            r.into_string().unwrap_or_default()
        );
    }

    /// Tags the manifest `repo:source_tag` also as each of `tags`, by PUTting
    /// the same bytes directly (fast: hundreds of tags in about a second).
    pub fn add_tags(&self, repo: &str, source_tag: &str, tags: &[String]) {
        let scope = format!("repository:{repo}:pull,push");
        let auth = self.auth_header(&[&scope]);
        let agent = self.agent();
        let with_auth = |r: ureq::Request| match &auth {
            Some(a) => r.set("Authorization", a),
            None => r,
        };
        let url = self.url(&format!("/v2/{repo}/manifests/{source_tag}"));
        let resp = with_auth(agent.get(&url))
            .set("Accept", MANIFEST_ACCEPT)
            .call()
            .unwrap_or_else(|e| panic!("rr-testkit: GET {url}: {e}"));
        let content_type = resp
            .header("Content-Type")
            .unwrap_or(OCI_MANIFEST)
            .to_string();
        let mut bytes = Vec::new();
        resp.into_reader()
            .read_to_end(&mut bytes)
            .expect("read manifest");
        // A few concurrent PUT streams: each PUT costs the registry several
        // milliseconds of filesystem work.
        let put = |tag: &String| {
            let url = self.url(&format!("/v2/{repo}/manifests/{tag}"));
            let r = any_status(
                with_auth(agent.put(&url))
                    .set("Content-Type", &content_type)
                    .send_bytes(&bytes),
            )
            .unwrap_or_else(|e| panic!("rr-testkit: PUT {url}: {e}"));
            assert_eq!(
                r.status(),
                201,
                "rr-testkit: PUT {url} answered {}: {}",
                r.status(),
                r.into_string().unwrap_or_default()
            );
        };
        let chunk = tags.len().div_ceil(ADD_TAGS_STREAMS).max(1);
        std::thread::scope(|s| {
            for part in tags.chunks(chunk) {
                s.spawn(|| part.iter().for_each(put));
            }
        });
    }

    /// Pushes the fixtures most tests want: `demo/app:v1` (2 layers),
    /// `demo/multi:latest` (index: linux/amd64, linux/arm64/v8,
    /// linux/arm/v7), `demo/many` tagged `t000`..`t319`, and in Token mode
    /// `public/app:v1`.
    pub fn seed_standard(&self) -> Seeded {
        let app_spec = standard_app_spec();
        let app = self.push_image("demo/app:v1", &app_spec);

        let multi_specs = [
            ImageSpec::new("linux", "amd64", None).with_random_layers(100, &[3000, 4000]),
            ImageSpec::new("linux", "arm64", Some("v8")).with_random_layers(110, &[3100, 4100]),
            ImageSpec::new("linux", "arm", Some("v7")).with_random_layers(120, &[3200, 4200]),
        ];
        let multi = self.push_index("demo/multi:latest", &multi_specs);

        let many = self.push_image("demo/many:t000", &ImageSpec::random(200, &[1500]));
        let many_tags: Vec<String> = (0..STANDARD_MANY_TAGS)
            .map(|i| format!("t{i:03}"))
            .collect();
        self.add_tags("demo/many", "t000", &many_tags[1..]);

        let public_app =
            (self.mode() == Mode::Token).then(|| self.push_image("public/app:v1", &app_spec));
        Seeded {
            app,
            multi,
            many,
            many_tags,
            public_app,
        }
    }

    /// Pushes the fixtures of the getters (not part of `seed_standard`, whose bytes stay
    /// as they are): `demo/annotated:v1`, an image with manifest and layer annotations and
    /// artifact types, and `demo/annotated:index`, an index with its own annotations over a
    /// Windows child (`os.version` 10.0.17763.1234, `os.features` win32k, annotated, with
    /// an artifact type) and a linux/arm64/v8 child. The values are in
    /// [`Annotated::image_annotations`] and the other fields.
    pub fn seed_annotated(&self) -> Annotated {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let image_annotations = pairs(&[
            ("org.opencontainers.image.created", "2024-01-01T00:00:00Z"),
            ("org.example.empty", ""),
            ("org.example.unicode", "grüße ✓"),
        ]);
        let layer_annotations = pairs(&[("org.opencontainers.image.title", "layer-0.tar.gz")]);
        let image = self.push_image(
            "demo/annotated:v1",
            &ImageSpec::random(300, &[2000, 1000]).with_extras(ManifestExtras {
                annotations: image_annotations.clone(),
                artifact_type: Some(ANNOTATED_ARTIFACT_TYPE.into()),
                layer_annotations: vec![layer_annotations.clone()],
                layer_artifact_types: vec![None, Some(ANNOTATED_LAYER_ARTIFACT_TYPE.into())],
                ..ManifestExtras::default()
            }),
        );
        let child_annotations = pairs(&[("org.example.child", "windows")]);
        let index_annotations = pairs(&[("org.opencontainers.image.ref.name", "index")]);
        let index = self.push_index_annotated(
            "demo/annotated:index",
            &[
                ImageSpec::new("windows", "amd64", None)
                    .with_random_layers(310, &[1500])
                    .with_extras(ManifestExtras {
                        os_version: Some(ANNOTATED_OS_VERSION.into()),
                        os_features: vec!["win32k".into()],
                        entry_annotations: child_annotations.clone(),
                        entry_artifact_type: Some(ANNOTATED_ARTIFACT_TYPE.into()),
                        ..ManifestExtras::default()
                    }),
                ImageSpec::new("linux", "arm64", Some("v8")).with_random_layers(320, &[1600]),
            ],
            &index_annotations,
        );
        Annotated {
            image,
            image_annotations,
            layer_annotations,
            index,
            index_annotations,
            child_annotations,
        }
    }

    /// `skopeo inspect --raw` of each given reference, checked to be valid
    /// JSON; a convenience for tests comparing with the registry's view.
    pub fn skopeo_inspect_json(&self, reference: &str) -> Value {
        let raw = self.skopeo_inspect_raw(reference);
        serde_json::from_slice(&raw)
            .unwrap_or_else(|e| panic!("rr-testkit: manifest of {reference} is not JSON: {e}"))
    }

    /// `skopeo list-tags` of `repo`, sorted.
    pub fn skopeo_list_tags(&self, repo: &str) -> Vec<String> {
        let mut args = vec!["list-tags".to_string()];
        args.extend(self.skopeo_args());
        args.push(self.docker_ref(repo));
        let out = skopeo_ok(&args);
        let v: Value = serde_json::from_slice(&out).expect("list-tags output is JSON");
        let mut tags: Vec<String> = v["Tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }
}

/// The spec of `demo/app:v1` (and `public/app:v1`).
fn standard_app_spec() -> ImageSpec {
    ImageSpec::new("linux", "amd64", None)
        .with_random_layers(1, &[(1 << 20) + 123, 20_000])
        .with_config_extra(json!({
            "config": {
                "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "APP=demo"],
                "Entrypoint": ["/app"],
                "Labels": {"org.example.fixture": "rr-testkit"},
            }
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_deterministic_valid_tars() {
        let a = make_layer_tar_gz(7, 10_000);
        assert_eq!(a, make_layer_tar_gz(7, 10_000));
        assert_ne!(a, make_layer_tar_gz(8, 10_000));
        let mut tar = tar::Archive::new(GzDecoder::new(a.as_slice()));
        let mut entries = tar.entries().unwrap();
        let mut e = entries.next().unwrap().unwrap();
        assert_eq!(e.path().unwrap().to_str(), Some("layer-7.bin"));
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        assert_eq!(content, pseudo_random_bytes(7, 10_000));
        assert!(entries.next().is_none());
        assert!(!make_layer_tar_gz(1, 0).is_empty());
    }

    #[test]
    fn repo_tag_split() {
        assert_eq!(split_repo_tag("demo/app:v1"), ("demo/app", "v1"));
    }
}
