//! Keeping a blocking HTTP exchange under the host's control: cancellation from any
//! thread, the operation's deadline, the time to first byte, the idle timeout and a
//! minimum rate over a window.
//!
//! ureq 2 blocks in connect, in writes and in reads, and nothing can interrupt a blocked
//! socket call from another thread. So the exchange (connect, request, head) and the
//! reading of the body run on a worker thread, which hands the head and then the body in
//! chunks over a small channel; the caller waits on that channel in short slices and
//! checks the limits between them. When the caller gives up (cancelled, a limit passed)
//! it drops its end and returns at once; the worker is abandoned and ends by itself: at
//! its next chunk (the send fails), or by the socket timeouts (connect, idle) that the
//! agent still sets.

use super::http::{Body, BodySource, Request, Response};
use crate::error::{Error, Result};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a waiting caller looks at its cancellation flags and limits. 20 ms keeps
/// the cancel latency well under the 100 ms hosts are promised at a negligible cost.
const POLL: Duration = Duration::from_millis(20);
/// Body chunks the worker may read ahead of the caller.
const AHEAD: usize = 4;
const CHUNK: usize = 64 * 1024;
/// How long a clean-up request (cancelling an upload session after the operation was
/// cancelled) may take, so that a cancelled call still returns promptly.
pub const CLEANUP_BUDGET: Duration = Duration::from_secs(2);

/// Words every deadline error carries: such an error is final, not retried.
pub const DEADLINE_PASSED: &str = "the operation's deadline";
/// Words every stall (first byte, idle, minimum rate) carries: a request that stalled is
/// sent again only once, so that a trickling server cannot hold a call for minutes.
pub const STALLED: &str = "timed out (stalled)";

/// The minimum rate a body must keep, averaged over `window` of waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    pub bytes_per_second: u64,
    pub window: Duration,
}

/// The limits of one operation's exchanges.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// When the whole operation must have ended, and the deadline as it was set (for the
    /// message).
    pub deadline: Option<(Instant, Duration)>,
    /// From the end of the request (its body sent) to the response's head.
    pub first_byte: Option<Duration>,
    /// No byte of the body for this long.
    pub idle: Option<Duration>,
    pub min_rate: Option<MinRate>,
}

/// Whether the host cancelled: the operation's own flag (set by its progress callback or
/// by the flag of a handle it runs under) or any of the handles' flags
/// (`rr_client_cancel`). A handle's flag seen set is copied into the operation's, so
/// that code that watches only the operation's flag (upload bodies read on a worker
/// thread, the blob pool) stops too.
#[derive(Clone, Default)]
pub struct CancelProbe {
    pub op: Arc<AtomicBool>,
    pub handles: Arc<[Arc<AtomicBool>]>,
}

impl CancelProbe {
    pub fn is_cancelled(&self) -> bool {
        if self.op.load(Ordering::SeqCst) {
            return true;
        }
        if self.handles.iter().any(|h| h.load(Ordering::SeqCst)) {
            self.op.store(true, Ordering::SeqCst);
            return true;
        }
        false
    }
}

/// What a request carries to an exchange that can be watched (see `Request::control`).
#[derive(Clone)]
pub struct Control {
    pub cancel: CancelProbe,
    pub limits: Limits,
    /// A clean-up request: sent even though the operation is cancelled, within
    /// `CLEANUP_BUDGET`.
    pub cleanup: bool,
    /// How long a cancelled caller still waits for the answer to a request whose body
    /// was sent (`UPLOAD_GRACE` for upload requests, else zero).
    pub grace: Duration,
}

/// An upload request (POST, PATCH, PUT) that is out has opened or changed a session on
/// the registry, and only its answer says where the session now stands (its Location, a
/// new `_state`; distribution refuses a GET or DELETE with the old one). A cancel waits this long for
/// that answer, so that the session can then be cancelled for sure. A body of unknown
/// length (a host's reader, sent to its end) is waited for while it is still going out:
/// it ends at its next read after the cancel (`remote::upload::body`).
pub const UPLOAD_GRACE: Duration = Duration::from_millis(300);

pub fn cancelled_error() -> Error {
    Error::cancelled("the operation was cancelled")
}

pub fn deadline_error(what: &str, set: Duration) -> Error {
    Error::transport(format!(
        "{what} timed out: {DEADLINE_PASSED} of {} ms passed (rr_client_set_deadline)",
        set.as_millis()
    ))
}

