//! An index (OCI image index or Docker manifest list): its children, and choosing one by
//! platform.

use crate::error::{Error, Result};
use crate::image::{BlobSource, Image};
use crate::manifest::{self, Descriptor, IndexManifest, Kind};
use crate::name::Repository;
use crate::platform::{self, Platform};
use crate::remote::{client::Client, manifest_fetch};

#[derive(Debug)]
pub struct Index {
    digest: String,
    media_type: String,
    manifest_bytes: Vec<u8>,
    manifest: IndexManifest,
    source: BlobSource,
}

/// Nested indexes deeper than this are refused (a loop or a hostile registry).
const MAX_DEPTH: usize = 16;

impl Index {
    pub fn from_remote(
        client: &Client,
        repository: Repository,
        manifest_bytes: Vec<u8>,
        media_type: String,
        digest: String,
    ) -> Result<Index> {
        let what = format!("index {repository}@{digest}");
        let manifest = IndexManifest::parse(&manifest_bytes, &what)?;
        Ok(Index {
            digest,
            media_type,
            manifest_bytes,
            manifest,
            source: BlobSource::Remote {
                client: client.clone(),
                repository,
            },
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

    /// The child's manifest bytes and media type: embedded data, or a GET by digest with
    /// exactly the child's media type as Accept.
    fn child_manifest(&self, desc: &Descriptor) -> Result<(Vec<u8>, String)> {
        if let Some(data) = desc.verified_data()? {
            let mt = manifest::effective_media_type(Some(&desc.media_type), data);
            return Ok((data.to_vec(), mt));
        }
        let accept = if desc.media_type.is_empty() {
            manifest::ACCEPT_ALL
        } else {
            desc.media_type.as_str()
        };
        let fetched = self.source.with_pull_session(|_, session, repository| {
            manifest_fetch::get(session, repository, &desc.digest, accept)
        })?;
        if fetched.bytes.len() as u64 != desc.size {
            return Err(Error::digest_mismatch(format!(
                "child {} of index {} is {} bytes, the index says {}",
                desc.digest,
                self.digest,
                fetched.bytes.len(),
                desc.size
            )));
        }
        Ok((fetched.bytes, fetched.media_type))
    }

    fn image_from(&self, desc: &Descriptor) -> Result<Image> {
        let (bytes, media_type) = self.child_manifest(desc)?;
        match &self.source {
            BlobSource::Remote { client, repository } => Image::from_remote(
                client,
                repository.clone(),
                bytes,
                media_type,
                desc.digest.clone(),
            ),
        }
    }

    fn index_from(&self, desc: &Descriptor) -> Result<Index> {
        let (bytes, media_type) = self.child_manifest(desc)?;
        match &self.source {
            BlobSource::Remote { client, repository } => Index::from_remote(
                client,
                repository.clone(),
                bytes,
                media_type,
                desc.digest.clone(),
            ),
        }
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
                        .map_or("linux/amd64 (implied)".to_string(), |p| p.to_string())
                })
                .collect();
            return Err(Error::not_found(format!(
                "no child of index {} matches platform {wanted} (it has: {})",
                self.digest,
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
