//! Per-registry TLS against real registries: a distribution registry that requires a
//! client certificate (`http.tls.clientcas`), reached without one, with one it does not
//! trust, with the client pair set through the API and with a certs.d directory; a
//! token server that requires the certificate too; CAs scoped to one registry; and
//! certs.d directories and API arguments that do not hold what they should.

use rr::remote::{self, Client};
use rr::ErrorKind;
use rr_testkit::*;
use std::path::{Path, PathBuf};

const REPO_TAG: &str = "demo/app:v1";

/// A client without the host's keychain and certs.d directories, trying each request
/// once (a refused certificate is not retried anyway, but a failure should be quick).
fn client() -> Client {
    let c = Client::new();
    c.set_keychain(false);
    c.set_default_certs_dirs(false);
    c.set_retry(1, 0).unwrap();
    c
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A distribution registry of `mode` requiring a client certificate, holding one image.
fn mtls_registry(server: Server, mode: Mode) -> (Registry, PushedImage) {
    let reg = Registry::start_with(Options {
        mtls: true,
        ..Options::new(server, mode)
    });
    let image = reg.push_image(REPO_TAG, &ImageSpec::random(7, &[3000, 5000]));
    (reg, image)
}

fn with_basic(c: &Client, reg: &Registry) {
    if let Some((u, p)) = reg.credentials() {
        c.set_basic_auth(&reg.host(), u, p).unwrap();
    }
}

/// The image's digest and config, read with `c`.
fn read_image(c: &Client, image: &PushedImage) -> rr::Result<String> {
    let d = remote::get(c, &image.reference)?;
    let img = d.image()?;
    assert_eq!(img.config()?, image.config_bytes.as_slice());
    Ok(d.digest.clone())
}

#[test]
fn mtls_registry_refuses_a_client_without_its_certificate() {
    let (reg, image) = mtls_registry(Server::Distribution28, Mode::Tls);
    let c = client();
    with_basic(&c, &reg);
    c.add_ca_file(s(&reg.ca_pem_path().unwrap())).unwrap();
    let e = read_image(&c, &image).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
    assert!(
        e.message.contains("TLS client certificate required")
            && e.message.contains("none is set for")
            && e.message.contains(&reg.host()),
        "{}",
        e.message
    );

    // A certificate from a CA the registry does not trust is refused, and the message
    // names the file that was presented.
    let (stranger_cert, stranger_key) = reg.stranger_client_pair().unwrap();
    let c = client();
    with_basic(&c, &reg);
    c.add_ca_file(s(&reg.ca_pem_path().unwrap())).unwrap();
    c.set_client_cert(&reg.host(), s(&stranger_cert), s(&stranger_key))
        .unwrap();
    let e = read_image(&c, &image).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
    assert!(
        e.message.contains("TLS client certificate refused")
            && e.message.contains(s(&stranger_cert)),
        "{}",
        e.message
    );

    // A pair set for another registry is not presented to this one.
    let c = client();
    with_basic(&c, &reg);
    c.add_ca_file(s(&reg.ca_pem_path().unwrap())).unwrap();
    c.set_client_cert(
        "127.0.0.1:1",
        s(&reg.client_cert_pem_path().unwrap()),
        s(&reg.client_key_pem_path().unwrap()),
    )
    .unwrap();
    let e = read_image(&c, &image).unwrap_err();
    assert!(
        e.message.contains("TLS client certificate required"),
        "{}",
        e.message
    );
}

#[test]
fn mtls_registry_accepts_the_pair_and_a_scoped_ca_set_through_the_api() {
    let (reg, image) = mtls_registry(Server::Distribution28, Mode::Tls);
    let c = client();
    with_basic(&c, &reg);
    // The CA for this registry only, not client-wide.
    c.add_registry_ca_file(&reg.host(), s(&reg.ca_pem_path().unwrap()))
        .unwrap();
    c.set_client_cert(
        &reg.host(),
        s(&reg.client_cert_pem_path().unwrap()),
        s(&reg.client_key_pem_path().unwrap()),
    )
    .unwrap();
    assert_eq!(read_image(&c, &image).unwrap(), image.manifest_digest);
    // Writes go through the same connections.
    remote::write::tag(&c, &image.reference, "v2").unwrap();
    assert!(reg
        .requests()
        .iter()
        .any(|r| r.method == "PUT" && r.uri == "/v2/demo/app/manifests/v2"));
}

#[test]
fn mtls_distribution_v3_accepts_the_pair_set_through_the_api() {
    let (reg, image) = mtls_registry(Server::DistributionV3, Mode::Open);
    let c = client();
    c.add_ca_file(s(&reg.ca_pem_path().unwrap())).unwrap();
    let e = read_image(&c, &image).unwrap_err();
    assert!(
        e.message.contains("TLS client certificate required"),
        "{}",
        e.message
    );
    c.set_client_cert(
        &reg.host(),
        s(&reg.client_cert_pem_path().unwrap()),
        s(&reg.client_key_pem_path().unwrap()),
    )
    .unwrap();
    assert_eq!(read_image(&c, &image).unwrap(), image.manifest_digest);
}

/// `root/HOST:PORT/` with the test CA as `ca.crt` and the client pair as
/// `client.cert` + `client.key`.
fn certs_d(reg: &Registry) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(reg.host());
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(reg.ca_pem_path().unwrap(), dir.join("ca.crt")).unwrap();
    std::fs::copy(reg.client_cert_pem_path().unwrap(), dir.join("client.cert")).unwrap();
    std::fs::copy(reg.client_key_pem_path().unwrap(), dir.join("client.key")).unwrap();
    (root, dir)
}

