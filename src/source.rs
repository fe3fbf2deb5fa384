//! Where the blobs and child manifests of an image or index live: a repository of a
//! registry, an OCI image layout directory, or local files and bytes gathered by a builder.
//! Every blob is read through a verifying reader, whatever its origin.

use crate::digest::{HashingThread, VerifyingReader, BACKGROUND_HASH_MIN};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{self, Descriptor, MANIFEST_SIZE_LIMIT};
use crate::name::Repository;
use crate::remote::blob::{self, Verify};
use crate::remote::client::{Client, Operation};
use crate::remote::{manifest_fetch, mirror};
use crate::transport::Context;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub enum BlobSource {
    Remote {
        client: Client,
        repository: Repository,
    },
    Layout {
        dir: Arc<PathBuf>,
    },
    Local(Arc<LocalStore>),
}

/// A blob a builder holds: a file named by the host, bytes it made (a config), or a layer
/// of a base image, left where that image keeps it.
#[derive(Debug, Clone)]
pub enum LocalBlob {
    File(PathBuf),
    Bytes(Arc<[u8]>),
    Source(BlobSource),
}

/// What a builder (or a conversion) made: its blobs, and for an index the manifests of the
/// children below it, by digest.
#[derive(Debug, Default)]
pub struct LocalStore {
    pub blobs: HashMap<String, LocalBlob>,
    pub manifests: HashMap<String, StoredManifest>,
}

/// A child manifest kept in memory: its exact bytes and its media type.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
}

/// Operations reading from registries on behalf of one operation: one per source client,
/// all cancelled together with it.
pub struct SourceContexts {
    cancelled: Arc<AtomicBool>,
    /// The handles the operation runs under: cancelling one of them also reaches the
    /// reads from another client.
    handles: Arc<[Arc<AtomicBool>]>,
    known: Mutex<Vec<(Client, Arc<Context>)>>,
}

impl SourceContexts {
    pub fn new(op: &Operation) -> SourceContexts {
        SourceContexts {
            cancelled: op.ctx.cancelled.clone(),
            handles: op.ctx.handles.clone(),
            known: Mutex::new(vec![(op.client.clone(), op.ctx.clone())]),
        }
    }

    /// Contexts for an operation that has no client of its own (e.g. reading a layout).
    pub fn standalone() -> SourceContexts {
        SourceContexts {
            cancelled: Arc::new(AtomicBool::new(false)),
            handles: Arc::new([]),
            known: Mutex::new(Vec::new()),
        }
    }

    pub fn for_client(&self, client: &Client) -> Result<Arc<Context>> {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, ctx)) = known.iter().find(|(c, _)| c.same_as(client)) {
            return Ok(ctx.clone());
        }
        let op = client.operation_under(self.cancelled.clone(), &self.handles)?;
        known.push((client.clone(), op.ctx.clone()));
        Ok(op.ctx)
    }
}

/// `<dir>/blobs/<algorithm>/<hex>` of an OCI layout.
pub fn layout_blob_path(dir: &Path, digest: &str) -> Result<PathBuf> {
    crate::digest::validate(digest)?;
    let (algorithm, hex) = digest.split_once(':').expect("validated");
    Ok(dir.join("blobs").join(algorithm).join(hex))
}

impl BlobSource {
    /// Where the blobs are, for messages.
    pub fn describe(&self) -> String {
        match self {
            BlobSource::Remote { repository, .. } => repository.to_string(),
            BlobSource::Layout { dir } => format!("layout {}", dir.display()),
            BlobSource::Local(_) => "local files".to_string(),
        }
    }

