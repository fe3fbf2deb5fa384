//! Copies that bring everything attached along: the image or index, then every referrer
//! of it and of its children (an index's platform images are signed one by one), and the
//! referrers of those (a signature of an SBOM), each byte for byte under its digest.

use super::referrers_of;
use crate::error::{Error, Result};
use crate::index::{Index, MAX_DEPTH};
use crate::manifest::{self, Kind};
use crate::name::Reference;
use crate::remote::client::Client;
use crate::remote::{descriptor, write};
use std::collections::HashSet;

/// A copy bringing more manifests than this along is refused (a loop of referrers that a
/// hostile registry made up, or a mistake): nothing real is signed that often.
pub const MAX_REFERRERS_COPIED: usize = 10_000;

/// Copies the image or index at `src` to `dst` as `write::copy` does, then every referrer
/// of it (and of an index's children, at any depth), recursively, to `dst`'s repository
/// under their digests. Where `dst`'s registry has no referrers API the copies are listed
/// under its fallback tags as they are pushed. A referrer that is neither an image nor an
/// index cannot be copied and is left out with a line in the log.
pub fn copy_with_referrers(client: &Client, src: &str, dst: &str) -> Result<()> {
    let src_ref = Reference::parse(src)?;
    let dst_ref = Reference::parse_for_write(dst)?;
    let found = descriptor::get_also(client, &src_ref, &write::copy_scopes(&src_ref, &dst_ref))?;
    write::copy_found(client, &found, &dst_ref)?;

    let mut subjects = vec![found.digest.clone()];
    if manifest::kind_of_media_type(&found.media_type) == Kind::Index {
        children_of(&found.index()?, 0, &mut subjects)?;
    }
    let mut seen: HashSet<String> = subjects.iter().cloned().collect();
    let src_repo = src_ref.repository();
    let dst_repo = dst_ref.repository();
    while let Some(subject) = subjects.pop() {
        let listed = referrers_of(client, src_repo, &subject, None)?;
        for child in listed.index.children() {
            if !seen.insert(child.digest.clone()) {
                continue;
            }
            if seen.len() > MAX_REFERRERS_COPIED {
                return Err(Error::invalid_response(format!(
                    "{src_ref} has more than {MAX_REFERRERS_COPIED} manifests attached, \
                     counting referrers of referrers: refusing to copy them all"
                )));
            }
            let kind = manifest::kind_of_media_type(&child.media_type);
            if !matches!(kind, Kind::Image | Kind::Index) {
                client.operation()?.ctx.log_line(&format!(
                    "copy of {src_ref}: left out the referrer {} of media type {:?}, which \
                     is neither an image nor an index",
                    child.digest, child.media_type
                ));
                continue;
            }
            let from = src_repo.digest(&child.digest);
            let to = dst_repo.digest(&child.digest);
            let referrer = descriptor::get(client, &from)?;
            write::copy_found(client, &referrer, &to)
                .map_err(|e| e.context(format!("copying the referrer {}", child.digest)))?;
            if kind == Kind::Index {
                children_of(&referrer.index()?, 0, &mut subjects)?;
            }
            subjects.push(child.digest.clone());
        }
    }
    Ok(())
}

/// Every manifest below `index`, at any depth.
fn children_of(index: &Index, depth: usize, out: &mut Vec<String>) -> Result<()> {
    if depth >= MAX_DEPTH {
        return Err(Error::invalid_response(format!(
            "index {} nests more than {MAX_DEPTH} deep",
            index.digest()
        )));
    }
    for (i, child) in index.children().iter().enumerate() {
        out.push(child.digest.clone());
        if manifest::kind_of_media_type(&child.media_type) == Kind::Index {
            children_of(&index.child_index(i)?, depth + 1, out)?;
        }
    }
    Ok(())
}
