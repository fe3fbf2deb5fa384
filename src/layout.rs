//! OCI image layout directories (`oci-layout`, `index.json`, `blobs/sha256/...`) as
//! skopeo, crane and umoci write them: reading an image or index out of one, and writing
//! one in with every blob verified and every file appearing whole or not at all.

use crate::error::{Error, ErrorKind, Result};
use crate::image::{save_atomically, Image};
use crate::index::Index;
use crate::manifest::{self, Kind, MANIFEST_SIZE_LIMIT};
use crate::parallel;
use crate::plan::{Artifact, Plan};
use crate::platform::Platform;
use crate::remote::client::Client;
use crate::remote::progress::{BlobMark, Phase};
use crate::remote::ranged;
use crate::source::{layout_blob_path, open_file, BlobSource, SourceContexts};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The annotation that names an entry of `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const LAYOUT_FILE: &str = "oci-layout";
const INDEX_FILE: &str = "index.json";

fn read_file_limited(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let file = open_file(path, what)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("{what}: reading {}", path.display()), &e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::invalid_argument(format!(
            "{what}: {} is over the {limit}-byte limit",
            path.display()
        )));
    }
    Ok(bytes)
}

fn check_layout(dir: &Path) -> Result<()> {
    let marker = dir.join(LAYOUT_FILE);
    // A missing directory is a local path error like any other (RR_ERR_IO); NOT_FOUND is
    // kept for what a registry or an index does not have.
    if !dir.is_dir() {
        let why = if dir.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(Error::new(
            ErrorKind::Io,
            format!("OCI layout {} {why}", dir.display()),
        ));
    }
    let bytes = read_file_limited(&marker, 64 * 1024, "OCI layout").map_err(|_| {
        Error::invalid_argument(format!(
            "{} is not an OCI image layout: it has no readable {LAYOUT_FILE} file",
            dir.display()
        ))
    })?;
    let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::invalid_argument(format!("{}: {LAYOUT_FILE} is not JSON: {e}", dir.display()))
    })?;
    match parsed.get("imageLayoutVersion").and_then(Value::as_str) {
        Some(v) if v.starts_with("1.") => Ok(()),
        other => Err(Error::unsupported(format!(
            "{}: unsupported imageLayoutVersion {other:?} (1.x is supported)",
            dir.display()
        ))),
    }
}

/// The layout's `index.json` as an index; its digest is the sha256 of the file.
pub fn read_index(dir: &Path) -> Result<Index> {
    check_layout(dir)?;
    let bytes = read_file_limited(&dir.join(INDEX_FILE), MANIFEST_SIZE_LIMIT, "OCI layout")?;
    let media_type = manifest::effective_media_type(Some(manifest::OCI_INDEX), &bytes);
    let digest = crate::digest::of_bytes(&bytes);
    let source = BlobSource::Layout {
        dir: Arc::new(dir.to_path_buf()),
    };
    Index::new(source, bytes, media_type, digest)
        .map_err(|e| e.context(format!("{}/{INDEX_FILE}", dir.display())))
}

/// The image named `name` (its `org.opencontainers.image.ref.name`), or the only manifest
/// when `name` is None. An entry that is an index resolves to its linux/amd64 image.
pub fn read_image(dir: &Path, name: Option<&str>) -> Result<Image> {
    let index = read_index(dir)?;
    let children = index.children();
    let position = match name {
        Some(name) => children
            .iter()
            .position(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(name))
            .ok_or_else(|| {
                let names: Vec<&str> = children
                    .iter()
                    .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
                    .collect();
                Error::not_found(format!(
                    "layout {} has no manifest named {name:?} (names: {})",
                    dir.display(),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
            })?,
        None => match children.len() {
            0 => {
                return Err(Error::not_found(format!(
                    "layout {} holds no manifest",
                    dir.display()
                )))
            }
            1 => 0,
            n => {
                return Err(Error::invalid_argument(format!(
                    "layout {} holds {n} manifests; give the name of one",
                    dir.display()
                )))
            }
        },
    };
    let desc = &children[position];
    match manifest::kind_of_media_type(&desc.media_type) {
        Kind::Index => index
            .child_index(position)?
            .image_for_platform(&Platform::linux_amd64()),
        _ => index.child_image(position),
    }
}

/// Writes `img` (or its index) into the layout at `dir`, creating the layout when needed,
/// and records it in `index.json`, under `name` when given (replacing that name's entry).
pub fn write_image(client: &Client, dir: &Path, img: &Image, name: Option<&str>) -> Result<()> {
    write(client, dir, Artifact::Image(img), name)
}

pub fn write_index(client: &Client, dir: &Path, idx: &Index, name: Option<&str>) -> Result<()> {
    write(client, dir, Artifact::Index(idx), name)
}

fn create_layout(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir.join("blobs").join("sha256"))
        .map_err(|e| Error::io(format!("creating OCI layout {}", dir.display()), &e))?;
    let marker = dir.join(LAYOUT_FILE);
    if !marker.exists() {
        save_atomically(&marker, |f| {
            f.write_all(br#"{"imageLayoutVersion":"1.0.0"}"#)
                .map_err(|e| Error::io(format!("writing {}", marker.display()), &e))
        })?;
    }
    check_layout(dir)
}

fn write(client: &Client, dir: &Path, artifact: Artifact<'_>, name: Option<&str>) -> Result<()> {
    if let Some(name) = name {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(Error::invalid_argument(format!(
                "layout name {name:?} is empty or has control characters"
            )));
        }
    }
    create_layout(dir)?;
    let op = client.operation()?;
    let contexts = Arc::new(SourceContexts::new(&op));
    let plan = Plan::new(artifact, &contexts)?;
    op.progress.add_total(plan.total());
    op.progress.announce();
    op.progress.plan(
        plan.blobs
            .iter()
            .map(|b| (b.desc.digest.as_str(), b.desc.size)),
    );

    let order = plan.transfer_order();
    parallel::for_each(op.jobs, &order, &op.ctx.cancelled, |planned| {
        let desc = &planned.desc;
        let path = layout_blob_path(dir, &desc.digest)?;
        let mark = BlobMark::new(&desc.digest, desc.size);
        if present(&path, desc.size) {
            op.progress.settle(&mark, Phase::Exists);
            return Ok(());
        }
        op.ctx.check_cancelled()?;
        // A read that failed on a mirror leaves no file, and is made again from the next
        // source; the mark keeps progress from counting twice.
        planned.source.retrying_mirrors(&desc.digest, || {
            op.progress.phase(&mark, Phase::Downloading);
            save_atomically(&path, |file| {
                if op.blob_connections > 1 {
                    if let Some((ctx, repository)) =
                        planned.source.ranged_origin(desc, &contexts)?
                    {
                        let progress = &mut |done: u64| {
                            op.progress.reach(&mark, done);
                            if done == desc.size {
                                op.progress.phase(&mark, Phase::Verifying);
                            }
                        };
                        return ranged::fetch_to_file(
                            &ctx,
                            &repository,
                            desc,
                            op.blob_connections,
                            file,
                            progress,
                        );
                    }
                }
                let mut done = 0u64;
                let sink = &mut |chunk: &[u8]| {
                    file.write_all(chunk)
                        .map_err(|e| Error::io(format!("writing {}", path.display()), &e))?;
                    done += chunk.len() as u64;
                    op.progress.reach(&mark, done);
                    if done == desc.size {
                        op.progress.phase(&mark, Phase::Verifying);
                    }
                    Ok(())
                };
                planned
                    .source
                    .pump_blob(desc, &contexts, Some(&op.ctx), sink)
            })
        })?;
        op.progress.settle(&mark, Phase::Done);
        Ok(())
    })?;

    for m in &plan.manifests {
        op.ctx.check_cancelled()?;
        let path = layout_blob_path(dir, &m.digest)?;
        if !present(&path, m.bytes.len() as u64) {
            save_atomically(&path, |f| {
                f.write_all(&m.bytes)
                    .map_err(|e| Error::io(format!("writing {}", path.display()), &e))
            })?;
        }
    }
    op.ctx.check_cancelled()?;
    let root = plan.manifests.last().expect("the artifact itself");
    add_to_index(dir, &root.digest, &root.media_type, root.bytes.len(), name)
}

fn present(path: &PathBuf, size: u64) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == size)
}

/// Adds (or, for a name already there, replaces) an entry of `index.json`, keeping every
/// other entry and field as it was.
fn add_to_index(
    dir: &Path,
    digest: &str,
    media_type: &str,
    size: usize,
    name: Option<&str>,
) -> Result<()> {
    let path = dir.join(INDEX_FILE);
    let _lock = IndexLock::acquire(dir)?;
    let mut index: Value = if path.exists() {
        let bytes = read_file_limited(&path, MANIFEST_SIZE_LIMIT, "OCI layout")?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid_argument(format!("{} is not JSON: {e}", path.display())))?
    } else {
        json!({"schemaVersion": 2, "mediaType": manifest::OCI_INDEX, "manifests": []})
    };
    let Some(object) = index.as_object_mut() else {
        return Err(Error::invalid_argument(format!(
            "{} is not a JSON object",
            path.display()
        )));
    };
    let manifests = object
        .entry("manifests")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(entries) = manifests.as_array_mut() else {
        return Err(Error::invalid_argument(format!(
            "{}: \"manifests\" is not an array",
            path.display()
        )));
    };
    let name_of = |e: &Value| {
        e.get("annotations")
            .and_then(|a| a.get(REF_NAME))
            .and_then(Value::as_str)
            .map(String::from)
    };
    match name {
        Some(name) => entries.retain(|e| name_of(e).as_deref() != Some(name)),
        None => {
            let already = entries.iter().any(|e| {
                name_of(e).is_none() && e.get("digest").and_then(Value::as_str) == Some(digest)
            });
            if already {
                return Ok(());
            }
        }
    }
    let mut entry = json!({"mediaType": media_type, "digest": digest, "size": size});
    if let Some(name) = name {
        entry["annotations"] = json!({ REF_NAME: name });
    }
    entries.push(entry);
    let bytes = serde_json::to_vec(&index)
        .map_err(|e| Error::invalid_argument(format!("encoding index.json: {e}")))?;
    save_atomically(&path, |f| {
        f.write_all(&bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), &e))
    })
}

/// An exclusive lock on a layout's `index.json` updates, so that two writers (threads or
/// processes) do not lose each other's entries. The lock is taken on the layout directory
/// itself, which leaves no lock file behind.
struct IndexLock {
    _dir: std::fs::File,
}

impl IndexLock {
    fn acquire(dir: &Path) -> Result<IndexLock> {
        let handle = std::fs::File::open(dir)
            .map_err(|e| Error::io(format!("locking {}", dir.display()), &e))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a descriptor this function owns; released when it closes.
            let rc = unsafe { libc::flock(handle.as_raw_fd(), libc::LOCK_EX) };
            if rc != 0 {
                let e = std::io::Error::last_os_error();
                return Err(Error::io(format!("locking {}", dir.display()), &e));
            }
        }
        Ok(IndexLock { _dir: handle })
    }
}
