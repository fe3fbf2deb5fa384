//! One test per registry mode: it starts, and its auth behaves as promised.

use std::io::Read;

use rr_testkit::{
    agent_with_ca, ImageSpec, Mode, Registry, BASIC_PASSWORD, BASIC_USER, MANIFEST_ACCEPT,
    TOKEN_PULLER, TOKEN_PULLER_PASSWORD, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD, TOKEN_SERVICE,
};
use serde_json::Value;

fn basic(user: &str, pw: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

/// Status of a GET, treating 4xx/5xx as answers; panics on transport errors.
fn status(agent: &ureq::Agent, url: &str, auth: Option<&str>) -> u16 {
    let mut req = agent.get(url).set("Accept", MANIFEST_ACCEPT);
    if let Some(a) = auth {
        req = req.set("Authorization", a);
    }
    match req.call() {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("GET {url}: {e}"),
    }
}

#[test]
fn open_mode_answers_anonymously() {
    let reg = Registry::start(Mode::Open);
    assert_eq!(reg.mode(), Mode::Open);
    assert!(reg.host().starts_with("127.0.0.1:"));
    assert_eq!(status(&reg.agent(), &reg.url("/v2/"), None), 200);
    assert!(reg.ca_pem_path().is_none());
    assert!(reg.token_realm().is_none());
    assert!(reg.credentials().is_none());
    assert!(reg.log_path().exists());
    assert!(reg.storage_dir().is_dir());
}

#[test]
fn basic_mode_requires_alice() {
    let reg = Registry::start(Mode::Basic);
    let agent = reg.agent();
    let v2 = reg.url("/v2/");
    match agent.get(&v2).call() {
        Err(ureq::Error::Status(401, r)) => {
            let challenge = r.header("WWW-Authenticate").unwrap_or_default().to_string();
            assert!(challenge.starts_with("Basic "), "{challenge}");
        }
        other => panic!("anonymous /v2/ should be 401, got {other:?}"),
    }
    assert_eq!(
        status(&agent, &v2, Some(&basic(BASIC_USER, BASIC_PASSWORD))),
        200
    );
    assert_eq!(status(&agent, &v2, Some(&basic(BASIC_USER, "wrong"))), 401);

    // skopeo pushes with alice's credentials.
    let img = reg.push_image("basic/app:v1", &ImageSpec::random(42, &[1000]));
    let url = reg.url("/v2/basic/app/manifests/v1");
    assert_eq!(status(&agent, &url, None), 401);
    assert_eq!(status(&agent, &url, reg.auth_header(&[]).as_deref()), 200);
    assert!(reg.blob_data_path(&img.layer_digests[0]).is_file());
}

#[test]
fn tls_mode_serves_https_with_the_test_ca() {
    let reg = Registry::start(Mode::Tls);
    let ca = reg.ca_pem_path().expect("Tls mode has a CA");
    assert!(reg.base_url().starts_with("https://"));
    let agent = agent_with_ca(Some(&ca));
    let v2 = reg.url("/v2/");
    assert_eq!(
        status(&agent, &v2, Some(&basic(BASIC_USER, BASIC_PASSWORD))),
        200
    );
    assert_eq!(status(&agent, &v2, None), 401);
    // localhost is in the certificate too.
    let by_name = format!("https://localhost:{}/v2/", reg.port());
    assert_eq!(
        status(&agent, &by_name, Some(&basic(BASIC_USER, BASIC_PASSWORD))),
        200
    );

    // Without the CA the handshake fails.
    match ureq::AgentBuilder::new().build().get(&v2).call() {
        Err(ureq::Error::Transport(_)) => {}
        other => panic!("HTTPS without the test CA should fail, got {other:?}"),
    }
    // Plain HTTP to the TLS port gets no registry answer (Go answers 400).
    let plain = format!("http://{}/v2/", reg.host());
    match agent.get(&plain).call() {
        Err(ureq::Error::Transport(_)) | Err(ureq::Error::Status(400, _)) => {}
        other => panic!("plain HTTP to the TLS port should fail, got {other:?}"),
    }

    // curl agrees (an independent client).
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(&ca)
        .args(["-u", &format!("{BASIC_USER}:{BASIC_PASSWORD}"), &v2])
        .output();
    if let Ok(out) = out {
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "{out:?}");
    }

    // skopeo verifies the certificate (--dest-tls-verify=true --dest-cert-dir).
    let img = reg.push_image("tls/app:v1", &ImageSpec::random(43, &[1000]));
    assert!(reg.skopeo_args().contains(&"--tls-verify=true".to_string()));
    assert_eq!(
        rr_testkit::sha256_digest(&reg.skopeo_inspect_raw("tls/app:v1")),
        img.manifest_digest
    );
}

