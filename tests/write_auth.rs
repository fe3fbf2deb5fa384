//! The write path against registries that authenticate: who may push and who may not,
//! the push-permission probe, mounts with the wider token and their fallback, and copies
//! from one registry to another.

mod common;

use common::*;
use rr::builder::ImageBuilder;
use rr::remote::{self, write, Client};
use rr::ErrorKind;
use rr_testkit::{
    shared_seeded, shared_seeded_in, skip, Mode, Registry, Server, TOKEN_MIRROR,
    TOKEN_MIRROR_PASSWORD, TOKEN_PULLER, TOKEN_PULLER_PASSWORD, TOKEN_PUSHER,
    TOKEN_PUSHER_PASSWORD,
};

fn as_user(reg: &Registry, user: &str, password: &str) -> Client {
    let c = client();
    c.set_basic_auth(&reg.host(), user, password).unwrap();
    c
}

fn small_image(dir: &std::path::Path, seed: u64) -> rr::image::Image {
    let layer = write_file(
        dir,
        &format!("{seed}.tar.gz"),
        &gzip(&tar_bytes(seed, 10_000)),
    );
    let mut b = ImageBuilder::new();
    b.add_layer_file(&layer, None).unwrap();
    b.build().unwrap()
}

#[test]
fn the_pusher_pushes_the_puller_is_denied_and_anonymous_is_unauthorized() {
    skip(
        Server::Ggcr,
        "the_pusher_pushes_the_puller_is_denied_and_anonymous_is_unauthorized",
        "it has no authentication or TLS",
    );
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, _) = shared_seeded_in(server, Mode::Token);
        let dir = temp_dir();
        let img = small_image(dir.path(), 1);

        let pusher = as_user(reg, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD);
        let ok = format!("{}/auth-write/pushed:v1", reg.host());
        write::write_image(&pusher, &ok, &img).unwrap();
        assert_eq!(reg.skopeo_inspect_raw(&ok), img.manifest_bytes());
        write::check_push_permission(&pusher, &ok).unwrap();
        assert_eq!(open_upload_sessions(reg, "auth-write/pushed"), 0);
        assert!(sessions_left_behind(reg, "auth-write/pushed").is_empty());

        let puller = as_user(reg, TOKEN_PULLER, TOKEN_PULLER_PASSWORD);
        let denied = format!("{}/auth-write/denied:v1", reg.host());
        let e = write::write_image(&puller, &denied, &img).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Denied, "{e}");
        let e = write::check_push_permission(&puller, &denied).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Denied, "{e}");
        assert!(e.message.contains("auth-write/denied"), "{e}");

        let anonymous = client();
        let e = write::write_image(&anonymous, &denied, &img).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
        let e = write::check_push_permission(&anonymous, &denied).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");

        // Nothing was written and no upload session was opened for the refused users.
        assert_eq!(
            remote::head(&pusher, &denied).unwrap_err().kind,
            ErrorKind::NotFound
        );
        assert_eq!(open_upload_sessions(reg, "auth-write/denied"), 0);
        assert!(sessions_left_behind(reg, "auth-write/denied").is_empty());
    }
}

#[test]
fn a_copy_within_the_token_registry_mounts_with_pull_on_the_source() {
    skip(
        Server::Ggcr,
        "a_copy_within_the_token_registry_mounts_with_pull_on_the_source",
        "it has no authentication or TLS",
    );
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Token);
        let pusher = as_user(reg, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD);
        reg.clear_token_requests();
        let dst = format!("{}/auth-write/mounted:v1", reg.host());
        write::copy(&pusher, &seeded.app.reference, &dst).unwrap();
        assert_eq!(reg.skopeo_inspect_raw(&dst), seeded.app.manifest_bytes);

        let requests = requests_for(reg, "auth-write/mounted");
        let mounted = requests
            .iter()
            .filter(|r| r.method == "POST" && r.uri.contains("mount=") && r.status == 201)
            .count();
        assert_eq!(mounted, 1 + seeded.app.layer_digests.len(), "{requests:#?}");
        assert!(
            !requests.iter().any(|r| r.method == "PATCH"),
            "{requests:#?}"
        );
        let scopes: Vec<String> = reg
            .token_requests()
            .iter()
            .map(|t| t.path_and_query.clone())
            .collect();
        assert!(
            scopes
                .iter()
                .any(|q| q.contains("repository%3Ademo%2Fapp%3Apull")
                    && q.contains("repository%3Aauth-write%2Fmounted%3Apush%2Cpull")),
            "one token names both the destination and the mount source: {scopes:#?}"
        );
    }
}

