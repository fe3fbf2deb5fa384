//! `rr_index`: an OCI index or Docker manifest list and its children.

use super::client::rr_client;
use super::image::rr_image;
use super::{
    c_string, check_out, free_handle, guard, guard_getter, handle, into_handle, rr_status, str_arg,
    write_bytes,
};
use crate::index::Index;
use crate::platform::Platform;
use crate::remote;
use std::ffi::{c_char, CString};
use std::sync::Arc;

/// An index. Immutable; safe to read from many threads. Keeps what it needs alive: the
/// client may be freed first.
pub struct rr_index {
    pub(crate) inner: Arc<Index>,
    digest: CString,
    media_type: CString,
    child_digests: Vec<CString>,
    child_media_types: Vec<CString>,
    child_platforms: Vec<Option<CString>>,
    child_annotations: Vec<Vec<(String, CString)>>,
}

impl rr_index {
    pub(crate) fn wrap(index: Index) -> *mut rr_index {
        let n = index.children().len();
        into_handle(rr_index {
            digest: c_string(index.digest()),
            media_type: c_string(index.media_type()),
            child_digests: index
                .children()
                .iter()
                .map(|c| c_string(&c.digest))
                .collect(),
            child_media_types: index
                .children()
                .iter()
                .map(|c| c_string(&c.media_type))
                .collect(),
            child_platforms: (0..n)
                .map(|i| index.child_platform(i).map(|p| c_string(&p)))
                .collect(),
            child_annotations: index
                .children()
                .iter()
                .map(|c| {
                    c.annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), c_string(v)))
                        .collect()
                })
                .collect(),
            inner: Arc::new(index),
        })
    }
}

/// Opens the index at `reference`. RR_ERR_UNSUPPORTED when it is an image (the message
/// says so), schema1 or of an unknown type. `*out` is owned by the caller
/// (`rr_index_free`).
///
/// # Safety
/// `client` NULL or live; `reference` NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_index_open(
    client: *mut rr_client,
    reference: *const c_char,
    out: *mut *mut rr_index,
) -> rr_status {
    guard("rr_index_open", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        check_out(out, "out")?;
        *out = rr_index::wrap(remote::index(client, reference)?);
        Ok(())
    })
}

/// Releases an index. NULL is ignored. Must not be called twice with the same value.
///
/// # Safety
/// `idx` must be NULL or an index made by the library.
#[no_mangle]
pub unsafe extern "C" fn rr_index_free(idx: *mut rr_index) {
    free_handle(idx)
}

/// The index digest. Belongs to `idx`; valid until `rr_index_free(idx)`. NULL when `idx`
/// is NULL.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_digest(idx: *const rr_index) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        idx.as_ref().map_or(std::ptr::null(), |i| i.digest.as_ptr())
    })
}

/// The index media type. Belongs to `idx`, as `rr_index_digest`.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_media_type(idx: *const rr_index) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        idx.as_ref()
            .map_or(std::ptr::null(), |i| i.media_type.as_ptr())
    })
}

/// The exact index bytes; `*bytes` points into `idx` and stays valid until
/// `rr_index_free(idx)`.
///
/// # Safety
/// `idx` NULL or live; `bytes` and `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_index_manifest(
    idx: *const rr_index,
    bytes: *mut *const u8,
    len: *mut usize,
) -> rr_status {
    guard("rr_index_manifest", || {
        let idx = handle(idx, "idx")?;
        check_out(bytes, "bytes")?;
        check_out(len, "len")?;
        write_bytes(idx.inner.manifest_bytes(), bytes, len);
        Ok(())
    })
}

/// The number of children; 0 when `idx` is NULL.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_count(idx: *const rr_index) -> usize {
    guard_getter(0, || idx.as_ref().map_or(0, |i| i.child_digests.len()))
}

