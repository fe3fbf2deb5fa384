//! OCI 1.1 referrers: the manifests whose `subject` names a manifest (signatures, SBOMs,
//! attestations). They are found through the referrers API of distribution-spec 1.1
//! (`GET /v2/<name>/referrers/<digest>`, an index, possibly in `Link` pages, filtered by
//! `artifactType` when the registry says so in `OCI-Filters-Applied`), and on registries
//! without it (the API answers 404) through the fallback tag of image-spec 1.1,
//! `<alg>-<hex>` of the subject's digest, an index that writers keep up to date
//! (`fallback`). Copies that bring referrers along are in `copy`.

mod copy;
mod fallback;

pub use copy::copy_with_referrers;
pub(crate) use fallback::{after_delete, after_put, subject_before_delete};

use super::client::Client;
use super::list::{next_link, MAX_PAGES, PAGE_LIMIT};
use super::{descriptor, manifest_fetch};
use crate::builder::validate_media_type;
use crate::error::{Error, ErrorKind, Result};
use crate::index::Index;
use crate::manifest::{self, Descriptor, OCI_INDEX};
use crate::name::{Reference, Repository};
use crate::source::BlobSource;
use crate::transport::{redact, status, Session};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Where a listing of referrers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The registry's referrers API.
    Api,
    /// The fallback tag, on a registry without the API.
    FallbackTag,
}

/// The referrers of one manifest.
#[derive(Debug, Clone)]
pub struct Referrers {
    /// An OCI index whose `manifests` are the referrers, opened on the subject's
    /// repository (its children open as the referrers themselves).
    pub index: Index,
    pub found: Found,
    /// Whether the registry applied the artifact type filter itself (otherwise rr did).
    pub filtered_by_registry: bool,
}

/// The referrers of the manifest at `reference` (a digest, or a tag resolved by one
/// HEAD), only those of `artifact_type` when it is given.
pub fn referrers(
    client: &Client,
    reference: &str,
    artifact_type: Option<&str>,
) -> Result<Referrers> {
    let reference = Reference::parse(reference)?;
    let artifact_type = artifact_type.filter(|t| !t.is_empty());
    if let Some(t) = artifact_type {
        validate_media_type(t, "the artifact type")?;
    }
    let subject = match reference.digest() {
        Some(d) => d.to_string(),
        None => descriptor::head(client, &reference)?.digest,
    };
    referrers_of(client, reference.repository(), &subject, artifact_type)
}

/// The referrers of `subject` (a digest) in `repo`.
pub(crate) fn referrers_of(
    client: &Client,
    repo: &Repository,
    subject: &str,
    artifact_type: Option<&str>,
) -> Result<Referrers> {
    let op = client.operation()?;
    let session = op
        .ctx
        .session(repo.registry(), Some(repo.path()), vec![repo.scope("pull")]);
    let what = format!("the referrers of {repo}@{subject}");
    let (listing, found) = match from_api(&session, repo, subject, artifact_type, &what)? {
        Some(listing) => (listing, Found::Api),
        None => (
            fallback::read_verified(&session, repo, subject, op.jobs, &what)?,
            Found::FallbackTag,
        ),
    };
    let filtered_by_registry = listing.filtered;
    let before = listing.entries.len();
    let entries: Vec<Entry> = listing
        .entries
        .into_iter()
        .filter(|e| artifact_type.is_none_or(|t| e.artifact_type.as_deref() == Some(t)))
        .collect();
    if artifact_type.is_some() && !filtered_by_registry {
        session.context().log_line(&format!(
            "{what}: the registry did not filter by artifact type; rr kept {} of {before}",
            entries.len()
        ));
    }
    // The registry's own bytes when they are the whole answer, as they are.
    let bytes = match listing.exact {
        Some(bytes) if entries.len() == before => bytes,
        _ => index_bytes(entries.iter().map(|e| &e.json))?,
    };
    let digest = crate::digest::of_bytes(&bytes);
    let source = BlobSource::Remote {
        client: client.clone(),
        repository: repo.clone(),
    };
    let index = Index::new(source, bytes, OCI_INDEX.to_string(), digest)?;
    Ok(Referrers {
        index,
        found,
        filtered_by_registry,
    })
}

