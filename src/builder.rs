//! Building images and indexes from local material: layer files (tar, tar+gzip or
//! tar+zstd, stored exactly as given), a base config, a platform; and indexes from images.
//!
//! Each layer file is read once, when it is added, in one streaming pass that checks it is
//! what its media type says and computes its size, its digest (sha256 of the file) and its
//! diff_id (sha256 of the uncompressed tar stream). The built image reads the files again
//! when its layers are pushed or saved, through a verifying reader: a file changed in the
//! meantime gives a digest mismatch rather than a wrong image.
//!
//! Builds are reproducible: nothing depends on the clock. Times come from the base config,
//! else `SOURCE_DATE_EPOCH`, else the Unix epoch.

use crate::digest::{self, Hasher};
use crate::error::{Error, Result};
use crate::image::{Image, CONFIG_SIZE_LIMIT};
use crate::index::Index;
use crate::manifest::{
    OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use crate::platform::Platform;
use crate::source::{BlobSource, LocalBlob, LocalStore};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The time written when neither the base config nor `SOURCE_DATE_EPOCH` gives one.
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// How a layer's tar stream is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression a layer media type stands for; None for a type that is not a layer.
    fn of_media_type(media_type: &str) -> Option<Compression> {
        if media_type.ends_with("+gzip") || media_type.ends_with(".gzip") {
            Some(Compression::Gzip)
        } else if media_type.ends_with("+zstd") {
            Some(Compression::Zstd)
        } else if media_type.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// What the first bytes of a file say it is; anything without a known magic number is
    /// taken for a plain tar (and then checked as one).
    fn of_content(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The OCI media type of a layer compressed this way.
    fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => OCI_LAYER_TAR,
            Compression::Gzip => OCI_LAYER_GZIP,
            Compression::Zstd => OCI_LAYER_ZSTD,
        }
    }

    /// For messages: what content compressed this way is.
    fn describe(self) -> &'static str {
        match self {
            Compression::None => "not compressed (no gzip or zstd header)",
            Compression::Gzip => "gzip-compressed",
            Compression::Zstd => "zstd-compressed",
        }
    }
}

/// A layer file added to a builder.
#[derive(Debug, Clone)]
struct Layer {
    path: PathBuf,
    media_type: String,
    size: u64,
    digest: String,
    diff_id: String,
}

/// Builds one image from layer files and a base config. Not shared between threads; it
/// stays usable after `build`, which may be called again.
#[derive(Debug, Clone, Default)]
pub struct ImageBuilder {
    platform: Option<Platform>,
    config: Option<Map<String, Value>>,
    base: Option<Base>,
    layers: Vec<Layer>,
}

/// An image the built one starts from: its layers stay where that image keeps them.
#[derive(Debug, Clone)]
struct Base {
    image: Image,
    diff_ids: Vec<Value>,
    history: Vec<Value>,
}

impl ImageBuilder {
    pub fn new() -> ImageBuilder {
        ImageBuilder::default()
    }

    /// Sets the platform (`os/arch[/variant][:os.version]`) written into the config. Without
    /// one, the base config's own `os` and `architecture` are kept, else `linux/amd64`.
    pub fn set_platform(&mut self, platform: &str) -> Result<()> {
        self.platform = Some(Platform::parse(platform)?);
        Ok(())
    }

    /// Sets the base config, which must be a JSON object. Its `rootfs` and `history` are
    /// replaced at build time; everything else is kept.
    pub fn set_config(&mut self, json: &[u8]) -> Result<()> {
        if json.len() as u64 > CONFIG_SIZE_LIMIT {
            return Err(Error::invalid_argument(format!(
                "the base config is {} bytes, more than the {CONFIG_SIZE_LIMIT} allowed",
                json.len()
            )));
        }
        let value: Value = serde_json::from_slice(json).map_err(|e| {
            Error::invalid_argument(format!("the base config is not valid JSON: {e}"))
        })?;
        match value {
            Value::Object(map) => {
                self.config = Some(map);
                Ok(())
            }
            other => Err(Error::invalid_argument(format!(
                "the base config must be a JSON object, not {}",
                json_kind(&other)
            ))),
        }
    }

