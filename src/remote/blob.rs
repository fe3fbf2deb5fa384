//! Reading a blob out of a registry: never the whole blob in memory, size and SHA-256
//! checked against the descriptor, the body read to its end so corruption is seen.

use super::mirror::{self, At, MirrorBody};
use crate::digest::{HashingThread, VerifyingReader};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;
use crate::name::Repository;
use crate::transport::{redact, Context, Response};
use std::io::Read;
use std::sync::Arc;

/// How much is read at a time: a whole buffer of the hashing thread, so that a chunk read
/// is handed over as it is.
pub const CHUNK: usize = crate::digest::HASH_STAGE;

/// GETs blob `desc` of `repository` within `ctx` and returns a reader that yields its
/// bytes, resumes with `Range` when the body breaks off, and fails (with the library's
/// error inside the `io::Error`) when the bytes do not match `desc`. The blob comes from
/// the first of the repository's mirrors that serves it (`mirror::read`), else from the
/// repository; a mirror's bytes are always checked against the digest, whatever `verify`
/// asks, since only the reader can tell which source was wrong.
pub fn open_in(
    ctx: &Arc<Context>,
    repository: &Repository,
    desc: &Descriptor,
    verify: Verify,
) -> Result<Box<dyn Read + Send>> {
    open_in_from(ctx, repository, desc, verify, 0)
}

/// `open_in` from byte `from` on (`Range: bytes=FROM-`), for an upload resumed there. Only
/// the size of what follows can be checked from the middle of a blob, so `verify` must be
/// `SizeOnly` when `from` is not 0.
pub fn open_in_from(
    ctx: &Arc<Context>,
    repository: &Repository,
    desc: &Descriptor,
    verify: Verify,
    from: u64,
) -> Result<Box<dyn Read + Send>> {
    if from > desc.size || (from > 0 && verify == Verify::Digest) {
        return Err(Error::invalid_argument(format!(
            "blob {}: cannot read from byte {from} of {} with {verify:?}",
            desc.digest, desc.size
        )));
    }
    if let Some(data) = desc.verified_data()? {
        return Ok(Box::new(std::io::Cursor::new(
            data[from as usize..].to_vec(),
        )));
    }
    // From the middle of a blob a mirror's bytes cannot be checked against the digest, so
    // a resumed read goes to the repository itself.
    if from > 0 {
        return open_at(ctx, repository, desc, verify, from);
    }
    mirror::read(
        ctx,
        repository,
        true,
        Some(&desc.digest),
        |ctx, at, source| match source {
            At::Primary => open_at(ctx, at, desc, verify, 0),
            At::Mirror => Ok(Box::new(MirrorBody {
                inner: open_at(ctx, at, desc, Verify::Digest, 0)?,
                ctx: ctx.clone(),
                digest: desc.digest.clone(),
                mirror: at.to_string(),
            })),
        },
    )
}

/// What a registry made of a request for part of a blob.
pub enum RangeAnswer {
    /// The bytes asked for (206 from where they start), size-checked, resumed with `Range`
    /// when the body breaks off.
    Part(Box<dyn Read + Send>),
    /// The registry ignored `Range` and answered the whole blob (200): not read.
    Whole,
}

/// GETs bytes `from..end` of blob `desc` of `repository` itself (no mirror: a part cannot
/// be checked against the digest on its own), for a blob fetched over several connections.
pub fn open_range(
    ctx: &Arc<Context>,
    repository: &Repository,
    desc: &Descriptor,
    from: u64,
    end: u64,
) -> Result<RangeAnswer> {
    if from >= end || end > desc.size {
        return Err(Error::invalid_argument(format!(
            "blob {}: no range {from}..{end} in {} bytes",
            desc.digest, desc.size
        )));
    }
    let mut resuming = ResumingReader {
        ctx: ctx.clone(),
        repository: repository.clone(),
        desc: desc.clone(),
        body: Box::new(std::io::empty()),
        position: from,
        end,
        resumes: 0,
        url: String::new(),
    };
    let response = resuming.get(Some(from))?;
    resuming.url = redact::url(&response.url);
    if response.status != 206 {
        // Dropped unread: the connection closes rather than carry the whole blob.
        return Ok(RangeAnswer::Whole);
    }
    resuming.continue_with(response)?;
    let what = format!(
        "bytes {from}..{end} of blob {} from {}",
        desc.digest, resuming.url
    );
    Ok(RangeAnswer::Part(Box::new(VerifyingReader::size_only(
        resuming,
        end - from,
        what,
    ))))
}

