//! The default HTTP exchange: ureq over rustls, with the system roots plus the client's
//! extra CA files, per-host TLS verification switched off only for insecure registries,
//! proxies from the environment, and socket-level connect and idle timeouts.

use super::http::{Body, Exchange, Request, Response};
use super::proxy::ProxyEnv;
use crate::error::{Error, Result};
use once_cell::sync::Lazy;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the agents are built from; a change of any of it means new agents.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BackendConfig {
    pub ca_files: Vec<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
}

pub struct UreqBackend {
    config: BackendConfig,
    verified_tls: Arc<rustls::ClientConfig>,
    unverified_tls: Arc<rustls::ClientConfig>,
    proxies: ProxyEnv,
    /// One agent (and so one connection pool) per (TLS verification, proxy) pair.
    agents: Mutex<HashMap<(bool, Option<String>), ureq::Agent>>,
    /// Hosts whose TLS certificates are not verified (`rr_client_set_insecure`).
    insecure_hosts: Vec<String>,
}

static SYSTEM_ROOTS: Lazy<Vec<CertificateDer<'static>>> = Lazy::new(|| {
    let loaded = rustls_native_certs::load_native_certs();
    loaded.certs
});

fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_pem_certs(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path)
        .map_err(|e| Error::io(format!("reading CA file {}", path.display()), &e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::invalid_argument(format!("CA file {} is not valid PEM: {e}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(Error::invalid_argument(format!(
            "CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Reads a CA file once so that a bad path fails when it is added, not at first use.
pub fn check_ca_file(path: &PathBuf) -> Result<()> {
    load_pem_certs(path).map(|_| ())
}

/// The handshake-signature checks and the scheme list of a verifier holding the crypto
/// provider in `$provider`: the provider's own, for both of ours.
macro_rules! provider_signature_checks {
    ($provider:tt) => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.$provider.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.$provider.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.$provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

fn verified_tls_config(ca_files: &[PathBuf]) -> Result<rustls::ClientConfig> {
    let mut extra = Vec::new();
    for path in ca_files {
        extra.extend(load_pem_certs(path)?);
    }
    let provider = crypto_provider();
    Ok(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::transport(format!("TLS setup failed: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LazyWebPki {
                provider,
                extra,
                verifier: once_cell::sync::OnceCell::new(),
            }))
            .with_no_client_auth(),
    )
}

/// The usual WebPKI verification against the system roots plus the client's CA files,
/// with the roots loaded on the first certificate to check rather than up front: a
/// command that only talks plain http to a loopback registry (whose https attempt fails
/// before any certificate) never reads the system's certificate store.
#[derive(Debug)]
struct LazyWebPki {
    provider: Arc<rustls::crypto::CryptoProvider>,
    extra: Vec<CertificateDer<'static>>,
    verifier: once_cell::sync::OnceCell<
        std::result::Result<Arc<rustls::client::WebPkiServerVerifier>, String>,
    >,
}

impl LazyWebPki {
    fn inner(
        &self,
    ) -> std::result::Result<&Arc<rustls::client::WebPkiServerVerifier>, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                let (_added, _ignored) =
                    roots.add_parsable_certificates(SYSTEM_ROOTS.iter().cloned());
                if roots.is_empty() {
                    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                }
                for cert in &self.extra {
                    roots.add(cert.clone()).map_err(|e| e.to_string())?;
                }
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    self.provider.clone(),
                )
                .build()
                .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| rustls::Error::General(format!("TLS roots: {e}")))
    }
}

impl rustls::client::danger::ServerCertVerifier for LazyWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.inner()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }
    provider_signature_checks!(provider);
}

/// Accepts any certificate: used only for hosts the caller declared insecure.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    provider_signature_checks!(0);
}

fn unverified_tls_config() -> Result<rustls::ClientConfig> {
    let provider = crypto_provider();
    Ok(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::transport(format!("TLS setup failed: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth(),
    )
}

impl UreqBackend {
    pub fn new(config: BackendConfig, insecure_hosts: Vec<String>) -> Result<UreqBackend> {
        Ok(UreqBackend {
            verified_tls: Arc::new(verified_tls_config(&config.ca_files)?),
            unverified_tls: Arc::new(unverified_tls_config()?),
            config,
            proxies: ProxyEnv::from_env(),
            agents: Mutex::new(HashMap::new()),
            insecure_hosts,
        })
    }

    pub fn config(&self) -> &BackendConfig {
        &self.config
    }

    fn agent(&self, verify_tls: bool, proxy: Option<String>) -> Result<ureq::Agent> {
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        let key = (verify_tls, proxy);
        if let Some(agent) = agents.get(&key) {
            return Ok(agent.clone());
        }
        let tls = if verify_tls {
            self.verified_tls.clone()
        } else {
            self.unverified_tls.clone()
        };
        let mut builder = ureq::AgentBuilder::new()
            .redirects(0)
            .tls_config(tls)
            .max_idle_connections_per_host(16)
            .user_agent("");
        if let Some(t) = self.config.connect_timeout {
            builder = builder.timeout_connect(t);
        }
        if let Some(t) = self.config.idle_timeout {
            builder = builder.timeout_read(t).timeout_write(t);
        }
        if let Some(proxy_url) = &key.1 {
            let proxy = ureq::Proxy::new(proxy_url).map_err(|e| {
                Error::transport(format!("proxy {proxy_url:?} from the environment: {e}"))
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
}

fn describe_transport_error(url: &url::Url, err: &ureq::Transport) -> Error {
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
    let what = if lower.contains("certificate") || lower.contains("unknownissuer") {
        "TLS certificate verification failed"
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "timed out"
    } else {
        "connection failed"
    };
    Error::transport(format!("{} {what}: {text}", super::redact::url(url)))
}

fn into_response(url: &url::Url, response: ureq::Response) -> Response {
    let status = response.status();
    let mut headers = Vec::new();
    for name in response.headers_names() {
        for value in response.all(&name) {
            headers.push((name.clone(), value.to_string()));
        }
    }
    let answered = url::Url::parse(response.get_url()).unwrap_or_else(|_| url.clone());
    Response {
        status,
        headers,
        url: answered,
        body: Box::new(response.into_reader()),
    }
}

impl Exchange for UreqBackend {
    fn exchange(&self, request: &Request) -> Result<Response> {
        let url = &request.url;
        let verify_tls = !self.host_is_insecure(url);
        let proxy = self.proxies.proxy_for(url);
        let agent = self.agent(verify_tls, proxy)?;
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
            Ok(response) => Ok(into_response(url, response)),
            Err(ureq::Error::Status(_, response)) => Ok(into_response(url, response)),
            Err(ureq::Error::Transport(t)) => Err(describe_transport_error(url, &t)),
        }
    }
}

impl UreqBackend {
    pub fn insecure_hosts(&self) -> &[String] {
        &self.insecure_hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
