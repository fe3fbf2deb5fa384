//! Certificates made by the test: a CA with a server certificate for
//! 127.0.0.1/localhost (Tls mode) and client certificates (mTLS), and the
//! token-signing certificate (Token mode), plus the libtrust key id
//! distribution uses to find it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// Files of the Tls mode, all PEM.
#[derive(Clone, Debug)]
pub(crate) struct TlsFiles {
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    /// A client certificate signed by the test CA (extended key usage clientAuth), and
    /// its key: what an mTLS registry accepts.
    pub client_cert_pem: PathBuf,
    pub client_key_pem: PathBuf,
    /// A client certificate and key signed by another CA, which an mTLS registry refuses.
    pub stranger_cert_pem: PathBuf,
    pub stranger_key_pem: PathBuf,
    /// A directory holding `ca.crt` (and, for mTLS, `client.cert` + `client.key`), for
    /// skopeo's `--cert-dir`.
    pub skopeo_cert_dir: PathBuf,
}

/// A CA named `name` and a tag of its key: every CA its own subject, so that a bundle of
/// several registries' CAs works with clients that pick an issuer by subject alone
/// (OpenSSL, so curl, fails to verify with the first CA of a shared name).
fn make_ca(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    use sha2::Digest as _;
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate CA key");
    let tag = hex::encode(&sha2::Sha256::digest(ca_key.public_key_raw())[..6]);
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} {tag}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
    (ca_cert, Issuer::new(ca_params, ca_key))
}

/// A client certificate (CN `name`, clientAuth) signed by `ca`, and its key.
fn make_client_cert(name: &str, ca: &Issuer<'static, KeyPair>) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate client key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, ca).expect("sign client certificate");
    (cert, key)
}

/// Makes a CA and a server certificate (SAN IP 127.0.0.1, DNS localhost and
/// [`crate::PROXY_ONLY_HOST`]), a client certificate from the same CA and one from
/// another CA, under `dir`. `mtls`: skopeo's cert dir gets the client pair too.
pub(crate) fn write_tls_files(dir: &Path, mtls: bool) -> TlsFiles {
    fs::create_dir_all(dir).expect("create certs dir");

    let (ca_cert, ca) = make_ca("rr-testkit test CA");

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate server key");
    let mut server_params = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        crate::PROXY_ONLY_HOST.to_string(),
    ])
    .expect("server params");
    server_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params
        .signed_by(&server_key, &ca)
        .expect("sign server certificate");
    let (client_cert, client_key) = make_client_cert("rr-testkit client", &ca);
    let (_, stranger_ca) = make_ca("rr-testkit stranger CA");
    let (stranger_cert, stranger_key) = make_client_cert("rr-testkit stranger", &stranger_ca);

    let files = TlsFiles {
        ca_pem: dir.join("ca.pem"),
        cert_pem: dir.join("server.pem"),
        key_pem: dir.join("server-key.pem"),
        client_cert_pem: dir.join("client.pem"),
        client_key_pem: dir.join("client-key.pem"),
        stranger_cert_pem: dir.join("stranger.pem"),
        stranger_key_pem: dir.join("stranger-key.pem"),
        skopeo_cert_dir: dir.join("skopeo"),
    };
    fs::write(&files.ca_pem, ca_cert.pem()).expect("write CA");
    // The chain the registry serves: leaf then CA.
    fs::write(
        &files.cert_pem,
        format!("{}{}", server_cert.pem(), ca_cert.pem()),
    )
    .expect("write server certificate");
    fs::write(&files.key_pem, server_key.serialize_pem()).expect("write server key");
    fs::write(&files.client_cert_pem, client_cert.pem()).expect("write client certificate");
    fs::write(&files.client_key_pem, client_key.serialize_pem()).expect("write client key");
    fs::write(&files.stranger_cert_pem, stranger_cert.pem()).expect("write stranger cert");
    fs::write(&files.stranger_key_pem, stranger_key.serialize_pem()).expect("write stranger key");
    fs::create_dir_all(&files.skopeo_cert_dir).expect("create skopeo cert dir");
    fs::write(files.skopeo_cert_dir.join("ca.crt"), ca_cert.pem()).expect("write ca.crt");
    if mtls {
        fs::write(files.skopeo_cert_dir.join("client.cert"), client_cert.pem())
            .expect("write client.cert");
        fs::write(
            files.skopeo_cert_dir.join("client.key"),
            client_key.serialize_pem(),
        )
        .expect("write client.key");
    }
    files
}

