//! Making one blob present in a repository: HEAD (skip when there), a cross-repository
//! mount when the blob is in another repository of the same registry, otherwise an upload
//! session (POST), the whole body in one PATCH, and the commit PUT `?digest=`. A failed
//! upload cancels its session and is tried again from its source as a whole.

use super::blob::{self, Verify};
use super::progress::{BlobMark, Progress};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;
use crate::name::Repository;
use crate::source::{BlobSource, SourceContexts};
use crate::transport::{
    is_retryable, redact, status, Attempts, Body, BodySource, Request, Response, Session,
};
use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
    pub fn new(session: &'s Session<'c>, repository: &'s Repository) -> Self {
        Destination {
            session,
            repository,
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

    /// The source repository to mount from: another repository of the same registry.
    fn mount_source<'a>(&self, source: &'a BlobSource) -> Option<&'a Repository> {
        let from = source.repository()?;
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

    /// Tries to mount `desc` from `from`; the first try per source is made alone.
    fn mount(&self, from: &Repository, desc: &Descriptor) -> Option<Result<MountAnswer<'c>>> {
        let gate = self.mount_gate(from);
        let mut known = lock(&gate);
        match *known {
            Some(false) => None,
            Some(true) => {
                drop(known);
                Some(try_mount(self, from, desc))
            }
            None => {
                let answer = try_mount(self, from, desc);
                *known = Some(matches!(answer, Ok(MountAnswer::Mounted)));
                Some(answer)
            }
        }
    }

    /// Records that mounting from `from` answered with an upload session: later blobs
    /// from there go straight to their HEAD.
    fn mount_declined(&self, from: &Repository) {
        *lock(&self.mount_gate(from)) = Some(false);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One blob to make present and where to read it from.
pub struct BlobJob<'a> {
    pub desc: &'a Descriptor,
    pub source: &'a BlobSource,
    pub contexts: &'a Arc<SourceContexts>,
    pub progress: &'a Arc<Progress>,
}

fn blobs_path(repository: &Repository) -> String {
    format!("/v2/{}/blobs/uploads/", repository.path())
}

/// Makes `job.desc` present in `dest`, crediting its size to progress as it goes.
pub fn upload(dest: &Destination<'_, '_>, job: &BlobJob<'_>) -> Result<Outcome> {
    let session = dest.session;
    let ctx = session.context();
    let desc = job.desc;
    let mark = Arc::new(BlobMark::default());
    ctx.check_cancelled()?;

    // A blob in another repository of the same registry is mounted straight away: the
    // registry answers 201 whether it links it now or already had it, so the HEAD is
    // needed only when the mount is refused. A refused mount (or a token without pull on
    // the source) falls back to an upload; after a first refusal the rest of the operation
    // uploads from that source directly. A registry that does not mount answers 202 with
    // an upload session: that session is used only when a HEAD says the blob is missing,
    // and cancelled when the blob is there.
    let mut opened: Option<(Arc<Session<'_>>, Url)> = None;
    if let Some(from) = dest.mount_source(job.source) {
        match dest.mount(from, desc) {
            Some(Ok(MountAnswer::Mounted)) => {
                job.progress.reach(&mark, desc.size);
                return Ok(Outcome::Mounted);
            }
            Some(Ok(MountAnswer::Opened(s, location))) => {
                dest.mount_declined(from);
                opened = Some((s, location));
            }
            Some(Err(e)) if e.kind == ErrorKind::Cancelled => return Err(e),
            Some(Err(_)) | None => {}
        }
    }

    match head_blob(dest, desc) {
        Ok(true) => {
            if let Some((s, location)) = opened.take() {
                cancel_session(&s, &location);
            }
            job.progress.reach(&mark, desc.size);
            return Ok(Outcome::Existed);
        }
        Ok(false) => {}
        Err(e) => {
            if let Some((s, location)) = opened.take() {
                cancel_session(&s, &location);
            }
            return Err(e);
        }
    }

    let max = ctx.retry.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        ctx.check_cancelled()?;
        let (upload_session, location) = match opened.take() {
            Some((s, location)) => (Some(s), location),
            None => (None, start_session(session, dest.repository)?),
        };
        let s: &Session<'_> = upload_session.as_deref().unwrap_or(session);
        let mut current = location.clone();
        match transfer(s, &mut current, job, &mark) {
            Ok(()) => return Ok(Outcome::Uploaded),
            Err(e) => {
                cancel_session(s, &current);
                if ctx.check_cancelled().is_err() || !is_retryable(&e) || attempt >= max {
                    if ctx.check_cancelled().is_err() && e.kind != ErrorKind::Cancelled {
                        return Err(Error::cancelled(format!(
                            "the upload of blob {} to {} was cancelled",
                            desc.digest, dest.repository
                        )));
                    }
                    return Err(e);
                }
                ctx.sleep(ctx.retry.wait_after(attempt, None))?;
                attempt += 1;
            }
        }
    }
}