    /// This source with every registry read (its own and those of the base-image layers a
    /// builder keeps) made through `client`: its settings, credentials, cancellation,
    /// limits and callbacks.
    pub fn through(&self, client: &Client) -> BlobSource {
        match self {
            BlobSource::Remote { repository, .. } => BlobSource::Remote {
                client: client.clone(),
                repository: repository.clone(),
            },
            BlobSource::Layout { .. } => self.clone(),
            BlobSource::Local(store) => {
                let remote_inside = store
                    .blobs
                    .values()
                    .any(|b| matches!(b, LocalBlob::Source(_)));
                if !remote_inside {
                    return self.clone();
                }
                let blobs = store
                    .blobs
                    .iter()
                    .map(|(digest, blob)| {
                        let blob = match blob {
                            LocalBlob::Source(inner) => LocalBlob::Source(inner.through(client)),
                            other => other.clone(),
                        };
                        (digest.clone(), blob)
                    })
                    .collect();
                BlobSource::Local(Arc::new(LocalStore {
                    blobs,
                    manifests: store.manifests.clone(),
                }))
            }
        }
    }

    /// Where blob `digest` really is: for a base image's layer kept by a builder, that
    /// image's source (so that a push can mount it); otherwise this source.
    pub fn source_of(&self, digest: &str) -> BlobSource {
        if let BlobSource::Local(store) = self {
            if let Some(LocalBlob::Source(inner)) = store.blobs.get(digest) {
                return inner.source_of(digest);
            }
        }
        self.clone()
    }

    /// The repository, when the blobs are in a registry.
    pub fn repository(&self) -> Option<&Repository> {
        match self {
            BlobSource::Remote { repository, .. } => Some(repository),
            _ => None,
        }
    }

    /// Opens blob `desc` for reading; the reader verifies size and digest as it goes.
    pub fn open_blob(
        &self,
        desc: &Descriptor,
        contexts: &SourceContexts,
    ) -> Result<Box<dyn Read + Send>> {
        self.open_blob_checked(desc, contexts, Verify::Digest)
    }

    /// Opens blob `desc` for reading with the given checks.
    pub fn open_blob_checked(
        &self,
        desc: &Descriptor,
        contexts: &SourceContexts,
        verify: Verify,
    ) -> Result<Box<dyn Read + Send>> {
        if let Some(data) = desc.verified_data()? {
            return Ok(Box::new(std::io::Cursor::new(data.to_vec())));
        }
        let what = format!("blob {} of {}", desc.digest, self.describe());
        let raw: Box<dyn Read + Send> = match self {
            BlobSource::Remote { client, repository } => {
                let ctx = contexts.for_client(client)?;
                return blob::open_in(&ctx, repository, desc, verify);
            }
            BlobSource::Layout { dir } => {
                let path = layout_blob_path(dir, &desc.digest)?;
                Box::new(open_file(&path, &what)?)
            }
            BlobSource::Local(store) => match store.blobs.get(&desc.digest) {
                Some(LocalBlob::Source(inner)) => {
                    return inner.open_blob_checked(desc, contexts, verify)
                }
                Some(LocalBlob::File(path)) => Box::new(open_file(path, &what)?),
                Some(LocalBlob::Bytes(bytes)) => Box::new(std::io::Cursor::new(bytes.clone())),
                None => {
                    return Err(Error::not_found(format!(
                        "{what}: the builder holds no such blob"
                    )))
                }
            },
        };
        Ok(match verify {
            Verify::Digest => Box::new(VerifyingReader::new(raw, &desc.digest, desc.size, what)),
            Verify::SizeOnly => Box::new(VerifyingReader::size_only(raw, desc.size, what)),
        })
    }

