//! `rr_index`: an OCI index or Docker manifest list and its children.

use super::client::rr_client;
use super::image::rr_image;
use super::platform::{platform_from_spec, rr_platform_spec};
use super::{
    c_string, check_out, free_handle, guard, guard_getter, handle, into_handle, opt_c_string,
    opt_ptr, rr_status, str_arg, write_bytes, CAnnotations,
};
use crate::index::Index;
use crate::manifest::Descriptor;
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
    artifact_type: Option<CString>,
    annotations: CAnnotations,
    children: Vec<ChildStrings>,
}

/// What the getters of one child return, kept as C strings.
struct ChildStrings {
    digest: CString,
    media_type: CString,
    artifact_type: Option<CString>,
    annotations: CAnnotations,
    /// `os/arch[/variant]`, as `rr_index_child_platform` gives it.
    platform: Option<CString>,
    os: Option<CString>,
    architecture: Option<CString>,
    variant: Option<CString>,
    os_version: Option<CString>,
    os_features: Vec<CString>,
}

impl ChildStrings {
    fn new(d: &Descriptor) -> ChildStrings {
        let p = d.platform.as_ref();
        ChildStrings {
            digest: c_string(&d.digest),
            media_type: c_string(&d.media_type),
            artifact_type: opt_c_string(d.artifact_type.as_deref()),
            annotations: CAnnotations::new(&d.annotations),
            platform: p.map(|p| c_string(&p.short())),
            os: p.map(|p| c_string(&p.os)),
            architecture: p.map(|p| c_string(&p.architecture)),
            variant: opt_c_string(p.and_then(|p| p.variant.as_deref())),
            os_version: opt_c_string(p.and_then(|p| p.os_version.as_deref())),
            os_features: p
                .map(|p| p.os_features.iter().map(|f| c_string(f)).collect())
                .unwrap_or_default(),
        }
    }
}

impl rr_index {
    pub(crate) fn wrap(index: Index) -> *mut rr_index {
        into_handle(rr_index {
            digest: c_string(index.digest()),
            media_type: c_string(index.media_type()),
            artifact_type: opt_c_string(index.artifact_type()),
            annotations: CAnnotations::new(index.annotations()),
            children: index.children().iter().map(ChildStrings::new).collect(),
            inner: Arc::new(index),
        })
    }

    /// Child `i`'s strings, for a getter: None when `idx` is NULL or `i` out of range.
    ///
    /// # Safety
    /// `idx` must be NULL or a live index.
    unsafe fn child<'a>(idx: *const rr_index, i: usize) -> Option<&'a ChildStrings> {
        idx.as_ref().and_then(|x| x.children.get(i))
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

/// Makes a copy of `idx` whose reads (its children, and their configs and layers, and the
/// reads of a push or layout write of it) go through `client` instead of the client it
/// was opened with, as `rr_image_with_client` does for an image. On RR_OK `*out`
/// receives an index owned by the caller (`rr_index_free`); `idx` and `client` may be
/// freed before it. RR_ERR_INVALID_ARGUMENT when an argument is NULL. An addition to the
/// API contract.
///
/// # Safety
/// `idx` must be NULL or a live index, `client` NULL or a live client, `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn rr_index_with_client(
    idx: *const rr_index,
    client: *mut rr_client,
    out: *mut *mut rr_index,
) -> rr_status {
    guard("rr_index_with_client", || {
        let idx = handle(idx, "index")?;
        let client = &handle(client, "client")?.client;
        check_out(out, "out")?;
        *out = rr_index::wrap(idx.inner.through(client));
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
    guard_getter(0, || idx.as_ref().map_or(0, |i| i.children.len()))
}

/// Child `i`'s digest, or NULL when `idx` is NULL or `i` is out of range. Belongs to
/// `idx`; valid until `rr_index_free(idx)`.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_digest(idx: *const rr_index, i: usize) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        rr_index::child(idx, i).map_or(std::ptr::null(), |c| c.digest.as_ptr())
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
        rr_index::child(idx, i).map_or(std::ptr::null(), |c| c.media_type.as_ptr())
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
        opt_ptr(rr_index::child(idx, i).and_then(|c| c.platform.as_ref()))
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
        rr_index::child(idx, i).map_or(std::ptr::null(), |c| c.annotations.lookup(key))
    })
}

/// The number of annotations of child `i`; 0 when it has none, `idx` is NULL or `i` is out
/// of range. `rr_index_child_annotation_key` and `_value` give them, in key order
/// (bytewise). An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_annotation_count(idx: *const rr_index, i: usize) -> usize {
    guard_getter(0, || {
        rr_index::child(idx, i).map_or(0, |c| c.annotations.len())
    })
}

/// The key of annotation `j` of child `i`, or NULL when `idx` is NULL or `i` or `j` is out
/// of range. Belongs to `idx`; valid until `rr_index_free(idx)`. An addition to the API
/// contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_annotation_key(
    idx: *const rr_index,
    i: usize,
    j: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        rr_index::child(idx, i).map_or(std::ptr::null(), |c| c.annotations.key(j))
    })
}

/// The value of annotation `j` of child `i`, as `rr_index_child_annotation_key`. Belongs
/// to `idx`. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_annotation_value(
    idx: *const rr_index,
    i: usize,
    j: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        rr_index::child(idx, i).map_or(std::ptr::null(), |c| c.annotations.value(j))
    })
}