    /// Adds the layer file at `path`, stored as it is. `media_type` None means "detect it"
    /// from the content (gzip, zstd or plain tar). The file is read once, now: a missing or
    /// unreadable file is `ErrorKind::Io`; an unknown layer media type, content that does
    /// not match its media type or that is not a tar stream is `ErrorKind::InvalidArgument`.
    pub fn add_layer_file(&mut self, path: &Path, media_type: Option<&str>) -> Result<()> {
        let declared = match media_type {
            None => None,
            Some(mt) => Some(Compression::of_media_type(mt).ok_or_else(|| {
                Error::invalid_argument(format!(
                    "unknown layer media type {mt:?} for layer file {}: expected a tar, \
                     tar+gzip or tar+zstd layer type",
                    path.display()
                ))
            })?),
        };
        // Kept absolute, so that a later change of the working directory does not matter.
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let scan = scan_layer(&path, declared, media_type)?;
        self.layers.push(Layer {
            media_type: media_type
                .map(str::to_string)
                .unwrap_or_else(|| scan.compression.oci_media_type().to_string()),
            size: scan.size,
            digest: scan.digest,
            diff_id: scan.diff_id,
            path,
        });
        Ok(())
    }

    /// Starts from `base`: its layers come first (left where `base` keeps them, so that a
    /// push to the same registry mounts them), its config becomes the base config (a later
    /// `set_config` replaces it) and its history is kept. Replaces an earlier base.
    pub fn set_base_image(&mut self, base: &Image) -> Result<()> {
        let what = format!("base image {}", base.digest());
        let config: Value = serde_json::from_slice(base.config()?)
            .map_err(|e| Error::invalid_argument(format!("{what}: its config is not JSON: {e}")))?;
        let Value::Object(config) = config else {
            return Err(Error::invalid_argument(format!(
                "{what}: its config is not a JSON object"
            )));
        };
        let diff_ids = config
            .get("rootfs")
            .and_then(|r| r.get("diff_ids"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if diff_ids.len() != base.layers().len() || !diff_ids.iter().all(Value::is_string) {
            return Err(Error::invalid_argument(format!(
                "{what}: its config lists {} diff_ids for {} layers",
                diff_ids.len(),
                base.layers().len()
            )));
        }
        let history = config
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.config = Some(config);
        self.base = Some(Base {
            image: base.clone(),
            diff_ids,
            history,
        });
        Ok(())
    }

    /// Makes the image: the config (base config with platform, rootfs, history and created
    /// filled in) and an OCI manifest. The image holds its config bytes and the layer paths.
    pub fn build(&self) -> Result<Image> {
        let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
        let config = self.config_bytes(epoch.as_deref())?;
        let config_digest = digest::of_bytes(&config);
        let manifest = ManifestJson {
            schema_version: 2,
            media_type: OCI_MANIFEST,
            config: DescriptorJson {
                media_type: OCI_CONFIG,
                digest: &config_digest,
                size: config.len() as u64,
            },
            layers: self
                .base
                .iter()
                .flat_map(|b| b.image.layers())
                .map(|l| DescriptorJson {
                    media_type: &l.media_type,
                    digest: &l.digest,
                    size: l.size,
                })
                .chain(self.layers.iter().map(|l| DescriptorJson {
                    media_type: &l.media_type,
                    digest: &l.digest,
                    size: l.size,
                }))
                .collect(),
        };
        let manifest_bytes = to_json(&manifest, "the image manifest")?;
        let manifest_digest = digest::of_bytes(&manifest_bytes);

        let mut blobs = HashMap::new();
        if let Some(base) = &self.base {
            for layer in base.image.layers() {
                blobs.insert(
                    layer.digest.clone(),
                    LocalBlob::Source(base.image.source().source_of(&layer.digest)),
                );
            }
        }
        for layer in &self.layers {
            blobs.insert(layer.digest.clone(), LocalBlob::File(layer.path.clone()));
        }
        blobs.insert(
            config_digest,
            LocalBlob::Bytes(Arc::from(config.as_slice())),
        );
        let store = LocalStore {
            blobs,
            ..LocalStore::default()
        };
        Ok(Image::new(
            BlobSource::Local(Arc::new(store)),
            manifest_bytes,
            OCI_MANIFEST.to_string(),
            manifest_digest,
        )?
        .with_config(config))
    }

    /// The config as it will be built, with `source_date_epoch` standing for the
    /// environment variable.
    fn config_bytes(&self, source_date_epoch: Option<&str>) -> Result<Vec<u8>> {
        let mut config = self.config.clone().unwrap_or_default();

        match &self.platform {
            Some(p) => set_platform_fields(&mut config, p),
            None => {
                let has = |key: &str| {
                    config
                        .get(key)
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty())
                };
                if !(has("os") && has("architecture")) {
                    set_platform_fields(&mut config, &Platform::linux_amd64());
                }
            }
        }

        let created = match config.get("created").and_then(Value::as_str) {
            Some(t) => t.to_string(),
            None => {
                let t = default_created(source_date_epoch);
                config.insert("created".into(), Value::from(t.clone()));
                t
            }
        };
        let diff_ids: Vec<Value> = self
            .base
            .iter()
            .flat_map(|b| b.diff_ids.iter().cloned())
            .chain(self.layers.iter().map(|l| Value::from(l.diff_id.as_str())))
            .collect();
        let mut rootfs = Map::new();
        rootfs.insert("type".into(), Value::from("layers"));
        rootfs.insert("diff_ids".into(), Value::Array(diff_ids));
        config.insert("rootfs".into(), Value::Object(rootfs));

        let history: Vec<Value> = self
            .base
            .iter()
            .flat_map(|b| b.history.iter().cloned())
            .chain(self.layers.iter().map(|l| {
                let name = l.path.file_name().map_or_else(
                    || l.path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let mut entry = Map::new();
                entry.insert("created".into(), Value::from(created.as_str()));
                entry.insert(
                    "created_by".into(),
                    Value::from(format!("rr image builder: {name}")),
                );
                Value::Object(entry)
            }))
            .collect();
        config.insert("history".into(), Value::Array(history));

        to_json(&Value::Object(config), "the image config")
    }
}

/// Builds an index from images, in the order they are added. Not shared between threads;
/// it stays usable after `build`.
#[derive(Debug, Clone, Default)]
pub struct IndexBuilder {
    entries: Vec<(Image, Platform)>,
}

impl IndexBuilder {
    pub fn new() -> IndexBuilder {
        IndexBuilder::default()
    }

    /// Adds `image` (a clone is kept) under `platform`, or, when None, the platform its
    /// config declares (the config is fetched for a remote image). The same image with the
    /// same platform is listed once.
    pub fn add_image(&mut self, image: &Image, platform: Option<&str>) -> Result<()> {
        let platform = match platform {
            Some(p) => Platform::parse(p)?,
            None => platform_of_config(image)?,
        };
        let known = self
            .entries
            .iter()
            .any(|(i, p)| i.digest() == image.digest() && *p == platform);
        if !known {
            self.entries.push((image.clone(), platform));
        }
        Ok(())
    }

    /// Makes an OCI index of the images added so far; at least one is needed.
    pub fn build(&self) -> Result<Index> {
        if self.entries.is_empty() {
            return Err(Error::invalid_argument(
                "the index builder has no images: add at least one before building",
            ));
        }
        let index = IndexJson {
            schema_version: 2,
            media_type: OCI_INDEX,
            manifests: self
                .entries
                .iter()
                .map(|(image, p)| IndexEntryJson {
                    media_type: image.media_type(),
                    digest: image.digest(),
                    size: image.manifest_bytes().len() as u64,
                    platform: PlatformJson {
                        architecture: &p.architecture,
                        os: &p.os,
                        os_version: p.os_version.as_deref().filter(|v| !v.is_empty()),
                        variant: p.variant.as_deref().filter(|v| !v.is_empty()),
                    },
                })
                .collect(),
        };
        let bytes = to_json(&index, "the index")?;
        let digest = digest::of_bytes(&bytes);
        let mut store = LocalStore::default();
        for (image, _) in &self.entries {
            image.keep_in(&mut store);
        }
        Index::new(
            BlobSource::Local(Arc::new(store)),
            bytes,
            OCI_INDEX.to_string(),
            digest,
        )
    }
}

// ---------------------------------------------------------------------------------------
// JSON written by the builders; structs so that the field order is fixed.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestJson<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: DescriptorJson<'a>,
    layers: Vec<DescriptorJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DescriptorJson<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexJson<'a> {
    schema_version: u32,
    media_type: &'a str,
    manifests: Vec<IndexEntryJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntryJson<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
    platform: PlatformJson<'a>,
}

#[derive(Serialize)]
struct PlatformJson<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    os_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
}

