//! Writing to registries: `rr_write`, `rr_write_index`, `rr_copy`, `rr_tag`, `rr_delete`,
//! `rr_check_push_permission` and `rr_put_manifest`.

use super::blob::{check_digest_out, write_digest_out};
use super::client::rr_client;
use super::descriptor::{self, rr_descriptor};
use super::image::rr_image;
use super::index::rr_index;
use super::{guard, handle, opt_str_arg, rr_status, str_arg};
use crate::error::Error;
use crate::remote::write;
use std::ffi::c_char;

/// Pushes `img` to `reference` (which must name a tag or a digest): one HEAD when the tag
/// already names this image; otherwise every blob the registry lacks (HEAD first, a
/// cross-repository mount when the image comes from another repository of the same
/// registry, else an upload streamed from wherever the image's blobs are), then the
/// manifest, exactly as its bytes are. Reports progress; a progress callback returning
/// non-zero stops the push with RR_ERR_CANCELLED, cancels its upload sessions and writes no
/// manifest. Borrows every argument for the duration of the call only.
///
/// # Safety
/// `client` and `img` NULL or live; `reference` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_write(
    client: *mut rr_client,
    reference: *const c_char,
    img: *const rr_image,
) -> rr_status {
    guard("rr_write", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        let img = handle(img, "img")?;
        write::write_image(client, reference, &img.inner)
    })
}

/// Pushes `idx` to `reference`: every child (nested indexes depth-first) and their blobs
/// first, then the index manifest, exactly as its bytes are. Progress and cancellation as
/// for `rr_write`. Borrows every argument for the duration of the call only.
///
/// # Safety
/// `client` and `idx` NULL or live; `reference` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_write_index(
    client: *mut rr_client,
    reference: *const c_char,
    idx: *const rr_index,
) -> rr_status {
    guard("rr_write_index", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        let idx = handle(idx, "idx")?;
        write::write_index(client, reference, &idx.inner)
    })
}

/// Copies the image or the whole index (every platform) at `src_reference` to
/// `dst_reference`, digests preserved byte for byte; within one registry every blob is
/// mounted rather than transferred. Progress and cancellation as for `rr_write`.
///
/// # Safety
/// `client` NULL or live; both references NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_copy(
    client: *mut rr_client,
    src_reference: *const c_char,
    dst_reference: *const c_char,
) -> rr_status {
    guard("rr_copy", || {
        let client = &handle(client, "client")?.client;
        let src = str_arg(src_reference, "src_reference")?;
        let dst = str_arg(dst_reference, "dst_reference")?;
        write::copy(client, src, dst)
    })
}

/// `rr_copy`, and on RR_OK the digest of the manifest written (the source's, copied byte
/// for byte) into `digest`, NUL-terminated, when `digest` is not NULL: no HEAD of the
/// destination is needed to report it. `digest_cap` must then be at least
/// `RR_DIGEST_SIZE`, else RR_ERR_INVALID_ARGUMENT before anything is done. The caller owns
/// the buffer. An addition to the API contract.
///
/// # Safety
/// `client` NULL or live; both references NULL or NUL-terminated; `digest` NULL or valid
/// for `digest_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn rr_copy_digest(
    client: *mut rr_client,
    src_reference: *const c_char,
    dst_reference: *const c_char,
    digest: *mut c_char,
    digest_cap: usize,
) -> rr_status {
    guard("rr_copy_digest", || {
        let client = &handle(client, "client")?.client;
        let src = str_arg(src_reference, "src_reference")?;
        let dst = str_arg(dst_reference, "dst_reference")?;
        check_digest_out(digest, digest_cap)?;
        let written = write::copy_digest(client, src, dst)?;
        write_digest_out(&written, digest);
        Ok(())
    })
}

/// Tags the manifest at `reference` with `new_tag` (a bare tag such as `"v2"`) in the same
/// repository, by PUTting its exact bytes again under the new tag.
///
/// # Safety
/// `client` NULL or live; `reference` and `new_tag` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_tag(
    client: *mut rr_client,
    reference: *const c_char,
    new_tag: *const c_char,
) -> rr_status {
    guard("rr_tag", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        let new_tag = str_arg(new_tag, "new_tag")?;
        write::tag(client, reference, new_tag)
    })
}

/// Deletes the manifest named by a digest reference, or the tag named by a tag reference
/// (never the manifest behind the tag). RR_ERR_UNSUPPORTED when the registry has deletion
/// disabled (405) or does not delete tags; after a refused tag delete the library asks the
/// registry which of the two it is by deleting a digest no manifest has (which deletes
/// nothing), and the message says the one that holds.
///
/// # Safety
/// `client` NULL or live; `reference` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_delete(client: *mut rr_client, reference: *const c_char) -> rr_status {
    guard("rr_delete", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        write::delete(client, reference)
    })
}

/// Checks that the client may push to `reference`'s repository by opening an upload
/// session and cancelling it at once, leaving nothing behind. RR_OK, RR_ERR_UNAUTHORIZED
/// (no or rejected credentials) or RR_ERR_DENIED (accepted, but not allowed to push); other
/// statuses for other failures (e.g. RR_ERR_TRANSPORT).
///
/// # Safety
/// `client` NULL or live; `reference` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_check_push_permission(
    client: *mut rr_client,
    reference: *const c_char,
) -> rr_status {
    guard("rr_check_push_permission", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        write::check_push_permission(client, reference)
    })
}

/// PUTs `len` bytes at `bytes` as the manifest at `reference` (which must name a tag or a
/// digest), exactly as they are: nothing else is pushed, so the blobs and manifests they
/// name must be in the repository already (else the registry refuses, typically
/// RR_ERR_NOT_FOUND with `MANIFEST_BLOB_UNKNOWN`).
///
/// `media_type` is the Content-Type to send; NULL or `""` takes the bytes' own `mediaType`,
/// else what their shape says (`manifests`: an OCI index; `config` and `layers`: an OCI
/// image manifest). Checked before anything is sent, each failure RR_ERR_INVALID_ARGUMENT
/// with no request made: the bytes are a JSON object of at most 4 MiB; their own
/// `mediaType`, if any, is `media_type`; for an image or index media type they parse as
/// that manifest; a digest reference is their sha256. RR_ERR_UNSUPPORTED for a Docker
/// schema1 media type. Other media types (an artifact's own) go as given.
///
/// The bytes are read during the call only. On RR_OK, when `out` is not NULL, `*out`
/// receives the descriptor of what was sent (its digest, media type, size and these
/// bytes; `rr_descriptor_image` opens it from the registry), owned by the caller
/// (`rr_descriptor_free`); `out` may be NULL when it is not wanted. An addition to the API
/// contract.
///
/// # Safety
/// `client` NULL or live; `reference` NULL or NUL-terminated; `media_type` NULL or
/// NUL-terminated; `bytes` NULL or readable for `len` bytes; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_put_manifest(
    client: *mut rr_client,
    reference: *const c_char,
    media_type: *const c_char,
    bytes: *const u8,
    len: usize,
    out: *mut *mut rr_descriptor,
) -> rr_status {
    guard("rr_put_manifest", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        let media_type = opt_str_arg(media_type, "media_type")?;
        if bytes.is_null() {
            return Err(Error::invalid_argument("bytes is NULL"));
        }
        let bytes = std::slice::from_raw_parts(bytes, len);
        let sent = write::put(client, reference, media_type, bytes)?;
        if !out.is_null() {
            *out = descriptor::wrap(sent);
        }
        Ok(())
    })
}
