//! The referrers tag schema of image-spec 1.1, for registries without the referrers API:
//! the tag `<alg>-<hex>` of a subject's digest holds an OCI index of its referrers.
//!
//! Whoever pushes a referrer keeps that index up to date (the registry does not), which
//! the tag alone cannot make safe: there is no conditional PUT, so two writers that read
//! the same index and each add their entry leave only the entry of the later one. rr
//! therefore reads the index back after writing it, once a writer that read before this
//! write had time to land its own (two of this write's cycles, with jitter), and writes
//! again, with what it read, until its change is there. Threads of one client also wait
//! for each other. A reader checks each entry (the manifest is fetched and must name the
//! subject): the tag is written by anyone and may hold anything.

use super::{entries_of, entry_for, fetch_all, Entry, Listing};
use crate::digest;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{self, Kind, ACCEPT_ALL, OCI_INDEX};
use crate::name::Repository;
use crate::transport::cache::lock;
use crate::transport::{Body, Session};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Writes of one change before rr gives up on a tag that other writers keep overwriting.
const MAX_WRITES: u32 = 8;

/// The fallback tag of `subject`: its digest with `-` for `:`.
pub(crate) fn tag_for(subject: &str) -> String {
    subject.replacen(':', "-", 1)
}

/// The index the fallback tag holds, as JSON, with its bytes: None when there is no such
/// tag, or when it holds something other than an OCI index (said in the log).
fn read_index(
    session: &Session<'_>,
    repo: &Repository,
    tag: &str,
    what: &str,
) -> Result<Option<(Value, Vec<u8>)>> {
    let fetched = match crate::remote::manifest_fetch::get(session, repo, tag, ACCEPT_ALL) {
        Ok(f) => f,
        Err(e) if matches!(e.kind, ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.context(what.to_string())),
    };
    let ignored = |why: String| {
        session
            .context()
            .log_line(&format!("{what}: ignored, {why}"));
        Ok(None)
    };
    if manifest::kind_of_media_type(&fetched.media_type) != Kind::Index {
        return ignored(format!(
            "it holds {} of media type {:?}, not an index",
            fetched.digest, fetched.media_type
        ));
    }
    match serde_json::from_slice::<Value>(&fetched.bytes) {
        Ok(v) if v.is_object() => Ok(Some((v, fetched.bytes))),
        Ok(_) => ignored("it is not a JSON object".into()),
        Err(e) => ignored(format!("it is not JSON: {e}")),
    }
}

/// The referrers of `subject` that its fallback tag lists and that really are: each entry
/// is fetched (at most `jobs` at once), and one that is gone, or does not name `subject`
/// as its subject, is left out with a line in the log.
pub(super) fn read_verified(
    session: &Session<'_>,
    repo: &Repository,
    subject: &str,
    jobs: u32,
    what: &str,
) -> Result<Listing> {
    let tag = tag_for(subject);
    let what = format!("{what} (the fallback tag {tag})");
    let Some((index, bytes)) = read_index(session, repo, &tag, &what)? else {
        return Ok(Listing {
            entries: Vec::new(),
            exact: None,
            filtered: false,
        });
    };
    let (listed, mut dropped) = entries_of(session, &index, &what, &mut HashSet::new())?;
    let digests: Vec<String> = listed.iter().map(|e| e.digest.clone()).collect();
    let fetched = fetch_all(session, repo, &digests, jobs)?;
    let mut entries = Vec::with_capacity(listed.len());
    for (entry, manifest) in listed.into_iter().zip(fetched) {
        let Some(m) = manifest else {
            dropped = true;
            session.context().log_line(&format!(
                "{what}: left out {}, which is not in {repo}",
                entry.digest
            ));
            continue;
        };
        let names = manifest::subject_of(&m.media_type, &m.bytes).map(|s| s.digest);
        if names.as_deref() != Some(subject) {
            dropped = true;
            session.context().log_line(&format!(
                "{what}: left out {}, whose subject is {}",
                entry.digest,
                names.as_deref().unwrap_or("none")
            ));
            continue;
        }
        let artifact_type = entry.artifact_type.or_else(|| {
            entry_for(&m.media_type, &m.bytes)
                .get("artifactType")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        entries.push(Entry {
            artifact_type,
            ..entry
        });
    }
    Ok(Listing {
        entries,
        exact: (!dropped).then_some(bytes),
        filtered: false,
    })
}

/// After a manifest was PUT: when it has a subject and the registry did not say it
/// indexes it (`OCI-Subject`), it is added to its subject's fallback tag.
pub(crate) fn after_put(
    session: &Session<'_>,
    repo: &Repository,
    media_type: &str,
    bytes: &[u8],
    oci_subject: Option<&str>,
) -> Result<()> {
    let Some(subject) = manifest::subject_of(media_type, bytes) else {
        return Ok(());
    };
    if oci_subject.is_some() {
        return Ok(());
    }
    let entry = entry_for(media_type, bytes);
    let digest = digest::of_bytes(bytes);
    update(session, repo, &subject.digest, &digest, Some(&entry)).map_err(|e| {
        e.context(format!(
            "{repo}@{digest} was pushed, but listing it as a referrer of {}",
            subject.digest
        ))
    })
}

/// The subject of the manifest `digest` in `repo`, read before it is deleted; None when
/// it has none or cannot be read (the delete then goes ahead as before).
pub(crate) fn subject_before_delete(
    session: &Session<'_>,
    repo: &Repository,
    digest: &str,
) -> Option<String> {
    let fetched = crate::remote::manifest_fetch::get(session, repo, digest, ACCEPT_ALL).ok()?;
    manifest::subject_of(&fetched.media_type, &fetched.bytes).map(|s| s.digest)
}

/// After the referrer `digest` of `subject` was deleted: it leaves the fallback tag.
pub(crate) fn after_delete(
    session: &Session<'_>,
    repo: &Repository,
    digest: &str,
    subject: &str,
) -> Result<()> {
    update(session, repo, subject, digest, None).map_err(|e| {
        e.context(format!(
            "{repo}@{digest} was deleted, but removing it from the referrers of {subject}"
        ))
    })
}

/// Whether the index lists `digest`.
fn lists(index: &Value, digest: &str) -> bool {
    index
        .get("manifests")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|e| e.get("digest") == Some(&json!(digest))))
}

