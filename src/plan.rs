//! What writing an image or index somewhere takes: every blob it needs (once, whatever
//! number of children share it) with the source to read it from, and every manifest in
//! the order they must be written (children before the index that lists them).

use crate::error::{Error, Result};
use crate::image::Image;
use crate::index::Index;
use crate::manifest::{self, Descriptor, Kind};
use crate::source::{BlobSource, SourceContexts};
use std::collections::HashSet;

/// An image or an index, the two things that can be written.
#[derive(Clone, Copy)]
pub enum Artifact<'a> {
    Image(&'a Image),
    Index(&'a Index),
}

impl Artifact<'_> {
    pub fn digest(&self) -> &str {
        match self {
            Artifact::Image(i) => i.digest(),
            Artifact::Index(i) => i.digest(),
        }
    }
    pub fn media_type(&self) -> &str {
        match self {
            Artifact::Image(i) => i.media_type(),
            Artifact::Index(i) => i.media_type(),
        }
    }
    pub fn manifest_bytes(&self) -> &[u8] {
        match self {
            Artifact::Image(i) => i.manifest_bytes(),
            Artifact::Index(i) => i.manifest_bytes(),
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Artifact::Image(_) => "image",
            Artifact::Index(_) => "index",
        }
    }
}

pub struct PlannedBlob {
    pub desc: Descriptor,
    pub source: BlobSource,
}

pub struct PlannedManifest {
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
pub struct Plan {
    /// Configs, layers and other blobs, each digest once.
    pub blobs: Vec<PlannedBlob>,
    /// Children first; the last one is the artifact itself.
    pub manifests: Vec<PlannedManifest>,
    blob_digests: HashSet<String>,
    manifest_digests: HashSet<String>,
}

/// Nested indexes deeper than this are refused.
const MAX_DEPTH: usize = 16;

/// Layer types that registries are not expected to hold (foreign and non-distributable
/// layers); they are left out as go-containerregistry does.
fn is_non_distributable(media_type: &str) -> bool {
    matches!(
        media_type,
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    )
}

impl Plan {
    pub fn new(artifact: Artifact<'_>, contexts: &SourceContexts) -> Result<Plan> {
        let mut plan = Plan::default();
        match artifact {
            Artifact::Image(img) => plan.add_image(img),
            Artifact::Index(idx) => plan.add_index(idx, contexts, 0)?,
        }
        Ok(plan)
    }

    /// The blobs in the order their transfers start: the largest first.
    pub fn transfer_order(&self) -> Vec<&PlannedBlob> {
        crate::parallel::largest_first(&self.blobs, |b| b.desc.size)
    }

    /// Bytes of every blob to make present.
    pub fn total(&self) -> u64 {
        self.blobs.iter().map(|b| b.desc.size).sum()
    }

    fn add_blob(&mut self, desc: &Descriptor, source: &BlobSource) {
        if self.blob_digests.insert(desc.digest.clone()) {
            self.blobs.push(PlannedBlob {
                desc: desc.clone(),
                source: source.clone(),
            });
        }
    }

    fn add_manifest(&mut self, digest: &str, media_type: &str, bytes: &[u8]) {
        if self.manifest_digests.insert(digest.to_string()) {
            self.manifests.push(PlannedManifest {
                digest: digest.to_string(),
                media_type: media_type.to_string(),
                bytes: bytes.to_vec(),
            });
        }
    }

    fn add_image(&mut self, img: &Image) {
        let config = &img.manifest().config;
        self.add_blob(config, &img.source().source_of(&config.digest));
        for layer in img.layers() {
            if !is_non_distributable(&layer.media_type) {
                self.add_blob(layer, &img.source().source_of(&layer.digest));
            }
        }
        self.add_manifest(img.digest(), img.media_type(), img.manifest_bytes());
    }

    fn add_index(&mut self, idx: &Index, contexts: &SourceContexts, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid_response(format!(
                "index {} nests more than {MAX_DEPTH} levels deep",
                idx.digest()
            )));
        }
        for child in idx.children() {
            if self.manifest_digests.contains(&child.digest) {
                continue;
            }
            match manifest::kind_of_media_type(&child.media_type) {
                Kind::Image => {
                    let img = idx.child_image_in(child, contexts)?;
                    self.add_image(&img);
                }
                Kind::Index => {
                    let nested = idx.child_index_in(child, contexts)?;
                    self.add_index(&nested, contexts, depth + 1)?;
                }
                Kind::Schema1 => {
                    return Err(Error::unsupported(format!(
                        "index {} lists a Docker schema1 manifest ({}), which is not supported",
                        idx.digest(),
                        child.digest
                    )))
                }
                _ => self.add_blob(child, idx.source()),
            }
        }
        self.add_manifest(idx.digest(), idx.media_type(), idx.manifest_bytes());
        Ok(())
    }
}
