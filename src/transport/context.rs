//! Everything one operation needs to talk to registries: the exchange (the library's
//! HTTP client or the host's), the settings, the client's caches, cancellation, and the
//! exchange with retries that every request goes through.

use super::cache::Shared;
use super::credentials::{CredentialSettings, OperationCredentials};
use super::http::{Exchange, Request, Response};
use super::log::LogSink;
use super::ping_store::PingStore;
use super::retry::{is_retryable_error, is_retryable_status, parse_retry_after, RetryPolicy};
use super::watch::{self, CancelProbe, Control, Limits};
use crate::error::Result;
use crate::name::Registry;
use crate::registries::Registries;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Everything one operation needs to talk to registries.
pub struct Context {
    pub exchange: Arc<dyn Exchange>,
    pub user_agent: String,
    /// Registries (`host[:port]`) allowed over plain http and unverified TLS.
    pub insecure: Vec<String>,
    /// Registries reached over plain http only (`rr_client_set_plain_http`).
    pub plain_http: Vec<String>,
    pub retry: RetryPolicy,
    pub credentials: CredentialSettings,
    pub shared: Arc<Shared>,
    /// Set when the host cancels: its progress callback returned non-zero, or a handle
    /// the operation runs under was cancelled (copied from `handles` when seen).
    pub cancelled: Arc<AtomicBool>,
    /// The registries.conf entries: where reads may be served from besides the origin.
    pub registries: Arc<Registries>,
    /// The host's request log, for the lines that are not one exchange (a mirror left
    /// behind).
    pub log: Option<Arc<dyn LogSink>>,
    /// The cancellation flags of the handles the operation runs under (`rr_client_cancel`
    /// of the handle or of a client it was derived from).
    pub handles: Arc<[Arc<AtomicBool>]>,
    /// The operation's deadline and the timeouts of each exchange.
    pub limits: Limits,
    pub(crate) op_credentials: OperationCredentials,
    /// Where pings are remembered between processes (`rr_client_set_ping_cache_dir`).
    pub ping_store: Option<PingStore>,
    single_attempt: OnceLock<Arc<Context>>,
}

impl Context {
    pub fn new(
        exchange: Arc<dyn Exchange>,
        user_agent: String,
        insecure: Vec<String>,
        retry: RetryPolicy,
        credentials: CredentialSettings,
        shared: Arc<Shared>,
    ) -> Context {
        Context {
            exchange,
            user_agent,
            insecure,
            plain_http: Vec::new(),
            retry,
            credentials,
            shared,
            cancelled: Arc::new(AtomicBool::new(false)),
            registries: Arc::new(Registries::default()),
            log: None,
            handles: Arc::new([]),
            limits: Limits::default(),
            op_credentials: OperationCredentials::default(),
            ping_store: None,
            single_attempt: OnceLock::new(),
        }
    }

    /// This context sending each request once (no retries, no resumed bodies), for
    /// sources that are not the authority on what they serve: a mirror that fails is left
    /// for the next source at once rather than waited for. Cancelled with this one.
    pub fn single_attempt(&self) -> Arc<Context> {
        self.single_attempt
            .get_or_init(|| {
                let mut ctx = Context::new(
                    self.exchange.clone(),
                    self.user_agent.clone(),
                    self.insecure.clone(),
                    RetryPolicy {
                        max_attempts: 1,
                        ..self.retry
                    },
                    self.credentials.clone(),
                    self.shared.clone(),
                );
                ctx.cancelled = self.cancelled.clone();
                ctx.plain_http = self.plain_http.clone();
                ctx.ping_store = self.ping_store.clone();
                ctx.handles = self.handles.clone();
                ctx.limits = self.limits;
                ctx.registries = self.registries.clone();
                ctx.log = self.log.clone();
                Arc::new(ctx)
            })
            .clone()
    }

    /// A line in the host's request log, when it keeps one.
    pub fn log_line(&self, text: &str) {
        if let Some(log) = &self.log {
            log.line(text);
        }
    }

    pub fn probe(&self) -> CancelProbe {
        CancelProbe {
            op: self.cancelled.clone(),
            handles: self.handles.clone(),
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst) || self.probe().is_cancelled()
    }

