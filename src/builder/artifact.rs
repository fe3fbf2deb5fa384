//! The artifact builder: files of any media type in, an OCI 1.1 artifact out (an image
//! manifest with `artifactType`, following image-spec's "Guidelines for Artifact Usage").

use super::to_json;
use crate::digest::{self, Hasher};
use crate::error::{Error, Result};
use crate::image::{Image, CONFIG_SIZE_LIMIT};
use crate::manifest::{OCI_EMPTY, OCI_EMPTY_BYTES, OCI_MANIFEST};
use crate::source::{BlobSource, LocalBlob, LocalStore};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The annotation the spec names for a blob's file name; tools that pull artifacts (oras)
/// restore files under it.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// A file added to an artifact builder, hashed when it was added.
#[derive(Debug, Clone)]
struct ArtifactFile {
    path: PathBuf,
    media_type: String,
    title: String,
    size: u64,
    digest: String,
}

/// A descriptor given as its three required fields.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Subject {
    media_type: String,
    digest: String,
    size: u64,
}

/// Builds one OCI artifact. Not shared between threads; it stays usable after `build`,
/// which may be called again.
#[derive(Debug, Clone)]
pub struct ArtifactBuilder {
    artifact_type: String,
    config: Option<(String, Arc<[u8]>)>,
    files: Vec<ArtifactFile>,
    annotations: BTreeMap<String, String>,
    subject: Option<Subject>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactManifestJson<'a> {
    schema_version: u32,
    media_type: &'a str,
    artifact_type: &'a str,
    config: BlobJson<'a>,
    layers: Vec<BlobJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<BlobJson<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BlobJson<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<&'a str, &'a str>>,
}

impl<'a> BlobJson<'a> {
    fn plain(media_type: &'a str, digest: &'a str, size: u64) -> BlobJson<'a> {
        BlobJson {
            media_type,
            digest,
            size,
            annotations: None,
        }
    }
}

/// Checks `value` is a media type in RFC 6838 form, `type/subtype`, each a restricted name
/// (a letter or digit, then up to 126 of letters, digits and `!#$&-^_.+`; a `+suffix` is
/// part of the subtype). Parameters are refused: the spec's fields take none.
pub fn validate_media_type(value: &str, what: &str) -> Result<()> {
    fn restricted_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.len() <= 127
            && chars.all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    }
    match value.split_once('/') {
        Some((t, sub)) if restricted_name(t) && restricted_name(sub) => Ok(()),
        _ => Err(Error::invalid_argument(format!(
            "{what} {value:?} is not a media type of the form type/subtype (RFC 6838)"
        ))),
    }
}

impl ArtifactBuilder {
    /// Starts an artifact of `artifact_type` (required by the spec when the config is
    /// empty, and kept with a config too so that readers need not look into it).
    pub fn new(artifact_type: &str) -> Result<ArtifactBuilder> {
        validate_media_type(artifact_type, "artifact type")?;
        Ok(ArtifactBuilder {
            artifact_type: artifact_type.to_string(),
            config: None,
            files: Vec::new(),
            annotations: BTreeMap::new(),
            subject: None,
        })
    }

    /// Sets a config blob of its own media type in place of the empty one. The bytes are
    /// stored as they are: an artifact's config need not be JSON.
    pub fn set_config(&mut self, media_type: &str, bytes: &[u8]) -> Result<()> {
        validate_media_type(media_type, "config media type")?;
        if bytes.len() as u64 > CONFIG_SIZE_LIMIT {
            return Err(Error::invalid_argument(format!(
                "the artifact config is {} bytes, more than the {CONFIG_SIZE_LIMIT} allowed",
                bytes.len()
            )));
        }
        self.config = Some((media_type.to_string(), Arc::from(bytes)));
        Ok(())
    }

