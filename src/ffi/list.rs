//! `rr_list`, `rr_catalog` and the `rr_string_list` they return.

use super::client::rr_client;
use super::{
    c_string, check_out, free_handle, guard, guard_getter, handle, into_handle, rr_status, str_arg,
};
use crate::remote::list;
use std::ffi::{c_char, CString};

/// A list of strings (tags or repositories). Immutable; safe to read from many threads.
pub struct rr_string_list {
    items: Vec<CString>,
}

/// A list handle owned by the caller.
pub(crate) fn string_list(items: Vec<String>) -> *mut rr_string_list {
    into_handle(rr_string_list {
        items: items.iter().map(|s| c_string(s)).collect(),
    })
}

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

/// The number of strings; 0 when `l` is NULL.
///
/// # Safety
/// `l` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn rr_string_list_len(l: *const rr_string_list) -> usize {
    guard_getter(0, || l.as_ref().map_or(0, |l| l.items.len()))
}

/// String `i`, or NULL when `l` is NULL or `i` is out of range. Belongs to `l`; valid
/// until `rr_string_list_free(l)`.
///
/// # Safety
/// `l` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn rr_string_list_get(l: *const rr_string_list, i: usize) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        l.as_ref()
            .and_then(|l| l.items.get(i))
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Releases a list. NULL is ignored. Must not be called twice with the same value.
///
/// # Safety
/// `l` must be NULL or a list from `rr_list`/`rr_catalog`.
#[no_mangle]
pub unsafe extern "C" fn rr_string_list_free(l: *mut rr_string_list) {
    free_handle(l)
}