/// The size of blob `digest` of `repository` (HEAD, its Content-Length), from the first of
/// the repository's mirrors that has it, else from the repository. RR_ERR_NOT_FOUND when
/// the registry has no such blob.
pub fn stat_in(ctx: &Arc<Context>, repository: &Repository, digest: &str) -> Result<u64> {
    mirror::read(ctx, repository, true, Some(digest), |ctx, at, _| {
        let session = ctx.session(at.registry(), Some(at.path()), vec![at.scope("pull")]);
        let request = session.request("HEAD", &format!("/v2/{}/blobs/{digest}", at.path()))?;
        let response = session.send_expect(request, &[200])?;
        let size = response.content_length();
        let url = redact::url(&response.url);
        response.drain();
        size.ok_or_else(|| {
            Error::invalid_response(format!(
                "HEAD {url}: the response has no usable Content-Length header"
            ))
        })
    })
}

fn open_at(
    ctx: &Arc<Context>,
    repository: &Repository,
    desc: &Descriptor,
    verify: Verify,
    from: u64,
) -> Result<Box<dyn Read + Send>> {
    let mut resuming = ResumingReader {
        ctx: ctx.clone(),
        repository: repository.clone(),
        desc: desc.clone(),
        body: Box::new(std::io::empty()),
        position: from,
        end: desc.size,
        resumes: 0,
        url: String::new(),
    };
    let response = resuming.get((from > 0).then_some(from))?;
    resuming.url = redact::url(&response.url);
    if from > 0 {
        resuming.continue_with(response)?;
    } else {
        if let Some(len) = response.content_length() {
            if len != desc.size {
                return Err(Error::digest_mismatch(format!(
                    "blob {} from {}: the registry sends {len} bytes, the descriptor says {}",
                    desc.digest, resuming.url, desc.size
                )));
            }
        }
        resuming.body = response.body;
    }
    let what = format!("blob {} from {}", desc.digest, resuming.url);
    let rest = desc.size - from;
    Ok(match verify {
        Verify::Digest => Box::new(VerifyingReader::new(resuming, &desc.digest, rest, what)),
        Verify::SizeOnly => Box::new(VerifyingReader::size_only(resuming, rest, what)),
    })
}

/// How much a blob reader checks of what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Size and SHA-256: the reader is the last line of defence (pulls, saves, layouts).
    Digest,
    /// Size only: the bytes go to a registry, which checks them against the digest of the
    /// upload's commit.
    SizeOnly,
}

/// A blob body that, when the connection breaks or ends early, asks again for the rest
/// (`Range: bytes=N-LAST`) a bounded number of times and carries on where it was, so that
/// hashing goes on across the join. A server that ignores Range (200) is skipped ahead.
struct ResumingReader {
    ctx: Arc<Context>,
    repository: Repository,
    desc: Descriptor,
    body: Box<dyn Read + Send>,
    position: u64,
    /// Where the bytes wanted end (exclusive): the blob's size, or the end of a range.
    end: u64,
    resumes: u32,
    url: String,
}

impl ResumingReader {
    fn get(&self, from: Option<u64>) -> Result<Response> {
        let session = self.ctx.session(
            self.repository.registry(),
            Some(self.repository.path()),
            vec![self.repository.scope("pull")],
        );
        let mut request = session.request(
            "GET",
            &format!("/v2/{}/blobs/{}", self.repository.path(), self.desc.digest),
        )?;
        if let Some(from) = from {
            // A closed range: go-containerregistry's registry refuses `bytes=N-` (416).
            let last = self.end.saturating_sub(1).max(from);
            request = request.header("Range", format!("bytes={from}-{last}"));
        }
        session.send_expect(request, &[200, 206])
    }

