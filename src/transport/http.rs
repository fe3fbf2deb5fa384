//! The HTTP exchange the rest of the library is written against: one request, one
//! response, no redirects followed. The default implementation is ureq (`ureq_backend`);
//! a C host can supply its own (`rr_client_set_transport`).

use crate::error::{Error, Result};
use std::io::Read;
use std::sync::Arc;
use url::Url;

/// A request body that can be produced again, so that a request can be re-sent after a
/// redirect, a re-authentication or a retry without the caller's help.
pub trait BodySource: Send + Sync {
    /// Opens a fresh reader over the whole body.
    fn open(&self) -> Result<Box<dyn Read + Send>>;
    /// The exact length, when known.
    fn len(&self) -> Option<u64>;
    fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

#[derive(Clone, Default)]
pub enum Body {
    #[default]
    Empty,
    Bytes(Arc<[u8]>),
    Source(Arc<dyn BodySource>),
}

impl Body {
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Source(s) => s.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        match self {
            Body::Empty => Ok(Box::new(std::io::empty())),
            Body::Bytes(b) => Ok(Box::new(std::io::Cursor::new(b.clone()))),
            Body::Source(s) => s.open(),
        }
    }
}

#[derive(Clone)]
pub struct Request {
    pub method: &'static str,
    pub url: Url,
    /// Every header to send, Authorization and User-Agent included.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// The registry (`host[:port]`) a request to another host is made for: the token
    /// realm's. Its per-registry TLS and proxy settings apply when the URL's own host has
    /// none, so that a registry's client certificate also reaches its token endpoint.
    pub for_registry: Option<String>,
    /// Cancellation and limits of the operation the request belongs to, set by
    /// `Context` just before an exchange; an exchange that blocks (the library's own HTTP
    /// client) watches them while it waits.
    pub control: Option<super::watch::Control>,
}

impl Request {
    pub fn new(method: &'static str, url: Url) -> Request {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: Body::Empty,
            for_registry: None,
            control: None,
        }
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.set_header(name, value);
        self
    }
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
    }
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }
}

/// A response whose body is read lazily. Dropping it closes the body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The URL that answered (after redirects, when the caller followed them).
    pub url: Url,
    pub body: Box<dyn Read + Send>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &super::redact::url(&self.url))
            .finish_non_exhaustive()
    }
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }

    /// Reads the whole body, refusing one larger than `limit` without allocating what a
    /// server claims.
    pub fn read_limited(&mut self, limit: u64, what: &str) -> Result<Vec<u8>> {
        if let Some(len) = self.content_length() {
            if len > limit {
                return Err(Error::invalid_response(format!(
                    "{what}: body of {len} bytes is over the {limit}-byte limit"
                )));
            }
        }
        let mut buf = Vec::new();
        let read = (&mut self.body)
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| {
                // A cancellation or deadline seen while reading keeps its own class.
                Error::from_io(
                    &e,
                    crate::error::ErrorKind::Transport,
                    format!("{what}: reading the body failed"),
                )
            })?;
        if read as u64 > limit {
            return Err(Error::invalid_response(format!(
                "{what}: body is over the {limit}-byte limit"
            )));
        }
        if let Some(len) = self.content_length() {
            if (buf.len() as u64) < len {
                return Err(Error::transport(format!(
                    "{what}: body ended after {} of {len} bytes",
                    buf.len()
                )));
            }
        }
        Ok(buf)
    }

    /// Reads and discards up to a small amount so the connection can be reused.
    pub fn drain(mut self) {
        let _ = std::io::copy(&mut (&mut self.body).take(64 * 1024), &mut std::io::sink());
    }
}

/// One HTTP exchange. Implementations must not follow redirects.
pub trait Exchange: Send + Sync {
    fn exchange(&self, request: &Request) -> Result<Response>;
}
