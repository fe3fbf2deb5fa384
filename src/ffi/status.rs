//! `rr_status`: the result of every fallible call, fixed values that are never renumbered.

use crate::error::ErrorKind;
use std::ffi::c_char;

/// The result of every fallible call. `RR_OK` is 0, so `if (rc)` tests for failure.
/// Values are fixed and never renumbered.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rr_status {
    /// Success.
    RR_OK = 0,
    /// A NULL or invalid pointer, bad UTF-8, an option out of range, an index out of range.
    RR_ERR_INVALID_ARGUMENT = 1,
    /// A reference, repository, registry, digest or platform string that does not parse.
    RR_ERR_INVALID_REFERENCE = 2,
    /// 404, MANIFEST_UNKNOWN, BLOB_UNKNOWN, NAME_UNKNOWN, or no child matches the platform.
    RR_ERR_NOT_FOUND = 3,
    /// Credentials missing or rejected (401 after the auth handshake).
    RR_ERR_UNAUTHORIZED = 4,
    /// Authenticated but not allowed (403, DENIED, or a token without the needed scope).
    RR_ERR_DENIED = 5,
    /// 429 still returned after the retry budget.
    RR_ERR_TOO_MANY_REQUESTS = 6,
    /// Content did not hash to its digest, or sizes disagree.
    RR_ERR_DIGEST_MISMATCH = 7,
    /// Schema1 manifests, unknown manifest media types, an operation the registry does
    /// not offer (e.g. delete disabled, 405).
    RR_ERR_UNSUPPORTED = 8,
    /// Malformed JSON, missing required headers, a body over its size limit.
    RR_ERR_INVALID_RESPONSE = 9,
    /// Any other registry error (5xx after retries, other error codes).
    RR_ERR_REGISTRY = 10,
    /// Connection, DNS, TLS or timeout failures.
    RR_ERR_TRANSPORT = 11,
    /// Local file or directory errors.
    RR_ERR_IO = 12,
    /// A progress callback returned non-zero.
    RR_ERR_CANCELLED = 13,
    /// A host callback (auth, transport, body reader or writer) reported failure.
    RR_ERR_CALLBACK = 14,
    /// A bug inside the library, caught at the boundary.
    RR_ERR_PANIC = 15,
}

impl From<ErrorKind> for rr_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => rr_status::RR_ERR_INVALID_ARGUMENT,
            ErrorKind::InvalidReference => rr_status::RR_ERR_INVALID_REFERENCE,
            ErrorKind::NotFound => rr_status::RR_ERR_NOT_FOUND,
            ErrorKind::Unauthorized => rr_status::RR_ERR_UNAUTHORIZED,
            ErrorKind::Denied => rr_status::RR_ERR_DENIED,
            ErrorKind::TooManyRequests => rr_status::RR_ERR_TOO_MANY_REQUESTS,
            ErrorKind::DigestMismatch => rr_status::RR_ERR_DIGEST_MISMATCH,
            ErrorKind::Unsupported => rr_status::RR_ERR_UNSUPPORTED,
            ErrorKind::InvalidResponse => rr_status::RR_ERR_INVALID_RESPONSE,
            ErrorKind::Registry => rr_status::RR_ERR_REGISTRY,
            ErrorKind::Transport => rr_status::RR_ERR_TRANSPORT,
            ErrorKind::Io => rr_status::RR_ERR_IO,
            ErrorKind::Cancelled => rr_status::RR_ERR_CANCELLED,
            ErrorKind::Callback => rr_status::RR_ERR_CALLBACK,
            ErrorKind::Panic => rr_status::RR_ERR_PANIC,
        }
    }
}

/// The name of a status as a static string, e.g. `"RR_ERR_NOT_FOUND"`; `"RR_UNKNOWN"` for
/// a value that is not a status. Never NULL; the string is static and must not be freed.
/// Does not touch the thread's last error. Takes any `rr_status` value (the parameter is
/// a plain integer so that a value outside the enum is still safe to pass).
#[no_mangle]
pub extern "C" fn rr_status_name(status: i32) -> *const c_char {
    let name: &'static std::ffi::CStr = match status {
        0 => c"RR_OK",
        1 => c"RR_ERR_INVALID_ARGUMENT",
        2 => c"RR_ERR_INVALID_REFERENCE",
        3 => c"RR_ERR_NOT_FOUND",
        4 => c"RR_ERR_UNAUTHORIZED",
        5 => c"RR_ERR_DENIED",
        6 => c"RR_ERR_TOO_MANY_REQUESTS",
        7 => c"RR_ERR_DIGEST_MISMATCH",
        8 => c"RR_ERR_UNSUPPORTED",
        9 => c"RR_ERR_INVALID_RESPONSE",
        10 => c"RR_ERR_REGISTRY",
        11 => c"RR_ERR_TRANSPORT",
        12 => c"RR_ERR_IO",
        13 => c"RR_ERR_CANCELLED",
        14 => c"RR_ERR_CALLBACK",
        15 => c"RR_ERR_PANIC",
        _ => c"RR_UNKNOWN",
    };
    name.as_ptr()
}

/// The library version (`"MAJOR.MINOR.PATCH"`), static: never freed, never NULL.
/// Agrees with the `RR_VERSION_*` macros of the header it was built with.
#[no_mangle]
pub extern "C" fn rr_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