    /// Opens blob `desc` from byte `offset` on, for an upload resumed there, checking the
    /// size of what follows (the registry checks the digest of the whole at the commit):
    /// files and layouts seek, a registry is asked with `Range`, bytes are sliced.
    pub fn open_blob_from(
        &self,
        desc: &Descriptor,
        contexts: &SourceContexts,
        offset: u64,
    ) -> Result<Box<dyn Read + Send>> {
        if offset == 0 {
            return self.open_blob_checked(desc, contexts, Verify::SizeOnly);
        }
        if offset > desc.size {
            return Err(Error::invalid_argument(format!(
                "blob {}: offset {offset} is past its {} bytes",
                desc.digest, desc.size
            )));
        }
        if let Some(data) = desc.verified_data()? {
            return Ok(Box::new(std::io::Cursor::new(
                data[offset as usize..].to_vec(),
            )));
        }
        let what = format!(
            "blob {} of {} from byte {offset}",
            desc.digest,
            self.describe()
        );
        let raw: Box<dyn Read + Send> = match self {
            BlobSource::Remote { client, repository } => {
                let ctx = contexts.for_client(client)?;
                return blob::open_in_from(&ctx, repository, desc, Verify::SizeOnly, offset);
            }
            BlobSource::Layout { dir } => Box::new(open_file_at(
                &layout_blob_path(dir, &desc.digest)?,
                offset,
                &what,
            )?),
            BlobSource::Local(store) => match store.blobs.get(&desc.digest) {
                Some(LocalBlob::Source(inner)) => {
                    return inner.open_blob_from(desc, contexts, offset)
                }
                Some(LocalBlob::File(path)) => Box::new(open_file_at(path, offset, &what)?),
                Some(LocalBlob::Bytes(bytes)) => {
                    let mut cursor = std::io::Cursor::new(bytes.clone());
                    cursor.set_position(offset);
                    Box::new(cursor)
                }
                None => {
                    return Err(Error::not_found(format!(
                        "{what}: the builder holds no such blob"
                    )))
                }
            },
        };
        Ok(Box::new(VerifyingReader::size_only(
            raw,
            desc.size - offset,
            what,
        )))
    }

    /// Streams blob `desc` into `sink` chunk by chunk, verified, checking `ctx` for
    /// cancellation between chunks. Large blobs are hashed on a helper thread from the
    /// buffers the sink is given (see `blob::pump_hashing`). As with `blob::pump`, the sink
    /// has seen every byte before verification ends.
    pub fn pump_blob(
        &self,
        desc: &Descriptor,
        contexts: &SourceContexts,
        ctx: Option<&Context>,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let what = format!("blob {} of {}", desc.digest, self.describe());
        // Through mirrors the reader itself must hash, to tell a mirror's bad bytes from
        // the origin's (`blob::open_in`): hashing here as well would do it twice.
        let hashing = if desc.size >= BACKGROUND_HASH_MIN
            && desc.data.is_none()
            && !self.source_of(&desc.digest).reads_through_mirrors()
        {
            HashingThread::start()
        } else {
            None
        };
        match hashing {
            Some(hashing) => {
                let mut reader = self.open_blob_checked(desc, contexts, Verify::SizeOnly)?;
                blob::pump_hashing(&mut reader, hashing, &desc.digest, ctx, &what, sink)
            }
            None => {
                let mut reader = self.open_blob(desc, contexts)?;
                blob::pump(&mut reader, ctx, &what, sink)
            }
        }
    }

    /// A small blob (a config) whole, verified.
    pub fn read_small(
        &self,
        desc: &Descriptor,
        limit: u64,
        contexts: &SourceContexts,
    ) -> Result<Vec<u8>> {
        let what = format!("blob {} of {}", desc.digest, self.describe());
        blob::check_small(desc, limit, &what)?;
        self.retrying_mirrors(&desc.digest, || {
            let mut reader = self.open_blob(desc, contexts)?;
            blob::read_small_from(&mut reader, desc, &what)
        })
    }

    /// The registry and context blob `desc` may be fetched from over several connections
    /// (`remote::ranged`): a large blob of a registry, read without mirrors (a mirror's
    /// part could not be told from the origin's).
    pub fn ranged_origin(
        &self,
        desc: &Descriptor,
        contexts: &SourceContexts,
    ) -> Result<Option<(Arc<Context>, Repository)>> {
        match self {
            BlobSource::Remote { client, repository }
                if desc.size >= crate::remote::ranged::SPLIT_MIN_SIZE
                    && desc.data.is_none()
                    && !self.reads_through_mirrors() =>
            {
                Ok(Some((contexts.for_client(client)?, repository.clone())))
            }
            _ => Ok(None),
        }
    }

    /// Whether reads of this source's blobs may be served by mirrors.
    fn reads_through_mirrors(&self) -> bool {
        match self {
            BlobSource::Remote { client, repository } => client.has_mirrors_for(repository),
            _ => false,
        }
    }