fn get_json(agent: &ureq::Agent, url: &str, auth: Option<&str>) -> Value {
    let mut req = agent.get(url);
    if let Some(a) = auth {
        req = req.set("Authorization", a);
    }
    req.call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .into_string()
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap()
}

#[test]
fn token_mode_enforces_the_policy() {
    let reg = Registry::start(Mode::Token);
    let realm = reg.token_realm().expect("Token mode has a realm");
    let agent = reg.agent();

    // Anonymous /v2/ is challenged with our realm.
    match agent.get(&reg.url("/v2/")).call() {
        Err(ureq::Error::Status(401, r)) => {
            let c = r.header("WWW-Authenticate").unwrap_or_default().to_string();
            assert!(c.starts_with("Bearer "), "{c}");
            assert!(c.contains(&format!("realm=\"{realm}\"")), "{c}");
            assert!(c.contains(&format!("service=\"{TOKEN_SERVICE}\"")), "{c}");
        }
        other => panic!("anonymous /v2/ should be 401, got {other:?}"),
    }

    // pusher pushes with skopeo (via the token server).
    let app = reg.push_image("demo/app:v1", &ImageSpec::random(50, &[2000, 3000]));
    let public = reg.push_image("public/app:v1", &ImageSpec::random(60, &[2000]));
    let reqs = reg.token_requests();
    assert!(
        reqs.iter().any(|r| r.method == "GET"
            && r.authorization
            && r.user.as_deref() == Some(TOKEN_PUSHER)
            && r.status == 200
            && r.scopes
                .iter()
                .any(|s| s == "repository:demo/app:pull,push")),
        "{reqs:#?}"
    );

    // A pre-issued token works; an anonymous one is refused for demo/app.
    let manifest = reg.url("/v2/demo/app/manifests/v1");
    let t = reg.issue_token(TOKEN_PULLER, &["repository:demo/app:pull"]);
    assert_eq!(status(&agent, &manifest, Some(&format!("Bearer {t}"))), 200);
    let anon = reg.issue_token("", &["repository:demo/app:pull"]);
    assert_eq!(
        status(&agent, &manifest, Some(&format!("Bearer {anon}"))),
        401
    );
    let expired = reg.token_server().unwrap().issue_token_custom(
        TOKEN_PUSHER,
        serde_json::json!([{"type":"repository","name":"demo/app","actions":["pull"]}]),
        -600,
    );
    assert_eq!(
        status(&agent, &manifest, Some(&format!("Bearer {expired}"))),
        401
    );

    // Docker GET flow by hand: anonymous gets public/ pull only.
    let tok = |scope: &str, auth: Option<&str>| -> String {
        let url = format!("{realm}?service={TOKEN_SERVICE}&scope={scope}");
        get_json(&agent, &url, auth)["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let t = tok("repository:public/app:pull", None);
    let public_manifest = reg.url("/v2/public/app/manifests/v1");
    assert_eq!(
        status(&agent, &public_manifest, Some(&format!("Bearer {t}"))),
        200
    );
    let t = tok("repository:demo/app:pull", None);
    assert_eq!(status(&agent, &manifest, Some(&format!("Bearer {t}"))), 401);
    let catalog = reg.url("/v2/_catalog");
    let t = tok(
        "registry:catalog:*",
        Some(&basic(TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD)),
    );
    assert_eq!(status(&agent, &catalog, Some(&format!("Bearer {t}"))), 200);
    let t = tok(
        "registry:catalog:*",
        Some(&basic(TOKEN_PULLER, TOKEN_PULLER_PASSWORD)),
    );
    assert_eq!(status(&agent, &catalog, Some(&format!("Bearer {t}"))), 401);
    // Wrong password: 401 with a JSON error.
    let url = format!("{realm}?service={TOKEN_SERVICE}&scope=repository:demo/app:pull");
    match agent
        .get(&url)
        .set("Authorization", &basic(TOKEN_PULLER, "nope"))
        .call()
    {
        Err(ureq::Error::Status(401, r)) => {
            let v: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
            assert!(v["error"].is_string(), "{v}");
        }
        other => panic!("wrong password should be 401, got {other:?}"),
    }

    // OAuth2 POST flow: password, then refresh_token; secrets are masked.
    reg.clear_token_requests();
    let v: Value = agent
        .post(&realm)
        .send_form(&[
            ("grant_type", "password"),
            ("username", TOKEN_PULLER),
            ("password", TOKEN_PULLER_PASSWORD),
            ("service", TOKEN_SERVICE),
            ("client_id", "rr-test"),
            (
                "scope",
                "repository:demo/app:pull,push repository:public/app:pull",
            ),
        ])
        .unwrap()
        .into_string()
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    assert_eq!(v["refresh_token"], "refresh-puller");
    assert_eq!(v["expires_in"], 300);
    assert_eq!(
        v["scope"],
        "repository:demo/app:pull repository:public/app:pull"
    );
    let access = v["access_token"].as_str().unwrap();
    assert_eq!(
        status(&agent, &manifest, Some(&format!("Bearer {access}"))),
        200
    );
    let v: Value = agent
        .post(&realm)
        .send_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "refresh-puller"),
            ("service", TOKEN_SERVICE),
            ("scope", "repository:demo/app:pull"),
        ])
        .unwrap()
        .into_string()
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    assert!(v["access_token"].is_string());
    match agent.post(&realm).send_form(&[
        ("grant_type", "password"),
        ("username", TOKEN_PUSHER),
        ("password", "bad"),
    ]) {
        Err(ureq::Error::Status(401, _)) => {}
        other => panic!("wrong password should be 401, got {other:?}"),
    }
    let reqs = reg.token_requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs.iter().all(|r| r.method == "POST" && !r.authorization));
    assert!(reqs[0].form.contains(&("password".into(), "***".into())));
    assert!(reqs[1]
        .form
        .contains(&("refresh_token".into(), "***".into())));
    assert_eq!(reqs[1].user.as_deref(), Some(TOKEN_PULLER));
    assert_eq!(reqs[2].status, 401);

    // puller cannot push with skopeo; pusher can (registry to registry).
    let src = format!("docker://{}", app.reference);
    let puller_copy = std::process::Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--retry-times=0",
            "--src-tls-verify=false",
        ])
        .arg(format!(
            "--src-creds={TOKEN_PULLER}:{TOKEN_PULLER_PASSWORD}"
        ))
        .args(reg.skopeo_flags("dest-", Some((TOKEN_PULLER, TOKEN_PULLER_PASSWORD))))
        .arg(&src)
        .arg(reg.docker_ref("demo/copy:v1"))
        .output()
        .unwrap();
    assert!(!puller_copy.status.success(), "puller must not push");
    let pusher_copy = std::process::Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--retry-times=0"])
        .args(reg.skopeo_flags("src-", Some((TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD))))
        .args(reg.skopeo_flags("dest-", Some((TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD))))
        .arg(&src)
        .arg(reg.docker_ref("demo/copy:v1"))
        .output()
        .unwrap();
    assert!(
        pusher_copy.status.success(),
        "{}",
        String::from_utf8_lossy(&pusher_copy.stderr)
    );

    // Anonymous skopeo pulls public/app but not demo/app.
    let out_dir = tempfile::tempdir().unwrap();
    let pull = |repo: &str| {
        let dest = format!(
            "oci:{}:{}",
            out_dir.path().join("x").display(),
            repo.replace('/', "-")
        );
        rr_testkit::run_skopeo(&[
            "copy".to_string(),
            "--src-tls-verify=false".to_string(),
            reg.docker_ref(repo),
            dest,
        ])
    };
    let ok = pull("public/app:v1");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(!pull("demo/app:v1").status.success());
    let mut blob = Vec::new();
    std::fs::File::open(reg.blob_data_path(&public.layer_digests[0]))
        .unwrap()
        .read_to_end(&mut blob)
        .unwrap();
    assert_eq!(rr_testkit::sha256_digest(&blob), public.layer_digests[0]);
}

