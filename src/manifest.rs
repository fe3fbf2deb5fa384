//! Media types, descriptors and the two manifest shapes (image and index).
//! Manifests are always kept as the exact bytes received; the parsed forms here are
//! read-only views used to find configs, layers and children.

use crate::digest;
use crate::error::{Error, Result};
use crate::platform::Platform;
use serde::Deserialize;
use std::collections::BTreeMap;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The empty descriptor's media type (image-spec 1.1): an artifact's config or only layer
/// when it has none of its own.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The empty descriptor's content, `{}`.
pub const OCI_EMPTY_BYTES: &[u8] = b"{}";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Every manifest type, for the one Accept header of GET and HEAD. Schema1 is listed so
/// that registries which only have schema1 answer with it (and `rr_get` can report it)
/// instead of a 404; the image and index openers then refuse it.
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.manifest.v1+json,\
application/vnd.oci.image.index.v1+json,\
application/vnd.docker.distribution.manifest.v2+json,\
application/vnd.docker.distribution.manifest.list.v2+json,\
application/vnd.docker.distribution.manifest.v1+prettyjws,\
application/vnd.docker.distribution.manifest.v1+json";

/// Largest manifest the library reads: the spec asks registries to take at least 4 MB.
pub const MANIFEST_SIZE_LIMIT: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    Index,
    Schema1,
    Unknown,
}

pub fn kind_of_media_type(media_type: &str) -> Kind {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::Image,
        OCI_INDEX | DOCKER_LIST => Kind::Index,
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => Kind::Schema1,
        _ => Kind::Unknown,
    }
}

fn is_generic_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "" | "text/plain" | "application/octet-stream" | "application/json"
    )
}

/// Decides the media type of a manifest: the Content-Type when it is specific, else the
/// JSON's `mediaType`, else its shape (`manifests` → index, `config` + `layers` → image,
/// `fsLayers` → schema1). What cannot be decided stays as the Content-Type given.
pub fn effective_media_type(content_type: Option<&str>, bytes: &[u8]) -> String {
    let content_type = content_type.unwrap_or("").trim();
    if !is_generic_content_type(content_type) {
        return content_type.to_string();
    }
    let json: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return content_type.to_string(),
    };
    if let Some(mt) = json.get("mediaType").and_then(|v| v.as_str()) {
        if !mt.is_empty() {
            return mt.to_string();
        }
    }
    if json.get("manifests").is_some() {
        OCI_INDEX.to_string()
    } else if json.get("config").is_some() && json.get("layers").is_some() {
        OCI_MANIFEST.to_string()
    } else if json.get("fsLayers").is_some() {
        DOCKER_SCHEMA1.to_string()
    } else {
        content_type.to_string()
    }
}

/// A content descriptor as the image-spec defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub platform: Option<Platform>,
    pub urls: Vec<String>,
    pub annotations: BTreeMap<String, String>,
    /// Embedded content (`data`, base64-decoded), verified on use.
    pub data: Option<Vec<u8>>,
    pub artifact_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: i64,
    #[serde(default)]
    platform: Option<serde_json::Value>,
    #[serde(default)]
    urls: Option<Vec<String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
}

impl RawDescriptor {
    fn validate(self, what: &str) -> Result<Descriptor> {
        digest::validate(&self.digest)
            .map_err(|e| Error::invalid_response(format!("{what}: {}", e.message)))?;
        if self.size < 0 {
            return Err(Error::invalid_response(format!(
                "{what}: descriptor {} has a negative size",
                self.digest
            )));
        }
        let data = match self.data {
            None => None,
            Some(b64) => {
                use base64::Engine as _;
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.as_bytes())
                        .map_err(|_| {
                            Error::invalid_response(format!(
                                "{what}: descriptor {} has data that is not base64",
                                self.digest
                            ))
                        })?,
                )
            }
        };
        Ok(Descriptor {
            media_type: self.media_type,
            digest: self.digest,
            size: self.size as u64,
            platform: self.platform.as_ref().and_then(Platform::from_json),
            urls: self.urls.unwrap_or_default(),
            annotations: self.annotations.unwrap_or_default(),
            data,
            artifact_type: self.artifact_type,
        })
    }
}

impl Descriptor {
    /// A descriptor from its JSON (an entry of an index, a referrers answer), checked as
    /// every descriptor of a manifest is; a failure is `InvalidResponse` naming `what`.
    pub fn from_json(value: &serde_json::Value, what: &str) -> Result<Descriptor> {
        RawDescriptor::deserialize(value)
            .map_err(|e| Error::invalid_response(format!("{what}: not a descriptor: {e}")))?
            .validate(what)
    }