/// One referrer: its descriptor as the registry gave it, and its artifact type.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub digest: String,
    pub artifact_type: Option<String>,
    pub json: Value,
}

/// The referrers as one source listed them.
pub(crate) struct Listing {
    pub entries: Vec<Entry>,
    /// The bytes of the answer, when one answer held every entry and none was dropped.
    pub exact: Option<Vec<u8>>,
    /// Whether the registry applied the artifact type filter.
    pub filtered: bool,
}

/// An OCI index of `entries`.
pub(crate) fn index_bytes<'a>(entries: impl Iterator<Item = &'a Value>) -> Result<Vec<u8>> {
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries.cloned().collect::<Vec<_>>(),
    });
    serde_json::to_vec(&index)
        .map_err(|e| Error::invalid_argument(format!("writing an index of referrers: {e}")))
}

/// The usable entries of an index's `manifests`, each digest once; the others are left
/// out with a line in the log. `dropped` says whether any was.
pub(crate) fn entries_of(
    session: &Session<'_>,
    index: &Value,
    what: &str,
    seen: &mut HashSet<String>,
) -> Result<(Vec<Entry>, bool)> {
    let Some(object) = index.as_object() else {
        return Err(Error::invalid_response(format!(
            "{what}: the answer is not a JSON object"
        )));
    };
    let manifests = match object.get("manifests") {
        None | Some(Value::Null) => return Ok((Vec::new(), false)),
        Some(Value::Array(m)) => m,
        Some(_) => {
            return Err(Error::invalid_response(format!(
                "{what}: `manifests` is not an array"
            )))
        }
    };
    let mut entries = Vec::with_capacity(manifests.len());
    let mut dropped = false;
    for value in manifests {
        match Descriptor::from_json(value, what) {
            Ok(d) if d.media_type.is_empty() => {
                dropped = true;
                session.context().log_line(&format!(
                    "{what}: left out {}, whose descriptor has no media type",
                    d.digest
                ));
            }
            Ok(d) => {
                if seen.insert(d.digest.clone()) {
                    entries.push(Entry {
                        digest: d.digest,
                        artifact_type: d.artifact_type.filter(|t| !t.is_empty()),
                        json: value.clone(),
                    });
                } else {
                    dropped = true;
                }
            }
            Err(e) => {
                dropped = true;
                session
                    .context()
                    .log_line(&format!("left out an entry: {}", e.message));
            }
        }
    }
    Ok((entries, dropped))
}

