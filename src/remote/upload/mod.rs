//! Making one blob present in a repository: HEAD (skip when there), a cross-repository
//! mount when the blob is in another repository of the same registry, otherwise an upload
//! session (POST) and the bytes sent the way `plan` picks for the registry (monolithic,
//! streamed or chunked), resumed where the session stands when a request breaks
//! (`transfer`). Every session that is not committed is cancelled. A host's reader of
//! unknown size goes the same way (`upload_stream`), hashed as it is sent.

mod body;
pub mod plan;
mod session;
pub mod stream;
mod transfer;

use super::client::UploadConfig;
use super::progress::{BlobMark, Phase, Progress};
use crate::error::{ErrorKind, Result};
use crate::manifest::Descriptor;
use crate::name::Repository;
use crate::source::{BlobSource, SourceContexts};
use crate::transport::{status, Request, Session};
pub use session::cancel_session;
use session::{uploads_path, UploadSession};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use stream::StreamedBlob;
use url::Url;

/// How a blob came to be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Existed,
    Mounted,
    Uploaded,
}

/// The repository blobs are written to, with the sessions that write there.
pub struct Destination<'s, 'c> {
    pub session: &'s Session<'c>,
    pub repository: &'s Repository,
    /// How blobs go to this registry.
    pub uploads: &'s UploadConfig,
    /// Sessions that may also pull from a mount source, one per source repository.
    mount_sessions: Mutex<HashMap<String, Arc<Session<'c>>>>,
    /// Per source repository: whether mounting from it works (None until the first try,
    /// which the others wait for, so that a refusal costs one request, not one per blob).
    /// Only a 201 counts as working: a 202 (an upload session instead of a mount) means
    /// this registry does not mount from there, for the rest of the operation.
    mount_gates: Mutex<HashMap<String, MountGate>>,
}

type MountGate = Arc<Mutex<Option<bool>>>;

impl<'s, 'c> Destination<'s, 'c> {
    pub fn new(
        session: &'s Session<'c>,
        repository: &'s Repository,
        uploads: &'s UploadConfig,
    ) -> Self {
        Destination {
            session,
            repository,
            uploads,
            mount_sessions: Mutex::new(HashMap::new()),
            mount_gates: Mutex::new(HashMap::new()),
        }
    }

