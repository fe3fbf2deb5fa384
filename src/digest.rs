//! Content digests. Only `sha256` is understood, as with go-containerregistry; anything
//! else is refused where it is parsed rather than half-supported.

use crate::error::{Error, Result};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// The prefix of every digest the library accepts.
pub const SHA256_PREFIX: &str = "sha256:";

/// Checks that `s` is `sha256:` followed by exactly 64 lower-case hex characters.
pub fn validate(s: &str) -> Result<()> {
    let hex = s.strip_prefix(SHA256_PREFIX).ok_or_else(|| {
        Error::invalid_reference(format!(
            "digest {s:?} is not supported: only sha256 digests are"
        ))
    })?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::invalid_reference(format!(
            "digest {s:?} is malformed: sha256 needs 64 lower-case hex characters"
        )));
    }
    Ok(())
}

/// `sha256:<hex>` of `bytes`.
pub fn of_bytes(bytes: &[u8]) -> String {
    format_hash(&Sha256::digest(bytes))
}

fn format_hash(hash: &[u8]) -> String {
    format!("{SHA256_PREFIX}{}", hex::encode(hash))
}

/// An incremental SHA-256 that also counts the bytes fed to it.
#[derive(Clone, Default)]
pub struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn finish(self) -> String {
        format_hash(&self.inner.finalize())
    }
}

/// Blobs at least this large are hashed on a helper thread while their bytes are read and
/// written (network, files), so that hashing and I/O overlap instead of taking turns.
pub const BACKGROUND_HASH_MIN: u64 = 4 * 1024 * 1024;
/// The size of the buffers handed to the hashing thread, and how many filled buffers may
/// wait for it: memory per blob stays near (DEPTH + 2) x STAGE, whatever the blob's size.
pub const HASH_STAGE: usize = 256 * 1024;
const HASH_QUEUE_DEPTH: usize = 2;
const HASH_BUFFERS: usize = HASH_QUEUE_DEPTH + 2;

/// SHA-256 on a helper thread, fed whole buffers. A buffer handed over is shared, not
/// copied: the caller goes on using it (writing it to a file, say) while it is hashed,
/// and gets it back for reuse from `buffer` once both are done with it.
pub struct HashingThread {
    to_worker: Option<std::sync::mpsc::SyncSender<Arc<Vec<u8>>>>,
    returned: std::sync::mpsc::Receiver<Arc<Vec<u8>>>,
    worker: Option<std::thread::JoinHandle<Hasher>>,
    buffers_made: usize,
}

impl HashingThread {
    /// `None` when no thread can be started; the caller then hashes inline.
    pub fn start() -> Option<HashingThread> {
        let (to_worker, work) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(HASH_QUEUE_DEPTH);
        let (give_back, returned) = std::sync::mpsc::channel::<Arc<Vec<u8>>>();
        let worker = std::thread::Builder::new()
            .name("rr-sha256".into())
            .spawn(move || {
                let mut hasher = Hasher::new();
                for buf in work {
                    hasher.update(&buf);
                    let _ = give_back.send(buf);
                }
                hasher
            })
            .ok()?;
        Some(HashingThread {
            to_worker: Some(to_worker),
            returned,
            worker: Some(worker),
            buffers_made: 0,
        })
    }

    /// A buffer that nobody else holds, with old contents and room for at least
    /// `HASH_STAGE` bytes: one the thread has finished with, a new one while few exist, or
    /// else the next one to finish.
    pub fn buffer(&mut self) -> Vec<u8> {
        loop {
            let finished = match self.returned.try_recv() {
                Ok(shared) => shared,
                Err(_) if self.buffers_made < HASH_BUFFERS => {
                    self.buffers_made += 1;
                    return Vec::with_capacity(HASH_STAGE);
                }
                Err(_) => match self.returned.recv() {
                    Ok(shared) => shared,
                    // The thread is gone and `finish` will say so; until then any buffer does.
                    Err(_) => return Vec::with_capacity(HASH_STAGE),
                },
            };
            match Arc::try_unwrap(finished) {
                Ok(buffer) => return buffer,
                // Still held by the caller: let it go and count it out, so that waiting
                // for the next one can never wait for a buffer that will not come back.
                Err(_) => self.buffers_made -= 1,
            }
        }
    }