#[test]
fn a_refused_mount_falls_back_to_an_upload_streamed_from_the_source() {
    skip(
        Server::Ggcr,
        "a_refused_mount_falls_back_to_an_upload_streamed_from_the_source",
        "it has no authentication or TLS",
    );
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Token);
        // The source is read as the puller; the destination is written as a user who may
        // push to mirror/ but not pull demo/app, so the registry refuses the mount.
        let puller = as_user(reg, TOKEN_PULLER, TOKEN_PULLER_PASSWORD);
        let mirror = as_user(reg, TOKEN_MIRROR, TOKEN_MIRROR_PASSWORD);
        let img = remote::image(&puller, &seeded.app.reference).unwrap();
        let dst = format!("{}/mirror/app:v1", reg.host());
        write::write_image(&mirror, &dst, &img).unwrap();
        assert_eq!(reg.skopeo_inspect_raw(&dst), seeded.app.manifest_bytes);

        let requests = requests_for(reg, "mirror/app");
        let mount_tries = requests
            .iter()
            .filter(|r| r.method == "POST" && r.uri.contains("mount="))
            .count();
        assert!(mount_tries >= 1, "a mount was tried: {requests:#?}");
        assert!(
            mount_tries < 1 + seeded.app.layer_digests.len(),
            "after one refusal the rest upload without trying again: {requests:#?}"
        );
        // Every blob uploaded (the seeded ones are small: one PUT with the body each).
        let commits = requests
            .iter()
            .filter(|r| r.method == "PUT" && r.uri.contains("digest=") && r.status == 201)
            .count();
        assert_eq!(commits, 1 + seeded.app.layer_digests.len(), "{requests:#?}");
        assert!(sessions_left_behind(reg, "mirror/app").is_empty());
    }
}

#[test]
fn a_copy_from_the_open_registry_to_the_token_registry() {
    for server in Server::ALL {
        eprintln!("on {server}");
        let (_open, seeded) = shared_seeded_in(server, Mode::Open);
        let (token, _) = shared_seeded(Mode::Token);
        let c = client();
        c.set_basic_auth(&token.host(), TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD)
            .unwrap();
        let dst = format!("{}/auth-write/from-open:multi", token.host());
        write::copy(&c, &seeded.multi.reference, &dst).unwrap();
        assert_eq!(token.skopeo_inspect_raw(&dst), seeded.multi.manifest_bytes);
        assert!(
            !requests_for(token, "auth-write/from-open")
                .iter()
                .any(|r| r.uri.contains("mount=")),
            "no mount is tried across registries"
        );
    }
}

#[test]
fn a_basic_auth_registry_over_tls_takes_a_push() {
    let reg = Registry::start(Mode::Tls);
    let c = client();
    c.add_ca_file(reg.ca_pem_path().unwrap().to_str().unwrap())
        .unwrap();
    c.set_basic_auth(
        &reg.host(),
        rr_testkit::BASIC_USER,
        rr_testkit::BASIC_PASSWORD,
    )
    .unwrap();
    let dir = temp_dir();
    let img = small_image(dir.path(), 2);
    let dst = format!("{}/tls/pushed:v1", reg.host());
    write::write_image(&c, &dst, &img).unwrap();
    assert_eq!(reg.skopeo_inspect_raw(&dst), img.manifest_bytes());
    write::check_push_permission(&c, &dst).unwrap();

    let wrong = client();
    wrong
        .add_ca_file(reg.ca_pem_path().unwrap().to_str().unwrap())
        .unwrap();
    wrong
        .set_basic_auth(&reg.host(), rr_testkit::BASIC_USER, "wrong")
        .unwrap();
    let e = write::check_push_permission(&wrong, &dst).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
}

struct Lines(std::sync::Mutex<Vec<String>>);

impl rr::transport::LogSink for Lines {
    fn line(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }
}

#[test]
fn the_request_log_shows_every_exchange_and_no_secret() {
    skip(
        Server::Ggcr,
        "the_request_log_shows_every_exchange_and_no_secret",
        "it has no authentication or TLS",
    );
    for server in [Server::Distribution28, Server::DistributionV3] {
        eprintln!("on {server}");
        let (reg, seeded) = shared_seeded_in(server, Mode::Token);
        let pusher = as_user(reg, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD);
        let lines = std::sync::Arc::new(Lines(Default::default()));
        pusher.set_log(Some(lines.clone()));
        let dst = format!("{}/auth-write/logged:v1", reg.host());
        write::copy(&pusher, &seeded.app.reference, &dst).unwrap();
        let lines = lines.0.lock().unwrap().clone();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("GET ") && l.contains("/token") && l.contains("-> 200")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("PUT ") && l.contains("/manifests/v1 -> 201")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .all(|l| l.ends_with(" ms)") || l.contains("failed after")),
            "{lines:#?}"
        );
        for l in &lines {
            assert!(
                !l.contains(TOKEN_PUSHER_PASSWORD)
                    && !l.contains("Bearer")
                    && (!l.contains("_state=") || l.contains("_state=REDACTED")),
                "{l}"
            );
        }
    }
}
