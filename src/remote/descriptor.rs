//! What `rr_get` and `rr_head` return: a manifest's media type, digest and size (and its
//! bytes after a GET), able to open the image or index it names.

use super::client::Client;
use super::manifest_fetch;
use super::mirror::{self, At};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::index::Index;
use crate::manifest::{self, Kind};
use crate::name::{Identifier, Reference};
use crate::source::BlobSource;

#[derive(Debug, Clone)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    /// The exact bytes, after a GET; `None` after a HEAD.
    pub manifest: Option<Vec<u8>>,
    pub reference: Reference,
    client: Client,
}

pub fn get(client: &Client, reference: &Reference) -> Result<Descriptor> {
    get_with_accept(client, reference, manifest::ACCEPT_ALL)
}

/// GET through the repository's mirrors, if any (`mirror::read`): the digest is computed
/// from the bytes wherever they come from (and checked when the reference is a digest),
/// and a mirror's manifest that is not JSON is left for the next source.
fn get_with_accept(client: &Client, reference: &Reference, accept: &str) -> Result<Descriptor> {
    get_asking(client, reference, accept, &[])
}

/// `get`, asking the origin for the token scopes `also` besides pull (those the rest of
/// a copy will need, so that one token exchange serves it all).
pub(crate) fn get_also(
    client: &Client,
    reference: &Reference,
    also: &[String],
) -> Result<Descriptor> {
    get_asking(client, reference, manifest::ACCEPT_ALL, also)
}

fn get_asking(
    client: &Client,
    reference: &Reference,
    accept: &str,
    also: &[String],
) -> Result<Descriptor> {
    let op = client.operation()?;
    let repo = reference.repository();
    let by_digest = reference.digest().is_some();
    let fetched = mirror::read(&op.ctx, repo, by_digest, None, |ctx, at, from| {
        let mut scopes = vec![at.scope("pull")];
        if from != At::Mirror {
            scopes.extend(also.iter().cloned());
        }
        let session = ctx.session(at.registry(), Some(at.path()), scopes);
        let fetched = manifest_fetch::get(&session, at, reference.identifier_str(), accept)?;
        if from == At::Mirror {
            mirror::check_manifest(&fetched.bytes, at)?;
        }
        Ok(fetched)
    })?;
    Ok(Descriptor {
        media_type: fetched.media_type,
        digest: fetched.digest,
        size: fetched.bytes.len() as u64,
        manifest: Some(fetched.bytes),
        reference: reference.clone(),
        client: client.clone(),
    })
}

/// HEAD through the repository's mirrors, if any: what a mirror reports for a tag is taken
/// as a GET by tag from it would be; for a digest, its answer must name that digest.
pub fn head(client: &Client, reference: &Reference) -> Result<Descriptor> {
    let op = client.operation()?;
    let repo = reference.repository();
    let by_digest = reference.digest().is_some();
    let h = mirror::read(&op.ctx, repo, by_digest, None, |ctx, at, _| {
        let session = ctx.session(at.registry(), Some(at.path()), vec![at.scope("pull")]);
        manifest_fetch::head(&session, at, reference.identifier_str())
    })?;
    Ok(Descriptor {
        media_type: h.media_type,
        digest: h.digest,
        size: h.size,
        manifest: None,
        reference: reference.clone(),
        client: client.clone(),
    })
}

fn unsupported_kind(media_type: &str, reference: &Reference) -> Error {
    match manifest::kind_of_media_type(media_type) {
        Kind::Schema1 => Error::unsupported(format!(
            "{reference} is a Docker schema1 manifest ({media_type}), which is not supported"
        )),
        _ => Error::unsupported(format!(
            "{reference} has the manifest media type {media_type:?}, which is neither an image nor an index"
        )),
    }
}

impl Descriptor {
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bytes, fetching them by digest when this came from a HEAD.
    fn bytes(&self) -> Result<Vec<u8>> {
        if let Some(b) = &self.manifest {
            return Ok(b.clone());
        }
        let by_digest = Reference::new(
            self.reference.repository().clone(),
            Identifier::Digest(self.digest.clone()),
        );
        let d = get(&self.client, &by_digest)?;
        Ok(d.manifest.expect("GET keeps the bytes"))
    }

    /// Where the blobs and children of what this names are: its repository.
    fn source(&self) -> BlobSource {
        BlobSource::Remote {
            client: self.client.clone(),
            repository: self.reference.repository().clone(),
        }
    }

    /// The image this names; an index resolves by the client's platform.
    pub fn image(&self) -> Result<Image> {
        match manifest::kind_of_media_type(&self.media_type) {
            Kind::Image => Image::new(
                self.source(),
                self.bytes()?,
                self.media_type.clone(),
                self.digest.clone(),
            ),
            Kind::Index => self.index()?.image_for_platform(&self.client.platform()),
            _ => Err(unsupported_kind(&self.media_type, &self.reference)),
        }
    }

    pub fn index(&self) -> Result<Index> {
        match manifest::kind_of_media_type(&self.media_type) {
            Kind::Index => Index::new(
                self.source(),
                self.bytes()?,
                self.media_type.clone(),
                self.digest.clone(),
            ),
            Kind::Image => Err(Error::unsupported(format!(
                "{} is an image ({}), not an index",
                self.reference, self.media_type
            ))),
            _ => Err(unsupported_kind(&self.media_type, &self.reference)),
        }
    }
}

impl Descriptor {
    /// The descriptor of manifest bytes the library has sent (`write::put`): it opens what
    /// they describe from `reference`'s repository, as one from a GET would.
    pub(crate) fn of_sent(
        client: &Client,
        reference: Reference,
        media_type: String,
        bytes: Vec<u8>,
    ) -> Descriptor {
        Descriptor {
            media_type,
            digest: crate::digest::of_bytes(&bytes),
            size: bytes.len() as u64,
            manifest: Some(bytes),
            reference,
            client: client.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: crate::digest::of_bytes(bytes),
            size: bytes.len() as u64,
            manifest: Some(bytes.to_vec()),
            reference: Reference::parse("registry.example/app:v1").unwrap(),
            client: Client::new(),
        }
    }

    #[test]
    fn schema1_and_unknown_types_open_as_neither_image_nor_index() {
        let schema1 = descriptor(
            manifest::DOCKER_SCHEMA1_SIGNED,
            br#"{"schemaVersion":1,"fsLayers":[]}"#,
        );
        let e = schema1.image().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("schema1"), "{}", e.message);
        assert_eq!(schema1.index().unwrap_err().kind, ErrorKind::Unsupported);

        let odd = descriptor("application/vnd.example+json", b"{}");
        let e = odd.image().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(
            e.message.contains("application/vnd.example+json"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_image_descriptor_opens_without_a_request() {
        let cfg = crate::digest::of_bytes(b"{}");
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{cfg}","size":2,"data":"e30="}},"layers":[]}}"#,
            manifest::OCI_MANIFEST,
            manifest::OCI_CONFIG
        );
        let d = descriptor(manifest::OCI_MANIFEST, body.as_bytes());
        let img = d.image().unwrap();
        assert_eq!(img.digest(), d.digest);
        assert_eq!(img.config().unwrap(), b"{}", "embedded config data is used");
        let e = d.index().unwrap_err();
        assert!(e.message.contains("is an image"), "{}", e.message);
    }
}
