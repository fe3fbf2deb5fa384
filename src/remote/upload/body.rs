//! Upload bodies: a span of a blob, read from its source at constant memory, counted for
//! progress, stopped when the operation is cancelled, and opened again from its start for
//! every attempt (a redirect, a re-authentication). One reader of the source is kept
//! across the spans of one upload, so that consecutive chunks go on from where the last
//! stopped (a source registry is asked once, not once per chunk); a span that starts
//! elsewhere (a retry, a resume) re-opens the source at its offset. A host's reader of
//! unknown size (`StreamedBlob`) gives again what it keeps, and may be sent in a span
//! without an end, which ends with the reader.

use super::super::blob;
use super::super::progress::{BlobMark, Progress};
use super::stream::StreamedBlob;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;
use crate::source::{BlobSource, SourceContexts};
use crate::transport::BodySource;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The blob's source and the reader currently open on it, with its position.
pub struct SourceCursor {
    source: BlobSource,
    desc: Descriptor,
    contexts: Arc<SourceContexts>,
    open: Option<(u64, Box<dyn Read + Send>)>,
}

impl SourceCursor {
    pub fn new(source: BlobSource, desc: Descriptor, contexts: Arc<SourceContexts>) -> Self {
        SourceCursor {
            source,
            desc,
            contexts,
            open: None,
        }
    }

    /// Reads at `position`, re-opening the source there when the open reader is elsewhere.
    fn read_at(&mut self, position: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.open.as_ref().map(|(p, _)| *p) != Some(position) {
            self.open = None;
            let reader = self
                .source
                .open_blob_from(&self.desc, &self.contexts, position)
                .map_err(Error::into_io)?;
            self.open = Some((position, reader));
        }
        let (at, reader) = self.open.as_mut().expect("opened above");
        match reader.read(buf) {
            Ok(n) => {
                *at += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.open = None;
                Err(e)
            }
        }
    }
}

/// Where an upload's bytes are read.
#[derive(Clone)]
pub enum Content {
    /// A blob of known digest and size, from its source, re-opened at any offset.
    Source(Arc<Mutex<SourceCursor>>),
    /// A host's reader, read once.
    Stream(Arc<StreamedBlob>),
}

impl Content {
    fn read_at(&self, position: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Content::Source(cursor) => lock(cursor).read_at(position, buf),
            Content::Stream(stream) => stream.read_at(position, buf),
        }
    }

    /// The blob, for messages.
    fn describe(&self) -> String {
        match self {
            Content::Source(cursor) => format!("blob {}", lock(cursor).desc.digest),
            Content::Stream(_) => "the blob read from the reader".to_string(),
        }
    }
}

/// What happened to a span's body during its last attempt, for the caller to read once
/// the request is over.
#[derive(Default)]
pub struct SpanOutcome {
    /// Bytes handed to the HTTP client.
    pub handed: AtomicU64,
    /// The source failed (or the operation was cancelled) while the body was read.
    pub source_error: Mutex<Option<Error>>,
    /// The source holds more than the descriptor says. The span is still sent whole (so
    /// that the session stays in a state the registry lets us cancel) and never committed.
    pub too_long: Mutex<Option<Error>>,
}

impl SpanOutcome {
    pub fn take_source_error(&self) -> Option<Error> {
        lock(&self.source_error).take()
    }
    pub fn take_too_long(&self) -> Option<Error> {
        lock(&self.too_long).take()
    }
}

/// Bytes `start..end` of the blob as a request body; with no `end`, the rest of a
/// reader, however long (sent without Content-Length).
pub struct Span {
    pub content: Content,
    pub start: u64,
    pub end: Option<u64>,
    /// The blob's size, unless it is a reader that has not ended yet.
    pub size: Option<u64>,
    pub progress: Arc<Progress>,
    pub mark: Arc<BlobMark>,
    pub cancelled: Arc<AtomicBool>,
    pub outcome: Arc<SpanOutcome>,
}

