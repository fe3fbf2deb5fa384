//! One blob on its own, named by its digest, as go-containerregistry's `remote.Layer` and
//! `remote.WriteLayer` handle it: its size (a HEAD), its bytes into a sink or a file
//! (verified, resumed with Range after a break, through mirrors, as the layers of an image
//! are read), and the push of one blob from a file or from a reader of unknown size
//! (through `upload`, as the blobs of an image are pushed).

use super::blob;
use super::client::{Client, Operation};
use super::upload::{self, stream::StreamedBlob, BlobJob, Destination, Outcome};
use super::write::push_session;
use crate::digest::{self, Hasher};
use crate::error::{Error, Result};
use crate::image;
use crate::manifest::Descriptor;
use crate::name::{Reference, Repository};
use crate::source::{BlobSource, LocalBlob, LocalStore, SourceContexts};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// A blob made present by a push: how, its digest and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub outcome: Outcome,
    pub digest: String,
    pub size: u64,
}

/// The repository and digest of `reference`, which must name a blob by its digest.
fn blob_reference(reference: &str) -> Result<(Repository, String)> {
    let parsed = Reference::parse(reference)?;
    match parsed.digest() {
        Some(digest) => Ok((parsed.repository().clone(), digest.to_string())),
        None => Err(Error::invalid_reference(format!(
            "invalid blob reference {reference:?}: a blob is named by its digest \
             (REPOSITORY@sha256:...), not by a tag"
        ))),
    }
}

/// The size of the blob `reference` (`REPOSITORY@sha256:...`) names: one HEAD, through
/// the repository's mirrors. RR_ERR_NOT_FOUND when the registry has no such blob.
pub fn stat(client: &Client, reference: &str) -> Result<u64> {
    let (repository, digest) = blob_reference(reference)?;
    let op = client.operation()?;
    blob::stat_in(&op.ctx, &repository, &digest)
}

/// Where the blob `reference` names is read from, and its descriptor, whose size a HEAD
/// within `op` gives.
fn locate(client: &Client, op: &Operation, reference: &str) -> Result<(BlobSource, Descriptor)> {
    let (repository, digest) = blob_reference(reference)?;
    let size = blob::stat_in(&op.ctx, &repository, &digest)?;
    let source = BlobSource::Remote {
        client: client.clone(),
        repository,
    };
    Ok((source, Descriptor::of_blob(&digest, size)))
}

/// Streams the blob `reference` names into `sink`, verified against its digest and size
/// at the end (the sink has then seen every byte: on RR_ERR_DIGEST_MISMATCH it must
/// discard them), with progress over its size. Returns the size.
pub fn read(
    client: &Client,
    reference: &str,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    let op = client.operation()?;
    let (source, desc) = locate(client, &op, reference)?;
    let contexts = SourceContexts::new(&op);
    // The sink has the bytes as they come: a read that failed on a mirror cannot start
    // over here; the mirror is skipped for this blob on the next call.
    image::stream_blob_in(&source, &desc, &contexts, Some(&op), None, sink)?;
    Ok(desc.size)
}

/// Saves the blob `reference` names to `path` atomically: nothing at `path` changes, and
/// no file is left behind, unless the whole blob arrived and verified. Returns the size.
pub fn save(client: &Client, reference: &str, path: &Path) -> Result<u64> {
    let op = client.operation()?;
    let (source, desc) = locate(client, &op, reference)?;
    let contexts = SourceContexts::new(&op);
    image::save_blob(&source, &desc, &contexts, Some(&op), path)?;
    Ok(desc.size)
}

/// `from` as a repository to mount into `repository` from: one of the same registry.
fn mount_source(repository: &Repository, from: Option<&str>) -> Result<Option<Repository>> {
    let Some(from) = from else {
        return Ok(None);
    };
    let from = Repository::parse(from)?;
    if from.registry() != repository.registry() {
        return Err(Error::invalid_argument(format!(
            "cannot mount from {from} into {repository}: a mount works only within one registry"
        )));
    }
    Ok(Some(from))
}

/// Names the destination in a failure's message, unless it does already.
fn naming(repository: &Repository) -> impl Fn(Error) -> Error + '_ {
    move |e| {
        if e.message.contains(&repository.to_string()) {
            e
        } else {
            e.context(format!("pushing a blob to {repository}"))
        }
    }
}

