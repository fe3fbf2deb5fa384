//! TLS settings and the rustls configs made of them: the roots a server certificate is
//! checked against (the system's, the client's CA files, a registry's own CAs), the
//! client certificate a registry is given (mutual TLS), and the verifier that checks
//! nothing for insecure registries. PEM files are read with rustls-pki-types' reader;
//! rustls itself checks that a key belongs to its certificate (`with_client_auth_cert`).

pub use super::certs_d::ClientPair;
use super::certs_d::{self, SETUP_FAILED};
use crate::error::{Error, ErrorKind, Result};
use once_cell::sync::Lazy;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Words in the messages of TLS failures that another attempt cannot cure (see
/// `retry::is_retryable_error`): a certificate that does not verify, a client
/// certificate the server wants or refuses, settings that cannot be read.
pub(crate) const VERIFY_FAILED: &str = "TLS certificate verification failed";
pub(crate) const CLIENT_CERT_REQUIRED: &str = "TLS client certificate required";
pub(crate) const CLIENT_CERT_REFUSED: &str = "TLS client certificate refused";

/// Whether a transport error's message says it is one of the TLS failures above.
pub(crate) fn is_permanent_failure(message: &str) -> bool {
    [
        VERIFY_FAILED,
        CLIENT_CERT_REQUIRED,
        CLIENT_CERT_REFUSED,
        SETUP_FAILED,
    ]
    .iter()
    .any(|w| message.contains(w))
}

/// What the API set for one registry (`host[:port]`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RegistryTlsSettings {
    /// Roots trusted for this registry only, besides the system's and the client's.
    pub ca_files: Vec<PathBuf>,
    /// The client certificate; it wins over a pair in the registry's certs.d directory.
    pub client_cert: Option<ClientPair>,
}

/// Who is to blame for a file that does not hold what it should: the caller, when the
/// file was just given through the API (RR_ERR_INVALID_ARGUMENT), or the setup found
/// when connecting, in a certs.d directory or a file changed since (RR_ERR_TRANSPORT).
/// Unreadable files are RR_ERR_IO either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blame {
    Caller,
    Setup,
}

impl Blame {
    fn error(self, message: String) -> Error {
        match self {
            Blame::Caller => Error::invalid_argument(message),
            Blame::Setup => Error::transport(message),
        }
    }
}

pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("reading {what} {}", path.display()), &e))
}

