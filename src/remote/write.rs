//! Writing to a registry: images and indexes with every blob they need (`write`), copies
//! (`copy`), tags (`tag`), deletion (`delete`) and the push-permission probe.

use super::client::Client;
use super::upload::{self, BlobJob, Destination};
use super::{descriptor, manifest_fetch};
use crate::error::{Error, ErrorKind, Result};
use crate::image::Image;
use crate::index::Index;
use crate::manifest::{self, Kind};
use crate::name::{Identifier, Reference, Repository};
use crate::parallel;
use crate::plan::{Artifact, Plan};
use crate::source::SourceContexts;
use crate::transport::{status, Body, Response, Session};
use std::sync::Arc;

/// Pushes `img` and every blob it needs to `reference` (a tag or a digest).
pub fn write_image(client: &Client, reference: &str, img: &Image) -> Result<()> {
    write(
        client,
        &Reference::parse_for_write(reference)?,
        Artifact::Image(img),
    )
}

/// Pushes `idx`, its children (nested indexes depth-first) and their blobs to `reference`.
pub fn write_index(client: &Client, reference: &str, idx: &Index) -> Result<()> {
    write(
        client,
        &Reference::parse_for_write(reference)?,
        Artifact::Index(idx),
    )
}

fn push_session<'c>(ctx: &'c crate::transport::Context, repo: &Repository) -> Session<'c> {
    ctx.session(
        repo.registry(),
        Some(repo.path()),
        vec![repo.scope("push,pull")],
    )
}

pub(crate) fn write(client: &Client, reference: &Reference, artifact: Artifact<'_>) -> Result<()> {
    if let Identifier::Digest(d) = reference.identifier() {
        if d != artifact.digest() {
            return Err(Error::invalid_argument(format!(
                "cannot write {} {} to {reference}: the digest differs",
                artifact.kind(),
                artifact.digest()
            )));
        }
    }
    let op = client.operation()?;
    let repo = reference.repository();
    let session = push_session(&op.ctx, repo);

    // A tag (or digest) that already names this manifest means every blob is there too.
    match manifest_fetch::head(&session, repo, reference.identifier_str()) {
        Ok(existing) if existing.digest == artifact.digest() => {
            op.progress.announce();
            return Ok(());
        }
        Ok(_) => {}
        // 403 instead of 404 is what some registries answer for an absent manifest.
        Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Denied) => {}
        Err(e) => return Err(e.context(format!("checking {reference}"))),
    }

    let contexts = Arc::new(SourceContexts::new(&op));
    let plan = Plan::new(artifact, &contexts)?;
    op.progress.add_total(plan.total());
    op.progress.announce();

    let dest = Destination::new(&session, repo, &op.uploads);
    parallel::for_each(op.jobs, &plan.blobs, &op.ctx.cancelled, |blob| {
        let job = BlobJob {
            desc: &blob.desc,
            source: &blob.source,
            contexts: &contexts,
            progress: &op.progress,
        };
        // A source blob that a mirror served wrong is only found out once it has been
        // sent (the destination refuses it, or the mirror's read fails): the mirror is
        // then skipped for it, and the upload is made again from the next source. (An
        // upload made again counts its progress again, up to the operation's total.)
        let uploaded = blob
            .source
            .retrying_mirrors(&blob.desc.digest, || upload::upload(&dest, &job));
        uploaded.map(|_| ()).map_err(|e| {
            if e.message.contains(&blob.desc.digest) {
                e
            } else {
                e.context(format!("blob {} for {reference}", blob.desc.digest))
            }
        })
    })?;

    let (root, children) = plan.manifests.split_last().expect("the artifact itself");
    for child in children {
        op.ctx.check_cancelled()?;
        put_manifest(
            &session,
            repo,
            &child.digest,
            &child.media_type,
            &child.bytes,
        )?;
    }
    op.ctx.check_cancelled()?;
    put_manifest(
        &session,
        repo,
        reference.identifier_str(),
        &root.media_type,
        &root.bytes,
    )
}

/// PUTs manifest bytes exactly as they are, with their own media type as Content-Type.
fn put_manifest(
    session: &Session<'_>,
    repo: &Repository,
    identifier: &str,
    media_type: &str,
    bytes: &[u8],
) -> Result<()> {
    let request = session
        .request(
            "PUT",
            &format!("/v2/{}/manifests/{identifier}", repo.path()),
        )?
        .header("Content-Type", media_type)
        .body(Body::Bytes(Arc::from(bytes)));
    let response = session
        .send_expect(request, &[200, 201, 202])
        .map_err(|e| e.context(format!("writing manifest {repo}:{identifier}")))?;
    response.drain();
    Ok(())
}