    /// A blob known by its digest and size alone: one read or pushed on its own, outside
    /// any manifest, has no media type.
    pub fn of_blob(digest: &str, size: u64) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: digest.to_string(),
            size,
            platform: None,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: None,
            artifact_type: None,
        }
    }

    /// Checks embedded `data` against the descriptor's digest and size.
    pub fn verified_data(&self) -> Result<Option<&[u8]>> {
        match &self.data {
            None => Ok(None),
            Some(data) => {
                let got = digest::of_bytes(data);
                if got != self.digest || data.len() as u64 != self.size {
                    return Err(Error::digest_mismatch(format!(
                        "embedded data of {} hashes to {got} ({} bytes, {} expected)",
                        self.digest,
                        data.len(),
                        self.size
                    )));
                }
                Ok(Some(data))
            }
        }
    }
}

/// The parts of an OCI image manifest or Docker schema2 manifest that the library uses
/// or reports (hosts read them through getters instead of parsing the JSON themselves).
#[derive(Debug, Clone)]
pub struct ImageManifest {
    /// The manifest's own `mediaType` field, when it has one.
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub annotations: BTreeMap<String, String>,
    /// `artifactType` (image-spec 1.1), when the manifest describes an artifact.
    pub artifact_type: Option<String>,
    /// `subject` (image-spec 1.1): the manifest this one refers to, for referrers.
    pub subject: Option<Descriptor>,
}

