//! The client: options, credentials and the caches every operation shares. Cheap to
//! clone (an `Arc`); images and indexes keep a clone so they outlive the host's handle.

use super::progress::{BlobProgressSink, Progress, ProgressSink};
use crate::error::{Error, Result};
use crate::name::Registry;
use crate::platform::Platform;
use crate::registries::{self, DefaultFiles, PullFrom, Registries};
use crate::transport::log::LoggingExchange;
use crate::transport::ping_store::PingStore;
use crate::transport::proxy::ProxyChoice;
use crate::transport::rate_limit::RateLimit;
use crate::transport::tls::{self, ClientPair, RegistryTlsSettings};
use crate::transport::ureq_backend::{self, BackendConfig, UreqBackend};
use crate::transport::watch::{Limits, MinRate};
use crate::transport::{
    certs_d, AuthCallback, Context, CredentialSettings, Exchange, LogSink, RetryPolicy, Shared,
};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Blobs in flight at once. Measured with `scripts/bench-wan.sh` (12 layers, 50 and 150 ms RTT):
/// from 4 to 8 a push took 17–20% less time and a copy between registries 26–31% less; 12 and 16
/// sped up mounts but slowed a push at 150 ms (README, "Round trips").
pub const DEFAULT_JOBS: u32 = 8;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// From the end of a request to its response's head. Registries answer in milliseconds;
/// even the commit of a large upload (the final PUT) takes seconds, not half a minute.
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);
/// A body slower than 1 KiB/s over 30 s of waiting is a stall: a retry (a blob resumes
/// with Range) is then faster than waiting. A manifest, token or page finishes well
/// within one window even on a slow link.
pub const DEFAULT_MIN_RATE: MinRate = MinRate {
    bytes_per_second: 1024,
    window: Duration::from_secs(30),
};
/// The largest deadline and timeout a host may set: a week. More is a unit mistake.
pub const MAX_TIMEOUT_MS: u64 = 7 * 24 * 3600 * 1000;
/// The page size asked for unless the host sets one (see the README's "Listing").
/// None: no `n`, so that each registry answers with its own page size. Measured with
/// `cargo bench --bench list_pages` (5 000 tags): one request on distribution 2.8, v3
/// and go-containerregistry's registry, against 1, 6 and 7 with `n=1000`.
pub const DEFAULT_PAGE_SIZE: Option<u32> = None;
/// Largest page size a host may ask for (ECR refuses more).
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Blobs up to this size go in one PUT with the body (monolithic) unless the host sets
/// another threshold; larger ones in one streamed PATCH. Measured on loopback with
/// `cargo bench --bench upload_threshold` (README, "Uploads"): on distribution 2.8 and v3
/// monolithic saves its one request (0.2 to 1 ms) up to 1 MiB, and streamed is faster
/// from 2 to 4 MiB on (by 2 ms at 4 MiB, 45 ms at 64 MiB).
pub const DEFAULT_MONOLITHIC_THRESHOLD: u64 = 1 << 20;
/// Largest monolithic threshold a host may set.
pub const MAX_MONOLITHIC_THRESHOLD: u64 = 1 << 30;
/// The chunk size of chunked uploads when the host names none.
pub const DEFAULT_CHUNK_SIZE: u64 = 8 << 20;
/// Smallest and largest chunk size a host may set. Below 64 KiB every chunk costs more in
/// round trips than it carries; above 1 GiB chunking no longer bounds what a break costs.
pub const MIN_CHUNK_SIZE: u64 = 64 << 10;
pub const MAX_CHUNK_SIZE: u64 = 1 << 30;

/// How a blob's bytes are sent (see the README's "Uploads").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadStrategy {
    /// Monolithic up to the threshold, streamed above it; chunked above the chunk size
    /// when one is set or known for the registry.
    #[default]
    Auto,
    /// POST, then PUT `?digest=` with the whole body.
    Monolithic,
    /// POST, one PATCH with the whole body, PUT `?digest=`.
    Streamed,
    /// POST, PATCHes of `Content-Range: START-END`, PUT `?digest=`.
    Chunked,
}