/// Child `i`'s digest, or NULL when `idx` is NULL or `i` is out of range. Belongs to
/// `idx`; valid until `rr_index_free(idx)`.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_digest(idx: *const rr_index, i: usize) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        idx.as_ref()
            .and_then(|x| x.child_digests.get(i))
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Child `i`'s media type, or NULL (as `rr_index_child_digest`).
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_media_type(
    idx: *const rr_index,
    i: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        idx.as_ref()
            .and_then(|x| x.child_media_types.get(i))
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Child `i`'s platform as `"os/arch[/variant]"`, or NULL when it declares none, or when
/// `idx` is NULL or `i` is out of range. Belongs to `idx`.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_platform(idx: *const rr_index, i: usize) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        idx.as_ref()
            .and_then(|x| x.child_platforms.get(i))
            .and_then(|p| p.as_ref())
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Opens child `i` as an image (fetched by digest and verified). RR_ERR_INVALID_ARGUMENT
/// when `i` is out of range; RR_ERR_UNSUPPORTED when the child is an index. `*out` is owned
/// by the caller (`rr_image_free`).
///
/// # Safety
/// `idx` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_image(
    idx: *const rr_index,
    i: usize,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_index_child_image", || {
        let idx = handle(idx, "idx")?;
        check_out(out, "out")?;
        *out = rr_image::wrap(idx.inner.child_image(i)?);
        Ok(())
    })
}

/// Opens child `i` as an index. RR_ERR_UNSUPPORTED when the child is an image. `*out` is
/// owned by the caller (`rr_index_free`).
///
/// # Safety
/// `idx` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_index(
    idx: *const rr_index,
    i: usize,
    out: *mut *mut rr_index,
) -> rr_status {
    guard("rr_index_child_index", || {
        let idx = handle(idx, "idx")?;
        check_out(out, "out")?;
        *out = rr_index::wrap(idx.inner.child_index(i)?);
        Ok(())
    })
}

/// Opens the image for `platform` (`"os/arch[/variant][:os.version]"`), descending into
/// nested indexes. RR_ERR_INVALID_REFERENCE when the platform does not parse;
/// RR_ERR_NOT_FOUND when no child matches. `*out` is owned by the caller.
///
/// # Safety
/// `idx` NULL or live; `platform` NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_index_image_for_platform(
    idx: *const rr_index,
    platform: *const c_char,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_index_image_for_platform", || {
        let idx = handle(idx, "idx")?;
        let platform = Platform::parse(str_arg(platform, "platform")?)?;
        check_out(out, "out")?;
        *out = rr_image::wrap(idx.inner.image_for_platform(&platform)?);
        Ok(())
    })
}

/// The value of annotation `key` of child `i` (e.g. `"org.opencontainers.image.ref.name"`,
/// which names the entries of an OCI layout's `index.json`), or NULL when the child has no
/// such annotation, `i` is out of range, or an argument is NULL or not UTF-8. Belongs to
/// `idx`; valid until `rr_index_free(idx)`. An addition to the API contract.
///
/// # Safety
/// `idx` NULL or a live index; `key` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_annotation(
    idx: *const rr_index,
    i: usize,
    key: *const c_char,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        let Some(idx) = idx.as_ref() else {
            return std::ptr::null();
        };
        let Ok(key) = str_arg(key, "key") else {
            return std::ptr::null();
        };
        idx.child_annotations
            .get(i)
            .and_then(|a| a.iter().find(|(k, _)| k == key))
            .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    })
}

/// Converts a Docker manifest list, and every child of it, to OCI media types: the list
/// becomes `application/vnd.oci.image.index.v1+json`, each child image is converted as by
/// `rr_image_to_oci` and nested indexes likewise, and each child entry gets the converted
/// child's media type, digest and size (its platform, annotations and other fields kept).
/// The converted children are held by `*out` (`rr_index_child_image`, `rr_write_index` and
/// `rr_layout_write_index` find them there); their config and layer bytes are the same
/// blobs, read (and, pushed to the same registry, mounted) from where `idx` reads them.
///
/// Fetches every child manifest, through the client `idx` was opened with. An index in
/// which nothing has a Docker media type comes back unchanged, with the same digest.
/// RR_ERR_UNSUPPORTED for a Docker media type without an OCI equivalent, a Docker schema1
/// child, or, in an index that must change, a child that is neither an image nor an index;
/// the message says which.
///
/// `*out` is a new index owned by the caller (`rr_index_free`), also when it is unchanged;
/// `idx` stays the caller's and may be freed before `*out`. An addition to the API contract.
///
/// # Safety
/// `idx` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_index_to_oci(
    idx: *const rr_index,
    out: *mut *mut rr_index,
) -> rr_status {
    guard("rr_index_to_oci", || {
        let idx = handle(idx, "idx")?;
        check_out(out, "out")?;
        *out = rr_index::wrap(crate::convert::index_to_oci(&idx.inner)?);
        Ok(())
    })
}
