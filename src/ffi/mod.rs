//! The C ABI. One file per C "class"; this module holds the boundary helpers every
//! export goes through: the panic guard, argument checks and handle conversions.
//! Nothing outside `ffi` knows about C.

#![allow(non_camel_case_types)]

pub mod artifact;
pub mod blob;
pub mod builder;
pub mod callbacks;
pub mod client;
pub mod credential;
pub mod descriptor;
pub mod error;
pub mod image;
pub mod index;
pub mod layout;
pub mod list;
pub mod platform;
pub mod progress;
pub mod reference;
pub mod referrers;
pub mod status;
pub mod string_list;
pub mod transport;
pub mod write;

pub use status::rr_status;

use crate::error::{Error, ErrorKind, Result};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs the body of an export that returns `rr_status`: catches panics, records the
/// thread's last error on failure and clears it on success.
pub(crate) fn guard(name: &str, body: impl FnOnce() -> Result<()>) -> rr_status {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        Err(Error::new(
            ErrorKind::Panic,
            format!(
                "{name}: internal error in librr (please report it): {}",
                panic_message(payload.as_ref())
            ),
        ))
    });
    match outcome {
        Ok(()) => {
            error::clear();
            rr_status::RR_OK
        }
        Err(e) => error::set(e),
    }
}

/// Runs the body of a getter: a panic gives `fallback`; the last error is not touched.
pub(crate) fn guard_getter<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// A required string argument.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::invalid_argument(format!("{name} is NULL")));
    }
    CStr::from_ptr(ptr)
        .to_str()
        .map_err(|_| Error::invalid_argument(format!("{name} is not valid UTF-8")))
}

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string.
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        str_arg(ptr, name).map(Some)
    }
}

/// A required handle argument.
///
/// # Safety
/// `ptr` must be NULL or a live handle of type `T`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    ptr.as_ref()
        .ok_or_else(|| Error::invalid_argument(format!("{name} is NULL")))
}

/// Checks an out-parameter before any work is done.
pub(crate) fn check_out<T>(out: *mut T, name: &str) -> Result<()> {
    if out.is_null() {
        Err(Error::invalid_argument(format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// Gives a Rust value to C as an owned handle.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by `into_handle`; NULL is ignored.
///
/// # Safety
/// `ptr` must be NULL or come from `into_handle::<T>` and not have been freed.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(ptr))));
    }
}

/// A C string for text that came from a registry; an interior NUL (which JSON allows)
/// is dropped rather than failing.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| CString::new(s.replace('\0', "")).expect("NULs removed"))
}

/// An optional string from a registry as a C string kept in a handle (NULL when absent).
pub(crate) fn opt_c_string(s: Option<&str>) -> Option<CString> {
    s.map(c_string)
}

/// The pointer a getter returns for an optional string kept in a handle.
pub(crate) fn opt_ptr(s: Option<&CString>) -> *const c_char {
    s.map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Annotations (of a manifest or a descriptor) as C strings kept in a handle, in key
/// order, for the `*_annotation`, `*_annotation_count`, `*_annotation_key` and
/// `*_annotation_value` getters.
#[derive(Default)]
pub(crate) struct CAnnotations(Vec<(CString, CString)>);

impl CAnnotations {
    pub(crate) fn new(map: &std::collections::BTreeMap<String, String>) -> CAnnotations {
        CAnnotations(
            map.iter()
                .map(|(k, v)| (c_string(k), c_string(v)))
                .collect(),
        )
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
    pub(crate) fn key(&self, j: usize) -> *const c_char {
        self.0.get(j).map_or(std::ptr::null(), |(k, _)| k.as_ptr())
    }
    pub(crate) fn value(&self, j: usize) -> *const c_char {
        self.0.get(j).map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    }
    /// The value of `key`; NULL when absent or when `key` is NULL or not UTF-8 (a getter
    /// sets no error, so a bad key is simply not found).
    ///
    /// # Safety
    /// `key` must be NULL or point to a NUL-terminated string.
    pub(crate) unsafe fn lookup(&self, key: *const c_char) -> *const c_char {
        if key.is_null() {
            return std::ptr::null();
        }
        let key = CStr::from_ptr(key);
        if key.to_str().is_err() {
            return std::ptr::null();
        }
        self.0
            .iter()
            .find(|(k, _)| k.as_c_str() == key)
            .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    }
}

/// Writes a byte slice's address and length to out-parameters.
///
/// # Safety
/// Both pointers must be valid for writes (checked non-NULL by the caller).
pub(crate) unsafe fn write_bytes(bytes: &[u8], out: *mut *const u8, out_len: *mut usize) {
    *out = bytes.as_ptr();
    *out_len = bytes.len();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_rr_err_panic_with_a_message() {
        let status = guard("rr_test", || panic!("boom"));
        assert_eq!(status, rr_status::RR_ERR_PANIC);
        let msg = unsafe { CStr::from_ptr(error::rr_error_message()) }
            .to_string_lossy()
            .into_owned();
        assert!(msg.contains("rr_test") && msg.contains("boom"), "{msg}");
        assert_eq!(guard_getter(7, || panic!("getter")), 7);
    }

    #[test]
    fn registry_text_with_nul_still_becomes_a_c_string() {
        assert_eq!(c_string("a\0b").as_bytes(), b"ab");
    }
}
