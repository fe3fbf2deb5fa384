//! Writing to a registry: images and indexes with every blob they need (`write`), copies
//! (`copy`), tags (`tag`), deletion (`delete`) and the push-permission probe.

use super::client::Client;
use super::upload::{self, BlobJob, Destination};
use super::{descriptor, manifest_fetch, referrers};
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

/// A session on `repo` that may push and pull.
pub(crate) fn push_session<'c>(
    ctx: &'c crate::transport::Context,
    repo: &Repository,
) -> Session<'c> {
    ctx.session(
        repo.registry(),
        Some(repo.path()),
        vec![repo.scope("push,pull")],
    )
}

pub(crate) fn write(client: &Client, reference: &Reference, artifact: Artifact<'_>) -> Result<()> {
    write_knowing(client, reference, artifact, None)
}

/// `write`, with the answer to the HEAD of `reference` when the caller already asked it
/// (a copy asks it while it reads the source).
fn write_knowing(
    client: &Client,
    reference: &Reference,
    artifact: Artifact<'_>,
    known: Option<Result<manifest_fetch::HeadResult>>,
) -> Result<()> {
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
    // Blobs in another repository of this registry are mounted from there: one token
    // for both from the start, instead of a second exchange at the first mount.
    if let Some(from) = same_registry_source(&artifact, repo) {
        session.add_scope(from.scope("pull"));
    }

    // A tag (or digest) that already names this manifest means every blob is there too.
    let existing =
        known.unwrap_or_else(|| manifest_fetch::head(&session, repo, reference.identifier_str()));
    match existing {
        Ok(existing) if existing.digest == artifact.digest() => {
            op.progress.announce();
            // A referrer already there may be missing from its subject's fallback tag (an
            // earlier push that failed after the manifest, another tool): it is PUT again,
            // which costs one request and lists it where it must be.
            if manifest::subject_of(artifact.media_type(), artifact.manifest_bytes()).is_some() {
                put_manifest(
                    &session,
                    repo,
                    reference.identifier_str(),
                    artifact.media_type(),
                    artifact.manifest_bytes(),
                )?;
            }
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
    op.progress.plan(
        plan.blobs
            .iter()
            .map(|b| (b.desc.digest.as_str(), b.desc.size)),
    );

    let dest = Destination::new(&session, repo, &op.uploads);
    parallel::for_each(op.jobs, &plan.transfer_order(), &op.ctx.cancelled, |blob| {
        let job = BlobJob {
            desc: &blob.desc,
            source: &blob.source,
            mount_from: None,
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

/// The repository `artifact` is read from, when it is another repository of `repo`'s
/// registry (a copy or an append within one registry), as the mounts will need it.
fn same_registry_source<'a>(
    artifact: &'a Artifact<'_>,
    repo: &Repository,
) -> Option<&'a Repository> {
    let source = match artifact {
        Artifact::Image(img) => img.source(),
        Artifact::Index(idx) => idx.source(),
    };
    source
        .repository()
        .filter(|from| from.registry() == repo.registry() && from.path() != repo.path())
}

/// PUTs `bytes` as the manifest at `reference` (a tag or a digest) exactly as they are, as
/// go-containerregistry's `remote.Put` does: nothing is pushed besides them (the blobs and
/// children they name must be in the repository already; the registry says which is not,
/// `MANIFEST_BLOB_UNKNOWN`). The Content-Type is `media_type`, or, when that is None or
/// empty, the bytes' own `mediaType`, else what their shape says (see
/// `manifest::effective_media_type`). Nothing is sent when the bytes do not hold up (see
/// `check_manifest`). Returns the descriptor of what was sent.
pub fn put(
    client: &Client,
    reference: &str,
    media_type: Option<&str>,
    bytes: &[u8],
) -> Result<descriptor::Descriptor> {
    let reference = Reference::parse_for_write(reference)?;
    let media_type = check_manifest(&reference, media_type, bytes)?;
    let op = client.operation()?;
    let repo = reference.repository();
    let session = push_session(&op.ctx, repo);
    put_manifest(
        &session,
        repo,
        reference.identifier_str(),
        &media_type,
        bytes,
    )?;
    Ok(descriptor::Descriptor::of_sent(
        client,
        reference,
        media_type,
        bytes.to_vec(),
    ))
}

/// What may stand as a Content-Type: `type/subtype` of RFC 6838's name characters, no
/// parameters (and so no way to smuggle a header through it).
fn is_media_type(s: &str) -> bool {
    let name = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(s.split_once('/'), Some((t, sub)) if name(t) && name(sub))
}

/// Checks manifest bytes before they are sent and decides their media type: they must be
/// a JSON object of at most `MANIFEST_SIZE_LIMIT` bytes; their own `mediaType`, if any,
/// must be the one given; an image or index media type must parse as that manifest (as
/// the library would read it back); a digest reference must be their sha256. Each failure
/// is `InvalidArgument`, except a Docker schema1 type (`Unsupported`, as everywhere).
fn check_manifest(reference: &Reference, media_type: Option<&str>, bytes: &[u8]) -> Result<String> {
    let bad = |why: String| {
        Error::invalid_argument(format!("cannot put the manifest at {reference}: {why}"))
    };
    if bytes.is_empty() {
        return Err(bad("the bytes are empty".into()));
    }
    if bytes.len() as u64 > manifest::MANIFEST_SIZE_LIMIT {
        return Err(bad(format!(
            "the bytes are {} long, more than the {} a manifest may be",
            bytes.len(),
            manifest::MANIFEST_SIZE_LIMIT
        )));
    }
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("the bytes are not JSON: {e}")))?;
    let Some(object) = json.as_object() else {
        return Err(bad("the bytes are not a JSON object".into()));
    };
    let own = object
        .get("mediaType")
        .and_then(serde_json::Value::as_str)
        .filter(|m| !m.is_empty());
    let media_type = match media_type.filter(|m| !m.is_empty()) {
        Some(given) => {
            if let Some(own) = own.filter(|own| *own != given) {
                return Err(bad(format!(
                    "the media type given is {given:?} but the bytes say {own:?}"
                )));
            }
            given.to_string()
        }
        None => manifest::effective_media_type(None, bytes),
    };
    if media_type.is_empty() {
        return Err(bad(
            "no media type was given and the bytes name none (no mediaType, and neither \
             manifests nor config and layers)"
                .into(),
        ));
    }
    if !is_media_type(&media_type) {
        return Err(bad(format!("{media_type:?} is not a media type")));
    }
    let parsed = match manifest::kind_of_media_type(&media_type) {
        Kind::Image => manifest::ImageManifest::parse(bytes, "the bytes").map(drop),
        Kind::Index => manifest::IndexManifest::parse(bytes, "the bytes").map(drop),
        Kind::Schema1 => {
            return Err(Error::unsupported(format!(
                "cannot put the manifest at {reference}: {media_type} is a Docker schema1 \
                 type, which is not supported"
            )))
        }
        // An artifact's own manifest type: the registry decides what it takes.
        Kind::Unknown => Ok(()),
    };
    parsed.map_err(|e| bad(format!("they are not a valid {media_type}: {}", e.message)))?;
    if let Identifier::Digest(want) = reference.identifier() {
        let got = crate::digest::of_bytes(bytes);
        if got != *want {
            return Err(bad(format!(
                "the bytes hash to {got}, not to the digest named"
            )));
        }
    }
    Ok(media_type)
}

/// PUTs manifest bytes exactly as they are, with their own media type as Content-Type.
/// A manifest with a `subject` is then listed under its subject's fallback referrers tag,
/// unless the registry answered that it indexes it itself (`OCI-Subject`).
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
    let oci_subject = response.header("oci-subject").map(str::to_string);
    response.drain();
    referrers::after_put(session, repo, media_type, bytes, oci_subject.as_deref())
}

/// Copies the image or whole index at `src` to `dst`, byte for byte.
pub fn copy(client: &Client, src: &str, dst: &str) -> Result<()> {
    copy_digest(client, src, dst).map(drop)
}

/// `copy`, giving the digest of the manifest written (the source's: it is copied byte for
/// byte), so that a caller that reports it needs no HEAD of the destination afterwards.
pub fn copy_digest(client: &Client, src: &str, dst: &str) -> Result<String> {
    let src_ref = Reference::parse(src)?;
    let dst_ref = Reference::parse_for_write(dst)?;
    // The destination's HEAD does not wait for the source's manifest: one round trip less.
    let (found, known) = std::thread::scope(|scope| {
        let head = scope.spawn(|| head_destination(client, &src_ref, &dst_ref));
        let found = descriptor::get_also(client, &src_ref, &copy_scopes(&src_ref, &dst_ref));
        let known = head.join().unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Panic,
                "the HEAD of the destination panicked",
            ))
        });
        (found, known)
    });
    let found = found?;
    copy_known(client, &found, &dst_ref, Some(known))?;
    Ok(found.digest)
}