#[test]
fn mtls_registry_accepts_a_certs_d_directory() {
    let (reg, image) = mtls_registry(Server::Distribution28, Mode::Tls);
    let (root, _dir) = certs_d(&reg);
    // Neither a CA nor a pair through the API: both come from the directory.
    let c = client();
    with_basic(&c, &reg);
    c.add_certs_dir(s(root.path())).unwrap();
    assert_eq!(read_image(&c, &image).unwrap(), image.manifest_digest);

    // Only the first root with a directory for the registry counts: an earlier one
    // holding just the CA hides the pair of the later one.
    let earlier = tempfile::tempdir().unwrap();
    std::fs::create_dir(earlier.path().join(reg.host())).unwrap();
    std::fs::copy(
        reg.ca_pem_path().unwrap(),
        earlier.path().join(reg.host()).join("ca.crt"),
    )
    .unwrap();
    let c = client();
    with_basic(&c, &reg);
    c.add_certs_dir(s(earlier.path())).unwrap();
    c.add_certs_dir(s(root.path())).unwrap();
    let e = read_image(&c, &image).unwrap_err();
    assert!(
        e.message.contains("TLS client certificate required"),
        "{}",
        e.message
    );

    // A pair set through the API wins over the directory's.
    let (stranger_cert, stranger_key) = reg.stranger_client_pair().unwrap();
    let c = client();
    with_basic(&c, &reg);
    c.add_certs_dir(s(root.path())).unwrap();
    c.set_client_cert(&reg.host(), s(&stranger_cert), s(&stranger_key))
        .unwrap();
    let e = read_image(&c, &image).unwrap_err();
    assert!(
        e.message.contains("TLS client certificate refused")
            && e.message.contains(s(&stranger_cert)),
        "{}",
        e.message
    );
}

#[test]
fn the_token_endpoint_gets_the_registry_certificate_and_ca() {
    // Registry and token server both speak https with the test CA and require the
    // client certificate; the token server listens on another port, so only the
    // registry's own settings, carried to the requests made for it, can reach it.
    let (reg, image) = mtls_registry(Server::Distribution28, Mode::Token);
    assert!(reg.token_realm().unwrap().starts_with("https://"));
    reg.clear_token_requests();
    let c = client();
    with_basic(&c, &reg);
    c.add_registry_ca_file(&reg.host(), s(&reg.ca_pem_path().unwrap()))
        .unwrap();
    c.set_client_cert(
        &reg.host(),
        s(&reg.client_cert_pem_path().unwrap()),
        s(&reg.client_key_pem_path().unwrap()),
    )
    .unwrap();
    assert_eq!(read_image(&c, &image).unwrap(), image.manifest_digest);
    let tokens = reg.token_requests();
    assert!(
        tokens
            .iter()
            .any(|t| t.status == 200 && t.user.as_deref() == Some(TOKEN_PUSHER)),
        "{tokens:?}"
    );

    // Through a certs.d directory as well.
    reg.clear_token_requests();
    let (root, _dir) = certs_d(&reg);
    let c = client();
    with_basic(&c, &reg);
    c.add_certs_dir(s(root.path())).unwrap();
    assert_eq!(read_image(&c, &image).unwrap(), image.manifest_digest);
    assert!(!reg.token_requests().is_empty());
}

#[test]
fn a_registry_scoped_ca_trusts_that_registry_only() {
    let a = Registry::start(Mode::Tls);
    let b = Registry::start(Mode::Tls);
    let image_a = a.push_image(REPO_TAG, &ImageSpec::random(11, &[2000]));
    let image_b = b.push_image(REPO_TAG, &ImageSpec::random(12, &[2000]));
    let c = client();
    with_basic(&c, &a);
    with_basic(&c, &b);
    // Each registry has its own test CA; b's CA is given for a only.
    c.add_registry_ca_file(&a.host(), s(&a.ca_pem_path().unwrap()))
        .unwrap();
    c.add_registry_ca_file(&a.host(), s(&b.ca_pem_path().unwrap()))
        .unwrap();
    assert_eq!(read_image(&c, &image_a).unwrap(), image_a.manifest_digest);
    let e = read_image(&c, &image_b).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
    assert!(
        e.message.contains("TLS certificate verification failed"),
        "{}",
        e.message
    );
    c.add_registry_ca_file(&b.host(), s(&b.ca_pem_path().unwrap()))
        .unwrap();
    assert_eq!(read_image(&c, &image_b).unwrap(), image_b.manifest_digest);
}

