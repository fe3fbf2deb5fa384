//! The calling thread's last error: message, HTTP status and registry code, readable
//! after a failed call until the next `rr_` call on the same thread.

use super::{c_string, rr_status};
use crate::error::Error;
use std::cell::RefCell;
use std::ffi::{c_char, CString};

#[derive(Default)]
struct LastError {
    message: CString,
    http_status: u16,
    registry_code: Option<CString>,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError::default());
}

/// Records `e` as this thread's last error and returns its status.
pub(crate) fn set(e: Error) -> rr_status {
    let status = rr_status::from(e.kind);
    let message = if e.message.is_empty() {
        "unknown error".to_string()
    } else {
        e.message
    };
    LAST_ERROR.with(|last| {
        *last.borrow_mut() = LastError {
            message: c_string(&message),
            http_status: e.http_status,
            registry_code: e.registry_code.as_deref().map(c_string),
        }
    });
    status
}

pub(crate) fn clear() {
    LAST_ERROR.with(|last| *last.borrow_mut() = LastError::default());
}

/// One line describing the calling thread's last failure: what failed, on which
/// reference or URL, and why (credentials and signed query strings removed).
/// Never NULL: "" when the last call succeeded. The string belongs to the library and
/// stays valid until the next `rr_` call on this thread (other than the error getters,
/// `rr_status_name` and `rr_version`).
#[no_mangle]
pub extern "C" fn rr_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|last| last.borrow().message.as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// The HTTP status behind the calling thread's last failure; 0 when there was none.
#[no_mangle]
pub extern "C" fn rr_error_http_status() -> u16 {
    LAST_ERROR
        .try_with(|last| last.borrow().http_status)
        .unwrap_or(0)
}

/// The first distribution-spec error code (`MANIFEST_UNKNOWN`, `DENIED`, ...) of the
/// registry's error body behind the calling thread's last failure, or NULL (always NULL
/// after a HEAD, which has no body). Valid as `rr_error_message`'s result is.
#[no_mangle]
pub extern "C" fn rr_error_registry_code() -> *const c_char {
    LAST_ERROR
        .try_with(|last| {
            last.borrow()
                .registry_code
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr())
        })
        .unwrap_or(std::ptr::null())
}
