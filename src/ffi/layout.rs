//! OCI image layout directories: `rr_layout_read_image`, `rr_layout_read_index`,
//! `rr_layout_write_image` and `rr_layout_write_index`.

use super::client::rr_client;
use super::image::rr_image;
use super::index::rr_index;
use super::{check_out, guard, handle, opt_str_arg, rr_status, str_arg};
use crate::layout;
use std::ffi::c_char;
use std::path::Path;

/// Opens the image named `name` (its `org.opencontainers.image.ref.name` annotation in
/// `index.json`) in the OCI layout at `dir`, or the only manifest when `name` is NULL
/// (RR_ERR_INVALID_ARGUMENT when there are several). An entry that is an index resolves to
/// its linux/amd64 image. RR_ERR_NOT_FOUND for an unknown name; RR_ERR_IO when `dir` does
/// not exist or is not a directory; RR_ERR_INVALID_ARGUMENT when it is a directory but not
/// an OCI layout. Blobs are read (and verified) when used. `*out` is
/// owned by the caller (`rr_image_free`).
///
/// # Safety
/// `dir` NULL or NUL-terminated; `name` NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_layout_read_image(
    dir: *const c_char,
    name: *const c_char,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_layout_read_image", || {
        let dir = str_arg(dir, "dir")?;
        let name = opt_str_arg(name, "name")?;
        check_out(out, "out")?;
        *out = rr_image::wrap(layout::read_image(Path::new(dir), name)?);
        Ok(())
    })
}

/// Opens the `index.json` of the OCI layout at `dir` as an index; its digest is the
/// sha256 of `index.json`. `*out` is owned by the caller (`rr_index_free`).
///
/// # Safety
/// `dir` NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_layout_read_index(
    dir: *const c_char,
    out: *mut *mut rr_index,
) -> rr_status {
    guard("rr_layout_read_index", || {
        let dir = str_arg(dir, "dir")?;
        check_out(out, "out")?;
        *out = rr_index::wrap(layout::read_index(Path::new(dir))?);
        Ok(())
    })
}

/// Writes `img` into the OCI layout at `dir` (created when missing): every blob streamed
/// from the image's source, verified, and written atomically (blobs already present are
/// kept), then an `index.json` entry, named `name` when not NULL (replacing an entry of
/// that name). On failure no blob file is partial and `index.json` is unchanged. Progress
/// and cancellation through the client's progress callback.
///
/// # Safety
/// `client` and `img` NULL or live; `dir` NULL or NUL-terminated; `name` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_layout_write_image(
    client: *mut rr_client,
    dir: *const c_char,
    img: *const rr_image,
    name: *const c_char,
) -> rr_status {
    guard("rr_layout_write_image", || {
        let client = &handle(client, "client")?.client;
        let dir = str_arg(dir, "dir")?;
        let img = handle(img, "img")?;
        let name = opt_str_arg(name, "name")?;
        layout::write_image(client, Path::new(dir), &img.inner, name)
    })
}

/// Writes `idx`, its children and all their blobs into the OCI layout at `dir`, then an
/// `index.json` entry for the index, as `rr_layout_write_image` does for an image.
///
/// # Safety
/// `client` and `idx` NULL or live; `dir` NULL or NUL-terminated; `name` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_layout_write_index(
    client: *mut rr_client,
    dir: *const c_char,
    idx: *const rr_index,
    name: *const c_char,
) -> rr_status {
    guard("rr_layout_write_index", || {
        let client = &handle(client, "client")?.client;
        let dir = str_arg(dir, "dir")?;
        let idx = handle(idx, "idx")?;
        let name = opt_str_arg(name, "name")?;
        layout::write_index(client, Path::new(dir), &idx.inner, name)
    })
}
