//! Sending a blob's bytes through an upload session the way `plan` says, and recovering
//! when a request goes wrong: a broken request (reset, timeout, 5xx) makes rr ask the
//! session where it stands and resume from there, re-reading the source from that offset;
//! only a session that is gone (404) or cannot say is replaced by a new one. A body the
//! registry or a proxy refuses as too large (413, a size error, a connection closed while
//! sending with nothing arriving) lowers the client's limit for that registry, and the
//! blob goes on in smaller chunks. Every session that is not committed is cancelled.
//!
//! A host's reader of unknown size (`StreamedBlob`) goes the same way, with what cannot
//! be known before its end: it is never sent monolithic (the digest goes in the URL of
//! the PUT that carries the body), a streamed PATCH runs to the reader's end without
//! Content-Length, chunks are read whole before they are sent, and the commit names the
//! digest the content hashed to. It resumes only where the bytes are still kept.

use super::body::{Content, SourceCursor, Span, SpanOutcome};
use super::plan::{self, Rules, Way};
use super::session::{location_of, Status, UploadSession};
use super::stream::StreamedBlob;
use super::{head_blob, BlobJob, Destination};
use crate::error::{Error, ErrorKind, Result};
use crate::remote::progress::{BlobMark, Progress};
use crate::transport::retry::is_retryable_status;
use crate::transport::{is_retryable, status, Attempts, Body, Context, Request, Response};
use std::cell::Cell;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use url::Url;

/// How a request whose body had not all reached the registry broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    /// The connection failed before the HTTP client had taken the whole body: a proxy or
    /// registry that refuses large bodies closes it this way.
    WhileSending,
    /// The connection failed after the whole body was handed over.
    AfterSending,
    /// The registry (or a proxy) answered with a passing failure status.
    Answered,
    /// Reading the source failed.
    Source,
}

/// How a request on the session went wrong, and so what comes next.
enum Trouble {
    /// The body (of `len` bytes) was refused as too large.
    Refused { len: u64, error: Error },
    /// The request broke: ask the session where it stands.
    Broken {
        error: Error,
        start: u64,
        len: u64,
        hint: Hint,
        at_commit: bool,
    },
    /// The session is gone (404).
    Gone { error: Error, at_commit: bool },
    /// The registry holds another offset than the request said (416).
    BadOffset { error: Error, start: u64, len: u64 },
    /// The commit found content that does not hash to the digest.
    Mismatch(Error),
    /// Anything else: the upload fails with it.
    Fatal(Error),
}

/// What is sent.
enum Blob<'a, 'j> {
    /// A blob of known digest and size.
    Known(&'a BlobJob<'j>),
    /// A host's reader, and the digest its content must have when the caller gave one.
    Stream {
        stream: &'a Arc<StreamedBlob>,
        expected: Option<&'a str>,
    },
}

struct Sender<'a, 'j, 's, 'c> {
    dest: &'a Destination<'s, 'c>,
    blob: Blob<'a, 'j>,
    progress: &'a Arc<Progress>,
    mark: Arc<BlobMark>,
    content: Content,
    /// Whether the local source was found to hash to the digest (see `check_before_put`).
    checked: Cell<bool>,
}

/// Sends `job`'s blob, in `opened` when a session is already open (a mount answered 202),
/// else in sessions of its own. Returns when the blob is committed, or with the error
/// after cancelling every session it leaves.
pub(super) fn send<'x, 'c>(
    dest: &Destination<'x, 'c>,
    job: &BlobJob<'_>,
    mark: &Arc<BlobMark>,
    opened: Option<UploadSession<'x, 'c>>,
) -> Result<()> {
    let sender = Sender {
        dest,
        blob: Blob::Known(job),
        progress: job.progress,
        mark: mark.clone(),
        content: Content::Source(Arc::new(Mutex::new(SourceCursor::new(
            job.source.clone(),
            job.desc.clone(),
            job.contexts.clone(),
        )))),
        checked: Cell::new(false),
    };
    sender.run(opened)
}

