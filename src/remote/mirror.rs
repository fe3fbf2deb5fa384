//! Reads through pull mirrors: a read of a repository that a registries.conf entry covers
//! goes to the entry's mirrors first, in order, and to its primary location last. A mirror
//! is asked once per request (no retries: the next source is a better bet than waiting),
//! and whatever goes wrong there (unreachable, a refusal, a 404, bytes that do not hash to
//! their digest, a manifest that is not JSON) moves the read on to the next source, with a
//! line in the request log. The origin's answer, success or failure, is final.
//!
//! Only reads come here: writes, mounts and the existence checks before a write go to the
//! destination alone (`remote::write`), so that nothing is ever written to a mirror.

use crate::error::{Error, ErrorKind, Result};
use crate::name::Repository;
use crate::transport::Context;
use std::io::Read;
use std::sync::Arc;

/// Where a read is being made: a mirror (once per request) or the primary location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Mirror,
    Primary,
}

/// Runs `attempt` on each source of `repository` in turn until one succeeds: the mirrors
/// for a read by digest (`by_digest`) or by tag, with the single-attempt context, then
/// the primary location with `ctx` itself. `blob` names the digest of a blob read, whose
/// mirrors that already failed it are skipped. Without a registries.conf entry for the
/// repository this is `attempt(ctx, repository, At::Primary)`.
pub fn read<T>(
    ctx: &Arc<Context>,
    repository: &Repository,
    by_digest: bool,
    blob: Option<&str>,
    mut attempt: impl FnMut(&Arc<Context>, &Repository, At) -> Result<T>,
) -> Result<T> {
    let Some(sources) = ctx.registries.sources(repository, by_digest)? else {
        return attempt(ctx, repository, At::Primary);
    };
    let next_name = |i: usize| match sources.mirrors.get(i + 1) {
        Some(m) => format!("the next mirror, {m}"),
        None if sources.primary == *repository => format!("the origin, {}", sources.primary),
        None => format!("its location, {}", sources.primary),
    };
    for (i, mirror) in sources.mirrors.iter().enumerate() {
        let host = mirror.registry().as_str();
        if let Some(since) = ctx.shared.mirror_down_since(host) {
            ctx.log_line(&format!(
                "mirror {mirror}: skipped, unreachable {} s ago; trying {}",
                since.as_secs(),
                next_name(i)
            ));
            continue;
        }
        if let Some(digest) = blob {
            if ctx.shared.mirror_failed(digest, &mirror.to_string()) {
                ctx.log_line(&format!(
                    "mirror {mirror}: skipped, its read of {digest} failed before; trying {}",
                    next_name(i)
                ));
                continue;
            }
        }
        ctx.check_cancelled()?;
        match attempt(&ctx.single_attempt(), mirror, At::Mirror) {
            Ok(v) => return Ok(v),
            Err(e) if e.kind == ErrorKind::Cancelled => return Err(e),
            Err(e) => {
                if e.kind == ErrorKind::Transport && e.http_status == 0 {
                    ctx.shared.mark_mirror_down(host);
                }
                ctx.log_line(&format!(
                    "mirror {mirror}: {}; trying {}",
                    e.message,
                    next_name(i)
                ));
            }
        }
    }
    attempt(ctx, &sources.primary, At::Primary)
}

/// What a mirror's manifest must be besides its digest: JSON. A manifest read by tag has
/// no digest to check, and a mirror that mangled it is left for the next source.
pub fn check_manifest(bytes: &[u8], mirror: &Repository) -> Result<()> {
    // Into a value, not skipped over: skipping would not check the strings' UTF-8.
    serde_json::from_slice::<serde_json::Value>(bytes)
        .map(|_| ())
        .map_err(|e| {
            Error::invalid_response(format!(
                "the manifest from mirror {mirror} is not JSON: {e}"
            ))
        })
}

/// A blob body from a mirror. Its failure once it has started (a body that breaks off,
/// bytes that do not hash to the digest) can no longer move on to the next source by
/// itself, since bytes went out: it is recorded in the client's cache instead, so that
/// the mirror is not asked for that blob again, and a reader that can start over
/// (`BlobSource::retrying_mirrors`) does so from the next source.
pub struct MirrorBody {
    pub inner: Box<dyn Read + Send>,
    pub ctx: Arc<Context>,
    pub digest: String,
    pub mirror: String,
}

impl Read for MirrorBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() != std::io::ErrorKind::Interrupted => {
                let mut err = Error::from_io(
                    &e,
                    ErrorKind::Transport,
                    format!("blob {} from mirror {}", self.digest, self.mirror),
                );
                if err.kind == ErrorKind::Cancelled {
                    return Err(err.into_io());
                }
                self.ctx
                    .shared
                    .record_mirror_failure(&self.digest, &self.mirror);
                self.ctx.log_line(&format!(
                    "mirror {}: {}; it is not asked for this blob again",
                    self.mirror, err.message
                ));
                err.message = format!(
                    "{} (from mirror {}, which is not asked for this blob again)",
                    err.message, self.mirror
                );
                Err(err.into_io())
            }
            other => other,
        }
    }
}
