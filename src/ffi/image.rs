//! `rr_image`: an image's manifest, config and layers.

use super::client::rr_client;
use super::{
    c_string, check_out, free_handle, guard, guard_getter, handle, into_handle, opt_c_string,
    opt_ptr, rr_status, str_arg, write_bytes, CAnnotations,
};
use crate::error::Error;
use crate::image::Image;
use crate::remote;
use std::ffi::{c_char, c_void, CString};
use std::path::Path;
use std::sync::Arc;

/// An image. Immutable once made (its config is fetched once, on first use); safe to read
/// from many threads. Keeps what it needs alive: the client may be freed first.
pub struct rr_image {
    pub(crate) inner: Arc<Image>,
    digest: CString,
    media_type: CString,
    config_digest: CString,
    config_media_type: CString,
    artifact_type: Option<CString>,
    /// The subject's digest and media type.
    subject: Option<(CString, CString)>,
    annotations: CAnnotations,
    layers: Vec<LayerStrings>,
}

/// What the getters of one layer return, kept as C strings.
struct LayerStrings {
    digest: CString,
    media_type: CString,
    artifact_type: Option<CString>,
    annotations: CAnnotations,
}

impl rr_image {
    pub(crate) fn wrap(image: Image) -> *mut rr_image {
        let config = image.config_descriptor();
        into_handle(rr_image {
            digest: c_string(image.digest()),
            media_type: c_string(image.media_type()),
            config_digest: c_string(&config.digest),
            config_media_type: c_string(&config.media_type),
            artifact_type: opt_c_string(image.artifact_type()),
            subject: image
                .subject()
                .map(|d| (c_string(&d.digest), c_string(&d.media_type))),
            annotations: CAnnotations::new(image.annotations()),
            layers: image
                .layers()
                .iter()
                .map(|l| LayerStrings {
                    digest: c_string(&l.digest),
                    media_type: c_string(&l.media_type),
                    artifact_type: opt_c_string(l.artifact_type.as_deref()),
                    annotations: CAnnotations::new(&l.annotations),
                })
                .collect(),
            inner: Arc::new(image),
        })
    }

    /// Layer `i`'s strings, for a getter: None when `img` is NULL or `i` out of range.
    ///
    /// # Safety
    /// `img` must be NULL or a live image.
    unsafe fn layer<'a>(img: *const rr_image, i: usize) -> Option<&'a LayerStrings> {
        img.as_ref().and_then(|img| img.layers.get(i))
    }
}

/// Opens the image at `reference`: fetches the manifest only (the config comes on the
/// first `rr_image_config`). An index resolves by the client's platform. RR_ERR_UNSUPPORTED
/// for schema1 and unknown media types; RR_ERR_NOT_FOUND when missing or when no child of
/// an index matches the platform. `*out` is owned by the caller (`rr_image_free`).
///
/// # Safety
/// `client` NULL or live; `reference` NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_image_open(
    client: *mut rr_client,
    reference: *const c_char,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_image_open", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        check_out(out, "out")?;
        *out = rr_image::wrap(remote::image(client, reference)?);
        Ok(())
    })
}

/// Makes a copy of `img` whose reads (`rr_image_config`, `rr_image_layer_read`,
/// `rr_image_layer_save`, and the reads of a push or layout write of it) go through
/// `client` instead of the client it was opened with: `client`'s settings and
/// credentials, and above all its cancellation (`rr_client_cancel`), deadline and
/// progress callbacks. Meant for a derived client made per read to bound it
/// (`rr_client_derive`): cancelling that client then ends a layer read through the copy.
/// An image read from a layout or built from files (with no base image from a registry)
/// reads no registry, so the copy behaves as `img` does. Cheap: the manifest, and the
/// config when already fetched, are shared. On RR_OK `*out` receives an image owned by
/// the caller (`rr_image_free`); `img` and `client` may be freed before it.
/// RR_ERR_INVALID_ARGUMENT when an argument is NULL. An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image, `client` NULL or a live client, `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn rr_image_with_client(
    img: *const rr_image,
    client: *mut rr_client,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_image_with_client", || {
        let img = handle(img, "image")?;
        let client = &handle(client, "client")?.client;
        check_out(out, "out")?;
        *out = rr_image::wrap(img.inner.through(client));
        Ok(())
    })
}