fn to_json<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| Error::invalid_argument(format!("cannot serialise {what}: {e}")))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Writes `p` into a config: `os`, `architecture`, and `variant` / `os.version` when the
/// platform has them (removed otherwise, so that they cannot contradict it).
fn set_platform_fields(config: &mut Map<String, Value>, p: &Platform) {
    config.insert("architecture".into(), Value::from(p.architecture.as_str()));
    config.insert("os".into(), Value::from(p.os.as_str()));
    for (key, value) in [("variant", &p.variant), ("os.version", &p.os_version)] {
        match value.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => {
                config.insert(key.into(), Value::from(v));
            }
            None => {
                config.remove(key);
            }
        }
    }
}

/// RFC 3339 for `SOURCE_DATE_EPOCH` (seconds since the epoch) when it is a valid time,
/// else the epoch itself.
fn default_created(source_date_epoch: Option<&str>) -> String {
    source_date_epoch
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| EPOCH.to_string())
}

/// The platform an image's config declares (os and architecture required).
fn platform_of_config(image: &Image) -> Result<Platform> {
    let config = image.config()?;
    let no_platform = |why: &str| {
        Error::invalid_argument(format!(
            "image {} has no platform: its config {why}; give one",
            image.digest()
        ))
    };
    let value: Value =
        serde_json::from_slice(config).map_err(|_| no_platform("is not valid JSON"))?;
    let platform = Platform::from_json(&value)
        .filter(|p| !p.os.is_empty() && !p.architecture.is_empty())
        .ok_or_else(|| no_platform("names no os and architecture"))?;
    Ok(Platform {
        os_features: Vec::new(),
        features: Vec::new(),
        ..platform.normalized()
    })
}

