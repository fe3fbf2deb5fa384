//! `rr_list` and `rr_catalog`: tags and repositories, as an `rr_string_list`;
//! `rr_list_pages` and `rr_catalog_pages`, which hand the host one page at a time.

use super::client::rr_client;
use super::string_list::{rr_string_list, string_list};
use super::{c_string, check_out, guard, handle, rr_status, str_arg};
use crate::error::{Error, Result};
use crate::remote::list;
use std::ffi::{c_char, c_void, CString};

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

/// Receives one page of a listing: `count` NUL-terminated strings at `entries` (never 0),
/// valid only during the call. Return 0 to go on, non-zero to stop the listing, which then
/// returns RR_ERR_CANCELLED.
pub type rr_page_fn = Option<
    unsafe extern "C" fn(userdata: *mut c_void, entries: *const *const c_char, count: usize) -> i32,
>;

/// Runs a page-by-page listing, giving each page to the host's `fn`.
///
/// # Safety
/// `fn` must be a valid function for `userdata`.
unsafe fn to_host(
    f: rr_page_fn,
    userdata: *mut c_void,
    what: &str,
    list: impl FnOnce(&mut dyn FnMut(Vec<String>) -> Result<()>) -> Result<()>,
) -> Result<()> {
    let f = f.ok_or_else(|| Error::invalid_argument("fn is NULL"))?;
    let mut pages = 0usize;
    list(&mut |page| {
        pages += 1;
        // The page's strings live until the callback returns; only one page is held.
        let strings: Vec<CString> = page.iter().map(|s| c_string(s)).collect();
        let pointers: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        let rc = f(userdata, pointers.as_ptr(), pointers.len());
        if rc != 0 {
            return Err(Error::cancelled(format!(
                "{what}: the page callback returned {rc} at page {pages}, which stops the listing"
            )));
        }
        Ok(())
    })
}

/// Every tag of `repository`, each once, as `rr_list` finds them, given to `fn` one
/// registry page at a time as the pages arrive: the library holds the page at hand and an
/// 8-byte hash of each tag given (to give none twice), never the whole list, so a
/// repository with 100 000 tags costs about 1 MiB besides one page. The page size is the
/// registry's own, or what `rr_client_set_page_size` asks for.
///
/// `fn` is called on the calling thread, never with an empty page (a repository without
/// tags gives no call); the strings are valid during the call only. Its non-zero return
/// stops the listing before the next request and gives RR_ERR_CANCELLED (the host asked to
/// stop; no failure). RR_ERR_INVALID_ARGUMENT when `fn` is NULL. Other statuses as
/// `rr_list`; a failure part-way comes after the pages before it were given to `fn`. An
/// addition to the API contract.
///
/// # Safety
/// `client` NULL or live; `repository` NULL or NUL-terminated; `fn` NULL or a valid
/// function.
#[no_mangle]
pub unsafe extern "C" fn rr_list_pages(
    client: *mut rr_client,
    repository: *const c_char,
    r#fn: rr_page_fn,
    userdata: *mut c_void,
) -> rr_status {
    guard("rr_list_pages", || {
        let client = &handle(client, "client")?.client;
        let repository = str_arg(repository, "repository")?;
        let what = format!("listing the tags of {repository}");
        to_host(r#fn, userdata, &what, |on_page| {
            list::list_pages(client, repository, on_page)
        })
    })
}

/// Every repository of `registry` (`host[:port]`), a page at a time, as `rr_list_pages`
/// gives tags. An addition to the API contract.
///
/// # Safety
/// As for `rr_list_pages`.
#[no_mangle]
pub unsafe extern "C" fn rr_catalog_pages(
    client: *mut rr_client,
    registry: *const c_char,
    r#fn: rr_page_fn,
    userdata: *mut c_void,
) -> rr_status {
    guard("rr_catalog_pages", || {
        let client = &handle(client, "client")?.client;
        let registry = str_arg(registry, "registry")?;
        let what = format!("listing the repositories of {registry}");
        to_host(r#fn, userdata, &what, |on_page| {
            list::catalog_pages(client, registry, on_page)
        })
    })
}
