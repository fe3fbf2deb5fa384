//! Certificates made by the test: a CA with a server certificate for
//! 127.0.0.1/localhost (Tls mode), and the token-signing certificate
//! (Token mode), plus the libtrust key id distribution uses to find it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};

/// Files of the Tls mode, all PEM.
#[derive(Clone, Debug)]
pub(crate) struct TlsFiles {
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    /// A directory holding `ca.crt`, for skopeo's `--cert-dir`.
    pub skopeo_cert_dir: PathBuf,
}

/// Makes a CA and a server certificate (SAN IP 127.0.0.1, DNS localhost)
/// under `dir`.
pub(crate) fn write_tls_files(dir: &Path) -> TlsFiles {
    fs::create_dir_all(dir).expect("create certs dir");

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "rr-testkit test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
    let ca = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate server key");
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
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

    let files = TlsFiles {
        ca_pem: dir.join("ca.pem"),
        cert_pem: dir.join("server.pem"),
        key_pem: dir.join("server-key.pem"),
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
    fs::create_dir_all(&files.skopeo_cert_dir).expect("create skopeo cert dir");
    fs::write(files.skopeo_cert_dir.join("ca.crt"), ca_cert.pem()).expect("write ca.crt");
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
    let pem = fs::read(ca_pem).unwrap_or_else(|e| panic!("read {}: {e}", ca_pem.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.unwrap_or_else(|e| panic!("parse {}: {e}", ca_pem.display()));
        roots.add(cert).expect("add CA to root store");
    }
    assert!(!roots.is_empty(), "no certificate in {}", ca_pem.display());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("rustls protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
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