    /// Queues `bytes` for hashing (waiting while the queue is full) and hands them back
    /// shared, for the caller to use and drop.
    pub fn submit(&mut self, bytes: Vec<u8>) -> Arc<Vec<u8>> {
        let shared = Arc::new(bytes);
        if let Some(tx) = &self.to_worker {
            let _ = tx.send(shared.clone());
        }
        shared
    }

    /// `sha256:<hex>` of everything submitted, in order; if the thread failed, a text
    /// that says so and matches no digest.
    pub fn finish(mut self) -> String {
        self.to_worker = None;
        match self.worker.take().and_then(|w| w.join().ok()) {
            Some(hasher) => hasher.finish(),
            None => "(no digest: the hashing thread failed)".to_string(),
        }
    }
}

/// SHA-256 computed inline or on a helper thread.
enum Hashing {
    Inline(Hasher),
    Background(BackgroundHasher),
}

/// A `HashingThread` fed from borrowed slices, gathered into its buffers first.
struct BackgroundHasher {
    staging: Vec<u8>,
    thread: HashingThread,
}

impl BackgroundHasher {
    fn start() -> Option<BackgroundHasher> {
        let mut thread = HashingThread::start()?;
        let mut staging = thread.buffer();
        staging.clear();
        Some(BackgroundHasher { staging, thread })
    }

    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = HASH_STAGE - self.staging.len();
            let take = room.min(data.len());
            self.staging.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.staging.len() == HASH_STAGE {
                self.hand_over();
            }
        }
    }

    fn hand_over(&mut self) {
        if self.staging.is_empty() {
            return;
        }
        let mut next = self.thread.buffer();
        next.clear();
        let full = std::mem::replace(&mut self.staging, next);
        drop(self.thread.submit(full));
    }

    fn finish(mut self) -> String {
        self.hand_over();
        self.thread.finish()
    }
}

/// A reader that checks what passes through it against a descriptor: never more than
/// `size` bytes, and at the end exactly `size` bytes hashing to `digest`. Failures surface
/// as `io::Error`s carrying the library's `Error` (see `Error::from_io`). Large blobs are
/// hashed on a helper thread.
pub struct VerifyingReader<R> {
    inner: R,
    hashing: Option<Hashing>,
    seen: u64,
    expected_digest: String,
    expected_size: u64,
    what: String,
    done: bool,
    check_digest: bool,
}

impl<R: std::io::Read> VerifyingReader<R> {
    /// Checks the size only: for content whose digest someone else verifies (a registry
    /// checks every upload against the `digest` of its commit), so that no core is spent
    /// hashing it twice.
    pub fn size_only(inner: R, expected_size: u64, what: String) -> Self {
        VerifyingReader {
            inner,
            hashing: None,
            seen: 0,
            expected_digest: String::new(),
            expected_size,
            what,
            done: false,
            check_digest: false,
        }
    }

