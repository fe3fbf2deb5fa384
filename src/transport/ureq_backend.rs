//! The default HTTP exchange: ureq over rustls, with the system roots plus the client's
//! extra CA files, per-registry TLS (a registry's own CAs and client certificate, from
//! the API or its certs.d directory), TLS verification switched off only for insecure
//! registries, proxies per registry or from the environment, and socket-level connect
//! and idle timeouts.

use super::http::{Body, Exchange, Request, Response};
use super::proxy::{ProxyChoice, ProxyEnv};
use super::tls::{self, RegistryTls, RegistryTlsSettings};
use super::watch::{self, Head};
use crate::error::{Error, Result};
use rustls::pki_types::CertificateDer;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The socket read and write timeout when the host set no idle limit, so that a worker
/// thread abandoned on a silent connection still ends.
pub const SOCKET_IDLE_FALLBACK: Duration = Duration::from_secs(600);

/// What the agents are built from; a change of any of it means new agents.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BackendConfig {
    pub ca_files: Vec<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    /// TLS settings given for one registry (`host[:port]`, lower case).
    pub registry_tls: BTreeMap<String, RegistryTlsSettings>,
    /// Proxy settings given for one registry (`host[:port]`, lower case).
    pub registry_proxies: BTreeMap<String, ProxyChoice>,
    /// certs.d roots, highest priority first.
    pub certs_dirs: Vec<PathBuf>,
}

/// Which TLS config an agent has: the client-wide one or a registry's own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum TlsChoice {
    ClientWide,
    Registry(String),
}

/// One agent (and so one connection pool) per TLS config, verification and proxy.
type AgentKey = (TlsChoice, bool, Option<String>);

pub struct UreqBackend {
    config: BackendConfig,
    client_wide_cas: Vec<CertificateDer<'static>>,
    verified_tls: Arc<rustls::ClientConfig>,
    unverified_tls: Arc<rustls::ClientConfig>,
    proxies: ProxyEnv,
    agents: Mutex<HashMap<AgentKey, ureq::Agent>>,
    /// Per registry: its own TLS once built from the API settings and its certs.d
    /// directory, or None when it has neither. Failures are not kept, so that a fixed
    /// file is read again on the next request.
    registry_tls: Mutex<HashMap<String, Option<Arc<RegistryTls>>>>,
    /// Hosts whose TLS certificates are not verified (`rr_client_set_insecure`).
    insecure_hosts: Vec<String>,
}

