//! A log of every HTTP exchange an operation makes, for hosts that want to see the
//! traffic (`rr -v`): method, URL with secrets masked, status and time taken. Headers and
//! bodies are never logged.

use super::http::{Exchange, Request, Response};
use super::redact;
use crate::error::Result;
use std::sync::Arc;
use std::time::Instant;

/// Where log lines go. Lines are one line each and hold no credentials.
pub trait LogSink: Send + Sync {
    fn line(&self, text: &str);
}

/// An exchange that logs each request and its outcome before handing it on.
pub struct LoggingExchange {
    pub inner: Arc<dyn Exchange>,
    pub sink: Arc<dyn LogSink>,
}

impl Exchange for LoggingExchange {
    fn exchange(&self, request: &Request) -> Result<Response> {
        let started = Instant::now();
        let outcome = self.inner.exchange(request);
        let ms = started.elapsed().as_millis();
        let url = redact::url(&request.url);
        let text = match &outcome {
            Ok(r) => format!("{} {url} -> {} ({ms} ms)", request.method, r.status),
            Err(e) => format!(
                "{} {url} -> failed after {ms} ms: {}",
                request.method, e.message
            ),
        };
        self.sink.line(&text);
        outcome
    }
}