    /// RR_ERR_CANCELLED once the host cancelled; RR_ERR_TRANSPORT once the operation's
    /// deadline passed.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.is_cancelled() {
            return Err(watch::cancelled_error());
        }
        if let Some((at, set)) = self.limits.deadline {
            if Instant::now() >= at {
                return Err(watch::deadline_error("the operation", set));
            }
        }
        Ok(())
    }

    /// Sleeps, waking early (with RR_ERR_CANCELLED) when the operation is cancelled and
    /// failing when its deadline passes first.
    pub fn sleep(&self, duration: Duration) -> Result<()> {
        let end = Instant::now() + duration;
        loop {
            self.check_cancelled()?;
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }

    /// Sends `request` once through the exchange, under the operation's cancellation
    /// and limits (`cleanup`: also when cancelled, within a short budget).
    pub fn send_once(&self, request: &Request, cleanup: bool) -> Result<Response> {
        if !cleanup {
            self.check_cancelled()?;
        }
        let mut request = request.clone();
        // A POST opens an upload session, a PATCH or PUT moves or commits it.
        let uploads = matches!(request.method, "POST" | "PATCH" | "PUT");
        request.control = Some(Control {
            cancel: self.probe(),
            limits: self.limits,
            cleanup,
            grace: if uploads {
                watch::UPLOAD_GRACE
            } else {
                Duration::ZERO
            },
        });
        let sent = Instant::now();
        let answer = self.exchange.exchange(&request);
        if answer.is_ok() && matches!(request.body, super::http::Body::Empty) {
            self.shared
                .record_answer(&host_port(&request.url), sent.elapsed());
        }
        answer
    }

    /// The quickest answer `registry` gave this client (an estimate of the round trip to
    /// it), keyed as `host_port` keys a URL: without a port, over https or http.
    pub fn fastest_answer(&self, registry: &Registry) -> Option<Duration> {
        let host = match registry.host() {
            h if h.contains(':') => format!("[{h}]"),
            h => h.to_string(),
        };
        let at = |port: u16| self.shared.fastest_answer(&format!("{host}:{port}"));
        match registry.port() {
            Some(port) => at(port),
            None => [at(443), at(80)].into_iter().flatten().min(),
        }
    }

    pub(crate) fn is_insecure(&self, registry: &Registry) -> bool {
        self.insecure.iter().any(|h| h == registry.as_str())
    }

    pub(crate) fn is_plain_http(&self, registry: &Registry) -> bool {
        self.plain_http.iter().any(|h| h == registry.as_str())
    }

    /// One exchange, re-sent on connection failures and passing statuses as the retry
    /// policy allows. After the last attempt the response itself is returned so that the
    /// caller can read the registry's error.
    pub fn exchange_with_retry(&self, request: &Request) -> Result<Response> {
        let max = self.retry.max_attempts.max(1);
        let mut attempt = 1;
        let mut stalls = 0;
        loop {
            match self.send_once(request, false) {
                // A rate limit that lasts longer than the longest wait is not waited out
                // in vain: its answer (which says until when) comes back at once.
                Ok(resp) if resp.status == 429 && self.outlasts_waiting(&resp) => return Ok(resp),
                Ok(resp) if is_retryable_status(resp.status) && attempt < max => {
                    let wait = self.retry.wait_after(attempt, Some(&resp));
                    resp.drain();
                    self.sleep(wait)?;
                }
                Ok(resp) => return Ok(resp),
                Err(e)
                    if is_retryable_error(&e)
                        && attempt < max
                        && !(e.message.contains(watch::STALLED) && stalls >= 1) =>
                {
                    if e.message.contains(watch::STALLED) {
                        stalls += 1;
                    }
                    self.sleep(self.retry.wait_after(attempt, None))?;
                }
                Err(e) => return Err(e),
            }
            attempt += 1;
        }
    }
}

impl Context {
    fn outlasts_waiting(&self, response: &Response) -> bool {
        response
            .header("retry-after")
            .and_then(parse_retry_after)
            .is_some_and(|d| d > self.retry.max_wait)
    }
}

/// `host:port` of `url`, the key of per-host timings.
fn host_port(url: &url::Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// How a request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempts {
    /// Re-sent on passing failures as the retry policy allows.
    Retry,
    /// Sent once; the caller retries a larger unit (an upload) itself.
    Once,
    /// Sent once even when the operation is cancelled: cleaning up after it (cancelling an
    /// upload session).
    Cleanup,
}