/// Sends the content of `stream` as one blob, in `opened` when a session is already open,
/// and commits it under the digest it hashes to, which must be `expected` when that is
/// given (else RR_ERR_DIGEST_MISMATCH, and nothing is committed). Returns the digest and
/// size, or the error after cancelling every session it leaves.
pub(super) fn send_stream<'x, 'c>(
    dest: &Destination<'x, 'c>,
    stream: &Arc<StreamedBlob>,
    expected: Option<&str>,
    progress: &Arc<Progress>,
    mark: &Arc<BlobMark>,
    opened: Option<UploadSession<'x, 'c>>,
) -> Result<(String, u64)> {
    let sender = Sender {
        dest,
        blob: Blob::Stream { stream, expected },
        progress,
        mark: mark.clone(),
        content: Content::Stream(stream.clone()),
        checked: Cell::new(false),
    };
    sender.run(opened)?;
    match (stream.digest(), stream.size()) {
        (Some(digest), Some(size)) => Ok((digest, size)),
        _ => Err(Error::invalid_response(
            "the upload was committed before the blob's reader ended",
        )),
    }
}

/// `url` with `digest=` added to its query.
fn with_digest(url: &Url, digest: &str) -> Url {
    let mut url = url.clone();
    url.query_pairs_mut().append_pair("digest", digest);
    url
}

/// Whether a registry's refusal says the body's size is wrong (besides 413).
fn refuses_size(e: &Error) -> bool {
    let message = e.message.to_ascii_lowercase();
    e.registry_code.as_deref() == Some("SIZE_INVALID")
        || (e.http_status == 400 && (message.contains("too large") || message.contains("exceed")))
}

fn classify(method: &str, response: Response, start: u64, len: u64, at_commit: bool) -> Trouble {
    let error = status::error_from_response(method, response);
    match error.http_status {
        413 if len > 0 => Trouble::Refused { len, error },
        _ if len > 0 && refuses_size(&error) => Trouble::Refused { len, error },
        404 => Trouble::Gone { error, at_commit },
        416 => Trouble::BadOffset { error, start, len },
        _ if error.kind == ErrorKind::DigestMismatch => Trouble::Mismatch(error),
        s if is_retryable_status(s) => Trouble::Broken {
            error,
            start,
            len,
            hint: Hint::Answered,
            at_commit,
        },
        _ => Trouble::Fatal(error),
    }
}

