//! Saving an artifact's files: each layer that has a title annotation
//! (`org.opencontainers.image.title`, as oras writes it) becomes a file of that name in a
//! directory, verified against its digest.
//!
//! A title comes from whoever pushed the artifact, so it is taken as a bare file name
//! only: one with a `/` or `\`, `.` or `..`, a NUL, or nothing at all is refused before
//! anything is written, since that is how an artifact would reach outside the directory.
//! Every file is first written in full beside its final name and renamed only once all of
//! them are verified: a failed pull leaves the directory as it was.

use crate::builder::TITLE_ANNOTATION;
use crate::error::{Error, Result};
use crate::image::{stream_blob_in, Image};
use crate::manifest::Descriptor;
use std::collections::HashSet;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tempfile::NamedTempFile;

/// A file saved from an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFile {
    pub title: String,
    pub path: PathBuf,
    pub digest: String,
    pub size: u64,
}

/// What `save_files` did.
#[derive(Debug, Clone, Default)]
pub struct Saved {
    pub files: Vec<SavedFile>,
    /// Layers without a title, which have no file name and were not saved.
    pub untitled: usize,
}

/// Checks that `title` may be used as a file name in the directory an artifact is saved
/// into; the reason when it may not.
pub fn check_title(title: &str) -> std::result::Result<(), &'static str> {
    if title.is_empty() {
        Err("it is empty")
    } else if title == "." || title == ".." {
        Err("it names a directory")
    } else if title.contains('/') || title.contains('\\') {
        Err("it contains a path separator")
    } else if title.contains('\0') {
        Err("it contains a NUL")
    } else {
        Ok(())
    }
}

/// Saves the titled layers of `image` into `dir` (created when missing), each under its
/// title, verified; files of those names are replaced. Nothing is written when a title is
/// refused (RR_ERR_INVALID_RESPONSE) or two layers share one, and nothing is left behind
/// when a read fails.
pub fn save_files(image: &Image, dir: &Path) -> Result<Saved> {
    let mut titled: Vec<(&Descriptor, &str)> = Vec::new();
    let mut names = HashSet::new();
    let mut untitled = 0;
    for layer in image.layers() {
        let Some(title) = layer.annotations.get(TITLE_ANNOTATION) else {
            untitled += 1;
            continue;
        };
        check_title(title).map_err(|why| {
            Error::invalid_response(format!(
                "artifact {}: the title {title:?} of layer {} is refused as a file name: {why}",
                image.digest(),
                layer.digest
            ))
        })?;
        if !names.insert(title.as_str()) {
            return Err(Error::invalid_response(format!(
                "artifact {}: two layers have the title {title:?}",
                image.digest()
            )));
        }
        titled.push((layer, title));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), &e))?;

    let (contexts, op) = image.source().own_contexts()?;
    let written: Mutex<Vec<Option<NamedTempFile>>> =
        Mutex::new((0..titled.len()).map(|_| None).collect());
    let numbered: Vec<(usize, &(&Descriptor, &str))> = titled.iter().enumerate().collect();
    let items = crate::parallel::largest_first(&numbered, |(_, (layer, _))| layer.size);
    let jobs = op.as_ref().map_or(1, |o| o.jobs);
    let stop = Arc::new(AtomicBool::new(false));
    crate::parallel::for_each(jobs, &items, &stop, |(i, (layer, _))| {
        let mut tmp = tempfile::Builder::new()
            .prefix(".rr-artifact.")
            .suffix(".rr-tmp")
            .tempfile_in(dir)
            .map_err(|e| {
                Error::io(
                    format!("creating a temporary file in {}", dir.display()),
                    &e,
                )
            })?;
        let shown = tmp.path().display().to_string();
        let file = std::cell::RefCell::new(tmp.as_file_mut());
        let mut start_over = || {
            let mut f = file.borrow_mut();
            f.set_len(0)
                .and_then(|()| f.rewind())
                .map_err(|e| Error::io(format!("rewinding {shown}"), &e))
        };
        stream_blob_in(
            image.source(),
            layer,
            &contexts,
            op.as_ref(),
            Some(&mut start_over),
            &mut |chunk| {
                file.borrow_mut()
                    .write_all(chunk)
                    .map_err(|e| Error::io(format!("writing {shown}"), &e))
            },
        )?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(format!("flushing {shown}"), &e))?;
        crate::transport::cache::lock(&written)[*i] = Some(tmp);
        Ok(())
    })?;

    let written = written.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut files = Vec::with_capacity(titled.len());
    for ((layer, title), tmp) in titled.iter().zip(written) {
        let tmp = tmp.expect("every layer was written");
        let path = dir.join(title);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644));
        }
        tmp.persist(&path)
            .map_err(|e| Error::io(format!("renaming into {}", path.display()), &e.error))?;
        files.push(SavedFile {
            title: title.to_string(),
            path,
            digest: layer.digest.clone(),
            size: layer.size,
        });
    }
    Ok(Saved { files, untitled })
}

#[cfg(test)]
mod tests {
    use super::check_title;

    #[test]
    fn titles_are_bare_file_names() {
        for good in ["sbom.json", "a b", ".hidden", "..x", "ü.txt"] {
            assert_eq!(check_title(good), Ok(()), "{good}");
        }
        for bad in ["", ".", "..", "../../x", "/etc/x", "a/b", "a\\b", "x\0y"] {
            assert!(check_title(bad).is_err(), "{bad:?}");
        }
    }
}