impl Control {
    /// Fails when the caller must stop waiting: cancelled (unless cleaning up), or the
    /// deadline passed.
    fn check(&self, what: &str, started: Instant) -> Result<()> {
        if self.cleanup {
            if started.elapsed() >= CLEANUP_BUDGET {
                return Err(Error::transport(format!(
                    "{what} timed out: a clean-up request gets {} ms after a cancellation",
                    CLEANUP_BUDGET.as_millis()
                )));
            }
            return Ok(());
        }
        if self.cancel.is_cancelled() {
            return Err(cancelled_error());
        }
        if let Some((at, set)) = self.limits.deadline {
            if Instant::now() >= at {
                return Err(deadline_error(what, set));
            }
        }
        Ok(())
    }
}

/// The head of a response, as the worker hands it over.
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub url: url::Url,
}

enum Message {
    Head(Result<Head>),
    Data(Vec<u8>),
    End,
    Failed(std::io::Error),
}

/// A request body reader that notes when it reached its end: the time to first byte
/// counts from there.
struct NoteEnd {
    inner: Box<dyn Read + Send>,
    sent: Arc<AtomicBool>,
}

impl Read for NoteEnd {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.sent.store(true, Ordering::SeqCst);
        }
        Ok(n)
    }
}

struct NotingSource {
    inner: Arc<dyn BodySource>,
    sent: Arc<AtomicBool>,
}

impl BodySource for NotingSource {
    fn open(&self) -> Result<Box<dyn Read + Send>> {
        Ok(Box::new(NoteEnd {
            inner: self.inner.open()?,
            sent: self.sent.clone(),
        }))
    }
    fn len(&self) -> Option<u64> {
        self.inner.len()
    }
}

std::thread_local! {
    /// On a worker thread: raised when the caller has stopped waiting for the exchange.
    static CALLER_GONE: std::cell::RefCell<Option<Arc<AtomicBool>>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether the exchange running on this thread has been given up by its caller. ureq 2
/// sends a request without a body again, on a new connection, when a reused one closes
/// before the answer; the backend's resolver asks this before every new connection, so
/// that nothing is sent after the caller was told the call had ended.
pub fn caller_gone() -> bool {
    CALLER_GONE.with(|g| {
        g.borrow()
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    })
}

/// Raises the worker's flag when the caller gives up waiting for the head.
struct GiveUp<'a>(&'a AtomicBool, bool);

impl Drop for GiveUp<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// Runs `send` (one blocking exchange that returns the head and a body reader) on a
/// worker thread and waits for it under `control`. `what` names the request in messages
/// (method and masked URL).
pub fn run<F>(request: &Request, control: &Control, what: String, send: F) -> Result<Response>
where
    F: FnOnce(Request) -> Result<(Head, Box<dyn Read + Send>)> + Send + 'static,
{
    let started = Instant::now();
    control.check(&what, started)?;
    let mut request = request.clone();
    request.control = None;
    // The first-byte clock starts when the request is out: at once for a body in
    // memory, at the end of a streamed one.
    let sent = Arc::new(AtomicBool::new(true));
    let ends_itself = matches!(&request.body, Body::Source(source) if source.len().is_none());
    if let Body::Source(source) = &request.body {
        sent.store(false, Ordering::SeqCst);
        request.body = Body::Source(Arc::new(NotingSource {
            inner: source.clone(),
            sent: sent.clone(),
        }));
    }
    let (tx, rx) = sync_channel::<Message>(AHEAD);
    let gone = Arc::new(AtomicBool::new(false));
    let flag = gone.clone();
    std::thread::Builder::new()
        .name("rr-http".into())
        .spawn(move || {
            CALLER_GONE.with(|g| *g.borrow_mut() = Some(flag));
            worker(request, send, tx)
        })
        .map_err(|e| Error::transport(format!("{what}: starting an HTTP worker failed: {e}")))?;
    // Every way out of the wait below but the head's arrival gives the exchange up.
    let mut give_up = GiveUp(&gone, false);

    let mut sent_at: Option<Instant> = None;
    let mut cancelled_at: Option<Instant> = None;
    let head = loop {
        if let Err(e) = control.check(&what, started) {
            let waits = e.kind == crate::error::ErrorKind::Cancelled
                && control.grace > Duration::ZERO
                && (sent.load(Ordering::SeqCst) || ends_itself);
            let at = *cancelled_at.get_or_insert_with(Instant::now);
            if !waits || at.elapsed() >= control.grace {
                return Err(e);
            }
        }
        if sent_at.is_none() && sent.load(Ordering::SeqCst) {
            sent_at = Some(Instant::now());
        }
        if let (Some(limit), Some(at)) = (control.limits.first_byte, sent_at) {
            if at.elapsed() >= limit {
                return Err(Error::transport(format!(
                    "{what} {STALLED}: no response within {} ms of sending the request \
                     (first-byte timeout, rr_client_set_first_byte_timeout)",
                    limit.as_millis()
                )));
            }
        }
        match rx.recv_timeout(POLL) {
            // After a cancel in the grace period the answer is still returned: the
            // caller learns where the upload stands and then sees the cancel.
            Ok(Message::Head(head)) => {
                give_up.1 = true;
                break head?;
            }
            Ok(_) => return Err(Error::transport(format!("{what}: no response head"))),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Error::transport(format!(
                    "{what}: the HTTP worker ended without an answer"
                )))
            }
        }
    };
    Ok(Response {
        status: head.status,
        headers: head.headers,
        url: head.url,
        body: Box::new(WatchedBody {
            rx,
            pending: Vec::new(),
            offset: 0,
            ended: false,
            control: control.clone(),
            started,
            what,
            window_waited: Duration::ZERO,
            window_bytes: 0,
        }),
    })
}