impl BodySource for Span {
    fn open(&self) -> Result<Box<dyn Read + Send>> {
        self.outcome.handed.store(0, Ordering::SeqCst);
        let reader = SpanReader {
            content: self.content.clone(),
            position: self.start,
            end: self.end,
            size: self.size,
            progress: self.progress.clone(),
            mark: self.mark.clone(),
            cancelled: self.cancelled.clone(),
            outcome: self.outcome.clone(),
        };
        // The HTTP client asks for 8 KiB at a time; reading the source (a file, another
        // registry) and counting progress in chunks of 256 KiB costs a system call, a lock
        // and a host callback per chunk instead of per 8 KiB.
        Ok(Box::new(std::io::BufReader::with_capacity(
            blob::CHUNK,
            reader,
        )))
    }
    fn len(&self) -> Option<u64> {
        self.end.map(|end| end - self.start)
    }
}

struct SpanReader {
    content: Content,
    position: u64,
    end: Option<u64>,
    size: Option<u64>,
    progress: Arc<Progress>,
    mark: Arc<BlobMark>,
    cancelled: Arc<AtomicBool>,
    outcome: Arc<SpanOutcome>,
}

impl SpanReader {
    fn fail(&self, err: Error) -> std::io::Error {
        *lock(&self.outcome.source_error) = Some(err.clone());
        err.into_io()
    }

    /// Stops the body for `err` (a failed source, a cancel). A span with an end breaks off
    /// short of its Content-Length. A span to a reader's end ends there instead, as if the
    /// reader had: the registry then answers, with the Location of where the session now
    /// stands, and the session can be cancelled (distribution 2.8 refuses to cancel one
    /// whose Location is older than its data). Nothing is committed after it.
    fn stop(&self, err: Error) -> std::io::Result<usize> {
        let io = self.fail(err);
        match self.end {
            None => Ok(0),
            Some(_) => Err(io),
        }
    }

    /// At the blob's end: one more read of the source, which fails when it holds more than
    /// the descriptor says.
    fn check_end(&mut self) -> std::io::Result<()> {
        let mut probe = [0u8; 1];
        match self.content.read_at(self.position, &mut probe) {
            Ok(0) => Ok(()),
            Ok(_) => {
                *lock(&self.outcome.too_long) = Some(Error::digest_mismatch(format!(
                    "the source of {} holds more than its {} bytes",
                    self.content.describe(),
                    self.position
                )));
                Ok(())
            }
            Err(e) => match crate::error::find_wrapped(&e).cloned() {
                Some(err) if err.kind == ErrorKind::DigestMismatch => {
                    *lock(&self.outcome.too_long) = Some(err);
                    Ok(())
                }
                _ => Err(self.fail(Error::from_io(
                    &e,
                    ErrorKind::Io,
                    "reading the end of the blob",
                ))),
            },
        }
    }
}

impl Read for SpanReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancelled.load(Ordering::SeqCst) {
            return self.stop(Error::cancelled("the operation was cancelled"));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let want = match self.end {
            Some(end) if self.position >= end => {
                if Some(end) == self.size && self.position == end {
                    // Checked once per attempt: position moves past the end after it.
                    self.check_end()?;
                    self.position += 1;
                }
                return Ok(0);
            }
            Some(end) => buf.len().min((end - self.position) as usize),
            None => buf.len(),
        };
        let n = match self.content.read_at(self.position, &mut buf[..want]) {
            // The reader has ended, and with it a span that runs to its end.
            Ok(0) if self.end.is_none() => return Ok(0),
            Ok(0) => {
                return Err(self.fail(Error::transport(format!(
                    "the source of {} ended at byte {}, before byte {}",
                    self.content.describe(),
                    self.position,
                    self.end.unwrap_or_default()
                ))))
            }
            Ok(n) => n,
            Err(e) => {
                let err = Error::from_io(&e, ErrorKind::Transport, "reading the blob's source");
                return self.stop(err);
            }
        };
        self.position += n as u64;
        self.outcome.handed.fetch_add(n as u64, Ordering::SeqCst);
        self.progress.reach(&self.mark, self.position);
        Ok(n)
    }
}
