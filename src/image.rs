//! An image: its manifest (exact bytes and parsed view), its config (fetched once, on
//! first use, verified) and its layers, streamed from wherever its blobs live.

use crate::error::{Error, Result};
use crate::manifest::{Descriptor, ImageManifest};
use crate::remote::client::Operation;
use crate::remote::progress::{BlobMark, Phase};
use crate::remote::Client;
use crate::source::{BlobSource, LocalBlob, LocalStore, SourceContexts, StoredManifest};
use once_cell::sync::OnceCell;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::io::{Seek, Write};
use std::path::Path;
use std::sync::Arc;

/// Configs larger than this are refused rather than held in memory.
pub const CONFIG_SIZE_LIMIT: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Image {
    digest: String,
    media_type: String,
    manifest_bytes: Vec<u8>,
    manifest: ImageManifest,
    source: BlobSource,
    /// Shared by the copies `through` makes: the config is fetched once for all of them.
    config: Arc<OnceCell<Vec<u8>>>,
}

impl Image {
    pub fn new(
        source: BlobSource,
        manifest_bytes: Vec<u8>,
        media_type: String,
        digest: String,
    ) -> Result<Image> {
        let what = format!("image {}@{digest}", source.describe());
        let manifest = ImageManifest::parse(&manifest_bytes, &what)?;
        Ok(Image {
            digest,
            media_type,
            manifest_bytes,
            manifest,
            source,
            config: Arc::default(),
        })
    }

    /// This image with its reads (config, layers) made through `client` instead of the
    /// client it came from: for a host that bounds each read with a derived client.
    pub fn through(&self, client: &Client) -> Image {
        Image {
            source: self.source.through(client),
            ..self.clone()
        }
    }

    /// An image whose config bytes are already known (a builder made them).
    pub(crate) fn with_config(self, config: Vec<u8>) -> Image {
        let _ = self.config.set(config);
        self
    }

    pub fn digest(&self) -> &str {
        &self.digest
    }
    pub fn media_type(&self) -> &str {
        &self.media_type
    }
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }
    pub fn manifest(&self) -> &ImageManifest {
        &self.manifest
    }
    pub fn layers(&self) -> &[Descriptor] {
        &self.manifest.layers
    }
    /// The config's descriptor (digest, size, media type), from the manifest: no fetch.
    pub fn config_descriptor(&self) -> &Descriptor {
        &self.manifest.config
    }
    /// The manifest's own annotations (not its layers').
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.manifest.annotations
    }
    /// The manifest's `artifactType`, when it has one.
    pub fn artifact_type(&self) -> Option<&str> {
        self.manifest.artifact_type.as_deref()
    }
    /// The manifest's `subject`: the manifest it refers to, when it is a referrer.
    pub fn subject(&self) -> Option<&Descriptor> {
        self.manifest.subject.as_ref()
    }
    /// The image's size as its manifest states it: the config and every layer, each
    /// distinct digest once (a layer listed twice is one blob); the manifest itself is not
    /// counted. Without foreign (non-distributable) layers, which a push skips, it is the
    /// `total` a pull's or push's progress reports.
    pub fn total_size(&self) -> u64 {
        let mut seen = HashSet::new();
        std::iter::once(&self.manifest.config)
            .chain(&self.manifest.layers)
            .filter(|d| seen.insert(d.digest.as_str()))
            .fold(0u64, |sum, d| sum.saturating_add(d.size))
    }
    pub fn source(&self) -> &BlobSource {
        &self.source
    }

    /// Puts this image into `store`: its manifest, and where each of its blobs is, so that
    /// an index held in `store` finds it as a child.
    pub(crate) fn keep_in(&self, store: &mut LocalStore) {
        store.manifests.insert(
            self.digest.clone(),
            StoredManifest {
                bytes: self.manifest_bytes.clone(),
                media_type: self.media_type.clone(),
            },
        );
        for blob in std::iter::once(&self.manifest.config).chain(&self.manifest.layers) {
            store
                .blobs
                .entry(blob.digest.clone())
                .or_insert_with(|| LocalBlob::Source(self.source.source_of(&blob.digest)));
        }
    }

    /// The config blob's bytes, fetched and verified on the first call only.
    pub fn config(&self) -> Result<&[u8]> {
        self.config
            .get_or_try_init(|| {
                let (contexts, _op) = self.source.own_contexts()?;
                self.source
                    .read_small(&self.manifest.config, CONFIG_SIZE_LIMIT, &contexts)
            })
            .map(Vec::as_slice)
    }

    fn layer(&self, index: usize) -> Result<&Descriptor> {
        self.manifest.layers.get(index).ok_or_else(|| {
            Error::invalid_argument(format!(
                "layer index {index} is out of range: image {} has {} layers",
                self.digest,
                self.manifest.layers.len()
            ))
        })
    }

    /// Streams layer `index` (compressed, as stored) into `sink`, verifying it, and
    /// reporting progress over the layer's size.
    pub fn layer_read(
        &self,
        index: usize,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let desc = self.layer(index)?;
        // The host has the bytes as they come: a read that failed on a mirror cannot start
        // over here; the mirror is skipped for this layer on the next call.
        stream_blob(&self.source, desc, None, sink)
    }

    /// Writes layer `index` to `path` atomically: a temporary file beside it, renamed over
    /// `path` only once the content is verified; nothing is left behind on failure.
    pub fn layer_save(&self, index: usize, path: &Path) -> Result<()> {
        let desc = self.layer(index)?;
        let (contexts, op) = self.source.own_contexts()?;
        save_blob(&self.source, desc, &contexts, op.as_ref(), path)
    }
}