/// `host[:port]` of a URL as a registry is written: no port when it is the scheme's
/// default (the url crate drops it), IPv6 in brackets, lower case.
fn url_registry(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// Checks a proxy given for one registry: empty means no proxy; otherwise an
/// `http://[user:password@]host[:port]` URL (the scheme may be left out). https and
/// SOCKS proxies are not supported by the HTTP stack. Messages never repeat the URL,
/// which may hold a password.
pub fn parse_proxy_setting(proxy: &str) -> Result<ProxyChoice> {
    let proxy = proxy.trim();
    if proxy.is_empty() {
        return Ok(ProxyChoice::Direct);
    }
    let full = if proxy.contains("://") {
        proxy.to_string()
    } else {
        format!("http://{proxy}")
    };
    let url = url::Url::parse(&full)
        .map_err(|e| Error::invalid_argument(format!("the proxy URL does not parse: {e}")))?;
    if url.scheme() != "http" {
        return Err(Error::invalid_argument(format!(
            "proxy scheme {}:// is not supported; use an http:// proxy (https goes through it with CONNECT)",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid_argument("the proxy URL names no host"));
    }
    ureq::Proxy::new(&full)
        .map_err(|e| Error::invalid_argument(format!("the proxy URL is not usable: {e}")))?;
    Ok(ProxyChoice::Via(full))
}

impl UreqBackend {
    pub fn new(config: BackendConfig, insecure_hosts: Vec<String>) -> Result<UreqBackend> {
        let mut client_wide_cas = Vec::new();
        for path in &config.ca_files {
            client_wide_cas.extend(tls::load_certs(path, "CA file", tls::Blame::Caller)?);
        }
        let (verified, unverified) = tls::default_configs(&client_wide_cas)?;
        Ok(UreqBackend {
            client_wide_cas,
            verified_tls: Arc::new(verified),
            unverified_tls: Arc::new(unverified),
            config,
            proxies: ProxyEnv::from_env(),
            agents: Mutex::new(HashMap::new()),
            registry_tls: Mutex::new(HashMap::new()),
            insecure_hosts,
        })
    }

    pub fn config(&self) -> &BackendConfig {
        &self.config
    }

    fn agent(&self, key: AgentKey, registry_tls: Option<&RegistryTls>) -> Result<ureq::Agent> {
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(agent) = agents.get(&key) {
            return Ok(agent.clone());
        }
        let verify = key.1;
        let tls = match (registry_tls, verify) {
            (Some(r), true) => r.verified.clone(),
            (Some(r), false) => r.unverified.clone(),
            (None, true) => self.verified_tls.clone(),
            (None, false) => self.unverified_tls.clone(),
        };
        let mut builder = ureq::AgentBuilder::new()
            .resolver(resolve_unless_abandoned)
            .redirects(0)
            .tls_config(tls)
            .max_idle_connections_per_host(16)
            .user_agent("");
        if let Some(t) = self.config.connect_timeout {
            builder = builder.timeout_connect(t);
        }
        // The socket timeouts end a worker the caller abandoned (see `watch`); without an
        // idle limit one still ends after SOCKET_IDLE_FALLBACK of silence.
        let idle = self.config.idle_timeout.unwrap_or(SOCKET_IDLE_FALLBACK);
        builder = builder.timeout_read(idle).timeout_write(idle);
        if let Some(proxy_url) = &key.2 {
            // Per-registry proxies were checked when set: this is the environment's.
            let proxy = ureq::Proxy::new(proxy_url).map_err(|e| {
                Error::transport(format!("the proxy from the environment is not usable: {e}"))
            })?;
            builder = builder.proxy(proxy);
        }
        let agent = builder.build();
        agents.insert(key, agent.clone());
        Ok(agent)
    }

    fn host_is_insecure(&self, url: &url::Url) -> bool {
        let host = url.host_str().unwrap_or("");
        let host_port = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        self.insecure_hosts
            .iter()
            .any(|h| h == &host_port || h == host)
    }

    /// `registry`'s own TLS, built on first use.
    fn tls_of(&self, registry: &str) -> Result<Option<Arc<RegistryTls>>> {
        if let Some(known) = self
            .registry_tls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(registry)
        {
            return Ok(known.clone());
        }
        // Built without the lock: files are read, and two threads building the same
        // registry's config at once only waste a little work.
        let built = tls::resolve_registry(
            registry,
            self.config.registry_tls.get(registry),
            &self.config.certs_dirs,
            &self.client_wide_cas,
        )
        .map_err(|e| tls::setup_context(e, registry))?
        .map(Arc::new);
        self.registry_tls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(registry.to_string(), built.clone());
        Ok(built)
    }

    /// The registry whose own TLS an https request uses, with that TLS: the URL's host,
    /// else the registry the request is made for (a token realm elsewhere); None for
    /// plain http and for hosts with no TLS settings of their own.
    fn tls_for(&self, request: &Request) -> Result<Option<(String, Arc<RegistryTls>)>> {
        if request.url.scheme() != "https" {
            return Ok(None);
        }
        for name in candidates(request) {
            if let Some(t) = self.tls_of(&name)? {
                return Ok(Some((name, t)));
            }
        }
        Ok(None)
    }

    /// The proxy for a request: the one set for the URL's registry, else for the
    /// registry the request is made for, else the environment's.
    fn proxy_for(&self, request: &Request) -> Option<String> {
        let set = candidates(request)
            .into_iter()
            .find_map(|name| self.config.registry_proxies.get(&name));
        match set {
            Some(ProxyChoice::Direct) => None,
            Some(ProxyChoice::Via(p)) => Some(p.clone()),
            None => self.proxies.proxy_for(&request.url),
        }
    }
}

/// The registry names whose settings a request may use, in order: its URL's
/// `host[:port]`; for a URL on the scheme's default port also `host:443` (or `:80`),
/// since a registry written with its default port reaches URLs without one; then the
/// registry the request is made for.
fn candidates(request: &Request) -> Vec<String> {
    let url = &request.url;
    let mut names = vec![url_registry(url)];
    if url.port().is_none() {
        if let Some(port) = url.port_or_known_default() {
            names.push(format!("{}:{port}", names[0]));
        }
    }
    if let Some(registry) = request.for_registry.as_deref() {
        let registry = registry.to_ascii_lowercase();
        if !names.contains(&registry) {
            names.push(registry);
        }
    }
    names
}

/// TLS alerts a server sends about the client's certificate: Go answers a missing one
/// with certificate_required (TLS 1.3) or bad_certificate (TLS 1.2), one it does not
/// trust with bad_certificate; other servers use the rest.
const CLIENT_CERT_ALERTS: [&str; 6] = [
    "certificaterequired",
    "badcertificate",
    "unknownca",
    "certificateunknown",
    "certificateexpired",
    "certificaterevoked",
];

/// `tls`: the registry whose own TLS the connection used, if any.
fn describe_transport_error(
    url: &url::Url,
    err: &ureq::Transport,
    tls: Option<&(String, Arc<RegistryTls>)>,
) -> Error {
    // A request body reader that failed (a cancelled upload, a source blob that did not
    // verify) carries the library's own error: keep it.
    if let Some(inner) = crate::error::find_wrapped(err) {
        return inner.clone();
    }
    // ureq's text starts with the whole URL: mask its signed query values as ours are.
    let text = err
        .to_string()
        .replace(url.as_str(), &super::redact::url(url));
    let lower = text.to_ascii_lowercase();
    let url_text = super::redact::url(url);
    let client_cert = tls.and_then(|(_, t)| t.client_cert.as_ref().map(|c| (c, &t.origin)));
    if lower.contains("received fatal alert")
        && CLIENT_CERT_ALERTS.iter().any(|a| lower.contains(a))
    {
        return Error::transport(match client_cert {
            None => format!(
                "{url_text} {}: the server asked for a client certificate and none is set \
                 for {} (set one for that registry, or put NAME.cert and NAME.key in its \
                 certs.d directory): {text}",
                tls::CLIENT_CERT_REQUIRED,
                url_registry(url)
            ),
            Some((cert, origin)) => format!(
                "{url_text} {}: the server did not accept the client certificate {} \
                 (from {origin}): {text}",
                tls::CLIENT_CERT_REFUSED,
                cert.display()
            ),
        });
    }
    let what = if lower.contains("certificate") || lower.contains("unknownissuer") {
        tls::VERIFY_FAILED
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "timed out"
    } else {
        "connection failed"
    };
    Error::transport(format!("{url_text} {what}: {text}"))
}

fn head_of(url: &url::Url, response: &ureq::Response) -> Head {
    let mut headers = Vec::new();
    for name in response.headers_names() {
        for value in response.all(&name) {
            headers.push((name.clone(), value.to_string()));
        }
    }
    let answered = url::Url::parse(response.get_url()).unwrap_or_else(|_| url.clone());
    Head {
        status: response.status(),
        headers,
        url: answered,
    }
}

/// The blocking exchange itself: connect, send, read the head.
fn send(
    agent: &ureq::Agent,
    request: &Request,
    registry_tls: Option<&(String, Arc<RegistryTls>)>,
) -> Result<(Head, Box<dyn Read + Send>)> {
    let url = &request.url;
    let mut req = agent.request_url(request.method, url);
    for (name, value) in &request.headers {
        req = req.set(name, value);
    }
    let result = match &request.body {
        Body::Empty if matches!(request.method, "GET" | "HEAD" | "DELETE") => req.call(),
        Body::Empty => req.send_bytes(&[]),
        Body::Bytes(bytes) => req.send_bytes(bytes),
        Body::Source(source) => {
            let reader = source.open()?;
            if let Some(len) = source.len() {
                req = req.set("Content-Length", &len.to_string());
            }
            req.send(reader)
        }
    };
    match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => {
            let head = head_of(url, &response);
            Ok((head, Box::new(response.into_reader())))
        }
        Err(ureq::Error::Transport(t)) => Err(describe_transport_error(url, &t, registry_tls)),
    }
}

impl Exchange for UreqBackend {
    fn exchange(&self, request: &Request) -> Result<Response> {
        let url = &request.url;
        let registry_tls = self.tls_for(request)?;
        let key = (
            match &registry_tls {
                Some((name, _)) => TlsChoice::Registry(name.clone()),
                None => TlsChoice::ClientWide,
            },
            !self.host_is_insecure(url),
            self.proxy_for(request),
        );
        let agent = self.agent(key, registry_tls.as_ref().map(|(_, t)| t.as_ref()))?;
        match &request.control {
            // Under an operation: on a worker thread the caller can abandon.
            Some(control) => {
                let what = format!("{} {}", request.method, super::redact::url(url));
                watch::run(request, control, what, move |request| {
                    send(&agent, &request, registry_tls.as_ref())
                })
            }
            None => {
                let (head, body) = send(&agent, request, registry_tls.as_ref())?;
                Ok(Response {
                    status: head.status,
                    headers: head.headers,
                    url: head.url,
                    body,
                })
            }
        }
    }
}

impl UreqBackend {
    pub fn insecure_hosts(&self) -> &[String] {
        &self.insecure_hosts
    }
}

/// The system's resolver, refusing once the caller of the exchange on this thread has
/// given it up (`watch::caller_gone`): ureq resolves before every new connection, so its
/// silent resend of a request on a fresh connection never goes out after a cancel.
fn resolve_unless_abandoned(netloc: &str) -> std::io::Result<Vec<std::net::SocketAddr>> {
    if super::watch::caller_gone() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the call was given up: no new connection",
        ));
    }
    std::net::ToSocketAddrs::to_socket_addrs(netloc).map(|addrs| addrs.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str, for_registry: Option<&str>) -> Request {
        let mut r = Request::new("GET", url::Url::parse(url).unwrap());
        r.for_registry = for_registry.map(String::from);
        r
    }

    #[test]
    fn settings_are_looked_up_by_host_port_then_the_registry_a_request_is_for() {
        assert_eq!(
            candidates(&request("https://R.example:5000/v2/", None)),
            vec!["r.example:5000"]
        );
        assert_eq!(
            candidates(&request("https://r.example/v2/", None)),
            vec!["r.example", "r.example:443"]
        );
        assert_eq!(
            candidates(&request(
                "https://auth.example/token",
                Some("r.example:5000")
            )),
            vec!["auth.example", "auth.example:443", "r.example:5000"]
        );
        assert_eq!(
            candidates(&request("http://[::1]:5000/v2/", Some("[::1]:5000"))),
            vec!["[::1]:5000"]
        );
    }

    #[test]
    fn proxy_settings_are_checked_and_never_repeated() {
        assert_eq!(parse_proxy_setting(" ").unwrap(), ProxyChoice::Direct);
        assert_eq!(
            parse_proxy_setting("proxy.example:3128").unwrap(),
            ProxyChoice::Via("http://proxy.example:3128".into())
        );
        for bad in [
            "https://u:secret@proxy:3128",
            "socks5://u:secret@proxy:1080",
            "http://u:secret@",
        ] {
            let e = parse_proxy_setting(bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(!e.message.contains("secret"), "{}", e.message);
        }
    }

    #[test]
    fn a_connection_failure_names_the_url_without_its_signed_values() {
        // A port nothing listens on: bind one and let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let backend = UreqBackend::new(BackendConfig::default(), Vec::new()).unwrap();
        let url = url::Url::parse(&format!(
            "http://127.0.0.1:{port}/v2/a/blobs/uploads/x?_state=s3cr3t&digest=sha256:ab"
        ))
        .unwrap();
        let err = backend
            .exchange(&Request::new("PATCH", url))
            .expect_err("nothing listens there");
        assert!(!err.message.contains("s3cr3t"), "{}", err.message);
        assert!(err.message.contains("_state=REDACTED"), "{}", err.message);
    }
}
