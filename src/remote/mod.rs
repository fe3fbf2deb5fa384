//! The remote operations, as go-containerregistry's `remote` package offers them:
//! reading manifests, images, indexes, blobs, tags and the catalog; reading and pushing a
//! blob on its own (`single_blob`).

pub mod blob;
pub mod client;
pub mod descriptor;
pub mod list;
pub mod manifest_fetch;
pub mod mirror;
pub mod progress;
pub mod ranged;
pub mod referrers;
pub mod single_blob;
pub mod upload;
pub mod write;

pub use client::{Client, UploadStrategy};
pub use descriptor::Descriptor;
pub use progress::{BlobEvent, BlobProgressSink, Phase, ProgressSink};

use crate::error::Result;
use crate::image::Image;
use crate::index::Index;
use crate::name::Reference;

/// GET the manifest of `reference`, whatever its media type.
pub fn get(client: &Client, reference: &str) -> Result<Descriptor> {
    let reference = Reference::parse(reference)?;
    descriptor::get(client, &reference)
}

/// HEAD the manifest of `reference`: media type, digest and size, no bytes.
pub fn head(client: &Client, reference: &str) -> Result<Descriptor> {
    let reference = Reference::parse(reference)?;
    descriptor::head(client, &reference)
}

/// The image at `reference`; an index resolves by the client's platform.
pub fn image(client: &Client, reference: &str) -> Result<Image> {
    get(client, reference)?.image()
}

/// The index at `reference`.
pub fn index(client: &Client, reference: &str) -> Result<Index> {
    get(client, reference)?.index()
}
