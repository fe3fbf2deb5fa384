//! The one error type of the core. The FFI layer maps it to `rr_status` and the
//! thread-local last-error getters in exactly one place (`ffi::error`).

use std::fmt;

/// What went wrong, in the classes a caller can act on. The discriminants are the
/// `rr_status` values of the C API and must never be renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidArgument = 1,
    InvalidReference = 2,
    NotFound = 3,
    Unauthorized = 4,
    Denied = 5,
    TooManyRequests = 6,
    DigestMismatch = 7,
    Unsupported = 8,
    InvalidResponse = 9,
    Registry = 10,
    Transport = 11,
    Io = 12,
    Cancelled = 13,
    Callback = 14,
    Panic = 15,
}

/// A failure with everything a person needs to act on it: the class, one line saying
/// what failed on which reference or URL and why, and the registry's own answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// The HTTP status behind the error, 0 if none.
    pub http_status: u16,
    /// The first distribution-spec error code of the registry's error body.
    pub registry_code: Option<String>,
    /// The wait the server asked for (`Retry-After`) with the answer behind the error, so
    /// that whoever retries a larger unit (an upload) waits at least that long.
    pub retry_after: Option<std::time::Duration>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        // The C contract promises one line.
        if message.contains(['\n', '\r']) {
            message = message.replace(['\n', '\r'], " ");
        }
        Error {
            kind,
            message,
            http_status: 0,
            registry_code: None,
            retry_after: None,
        }
    }

    pub fn with_http(mut self, status: u16, registry_code: Option<String>) -> Self {
        self.http_status = status;
        self.registry_code = registry_code;
        self
    }

    /// Puts what was being done in front of the message, keeping class and HTTP details.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }
    pub fn invalid_reference(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidReference, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unsupported, message)
    }
    pub fn invalid_response(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidResponse, message)
    }
    pub fn transport(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Transport, message)
    }
    pub fn io(what: impl fmt::Display, err: &std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{what}: {err}"))
    }
    pub fn digest_mismatch(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::DigestMismatch, message)
    }
    pub fn cancelled(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Cancelled, message)
    }
    pub fn callback(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Callback, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// Wraps this error for a `Read`/`Write` implementation, so that `from_io` can recover
    /// it intact on the other side of a library that only passes `io::Error` through.
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }

    /// The `Error` carried by `err` (see `into_io`), or an error of class `kind` saying
    /// what failed.
    pub fn from_io(err: &std::io::Error, kind: ErrorKind, what: impl fmt::Display) -> Self {
        match find_wrapped(err) {
            Some(inner) => inner.clone(),
            None => Error::new(kind, format!("{what}: {err}")),
        }
    }
}

pub(crate) fn find_wrapped<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<Error>() {
            return Some(found);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(found) = inner.downcast_ref::<Error>() {
                    return Some(found);
                }
            }
        }
        current = e.source();
    }
    None
}