#[test]
fn mtls_option_requires_a_client_certificate_from_the_test_ca() {
    let reg = Registry::start_with(rr_testkit::Options {
        mtls: true,
        ..rr_testkit::Options::new(rr_testkit::Server::Distribution28, Mode::Open)
    });
    assert!(reg.is_mtls());
    assert!(reg.base_url().starts_with("https://"));
    let ca = reg.ca_pem_path().unwrap();
    let v2 = reg.url("/v2/");
    // The harness's own agent carries the client certificate.
    assert_eq!(status(&reg.agent(), &v2, None), 200);
    // Without one, and with a stranger's, the TLS layer refuses.
    let bare = agent_with_ca(Some(&ca));
    let e = bare.get(&v2).call().unwrap_err();
    assert!(matches!(e, ureq::Error::Transport(_)), "{e}");
    let (cert, key) = reg.stranger_client_pair().unwrap();
    let stranger = rr_testkit::agent_with_tls(Some(&ca), Some((&cert, &key)));
    let e = stranger.get(&v2).call().unwrap_err();
    assert!(matches!(e, ureq::Error::Transport(_)), "{e}");
    let (cert, key) = (
        reg.client_cert_pem_path().unwrap(),
        reg.client_key_pem_path().unwrap(),
    );
    let good = rr_testkit::agent_with_tls(Some(&ca), Some((&cert, &key)));
    assert_eq!(status(&good, &v2, None), 200);
}