/// Releases an image. NULL is ignored. Must not be called twice with the same value.
///
/// # Safety
/// `img` must be NULL or an image made by the library.
#[no_mangle]
pub unsafe extern "C" fn rr_image_free(img: *mut rr_image) {
    free_handle(img)
}

/// The manifest digest, `"sha256:<64 hex>"`. Belongs to `img`; valid until
/// `rr_image_free(img)`. NULL when `img` is NULL.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_digest(img: *const rr_image) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        img.as_ref().map_or(std::ptr::null(), |i| i.digest.as_ptr())
    })
}

/// The manifest media type. Belongs to `img`, as `rr_image_digest`.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_media_type(img: *const rr_image) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        img.as_ref()
            .map_or(std::ptr::null(), |i| i.media_type.as_ptr())
    })
}

/// The exact manifest bytes; `*bytes` points into `img` and stays valid until
/// `rr_image_free(img)`.
///
/// # Safety
/// `img` NULL or live; `bytes` and `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_image_manifest(
    img: *const rr_image,
    bytes: *mut *const u8,
    len: *mut usize,
) -> rr_status {
    guard("rr_image_manifest", || {
        let img = handle(img, "img")?;
        check_out(bytes, "bytes")?;
        check_out(len, "len")?;
        write_bytes(img.inner.manifest_bytes(), bytes, len);
        Ok(())
    })
}

/// The config blob's bytes, fetched on the first call, verified against the manifest's
/// config digest and size, and kept: `*bytes` points into `img` and stays valid until
/// `rr_image_free(img)`. RR_ERR_DIGEST_MISMATCH when the registry's content is wrong.
///
/// # Safety
/// `img` NULL or live; `bytes` and `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_image_config(
    img: *const rr_image,
    bytes: *mut *const u8,
    len: *mut usize,
) -> rr_status {
    guard("rr_image_config", || {
        let img = handle(img, "img")?;
        check_out(bytes, "bytes")?;
        check_out(len, "len")?;
        write_bytes(img.inner.config()?, bytes, len);
        Ok(())
    })
}

/// The number of layers; 0 when `img` is NULL.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_count(img: *const rr_image) -> usize {
    guard_getter(0, || img.as_ref().map_or(0, |i| i.layers.len()))
}

/// Layer `i`'s digest, or NULL when `img` is NULL or `i` is out of range. Belongs to
/// `img`; valid until `rr_image_free(img)`.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_digest(img: *const rr_image, i: usize) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        rr_image::layer(img, i).map_or(std::ptr::null(), |l| l.digest.as_ptr())
    })
}

/// Layer `i`'s media type, or NULL when `img` is NULL or `i` is out of range. Belongs to
/// `img`, as `rr_image_layer_digest`.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_media_type(
    img: *const rr_image,
    i: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        rr_image::layer(img, i).map_or(std::ptr::null(), |l| l.media_type.as_ptr())
    })
}

/// Layer `i`'s compressed size in bytes; 0 when `img` is NULL or `i` is out of range.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_size(img: *const rr_image, i: usize) -> u64 {
    guard_getter(0, || {
        img.as_ref()
            .and_then(|img| img.inner.layers().get(i))
            .map_or(0, |l| l.size)
    })
}

/// Layer `i`'s `artifactType` (image-spec 1.1: the type of the artifact a descriptor
/// points to), or NULL when the layer has none, `img` is NULL or `i` is out of range.
/// Belongs to `img`; valid until `rr_image_free(img)`. An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_artifact_type(
    img: *const rr_image,
    i: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(rr_image::layer(img, i).and_then(|l| l.artifact_type.as_ref()))
    })
}

/// The value of annotation `key` of layer `i`, or NULL when the layer has no such
/// annotation, `i` is out of range, or `img` or `key` is NULL (or `key` not UTF-8).
/// Belongs to `img`; valid until `rr_image_free(img)`. An addition to the API contract.
///
/// # Safety
/// `img` NULL or a live image; `key` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_annotation(
    img: *const rr_image,
    i: usize,
    key: *const c_char,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        rr_image::layer(img, i).map_or(std::ptr::null(), |l| l.annotations.lookup(key))
    })
}

/// The number of annotations of layer `i`; 0 when it has none, `img` is NULL or `i` is out
/// of range. `rr_image_layer_annotation_key` and `_value` give them, in key order (bytewise).
/// An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_annotation_count(img: *const rr_image, i: usize) -> usize {
    guard_getter(0, || {
        rr_image::layer(img, i).map_or(0, |l| l.annotations.len())
    })
}