#[test]
fn bad_certs_d_directories_fail_clearly_naming_the_files() {
    let (reg, image) = mtls_registry(Server::Distribution28, Mode::Tls);
    let try_root = |root: &Path| {
        let c = client();
        with_basic(&c, &reg);
        c.add_certs_dir(s(root)).unwrap();
        read_image(&c, &image).unwrap_err()
    };

    // A key that is not the certificate's.
    let (root, dir) = certs_d(&reg);
    std::fs::copy(reg.server_key_pem_path().unwrap(), dir.join("client.key")).unwrap();
    let e = try_root(root.path());
    assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
    assert!(
        e.message.contains("does not belong to")
            && e.message.contains(s(&dir.join("client.key")))
            && e.message.contains(s(&dir.join("client.cert")))
            && e.message.contains("TLS setup for registry"),
        "{}",
        e.message
    );

    // A certificate without its key.
    std::fs::remove_file(dir.join("client.key")).unwrap();
    let e = try_root(root.path());
    assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
    assert!(
        e.message.contains(s(&dir.join("client.cert"))) && e.message.contains("client.key"),
        "{}",
        e.message
    );

    // A file that cannot be read (a directory where a CA file should be; the tests may
    // run as root, for whom permissions do not stop reading).
    let (root, dir) = certs_d(&reg);
    std::fs::create_dir(dir.join("extra.crt")).unwrap();
    let e = try_root(root.path());
    assert_eq!(e.kind, ErrorKind::Io, "{}", e.message);
    assert!(
        e.message.contains(s(&dir.join("extra.crt"))),
        "{}",
        e.message
    );

    // A CA file that is not PEM.
    std::fs::remove_dir(dir.join("extra.crt")).unwrap();
    std::fs::write(dir.join("extra.crt"), "not a certificate").unwrap();
    let e = try_root(root.path());
    assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
    assert!(
        e.message.contains(s(&dir.join("extra.crt"))),
        "{}",
        e.message
    );

    // Fixed, the same client reads the directory again: failures are not remembered.
    let c = client();
    with_basic(&c, &reg);
    c.add_certs_dir(s(root.path())).unwrap();
    assert!(read_image(&c, &image).is_err());
    std::fs::remove_file(dir.join("extra.crt")).unwrap();
    assert_eq!(read_image(&c, &image).unwrap(), image.manifest_digest);
}

#[test]
fn bad_pairs_through_the_api_are_refused_when_set() {
    // A registry in Tls mode only to have the test's certificates and keys.
    let reg = Registry::start(Mode::Tls);
    let cert = reg.client_cert_pem_path().unwrap();
    let key = reg.client_key_pem_path().unwrap();
    let c = client();

    let e = c
        .set_client_cert(
            &reg.host(),
            s(&cert),
            s(&reg.server_key_pem_path().unwrap()),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(
        e.message.contains("does not belong to")
            && e.message.contains(s(&cert))
            && e.message.contains(s(&reg.server_key_pem_path().unwrap())),
        "{}",
        e.message
    );

    let e = c
        .set_client_cert(&reg.host(), "/nonexistent/client.pem", s(&key))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{}", e.message);
    assert!(
        e.message.contains("/nonexistent/client.pem"),
        "{}",
        e.message
    );

    let e = c
        .set_client_cert(&reg.host(), s(&cert), "/nonexistent/key.pem")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{}", e.message);

    // A certificate where the key should be.
    let e = c
        .set_client_cert(&reg.host(), s(&cert), s(&cert))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(
        e.message.contains("holds no PEM private key"),
        "{}",
        e.message
    );

    // A key where the certificate should be.
    let e = c
        .set_client_cert(&reg.host(), s(&key), s(&key))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(
        e.message.contains("holds no PEM certificate"),
        "{}",
        e.message
    );

    let e = c
        .set_client_cert("not a registry", s(&cert), s(&key))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidReference, "{}", e.message);

    let e = c
        .add_registry_ca_file(&reg.host(), "/nonexistent/ca.pem")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{}", e.message);
    let e = c.add_registry_ca_file(&reg.host(), s(&key)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);

    c.set_client_cert(&reg.host(), s(&cert), s(&key)).unwrap();
}