#[test]
fn the_proxy_tunnels_and_forwards_and_records_both() {
    let reg = Registry::start(Mode::Open);
    let proxy = rr_testkit::HttpProxy::start();
    let via = ureq::AgentBuilder::new()
        .proxy(ureq::Proxy::new(proxy.url()).unwrap())
        .build();
    // A forward request, to a name only the proxy resolves.
    let host = reg.host_as(rr_testkit::PROXY_ONLY_HOST);
    let url = format!("http://{host}/v2/");
    assert_eq!(status(&via, &url, None), 200);
    let relayed = proxy.relayed();
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    assert_eq!(
        (
            relayed[0].method.as_str(),
            relayed[0].target.as_str(),
            relayed[0].status
        ),
        ("GET", url.as_str(), 200)
    );
    // A tunnel: https to the plain-http port fails in TLS, but the CONNECT is recorded.
    assert!(via.get(&format!("https://{host}/v2/")).call().is_err());
    let relayed = proxy.relayed();
    assert_eq!(
        (
            relayed[1].method.as_str(),
            relayed[1].target.as_str(),
            relayed[1].status
        ),
        ("CONNECT", host.as_str(), 200)
    );
    // An unknown upstream is a 502, recorded too.
    proxy.clear();
    let closed = format!("http://127.0.0.1:{}/v2/", 1);
    assert_eq!(status(&via, &closed, None), 502);
    assert_eq!(proxy.relayed()[0].status, 502);
}