    /// Adds the file at `path` as the next blob, titled with its base name. The file is
    /// read once, now, for its digest and size: a missing or unreadable file is
    /// `ErrorKind::Io`; a bad media type, or a path without a file name, is
    /// `ErrorKind::InvalidArgument`.
    pub fn add_file(&mut self, path: &Path, media_type: &str) -> Result<()> {
        validate_media_type(media_type, "media type")?;
        let title = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::invalid_argument(format!("{} names no file", path.display())))?;
        // Kept absolute, so that a later change of the working directory does not matter.
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let what = format!("artifact file {}", path.display());
        // A missing file is an I/O failure here, as it is for an image builder's layers.
        let mut file =
            std::fs::File::open(&path).map_err(|e| Error::io(format!("opening {what}"), &e))?;
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(format!("reading {what}"), &e)),
            }
        }
        let size = hasher.len();
        self.files.push(ArtifactFile {
            path,
            media_type: media_type.to_string(),
            title,
            size,
            digest: hasher.finish(),
        });
        Ok(())
    }

    /// Sets a manifest annotation (replacing an earlier value of the same key).
    pub fn add_annotation(&mut self, key: &str, value: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::invalid_argument(
                "an annotation key must not be empty",
            ));
        }
        self.annotations.insert(key.to_string(), value.to_string());
        Ok(())
    }

    /// Sets the `subject`: the manifest this artifact refers to. To name it by reference,
    /// HEAD it first (`remote::head`) and pass what that returns.
    pub fn set_subject(&mut self, media_type: &str, digest: &str, size: u64) -> Result<()> {
        validate_media_type(media_type, "subject media type")?;
        digest::validate(digest)
            .map_err(|e| Error::invalid_argument(format!("subject digest: {}", e.message)))?;
        self.subject = Some(Subject {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
        });
        Ok(())
    }

    /// Makes the artifact: an OCI image manifest whose config is the given one or the
    /// empty descriptor, and whose layers are the files in the order added, or the empty
    /// descriptor alone when there are none (the spec's guidance for an artifact without
    /// blobs, since some registries refuse an empty `layers`).
    pub fn build(&self) -> Result<Image> {
        let empty_digest = digest::of_bytes(OCI_EMPTY_BYTES);
        let (config_type, config_bytes): (&str, Arc<[u8]>) = match &self.config {
            Some((mt, bytes)) => (mt, bytes.clone()),
            None => (OCI_EMPTY, Arc::from(OCI_EMPTY_BYTES)),
        };
        let config_digest = digest::of_bytes(&config_bytes);
        let layers = if self.files.is_empty() {
            vec![BlobJson::plain(
                OCI_EMPTY,
                &empty_digest,
                OCI_EMPTY_BYTES.len() as u64,
            )]
        } else {
            self.files
                .iter()
                .map(|f| BlobJson {
                    annotations: Some(BTreeMap::from([(TITLE_ANNOTATION, f.title.as_str())])),
                    ..BlobJson::plain(&f.media_type, &f.digest, f.size)
                })
                .collect()
        };
        let manifest = ArtifactManifestJson {
            schema_version: 2,
            media_type: OCI_MANIFEST,
            artifact_type: &self.artifact_type,
            config: BlobJson::plain(config_type, &config_digest, config_bytes.len() as u64),
            layers,
            subject: self
                .subject
                .as_ref()
                .map(|s| BlobJson::plain(&s.media_type, &s.digest, s.size)),
            annotations: &self.annotations,
        };
        let manifest_bytes = to_json(&manifest, "the artifact manifest")?;
        let manifest_digest = digest::of_bytes(&manifest_bytes);

        let mut blobs = HashMap::new();
        if self.files.is_empty() {
            blobs.insert(empty_digest, LocalBlob::Bytes(Arc::from(OCI_EMPTY_BYTES)));
        }
        for f in &self.files {
            blobs.insert(f.digest.clone(), LocalBlob::File(f.path.clone()));
        }
        blobs.insert(config_digest, LocalBlob::Bytes(config_bytes.clone()));
        let store = LocalStore {
            blobs,
            ..LocalStore::default()
        };
        Ok(Image::new(
            BlobSource::Local(Arc::new(store)),
            manifest_bytes,
            OCI_MANIFEST.to_string(),
            manifest_digest,
        )?
        .with_config(config_bytes.to_vec()))
    }
}
