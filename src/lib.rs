//! librr: a container-registry client with a C ABI.
//!
//! The core (everything outside `ffi`) is synchronous Rust that knows nothing of C.
//! Modules follow the concepts of the distribution protocol:
//! references (`name`), platforms (`platform`), manifests and media types (`manifest`),
//! credentials (`authn`), the HTTP and auth handshake (`transport`), the remote
//! operations (`remote`), pull mirrors from registries.conf (`registries`) and the image
//! model (`image`, `index`, `convert`).

pub mod artifact_files;
pub mod authn;
pub mod builder;
pub mod convert;
pub mod digest;
pub mod error;
pub mod ffi;
pub mod image;
pub mod index;
pub mod layout;
pub mod manifest;
pub mod name;
pub mod parallel;
pub mod plan;
pub mod platform;
pub mod registries;
pub mod remote;
pub mod source;
pub mod transport;

pub use error::{Error, ErrorKind, Result};

/// The library version, as `rr_version()` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
