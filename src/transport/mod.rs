//! The HTTP side of talking to a registry: the exchange itself (`http`, `ureq_backend`),
//! TLS and proxies (`tls`, `certs_d`, `proxy`), the ping and scheme choice (remembered between processes by `ping_store`), the auth handshake (`challenge`, `token`), redirects with
//! credential hygiene, retries, turning refusals into errors (`status`), and the rate limits
//! registries announce (`rate_limit`).

pub mod cache;
pub mod certs_d;
pub mod challenge;
pub mod context;
pub mod credentials;
pub mod http;
pub mod log;
pub mod ping_store;
pub mod proxy;
pub mod rate_limit;
pub mod redact;
pub mod retry;
pub mod session;
pub mod status;
pub mod tls;
pub mod token;
pub mod ureq_backend;
pub mod watch;

pub use cache::Shared;
pub use context::{Attempts, Context};
pub use credentials::{AuthCallback, CredentialSettings};
pub use http::{Body, BodySource, Exchange, Request, Response};
pub use log::LogSink;
pub use retry::is_retryable;
pub use retry::RetryPolicy;
pub use session::Session;
