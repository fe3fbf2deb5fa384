//! A blob read from a host's reader of unknown size: read once, front to back, hashed as
//! it goes, so that its digest and size are known when the reader ends. A reader cannot be
//! asked for the same bytes twice, so an upload can send bytes again (a request that broke
//! or was refused) only from what is kept here: a chunked upload reads each chunk whole
//! before sending it (its length must be known for `Content-Range`) and keeps it until the
//! next chunk starts; a streamed upload (one PATCH of the whole) keeps nothing, and so
//! cannot resume. Memory stays at one chunk whatever the blob's size.

use crate::digest::Hasher;
use crate::error::{Error, ErrorKind, Result};
use crate::remote::progress::Progress;
use crate::transport::Context;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// How much is asked of the reader at a time while a chunk is filled.
const READ_SIZE: usize = 256 * 1024;

pub struct StreamedBlob {
    state: Mutex<State>,
    /// Told of every byte read, as the total grows: nobody knows the size beforehand.
    progress: Arc<Progress>,
}

struct State {
    reading: Reading,
    /// Bytes `kept_from..reading.read` of the blob, for sending again.
    kept: Vec<u8>,
    kept_from: u64,
}

/// The reader and what has come out of it.
struct Reading {
    /// None once the push is over (`StreamedBlob::close`).
    reader: Option<Box<dyn Read + Send>>,
    hasher: Hasher,
    read: u64,
    /// The digest of everything, once the reader has ended.
    digest: Option<String>,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Reading {
    /// Reads the next bytes into `buf`: 0 once the reader has ended.
    fn next(&mut self, buf: &mut [u8], progress: &Progress) -> Result<usize> {
        if self.digest.is_some() || buf.is_empty() {
            return Ok(0);
        }
        let Some(reader) = self.reader.as_mut() else {
            return Err(Error::new(
                ErrorKind::Cancelled,
                "the blob's reader is no longer read: its push has ended",
            ));
        };
        let n = loop {
            match reader.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::from_io(
                        &e,
                        ErrorKind::Io,
                        format!("reading the blob after {} bytes", self.read),
                    ))
                }
            }
        };
        if n > buf.len() {
            return Err(Error::callback(format!(
                "the blob's reader reported {n} bytes read into a buffer of {}",
                buf.len()
            )));
        }
        if n == 0 {
            self.digest = Some(self.hasher.clone().finish());
            return Ok(0);
        }
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        progress.add_total(n as u64);
        Ok(n)
    }
}

impl StreamedBlob {
    pub fn new(reader: Box<dyn Read + Send>, progress: Arc<Progress>) -> StreamedBlob {
        StreamedBlob {
            state: Mutex::new(State {
                reading: Reading {
                    reader: Some(reader),
                    hasher: Hasher::new(),
                    read: 0,
                    digest: None,
                },
                kept: Vec::new(),
                kept_from: 0,
            }),
            progress,
        }
    }

    /// The size, once the reader has ended.
    pub fn size(&self) -> Option<u64> {
        let st = lock(&self.state);
        st.reading.digest.as_ref().map(|_| st.reading.read)
    }

    /// The digest of the whole content, once the reader has ended.
    pub fn digest(&self) -> Option<String> {
        lock(&self.state).reading.digest.clone()
    }

    /// How far the reader has been read.
    pub fn bytes_read(&self) -> u64 {
        lock(&self.state).reading.read
    }

    /// Whether the bytes from `offset` on can (still) be sent: they are kept, or not read
    /// yet.
    pub fn can_send_from(&self, offset: u64) -> bool {
        let st = lock(&self.state);
        offset >= st.kept_from && offset <= st.reading.read
    }

    /// Why the bytes from `offset` on cannot be sent again, for the error that ends the
    /// push.
    pub fn why_not_from(&self, offset: u64) -> String {
        let st = lock(&self.state);
        format!(
            "the blob's reader cannot give byte {offset} again: it was read to byte {} and \
             only the bytes from {} on are kept (a push from a reader resumes only within the \
             chunk being sent, with the chunked upload strategy)",
            st.reading.read, st.kept_from
        )
    }

