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
    fn validation_accepts_only_lower_case_sha256() {
        let good = of_bytes(b"x");
        assert!(validate(&good).is_ok());
        assert!(validate(&good.to_uppercase()).is_err());
        assert!(validate(&good.replace("sha256", "sha512")).is_err());
        assert!(validate(&good[..good.len() - 1]).is_err());
        assert!(validate("sha256:").is_err());
    }
}