/// The key of annotation `j` of layer `i` (see `rr_image_layer_annotation_count`), or NULL
/// when `img` is NULL or `i` or `j` is out of range. Belongs to `img`. An addition to the
/// API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_annotation_key(
    img: *const rr_image,
    i: usize,
    j: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        rr_image::layer(img, i).map_or(std::ptr::null(), |l| l.annotations.key(j))
    })
}

/// The value of annotation `j` of layer `i`, as `rr_image_layer_annotation_key`. Belongs
/// to `img`. An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_annotation_value(
    img: *const rr_image,
    i: usize,
    j: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        rr_image::layer(img, i).map_or(std::ptr::null(), |l| l.annotations.value(j))
    })
}

/// The config's digest as the manifest states it (`"sha256:<64 hex>"`), known without
/// fetching the config. Belongs to `img`; valid until `rr_image_free(img)`. NULL when `img`
/// is NULL. An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_config_digest(img: *const rr_image) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        img.as_ref()
            .map_or(std::ptr::null(), |i| i.config_digest.as_ptr())
    })
}

/// The config's media type as the manifest states it (e.g.
/// `"application/vnd.oci.image.config.v1+json"`, or an artifact's own type). Belongs to
/// `img`, as `rr_image_config_digest`. An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_config_media_type(img: *const rr_image) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        img.as_ref()
            .map_or(std::ptr::null(), |i| i.config_media_type.as_ptr())
    })
}

/// The config's size in bytes as the manifest states it (what `rr_image_config` checks the
/// fetched bytes against); 0 when `img` is NULL. An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_config_size(img: *const rr_image) -> u64 {
    guard_getter(0, || {
        img.as_ref().map_or(0, |i| i.inner.config_descriptor().size)
    })
}

/// The digest of the manifest's `subject` (image-spec 1.1: the manifest this one refers
/// to, as an artifact such as a signature or an SBOM refers to its image), or NULL when it
/// has none or `img` is NULL. Belongs to `img`; valid until `rr_image_free(img)`. An
/// addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_subject_digest(img: *const rr_image) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(img.as_ref().and_then(|i| i.subject.as_ref()).map(|s| &s.0))
    })
}

/// The media type of the manifest's `subject`, or NULL when it has none or `img` is
/// NULL. Belongs to `img`; valid until `rr_image_free(img)`. An addition to the API
/// contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_subject_media_type(img: *const rr_image) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(img.as_ref().and_then(|i| i.subject.as_ref()).map(|s| &s.1))
    })
}

/// The size of the manifest's `subject`, or 0 when it has none or `img` is NULL. An
/// addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_subject_size(img: *const rr_image) -> u64 {
    guard_getter(0, || {
        img.as_ref()
            .and_then(|i| i.inner.subject())
            .map_or(0, |s| s.size)
    })
}

/// The image's size as its manifest states it: the config and every layer, each distinct
/// digest once, the manifest itself not counted. For an image without foreign
/// (non-distributable) layers it is the `total` that the progress of a pull or push of it
/// reports. 0 when `img` is NULL. An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_total_size(img: *const rr_image) -> u64 {
    guard_getter(0, || img.as_ref().map_or(0, |i| i.inner.total_size()))
}

/// The manifest's `artifactType` (image-spec 1.1), or NULL when it has none or `img` is
/// NULL. Belongs to `img`; valid until `rr_image_free(img)`. An addition to the API
/// contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_artifact_type(img: *const rr_image) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(img.as_ref().and_then(|i| i.artifact_type.as_ref()))
    })
}

/// The value of the manifest's annotation `key` (e.g.
/// `"org.opencontainers.image.created"`), or NULL when it has no such annotation, or `img`
/// or `key` is NULL (or `key` not UTF-8). Belongs to `img`; valid until
/// `rr_image_free(img)`. An addition to the API contract.
///
/// # Safety
/// `img` NULL or a live image; `key` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_image_annotation(
    img: *const rr_image,
    key: *const c_char,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        img.as_ref()
            .map_or(std::ptr::null(), |i| i.annotations.lookup(key))
    })
}

