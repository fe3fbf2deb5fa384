//! OCI 1.1 referrers from C: listing them as an index, copies that bring them along, and
//! saving an artifact's files.

use super::client::rr_client;
use super::image::rr_image;
use super::index::rr_index;
use super::{check_out, guard, handle, opt_str_arg, rr_status, str_arg};
use crate::remote::referrers;
use std::ffi::c_char;
use std::path::Path;

/// Lists the referrers of the manifest at `reference` (`registry/repository@sha256:...`,
/// or a tag, resolved to its digest by one HEAD): the manifests whose `subject` names it,
/// such as signatures, SBOMs and attestations. With `artifact_type` (NULL or "" for all),
/// only the referrers of that artifact type.
///
/// The registry's referrers API is used when it has one (every `Link` page of its answer
/// is followed, and the filter is applied by rr when the registry's `OCI-Filters-Applied`
/// does not say it did). When the API answers 404 the fallback tag `sha256-<hex>` is read
/// instead, and each entry it lists is fetched: one that is gone or whose subject is
/// another manifest is left out (with a line in the request log), and a tag holding
/// something other than an index counts as no referrers. No referrers is RR_OK with an
/// empty index.
///
/// On RR_OK `*out` receives an OCI index owned by the caller (`rr_index_free`): its
/// children are the referrers, with their media type, digest, size, artifact type and
/// annotations (`rr_index_child_*`), and `rr_index_child_image` opens one. Its bytes
/// (`rr_index_manifest`) are the registry's answer when that was one page left whole,
/// else an index rr made of the entries kept. RR_ERR_INVALID_ARGUMENT when an argument
/// is NULL or not UTF-8, or `artifact_type` is not a media type (`type/subtype`).
/// An addition to the API contract.
///
/// # Safety
/// `client` NULL or live; `reference` NULL or NUL-terminated; `artifact_type` NULL or
/// NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_referrers(
    client: *mut rr_client,
    reference: *const c_char,
    artifact_type: *const c_char,
    out: *mut *mut rr_index,
) -> rr_status {
    guard("rr_referrers", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        let artifact_type = opt_str_arg(artifact_type, "artifact_type")?;
        check_out(out, "out")?;
        let found = referrers::referrers(client, reference, artifact_type)?;
        *out = rr_index::wrap(found.index);
        Ok(())
    })
}

/// Copies the image or index at `src_reference` to `dst_reference` as `rr_copy` does,
/// then every referrer of it, of each of an index's children, and of those referrers in
/// turn (a signature of an SBOM), to the destination repository under their digests,
/// byte for byte (mounted within one registry). Where the destination has no referrers
/// API, each copy is listed under its subject's fallback tag there. A referrer that is
/// neither an image nor an index is left out with a line in the request log. Progress
/// and cancellation as for `rr_copy`, per manifest copied. An addition to the API
/// contract.
///
/// # Safety
/// `client` NULL or live; both references NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_copy_with_referrers(
    client: *mut rr_client,
    src_reference: *const c_char,
    dst_reference: *const c_char,
) -> rr_status {
    guard("rr_copy_with_referrers", || {
        let client = &handle(client, "client")?.client;
        let src = str_arg(src_reference, "src_reference")?;
        let dst = str_arg(dst_reference, "dst_reference")?;
        referrers::copy_with_referrers(client, src, dst)
    })
}

/// Saves the files of the artifact `img` into the directory `dir` (created when
/// missing): every layer with an `org.opencontainers.image.title` annotation becomes the
/// file of that name, its content verified against the layer's digest, replacing a file
/// of that name. Layers without a title are not saved.
///
/// A title is used as a bare file name only: RR_ERR_INVALID_RESPONSE, with nothing
/// written, when one is empty, `.` or `..`, contains `/`, `\` or a NUL, or when two
/// layers share one. Every file is written beside its final name and renamed only once
/// all are verified, so a failed call leaves no file behind. With `files_out` non-NULL,
/// `*files_out` receives the number of files saved. An addition to the API contract.
///
/// # Safety
/// `img` NULL or live; `dir` NULL or NUL-terminated; `files_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_image_save_files(
    img: *const rr_image,
    dir: *const c_char,
    files_out: *mut usize,
) -> rr_status {
    guard("rr_image_save_files", || {
        let img = handle(img, "img")?;
        let dir = str_arg(dir, "dir")?;
        let saved = crate::artifact_files::save_files(&img.inner, Path::new(dir))?;
        if !files_out.is_null() {
            *files_out = saved.files.len();
        }
        Ok(())
    })
}