/// Whether the destination already has `desc` (HEAD: 200 yes, 404 no).
fn head_blob(dest: &Destination<'_, '_>, desc: &Descriptor) -> Result<bool> {
    let session = dest.session;
    let head = session.request(
        "HEAD",
        &format!("/v2/{}/blobs/{}", dest.repository.path(), desc.digest),
    )?;
    let response = session.send(head)?;
    match response.status {
        200 => {
            response.drain();
            Ok(true)
        }
        404 => {
            response.drain();
            Ok(false)
        }
        _ => Err(status::error_from_response("HEAD", response)),
    }
}

enum MountAnswer<'c> {
    Mounted,
    Opened(Arc<Session<'c>>, Url),
}

fn try_mount<'c>(
    dest: &Destination<'_, 'c>,
    from: &Repository,
    desc: &Descriptor,
) -> Result<MountAnswer<'c>> {
    let session = dest.mount_session(from);
    let mut url = session.url(&blobs_path(dest.repository))?;
    url.query_pairs_mut()
        .append_pair("from", from.path())
        .append_pair("mount", &desc.digest);
    let request = Request::new("POST", url).header("Content-Length", "0");
    let response = session.send(request)?;
    match response.status {
        201 => {
            response.drain();
            Ok(MountAnswer::Mounted)
        }
        202 => {
            let location = location_of(&response, "POST")?;
            response.drain();
            Ok(MountAnswer::Opened(session, location))
        }
        _ => Err(status::error_from_response("POST", response)),
    }
}

/// Opens an upload session: POST, 202 and its Location.
pub fn start_session(session: &Session<'_>, repository: &Repository) -> Result<Url> {
    let request = session
        .request("POST", &blobs_path(repository))?
        .header("Content-Length", "0");
    let response = session.send_expect(request, &[202])?;
    let location = location_of(&response, "POST")?;
    response.drain();
    Ok(location)
}

/// Cancels an upload session, also when the operation itself was cancelled; failures are
/// ignored (the registry expires abandoned sessions).
pub fn cancel_session(session: &Session<'_>, location: &Url) {
    if let Ok(response) =
        session.send_with(Request::new("DELETE", location.clone()), Attempts::Cleanup)
    {
        response.drain();
    }
}

/// The Location of `response`, resolved against the URL that answered.
fn location_of(response: &Response, method: &str) -> Result<Url> {
    let url = redact::url(&response.url);
    let value = response.header("location").ok_or_else(|| {
        Error::invalid_response(format!(
            "{method} {url}: the response has no Location header"
        ))
    })?;
    response.url.join(value.trim()).map_err(|e| {
        Error::invalid_response(format!("{method} {url}: unusable Location {value:?}: {e}"))
    })
}

