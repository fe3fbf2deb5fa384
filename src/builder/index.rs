//! The index builder: images, each with its platform, in; an OCI index out.

use super::{platform_of_config, to_json, IndexEntryJson, IndexJson, PlatformJson};
use crate::digest;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::index::Index;
use crate::manifest::OCI_INDEX;
use crate::platform::Platform;
use crate::source::{BlobSource, LocalStore};
use std::sync::Arc;

/// Builds an index from images, in the order they are added. Not shared between threads;
/// it stays usable after `build`.
#[derive(Debug, Clone, Default)]
pub struct IndexBuilder {
    entries: Vec<(Image, Platform)>,
}

impl IndexBuilder {
    pub fn new() -> IndexBuilder {
        IndexBuilder::default()
    }

    /// Adds `image` (a clone is kept) under `platform`, or, when None, the platform its
    /// config declares (the config is fetched for a remote image). The same image with the
    /// same platform is listed once.
    pub fn add_image(&mut self, image: &Image, platform: Option<&str>) -> Result<()> {
        let platform = match platform {
            Some(p) => Platform::parse(p)?,
            None => platform_of_config(image)?,
        };
        let known = self
            .entries
            .iter()
            .any(|(i, p)| i.digest() == image.digest() && *p == platform);
        if !known {
            self.entries.push((image.clone(), platform));
        }
        Ok(())
    }

    /// Makes an OCI index of the images added so far; at least one is needed.
    pub fn build(&self) -> Result<Index> {
        if self.entries.is_empty() {
            return Err(Error::invalid_argument(
                "the index builder has no images: add at least one before building",
            ));
        }
        let index = IndexJson {
            schema_version: 2,
            media_type: OCI_INDEX,
            manifests: self
                .entries
                .iter()
                .map(|(image, p)| IndexEntryJson {
                    media_type: image.media_type(),
                    digest: image.digest(),
                    size: image.manifest_bytes().len() as u64,
                    platform: PlatformJson {
                        architecture: &p.architecture,
                        os: &p.os,
                        os_version: p.os_version.as_deref().filter(|v| !v.is_empty()),
                        variant: p.variant.as_deref().filter(|v| !v.is_empty()),
                    },
                })
                .collect(),
        };
        let bytes = to_json(&index, "the index")?;
        let digest = digest::of_bytes(&bytes);
        let mut store = LocalStore::default();
        for (image, _) in &self.entries {
            image.keep_in(&mut store);
        }
        Index::new(
            BlobSource::Local(Arc::new(store)),
            bytes,
            OCI_INDEX.to_string(),
            digest,
        )
    }
}
