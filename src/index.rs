//! An index (OCI image index or Docker manifest list): its children, and choosing one by
//! platform.

use crate::error::{Error, Result};
use crate::image::Image;
use crate::manifest::{self, Descriptor, IndexManifest, Kind};
use crate::platform::{self, Platform};
use crate::source::{BlobSource, LocalBlob, LocalStore, SourceContexts, StoredManifest};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Index {
    digest: String,
    media_type: String,
    manifest_bytes: Vec<u8>,
    manifest: IndexManifest,
    source: BlobSource,
}

/// Nested indexes deeper than this are refused (a loop or a hostile registry).
pub(crate) const MAX_DEPTH: usize = 16;

impl Index {
    pub fn new(
        source: BlobSource,
        manifest_bytes: Vec<u8>,
        media_type: String,
        digest: String,
    ) -> Result<Index> {
        let what = format!("index {}@{digest}", source.describe());
        let manifest = IndexManifest::parse(&manifest_bytes, &what)?;
        Ok(Index {
            digest,
            media_type,
            manifest_bytes,
            manifest,
            source,
        })
    }

    pub fn digest(&self) -> &str {
        &self.digest
    }
    pub fn media_type(&self) -> &str {
        &self.media_type
    }
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }
    pub fn children(&self) -> &[Descriptor] {
        &self.manifest.manifests
    }
    /// The index's own annotations (not its children's).
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.manifest.annotations
    }
    /// The index's `artifactType`, when it has one.
    pub fn artifact_type(&self) -> Option<&str> {
        self.manifest.artifact_type.as_deref()
    }
    /// This index with its reads (children, their blobs) made through `client` instead of
    /// the client it came from.
    pub fn through(&self, client: &crate::remote::Client) -> Index {
        Index {
            source: self.source.through(client),
            ..self.clone()
        }
    }

    pub fn source(&self) -> &BlobSource {
        &self.source
    }

    fn child(&self, i: usize) -> Result<&Descriptor> {
        self.manifest.manifests.get(i).ok_or_else(|| {
            Error::invalid_argument(format!(
                "child index {i} is out of range: index {} has {} children",
                self.digest,
                self.manifest.manifests.len()
            ))
        })
    }

    /// `os/arch[/variant]` of child `i`, if it declares a platform.
    pub fn child_platform(&self, i: usize) -> Option<String> {
        self.manifest
            .manifests
            .get(i)
            .and_then(|d| d.platform.as_ref())
            .map(Platform::short)
    }

    fn image_from(&self, desc: &Descriptor) -> Result<Image> {
        let (contexts, _op) = self.source.own_contexts()?;
        self.child_image_in(desc, &contexts)
    }

    fn index_from(&self, desc: &Descriptor) -> Result<Index> {
        let (contexts, _op) = self.source.own_contexts()?;
        self.child_index_in(desc, &contexts)
    }

    /// The child image `desc`, read from this index's source within an operation.
    pub(crate) fn child_image_in(
        &self,
        desc: &Descriptor,
        contexts: &SourceContexts,
    ) -> Result<Image> {
        let (bytes, media_type) = self.source.child_manifest(desc, contexts)?;
        Image::new(self.source.clone(), bytes, media_type, desc.digest.clone())
    }

    /// The child index `desc`, read from this index's source within an operation.
    pub(crate) fn child_index_in(
        &self,
        desc: &Descriptor,
        contexts: &SourceContexts,
    ) -> Result<Index> {
        let (bytes, media_type) = self.source.child_manifest(desc, contexts)?;
        Index::new(self.source.clone(), bytes, media_type, desc.digest.clone())
    }

    /// Puts this index into `store` with everything below it (child manifests, and where
    /// each blob is), so that an index held in `store` finds it as a child. Children are
    /// read from this index's source.
    pub(crate) fn keep_in(&self, store: &mut LocalStore, contexts: &SourceContexts) -> Result<()> {
        self.keep_in_at(store, contexts, 0)
    }

    fn keep_in_at(
        &self,
        store: &mut LocalStore,
        contexts: &SourceContexts,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid_response(format!(
                "index {} nests more than {MAX_DEPTH} levels deep",
                self.digest
            )));
        }
        store.manifests.insert(
            self.digest.clone(),
            StoredManifest {
                bytes: self.manifest_bytes.clone(),
                media_type: self.media_type.clone(),
            },
        );
        for desc in &self.manifest.manifests {
            if store.manifests.contains_key(&desc.digest) {
                continue;
            }
            match manifest::kind_of_media_type(&desc.media_type) {
                Kind::Image => self.child_image_in(desc, contexts)?.keep_in(store),
                Kind::Index => {
                    self.child_index_in(desc, contexts)?
                        .keep_in_at(store, contexts, depth + 1)?
                }
                // Other children are blobs to the index (as a push plans them).
                _ => {
                    store
                        .blobs
                        .entry(desc.digest.clone())
                        .or_insert_with(|| LocalBlob::Source(self.source.source_of(&desc.digest)));
                }
            }
        }
        Ok(())
    }

    pub fn child_image(&self, i: usize) -> Result<Image> {
        let desc = self.child(i)?;
        match manifest::kind_of_media_type(&desc.media_type) {
            Kind::Image => self.image_from(desc),
            Kind::Index => Err(Error::unsupported(format!(
                "child {i} of index {} is an index ({}), not an image",
                self.digest, desc.media_type
            ))),
            _ => Err(Error::unsupported(format!(
                "child {i} of index {} has media type {:?}, not an image",
                self.digest, desc.media_type
            ))),
        }
    }

    pub fn child_index(&self, i: usize) -> Result<Index> {
        let desc = self.child(i)?;
        match manifest::kind_of_media_type(&desc.media_type) {
            Kind::Index => self.index_from(desc),
            Kind::Image => Err(Error::unsupported(format!(
                "child {i} of index {} is an image ({}), not an index",
                self.digest, desc.media_type
            ))),
            _ => Err(Error::unsupported(format!(
                "child {i} of index {} has media type {:?}, not an index",
                self.digest, desc.media_type
            ))),
        }
    }

    /// The image for `wanted`, descending into nested indexes.
    pub fn image_for_platform(&self, wanted: &Platform) -> Result<Image> {
        self.image_for_platform_at(wanted, 0)
    }

    fn image_for_platform_at(&self, wanted: &Platform, depth: usize) -> Result<Image> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid_response(format!(
                "index {} nests more than {MAX_DEPTH} levels deep",
                self.digest
            )));
        }
        // Only manifests can be chosen; other children (artifacts, blobs) are skipped.
        let candidates: Vec<(usize, Option<Platform>)> = self
            .manifest
            .manifests
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                matches!(
                    manifest::kind_of_media_type(&d.media_type),
                    Kind::Image | Kind::Index
                )
            })
            .map(|(i, d)| (i, d.platform.clone()))
            .collect();
        let platforms: Vec<Option<Platform>> = candidates.iter().map(|(_, p)| p.clone()).collect();
        let Some(pick) = platform::select(wanted, &platforms) else {
            let available: Vec<String> = platforms
                .iter()
                .map(|p| {
                    p.as_ref()
                        .map_or("linux/amd64 (implied)".to_string(), |p| p.describe())
                })
                .collect();
            return Err(Error::not_found(format!(
                "no child of index {} matches platform {} (it has: {})",
                self.digest,
                wanted.describe(),
                available.join(", ")
            )));
        };
        let desc = &self.manifest.manifests[candidates[pick].0];
        match manifest::kind_of_media_type(&desc.media_type) {
            Kind::Index => self
                .index_from(desc)?
                .image_for_platform_at(wanted, depth + 1),
            _ => self.image_from(desc),
        }
    }
}
