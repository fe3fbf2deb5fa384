//! `rr_descriptor`: the result of `rr_get` and `rr_head`.

use super::client::rr_client;
use super::image::rr_image;
use super::index::rr_index;
use super::{
    c_string, check_out, free_handle, guard, guard_getter, handle, into_handle, rr_status, str_arg,
    write_bytes,
};
use crate::error::Error;
use crate::manifest::{self, Kind};
use crate::remote::{self, Descriptor};
use std::ffi::{c_char, CString};

/// A manifest's media type, digest and size, and after `rr_get` its exact bytes.
/// Immutable; safe to read from many threads.
pub struct rr_descriptor {
    inner: Descriptor,
    media_type: CString,
    digest: CString,
}

pub(crate) fn wrap(d: Descriptor) -> *mut rr_descriptor {
    into_handle(rr_descriptor {
        media_type: c_string(&d.media_type),
        digest: c_string(&d.digest),
        inner: d,
    })
}

/// GETs the manifest of `reference`, whatever its media type (schema1 and unknown types
/// included: the descriptor reports them). The bytes are kept exactly as received; their
/// digest is computed locally and checked when the reference is a digest.
///
/// On RR_OK `*out` receives a descriptor owned by the caller (`rr_descriptor_free`).
/// RR_ERR_NOT_FOUND for a missing manifest, RR_ERR_UNAUTHORIZED / RR_ERR_DENIED for auth
/// failures, RR_ERR_DIGEST_MISMATCH when by-digest content does not match.
///
/// # Safety
/// `client` NULL or live; `reference` NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_get(
    client: *mut rr_client,
    reference: *const c_char,
    out: *mut *mut rr_descriptor,
) -> rr_status {
    guard("rr_get", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        check_out(out, "out")?;
        *out = wrap(remote::get(client, reference)?);
        Ok(())
    })
}

/// HEADs the manifest of `reference`: media type, digest and size without the bytes
/// (`rr_descriptor_manifest` then gives RR_ERR_INVALID_ARGUMENT). Ownership as `rr_get`.
///
/// # Safety
/// As for `rr_get`.
#[no_mangle]
pub unsafe extern "C" fn rr_head(
    client: *mut rr_client,
    reference: *const c_char,
    out: *mut *mut rr_descriptor,
) -> rr_status {
    guard("rr_head", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        check_out(out, "out")?;
        *out = wrap(remote::head(client, reference)?);
        Ok(())
    })
}

/// Releases a descriptor. NULL is ignored. Must not be called twice with the same value.
///
/// # Safety
/// `d` must be NULL or a descriptor from `rr_get`/`rr_head`.
#[no_mangle]
pub unsafe extern "C" fn rr_descriptor_free(d: *mut rr_descriptor) {
    free_handle(d)
}

/// The manifest media type. Belongs to `d`; valid until `rr_descriptor_free(d)`. NULL
/// when `d` is NULL.
///
/// # Safety
/// `d` must be NULL or a live descriptor.
#[no_mangle]
pub unsafe extern "C" fn rr_descriptor_media_type(d: *const rr_descriptor) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        d.as_ref()
            .map_or(std::ptr::null(), |d| d.media_type.as_ptr())
    })
}

/// The manifest digest, `"sha256:<64 hex>"`. Belongs to `d`, as `rr_descriptor_media_type`.
///
/// # Safety
/// `d` must be NULL or a live descriptor.
#[no_mangle]
pub unsafe extern "C" fn rr_descriptor_digest(d: *const rr_descriptor) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        d.as_ref().map_or(std::ptr::null(), |d| d.digest.as_ptr())
    })
}

/// The manifest size in bytes; 0 when `d` is NULL.
///
/// # Safety
/// `d` must be NULL or a live descriptor.
#[no_mangle]
pub unsafe extern "C" fn rr_descriptor_size(d: *const rr_descriptor) -> u64 {
    guard_getter(0, || d.as_ref().map_or(0, |d| d.inner.size))
}