/// Child `i`'s size in bytes (of its manifest, as the index states it); 0 when `idx` is
/// NULL or `i` is out of range. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_size(idx: *const rr_index, i: usize) -> u64 {
    guard_getter(0, || {
        idx.as_ref()
            .and_then(|x| x.inner.children().get(i))
            .map_or(0, |d| d.size)
    })
}

/// Child `i`'s `artifactType` (image-spec 1.1), or NULL when it has none, `idx` is NULL or
/// `i` is out of range. Belongs to `idx`; valid until `rr_index_free(idx)`. An addition to
/// the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_artifact_type(
    idx: *const rr_index,
    i: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(rr_index::child(idx, i).and_then(|c| c.artifact_type.as_ref()))
    })
}

/// Child `i`'s platform `os` (`"linux"`, `"windows"`), as the index writes it, or NULL when
/// the child declares no platform, `idx` is NULL or `i` is out of range. Belongs to `idx`;
/// valid until `rr_index_free(idx)`. The platform getters give each field as written (not
/// normalised); a child without a platform counts as `linux/amd64` when one is chosen by
/// platform. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_os(idx: *const rr_index, i: usize) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(rr_index::child(idx, i).and_then(|c| c.os.as_ref()))
    })
}

/// Child `i`'s platform `architecture` (`"amd64"`, `"arm64"`), or NULL, as
/// `rr_index_child_os`. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_architecture(
    idx: *const rr_index,
    i: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(rr_index::child(idx, i).and_then(|c| c.architecture.as_ref()))
    })
}

/// Child `i`'s platform `variant` (`"v8"`), or NULL when it has none, or as
/// `rr_index_child_os`. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_variant(idx: *const rr_index, i: usize) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(rr_index::child(idx, i).and_then(|c| c.variant.as_ref()))
    })
}

/// Child `i`'s platform `os.version` (`"10.0.17763.1234"`), or NULL when it has none, or
/// as `rr_index_child_os`. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_os_version(
    idx: *const rr_index,
    i: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(rr_index::child(idx, i).and_then(|c| c.os_version.as_ref()))
    })
}

/// The number of child `i`'s platform `os.features` entries; 0 when it has none, `idx` is
/// NULL or `i` is out of range. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_os_feature_count(idx: *const rr_index, i: usize) -> usize {
    guard_getter(0, || {
        rr_index::child(idx, i).map_or(0, |c| c.os_features.len())
    })
}

/// Child `i`'s `os.features` entry `j` (`"win32k"`), in the index's order, or NULL when
/// `idx` is NULL or `i` or `j` is out of range. Belongs to `idx`. An addition to the API
/// contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_child_os_feature(
    idx: *const rr_index,
    i: usize,
    j: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(rr_index::child(idx, i).and_then(|c| c.os_features.get(j)))
    })
}

/// The index's own `artifactType`, or NULL when it has none or `idx` is NULL. Belongs to
/// `idx`; valid until `rr_index_free(idx)`. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_artifact_type(idx: *const rr_index) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        opt_ptr(idx.as_ref().and_then(|x| x.artifact_type.as_ref()))
    })
}

/// The value of the index's own annotation `key`, or NULL when it has no such annotation,
/// or `idx` or `key` is NULL (or `key` not UTF-8). Belongs to `idx`. An addition to the
/// API contract.
///
/// # Safety
/// `idx` NULL or a live index; `key` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_index_annotation(
    idx: *const rr_index,
    key: *const c_char,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        idx.as_ref()
            .map_or(std::ptr::null(), |x| x.annotations.lookup(key))
    })
}

/// The number of the index's own annotations; 0 when it has none or `idx` is NULL.
/// `rr_index_annotation_key` and `_value` give them, in key order (bytewise). An addition
/// to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_annotation_count(idx: *const rr_index) -> usize {
    guard_getter(0, || idx.as_ref().map_or(0, |x| x.annotations.len()))
}

/// The key of the index's annotation `j`, or NULL when `idx` is NULL or `j` is out of
/// range. Belongs to `idx`. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_annotation_key(idx: *const rr_index, j: usize) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        idx.as_ref()
            .map_or(std::ptr::null(), |x| x.annotations.key(j))
    })
}

/// The value of the index's annotation `j`, as `rr_index_annotation_key`. Belongs to
/// `idx`. An addition to the API contract.
///
/// # Safety
/// `idx` must be NULL or a live index.
#[no_mangle]
pub unsafe extern "C" fn rr_index_annotation_value(
    idx: *const rr_index,
    j: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        idx.as_ref()
            .map_or(std::ptr::null(), |x| x.annotations.value(j))
    })
}

/// Opens the image for `platform`, given field by field (see `rr_platform_spec`): as
/// `rr_index_image_for_platform`, and the chosen child must also list every os.features
/// entry asked for. RR_ERR_INVALID_ARGUMENT for a NULL `platform`, `os` or
/// `architecture`, or invalid UTF-8; RR_ERR_INVALID_REFERENCE for a field that is no
/// platform's; RR_ERR_NOT_FOUND when no child matches. `*out` is owned by the caller
/// (`rr_image_free`); `platform` is read during the call only. An addition to the API
/// contract.
///
/// # Safety
/// `idx` NULL or live; `platform` NULL or a readable `rr_platform_spec`; `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn rr_index_image_for_platform_spec(
    idx: *const rr_index,
    platform: *const rr_platform_spec,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_index_image_for_platform_spec", || {
        let idx = handle(idx, "idx")?;
        let platform = platform_from_spec(platform)?;
        check_out(out, "out")?;
        *out = rr_image::wrap(idx.inner.image_for_platform(&platform)?);
        Ok(())
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