/// Writes blob `desc` of `source` to `path` atomically (see `save_atomically`), within
/// `op` when the source has a client. A read that failed on a mirror is made again from
/// the next source into an emptied file.
pub(crate) fn save_blob(
    source: &BlobSource,
    desc: &Descriptor,
    contexts: &SourceContexts,
    op: Option<&Operation>,
    path: &Path,
) -> Result<()> {
    save_atomically(path, |file| {
        let file = RefCell::new(file);
        let mut start_over = || {
            let mut f = file.borrow_mut();
            f.set_len(0)
                .and_then(|()| f.rewind())
                .map_err(|e| Error::io(format!("rewinding {}", path.display()), &e))
        };
        stream_blob_in(
            source,
            desc,
            contexts,
            op,
            Some(&mut start_over),
            &mut |chunk| {
                file.borrow_mut()
                    .write_all(chunk)
                    .map_err(|e| Error::io(format!("writing {}", path.display()), &e))
            },
        )
    })
}

/// Streams `desc` from `source`, verified, with progress over its size when the source
/// has a client to report to. With `start_over` (which makes the sink empty again), a
/// read that failed on a mirror is made again from the next source; progress then counts
/// only past where the first read had reached.
pub(crate) fn stream_blob(
    source: &BlobSource,
    desc: &Descriptor,
    start_over: Option<&mut dyn FnMut() -> Result<()>>,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let (contexts, op) = source.own_contexts()?;
    stream_blob_in(source, desc, &contexts, op.as_ref(), start_over, sink)
}

/// `stream_blob` within an operation already started: `op` (None for a source without a
/// client) and the contexts it reads through.
pub(crate) fn stream_blob_in(
    source: &BlobSource,
    desc: &Descriptor,
    contexts: &SourceContexts,
    op: Option<&Operation>,
    mut start_over: Option<&mut dyn FnMut() -> Result<()>>,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    if let Some(op) = op {
        op.progress.add_total(desc.size);
        op.progress.announce();
        op.ctx.check_cancelled()?;
    }
    let mark = BlobMark::new(&desc.digest, desc.size);
    let can_start_over = start_over.is_some();
    let mut started = false;
    let mut once = || {
        if started {
            if let Some(f) = start_over.as_mut() {
                f()?;
            }
        }
        started = true;
        if let Some(op) = &op {
            op.progress.phase(&mark, Phase::Downloading);
        }
        let mut done = 0u64;
        source.pump_blob(desc, contexts, op.map(|o| &*o.ctx), &mut |chunk| {
            sink(chunk)?;
            if let Some(op) = op {
                done += chunk.len() as u64;
                op.progress.reach(&mark, done);
                if done == desc.size {
                    op.progress.phase(&mark, Phase::Verifying);
                }
                op.ctx.check_cancelled()?;
            }
            Ok(())
        })
    };
    if can_start_over {
        source.retrying_mirrors(&desc.digest, once)?;
    } else {
        once()?;
    }
    if let Some(op) = &op {
        op.progress.settle(&mark, Phase::Done);
    }
    Ok(())
}

/// Runs `fill` on a temporary file in `path`'s directory and renames it to `path` when
/// `fill` succeeds. On any failure the temporary file is removed and `path` is untouched.
pub(crate) fn save_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid_argument(format!("{} names no file", path.display())))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".rr-tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            Error::io(
                format!("creating a temporary file in {}", dir.display()),
                &e,
            )
        })?;
    fill(tmp.as_file_mut())?;
    let file = tmp.as_file();
    file.sync_all()
        .map_err(|e| Error::io(format!("flushing {}", tmp.path().display()), &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path)
        .map_err(|e| Error::io(format!("renaming into {}", path.display()), &e.error))?;
    Ok(())
}