/// Copies the image or whole index at `src` to `dst`, byte for byte.
pub fn copy(client: &Client, src: &str, dst: &str) -> Result<()> {
    let src_ref = Reference::parse(src)?;
    let dst_ref = Reference::parse_for_write(dst)?;
    let found = descriptor::get(client, &src_ref)?;
    match manifest::kind_of_media_type(&found.media_type) {
        Kind::Image => {
            let img = found.image()?;
            write(client, &dst_ref, Artifact::Image(&img))
        }
        Kind::Index => {
            let idx = found.index()?;
            write(client, &dst_ref, Artifact::Index(&idx))
        }
        Kind::Schema1 => Err(Error::unsupported(format!(
            "{src_ref} is a Docker schema1 manifest, which cannot be copied"
        ))),
        Kind::Unknown => Err(Error::unsupported(format!(
            "{src_ref} has the manifest media type {:?}, which is neither an image nor an index",
            found.media_type
        ))),
    }
}

/// Gives the manifest at `reference` the tag `new_tag` in the same repository: its exact
/// bytes PUT again under the new tag.
pub fn tag(client: &Client, reference: &str, new_tag: &str) -> Result<()> {
    let reference = Reference::parse(reference)?;
    Reference::validate_tag(new_tag)?;
    let op = client.operation()?;
    let repo = reference.repository();
    let session = push_session(&op.ctx, repo);
    let fetched = manifest_fetch::get(
        &session,
        repo,
        reference.identifier_str(),
        manifest::ACCEPT_ALL,
    )?;
    put_manifest(&session, repo, new_tag, &fetched.media_type, &fetched.bytes)
}

/// Deletes the manifest named by a digest, or the tag (never the manifest behind it).
pub fn delete(client: &Client, reference: &str) -> Result<()> {
    let reference = Reference::parse_for_write(reference)?;
    let op = client.operation()?;
    let repo = reference.repository();
    let session = op.ctx.session(
        repo.registry(),
        Some(repo.path()),
        vec![repo.scope("delete")],
    );
    let response = send_delete(&session, repo, reference.identifier_str())?;
    if matches!(response.status, 200 | 202 | 204) {
        response.drain();
        return Ok(());
    }
    let mut err = status::error_from_response("DELETE", response);
    if reference.tag().is_some() && refuses_tag_deletion(&err) {
        err.kind = ErrorKind::Unsupported;
        let why = match deletes_manifests(&session, repo) {
            Some(true) => {
                "the registry does not delete tags; delete the manifest by digest \
                           to remove it and every tag on it"
            }
            Some(false) => "deletion is disabled on this registry",
            None => {
                "the registry does not delete tags, or deletion is disabled on it; \
                     deleting the manifest by digest removes it and every tag on it where \
                     deletion is enabled"
            }
        };
        err.message = format!("{} ({why})", err.message);
    } else if err.http_status == 405 {
        err.kind = ErrorKind::Unsupported;
        err.message = format!("{} (deletion is disabled on this registry)", err.message);
    }
    Err(err.context(format!("deleting {reference}")))
}

fn send_delete(session: &Session<'_>, repo: &Repository, identifier: &str) -> Result<Response> {
    let request = session.request(
        "DELETE",
        &format!("/v2/{}/manifests/{identifier}", repo.path()),
    )?;
    session.send(request)
}

/// A digest no manifest has: deleting it deletes nothing, and tells whether the registry
/// deletes manifests (404, nothing by that digest) or refuses deletes (405).
const NO_SUCH_MANIFEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Whether the registry deletes manifests by digest in `repo`, found out without deleting
/// anything; None when its answer does not say.
fn deletes_manifests(session: &Session<'_>, repo: &Repository) -> Option<bool> {
    let response = send_delete(session, repo, NO_SUCH_MANIFEST).ok()?;
    let status = response.status;
    response.drain();
    match status {
        404 => Some(true),
        405 => Some(false),
        _ => None,
    }
}

/// Registries that predate tag deletion (OCI 1.1) answer a tag DELETE with 400, 405 or an
/// UNSUPPORTED / DIGEST_INVALID code.
fn refuses_tag_deletion(err: &Error) -> bool {
    matches!(err.http_status, 400 | 405)
        || matches!(
            err.registry_code.as_deref(),
            Some("UNSUPPORTED" | "DIGEST_INVALID")
        )
}

/// Whether the client may push to `reference`'s repository: opens an upload session and
/// cancels it at once.
pub fn check_push_permission(client: &Client, reference: &str) -> Result<()> {
    let reference = Reference::parse(reference)?;
    let op = client.operation()?;
    let repo = reference.repository();
    let session = push_session(&op.ctx, repo);
    let location = upload::start_session(&session, repo)
        .map_err(|e| e.context(format!("checking push permission on {repo}")))?;
    upload::cancel_session(&session, &location);
    Ok(())
}
