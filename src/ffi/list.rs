//! `rr_list` and `rr_catalog`: tags and repositories, as an `rr_string_list`.

use super::client::rr_client;
use super::string_list::{rr_string_list, string_list};
use super::{check_out, guard, handle, rr_status, str_arg};
use crate::remote::list;
use std::ffi::c_char;

/// Every tag of `repository` (`registry/repository`, no tag or digest: those are
/// RR_ERR_INVALID_REFERENCE), every page of them, each tag once: `Link` headers are
/// followed, a full page without `Link` is followed with `last=`, a refused page size is
/// asked again without `n` (see `rr_client_set_page_size`). `*out` is owned by the caller
/// (`rr_string_list_free`).
///
/// # Safety
/// `client` NULL or live; `repository` NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_list(
    client: *mut rr_client,
    repository: *const c_char,
    out: *mut *mut rr_string_list,
) -> rr_status {
    guard("rr_list", || {
        let client = &handle(client, "client")?.client;
        let repository = str_arg(repository, "repository")?;
        check_out(out, "out")?;
        *out = string_list(list::list(client, repository)?);
        Ok(())
    })
}

/// Every repository of `registry` (`host[:port]`), every page of them, as `rr_list`
/// follows them. Ownership as `rr_list`.
///
/// # Safety
/// As for `rr_list`.
#[no_mangle]
pub unsafe extern "C" fn rr_catalog(
    client: *mut rr_client,
    registry: *const c_char,
    out: *mut *mut rr_string_list,
) -> rr_status {
    guard("rr_catalog", || {
        let client = &handle(client, "client")?.client;
        let registry = str_arg(registry, "registry")?;
        check_out(out, "out")?;
        *out = string_list(list::catalog(client, registry)?);
        Ok(())
    })
}