/// Adds `entry` for `digest` to the fallback tag of `subject` (None: removes `digest`),
/// until a read back shows the change.
fn update(
    session: &Session<'_>,
    repo: &Repository,
    subject: &str,
    digest: &str,
    entry: Option<&Value>,
) -> Result<()> {
    let tag = tag_for(subject);
    let what = format!("the fallback referrers tag {repo}:{tag}");
    session.add_scope(repo.scope("push,pull"));
    let gate = session
        .context()
        .shared
        .referrers_tag_gate(&format!("{repo}:{tag}"));
    let _one_at_a_time = lock(&gate);
    for writes in 0..=MAX_WRITES {
        let started = Instant::now();
        let index = read_index(session, repo, &tag, &what)?.map(|(v, _)| v);
        let listed = index.as_ref().is_some_and(|v| lists(v, digest));
        if listed == entry.is_some() {
            return Ok(());
        }
        if writes == MAX_WRITES {
            break;
        }
        let mut index = index.unwrap_or_else(
            || json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
        );
        change(&mut index, digest, entry);
        if let Err(e) = put(session, repo, &tag, &index, &what) {
            // A registry that checks an index's children (distribution) refuses the whole
            // index for one entry whose manifest was deleted by a writer that left the
            // tag as it was: such entries are dropped, and the index written again.
            let names_missing = matches!(
                e.registry_code.as_deref(),
                Some("MANIFEST_BLOB_UNKNOWN" | "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN")
            );
            if !names_missing || drop_missing(session, repo, &mut index, digest, &what)? == 0 {
                return Err(e);
            }
            put(session, repo, &tag, &index, &what)?;
        }
        session
            .context()
            .sleep(settle_time(started.elapsed(), writes))?;
    }
    Err(Error::new(
        ErrorKind::Registry,
        format!(
            "{what}: other writers overwrote rr's change {MAX_WRITES} times; the tag \
             does not list {digest} as it should"
        ),
    ))
}

/// Removes the entries of `index` (but `keep`) whose manifests are not in `repo`; how many.
fn drop_missing(
    session: &Session<'_>,
    repo: &Repository,
    index: &mut Value,
    keep: &str,
    what: &str,
) -> Result<usize> {
    let Some(list) = index.get_mut("manifests").and_then(Value::as_array_mut) else {
        return Ok(0);
    };
    let mut missing = HashSet::new();
    for entry in list.iter() {
        let Some(d) = entry.get("digest").and_then(Value::as_str) else {
            continue;
        };
        if d == keep || digest::validate(d).is_err() {
            continue;
        }
        match crate::remote::manifest_fetch::head(session, repo, d) {
            Err(e) if matches!(e.kind, ErrorKind::NotFound) => {
                missing.insert(d.to_string());
            }
            Err(e) => return Err(e.context(what.to_string())),
            Ok(_) => {}
        }
    }
    list.retain(|e| {
        e.get("digest")
            .and_then(Value::as_str)
            .is_none_or(|d| !missing.contains(d))
    });
    for d in &missing {
        session.context().log_line(&format!(
            "{what}: dropped {d}, which is no longer in {repo} (the registry refused the \
             index for it)"
        ));
    }
    Ok(missing.len())
}

/// The index with `digest`'s entry replaced by `entry`, or removed.
fn change(index: &mut Value, digest: &str, entry: Option<&Value>) {
    let object = index
        .as_object_mut()
        .expect("read_index keeps objects only");
    object.insert("schemaVersion".into(), json!(2));
    object.insert("mediaType".into(), json!(OCI_INDEX));
    let manifests = object
        .entry("manifests")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !manifests.is_array() {
        *manifests = Value::Array(Vec::new());
    }
    let list = manifests.as_array_mut().expect("made an array above");
    list.retain(|e| e.get("digest") != Some(&json!(digest)));
    if let Some(entry) = entry {
        list.push(entry.clone());
    }
}

fn put(
    session: &Session<'_>,
    repo: &Repository,
    tag: &str,
    index: &Value,
    what: &str,
) -> Result<()> {
    let bytes = serde_json::to_vec(index)
        .map_err(|e| Error::invalid_argument(format!("{what}: writing the index: {e}")))?;
    let request = session
        .request("PUT", &format!("/v2/{}/manifests/{tag}", repo.path()))?
        .header("Content-Type", OCI_INDEX)
        .body(Body::Bytes(Arc::from(bytes)));
    session
        .send_expect(request, &[200, 201, 202])
        .map_err(|e| e.context(format!("writing {what}")))?
        .drain();
    Ok(())
}

/// How long to wait before reading the tag back: a writer that read it before this write
/// lands its own within about one read-and-write cycle, so two cycles, more after each
/// write lost, with jitter so that writers that keep colliding drift apart.
fn settle_time(cycle: Duration, lost: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let jitter = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let cycle = cycle.max(Duration::from_millis(2));
    let base = cycle * (2 + lost);
    base + cycle.mul_f64((jitter % 1000) as f64 / 1000.0) + Duration::from_millis(2)
}