/// The parts of an OCI index or Docker manifest list that the library uses or reports.
#[derive(Debug, Clone)]
pub struct IndexManifest {
    /// The index's own `mediaType` field, when it has one.
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    pub annotations: BTreeMap<String, String>,
    pub artifact_type: Option<String>,
    /// `subject` (image-spec 1.1): an index may refer to a manifest too.
    pub subject: Option<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawImageManifest {
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<serde_json::Value>,
    config: RawDescriptor,
    #[serde(default)]
    layers: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    annotations: Option<serde_json::Value>,
    #[serde(default)]
    artifact_type: Option<serde_json::Value>,
    #[serde(default)]
    subject: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIndexManifest {
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<serde_json::Value>,
    #[serde(default)]
    manifests: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    annotations: Option<serde_json::Value>,
    #[serde(default)]
    artifact_type: Option<serde_json::Value>,
    #[serde(default)]
    subject: Option<serde_json::Value>,
}

/// The manifest-level `annotations`: only string values are kept. These fields were
/// ignored before they were reported, so a manifest with a stray non-string value must
/// still open rather than fail.
fn string_map(value: Option<serde_json::Value>) -> BTreeMap<String, String> {
    match value {
        Some(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(v) => Some((k, v)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A manifest-level string field, kept only when it is a non-empty string (as above).
fn string_field(value: Option<serde_json::Value>) -> Option<String> {
    match value {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn check_schema_version(v: Option<i64>, what: &str) -> Result<()> {
    match v {
        Some(2) => Ok(()),
        Some(1) => Err(Error::unsupported(format!(
            "{what} is a schema1 manifest, which is not supported"
        ))),
        other => Err(Error::invalid_response(format!(
            "{what}: schemaVersion is {other:?}, expected 2"
        ))),
    }
}

impl ImageManifest {
    pub fn parse(bytes: &[u8], what: &str) -> Result<ImageManifest> {
        let raw: RawImageManifest = serde_json::from_slice(bytes).map_err(|e| {
            Error::invalid_response(format!("{what}: not a valid image manifest: {e}"))
        })?;
        check_schema_version(raw.schema_version, what)?;
        let config = raw.config.validate(what)?;
        let layers = raw
            .layers
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.validate(what))
            .collect::<Result<Vec<_>>>()?;
        let subject = lenient_subject(raw.subject, what);
        Ok(ImageManifest {
            media_type: string_field(raw.media_type),
            config,
            layers,
            annotations: string_map(raw.annotations),
            artifact_type: string_field(raw.artifact_type),
            subject,
        })
    }
}

impl IndexManifest {
    pub fn parse(bytes: &[u8], what: &str) -> Result<IndexManifest> {
        let raw: RawIndexManifest = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid_response(format!("{what}: not a valid index: {e}")))?;
        check_schema_version(raw.schema_version, what)?;
        let manifests = raw
            .manifests
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.validate(what))
            .collect::<Result<Vec<_>>>()?;
        Ok(IndexManifest {
            media_type: string_field(raw.media_type),
            manifests,
            annotations: string_map(raw.annotations),
            artifact_type: string_field(raw.artifact_type),
            subject: lenient_subject(raw.subject, what),
        })
    }
}

/// Ignored before it was reported, like the fields above: a malformed subject is dropped
/// rather than making the manifest unreadable.
fn lenient_subject(value: Option<serde_json::Value>, what: &str) -> Option<Descriptor> {
    value
        .and_then(|v| serde_json::from_value::<RawDescriptor>(v).ok())
        .and_then(|d| d.validate(what).ok())
}

/// The `subject` of manifest bytes of an image or index media type, if they name one.
pub fn subject_of(media_type: &str, bytes: &[u8]) -> Option<Descriptor> {
    match kind_of_media_type(media_type) {
        Kind::Image => ImageManifest::parse(bytes, "the manifest").ok()?.subject,
        Kind::Index => IndexManifest::parse(bytes, "the manifest").ok()?.subject,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_content_type_wins_over_the_body() {
        assert_eq!(
            effective_media_type(Some(DOCKER_MANIFEST), br#"{"mediaType":"x"}"#),
            DOCKER_MANIFEST
        );
    }

    #[test]
    fn generic_content_type_falls_back_to_media_type_then_shape() {
        assert_eq!(
            effective_media_type(Some("application/json"), br#"{"mediaType":"m/t"}"#),
            "m/t"
        );
        assert_eq!(
            effective_media_type(Some("text/plain; charset=utf-8"), br#"{"manifests":[]}"#),
            OCI_INDEX
        );
        assert_eq!(
            effective_media_type(None, br#"{"config":{},"layers":[]}"#),
            OCI_MANIFEST
        );
        assert_eq!(
            effective_media_type(Some(""), br#"{"fsLayers":[]}"#),
            DOCKER_SCHEMA1
        );
        assert_eq!(effective_media_type(None, b"not json"), "");
    }

    #[test]
    fn image_manifest_parses_and_validates_digests() {
        let cfg = digest::of_bytes(b"{}");
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","digest":"{cfg}","size":2}},"layers":[{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{cfg}","size":2,"data":"e30="}}]}}"#
        );
        let parsed = ImageManifest::parse(m.as_bytes(), "test").unwrap();
        assert_eq!(parsed.config.digest, cfg);
        assert_eq!(parsed.layers.len(), 1);
        assert_eq!(parsed.layers[0].verified_data().unwrap(), Some(&b"{}"[..]));
        let bad = m.replace(&cfg[10..], &cfg[10..].to_uppercase());
        assert_eq!(
            ImageManifest::parse(bad.as_bytes(), "t").unwrap_err().kind,
            crate::ErrorKind::InvalidResponse
        );
    }

    #[test]
    fn schema1_is_unsupported_and_garbage_is_invalid() {
        let e = ImageManifest::parse(
            br#"{"schemaVersion":1,"config":{"digest":"sha256:00","size":1}}"#,
            "t",
        );
        assert!(e.is_err());
        let e = IndexManifest::parse(br#"{"schemaVersion":1}"#, "t").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Unsupported);
        let e = IndexManifest::parse(b"[", "t").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidResponse);
    }

    #[test]
    fn manifest_level_annotations_artifact_type_and_media_type_are_kept() {
        let cfg = digest::of_bytes(b"{}");
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/vnd.example.sbom","config":{{"mediaType":"{OCI_CONFIG}","digest":"{cfg}","size":2}},"layers":[{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{cfg}","size":2,"artifactType":"application/vnd.example.part","annotations":{{"k":"v"}}}}],"annotations":{{"b":"2","a":"1","n":3}}}}"#
        );
        let parsed = ImageManifest::parse(m.as_bytes(), "t").unwrap();
        assert_eq!(parsed.media_type.as_deref(), Some(OCI_MANIFEST));
        assert_eq!(
            parsed.artifact_type.as_deref(),
            Some("application/vnd.example.sbom")
        );
        // Non-string values are dropped rather than failing the manifest.
        let keys: Vec<_> = parsed.annotations.iter().collect();
        assert_eq!(
            keys,
            vec![
                (&"a".to_string(), &"1".to_string()),
                (&"b".into(), &"2".into())
            ]
        );
        assert_eq!(
            parsed.layers[0].artifact_type.as_deref(),
            Some("application/vnd.example.part")
        );
        assert_eq!(parsed.layers[0].annotations["k"], "v");
        assert_eq!(parsed.subject, None);
        let with_subject = m.replacen(
            r#""config""#,
            &format!(
                r#""subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{cfg}","size":9}},"config""#
            ),
            1,
        );
        let parsed = ImageManifest::parse(with_subject.as_bytes(), "t").unwrap();
        let subject = parsed.subject.unwrap();
        assert_eq!(
            (
                subject.media_type.as_str(),
                subject.digest.as_str(),
                subject.size
            ),
            (OCI_MANIFEST, cfg.as_str(), 9)
        );
        let bad_subject = m.replacen(
            r#""config""#,
            r#""subject":{"digest":"x","size":1},"config""#,
            1,
        );
        let parsed = ImageManifest::parse(bad_subject.as_bytes(), "t").unwrap();
        assert_eq!(parsed.subject, None, "a malformed subject is dropped");

        let idx = format!(
            r#"{{"schemaVersion":2,"artifactType":5,"annotations":"x","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{cfg}","size":7,"platform":{{"os":"windows","architecture":"amd64","os.version":"10.0.1","os.features":["win32k"]}}}}]}}"#
        );
        let parsed = IndexManifest::parse(idx.as_bytes(), "t").unwrap();
        assert_eq!(parsed.media_type, None);
        assert_eq!(parsed.artifact_type, None);
        assert!(parsed.annotations.is_empty());
        let p = parsed.manifests[0].platform.as_ref().unwrap();
        assert_eq!(p.os_features, vec!["win32k".to_string()]);
        assert_eq!(parsed.manifests[0].size, 7);
    }
}