    /// Replaces the body with one that continues at `self.position`.
    fn resume(&mut self, cause: &str) -> Result<()> {
        let max = self.ctx.retry.max_attempts.max(1);
        if self.resumes + 1 >= max {
            return Err(Error::transport(format!(
                "blob {} from {}: the body broke off after {} of {} bytes ({cause}), {} times",
                self.desc.digest,
                self.url,
                self.position,
                self.desc.size,
                self.resumes + 1
            )));
        }
        self.resumes += 1;
        self.ctx
            .sleep(self.ctx.retry.wait_after(self.resumes, None))?;
        let response = self.get(Some(self.position))?;
        self.continue_with(response)
    }

    /// Takes `response` to a request for the bytes from `self.position` on as the body: a
    /// 206 must start there; a server that ignored Range (200) is skipped ahead.
    fn continue_with(&mut self, mut response: Response) -> Result<()> {
        match response.status {
            206 => {
                let start = response
                    .header("content-range")
                    .and_then(|v| v.trim().strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if start != Some(self.position) {
                    return Err(Error::invalid_response(format!(
                        "blob {} from {}: asked to resume at byte {}, the registry answered Content-Range {:?}",
                        self.desc.digest,
                        self.url,
                        self.position,
                        response.header("content-range")
                    )));
                }
            }
            _ => {
                // The server ignored Range: skip what was already read.
                let skipped = std::io::copy(
                    &mut (&mut response.body).take(self.position),
                    &mut std::io::sink(),
                )
                .map_err(|e| {
                    Error::transport(format!(
                        "blob {} from {}: skipping to byte {} failed: {e}",
                        self.desc.digest, self.url, self.position
                    ))
                })?;
                if skipped < self.position {
                    return Err(Error::transport(format!(
                        "blob {} from {}: the body ended before byte {}",
                        self.desc.digest, self.url, self.position
                    )));
                }
            }
        }
        self.body = response.body;
        Ok(())
    }
}

/// Whether a failed body read is worth resuming.
fn resumable(err: &std::io::Error) -> bool {
    match crate::error::find_wrapped(err) {
        Some(inner) => crate::transport::is_retryable(inner),
        None => true,
    }
}

impl Read for ResumingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.position >= self.end {
            return Ok(0);
        }
        // A server that ignored Range sends on past the end of the range wanted.
        let room = (self.end - self.position).min(buf.len() as u64) as usize;
        let buf = &mut buf[..room];
        loop {
            self.ctx.check_cancelled().map_err(Error::into_io)?;
            let cause = match self.body.read(buf) {
                Ok(0) if self.position < self.end => "it ended early".to_string(),
                Ok(n) => {
                    self.position += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if resumable(&e) => e.to_string(),
                Err(e) => return Err(e),
            };
            self.resume(&cause).map_err(Error::into_io)?;
        }
    }
}

/// Copies a verified blob reader into `sink` chunk by chunk, checking for cancellation
/// between chunks. The sink has seen every byte before verification ends, so a caller that
/// must not keep bad data (a file) has to hold the bytes aside until this returns `Ok`.
pub fn pump(
    reader: &mut dyn Read,
    ctx: Option<&Context>,
    what: &str,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut done: u64 = 0;
    loop {
        if let Some(ctx) = ctx {
            ctx.check_cancelled()?;
        }
        let (filled, at_end) = fill(reader, &mut buf, done, what)?;
        if filled > 0 {
            done += filled as u64;
            sink(&buf[..filled])?;
        }
        if at_end {
            return Ok(());
        }
    }
}

/// `pump` for a reader that checks only the size: the bytes are hashed here, on `hashing`'s
/// thread, from the very buffers the sink gets, and compared with `expected_digest` at the
/// end. Hashing then overlaps both the reads and the sink's writes, and no byte is copied
/// for it.
pub fn pump_hashing(
    reader: &mut dyn Read,
    mut hashing: HashingThread,
    expected_digest: &str,
    ctx: Option<&Context>,
    what: &str,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut done: u64 = 0;
    loop {
        if let Some(ctx) = ctx {
            ctx.check_cancelled()?;
        }
        let mut buf = hashing.buffer();
        buf.resize(CHUNK, 0);
        let (filled, at_end) = fill(reader, &mut buf, done, what)?;
        if filled > 0 {
            done += filled as u64;
            buf.truncate(filled);
            let shared = hashing.submit(buf);
            sink(&shared)?;
        }
        if at_end {
            break;
        }
    }
    crate::digest::check(&hashing.finish(), expected_digest, what)
}

