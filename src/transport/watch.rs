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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a waiting caller looks at its cancellation flags and limits. 20 ms keeps
/// the cancel latency well under the 100 ms hosts are promised at a negligible cost.
const POLL: Duration = Duration::from_millis(20);
/// Body chunks the worker may read ahead of the caller.
const AHEAD: usize = 2;
/// The most a chunk holds. ureq hands out at most 8 KiB per read; a message and a wake-up
/// per 8 KiB cost more CPU than hashing the bytes, so the worker gathers reads into
/// chunks this large.
const CHUNK: usize = 128 * 1024;
/// How long the worker may gather a chunk after its first bytes came. It also hands a
/// chunk over as soon as a read comes back short (the socket is drained, so the next read
/// may wait), so a slow body is not held back; the idle and rate checks do not depend on
/// either, they count the bytes as the worker reads them (`Arrivals`).
const GATHER: Duration = Duration::from_millis(5);
/// What one read of ureq's gives at most (its buffer's size); less means the socket had
/// no more.
const FULL_READ: usize = 8 * 1024;

/// The body's bytes as the worker reads them, before they are handed over: the caller's
/// idle and rate checks count these, so that gathering reads into chunks never makes a
/// body look slower than it is.
#[derive(Default)]
struct Arrivals {
    bytes: AtomicU64,
    /// When the last bytes came, in microseconds since the exchange started.
    last_at_micros: AtomicU64,
}
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
    let (give_back, recycled) = sync_channel::<Vec<u8>>(AHEAD + 2);
    let arrivals = Arc::new(Arrivals::default());
    let ends = WorkerEnds {
        tx,
        recycled,
        arrivals: arrivals.clone(),
        started,
    };
    let gone = Arc::new(AtomicBool::new(false));
    let flag = gone.clone();
    std::thread::Builder::new()
        .name("rr-http".into())
        .spawn(move || {
            CALLER_GONE.with(|g| *g.borrow_mut() = Some(flag));
            worker(request, send, ends)
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
            give_back,
            pending: Vec::new(),
            offset: 0,
            ended: false,
            control: control.clone(),
            started,
            what,
            arrivals,
            window_waited: Duration::ZERO,
            window_start_bytes: 0,
        }),
    })
}

