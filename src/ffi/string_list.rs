//! `rr_string_list`: the list of strings (tags, repositories, registries) some calls return.

use super::{c_string, free_handle, guard_getter, into_handle};
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
/// `l` must be NULL or a list from `rr_list`, `rr_catalog` or another call that returns one.
#[no_mangle]
pub unsafe extern "C" fn rr_string_list_free(l: *mut rr_string_list) {
    free_handle(l)
}