    /// Makes the bytes `from..upto` ready to be sent (and sent again), reading on as far
    /// as `upto` or the reader's end, and forgets those before `from`. Returns where they
    /// end: `upto`, or the blob's end before it. Stops between reads when `ctx` is
    /// cancelled.
    pub fn fill(&self, from: u64, upto: u64, ctx: &Context) -> Result<u64> {
        let mut st = lock(&self.state);
        if from < st.kept_from || from > st.reading.read {
            return Err(Error::invalid_argument(format!(
                "the blob's bytes from {from} on are not kept"
            )));
        }
        let forget = (from - st.kept_from) as usize;
        st.kept.drain(..forget);
        st.kept_from = from;
        while st.reading.read < upto {
            ctx.check_cancelled()?;
            let want = (upto - st.reading.read).min(READ_SIZE as u64) as usize;
            let State { reading, kept, .. } = &mut *st;
            let old = kept.len();
            kept.resize(old + want, 0);
            let result = reading.next(&mut kept[old..], &self.progress);
            kept.truncate(old + result.as_ref().map_or(0, |n| *n));
            if result? == 0 {
                break;
            }
        }
        Ok(st.reading.read.min(upto))
    }

    /// Reads bytes from `position` on: kept ones again, or the next ones from the reader,
    /// which are then not kept (a streamed upload).
    pub fn read_at(&self, position: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut st = lock(&self.state);
        let read = st.reading.read;
        if position < st.kept_from || position > read {
            return Err(Error::invalid_argument(format!(
                "the blob's byte {position} is not kept (read to {read}, kept from {})",
                st.kept_from
            ))
            .into_io());
        }
        if position < read {
            let at = (position - st.kept_from) as usize;
            let n = buf.len().min(st.kept.len() - at);
            buf[..n].copy_from_slice(&st.kept[at..at + n]);
            return Ok(n);
        }
        if st.reading.digest.is_some() {
            // At the end: nothing more, and what is kept stays for a chunk sent again.
            return Ok(0);
        }
        st.kept.clear();
        let n = st
            .reading
            .next(buf, &self.progress)
            .map_err(Error::into_io)?;
        st.kept_from = st.reading.read;
        Ok(n)
    }

    /// Stops using the reader, once a read in progress (on another thread: a request
    /// abandoned after a cancel) has returned: the caller's reader is never called after
    /// the push returns.
    pub fn close(&self) {
        let mut st = lock(&self.state);
        st.reading.reader = None;
        st.kept = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn streamed(content: &[u8]) -> StreamedBlob {
        let progress = Arc::new(Progress::new(None, None, Arc::new(AtomicBool::new(false))));
        StreamedBlob::new(Box::new(std::io::Cursor::new(content.to_vec())), progress)
    }

    #[test]
    fn chunks_are_kept_until_the_next_one_and_the_digest_comes_at_the_end() {
        let content: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let blob = streamed(&content);
        let op = crate::remote::Client::new().operation().unwrap();
        let ctx = &op.ctx;
        assert_eq!(blob.fill(0, 400, ctx).unwrap(), 400);
        assert_eq!(blob.size(), None);
        let mut buf = [0u8; 100];
        assert_eq!(blob.read_at(350, &mut buf).unwrap(), 50);
        assert_eq!(&buf[..50], &content[350..400]);
        // Sent again from the chunk's start.
        assert_eq!(blob.read_at(0, &mut buf).unwrap(), 100);
        assert_eq!(blob.fill(400, 800, ctx).unwrap(), 800);
        assert!(!blob.can_send_from(399) && blob.can_send_from(400));
        assert!(blob.read_at(0, &mut buf).is_err());
        assert_eq!(blob.fill(800, 1200, ctx).unwrap(), 1000);
        // A probe past the end (a span checks that its source holds no more) keeps the
        // last chunk.
        assert_eq!(blob.read_at(1000, &mut buf).unwrap(), 0);
        assert_eq!(blob.read_at(800, &mut buf).unwrap(), 100);
        assert_eq!(blob.size(), Some(1000));
        assert_eq!(blob.digest(), Some(crate::digest::of_bytes(&content)));
        assert_eq!(blob.fill(1000, 1400, ctx).unwrap(), 1000);
    }

    #[test]
    fn a_streamed_read_keeps_nothing_and_a_closed_reader_is_not_read() {
        let blob = streamed(b"hello world");
        let mut buf = [0u8; 5];
        assert_eq!(blob.read_at(0, &mut buf).unwrap(), 5);
        assert!(!blob.can_send_from(0));
        assert!(blob.read_at(0, &mut buf).is_err());
        assert!(blob.why_not_from(0).contains("read to byte 5"));
        blob.close();
        let err = blob.read_at(5, &mut buf).unwrap_err();
        let err = Error::from_io(&err, ErrorKind::Io, "x");
        assert_eq!(err.kind, ErrorKind::Cancelled, "{err}");
    }
}