/// The listing from the referrers API, every page of it; None when the registry has no
/// such API (404).
fn from_api(
    session: &Session<'_>,
    repo: &Repository,
    subject: &str,
    artifact_type: Option<&str>,
    what: &str,
) -> Result<Option<Listing>> {
    let mut path = format!("/v2/{}/referrers/{subject}", repo.path());
    if let Some(t) = artifact_type {
        path.push_str("?artifactType=");
        path.extend(url::form_urlencoded::byte_serialize(t.as_bytes()));
    }
    let mut request = session.request("GET", &path)?;
    let mut seen = HashSet::new();
    let mut visited = HashSet::new();
    let mut entries = Vec::new();
    let mut pages: Vec<Vec<u8>> = Vec::new();
    let mut dropped = false;
    let mut filtered = artifact_type.is_some();
    loop {
        if pages.len() >= MAX_PAGES || !visited.insert(request.url.to_string()) {
            return Err(Error::invalid_response(format!(
                "{what}: the registry's pages do not end (a Link loops back or there are \
                 more than {MAX_PAGES})"
            )));
        }
        let mut response = session.send(request.header("Accept", OCI_INDEX))?;
        if response.status == 404 && pages.is_empty() {
            response.drain();
            return Ok(None);
        }
        if response.status != 200 {
            return Err(status::error_from_response("GET", response).context(what.to_string()));
        }
        let url = response.url.clone();
        // Each page says whether it was filtered; one that was not is filtered by rr.
        filtered &= response
            .header_all("oci-filters-applied")
            .flat_map(|h| h.split(','))
            .any(|f| f.trim().eq_ignore_ascii_case("artifactType"));
        let next = response
            .header("link")
            .map(|link| next_link(link, &url))
            .transpose()?
            .flatten();
        let bytes =
            response.read_limited(PAGE_LIMIT, &format!("{what} from {}", redact::url(&url)))?;
        let page: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::invalid_response(format!(
                "{what}: the answer from {} is not JSON: {e}",
                redact::url(&url)
            ))
        })?;
        let (mut fresh, lost) = entries_of(session, &page, what, &mut seen)?;
        dropped |= lost;
        entries.append(&mut fresh);
        pages.push(bytes);
        match next {
            Some(next) => request = crate::transport::Request::new("GET", next),
            None => break,
        }
    }
    let exact = (pages.len() == 1 && !dropped).then(|| pages.remove(0));
    Ok(Some(Listing {
        entries,
        exact,
        filtered,
    }))
}

/// What a referrer's descriptor in an index says of it: its media type, digest and size,
/// its artifact type (`artifactType`, else an image's config media type, as the spec
/// has the API report it) and its annotations.
pub(crate) fn entry_for(media_type: &str, bytes: &[u8]) -> Value {
    let mut entry = serde_json::Map::new();
    entry.insert("mediaType".into(), json!(media_type));
    entry.insert("digest".into(), json!(crate::digest::of_bytes(bytes)));
    entry.insert("size".into(), json!(bytes.len()));
    let (artifact_type, annotations) = match manifest::kind_of_media_type(media_type) {
        manifest::Kind::Image => match manifest::ImageManifest::parse(bytes, "the manifest") {
            Ok(m) => (
                m.artifact_type
                    .or_else(|| Some(m.config.media_type).filter(|t| !t.is_empty())),
                m.annotations,
            ),
            Err(_) => (None, Default::default()),
        },
        manifest::Kind::Index => match manifest::IndexManifest::parse(bytes, "the manifest") {
            Ok(m) => (m.artifact_type, m.annotations),
            Err(_) => (None, Default::default()),
        },
        _ => (None, Default::default()),
    };
    if let Some(t) = artifact_type {
        entry.insert("artifactType".into(), json!(t));
    }
    if !annotations.is_empty() {
        entry.insert("annotations".into(), json!(annotations));
    }
    Value::Object(entry)
}

/// Fetches each of `digests` from `repo` (at most `jobs` at once), for the fallback's
/// check of what its entries really are. A referrer that is gone is None; any other
/// failure is returned.
pub(crate) fn fetch_all(
    session: &Session<'_>,
    repo: &Repository,
    digests: &[String],
    jobs: u32,
) -> Result<Vec<Option<manifest_fetch::FetchedManifest>>> {
    let fetched = Mutex::new(vec![None; digests.len()]);
    let indexed: Vec<(usize, &String)> = digests.iter().enumerate().collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    crate::parallel::for_each(jobs, &indexed, &stop, |(i, digest)| {
        session.context().check_cancelled()?;
        match manifest_fetch::get(session, repo, digest, manifest::ACCEPT_ALL) {
            Ok(m) => {
                crate::transport::cache::lock(&fetched)[*i] = Some(m);
                Ok(())
            }
            Err(e) if matches!(e.kind, ErrorKind::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    })?;
    Ok(fetched.into_inner().unwrap_or_else(|p| p.into_inner()))
}
