//! Building images and indexes from local material: layer files (tar, tar+gzip or
//! tar+zstd, stored exactly as given), a base config, a platform; OCI 1.1 artifacts from
//! files of any media type; and indexes from images.
//!
//! Each layer file is read once, when it is added, in one streaming pass that checks it is
//! what its media type says and computes its size, its digest (sha256 of the file) and its
//! diff_id (sha256 of the uncompressed tar stream). The built image reads the files again
//! when its layers are pushed or saved, through a verifying reader: a file changed in the
//! meantime gives a digest mismatch rather than a wrong image.
//!
//! Builds are reproducible: nothing depends on the clock. Times come from the base config,
//! else `SOURCE_DATE_EPOCH`, else the Unix epoch.

mod artifact;
mod image;
mod index;
mod layer_file;
#[cfg(test)]
mod tests;

pub use artifact::{validate_media_type, ArtifactBuilder, TITLE_ANNOTATION};
pub use image::ImageBuilder;
pub use index::IndexBuilder;

use crate::error::{Error, Result};
use crate::image::Image;
use crate::platform::Platform;
use serde::Serialize;
use serde_json::{Map, Value};

// JSON written by the builders; structs so that the field order is fixed.

/// The time written when neither the base config nor `SOURCE_DATE_EPOCH` gives one.
pub(super) const EPOCH: &str = "1970-01-01T00:00:00Z";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ManifestJson<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: DescriptorJson<'a>,
    layers: Vec<DescriptorJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescriptorJson<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IndexJson<'a> {
    schema_version: u32,
    media_type: &'a str,
    manifests: Vec<IndexEntryJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IndexEntryJson<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
    platform: PlatformJson<'a>,
}

#[derive(Serialize)]
pub(super) struct PlatformJson<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    os_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
}

pub(super) fn to_json<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| Error::invalid_argument(format!("cannot serialise {what}: {e}")))
}

pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Writes `p` into a config: `os`, `architecture`, and `variant` / `os.version` when the
/// platform has them (removed otherwise, so that they cannot contradict it).
pub(super) fn set_platform_fields(config: &mut Map<String, Value>, p: &Platform) {
    config.insert("architecture".into(), Value::from(p.architecture.as_str()));
    config.insert("os".into(), Value::from(p.os.as_str()));
    for (key, value) in [("variant", &p.variant), ("os.version", &p.os_version)] {
        match value.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => {
                config.insert(key.into(), Value::from(v));
            }
            None => {
                config.remove(key);
            }
        }
    }
}

/// RFC 3339 for `SOURCE_DATE_EPOCH` (seconds since the epoch) when it is a valid time,
/// else the epoch itself.
pub(super) fn default_created(source_date_epoch: Option<&str>) -> String {
    source_date_epoch
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| EPOCH.to_string())
}

/// The platform an image's config declares (os and architecture required).
pub(super) fn platform_of_config(image: &Image) -> Result<Platform> {
    let config = image.config()?;
    let no_platform = |why: &str| {
        Error::invalid_argument(format!(
            "image {} has no platform: its config {why}; give one",
            image.digest()
        ))
    };
    let value: Value =
        serde_json::from_slice(config).map_err(|_| no_platform("is not valid JSON"))?;
    let platform = Platform::from_json(&value)
        .filter(|p| !p.os.is_empty() && !p.architecture.is_empty())
        .ok_or_else(|| no_platform("names no os and architecture"))?;
    Ok(Platform {
        os_features: Vec::new(),
        features: Vec::new(),
        ..platform.normalized()
    })
}