// ---------------------------------------------------------------------------------------
// Reading a layer file: one pass, hashing the stored bytes and the uncompressed stream.

/// What one pass over a layer file found.
struct Scan {
    compression: Compression,
    size: u64,
    digest: String,
    diff_id: String,
}

/// Reads the file and hashes every byte read. A failure to read the file itself is kept
/// (as `ErrorKind::Io`), so that it is not mistaken for bad content once a decompressor or
/// the tar reader has passed it on.
struct FileReader<R> {
    inner: R,
    hasher: Hasher,
    path: PathBuf,
    failure: Option<Error>,
}

impl<R: Read> Read for FileReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let err = Error::io(format!("reading layer file {}", self.path.display()), &e);
                self.failure = Some(err.clone());
                Err(err.into_io())
            }
        }
    }
}

/// Hashes what passes through it (the uncompressed tar stream).
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Walks every entry header of the tar stream `r` (skipping the entries' data), then
/// reads the rest of it (end-of-archive blocks, padding), so that all of it is hashed.
fn walk_tar<R: Read>(r: &mut R) -> io::Result<()> {
    {
        let mut archive = tar::Archive::new(&mut *r);
        for entry in archive.entries()? {
            entry?;
        }
    }
    io::copy(r, &mut io::sink())?;
    Ok(())
}

/// Decompresses `raw` as `compression` says and walks the tar inside. Returns the hasher
/// of the uncompressed stream, or None when the file is itself the tar stream.
fn walk_layer<R: Read>(raw: &mut R, compression: Compression) -> io::Result<Option<Hasher>> {
    fn walk<D: Read>(decoder: D) -> io::Result<Hasher> {
        let mut stream = HashingReader {
            inner: decoder,
            hasher: Hasher::new(),
        };
        walk_tar(&mut stream)?;
        Ok(stream.hasher)
    }
    match compression {
        Compression::None => walk_tar(raw).map(|()| None),
        Compression::Gzip => walk(flate2::read::MultiGzDecoder::new(raw)).map(Some),
        Compression::Zstd => walk(zstd::stream::read::Decoder::new(raw)?).map(Some),
    }
}

/// An I/O error with its causes (the tar crate puts the reason in a source).
fn io_error_chain(e: &io::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    // The tar crate quotes the bytes it could not parse: keep the message printable.
    let printable: String = text
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{fffd}' {
                '?'
            } else {
                c
            }
        })
        .take(300)
        .collect();
    printable.trim_end().to_string()
}

