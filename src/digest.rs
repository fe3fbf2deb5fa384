//! Content digests. Only `sha256` is understood, as with go-containerregistry; anything
//! else is refused where it is parsed rather than half-supported.

use crate::error::{Error, Result};
use sha2::{Digest as _, Sha256};

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

/// A reader that checks what passes through it against a descriptor: never more than
/// `size` bytes, and at the end exactly `size` bytes hashing to `digest`. Failures surface
/// as `io::Error`s carrying the library's `Error` (see `Error::from_io`).
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Hasher,
    expected_digest: String,
    expected_size: u64,
    what: String,
    done: bool,
}

impl<R: std::io::Read> VerifyingReader<R> {
    /// `what` names the blob in error messages (e.g. "blob sha256:... of repo").
    pub fn new(inner: R, expected_digest: &str, expected_size: u64, what: String) -> Self {
        VerifyingReader {
            inner,
            hasher: Hasher::new(),
            expected_digest: expected_digest.to_string(),
            expected_size,
            what,
            done: false,
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        if self.hasher.len() < self.expected_size {
            return Err(Error::transport(format!(
                "{}: the content ended after {} of {} bytes",
                self.what,
                self.hasher.len(),
                self.expected_size
            ))
            .into_io());
        }
        let got = std::mem::take(&mut self.hasher).finish();
        if got != self.expected_digest {
            return Err(Error::digest_mismatch(format!(
                "{}: the content hashes to {got}, not {}",
                self.what, self.expected_digest
            ))
            .into_io());
        }
        Ok(())
    }
}

impl<R: std::io::Read> std::io::Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        // One byte more than expected may be asked for, to notice content that is too long.
        let room = (self.expected_size - self.hasher.len()).saturating_add(1);
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
        if self.hasher.len() + n as u64 > self.expected_size {
            self.done = true;
            return Err(Error::digest_mismatch(format!(
                "{}: the content is longer than the {} bytes expected",
                self.what, self.expected_size
            ))
            .into_io());
        }
        self.hasher.update(&buf[..n]);
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
        assert_eq!(
            kind(&mut VerifyingReader::new(&data[..], &other, 11, "x".into())),
            DigestMismatch
        );
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