/// What the host chose for the uploads to one registry (or to all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UploadSettings {
    pub strategy: UploadStrategy,
    /// The size of chunks (Chunked), and the largest PATCH body for the other strategies:
    /// a blob above it is sent chunked. None: DEFAULT_CHUNK_SIZE for Chunked, no limit
    /// otherwise.
    pub chunk_size: Option<u64>,
    /// Blobs up to this size are sent monolithic under Auto. None: the default.
    pub monolithic_threshold: Option<u64>,
}

/// What registries taught this client about the request bodies they take: the largest
/// body to send to each, lowered when one was refused (a 413, a size error, a connection
/// closed while sending). Kept for the client's life, shared by its operations.
#[derive(Debug, Default)]
pub struct UploadLimits {
    max_body: Mutex<HashMap<String, u64>>,
}

impl UploadLimits {
    /// The largest body known to be safe for `registry`, if one was learned.
    pub fn max_body(&self, registry: &str) -> Option<u64> {
        lock(&self.max_body).get(registry).copied()
    }

    /// Records that bodies larger than `max_body` are not to be sent to `registry`.
    pub fn lower(&self, registry: &str, max_body: u64) {
        let mut known = lock(&self.max_body);
        let entry = known.entry(registry.to_string()).or_insert(max_body);
        *entry = (*entry).min(max_body);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The upload settings an operation works with: the host's (per registry, and for all)
/// as they were when it started, and the client's learned limits, live.
#[derive(Debug, Clone, Default)]
pub struct UploadConfig {
    per_registry: HashMap<String, UploadSettings>,
    all: Option<UploadSettings>,
    pub limits: Arc<UploadLimits>,
}

impl UploadConfig {
    /// What the host set for `registry` itself, if anything.
    pub fn for_registry(&self, registry: &str) -> Option<UploadSettings> {
        self.per_registry.get(registry).copied()
    }

    /// What the host set for every registry, if anything.
    pub fn for_all(&self) -> Option<UploadSettings> {
        self.all
    }
}

#[derive(Clone)]
struct Options {
    platform: Platform,
    jobs: u32,
    /// Connections one large blob may be fetched over (`ranged`).
    blob_connections: u32,
    page_size: Option<u32>,
    user_agent_prefix: Option<String>,
    insecure: Vec<String>,
    /// Registries that speak plain http only: no https attempt.
    plain_http: Vec<String>,
    ping_store: Option<PingStore>,
    ca_files: Vec<PathBuf>,
    /// CAs and client certificates for one registry (`host[:port]`, lower case).
    registry_tls: BTreeMap<String, RegistryTlsSettings>,
    /// Proxies for one registry, overriding the environment.
    registry_proxies: BTreeMap<String, ProxyChoice>,
    /// certs.d roots added by the host, searched before the default ones.
    certs_dirs: Vec<PathBuf>,
    default_certs_dirs: bool,
    retry: RetryPolicy,
    /// registries.conf entries: mirrors and remapped locations for reads.
    registries: Arc<Registries>,
    connect_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    credentials: CredentialSettings,
    transport: Option<Arc<dyn Exchange>>,
    log: Option<Arc<dyn LogSink>>,
    uploads: HashMap<String, UploadSettings>,
    uploads_all: Option<UploadSettings>,
}

struct Inner {
    options: RwLock<Options>,
    shared: Arc<Shared>,
    upload_limits: Arc<UploadLimits>,
    backend: Mutex<Option<Arc<UreqBackend>>>,
}

/// What belongs to one handle rather than to the client it shares: its cancellation,
/// its progress callback and its per-operation limits. A derived client
/// (`Client::derive`) has its own, starting as a copy of its parent's.
#[derive(Clone)]
struct Local {
    progress: Option<Arc<dyn ProgressSink>>,
    blob_progress: Option<Arc<dyn BlobProgressSink>>,
    deadline: Option<Duration>,
    first_byte: Option<Duration>,
    min_rate: Option<MinRate>,
}

struct Handle {
    /// Set by `cancel`, never cleared: an operation that starts afterwards is cancelled
    /// at once, so a cancel that races with the start of a call is never lost.
    cancelled: Arc<AtomicBool>,
    parent: Option<Arc<Handle>>,
    local: RwLock<Local>,
}

impl Handle {
    /// This handle's flag and its ancestors'.
    fn flags(&self) -> Vec<Arc<AtomicBool>> {
        let mut flags = vec![self.cancelled.clone()];
        let mut at = self.parent.as_ref();
        while let Some(h) = at {
            flags.push(h.cancelled.clone());
            at = h.parent.as_ref();
        }
        flags
    }
    fn local(&self) -> Local {
        self.local.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn write_local(&self) -> std::sync::RwLockWriteGuard<'_, Local> {
        self.local.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    handle: Arc<Handle>,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// One operation: the transport context plus its progress counters.
pub struct Operation {
    pub ctx: Arc<Context>,
    /// The client the operation was started from.
    pub client: Client,
    pub progress: Arc<Progress>,
    pub jobs: u32,
    pub blob_connections: u32,
    pub platform: Platform,
    pub uploads: UploadConfig,
}

impl Client {
    pub fn new() -> Client {
        Client {
            inner: Arc::new(Inner {
                options: RwLock::new(Options {
                    platform: Platform::linux_amd64(),
                    jobs: DEFAULT_JOBS,
                    blob_connections: super::ranged::DEFAULT_BLOB_CONNECTIONS,
                    page_size: DEFAULT_PAGE_SIZE,
                    user_agent_prefix: None,
                    insecure: Vec::new(),
                    plain_http: Vec::new(),
                    ping_store: None,
                    ca_files: Vec::new(),
                    registry_tls: BTreeMap::new(),
                    registry_proxies: BTreeMap::new(),
                    certs_dirs: Vec::new(),
                    default_certs_dirs: true,
                    retry: RetryPolicy::default(),
                    registries: Arc::new(Registries::default()),
                    connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
                    idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
                    credentials: CredentialSettings {
                        keychain: true,
                        ..Default::default()
                    },
                    transport: None,
                    log: None,
                    uploads: HashMap::new(),
                    uploads_all: None,
                }),
                shared: Arc::new(Shared::default()),
                upload_limits: Arc::new(UploadLimits::default()),
                backend: Mutex::new(None),
            }),
            handle: Arc::new(Handle {
                cancelled: Arc::new(AtomicBool::new(false)),
                parent: None,
                local: RwLock::new(Local {
                    progress: None,
                    blob_progress: None,
                    deadline: None,
                    first_byte: Some(DEFAULT_FIRST_BYTE_TIMEOUT),
                    min_rate: Some(DEFAULT_MIN_RATE),
                }),
            }),
        }
    }

    /// A client that shares this one's settings, caches and connections, with its own
    /// cancellation, progress callback and per-operation limits (copied from this one's
    /// as they are now). Cancelling this client cancels the derived one too, not the
    /// reverse.
    pub fn derive(&self) -> Client {
        Client {
            inner: self.inner.clone(),
            handle: Arc::new(Handle {
                cancelled: Arc::new(AtomicBool::new(false)),
                parent: Some(self.handle.clone()),
                local: RwLock::new(self.handle.local()),
            }),
        }
    }

    /// Cancels every operation running on this handle, on handles derived from it and
    /// on the images, indexes and descriptors they made, and every one started on them
    /// from now on. One atomic store: safe from any thread and from a signal handler.
    pub fn cancel(&self) {
        self.handle
            .cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether `cancel` was called on this handle or one it was derived from.
    pub fn is_cancelled(&self) -> bool {
        self.handle
            .flags()
            .iter()
            .any(|f| f.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The time an operation may take in all, from its start (None: no limit).
    pub fn set_deadline(&self, ms: u64) -> Result<()> {
        self.handle.write_local().deadline = timeout_ms("deadline", ms)?;
        Ok(())
    }
    /// The time from the end of a request to its response's head (None: no limit).
    pub fn set_first_byte_timeout(&self, ms: u64) -> Result<()> {
        self.handle.write_local().first_byte = timeout_ms("first-byte timeout", ms)?;
        Ok(())
    }
    /// The slowest a response body may come: fewer than `bytes_per_second` on average
    /// over `window_ms` of waiting fails the request as a stall. 0 for either: no limit.
    pub fn set_min_rate(&self, bytes_per_second: u64, window_ms: u64) -> Result<()> {
        let window = timeout_ms("minimum-rate window", window_ms)?;
        if bytes_per_second > 1 << 40 {
            return Err(Error::invalid_argument(format!(
                "minimum rate must be at most {} bytes/s, got {bytes_per_second}",
                1u64 << 40
            )));
        }
        self.handle.write_local().min_rate = match (bytes_per_second, window) {
            (0, _) | (_, None) => None,
            (bytes_per_second, Some(window)) => Some(MinRate {
                bytes_per_second,
                window,
            }),
        };
        Ok(())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Options> {
        self.inner
            .options
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Options> {
        self.inner.options.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_platform(&self, platform: &str) -> Result<()> {
        let p = Platform::parse(platform)?;
        self.set_platform_value(p);
        Ok(())
    }
    /// Sets a platform already made (with os.features, which no string carries).
    pub fn set_platform_value(&self, platform: Platform) {
        self.write().platform = platform;
    }
    pub fn platform(&self) -> Platform {
        self.read().platform.clone()
    }
    pub fn set_jobs(&self, jobs: u32) -> Result<()> {
        if jobs == 0 || jobs > 256 {
            return Err(Error::invalid_argument(format!(
                "jobs must be between 1 and 256, got {jobs}"
            )));
        }
        self.write().jobs = jobs;
        Ok(())
    }
    /// How many connections one large blob may be fetched over into a layout (1 to
    /// [`super::ranged::MAX_BLOB_CONNECTIONS`]; 1 never splits a blob).
    pub fn set_blob_connections(&self, connections: u32) -> Result<()> {
        let max = super::ranged::MAX_BLOB_CONNECTIONS;
        if connections == 0 || connections > max {
            return Err(Error::invalid_argument(format!(
                "blob connections must be between 1 and {max}, got {connections}"
            )));
        }
        self.write().blob_connections = connections;
        Ok(())
    }
    /// Entries asked for per page of tags or repositories (`n`, 1 to
    /// [`MAX_PAGE_SIZE`]), or None to send no `n` and take the registry's
    /// own page size.
    pub fn set_page_size(&self, page_size: Option<u32>) -> Result<()> {
        if let Some(n) = page_size {
            if !(1..=MAX_PAGE_SIZE).contains(&n) {
                return Err(Error::invalid_argument(format!(
                    "page size must be between 1 and {}, got {n}",
                    MAX_PAGE_SIZE
                )));
            }
        }
        self.write().page_size = page_size;
        Ok(())
    }
    pub fn page_size(&self) -> Option<u32> {
        self.read().page_size
    }

    /// Sets how blobs are uploaded to `registry` (`host[:port]`), or to every registry
    /// without a setting of its own when None. `chunk_size` is the chunk size of Chunked
    /// and the largest PATCH of the others ([`MIN_CHUNK_SIZE`] to [`MAX_CHUNK_SIZE`]), None
    /// for the default. A registry's own setting replaces what rr knows of that host.
    pub fn set_upload_strategy(
        &self,
        registry: Option<&str>,
        strategy: UploadStrategy,
        chunk_size: Option<u64>,
    ) -> Result<()> {
        if let Some(n) = chunk_size {
            if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&n) {
                return Err(Error::invalid_argument(format!(
                    "chunk size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE} bytes, got {n}"
                )));
            }
        }
        self.update_uploads(registry, |s| {
            s.strategy = strategy;
            s.chunk_size = chunk_size;
        })
    }

    /// Sets the size up to which blobs are uploaded monolithic under
    /// [`UploadStrategy::Auto`] (0 to [`MAX_MONOLITHIC_THRESHOLD`]; 0: never), for
    /// `registry` or, when None, every registry without a setting of its own.
    pub fn set_monolithic_threshold(&self, registry: Option<&str>, bytes: u64) -> Result<()> {
        if bytes > MAX_MONOLITHIC_THRESHOLD {
            return Err(Error::invalid_argument(format!(
                "monolithic threshold must be at most {MAX_MONOLITHIC_THRESHOLD} bytes, got {bytes}"
            )));
        }
        self.update_uploads(registry, |s| s.monolithic_threshold = Some(bytes))
    }

    fn update_uploads(
        &self,
        registry: Option<&str>,
        change: impl FnOnce(&mut UploadSettings),
    ) -> Result<()> {
        let key = registry
            .map(|r| Registry::parse(r).map(|r| r.as_str().to_string()))
            .transpose()?;
        let mut o = self.write();
        let all = o.uploads_all;
        let settings = match key {
            // A registry's first setting starts from what holds for all.
            Some(key) => o.uploads.entry(key).or_insert(all.unwrap_or_default()),
            None => o.uploads_all.get_or_insert_with(UploadSettings::default),
        };
        change(settings);
        Ok(())
    }

    /// The limits this client learned about request bodies, per registry.
    pub fn upload_limits(&self) -> &UploadLimits {
        &self.inner.upload_limits
    }
    pub fn set_user_agent(&self, user_agent: &str) -> Result<()> {
        if user_agent.chars().any(|c| c.is_control()) {
            return Err(Error::invalid_argument(
                "the user agent may not contain control characters",
            ));
        }
        self.write().user_agent_prefix = Some(user_agent.to_string()).filter(|s| !s.is_empty());
        Ok(())
    }
    pub fn user_agent(&self) -> String {
        let base = format!("rr/{}", crate::VERSION);
        match &self.read().user_agent_prefix {
            Some(p) => format!("{p} {base}"),
            None => base,
        }
    }
    pub fn set_insecure(&self, registry: &str) -> Result<()> {
        self.add_host(registry, |o| &mut o.insecure)
    }
    /// Reaches `registry` over plain http only, with no https attempt first: for a
    /// registry known to have no TLS, whose failed handshake would otherwise cost every
    /// first request of an operation up to two round trips.
    pub fn set_plain_http(&self, registry: &str) -> Result<()> {
        self.add_host(registry, |o| &mut o.plain_http)
    }
    /// Remembers each registry's ping (its challenge: where tokens come from) in `dir`
    /// between processes, so that a later client goes to the token exchange without
    /// asking first (`transport::ping_store`); `None` stops it. The directory is made
    /// (0700) when the first answer is saved.
    pub fn set_ping_cache_dir(&self, dir: Option<&str>) -> Result<()> {
        let store = match dir {
            None => None,
            Some("") => {
                return Err(Error::invalid_argument(
                    "the ping cache directory may not be empty (NULL turns the cache off)",
                ))
            }
            Some(d) => {
                if std::fs::metadata(d).is_ok_and(|m| !m.is_dir()) {
                    return Err(Error::invalid_argument(format!(
                        "the ping cache directory {d:?} is not a directory"
                    )));
                }
                Some(PingStore::new(d))
            }
        };
        self.write().ping_store = store;
        Ok(())
    }
    /// Adds `registry`, parsed and normalized, to one of the options' host lists once.
    fn add_host(
        &self,
        registry: &str,
        list: impl FnOnce(&mut Options) -> &mut Vec<String>,
    ) -> Result<()> {
        let r = Registry::parse(registry)?;
        let mut o = self.write();
        let hosts = list(&mut o);
        if !hosts.iter().any(|h| h == r.as_str()) {
            hosts.push(r.as_str().to_string());
        }
        Ok(())
    }
    pub fn add_ca_file(&self, path: &str) -> Result<()> {
        let path = PathBuf::from(path);
        tls::check_ca_file(&path)?;
        self.write().ca_files.push(path);
        Ok(())
    }
    /// Trusts the certificates of `path` for `registry` (and requests made for it, such
    /// as its token endpoint's) only, besides the system's and the client-wide ones.
    pub fn add_registry_ca_file(&self, registry: &str, path: &str) -> Result<()> {
        let key = registry_key(registry)?;
        let path = PathBuf::from(path);
        tls::check_ca_file(&path)?;
        self.write()
            .registry_tls
            .entry(key)
            .or_default()
            .ca_files
            .push(path);
        Ok(())
    }
    /// Presents the client certificate in `cert_path` (PEM, leaf first, then its chain)
    /// with the private key in `key_path` (PEM: PKCS#8, PKCS#1 or SEC1) to `registry` and
    /// its token endpoint. Both files are read now: RR_ERR_IO when one cannot be read,
    /// RR_ERR_INVALID_ARGUMENT when one holds no PEM certificate or key, or the key is
    /// not the certificate's. Replaces an earlier pair for that registry.
    pub fn set_client_cert(&self, registry: &str, cert_path: &str, key_path: &str) -> Result<()> {
        let key = registry_key(registry)?;
        let pair = ClientPair {
            cert: PathBuf::from(cert_path),
            key: PathBuf::from(key_path),
        };
        tls::check_client_pair(&pair)?;
        self.write()
            .registry_tls
            .entry(key)
            .or_default()
            .client_cert = Some(pair);
        Ok(())
    }
    /// Adds a certs.d root (`DIR/HOST[:PORT]/` with `*.crt`, `NAME.cert`, `NAME.key`),
    /// searched after those added before and before the default ones. The directory
    /// need not exist yet; its files are read when a registry is first connected to.
    pub fn add_certs_dir(&self, dir: &str) -> Result<()> {
        if dir.is_empty() {
            return Err(Error::invalid_argument("the certs.d directory is empty"));
        }
        self.write().certs_dirs.push(PathBuf::from(dir));
        Ok(())
    }
    /// Turns the default certs.d roots (`certs_d::default_roots`) on or off. On by
    /// default.
    pub fn set_default_certs_dirs(&self, enabled: bool) {
        self.write().default_certs_dirs = enabled;
    }
    /// Sets the proxy for `registry`, which replaces HTTP(S)_PROXY and NO_PROXY for it
    /// and applies even to loopback registries: `http://[user:pw@]host[:port]`, or ""
    /// for no proxy at all. None removes the setting (the environment applies again).
    pub fn set_proxy(&self, registry: &str, proxy: Option<&str>) -> Result<()> {
        let key = registry_key(registry)?;
        let mut o = self.write();
        match proxy {
            Some(p) => {
                let choice = ureq_backend::parse_proxy_setting(p)?;
                o.registry_proxies.insert(key, choice);
            }
            None => {
                o.registry_proxies.remove(&key);
            }
        }
        Ok(())
    }
    /// Reads a containers-registries.conf(5) file (v2 format), or every `*.conf` file of
    /// a directory in name order, or with None the files containers/image reads
    /// (`registries::DefaultFiles`). Its `[[registry]]` entries replace those of the same
    /// prefix read before; their `insecure` hosts are added as `set_insecure` does. The
    /// whole load is refused, and nothing changes, when any file is unreadable (RR_ERR_IO)
    /// or holds something rr cannot follow (RR_ERR_INVALID_ARGUMENT).
    pub fn load_registries_conf(&self, path: Option<&str>) -> Result<()> {
        let entries = match path {
            Some(p) => registries::load_path(std::path::Path::new(p))?,
            None => DefaultFiles::find(&|k| std::env::var(k).ok()).load()?,
        };
        let mut o = self.write();
        let mut next = (*o.registries).clone();
        next.merge(entries);
        for host in next.insecure_hosts() {
            if !o.insecure.contains(&host) {
                o.insecure.push(host);
            }
        }
        o.registries = Arc::new(next);
        Ok(())
    }

    /// Adds `mirror` (`host[:port][/namespace]`) after the mirrors of the registries.conf
    /// entry for `registry` (`host[:port][/namespace]`), making one when there is none.
    pub fn add_mirror(&self, registry: &str, mirror: &str, pull_from: PullFrom) -> Result<()> {
        let mut o = self.write();
        let mut next = (*o.registries).clone();
        next.add_mirror(registry, mirror, pull_from)?;
        o.registries = Arc::new(next);
        Ok(())
    }

    /// The last rate limit `registry` announced on a manifest response, if any.
    pub fn rate_limit(&self, registry: &str) -> Result<Option<RateLimit>> {
        let key = registry_key(registry)?;
        Ok(self.inner.shared.rate_limit(&key))
    }

    /// The registries that announced a rate limit, sorted.
    pub fn rate_limited_registries(&self) -> Vec<String> {
        self.inner.shared.rate_limited_registries()
    }

    pub fn set_retry(&self, max_attempts: u32, initial_backoff_ms: u32) -> Result<()> {
        if max_attempts == 0 {
            return Err(Error::invalid_argument(
                "max_attempts counts the first try and must be at least 1",
            ));
        }
        let mut o = self.write();
        o.retry.max_attempts = max_attempts;
        o.retry.initial_backoff = Duration::from_millis(initial_backoff_ms.into());
        Ok(())
    }
    pub fn set_timeout(&self, connect_ms: u32, idle_ms: u32) -> Result<()> {
        let ms = |v: u32| (v > 0).then(|| Duration::from_millis(v.into()));
        let mut o = self.write();
        o.connect_timeout = ms(connect_ms);
        o.idle_timeout = ms(idle_ms);
        Ok(())
    }
    pub fn set_basic_auth(&self, registry: &str, username: &str, password: &str) -> Result<()> {
        let r = Registry::parse(registry)?;
        self.write().credentials.basic.insert(
            r.as_str().to_string(),
            (username.to_string(), password.to_string()),
        );
        self.inner.shared.clear_tokens();
        Ok(())
    }
    pub fn set_keychain(&self, enabled: bool) {
        self.write().credentials.keychain = enabled;
        self.inner.shared.clear_tokens();
    }
    pub fn set_auth_callback(&self, callback: Option<Arc<dyn AuthCallback>>) {
        self.write().credentials.callback = callback;
        self.inner.shared.clear_tokens();
    }
    pub fn set_transport(&self, transport: Option<Arc<dyn Exchange>>) {
        self.write().transport = transport;
    }
    /// Sets this handle's progress callback (a derived client's own).
    pub fn set_progress(&self, sink: Option<Arc<dyn ProgressSink>>) {
        self.handle.write_local().progress = sink;
    }

    /// Sets this handle's per-blob progress callback (a derived client's own).
    pub fn set_blob_progress(&self, sink: Option<Arc<dyn BlobProgressSink>>) {
        self.handle.write_local().blob_progress = sink;
    }
    /// Logs every HTTP exchange (method, masked URL, status, time) to `sink`.
    pub fn set_log(&self, sink: Option<Arc<dyn LogSink>>) {
        self.write().log = sink;
    }

    fn backend(&self, o: &Options) -> Result<Arc<UreqBackend>> {
        let mut certs_dirs = o.certs_dirs.clone();
        if o.default_certs_dirs {
            certs_dirs.extend(certs_d::default_roots());
        }
        let config = BackendConfig {
            ca_files: o.ca_files.clone(),
            connect_timeout: o.connect_timeout,
            idle_timeout: o.idle_timeout,
            registry_tls: o.registry_tls.clone(),
            registry_proxies: o.registry_proxies.clone(),
            certs_dirs,
        };
        let mut slot = self.inner.backend.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = slot.as_ref() {
            if b.config() == &config && b.insecure_hosts() == o.insecure.as_slice() {
                return Ok(b.clone());
            }
        }
        let b = Arc::new(UreqBackend::new(config, o.insecure.clone())?);
        *slot = Some(b.clone());
        Ok(b)
    }

    /// Starts an operation with a snapshot of the options.
    pub fn operation(&self) -> Result<Operation> {
        self.operation_with(Arc::new(AtomicBool::new(false)))
    }

    /// Starts an operation that is cancelled together with the ones sharing `cancelled`
    /// (an operation reading from this client on behalf of another client's write).
    pub fn operation_with(&self, cancelled: Arc<AtomicBool>) -> Result<Operation> {
        self.operation_under(cancelled, &[])
    }

    /// `operation_with`, also cancelled by the handles `also` (those of the operation it
    /// reads for).
    pub fn operation_under(
        &self,
        cancelled: Arc<AtomicBool>,
        also: &[Arc<AtomicBool>],
    ) -> Result<Operation> {
        let o = self.read().clone();
        let mut exchange: Arc<dyn Exchange> = match &o.transport {
            Some(t) => t.clone(),
            None => self.backend(&o)?,
        };
        if let Some(sink) = &o.log {
            exchange = Arc::new(LoggingExchange {
                inner: exchange,
                sink: sink.clone(),
            });
        }
        let mut ctx = Context::new(
            exchange,
            self.user_agent(),
            o.insecure.clone(),
            o.retry,
            o.credentials.clone(),
            self.inner.shared.clone(),
        );
        ctx.cancelled = cancelled;
        ctx.plain_http = o.plain_http.clone();
        ctx.ping_store = o.ping_store.clone();
        ctx.registries = o.registries.clone();
        ctx.log = o.log.clone();
        let mut handles = self.handle.flags();
        handles.extend(also.iter().cloned());
        ctx.handles = handles.into();
        let local = self.handle.local();
        ctx.limits = Limits {
            deadline: local.deadline.map(|d| (Instant::now() + d, d)),
            first_byte: local.first_byte,
            idle: o.idle_timeout,
            min_rate: local.min_rate,
        };
        let progress = Arc::new(Progress::new(
            local.progress.clone(),
            local.blob_progress.clone(),
            ctx.cancelled.clone(),
        ));
        Ok(Operation {
            ctx: Arc::new(ctx),
            client: self.clone(),
            progress,
            jobs: o.jobs,
            blob_connections: o.blob_connections,
            platform: o.platform,
            uploads: UploadConfig {
                per_registry: o.uploads,
                all: o.uploads_all,
                limits: self.inner.upload_limits.clone(),
            },
        })
    }
}

/// A deadline or timeout in milliseconds: 0 is none, above MAX_TIMEOUT_MS is refused.
fn timeout_ms(what: &str, ms: u64) -> Result<Option<Duration>> {
    if ms > MAX_TIMEOUT_MS {
        return Err(Error::invalid_argument(format!(
            "{what} must be at most {MAX_TIMEOUT_MS} ms (a week), got {ms}"
        )));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// The key per-registry settings are kept under: the registry as it parses
/// (`docker.io` is `index.docker.io`), lower case as URLs have it.
fn registry_key(registry: &str) -> Result<String> {
    Ok(Registry::parse(registry)?.as_str().to_ascii_lowercase())
}

impl Client {
    /// The caches every operation of this client shares.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// Whether a registries.conf entry gives `repository` mirrors.
    pub(crate) fn has_mirrors_for(&self, repository: &crate::name::Repository) -> bool {
        self.read()
            .registries
            .find(&repository.to_string())
            .is_some_and(|(e, _)| !e.mirrors.is_empty())
    }

    /// Whether both are handles on the same client.
    pub fn same_as(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Client")
    }
}