/// Reads up to `buf.len()` bytes (fewer only at the end of the file).
fn read_head(file: &mut std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// One streaming pass over the layer file at `path`: checks its content against the
/// declared compression (or detects it) and that it holds a tar stream; computes size,
/// digest and diff_id.
fn scan_layer(
    path: &Path,
    declared: Option<Compression>,
    media_type: Option<&str>,
) -> Result<Scan> {
    let shown = path.display();
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot open layer file {shown}"), &e))?;
    let mut head = [0u8; 4];
    let got = read_head(&mut file, &mut head)
        .map_err(|e| Error::io(format!("reading layer file {shown}"), &e))?;
    let head = &head[..got];
    if head.is_empty() {
        return Err(Error::invalid_argument(format!(
            "layer file {shown} is empty, which is not a tar archive"
        )));
    }
    let found = Compression::of_content(head);
    let compression = match declared {
        Some(declared) if declared != found => {
            return Err(Error::invalid_argument(format!(
                "layer file {shown} does not match its media type {}: the content is {}, \
                 the media type says {}",
                media_type.unwrap_or_default(),
                found.describe(),
                declared.describe()
            )))
        }
        Some(declared) => declared,
        None => found,
    };

    let mut raw = FileReader {
        inner: io::BufReader::with_capacity(256 * 1024, io::Cursor::new(head.to_vec()).chain(file)),
        hasher: Hasher::new(),
        path: path.to_path_buf(),
        failure: None,
    };
    let walked = walk_layer(&mut raw, compression);
    if let Some(failure) = raw.failure.take() {
        return Err(failure);
    }
    let not_a_layer = |why: String| {
        let inside = match compression {
            Compression::None => String::new(),
            other => format!(" ({} content)", other.describe()),
        };
        Error::invalid_argument(format!(
            "layer file {shown} is not a valid tar archive{inside}: {why}"
        ))
    };
    let uncompressed = walked.map_err(|e| not_a_layer(io_error_chain(&e)))?;
    // Whatever the decompressor left unread (nothing, normally) is still part of the file.
    io::copy(&mut raw, &mut io::sink()).map_err(|e| {
        raw.failure
            .take()
            .unwrap_or_else(|| Error::io(format!("reading layer file {shown}"), &e))
    })?;

    let size = raw.hasher.len();
    let digest = raw.hasher.finish();
    let diff_id = match uncompressed {
        None => digest.clone(),
        Some(h) if h.is_empty() => {
            return Err(not_a_layer("it decompresses to nothing".into()));
        }
        Some(h) => h.finish(),
    };
    Ok(Scan {
        compression,
        size,
        digest,
        diff_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::of_bytes;
    use crate::error::ErrorKind;
    use std::io::Write;

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
}