/// The certificates of a PEM file; at least one.
pub(crate) fn load_certs(
    path: &Path,
    what: &str,
    blame: Blame,
) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_file(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| blame.error(format!("{what} {} is not valid PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(blame.error(format!(
            "{what} {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Reads a CA file once so that a bad path fails when it is added, not at first use.
pub fn check_ca_file(path: &Path) -> Result<()> {
    load_certs(path, "CA file", Blame::Caller).map(|_| ())
}

/// A client pair read from its files, not yet checked against each other.
pub(crate) struct LoadedPair {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl LoadedPair {
    /// Each rustls config takes its pair by value.
    fn duplicate(&self) -> LoadedPair {
        LoadedPair {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

pub(crate) fn load_pair(pair: &ClientPair, blame: Blame) -> Result<LoadedPair> {
    let chain = load_certs(&pair.cert, "client certificate", blame)?;
    let pem = read_file(&pair.key, "client key")?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        pem::Error::NoItemsFound => blame.error(format!(
            "client key {} holds no PEM private key",
            pair.key.display()
        )),
        e => blame.error(format!(
            "client key {} is not valid PEM: {e}",
            pair.key.display()
        )),
    })?;
    Ok(LoadedPair { chain, key })
}

/// Checks a client pair given through the API: both files readable, PEM, and the key
/// the one of the certificate.
pub fn check_client_pair(pair: &ClientPair) -> Result<()> {
    let loaded = load_pair(pair, Blame::Caller)?;
    let provider = crypto_provider();
    client_config(
        Arc::new(NoVerification(provider.clone())),
        provider,
        Some((pair, loaded)),
        Blame::Caller,
    )
    .map(|_| ())
}

/// A rustls client config with `verifier` and, when given, the client pair. rustls
/// refuses a key that is not the certificate's; that refusal names both files.
pub(crate) fn client_config(
    verifier: Arc<dyn ServerCertVerifier>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    pair: Option<(&ClientPair, LoadedPair)>,
    blame: Blame,
) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::transport(format!("{SETUP_FAILED} failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let Some((files, loaded)) = pair else {
        return Ok(builder.with_no_client_auth());
    };
    builder
        .with_client_auth_cert(loaded.chain, loaded.key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                blame.error(format!(
                    "the client key {} does not belong to the client certificate {}",
                    files.key.display(),
                    files.cert.display()
                ))
            }
            e => blame.error(format!(
                "client certificate {} with key {} cannot be used: {e}",
                files.cert.display(),
                files.key.display()
            )),
        })
}

static SYSTEM_ROOTS: Lazy<Vec<CertificateDer<'static>>> = Lazy::new(|| {
    let loaded = rustls_native_certs::load_native_certs();
    loaded.certs
});

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

/// The usual WebPKI verification against the system roots plus `extra`, with the roots
/// loaded on the first certificate to check rather than up front: a command that only
/// talks plain http to a loopback registry (whose https attempt fails before any
/// certificate) never reads the system's certificate store.
#[derive(Debug)]
pub(crate) struct LazyWebPki {
    provider: Arc<rustls::crypto::CryptoProvider>,
    extra: Vec<CertificateDer<'static>>,
    verifier: once_cell::sync::OnceCell<
        std::result::Result<Arc<rustls::client::WebPkiServerVerifier>, String>,
    >,
}

impl LazyWebPki {
    pub(crate) fn new(
        provider: Arc<rustls::crypto::CryptoProvider>,
        extra: Vec<CertificateDer<'static>>,
    ) -> LazyWebPki {
        LazyWebPki {
            provider,
            extra,
            verifier: once_cell::sync::OnceCell::new(),
        }
    }

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

impl ServerCertVerifier for LazyWebPki {
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
pub(crate) struct NoVerification(pub(crate) Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
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

/// The client-wide configs: verified against the system roots plus `extra`, and the
/// unverified one for insecure registries; neither presents a client certificate.
pub(crate) fn default_configs(
    extra: &[CertificateDer<'static>],
) -> Result<(rustls::ClientConfig, rustls::ClientConfig)> {
    let provider = crypto_provider();
    let verified = client_config(
        Arc::new(LazyWebPki::new(provider.clone(), extra.to_vec())),
        provider.clone(),
        None,
        Blame::Setup,
    )?;
    let unverified = client_config(
        Arc::new(NoVerification(provider.clone())),
        provider,
        None,
        Blame::Setup,
    )?;
    Ok((verified, unverified))
}

/// What one registry's TLS connections are made with, when it has settings of its own.
pub(crate) struct RegistryTls {
    pub verified: Arc<rustls::ClientConfig>,
    pub unverified: Arc<rustls::ClientConfig>,
    /// The client certificate presented, for messages.
    pub client_cert: Option<PathBuf>,
    /// Where the settings came from, for messages: the API, a certs.d directory or both.
    pub origin: String,
}

/// Builds `registry`'s TLS from what the API set for it and the first certs.d root with
/// a directory for it, or None when neither has anything: its connections then use the
/// client-wide configs. CAs add up (system, client-wide, the API's for this registry,
/// the certs.d `*.crt`); the client pair set through the API wins over a certs.d pair.
pub(crate) fn resolve_registry(
    registry: &str,
    api: Option<&RegistryTlsSettings>,
    certs_roots: &[PathBuf],
    client_wide_cas: &[CertificateDer<'static>],
) -> Result<Option<RegistryTls>> {
    let found = certs_d::find(certs_roots, registry)?;
    let api_has_any = api.is_some_and(|a| !a.ca_files.is_empty() || a.client_cert.is_some());
    if !api_has_any && found.is_none() {
        return Ok(None);
    }
    let mut extra = client_wide_cas.to_vec();
    let mut origin = Vec::new();
    let mut pair = None;
    if let Some(api) = api.filter(|_| api_has_any) {
        for path in &api.ca_files {
            extra.extend(load_certs(path, "CA file", Blame::Setup)?);
        }
        pair = api.client_cert.clone();
        origin.push(format!("the settings for {registry}"));
    }
    if let Some(dir) = &found {
        for path in &dir.ca_files {
            extra.extend(load_certs(path, "certs.d CA file", Blame::Setup)?);
        }
        if pair.is_none() {
            pair = dir.client_pairs.first().cloned();
        }
        origin.push(format!("certs.d directory {}", dir.dir.display()));
    }
    let loaded = match &pair {
        Some(p) => Some((p, load_pair(p, Blame::Setup)?)),
        None => None,
    };
    let loaded_again = loaded.as_ref().map(|(p, l)| (*p, l.duplicate()));
    let provider = crypto_provider();
    let verified = client_config(
        Arc::new(LazyWebPki::new(provider.clone(), extra)),
        provider.clone(),
        loaded,
        Blame::Setup,
    )?;
    let unverified = client_config(
        Arc::new(NoVerification(provider.clone())),
        provider,
        loaded_again,
        Blame::Setup,
    )?;
    Ok(Some(RegistryTls {
        verified: Arc::new(verified),
        unverified: Arc::new(unverified),
        client_cert: pair.map(|p| p.cert),
        origin: origin.join(" and "),
    }))
}

/// Puts "TLS setup for REGISTRY" in front of a failure to build its TLS, so that the
/// message says what was being done and the failure is not retried.
pub(crate) fn setup_context(e: Error, registry: &str) -> Error {
    match e.kind {
        ErrorKind::Transport | ErrorKind::Io => {
            e.context(format!("{SETUP_FAILED} for registry {registry} failed"))
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_failures_are_recognised_by_their_words() {
        assert!(is_permanent_failure(
            "GET https://r/v2/ TLS client certificate required: ..."
        ));
        assert!(is_permanent_failure(
            "TLS setup for registry r failed: reading x: denied"
        ));
        assert!(!is_permanent_failure(
            "GET https://r/v2/ connection failed: reset"
        ));
    }

    #[test]
    fn unreadable_and_non_pem_files_are_classed_by_blame() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = load_certs(&missing, "CA file", Blame::Caller).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Io);
        assert!(e.message.contains("missing.pem"), "{}", e.message);
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let e = load_certs(&junk, "CA file", Blame::Caller).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        let e = load_certs(&junk, "certs.d CA file", Blame::Setup).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transport);
        assert!(e.message.contains("junk.pem"), "{}", e.message);
    }
}