impl<'x, 'c> Sender<'_, '_, 'x, 'c> {
    fn ctx(&self) -> &'c Context {
        self.dest.session.context()
    }

    fn registry(&self) -> &str {
        self.dest.repository.registry().as_str()
    }

    fn rules(&self) -> Rules {
        Rules::for_registry(self.dest.uploads, self.registry())
    }

    /// The blob's size, unless it is a reader that has not ended yet.
    fn size(&self) -> Option<u64> {
        match &self.blob {
            Blob::Known(job) => Some(job.desc.size),
            Blob::Stream { stream, .. } => stream.size(),
        }
    }

    /// The blob's digest, unless it is a reader that has not ended yet.
    fn digest(&self) -> Option<String> {
        match &self.blob {
            Blob::Known(job) => Some(job.desc.digest.clone()),
            Blob::Stream { stream, .. } => stream.digest(),
        }
    }

    /// The blob, for messages.
    fn what(&self) -> String {
        match &self.blob {
            Blob::Known(job) => format!("blob {}", job.desc.digest),
            Blob::Stream { .. } => "the blob from the reader".to_string(),
        }
    }

    /// Whether the bytes from `offset` on can be sent (again).
    fn can_send_from(&self, offset: u64) -> bool {
        match &self.blob {
            Blob::Known(_) => true,
            Blob::Stream { stream, .. } => stream.can_send_from(offset),
        }
    }

    /// The error that ends an upload which would have to send bytes that are gone: the
    /// failure that called for them, and why they cannot come again.
    fn cannot_send_again(&self, offset: u64, cause: Option<Error>) -> Error {
        let why = match &self.blob {
            Blob::Stream { stream, .. } => stream.why_not_from(offset),
            Blob::Known(_) => format!("byte {offset} cannot be sent again"),
        };
        match cause {
            Some(mut e) => {
                e.message = format!("{}; {why}", e.message);
                e
            }
            None => Error::transport(format!("uploading {}: {why}", self.what())),
        }
    }

    /// The digest to commit: a reader's must have ended and be the one expected.
    fn commit_digest(&self) -> Result<String> {
        match &self.blob {
            Blob::Known(job) => Ok(job.desc.digest.clone()),
            Blob::Stream { stream, expected } => {
                let got = stream.digest().ok_or_else(|| {
                    Error::invalid_argument("the blob's reader has not ended: nothing to commit")
                })?;
                match expected {
                    Some(want) => crate::digest::check(
                        &got,
                        want,
                        &format!("the blob from the reader for {}", self.dest.repository),
                    )
                    .map(|()| got),
                    None => Ok(got),
                }
            }
        }
    }

    fn cancelled(&self) -> Error {
        Error::cancelled(format!(
            "the upload of {} to {} was cancelled",
            self.what(),
            self.dest.repository
        ))
    }

    fn run(&self, opened: Option<UploadSession<'x, 'c>>) -> Result<()> {
        let ctx = self.ctx();
        let max = ctx.retry.max_attempts.max(1);
        // Breaks and lost sessions so far: each costs one attempt of the retry budget.
        let mut failures = 0u32;
        let mut current = opened;
        // Whether the upload went on from an offset a status answer gave (distribution 2.8
        // appends at any offset it is told, so a wrong reading shows only at the commit).
        let mut resumed = false;
        let mut restarted = false;
        // The status END last answered and the readings of it already tried: a reading
        // past what the registry confirmed that broke is not tried again while the
        // registry says the same (its other reading is); what the registry confirmed
        // itself is always worth another try.
        let mut tried: (Option<u64>, Vec<u64>) = (None, Vec::new());
        // A body that broke with nothing of it arriving: a second time is a refusal.
        let mut stuck: Option<(u64, u64)> = None;
        // The failure that made the upload go on elsewhere, for the message when a
        // reader's bytes needed there are gone.
        let mut cause: Option<Error> = None;
        loop {
            if ctx.check_cancelled().is_err() {
                if let Some(u) = current.take() {
                    u.cancel();
                }
                return Err(self.cancelled());
            }
            let from = current.as_ref().map_or(0, |u| u.offset);
            if !self.can_send_from(from) {
                if let Some(u) = current.take() {
                    u.cancel();
                }
                return Err(self.cannot_send_again(from, cause));
            }
            let mut u = match current.take() {
                Some(u) => u,
                None => UploadSession::start(self.dest.session, self.dest.repository)?,
            };
            let trouble = match self.drive(&mut u) {
                Ok(()) => return Ok(()),
                Err(t) => t,
            };
            if ctx.check_cancelled().is_err() {
                u.cancel();
                return Err(self.cancelled());
            }
            let (error, start, len, hint, at_commit) = match trouble {
                Trouble::Fatal(e) => {
                    u.cancel();
                    return Err(e);
                }
                Trouble::Refused { len, error } => {
                    cause = Some(error.clone());
                    if let Err(e) = self.learn_refusal(len, u.min_chunk, error) {
                        u.cancel();
                        return Err(e);
                    }
                    // Answered without being taken: the session is where it was.
                    u.fresh = true;
                    current = Some(u);
                    continue;
                }
                Trouble::Mismatch(e) => {
                    u.cancel();
                    if resumed && !restarted {
                        // A resume from a misread offset: once more, from the start.
                        restarted = true;
                        resumed = false;
                        cause = Some(e);
                        continue;
                    }
                    return Err(e);
                }
                Trouble::Gone { error, at_commit } => {
                    if at_commit && self.committed()? {
                        return Ok(());
                    }
                    failures += 1;
                    if failures >= max {
                        return Err(error);
                    }
                    ctx.sleep(ctx.retry.wait_after_error(failures, &error))?;
                    cause = Some(error);
                    continue;
                }
                Trouble::BadOffset { error, start, len } => (error, start, len, None, false),
                Trouble::Broken {
                    error,
                    start,
                    len,
                    hint,
                    at_commit,
                } => (error, start, len, Some(hint), at_commit),
            };

            // Where does the session stand?
            cause = Some(error.clone());
            failures += 1;
            let suspicious = match hint {
                Some(Hint::WhileSending) => true,
                Some(Hint::AfterSending) => stuck == Some((start, len)),
                _ => false,
            };
            match u.status(Attempts::Retry) {
                Ok(Status::At(Some(end))) => {
                    if tried.0 != Some(end) {
                        tried = (Some(end), Vec::new());
                    }
                    let next = plan::resume_offsets(end, u.confirmed, start + len)
                        .into_iter()
                        .find(|o| !tried.1.contains(o));
                    match next {
                        Some(offset) => {
                            if offset > u.confirmed {
                                tried.1.push(offset);
                            }
                            let nothing_arrived = offset == start && len > 0;
                            if nothing_arrived && suspicious {
                                failures -= 1;
                                let refusal = error.clone();
                                if let Err(e) = self.learn_refusal(len, u.min_chunk, refusal) {
                                    u.cancel();
                                    return Err(e);
                                }
                                u.offset = offset;
                                current = Some(u);
                                continue;
                            }
                            stuck = nothing_arrived.then_some((start, len));
                            resumed |= offset > u.confirmed;
                            u.offset = offset;
                            current = Some(u);
                        }
                        // Nothing we sent explains what the session holds.
                        None => u.cancel(),
                    }
                }
                Ok(Status::Gone) => {
                    if (at_commit || Some(start + len) == self.size()) && self.committed()? {
                        return Ok(());
                    }
                    if suspicious {
                        self.learn_refusal(len, u.min_chunk, error.clone())?;
                    }
                }
                Ok(Status::At(None) | Status::Unsupported) => {
                    if suspicious {
                        let refusal = error.clone();
                        if let Err(e) = self.learn_refusal(len, u.min_chunk, refusal) {
                            u.cancel();
                            return Err(e);
                        }
                    }
                    stuck = (hint == Some(Hint::AfterSending)).then_some((start, len));
                    // Asking again would say no more: cancel with the Location there is.
                    u.fresh = true;
                    u.cancel();
                }
                Err(e) if e.kind == ErrorKind::Cancelled => {
                    u.cancel();
                    return Err(self.cancelled());
                }
                Err(_) => u.cancel(),
            }
            if failures >= max {
                if let Some(u) = current.take() {
                    u.cancel();
                }
                return Err(error);
            }
            if let Err(e) = ctx.sleep(ctx.retry.wait_after_error(failures, &error)) {
                if let Some(u) = current.take() {
                    u.cancel();
                }
                return Err(if e.kind == ErrorKind::Cancelled {
                    self.cancelled()
                } else {
                    e
                });
            }
        }
    }

    /// Whether the blob is in the repository after all: a commit that broke may have
    /// been done before the answer was lost.
    fn committed(&self) -> Result<bool> {
        match self.digest() {
            Some(digest) => head_blob(self.dest, &digest),
            None => Ok(false),
        }
    }

    /// Records that `len` bytes were refused: the registry gets chunks below that from
    /// now on, for the rest of the client's life. Fails when no chunk size is left that
    /// is smaller and still as large as the session's minimum.
    fn learn_refusal(&self, len: u64, min_chunk: Option<u64>, error: Error) -> Result<()> {
        let next = plan::chunk_below(len).map(|c| c.max(min_chunk.unwrap_or(0)));
        match next {
            Some(chunk) if chunk < len => {
                self.dest.uploads.limits.lower(self.registry(), chunk);
                Ok(())
            }
            _ => {
                let why = match min_chunk {
                    Some(min) if min >= len => format!(
                        "the session asks for chunks of at least {min} bytes (OCI-Chunk-Min-Length)"
                    ),
                    _ => "no smaller chunk size is left to try".to_string(),
                };
                Err(error.context(format!(
                    "{} refused a request body of {len} bytes and {why}",
                    self.registry()
                )))
            }
        }
    }

    /// Sends what the session does not hold yet, then commits.
    fn drive(&self, u: &mut UploadSession<'x, 'c>) -> std::result::Result<(), Trouble> {
        loop {
            self.ctx().check_cancelled().map_err(Trouble::Fatal)?;
            let rules = self.rules();
            let way = match self.size() {
                Some(size) => rules.way(size, u.offset, u.min_chunk),
                None => rules.way_of_unknown_size(u.min_chunk),
            };
            if let (Blob::Known(job), 0, Way::Monolithic) = (&self.blob, u.offset, way) {
                let size = job.desc.size;
                self.check_before_put().map_err(Trouble::Fatal)?;
                let url = with_digest(&u.location, &job.desc.digest);
                let response = self.body_request(u, "PUT", url, 0, Some(size), false, &[201])?;
                response.drain();
                return Ok(());
            }
            // Where this request's bytes end; None: at the end of a reader, wherever that is.
            let end = match way {
                Way::Chunked(chunk) => Some(self.chunk_end(u.offset, chunk)?),
                _ => self.size(),
            };
            if end == Some(u.offset) {
                return self.commit(u);
            }
            // The first PATCH of a session streams the whole blob without Content-Range,
            // which every registry takes; a resumed one says where it starts.
            let ranged = matches!(way, Way::Chunked(_)) || u.offset > 0;
            let location = u.location.clone();
            let response = self.body_request(
                u,
                "PATCH",
                location,
                u.offset,
                end,
                ranged,
                &[202, 201, 204],
            )?;
            u.location = location_of(&response, "PATCH").map_err(Trouble::Fatal)?;
            response.drain();
            let reached = end.or_else(|| self.size()).ok_or_else(|| {
                Trouble::Fatal(Error::invalid_response(format!(
                    "PATCH {}: the registry answered before the blob's reader ended",
                    crate::transport::redact::url(&u.location)
                )))
            })?;
            u.fresh = true;
            u.offset = reached;
            u.confirmed = reached;
        }
    }

    /// Where a chunk from `offset` ends: `chunk` bytes on, or at the blob's end. A reader's
    /// chunk is read whole first (its length goes in Content-Range), and kept until the
    /// next one.
    fn chunk_end(&self, offset: u64, chunk: u64) -> std::result::Result<u64, Trouble> {
        let upto = offset.saturating_add(chunk);
        match &self.blob {
            Blob::Known(job) => Ok(upto.min(job.desc.size)),
            Blob::Stream { stream, .. } => stream
                .fill(offset, upto, self.ctx())
                .map_err(Trouble::Fatal),
        }
    }

    /// Reads a local source through once before a monolithic PUT, checking its digest.
    /// distribution 2.8 keeps a session whose monolithic commit found the wrong content
    /// and then refuses to cancel it (its own cancel fails: "already closed"), so such
    /// content must never be sent. Files and layouts are read again cheaply (the page
    /// cache), and blobs under the monolithic threshold are small; a source registry is
    /// not asked twice (its blobs were checked when they were pushed there).
    fn check_before_put(&self) -> Result<()> {
        let Blob::Known(job) = &self.blob else {
            return Ok(());
        };
        let desc = job.desc;
        if self.checked.get() || job.source.source_of(&desc.digest).repository().is_some() {
            return Ok(());
        }
        let mut reader = job.source.open_blob(desc, job.contexts)?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            self.ctx().check_cancelled()?;
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::from_io(
                        &e,
                        ErrorKind::Io,
                        format!("reading blob {}", desc.digest),
                    ))
                }
            }
        }
        self.checked.set(true);
        Ok(())
    }

    /// PUT `?digest=` with no body.
    fn commit(&self, u: &mut UploadSession<'x, 'c>) -> std::result::Result<(), Trouble> {
        let size = self.size().unwrap_or(u.offset);
        let digest = self.commit_digest().map_err(Trouble::Fatal)?;
        let put =
            Request::new("PUT", with_digest(&u.location, &digest)).header("Content-Length", "0");
        u.fresh = false;
        match u.session.send_with(put, Attempts::Once) {
            Ok(response) if response.status == 201 => {
                response.drain();
                Ok(())
            }
            Ok(response) => Err(classify("PUT", response, size, 0, true)),
            Err(e) if e.kind == ErrorKind::Cancelled => Err(Trouble::Fatal(e)),
            Err(e) if is_retryable(&e) => Err(Trouble::Broken {
                error: e,
                start: size,
                len: 0,
                hint: Hint::AfterSending,
                at_commit: true,
            }),
            Err(e) => Err(Trouble::Fatal(e)),
        }
    }

    /// Sends bytes `start..end` of the blob as the body of `method` to `url`; with no
    /// `end`, the rest of a reader.
    #[allow(clippy::too_many_arguments)]
    fn body_request(
        &self,
        u: &mut UploadSession<'x, 'c>,
        method: &'static str,
        url: Url,
        start: u64,
        end: Option<u64>,
        ranged: bool,
        ok: &[u16],
    ) -> std::result::Result<Response, Trouble> {
        let ctx = self.ctx();
        let outcome = Arc::new(SpanOutcome::default());
        let span = Span {
            content: self.content.clone(),
            start,
            end,
            size: self.size(),
            progress: self.progress.clone(),
            mark: self.mark.clone(),
            cancelled: ctx.cancelled.clone(),
            outcome: outcome.clone(),
        };
        let at_commit = method == "PUT";
        let mut request = Request::new(method, url)
            .header("Content-Type", "application/octet-stream")
            .body(Body::Source(Arc::new(span)));
        if let (true, Some(end)) = (ranged, end) {
            if end > start {
                request.set_header("Content-Range", format!("{start}-{}", end - 1));
            }
        }
        u.fresh = false;
        let result = u.session.send_with(request, Attempts::Once);
        // A span to a reader's end is as long as what went out.
        let len = end.map_or_else(|| outcome.handed.load(Ordering::SeqCst), |end| end - start);
        if let Some(e) = outcome.take_source_error() {
            if let Ok(response) = result {
                // A body to a reader's end ends cleanly on a failure, and the answer says
                // where the session now stands, for its cancel.
                if ok.contains(&response.status) {
                    if let Ok(location) = location_of(&response, method) {
                        u.location = location;
                        u.fresh = true;
                    }
                }
                response.drain();
            }
            if e.kind == ErrorKind::Cancelled || !is_retryable(&e) {
                return Err(Trouble::Fatal(e));
            }
            return Err(Trouble::Broken {
                error: e,
                start,
                len,
                hint: Hint::Source,
                at_commit,
            });
        }
        match result {
            Ok(response) if ok.contains(&response.status) => {
                if let Some(e) = outcome.take_too_long() {
                    if let Ok(location) = location_of(&response, method) {
                        u.location = location;
                        u.fresh = true;
                    }
                    response.drain();
                    return Err(Trouble::Fatal(e));
                }
                Ok(response)
            }
            Ok(response) => Err(classify(method, response, start, len, at_commit)),
            Err(e) if e.kind == ErrorKind::Cancelled => Err(Trouble::Fatal(e)),
            Err(e) if is_retryable(&e) => {
                let handed = outcome.handed.load(Ordering::SeqCst);
                Err(Trouble::Broken {
                    error: e,
                    start,
                    len,
                    hint: if handed < len {
                        Hint::WhileSending
                    } else {
                        Hint::AfterSending
                    },
                    at_commit,
                })
            }
            Err(e) => Err(Trouble::Fatal(e)),
        }
    }
}