    fn mount_session(&self, from: &Repository) -> Arc<Session<'c>> {
        let mut sessions = lock(&self.mount_sessions);
        sessions
            .entry(from.path().to_string())
            .or_insert_with(|| {
                Arc::new(self.session.context().session(
                    self.repository.registry(),
                    Some(self.repository.path()),
                    vec![self.repository.scope("push,pull"), from.scope("pull")],
                ))
            })
            .clone()
    }

    /// The repository to mount `job`'s blob from: the one the caller named, else the
    /// source's, when it is another repository of the same registry.
    fn mount_source<'a>(&self, job: &BlobJob<'a>) -> Option<&'a Repository> {
        self.mount_candidate(job.mount_from.or_else(|| job.source.repository())?)
    }

    /// `from`, when it is another repository of the same registry.
    fn mount_candidate<'a>(&self, from: &'a Repository) -> Option<&'a Repository> {
        let same_registry = from.registry().as_str() == self.repository.registry().as_str();
        if !same_registry || from.path() == self.repository.path() {
            return None;
        }
        Some(from)
    }

    fn mount_gate(&self, from: &Repository) -> MountGate {
        lock(&self.mount_gates)
            .entry(from.path().to_string())
            .or_default()
            .clone()
    }

    /// Tries to mount blob `digest` from `from`; the first try per source is made alone.
    /// `trying` is called just before a mount request is made. An answer with an upload
    /// session means this registry does not mount from there: later blobs from there go
    /// straight to their HEAD.
    fn mount(
        &self,
        from: &Repository,
        digest: &str,
        trying: impl FnOnce(),
    ) -> Option<Result<MountAnswer<'c>>> {
        let gate = self.mount_gate(from);
        let mut known = lock(&gate);
        match *known {
            Some(false) => None,
            Some(true) => {
                drop(known);
                trying();
                let answer = try_mount(self, from, digest);
                if matches!(answer, Ok(MountAnswer::Opened(_))) {
                    *lock(&gate) = Some(false);
                }
                Some(answer)
            }
            None => {
                trying();
                let answer = try_mount(self, from, digest);
                *known = Some(matches!(answer, Ok(MountAnswer::Mounted)));
                Some(answer)
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One blob to make present and where to read it from.
pub struct BlobJob<'a> {
    pub desc: &'a Descriptor,
    pub source: &'a BlobSource,
    /// A repository of the destination's registry that may hold the blob too, to mount
    /// from rather than read the source (the blob of a file the caller knows is there).
    pub mount_from: Option<&'a Repository>,
    pub contexts: &'a Arc<SourceContexts>,
    pub progress: &'a Arc<Progress>,
}

/// Makes `job.desc` present in `dest`, crediting its size to progress as it goes.
pub fn upload(dest: &Destination<'_, '_>, job: &BlobJob<'_>) -> Result<Outcome> {
    let session = dest.session;
    let ctx = session.context();
    let desc = job.desc;
    let mark = Arc::new(BlobMark::new(&desc.digest, desc.size));
    ctx.check_cancelled()?;

    // A blob in another repository of the same registry is mounted straight away: the
    // registry answers 201 whether it links it now or already had it, so the HEAD is
    // needed only when the mount is refused. A refused mount (or a token without pull on
    // the source) falls back to an upload; after a first refusal the rest of the operation
    // uploads from that source directly. A registry that does not mount answers 202 with
    // an upload session: that session is used only when a HEAD says the blob is missing,
    // and cancelled when the blob is there.
    let mut opened: Option<OpenedSession<'_>> = None;
    if let Some(from) = dest.mount_source(job) {
        match dest.mount(from, &desc.digest, || {
            job.progress.phase(&mark, Phase::Mounting)
        }) {
            Some(Ok(MountAnswer::Mounted)) => {
                job.progress.settle(&mark, Phase::Mounted);
                return Ok(Outcome::Mounted);
            }
            Some(Ok(MountAnswer::Opened(o))) => opened = Some(o),
            Some(Err(e)) if e.kind == ErrorKind::Cancelled => return Err(e),
            Some(Err(_)) | None => {}
        }
    }

    job.progress.phase(&mark, Phase::Checking);
    match head_blob(dest, &desc.digest) {
        Ok(true) => {
            if let Some(o) = opened.take() {
                o.cancel();
            }
            job.progress.settle(&mark, Phase::Exists);
            return Ok(Outcome::Existed);
        }
        Ok(false) => {}
        Err(e) => {
            if let Some(o) = opened.take() {
                o.cancel();
            }
            return Err(e);
        }
    }

    let opened = opened.as_ref().map(OpenedSession::upload_session);
    job.progress.phase(&mark, Phase::Uploading);
    transfer::send(dest, job, &mark, opened)?;
    job.progress.settle(&mark, Phase::Done);
    Ok(Outcome::Uploaded)
}

/// Whether the destination already has blob `digest` (HEAD: 200 yes, 404 no).
pub(super) fn head_blob(dest: &Destination<'_, '_>, digest: &str) -> Result<bool> {
    stat_blob(dest, digest).map(|size| size.is_some())
}

/// The size of blob `digest` in the destination (HEAD: 200 and its Content-Length), or
/// None when it is not there (404).
fn stat_blob(dest: &Destination<'_, '_>, digest: &str) -> Result<Option<u64>> {
    let session = dest.session;
    let head = session.request(
        "HEAD",
        &format!("/v2/{}/blobs/{digest}", dest.repository.path()),
    )?;
    let response = session.send(head)?;
    match response.status {
        200 => {
            let size = response.content_length();
            let url = crate::transport::redact::url(&response.url);
            response.drain();
            size.map(Some).ok_or_else(|| {
                crate::error::Error::invalid_response(format!(
                    "HEAD {url}: the response has no usable Content-Length header"
                ))
            })
        }
        404 => {
            response.drain();
            Ok(None)
        }
        _ => Err(status::error_from_response("HEAD", response)),
    }
}

/// Makes the content of `stream` present in `dest` as one blob, and says how, with its
/// digest and size. With `expected` (the digest the caller says the content has) the
/// blob is HEADed first, and mounted from `mount_from` (another repository of the same
/// registry) when it is missing: either spares reading the reader. Otherwise the reader
/// is read once and sent as it is hashed (`transfer::send_stream`); a content that does
/// not hash to `expected` is RR_ERR_DIGEST_MISMATCH and nothing is committed. Progress
/// counts the bytes as they are read, the total growing with them.
pub fn upload_stream(
    dest: &Destination<'_, '_>,
    stream: &Arc<StreamedBlob>,
    expected: Option<&str>,
    mount_from: Option<&Repository>,
    progress: &Arc<Progress>,
) -> Result<(Outcome, String, u64)> {
    let ctx = dest.session.context();
    let mark = Arc::new(BlobMark::default());
    let present = |outcome: Outcome, digest: &str, size: u64| {
        progress.add_total(size);
        progress.reach(&mark, size);
        (outcome, digest.to_string(), size)
    };
    ctx.check_cancelled()?;
    let mut opened = None;
    if let Some(digest) = expected {
        if let Some(size) = stat_blob(dest, digest)? {
            return Ok(present(Outcome::Existed, digest, size));
        }
        if let Some(from) = mount_from.and_then(|from| dest.mount_candidate(from)) {
            match dest.mount(from, digest, || {}) {
                Some(Ok(MountAnswer::Mounted)) => {
                    // A mount answer carries no size: the blob itself says it.
                    let size = stat_blob(dest, digest)?.ok_or_else(|| {
                        crate::error::Error::invalid_response(format!(
                            "blob {digest} was mounted into {} from {from}, but a HEAD of \
                             it answers 404",
                            dest.repository
                        ))
                    })?;
                    return Ok(present(Outcome::Mounted, digest, size));
                }
                Some(Ok(MountAnswer::Opened(o))) => opened = Some(o),
                Some(Err(e)) if e.kind == ErrorKind::Cancelled => return Err(e),
                Some(Err(_)) | None => {}
            }
        }
    }
    let opened = opened.as_ref().map(OpenedSession::upload_session);
    let (digest, size) = transfer::send_stream(dest, stream, expected, progress, &mark, opened)?;
    Ok((Outcome::Uploaded, digest, size))
}

/// The upload session a registry opened instead of a mount (a 202), kept for the blob's
/// upload: used only once a HEAD says the blob is missing, cancelled otherwise.
struct OpenedSession<'c> {
    session: Arc<Session<'c>>,
    location: Url,
    min_chunk: Option<u64>,
}

