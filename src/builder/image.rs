//! The image builder: layer files and a base config (or a base image) in, an OCI image out.

use super::layer_file::{scan_layer, Compression};
use super::{
    default_created, json_kind, set_platform_fields, to_json, DescriptorJson, ManifestJson,
};
use crate::digest;
use crate::error::{Error, Result};
use crate::image::{Image, CONFIG_SIZE_LIMIT};
use crate::manifest::{OCI_CONFIG, OCI_MANIFEST};
use crate::platform::Platform;
use crate::source::{BlobSource, LocalBlob, LocalStore};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A layer file added to a builder.
#[derive(Debug, Clone)]
pub(super) struct Layer {
    pub(super) path: PathBuf,
    pub(super) media_type: String,
    pub(super) size: u64,
    pub(super) digest: String,
    pub(super) diff_id: String,
}

/// Builds one image from layer files and a base config. Not shared between threads; it
/// stays usable after `build`, which may be called again.
#[derive(Debug, Clone, Default)]
pub struct ImageBuilder {
    pub(super) platform: Option<Platform>,
    pub(super) config: Option<Map<String, Value>>,
    pub(super) base: Option<Base>,
    pub(super) layers: Vec<Layer>,
}

/// An image the built one starts from: its layers stay where that image keeps them.
#[derive(Debug, Clone)]
pub(super) struct Base {
    pub(super) image: Image,
    pub(super) diff_ids: Vec<Value>,
    pub(super) history: Vec<Value>,
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
    pub(super) fn config_bytes(&self, source_date_epoch: Option<&str>) -> Result<Vec<u8>> {
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