/// Reads into `buf` until it is full or the reader ends (`true`). HTTP readers hand out a
/// few KiB at a time, and a file written in such pieces costs a system call each.
pub(crate) fn fill(
    reader: &mut dyn Read,
    buf: &mut [u8],
    done: u64,
    what: &str,
) -> Result<(usize, bool)> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::from_io(
                    &e,
                    ErrorKind::Transport,
                    format!(
                        "{what}: reading failed after {} bytes",
                        done + filled as u64
                    ),
                ))
            }
        }
    }
    Ok((filled, false))
}

/// Reads a small verified blob (a config) whole from any reader; the caller has checked
/// its size against the limit with `check_small` before opening it.
pub fn read_small_from(reader: &mut dyn Read, desc: &Descriptor, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(desc.size as usize);
    pump(reader, None, what, &mut |chunk| {
        out.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(out)
}

pub fn check_small(desc: &Descriptor, limit: u64, what: &str) -> Result<()> {
    if desc.size > limit {
        return Err(Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "{what}: blob {} is {} bytes, over the {limit}-byte limit",
                desc.digest, desc.size
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{of_bytes, BACKGROUND_HASH_MIN};

    fn pumped(content: &[u8], expected: &[u8]) -> (Result<()>, Vec<u8>) {
        let mut reader =
            VerifyingReader::size_only(content, expected.len() as u64, "blob under test".into());
        let hashing = HashingThread::start().expect("a hashing thread");
        let mut seen = Vec::new();
        let result = pump_hashing(
            &mut reader,
            hashing,
            &of_bytes(expected),
            None,
            "blob under test",
            &mut |chunk| {
                seen.extend_from_slice(chunk);
                Ok(())
            },
        );
        (result, seen)
    }

    #[test]
    fn pump_hashing_passes_exact_content_and_names_what_differs() {
        // Not a multiple of the chunk, so the last buffer is a short one.
        let content: Vec<u8> = (0..(BACKGROUND_HASH_MIN as usize * 2 + 4097))
            .map(|i| (i * 7 % 253) as u8)
            .collect();
        let (result, seen) = pumped(&content, &content);
        result.unwrap();
        assert!(seen == content, "the sink got other bytes than were read");

        let mut flipped = content.clone();
        flipped[CHUNK * 3 + 11] ^= 0x40;
        let err = pumped(&flipped, &content).0.unwrap_err();
        assert_eq!(err.kind, ErrorKind::DigestMismatch);
        assert!(err.message.contains(&of_bytes(&content)), "{}", err.message);
        assert!(err.message.contains(&of_bytes(&flipped)), "{}", err.message);

        let err = pumped(&content[..content.len() - 1], &content)
            .0
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Transport, "{}", err.message);
        let mut longer = content.clone();
        longer.push(0);
        let err = pumped(&longer, &content).0.unwrap_err();
        assert_eq!(err.kind, ErrorKind::DigestMismatch, "{}", err.message);
    }

    #[test]
    fn pump_hashing_stops_at_the_sinks_error() {
        let content = vec![7u8; CHUNK * 4];
        let mut reader = VerifyingReader::size_only(&content[..], content.len() as u64, "b".into());
        let mut calls = 0;
        let err = pump_hashing(
            &mut reader,
            HashingThread::start().unwrap(),
            &of_bytes(&content),
            None,
            "b",
            &mut |_| {
                calls += 1;
                Err(Error::new(ErrorKind::Io, "disk full"))
            },
        )
        .unwrap_err();
        assert_eq!(calls, 1);
        assert_eq!(err.kind, ErrorKind::Io);
    }
}
