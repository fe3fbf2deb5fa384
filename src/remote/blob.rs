//! Streaming a blob out of a registry: never the whole blob in memory, size and SHA-256
//! checked against the descriptor, the body read to its end so corruption is seen.

use crate::digest::Hasher;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;
use crate::name::Repository;
use crate::transport::{redact, Session};
use std::io::Read;

/// How much is read from the network at a time.
pub const CHUNK: usize = 256 * 1024;

/// Streams blob `desc` of `repository` into `sink`, chunk by chunk. The sink has seen every
/// byte before verification ends, so a caller that must not keep bad data (a file) has to
/// hold the bytes aside until this returns `Ok`.
pub fn stream(
    session: &Session<'_>,
    repository: &Repository,
    desc: &Descriptor,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    if let Some(data) = desc.verified_data()? {
        return sink(data);
    }
    let request = session.request(
        "GET",
        &format!("/v2/{}/blobs/{}", repository.path(), desc.digest),
    )?;
    let mut response = session.send_expect(request, &[200])?;
    let url = redact::url(&response.url);
    if let Some(len) = response.content_length() {
        if len != desc.size {
            return Err(Error::digest_mismatch(format!(
                "blob {} from {url}: the registry sends {len} bytes, the descriptor says {}",
                desc.digest, desc.size
            )));
        }
    }
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    // One byte past the expected size is read to notice a body that is too long.
    let mut body = (&mut response.body).take(desc.size + 1);
    loop {
        session.context().check_cancelled()?;
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::transport(format!(
                    "blob {} from {url}: reading failed after {} of {} bytes: {e}",
                    desc.digest,
                    hasher.len(),
                    desc.size
                )))
            }
        };
        if hasher.len() + n as u64 > desc.size {
            return Err(Error::digest_mismatch(format!(
                "blob {} from {url}: more than the {} bytes the descriptor says",
                desc.digest, desc.size
            )));
        }
        hasher.update(&buf[..n]);
        sink(&buf[..n])?;
    }
    if hasher.len() < desc.size {
        return Err(Error::transport(format!(
            "blob {} from {url}: the body ended after {} of {} bytes",
            desc.digest,
            hasher.len(),
            desc.size
        )));
    }
    let got = hasher.finish();
    if got != desc.digest {
        return Err(Error::digest_mismatch(format!(
            "blob {} from {url}: the content hashes to {got}",
            desc.digest
        )));
    }
    Ok(())
}

/// Reads a small blob (a config) whole, verified.
pub fn read_small(
    session: &Session<'_>,
    repository: &Repository,
    desc: &Descriptor,
    limit: u64,
) -> Result<Vec<u8>> {
    if desc.size > limit {
        return Err(Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "blob {} of {repository} is {} bytes, over the {limit}-byte limit",
                desc.digest, desc.size
            ),
        ));
    }
    let mut out = Vec::with_capacity(desc.size as usize);
    stream(session, repository, desc, &mut |chunk| {
        out.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(out)
}