fn worker<F>(request: Request, send: F, channels: WorkerEnds)
where
    F: FnOnce(Request) -> Result<(Head, Box<dyn Read + Send>)>,
{
    let WorkerEnds {
        tx,
        recycled,
        arrivals,
        started,
    } = channels;
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
        // A buffer the caller has finished with keeps its initialised length: no zeroing.
        let mut buf = recycled.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        let mut filled = 0;
        let mut first_bytes_at: Option<Instant> = None;
        let outcome = loop {
            match body.read(&mut buf[filled..]) {
                Ok(0) => break Ok(true),
                Ok(n) => {
                    filled += n;
                    let now = Instant::now();
                    arrivals.bytes.fetch_add(n as u64, Ordering::SeqCst);
                    let micros = now.duration_since(started).as_micros() as u64;
                    arrivals.last_at_micros.store(micros, Ordering::SeqCst);
                    let first = *first_bytes_at.get_or_insert(now);
                    if filled == CHUNK || n < FULL_READ || now - first >= GATHER {
                        break Ok(false);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        if filled > 0 {
            buf.truncate(filled);
            // A caller that gave up dropped its end: stop reading (dropping the reader
            // closes the connection).
            if tx.send(Message::Data(buf)).is_err() {
                return;
            }
        }
        match outcome {
            Ok(false) => {}
            Ok(true) => {
                let _ = tx.send(Message::End);
                return;
            }
            Err(e) => {
                let _ = tx.send(Message::Failed(e));
                return;
            }
        }
    }
}

/// What the worker thread is given besides the exchange.
struct WorkerEnds {
    tx: SyncSender<Message>,
    recycled: Receiver<Vec<u8>>,
    arrivals: Arc<Arrivals>,
    started: Instant,
}

/// The caller's end of a body read on the worker thread, enforcing the limits.
struct WatchedBody {
    rx: Receiver<Message>,
    /// Read chunks go back to the worker for its next reads.
    give_back: SyncSender<Vec<u8>>,
    pending: Vec<u8>,
    offset: usize,
    ended: bool,
    control: Control,
    started: Instant,
    what: String,
    arrivals: Arc<Arrivals>,
    /// Time spent waiting for the network since the rate window started (time the
    /// caller spends elsewhere, writing a file, does not count against the server), and
    /// the worker's byte count when it started.
    window_waited: Duration,
    window_start_bytes: u64,
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
                if self.since_last_bytes(wait_started) >= idle {
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
                    let window_bytes = self.window_bytes();
                    if window_bytes < needed {
                        return Err(self.fail(Error::transport(format!(
                            "{} {STALLED}: {} bytes in {} ms, under the minimum rate of {} \
                             bytes/s (rr_client_set_min_rate)",
                            self.what,
                            window_bytes,
                            total_wait.as_millis(),
                            rate.bytes_per_second
                        ))));
                    }
                }
            }
        }
    }

    /// How long no byte has come, counted from `wait_started` at the earliest (the time
    /// before it the caller spent elsewhere).
    fn since_last_bytes(&self, wait_started: Instant) -> Duration {
        let micros = self.arrivals.last_at_micros.load(Ordering::SeqCst);
        let last = self.started + Duration::from_micros(micros);
        Instant::now().saturating_duration_since(last.max(wait_started))
    }

    fn window_bytes(&self) -> u64 {
        self.arrivals.bytes.load(Ordering::SeqCst) - self.window_start_bytes
    }

    /// After a chunk came: a window that passed with enough bytes makes room for a new one.
    fn next_window(&mut self) {
        if let Some(rate) = self.control.limits.min_rate {
            if self.window_waited >= rate.window {
                self.window_waited = Duration::ZERO;
                self.window_start_bytes = self.arrivals.bytes.load(Ordering::SeqCst);
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
                    self.next_window();
                    let used = std::mem::replace(&mut self.pending, data);
                    let _ = self.give_back.try_send(used);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that gives `pieces` reads of `piece` bytes (byte i of the body is i mod 251),
    /// sleeping `gap` before each.
    struct Paced {
        piece: usize,
        pieces: usize,
        gap: Duration,
        given: usize,
    }

    impl Read for Paced {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.given == self.piece * self.pieces {
                return Ok(0);
            }
            if self.given % self.piece == 0 {
                std::thread::sleep(self.gap);
            }
            let left_in_piece = self.piece - self.given % self.piece;
            let n = left_in_piece.min(buf.len());
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = ((self.given + i) % 251) as u8;
            }
            self.given += n;
            Ok(n)
        }
    }

    fn get_paced(body: Paced, limits: Limits) -> std::io::Result<Vec<u8>> {
        let url = url::Url::parse("http://127.0.0.1:1/v2/").unwrap();
        let control = Control {
            cancel: CancelProbe::default(),
            limits,
            cleanup: false,
            grace: Duration::ZERO,
        };
        let head_url = url.clone();
        let response = run(
            &Request::new("GET", url),
            &control,
            "GET test".into(),
            move |_| {
                let head = Head {
                    status: 200,
                    headers: Vec::new(),
                    url: head_url,
                };
                Ok((head, Box::new(body) as Box<dyn Read + Send>))
            },
        )
        .map_err(Error::into_io)?;
        let mut got = Vec::new();
        response.body.take(u64::MAX).read_to_end(&mut got)?;
        Ok(got)
    }

    fn expected(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn full_reads_are_gathered_into_chunks_in_order() {
        let body = Paced {
            piece: FULL_READ,
            pieces: 100,
            gap: Duration::ZERO,
            given: 0,
        };
        let got = get_paced(body, Limits::default()).unwrap();
        assert_eq!(got, expected(FULL_READ * 100));
    }

    /// Full 8 KiB reads 60 ms apart: the worker holds a chunk across a read that waits
    /// (no read came back short), so chunks reach the caller up to 120 ms apart. The idle
    /// limit of 100 ms counts the bytes as they came and must not fire.
    #[test]
    fn gathered_chunks_do_not_trip_the_idle_limit() {
        let body = Paced {
            piece: FULL_READ,
            pieces: 6,
            gap: Duration::from_millis(60),
            given: 0,
        };
        let limits = Limits {
            idle: Some(Duration::from_millis(100)),
            ..Limits::default()
        };
        let got = get_paced(body, limits).unwrap();
        assert_eq!(got, expected(FULL_READ * 6));
    }

    #[test]
    fn a_real_gap_longer_than_the_idle_limit_still_fails() {
        let body = Paced {
            piece: FULL_READ,
            pieces: 3,
            gap: Duration::from_millis(300),
            given: 0,
        };
        let limits = Limits {
            idle: Some(Duration::from_millis(100)),
            ..Limits::default()
        };
        let err = get_paced(body, limits).unwrap_err();
        assert!(err.to_string().contains("idle timeout"), "{err}");
    }

    /// 8 KiB every 60 ms is about 136 KB/s: above a minimum of 50 KB/s over 200 ms even
    /// though chunks reach the caller in bursts.
    #[test]
    fn gathered_chunks_count_toward_the_minimum_rate_as_they_came() {
        let body = Paced {
            piece: FULL_READ,
            pieces: 8,
            gap: Duration::from_millis(60),
            given: 0,
        };
        let limits = Limits {
            min_rate: Some(MinRate {
                bytes_per_second: 50_000,
                window: Duration::from_millis(200),
            }),
            ..Limits::default()
        };
        let got = get_paced(body, limits).unwrap();
        assert_eq!(got, expected(FULL_READ * 8));
    }
}
