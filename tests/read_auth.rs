//! The auth handshake against real registries: htpasswd Basic, TLS with a test CA, and
//! token auth with our token server (users with different rights, anonymous public pulls).

use rr::remote::{self, list, Client};
use rr::ErrorKind;
use rr_testkit::*;

fn client() -> Client {
    let c = Client::new();
    c.set_keychain(false);
    c
}

#[test]
fn basic_auth_right_wrong_and_missing() {
    skip(
        Server::Ggcr,
        "basic_auth_right_wrong_and_missing",
        "it has no authentication or TLS",
    );
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Basic);
        let c = client();
        c.set_basic_auth(&reg.host(), BASIC_USER, BASIC_PASSWORD)
            .unwrap();
        let d = remote::get(&c, &seeded.app.reference).unwrap();
        assert_eq!(d.digest, seeded.app.manifest_digest);
        let img = d.image().unwrap();
        assert_eq!(img.config().unwrap(), seeded.app.config_bytes.as_slice());

        let wrong = client();
        wrong
            .set_basic_auth(&reg.host(), BASIC_USER, "not-the-password")
            .unwrap();
        let e = remote::get(&wrong, &seeded.app.reference).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{}", e.message);
        assert_eq!(e.http_status, 401);
        assert!(!e.message.contains("not-the-password"));

        let e = remote::get(&client(), &seeded.app.reference).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{}", e.message);
        assert!(e.message.contains("no credentials"), "{}", e.message);
    }
}

#[test]
fn tls_with_the_test_ca_and_without_it() {
    skip(
        Server::Ggcr,
        "tls_with_the_test_ca_and_without_it",
        "it has no authentication or TLS",
    );
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Tls);
        let ca = reg.ca_pem_path().unwrap();
        let c = client();
        c.add_ca_file(ca.to_str().unwrap()).unwrap();
        c.set_basic_auth(&reg.host(), BASIC_USER, BASIC_PASSWORD)
            .unwrap();
        let d = remote::get(&c, &seeded.app.reference).unwrap();
        assert_eq!(d.digest, seeded.app.manifest_digest);
        let tags = list::list(&c, &format!("{}/demo/many", reg.host())).unwrap();
        assert_eq!(tags.len(), STANDARD_MANY_TAGS);

        let no_ca = client();
        no_ca.set_retry(1, 0).unwrap();
        no_ca
            .set_basic_auth(&reg.host(), BASIC_USER, BASIC_PASSWORD)
            .unwrap();
        let e = remote::get(&no_ca, &seeded.app.reference).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transport, "{}", e.message);
        assert!(
            e.message.contains("TLS certificate verification failed"),
            "{}",
            e.message
        );
        assert!(
            e.message.starts_with("ping of registry") || e.message.contains("https://"),
            "{}",
            e.message
        );

        let insecure = client();
        insecure.set_insecure(&reg.host()).unwrap();
        insecure
            .set_basic_auth(&reg.host(), BASIC_USER, BASIC_PASSWORD)
            .unwrap();
        assert_eq!(
            remote::get(&insecure, &seeded.app.reference)
                .unwrap()
                .digest,
            seeded.app.manifest_digest
        );
    }
}

#[test]
fn token_auth_users_and_rights() {
    skip(
        Server::Ggcr,
        "token_auth_users_and_rights",
        "it has no authentication or TLS",
    );
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Token);
        for (user, pw) in [
            (TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD),
            (TOKEN_PULLER, TOKEN_PULLER_PASSWORD),
        ] {
            let c = client();
            c.set_basic_auth(&reg.host(), user, pw).unwrap();
            let img = remote::image(&c, &seeded.app.reference).unwrap();
            assert_eq!(img.digest(), seeded.app.manifest_digest, "{user}");
            let mut n = 0u64;
            img.layer_read(1, &mut |b| {
                n += b.len() as u64;
                Ok(())
            })
            .unwrap();
            assert_eq!(n, seeded.app.layer_sizes[1]);
        }

        // Anonymous: public/ is readable, demo/ is not.
        let anon = client();
        let public = seeded.public_app.as_ref().unwrap();
        assert_eq!(
            remote::get(&anon, &public.reference).unwrap().digest,
            public.manifest_digest
        );
        let e = remote::get(&anon, &seeded.app.reference).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{}", e.message);
        assert_eq!(e.http_status, 401);

        // A wrong password is refused by the token server.
        let wrong = client();
        wrong
            .set_basic_auth(&reg.host(), TOKEN_PUSHER, "wrong")
            .unwrap();
        let e = remote::get(&wrong, &seeded.app.reference).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{}", e.message);
        assert!(!e.message.contains("wrong\""), "{}", e.message);

        // The catalog needs registry:catalog:*, which only the pusher has.
        let pusher = client();
        pusher
            .set_basic_auth(&reg.host(), TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD)
            .unwrap();
        let repos = list::catalog(&pusher, &reg.host()).unwrap();
        assert!(repos.iter().any(|r| r == "demo/app"), "{repos:?}");
        let puller = client();
        puller
            .set_basic_auth(&reg.host(), TOKEN_PULLER, TOKEN_PULLER_PASSWORD)
            .unwrap();
        let e = list::catalog(&puller, &reg.host()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Denied, "{}", e.message);
    }
}