/// The exact manifest bytes. `*bytes` points into `d` and stays valid until
/// `rr_descriptor_free(d)`. RR_ERR_INVALID_ARGUMENT after `rr_head` (no bytes).
///
/// # Safety
/// `d` NULL or live; `bytes` and `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_descriptor_manifest(
    d: *const rr_descriptor,
    bytes: *mut *const u8,
    len: *mut usize,
) -> rr_status {
    guard("rr_descriptor_manifest", || {
        let d = handle(d, "d")?;
        check_out(bytes, "bytes")?;
        check_out(len, "len")?;
        let manifest = d.inner.manifest.as_deref().ok_or_else(|| {
            Error::invalid_argument(format!(
                "the descriptor of {} came from rr_head and has no manifest bytes",
                d.inner.reference
            ))
        })?;
        write_bytes(manifest, bytes, len);
        Ok(())
    })
}

/// The image the descriptor names; an index resolves by the client's platform (nested
/// indexes too). RR_ERR_UNSUPPORTED for schema1 and unknown media types, RR_ERR_NOT_FOUND
/// when no child matches. `*out` is owned by the caller (`rr_image_free`).
///
/// # Safety
/// `d` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_descriptor_image(
    d: *const rr_descriptor,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_descriptor_image", || {
        let d = handle(d, "d")?;
        check_out(out, "out")?;
        *out = rr_image::wrap(d.inner.image()?);
        Ok(())
    })
}

/// The index the descriptor names. RR_ERR_UNSUPPORTED when it is an image (the message
/// says so) or of another type. `*out` is owned by the caller (`rr_index_free`).
///
/// # Safety
/// `d` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_descriptor_index(
    d: *const rr_descriptor,
    out: *mut *mut rr_index,
) -> rr_status {
    guard("rr_descriptor_index", || {
        let d = handle(d, "d")?;
        check_out(out, "out")?;
        *out = rr_index::wrap(d.inner.index()?);
        Ok(())
    })
}

/// What a manifest media type names, as the library tells images from indexes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rr_manifest_kind {
    /// Not a manifest type the library reads (an artifact's own type, a typo), or NULL.
    RR_MANIFEST_UNKNOWN = 0,
    /// An OCI image manifest or a Docker schema 2 manifest: `rr_descriptor_image`,
    /// `rr_index_child_image` open it.
    RR_MANIFEST_IMAGE = 1,
    /// An OCI image index or a Docker manifest list: `rr_descriptor_index`,
    /// `rr_index_child_index` open it.
    RR_MANIFEST_INDEX = 2,
    /// A Docker schema 1 manifest, which `rr_get` reports and nothing opens.
    RR_MANIFEST_SCHEMA1 = 3,
}

/// The kind of manifest `media_type` names (e.g. what `rr_descriptor_media_type` or
/// `rr_index_child_media_type` give), so that a host need not compare media type strings:
/// RR_MANIFEST_IMAGE, RR_MANIFEST_INDEX, RR_MANIFEST_SCHEMA1, or RR_MANIFEST_UNKNOWN
/// (also for NULL or invalid UTF-8). Sets no error. An addition to the API contract.
///
/// # Safety
/// `media_type` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_media_type_kind(media_type: *const c_char) -> rr_manifest_kind {
    guard_getter(rr_manifest_kind::RR_MANIFEST_UNKNOWN, || {
        let Ok(media_type) = str_arg(media_type, "media_type") else {
            return rr_manifest_kind::RR_MANIFEST_UNKNOWN;
        };
        match manifest::kind_of_media_type(media_type) {
            Kind::Image => rr_manifest_kind::RR_MANIFEST_IMAGE,
            Kind::Index => rr_manifest_kind::RR_MANIFEST_INDEX,
            Kind::Schema1 => rr_manifest_kind::RR_MANIFEST_SCHEMA1,
            Kind::Unknown => rr_manifest_kind::RR_MANIFEST_UNKNOWN,
        }
    })
}