impl<'c> OpenedSession<'c> {
    fn upload_session(&self) -> UploadSession<'_, 'c> {
        UploadSession {
            session: &self.session,
            location: self.location.clone(),
            fresh: true,
            offset: 0,
            confirmed: 0,
            min_chunk: self.min_chunk,
        }
    }

    fn cancel(&self) {
        cancel_session(&self.session, &self.location);
    }
}

enum MountAnswer<'c> {
    Mounted,
    /// A session instead of a mount.
    Opened(OpenedSession<'c>),
}

fn try_mount<'c>(
    dest: &Destination<'_, 'c>,
    from: &Repository,
    digest: &str,
) -> Result<MountAnswer<'c>> {
    let session = dest.mount_session(from);
    let mut url = session.url(&uploads_path(dest.repository))?;
    url.query_pairs_mut()
        .append_pair("from", from.path())
        .append_pair("mount", digest);
    let request = Request::new("POST", url).header("Content-Length", "0");
    let response = session.send(request)?;
    match response.status {
        201 => {
            response.drain();
            Ok(MountAnswer::Mounted)
        }
        202 => {
            let opened = UploadSession::opened(&session, &response, "POST")?;
            let (location, min_chunk) = (opened.location, opened.min_chunk);
            response.drain();
            Ok(MountAnswer::Opened(OpenedSession {
                session,
                location,
                min_chunk,
            }))
        }
        _ => Err(status::error_from_response("POST", response)),
    }
}

/// Opens an upload session: POST, 202 and its Location.
pub fn start_session(session: &Session<'_>, repository: &Repository) -> Result<Url> {
    UploadSession::start(session, repository).map(|u| u.location)
}