/// The HEAD of a copy's destination, on a session asking what the copy's push will.
fn head_destination(
    client: &Client,
    src_ref: &Reference,
    dst_ref: &Reference,
) -> Result<manifest_fetch::HeadResult> {
    let op = client.operation()?;
    let repo = dst_ref.repository();
    let session = push_session(&op.ctx, repo);
    if src_ref.registry() == repo.registry() && src_ref.repository() != repo {
        session.add_scope(src_ref.repository().scope("pull"));
    }
    manifest_fetch::head(&session, repo, dst_ref.identifier_str())
}

/// The token scopes a copy within one registry needs besides pulling the source: those of
/// the destination's session (`push_session` and the mounts' pull of the source), so
/// that the source's token serves the whole copy.
pub(crate) fn copy_scopes(src: &Reference, dst: &Reference) -> Vec<String> {
    if src.registry() != dst.registry() || src.repository() == dst.repository() {
        return Vec::new();
    }
    vec![dst.repository().scope("push,pull")]
}

/// Copies what `found` names to `dst_ref`, byte for byte.
pub(crate) fn copy_found(
    client: &Client,
    found: &descriptor::Descriptor,
    dst_ref: &Reference,
) -> Result<()> {
    copy_known(client, found, dst_ref, None)
}

/// `copy_found`, with the destination's HEAD when it was asked already.
fn copy_known(
    client: &Client,
    found: &descriptor::Descriptor,
    dst_ref: &Reference,
    known: Option<Result<manifest_fetch::HeadResult>>,
) -> Result<()> {
    let src_ref = &found.reference;
    match manifest::kind_of_media_type(&found.media_type) {
        Kind::Image => {
            let img = found.image()?;
            write_knowing(client, dst_ref, Artifact::Image(&img), known)
        }
        Kind::Index => {
            let idx = found.index()?;
            write_knowing(client, dst_ref, Artifact::Index(&idx), known)
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
    // A referrer deleted must leave its subject's fallback tag too; its subject is only
    // known from the manifest, read before it is gone.
    let subject = reference.digest().and_then(|digest| {
        session.add_scope(repo.scope("pull"));
        referrers::subject_before_delete(&session, repo, digest)
    });
    let response = send_delete(&session, repo, reference.identifier_str())?;
    if matches!(response.status, 200 | 202 | 204) {
        response.drain();
        if let (Some(digest), Some(subject)) = (reference.digest(), subject) {
            referrers::after_delete(&session, repo, digest, &subject)?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(s: &str) -> Reference {
        Reference::parse_for_write(s).unwrap()
    }

    fn image_manifest(media_type_field: Option<&str>) -> String {
        let cfg = crate::digest::of_bytes(b"{}");
        let field = media_type_field.map_or(String::new(), |m| format!(r#""mediaType":"{m}","#));
        format!(
            r#"{{"schemaVersion":2,{field}"config":{{"mediaType":"{}","digest":"{cfg}","size":2}},"layers":[]}}"#,
            manifest::OCI_CONFIG
        )
    }

    #[test]
    fn the_media_type_is_the_given_one_or_the_bytes_own() {
        let r = reference("registry.example/app:v1");
        let with = image_manifest(Some(manifest::OCI_MANIFEST));
        let without = image_manifest(None);
        assert_eq!(
            check_manifest(&r, None, with.as_bytes()).unwrap(),
            manifest::OCI_MANIFEST
        );
        // No mediaType field: the shape says image.
        assert_eq!(
            check_manifest(&r, Some(""), without.as_bytes()).unwrap(),
            manifest::OCI_MANIFEST
        );
        assert_eq!(
            check_manifest(&r, Some(manifest::DOCKER_MANIFEST), without.as_bytes()).unwrap(),
            manifest::DOCKER_MANIFEST
        );
        // An artifact's own type is taken as given, as long as the bytes are a JSON object.
        assert_eq!(
            check_manifest(&r, Some("application/vnd.example.thing+json"), b"{}").unwrap(),
            "application/vnd.example.thing+json"
        );
    }

    #[test]
    fn bytes_that_do_not_hold_up_are_refused() {
        let r = reference("registry.example/app:v1");
        let with = image_manifest(Some(manifest::OCI_MANIFEST));
        let refused = |media_type: Option<&str>, bytes: &[u8]| {
            let e = check_manifest(&r, media_type, bytes).unwrap_err();
            assert!(
                e.message.contains("registry.example/app:v1"),
                "{}",
                e.message
            );
            e
        };
        for (media_type, bytes) in [
            (None, &b""[..]),
            (None, &b"not json"[..]),
            (None, &b"[1]"[..]),
            (None, &b"{}"[..]),
            (Some(manifest::OCI_INDEX), with.as_bytes()),
            (Some(manifest::OCI_MANIFEST), &br#"{"schemaVersion":2}"#[..]),
            (
                Some(manifest::OCI_INDEX),
                &br#"{"schemaVersion":1,"manifests":[]}"#[..],
            ),
            (Some("text/plain\r\nX-Evil: 1"), &b"{}"[..]),
            (Some("no-slash"), &b"{}"[..]),
        ] {
            let e = refused(media_type, bytes);
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
        }
        let e = refused(Some(manifest::DOCKER_MANIFEST), with.as_bytes());
        assert!(e.message.contains("the bytes say"), "{}", e.message);
        let big = vec![b' '; manifest::MANIFEST_SIZE_LIMIT as usize + 1];
        assert_eq!(refused(None, &big).kind, ErrorKind::InvalidArgument);
        let e = refused(Some(manifest::DOCKER_SCHEMA1_SIGNED), b"{}");
        assert_eq!(e.kind, ErrorKind::Unsupported);
    }

    #[test]
    fn a_digest_reference_must_be_the_bytes_sha256() {
        let bytes = image_manifest(Some(manifest::OCI_MANIFEST));
        let digest = crate::digest::of_bytes(bytes.as_bytes());
        let right = reference(&format!("registry.example/app@{digest}"));
        assert!(check_manifest(&right, None, bytes.as_bytes()).is_ok());
        let other = crate::digest::of_bytes(b"other");
        let wrong = reference(&format!("registry.example/app@{other}"));
        let e = check_manifest(&wrong, None, bytes.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.contains(&digest), "{}", e.message);
    }
}
