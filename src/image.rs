//! An image: its manifest (exact bytes and parsed view), its config (fetched once, on
//! first use, verified) and its layers, streamed from wherever its blobs live.

use crate::error::{Error, Result};
use crate::manifest::{Descriptor, ImageManifest};
use crate::name::Repository;
use crate::remote::blob;
use crate::remote::client::{Client, Operation};
use crate::transport::Session;
use once_cell::sync::OnceCell;
use std::io::Write;
use std::path::Path;

/// Configs larger than this are refused rather than held in memory.
pub const CONFIG_SIZE_LIMIT: u64 = 32 * 1024 * 1024;

/// Where an image's (or index's) blobs and child manifests come from.
#[derive(Debug, Clone)]
pub enum BlobSource {
    Remote {
        client: Client,
        repository: Repository,
    },
}

impl BlobSource {
    /// Runs `f` within one operation holding a pull session on the source repository.
    pub(crate) fn with_pull_session<T>(
        &self,
        f: impl FnOnce(&Operation, &Session<'_>, &Repository) -> Result<T>,
    ) -> Result<T> {
        match self {
            BlobSource::Remote { client, repository } => {
                let op = client.operation()?;
                let session = op.ctx.session(
                    repository.registry(),
                    Some(repository.path()),
                    vec![repository.scope("pull")],
                );
                f(&op, &session, repository)
            }
        }
    }
}

#[derive(Debug)]
pub struct Image {
    digest: String,
    media_type: String,
    manifest_bytes: Vec<u8>,
    manifest: ImageManifest,
    source: BlobSource,
    config: OnceCell<Vec<u8>>,
}

impl Image {
    pub fn from_remote(
        client: &Client,
        repository: Repository,
        manifest_bytes: Vec<u8>,
        media_type: String,
        digest: String,
    ) -> Result<Image> {
        let what = format!("image {repository}@{digest}");
        let manifest = ImageManifest::parse(&manifest_bytes, &what)?;
        Ok(Image {
            digest,
            media_type,
            manifest_bytes,
            manifest,
            source: BlobSource::Remote {
                client: client.clone(),
                repository,
            },
            config: OnceCell::new(),
        })
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
    pub fn source(&self) -> &BlobSource {
        &self.source
    }

    /// The config blob's bytes, fetched and verified on the first call only.
    pub fn config(&self) -> Result<&[u8]> {
        self.config
            .get_or_try_init(|| {
                let desc = &self.manifest.config;
                if let Some(data) = desc.verified_data()? {
                    return Ok(data.to_vec());
                }
                self.source.with_pull_session(|_, session, repository| {
                    blob::read_small(session, repository, desc, CONFIG_SIZE_LIMIT)
                })
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
        stream_blob(&self.source, desc, sink)
    }

    /// Writes layer `index` to `path` atomically: a temporary file beside it, renamed over
    /// `path` only once the content is verified; nothing is left behind on failure.
    pub fn layer_save(&self, index: usize, path: &Path) -> Result<()> {
        let desc = self.layer(index)?;
        save_atomically(path, |file| {
            stream_blob(&self.source, desc, &mut |chunk| {
                file.write_all(chunk)
                    .map_err(|e| Error::io(format!("writing {}", path.display()), &e))
            })
        })
    }
}

/// Streams `desc` from `source` with progress over its size.
pub(crate) fn stream_blob(
    source: &BlobSource,
    desc: &Descriptor,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    source.with_pull_session(|op, session, repository| {
        op.progress.add_total(desc.size);
        op.progress.announce();
        op.ctx.check_cancelled()?;
        blob::stream(session, repository, desc, &mut |chunk| {
            sink(chunk)?;
            op.progress.advance(chunk.len() as u64);
            op.ctx.check_cancelled()
        })
    })
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