#[test]
fn token_exchange_sends_scope_and_service_and_caches_the_token() {
    let reg = Registry::start(Mode::Token);
    let seeded = reg.seed_standard();
    reg.clear_token_requests();
    let c = client();
    c.set_basic_auth(&reg.host(), TOKEN_PULLER, TOKEN_PULLER_PASSWORD)
        .unwrap();
    remote::get(&c, &seeded.app.reference).unwrap();
    remote::get(&c, &seeded.app.reference).unwrap();
    let reqs = reg.token_requests();
    assert_eq!(
        reqs.len(),
        1,
        "the second operation reuses the token: {reqs:?}"
    );
    let r = &reqs[0];
    assert_eq!(r.method, "GET");
    assert!(
        r.path_and_query
            .contains("scope=repository%3Ademo%2Fapp%3Apull"),
        "{r:?}"
    );
    assert!(
        r.path_and_query
            .contains(&format!("service={TOKEN_SERVICE}")),
        "{r:?}"
    );
    assert!(r.authorization, "{r:?}");

    // A different repository needs another scope, hence another token.
    let many = format!("{}/demo/many:t001", reg.host());
    remote::get(&c, &many).unwrap();
    assert_eq!(reg.token_requests().len(), 2);
}

#[test]
fn a_registry_token_is_sent_as_is() {
    skip(
        Server::Ggcr,
        "a_registry_token_is_sent_as_is",
        "it has no authentication or TLS",
    );
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Token);
        let token = reg.issue_token(TOKEN_PULLER, &["repository:demo/app:pull"]);
        struct Fixed(String);
        impl rr::transport::AuthCallback for Fixed {
            fn credential(&self, _: &str) -> rr::Result<Option<rr::authn::Credential>> {
                Ok(Some(rr::authn::Credential::RegistryToken(self.0.clone())))
            }
        }
        let c = client();
        c.set_auth_callback(Some(std::sync::Arc::new(Fixed(token))));
        assert_eq!(
            remote::get(&c, &seeded.app.reference).unwrap().digest,
            seeded.app.manifest_digest
        );
    }
}

#[test]
fn identity_tokens_use_the_oauth_post() {
    let reg = Registry::start(Mode::Token);
    let seeded = reg.seed_standard();
    reg.clear_token_requests();
    struct Identity;
    impl rr::transport::AuthCallback for Identity {
        fn credential(&self, _: &str) -> rr::Result<Option<rr::authn::Credential>> {
            Ok(Some(rr::authn::Credential::IdentityToken(
                "refresh-puller".into(),
            )))
        }
    }
    let c = client();
    c.set_auth_callback(Some(std::sync::Arc::new(Identity)));
    assert_eq!(
        remote::get(&c, &seeded.app.reference).unwrap().digest,
        seeded.app.manifest_digest
    );
    let reqs = reg.token_requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].method, "POST");
    assert!(!reqs[0].authorization, "{:?}", reqs[0]);
}

#[test]
fn a_challenge_naming_new_scopes_gets_exactly_one_reauthentication() {
    let reg = Registry::start(Mode::Token);
    let seeded = reg.seed_standard();
    let c = client();
    c.set_basic_auth(&reg.host(), TOKEN_PULLER, TOKEN_PULLER_PASSWORD)
        .unwrap();
    let op = c.operation().unwrap();
    let registry = rr::name::Registry::parse(&reg.host()).unwrap();
    // The session starts with pull on demo/many only, then reads demo/app: the registry's
    // 401 names repository:demo/app:pull, which the session adds and asks a token for.
    let session = op.ctx.session(
        &registry,
        Some("demo/many"),
        vec!["repository:demo/many:pull".to_string()],
    );
    reg.clear_token_requests();
    let request = session
        .request("GET", "/v2/demo/app/manifests/v1")
        .unwrap()
        .header("Accept", rr::manifest::ACCEPT_ALL);
    let response = session.send_expect(request, &[200]).unwrap();
    drop(response);
    let reqs = reg.token_requests();
    assert_eq!(
        reqs.len(),
        2,
        "first token, then one with the new scope: {reqs:?}"
    );
    assert_eq!(
        reqs[0].scopes,
        vec!["repository:demo/many:pull".to_string()]
    );
    assert_eq!(
        reqs[1].scopes,
        vec![
            "repository:demo/app:pull".to_string(),
            "repository:demo/many:pull".to_string()
        ],
        "new scopes come first"
    );

    // A request the token can never satisfy is answered once, then refused: no loop.
    reg.clear_token_requests();
    let push = session
        .request("POST", "/v2/demo/app/blobs/uploads/")
        .unwrap();
    let e = session.send_expect(push, &[202]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied, "{}", e.message);
    assert!(
        reg.token_requests().len() <= 1,
        "{:?}",
        reg.token_requests()
    );
    let _ = seeded;
}