/// The number of the manifest's annotations; 0 when it has none or `img` is NULL.
/// `rr_image_annotation_key` and `_value` give them, in key order (bytewise). An addition
/// to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_annotation_count(img: *const rr_image) -> usize {
    guard_getter(0, || img.as_ref().map_or(0, |i| i.annotations.len()))
}

/// The key of the manifest's annotation `j`, or NULL when `img` is NULL or `j` is out of
/// range. Belongs to `img`. An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_annotation_key(img: *const rr_image, j: usize) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        img.as_ref()
            .map_or(std::ptr::null(), |i| i.annotations.key(j))
    })
}

/// The value of the manifest's annotation `j`, as `rr_image_annotation_key`. Belongs to
/// `img`. An addition to the API contract.
///
/// # Safety
/// `img` must be NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_annotation_value(
    img: *const rr_image,
    j: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        img.as_ref()
            .map_or(std::ptr::null(), |i| i.annotations.value(j))
    })
}

/// Receives a layer's bytes: return 0 to go on, non-zero to stop (RR_ERR_CALLBACK).
/// `buf` is valid only during the call.
pub type rr_write_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, buf: *const u8, len: usize) -> i32>;

/// Streams layer `i`'s compressed bytes to `fn`, as they arrive, never holding the whole
/// layer in memory; the digest and size are checked at the end (RR_ERR_DIGEST_MISMATCH:
/// the host has then seen bad bytes and must discard them; when a pull mirror served
/// them, that mirror is not asked for the layer again, and a second call reads it from
/// the next mirror or the registry). Reports progress over the
/// layer's size; a progress callback's non-zero return gives RR_ERR_CANCELLED.
/// RR_ERR_INVALID_ARGUMENT when `i` is out of range or `fn` is NULL. `fn` is called on
/// the calling thread.
///
/// # Safety
/// `img` NULL or live; `fn` NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_read(
    img: *const rr_image,
    i: usize,
    r#fn: rr_write_fn,
    userdata: *mut c_void,
) -> rr_status {
    guard("rr_image_layer_read", || {
        let img = handle(img, "img")?;
        let f = r#fn.ok_or_else(|| Error::invalid_argument("fn is NULL"))?;
        img.inner.layer_read(i, &mut |chunk| {
            let rc = f(userdata, chunk.as_ptr(), chunk.len());
            if rc != 0 {
                return Err(Error::callback(format!(
                    "the write callback returned {rc} while reading layer {i}"
                )));
            }
            Ok(())
        })
    })
}

/// Saves layer `i` (compressed, as stored) to `path`, atomically: the bytes go to a
/// temporary file beside `path`, which replaces `path` only once digest and size are
/// verified. On any failure neither a partial nor a temporary file is left, and an
/// existing `path` is untouched. RR_ERR_IO for local file errors.
///
/// # Safety
/// `img` NULL or live; `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_image_layer_save(
    img: *const rr_image,
    i: usize,
    path: *const c_char,
) -> rr_status {
    guard("rr_image_layer_save", || {
        let img = handle(img, "img")?;
        let path = str_arg(path, "path")?;
        img.inner.layer_save(i, Path::new(path))
    })
}

/// Converts a Docker schema 2 image to OCI media types (those `skopeo copy --format oci`
/// gives): the manifest becomes `application/vnd.oci.image.manifest.v1+json`, the config
/// `application/vnd.oci.image.config.v1+json`, and each layer the OCI layer type of the
/// same compression (foreign layers become OCI non-distributable ones). Nothing else
/// changes: the manifest is rewritten in place (other fields, their order and spacing
/// kept), and the config and layer bytes are the same blobs (same digests), read from where
/// `img` reads them. The new manifest has a new digest (`rr_image_digest(*out)`).
///
/// An image without Docker media types (an OCI image) comes back unchanged, with the same
/// digest. RR_ERR_UNSUPPORTED for a Docker media type without an OCI equivalent (e.g. a
/// plugin config `application/vnd.docker.plugin.v1+json`); the message names it. Makes no
/// request.
///
/// `*out` is a new image owned by the caller (`rr_image_free`), also when it is unchanged;
/// `img` stays the caller's and may be freed before `*out`. An addition to the API contract.
///
/// # Safety
/// `img` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_image_to_oci(
    img: *const rr_image,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_image_to_oci", || {
        let img = handle(img, "img")?;
        check_out(out, "out")?;
        *out = rr_image::wrap(crate::convert::image_to_oci(&img.inner)?);
        Ok(())
    })
}