/// PATCH the whole blob to `location`, then PUT `?digest=`. `location` follows the session
/// so that a failure cancels the right URL.
fn transfer(
    session: &Session<'_>,
    location: &mut Url,
    job: &BlobJob<'_>,
    mark: &Arc<BlobMark>,
) -> Result<()> {
    let mismatch = Arc::new(Mutex::new(None));
    let body = BlobBody {
        mismatch: mismatch.clone(),
        desc: job.desc.clone(),
        source: job.source.clone(),
        contexts: job.contexts.clone(),
        progress: job.progress.clone(),
        mark: mark.clone(),
        cancelled: session.context().cancelled.clone(),
    };
    let patch = Request::new("PATCH", location.clone())
        .header("Content-Type", "application/octet-stream")
        .body(Body::Source(Arc::new(body)));
    let response = session.send_with(patch, Attempts::Once)?;
    if !matches!(response.status, 201 | 202 | 204) {
        return Err(status::error_from_response("PATCH", response));
    }
    *location = location_of(&response, "PATCH")?;
    response.drain();
    // Content longer than its descriptor was cut at the descriptor's size and sent whole, so
    // that the session is still in a state the registry lets us cancel; it is never
    // committed.
    if let Some(e) = lock(&mismatch).take() {
        return Err(e);
    }

    let mut commit = location.clone();
    commit
        .query_pairs_mut()
        .append_pair("digest", &job.desc.digest);
    let put = Request::new("PUT", commit).header("Content-Length", "0");
    let response = session.send_with(put, Attempts::Once)?;
    if response.status != 201 {
        return Err(status::error_from_response("PUT", response));
    }
    response.drain();
    Ok(())
}

/// An upload body: the blob read from its source afresh on every attempt, verified,
/// counted for progress and stopped when the operation is cancelled.
struct BlobBody {
    mismatch: Arc<Mutex<Option<Error>>>,
    desc: Descriptor,
    source: BlobSource,
    contexts: Arc<SourceContexts>,
    progress: Arc<Progress>,
    mark: Arc<BlobMark>,
    cancelled: Arc<AtomicBool>,
}

impl BodySource for BlobBody {
    fn open(&self) -> Result<Box<dyn Read + Send>> {
        // The registry checks the bytes against the digest of the commit; hashing them here
        // as well would take a core from the registry on a small machine.
        let inner = self
            .source
            .open_blob_checked(&self.desc, &self.contexts, Verify::SizeOnly)?;
        let counting = CountingReader {
            mismatch: self.mismatch.clone(),
            size: self.desc.size,
            inner,
            position: 0,
            progress: self.progress.clone(),
            mark: self.mark.clone(),
            cancelled: self.cancelled.clone(),
        };
        // The HTTP client asks for 8 KiB at a time; reading the source (a file, another
        // registry) and counting progress in chunks of 256 KiB costs a system call, a lock
        // and a host callback per chunk instead of per 8 KiB.
        Ok(Box::new(std::io::BufReader::with_capacity(
            blob::CHUNK,
            counting,
        )))
    }
    fn len(&self) -> Option<u64> {
        Some(self.desc.size)
    }
}

struct CountingReader {
    mismatch: Arc<Mutex<Option<Error>>>,
    size: u64,
    inner: Box<dyn Read + Send>,
    position: u64,
    progress: Arc<Progress>,
    mark: Arc<BlobMark>,
    cancelled: Arc<AtomicBool>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancelled.load(Ordering::SeqCst) {
            return Err(Error::cancelled("the operation was cancelled").into_io());
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                // Content found too long once the descriptor's size is sent ends the request
                // normally (see `transfer`); anything else (a short body, a failed source)
                // has to break it.
                let inner = crate::error::find_wrapped(&e).cloned();
                match inner {
                    Some(err)
                        if err.kind == ErrorKind::DigestMismatch && self.position == self.size =>
                    {
                        *lock(&self.mismatch) = Some(err);
                        return Ok(0);
                    }
                    _ => return Err(e),
                }
            }
        };
        self.position += n as u64;
        self.progress.reach(&self.mark, self.position);
        Ok(n)
    }
}