/// The digest and size of the file at `path`, read through once at constant memory,
/// stopping when `op` is cancelled.
fn hash_file(path: &Path, op: &Operation) -> Result<(String, u64)> {
    let cannot = |e: std::io::Error| Error::io(format!("reading {}", path.display()), &e);
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), &e))?;
    if file.metadata().map_err(cannot)?.is_dir() {
        return Err(Error::invalid_argument(format!(
            "{} is a directory, not a file",
            path.display()
        )));
    }
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; blob::CHUNK];
    loop {
        op.ctx.check_cancelled()?;
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(cannot(e)),
        }
    }
    let size = hasher.len();
    Ok((hasher.finish(), size))
}

/// Pushes the file at `path` as one blob to `repository` (`[REGISTRY/]PATH`, no tag or
/// digest). The file is hashed first, so that a blob the repository has is not sent
/// again (a HEAD), and one that `from` (another repository of the same registry) has is
/// mounted; otherwise it is uploaded the way the client's upload strategy for that
/// registry says, resumed after a break. Progress counts the file's size.
pub fn write_file(
    client: &Client,
    repository: &str,
    path: &Path,
    from: Option<&str>,
) -> Result<Written> {
    let repository = Repository::parse(repository)?;
    let from = mount_source(&repository, from)?;
    let op = client.operation()?;
    let (digest, size) = hash_file(path, &op)?;
    let desc = Descriptor::of_blob(&digest, size);
    let mut store = LocalStore::default();
    store
        .blobs
        .insert(digest.clone(), LocalBlob::File(path.to_path_buf()));
    let source = BlobSource::Local(Arc::new(store));
    let contexts = Arc::new(SourceContexts::new(&op));
    op.progress.add_total(size);
    op.progress.announce();
    let session = push_session(&op.ctx, &repository);
    let dest = Destination::new(&session, &repository, &op.uploads);
    let job = BlobJob {
        desc: &desc,
        source: &source,
        mount_from: from.as_ref(),
        contexts: &contexts,
        progress: &op.progress,
    };
    let outcome = upload::upload(&dest, &job).map_err(naming(&repository))?;
    Ok(Written {
        outcome,
        digest,
        size,
    })
}

/// Pushes what `reader` yields, to its end, as one blob to `repository`, hashing it as it
/// is sent at constant memory (POST, PATCH, PUT `?digest=` of what was read). With
/// `expected`, the digest the caller says the content has, the blob is HEADed first (and
/// the reader not read when it is there), mounted from `from` when that repository has
/// it, and otherwise checked at the end: content that hashes to another digest is
/// RR_ERR_DIGEST_MISMATCH with nothing committed. A reader's failure ends the push with
/// its error (RR_ERR_CALLBACK for a host's), and the upload session is cancelled. The
/// reader is called on library threads, one call at a time, and never after this
/// returns (a call in progress is waited for).
pub fn write_reader(
    client: &Client,
    repository: &str,
    reader: Box<dyn Read + Send>,
    expected: Option<&str>,
    from: Option<&str>,
) -> Result<Written> {
    let repository = Repository::parse(repository)?;
    if let Some(expected) = expected {
        digest::validate(expected)?;
    }
    let from = mount_source(&repository, from)?;
    if from.is_some() && expected.is_none() {
        return Err(Error::invalid_argument(
            "a mount needs the blob's digest: give the expected digest with the repository \
             to mount from",
        ));
    }
    let op = client.operation()?;
    let stream = Arc::new(StreamedBlob::new(reader, op.progress.clone()));
    op.progress.announce();
    let session = push_session(&op.ctx, &repository);
    let dest = Destination::new(&session, &repository, &op.uploads);
    let pushed = upload::upload_stream(&dest, &stream, expected, from.as_ref(), &op.progress);
    stream.close();
    let (outcome, digest, size) = pushed.map_err(naming(&repository))?;
    Ok(Written {
        outcome,
        digest,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_named_by_digest_and_pushed_to_a_bare_repository() {
        let digest = digest::of_bytes(b"x");
        let (repo, d) = blob_reference(&format!("localhost:5000/a/b@{digest}")).unwrap();
        assert_eq!((repo.path(), d.as_str()), ("a/b", digest.as_str()));
        for bad in ["localhost:5000/a/b", "localhost:5000/a/b:v1", "a@sha256:12"] {
            let e = blob_reference(bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidReference, "{bad}: {e}");
        }
        let repo = Repository::parse("localhost:5000/a").unwrap();
        assert!(mount_source(&repo, None).unwrap().is_none());
        assert!(mount_source(&repo, Some("localhost:5000/b"))
            .unwrap()
            .is_some());
        let e = mount_source(&repo, Some("localhost:5001/b")).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidArgument, "{e}");
    }
}
