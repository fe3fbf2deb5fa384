//! GET and HEAD of `/v2/<name>/manifests/<reference>`: exact bytes, locally computed
//! digest, verified when the reference is a digest. Every answer's rate-limit headers
//! are kept as the registry's last seen (`transport::rate_limit`).

use crate::digest;
use crate::error::{Error, Result};
use crate::manifest::{self, MANIFEST_SIZE_LIMIT};
use crate::name::Repository;
use crate::transport::{redact, status, Request, Response, Session};

#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

fn path(repository: &Repository, identifier: &str) -> String {
    format!("/v2/{}/manifests/{}", repository.path(), identifier)
}

/// Sends a manifest request, keeps the rate limit its answer announces (a 429's too),
/// and accepts only 200.
fn send(session: &Session<'_>, request: Request) -> Result<Response> {
    let method = request.method;
    let response = session.send(request)?;
    session
        .context()
        .shared
        .record_rate_limit(session.registry().as_str(), &response);
    if response.status == 200 {
        Ok(response)
    } else {
        Err(status::error_from_response(method, response))
    }
}

/// GETs a manifest. `identifier` is a tag or a digest; a digest is verified.
pub fn get(
    session: &Session<'_>,
    repository: &Repository,
    identifier: &str,
    accept: &str,
) -> Result<FetchedManifest> {
    let request = session
        .request("GET", &path(repository, identifier))?
        .header("Accept", accept);
    let mut response = send(session, request)?;
    let url = redact::url(&response.url);
    let bytes = response.read_limited(MANIFEST_SIZE_LIMIT, &format!("manifest {url}"))?;
    let media_type = manifest::effective_media_type(response.header("content-type"), &bytes);
    let computed = digest::of_bytes(&bytes);
    if identifier.starts_with(digest::SHA256_PREFIX) && computed != identifier {
        return Err(Error::digest_mismatch(format!(
            "manifest {repository}@{identifier} from {url} hashes to {computed}"
        )));
    }
    Ok(FetchedManifest {
        bytes,
        media_type,
        digest: computed,
    })
}

#[derive(Debug, Clone)]
pub struct HeadResult {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// HEADs a manifest: the registry's Content-Type, Docker-Content-Digest and
/// Content-Length, all required.
pub fn head(
    session: &Session<'_>,
    repository: &Repository,
    identifier: &str,
) -> Result<HeadResult> {
    let request = session
        .request("HEAD", &path(repository, identifier))?
        .header("Accept", manifest::ACCEPT_ALL);
    let response = send(session, request)?;
    let url = redact::url(&response.url);
    let missing = |h: &str| {
        Error::invalid_response(format!("HEAD {url}: the response has no usable {h} header"))
    };
    let media_type = response
        .header("content-type")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("Content-Type"))?
        .to_string();
    let digest = response
        .header("docker-content-digest")
        .map(str::trim)
        .filter(|d| digest::validate(d).is_ok())
        .ok_or_else(|| missing("Docker-Content-Digest"))?
        .to_string();
    let size = response
        .content_length()
        .ok_or_else(|| missing("Content-Length"))?;
    response.drain();
    if identifier.starts_with(digest::SHA256_PREFIX) && digest != identifier {
        return Err(Error::digest_mismatch(format!(
            "HEAD {url}: the registry reports digest {digest} for {identifier}"
        )));
    }
    Ok(HeadResult {
        media_type,
        digest,
        size,
    })
}