    /// `what` names the blob in error messages (e.g. "blob sha256:... of repo").
    pub fn new(inner: R, expected_digest: &str, expected_size: u64, what: String) -> Self {
        let hashing = if expected_size >= BACKGROUND_HASH_MIN {
            BackgroundHasher::start().map(Hashing::Background)
        } else {
            None
        }
        .unwrap_or_else(|| Hashing::Inline(Hasher::new()));
        VerifyingReader {
            inner,
            hashing: Some(hashing),
            seen: 0,
            expected_digest: expected_digest.to_string(),
            expected_size,
            what,
            done: false,
            check_digest: true,
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        if self.seen < self.expected_size {
            return Err(Error::transport(format!(
                "{}: the content ended after {} of {} bytes",
                self.what, self.seen, self.expected_size
            ))
            .into_io());
        }
        if !self.check_digest {
            return Ok(());
        }
        let got = match self.hashing.take() {
            Some(Hashing::Inline(h)) => h.finish(),
            Some(Hashing::Background(b)) => b.finish(),
            None => String::new(),
        };
        check(&got, &self.expected_digest, &self.what).map_err(Error::into_io)
    }
}

/// `Ok` when the digest computed over `what` is the one expected, else the mismatch.
pub fn check(got: &str, expected: &str, what: &str) -> Result<()> {
    if got != expected {
        return Err(Error::digest_mismatch(format!(
            "{what}: the content hashes to {got}, not {expected}"
        )));
    }
    Ok(())
}

impl<R: std::io::Read> std::io::Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        // One byte more than expected may be asked for, to notice content that is too long.
        let room = (self.expected_size - self.seen).saturating_add(1);
        let cap = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = loop {
            match self.inner.read(&mut buf[..cap]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n == 0 {
            self.finish()?;
            return Ok(0);
        }
        if self.seen + n as u64 > self.expected_size {
            self.done = true;
            return Err(Error::digest_mismatch(format!(
                "{}: the content is longer than the {} bytes expected",
                self.what, self.expected_size
            ))
            .into_io());
        }
        self.seen += n as u64;
        match &mut self.hashing {
            Some(Hashing::Inline(h)) => h.update(&buf[..n]),
            Some(Hashing::Background(b)) => b.update(&buf[..n]),
            None => {}
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_hashes_to_the_well_known_value() {
        assert_eq!(
            of_bytes(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut h = Hasher::new();
        h.update(b"{}");
        assert_eq!(h.len(), 2);
        assert_eq!(
            h.finish(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn verifying_reader_accepts_exact_content_and_refuses_the_rest() {
        use std::io::Read;
        let data = b"hello world".to_vec();
        let d = of_bytes(&data);
        let mut out = Vec::new();
        VerifyingReader::new(&data[..], &d, 11, "x".into())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);

        let kind = |r: &mut dyn Read| {
            let e = r.read_to_end(&mut Vec::new()).unwrap_err();
            Error::from_io(&e, crate::ErrorKind::Io, "t").kind
        };
        use crate::ErrorKind::*;
        assert_eq!(
            kind(&mut VerifyingReader::new(&data[..5], &d, 11, "x".into())),
            Transport
        );
        assert_eq!(
            kind(&mut VerifyingReader::new(&data[..], &d, 10, "x".into())),
            DigestMismatch
        );
        let other = of_bytes(b"hello worle");
        // Large content goes through the hashing thread; the answers are the same.
        let big: Vec<u8> = (0..(BACKGROUND_HASH_MIN as usize + 12345))
            .map(|i| (i % 251) as u8)
            .collect();
        let big_digest = of_bytes(&big);
        let mut out = Vec::new();
        VerifyingReader::new(&big[..], &big_digest, big.len() as u64, "big".into())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), big.len());
        let mut flipped = big.clone();
        flipped[1_000_000] ^= 1;
        assert_eq!(
            kind(&mut VerifyingReader::new(
                &flipped[..],
                &big_digest,
                big.len() as u64,
                "big".into()
            )),
            DigestMismatch
        );
        assert_eq!(
            kind(&mut VerifyingReader::new(&data[..], &other, 11, "x".into())),
            DigestMismatch
        );
    }

    #[test]
    fn hashing_thread_hashes_in_order_and_never_waits_for_a_buffer_still_held() {
        let mut thread = HashingThread::start().unwrap();
        let mut expected = Vec::new();
        let mut held = Vec::new();
        for i in 0..HASH_BUFFERS * 3 {
            let mut buffer = thread.buffer();
            buffer.clear();
            buffer.extend(std::iter::repeat_n(i as u8, 1000 + i));
            expected.extend_from_slice(&buffer);
            // Every shared buffer stays held here, so none can come back for reuse.
            held.push(thread.submit(buffer));
        }
        drop(held);
        assert_eq!(thread.finish(), of_bytes(&expected));
    }

    #[test]
    fn validation_accepts_only_lower_case_sha256() {
        let good = of_bytes(b"x");
        assert!(validate(&good).is_ok());
        assert!(validate(&good.to_uppercase()).is_err());
        assert!(validate(&good.replace("sha256", "sha512")).is_err());
        assert!(validate(&good[..good.len() - 1]).is_err());
        assert!(validate("sha256:").is_err());
    }
}
