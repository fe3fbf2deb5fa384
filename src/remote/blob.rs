//! Reading a blob out of a registry: never the whole blob in memory, size and SHA-256
//! checked against the descriptor, the body read to its end so corruption is seen.

use crate::digest::VerifyingReader;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;
use crate::name::Repository;
use crate::transport::{redact, Context, Session};
use std::io::Read;

/// How much is read at a time.
pub const CHUNK: usize = 256 * 1024;

/// GETs blob `desc` of `repository` and returns a reader that yields its bytes and fails
/// (with the library's error inside the `io::Error`) when they do not match `desc`.
pub fn open(
    session: &Session<'_>,
    repository: &Repository,
    desc: &Descriptor,
) -> Result<Box<dyn Read + Send>> {
    if let Some(data) = desc.verified_data()? {
        return Ok(Box::new(std::io::Cursor::new(data.to_vec())));
    }
    let request = session.request(
        "GET",
        &format!("/v2/{}/blobs/{}", repository.path(), desc.digest),
    )?;
    let response = session.send_expect(request, &[200])?;
    let url = redact::url(&response.url);
    if let Some(len) = response.content_length() {
        if len != desc.size {
            return Err(Error::digest_mismatch(format!(
                "blob {} from {url}: the registry sends {len} bytes, the descriptor says {}",
                desc.digest, desc.size
            )));
        }
    }
    Ok(Box::new(VerifyingReader::new(
        response.body,
        &desc.digest,
        desc.size,
        format!("blob {} from {url}", desc.digest),
    )))
}

/// `open` within its own pull session on `ctx`.
pub fn open_in(
    ctx: &Context,
    repository: &Repository,
    desc: &Descriptor,
) -> Result<Box<dyn Read + Send>> {
    let session = ctx.session(
        repository.registry(),
        Some(repository.path()),
        vec![repository.scope("pull")],
    );
    open(&session, repository, desc)
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
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::from_io(
                    &e,
                    ErrorKind::Transport,
                    format!("{what}: reading failed after {done} bytes"),
                ))
            }
        };
        done += n as u64;
        sink(&buf[..n])?;
    }
}

/// Streams blob `desc` of `repository` into `sink`, verified.
pub fn stream(
    session: &Session<'_>,
    repository: &Repository,
    desc: &Descriptor,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut reader = open(session, repository, desc)?;
    pump(
        &mut reader,
        Some(session.context()),
        &format!("blob {} of {repository}", desc.digest),
        sink,
    )
}

/// Reads a small verified blob (a config) whole from any reader, refusing one over `limit`.
pub fn read_small_from(
    reader: &mut dyn Read,
    desc: &Descriptor,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>> {
    check_small(desc, limit, what)?;
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