fn worker<F>(request: Request, send: F, tx: SyncSender<Message>)
where
    F: FnOnce(Request) -> Result<(Head, Box<dyn Read + Send>)>,
{
    let (head, mut body) = match send(request) {
        Ok(pair) => pair,
        Err(e) => {
            let _ = tx.send(Message::Head(Err(e)));
            return;
        }
    };
    if tx.send(Message::Head(Ok(head))).is_err() {
        return;
    }
    loop {
        let mut buf = vec![0u8; CHUNK];
        match body.read(&mut buf) {
            Ok(0) => {
                let _ = tx.send(Message::End);
                return;
            }
            Ok(n) => {
                buf.truncate(n);
                // A caller that gave up dropped its end: stop reading (dropping the
                // reader closes the connection).
                if tx.send(Message::Data(buf)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Message::Failed(e));
                return;
            }
        }
    }
}

/// The caller's end of a body read on the worker thread, enforcing the limits.
struct WatchedBody {
    rx: Receiver<Message>,
    pending: Vec<u8>,
    offset: usize,
    ended: bool,
    control: Control,
    started: Instant,
    what: String,
    /// Time spent waiting for the network since the rate window started (time the
    /// caller spends elsewhere, writing a file, does not count against the server), and
    /// the bytes that came in that window.
    window_waited: Duration,
    window_bytes: u64,
}

impl WatchedBody {
    fn fail(&self, e: Error) -> std::io::Error {
        e.into_io()
    }

    /// Waits for the next message, checking the limits every slice.
    fn wait(&mut self) -> std::io::Result<Option<Message>> {
        let wait_started = Instant::now();
        loop {
            self.control
                .check(&self.what, self.started)
                .map_err(|e| self.fail(e))?;
            match self.rx.recv_timeout(POLL) {
                Ok(m) => {
                    self.window_waited += wait_started.elapsed();
                    return Ok(Some(m));
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
                Err(RecvTimeoutError::Timeout) => {}
            }
            let waited = wait_started.elapsed();
            if let Some(idle) = self.control.limits.idle {
                if waited >= idle {
                    return Err(self.fail(Error::transport(format!(
                        "{} {STALLED}: no byte of the body for {} ms (idle timeout)",
                        self.what,
                        idle.as_millis()
                    ))));
                }
            }
            if let Some(rate) = self.control.limits.min_rate {
                let total_wait = self.window_waited + waited;
                if total_wait >= rate.window {
                    let needed = (rate.bytes_per_second as f64 * rate.window.as_secs_f64()) as u64;
                    if self.window_bytes < needed {
                        return Err(self.fail(Error::transport(format!(
                            "{} {STALLED}: {} bytes in {} ms, under the minimum rate of {} \
                             bytes/s (rr_client_set_min_rate)",
                            self.what,
                            self.window_bytes,
                            total_wait.as_millis(),
                            rate.bytes_per_second
                        ))));
                    }
                }
            }
        }
    }

    fn count(&mut self, bytes: usize) {
        self.window_bytes += bytes as u64;
        if let Some(rate) = self.control.limits.min_rate {
            if self.window_waited >= rate.window {
                // The window passed with enough bytes: start a new one.
                self.window_waited = Duration::ZERO;
                self.window_bytes = 0;
            }
        }
    }
}

impl Read for WatchedBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.offset >= self.pending.len() {
            if self.ended {
                return Ok(0);
            }
            match self.wait()? {
                Some(Message::Data(data)) => {
                    self.count(data.len());
                    self.pending = data;
                    self.offset = 0;
                }
                Some(Message::End) => self.ended = true,
                Some(Message::Failed(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                Some(Message::Head(_)) | None => {
                    self.ended = true;
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the HTTP worker ended in the middle of the body",
                    ));
                }
            }
        }
        let n = buf.len().min(self.pending.len() - self.offset);
        buf[..n].copy_from_slice(&self.pending[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}