    /// Runs `attempt` (a whole read of blob `digest`, from its start) again for as long as
    /// it fails on a mirror: that mirror is then recorded as failing the blob and skipped,
    /// so the next attempt reads from the next mirror or the origin. A failure that no
    /// mirror caused is returned as it is.
    pub fn retrying_mirrors<T>(
        &self,
        digest: &str,
        mut attempt: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let source = self.source_of(digest);
        let BlobSource::Remote { client, .. } = &source else {
            return attempt();
        };
        let shared = client.shared();
        loop {
            let before = shared.mirror_failures(digest);
            match attempt() {
                Err(e)
                    if e.kind != ErrorKind::Cancelled
                        && shared.mirror_failures(digest) > before => {}
                other => return other,
            }
        }
    }

    /// The bytes and media type of a child manifest `desc`: embedded data, a GET by digest
    /// with exactly the child's media type as Accept, a layout blob, or what a builder holds.
    pub fn child_manifest(
        &self,
        desc: &Descriptor,
        contexts: &SourceContexts,
    ) -> Result<(Vec<u8>, String)> {
        let bytes = if let Some(data) = desc.verified_data()? {
            data.to_vec()
        } else {
            match self {
                BlobSource::Remote { client, repository } => {
                    let accept = if desc.media_type.is_empty() {
                        manifest::ACCEPT_ALL
                    } else {
                        desc.media_type.as_str()
                    };
                    let ctx = contexts.for_client(client)?;
                    let fetched = mirror::read(&ctx, repository, true, None, |ctx, at, _| {
                        let session =
                            ctx.session(at.registry(), Some(at.path()), vec![at.scope("pull")]);
                        let fetched = manifest_fetch::get(&session, at, &desc.digest, accept)?;
                        check_child_size(desc, fetched.bytes.len(), self)?;
                        Ok(fetched)
                    })?;
                    return Ok((fetched.bytes, fetched.media_type));
                }
                BlobSource::Local(store) => {
                    if let Some(kept) = store.manifests.get(&desc.digest) {
                        check_child_size(desc, kept.bytes.len(), self)?;
                        return Ok((kept.bytes.clone(), kept.media_type.clone()));
                    }
                    return Err(Error::not_found(format!(
                        "manifest {}: the builder holds no such child",
                        desc.digest
                    )));
                }
                BlobSource::Layout { .. } => {
                    self.read_small(desc, MANIFEST_SIZE_LIMIT, contexts)?
                }
            }
        };
        check_child_size(desc, bytes.len(), self)?;
        let media_type = manifest::effective_media_type(
            Some(desc.media_type.as_str()).filter(|m| !m.is_empty()),
            &bytes,
        );
        Ok((bytes, media_type))
    }

    /// Contexts for reading from this source outside any other operation.
    pub fn own_contexts(&self) -> Result<(SourceContexts, Option<Operation>)> {
        match self {
            BlobSource::Remote { client, .. } => {
                let op = client.operation()?;
                Ok((SourceContexts::new(&op), Some(op)))
            }
            _ => Ok((SourceContexts::standalone(), None)),
        }
    }
}

fn check_child_size(desc: &Descriptor, got: usize, source: &BlobSource) -> Result<()> {
    if got as u64 != desc.size {
        return Err(Error::digest_mismatch(format!(
            "manifest {} of {} is {got} bytes, its descriptor says {}",
            desc.digest,
            source.describe(),
            desc.size
        )));
    }
    Ok(())
}

/// Opens a local file at byte `offset`.
fn open_file_at(path: &Path, offset: u64, what: &str) -> Result<std::fs::File> {
    use std::io::{Seek, SeekFrom};
    let mut file = open_file(path, what)?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(format!("{what}: seeking in {}", path.display()), &e))?;
    Ok(file)
}

/// Opens a local file for `what`; a missing file is RR_ERR_NOT_FOUND, any other failure
/// RR_ERR_IO.
pub(crate) fn open_file(path: &Path, what: &str) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Error::new(kind, format!("{what}: cannot open {}: {e}", path.display()))
    })
}