/// The ES256 key the token server signs with, and its self-signed certificate
/// (the registry's `auth.token.rootcertbundle`).
pub(crate) struct SigningMaterial {
    /// PKCS#8 DER of the P-256 private key.
    pub pkcs8_der: Vec<u8>,
    pub cert_pem: String,
    /// libtrust key id of the public key, the JWT header `kid`.
    pub kid: String,
}

pub(crate) fn make_signing_material() -> SigningMaterial {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate signing key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("signer params");
    params
        .distinguished_name
        .push(DnType::CommonName, "rr-testkit token signer");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key).expect("self-sign signer");
    SigningMaterial {
        pkcs8_der: key.serialize_der(),
        cert_pem: cert.pem(),
        kid: libtrust_key_id(&key.subject_public_key_info()),
    }
}

/// The libtrust fingerprint distribution 2.x uses as a key id: SHA-256 of the
/// DER SubjectPublicKeyInfo, first 30 bytes, base32 without padding, in 12
/// groups of 4 characters joined by `:`.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let sum = Sha256::digest(spki_der);
    let b32 = data_encoding::BASE32_NOPAD.encode(&sum[..30]);
    let groups: Vec<&str> = (0..b32.len())
        .step_by(4)
        .map(|i| &b32[i..(i + 4).min(b32.len())])
        .collect();
    groups.join(":")
}

/// A rustls client config (ring provider, HTTP/1.1 only) trusting only the
/// certificates in the PEM file `ca_pem`.
pub fn tls_client_config(ca_pem: &Path) -> Arc<rustls::ClientConfig> {
    tls_client_config_with_cert(ca_pem, None)
}

/// Like [`tls_client_config`], presenting the client certificate `client` (PEM files of
/// the certificate and its key) when the server asks for one.
pub fn tls_client_config_with_cert(
    ca_pem: &Path,
    client: Option<(&Path, &Path)>,
) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("rustls protocol versions")
        .with_root_certificates(root_store(ca_pem));
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert), read_key(key))
            .unwrap_or_else(|e| panic!("client pair {}: {e}", cert.display())),
    };
    Arc::new(config)
}

fn read_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    let pem = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.unwrap_or_else(|e| panic!("parse {}: {e}", path.display())))
        .collect();
    assert!(!certs.is_empty(), "no certificate in {}", path.display());
    certs
}

fn read_key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).unwrap_or_else(|e| panic!("key {}: {e}", path.display()))
}

/// A root store holding the certificates of `ca_pem`.
pub(crate) fn root_store(ca_pem: &Path) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(ca_pem) {
        roots.add(cert).expect("add CA to root store");
    }
    roots
}

/// A rustls server config serving `cert_pem` (chain) with `key_pem`, requiring a client
/// certificate signed by a CA of `client_ca_pem` (the token server of an mTLS registry).
pub(crate) fn tls_server_config_requiring_client(
    cert_pem: &Path,
    key_pem: &Path,
    client_ca_pem: &Path,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(root_store(client_ca_pem)),
        provider.clone(),
    )
    .build()
    .expect("client verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("rustls protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(read_certs(cert_pem), read_key(key_pem))
        .expect("token server certificate");
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_shape() {
        let kid = libtrust_key_id(b"anything");
        assert_eq!(kid.len(), 12 * 4 + 11);
        assert!(kid.split(':').all(|g| g.len() == 4));
        // Known vector: base32 of the first 30 bytes of sha256("anything").
        let sum = Sha256::digest(b"anything");
        let b32 = data_encoding::BASE32_NOPAD.encode(&sum[..30]);
        assert_eq!(kid.replace(':', ""), b32);
    }
}
