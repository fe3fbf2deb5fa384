//! `seed_standard` in Open mode.

use std::collections::BTreeSet;

use rr_testkit::{sha256_digest, Mode, Registry, MANIFEST_ACCEPT, STANDARD_MANY_TAGS};
use serde_json::Value;

/// `</v2/...?last=x&n=100>; rel="next"` → `/v2/...?last=x&n=100`.
fn next_link(header: Option<&str>) -> Option<String> {
    let h = header?;
    let start = h.find('<')? + 1;
    let end = h.find('>')?;
    h[end..]
        .contains("rel=\"next\"")
        .then(|| h[start..end].to_string())
}

#[test]
fn seed_standard_pushes_the_usual_fixtures() {
    let reg = Registry::start(Mode::Open);
    let s = reg.seed_standard();
    let agent = reg.agent();
    let host = reg.host();

    assert_eq!(s.app.reference, format!("{host}/demo/app:v1"));
    assert_eq!(s.app.layer_digests.len(), 2);
    assert_eq!(sha256_digest(&s.app.manifest_bytes), s.app.manifest_digest);
    for (d, size) in s.app.layer_digests.iter().zip(&s.app.layer_sizes) {
        let data = std::fs::read(reg.blob_data_path(d)).unwrap();
        assert_eq!(data.len() as u64, *size);
        assert_eq!(&sha256_digest(&data), d);
    }
    assert!(s.public_app.is_none());

    // The index and its platforms.
    let platforms: Vec<&str> = s.multi.children.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
    let resp = agent
        .get(&reg.url("/v2/demo/multi/manifests/latest"))
        .set("Accept", MANIFEST_ACCEPT)
        .call()
        .unwrap();
    assert_eq!(
        resp.header("Docker-Content-Digest"),
        Some(s.multi.digest.as_str())
    );
    assert_eq!(
        resp.header("Content-Type"),
        Some("application/vnd.oci.image.index.v1+json")
    );
    for (_, child) in &s.multi.children {
        assert!(child.reference.contains("/demo/multi@sha256:"));
    }

    // 320 tags, paginated by 100 with Link headers.
    let mut url = reg.url("/v2/demo/many/tags/list?n=100");
    let mut tags = Vec::new();
    let mut pages = 0;
    loop {
        let resp = agent.get(&url).call().unwrap();
        let link = next_link(resp.header("Link"));
        let v: Value = serde_json::from_str(&resp.into_string().unwrap()).unwrap();
        let page: Vec<String> = v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        if link.is_some() {
            assert_eq!(page.len(), 100, "full pages before a Link");
        }
        tags.extend(page);
        pages += 1;
        match link {
            Some(next) => url = reg.url(&next),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    // distribution 2.8 ignores `n` on tags/list (one page, no Link); later
    // versions paginate. Accept both, but never a short page without a link.
    assert!(pages == 1 || pages == 4, "{pages} pages");
    assert_eq!(tags.len(), STANDARD_MANY_TAGS);
    let unique: BTreeSet<&String> = tags.iter().collect();
    assert_eq!(unique.len(), STANDARD_MANY_TAGS);
    // 2.8 lists tags in storage (readdir) order, not sorted.
    tags.sort();
    assert_eq!(tags, s.many_tags);
    assert_eq!(reg.skopeo_list_tags("demo/many").len(), STANDARD_MANY_TAGS);

    // Every tag is the same manifest.
    let resp = agent
        .get(&reg.url("/v2/demo/many/manifests/t319"))
        .set("Accept", MANIFEST_ACCEPT)
        .call()
        .unwrap();
    assert_eq!(
        resp.header("Docker-Content-Digest"),
        Some(s.many.manifest_digest.as_str())
    );

    let catalog: Value = agent
        .get(&reg.url("/v2/_catalog"))
        .call()
        .unwrap()
        .into_string()
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    let repos: Vec<&str> = catalog["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(repos, ["demo/app", "demo/many", "demo/multi"]);

    // The catalog does paginate in 2.8.
    let resp = agent.get(&reg.url("/v2/_catalog?n=2")).call().unwrap();
    let next = next_link(resp.header("Link")).expect("catalog Link header");
    let v: Value = serde_json::from_str(&resp.into_string().unwrap()).unwrap();
    assert_eq!(
        v["repositories"],
        serde_json::json!(["demo/app", "demo/many"])
    );
    let v: Value = serde_json::from_str(
        &agent
            .get(&reg.url(&next))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["demo/multi"]));
}

/// Seeding works with every kind of auth (skopeo creds and TLS flags,
/// bearer tokens for the tag PUTs).
fn seed_in(mode: Mode) {
    let (reg, s) = rr_testkit::shared_seeded(mode);
    assert_eq!(reg.mode(), mode);
    assert_eq!(s.multi.children.len(), 3);
    assert_eq!(reg.skopeo_list_tags("demo/many"), s.many_tags);
    assert_eq!(
        sha256_digest(&reg.skopeo_inspect_raw("demo/multi:latest")),
        s.multi.digest
    );
    assert_eq!(s.public_app.is_some(), mode == Mode::Token);
    // Same process, same registry.
    assert!(std::ptr::eq(reg, &rr_testkit::shared_seeded(mode).0));
}

#[test]
fn seed_standard_basic() {
    seed_in(Mode::Basic);
}

#[test]
fn seed_standard_tls() {
    seed_in(Mode::Tls);
}

#[test]
fn seed_standard_token() {
    seed_in(Mode::Token);
    let (reg, s) = rr_testkit::shared_seeded(Mode::Token);
    let public = s.public_app.as_ref().unwrap();
    assert_eq!(public.reference, format!("{}/public/app:v1", reg.host()));
    // Anonymous pull of public/app with a token from the GET flow.
    let realm = reg.token_realm().unwrap();
    let body = reg
        .agent()
        .get(&format!(
            "{realm}?service={}&scope=repository:public/app:pull",
            rr_testkit::TOKEN_SERVICE
        ))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let token = serde_json::from_str::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = reg
        .agent()
        .get(&reg.url("/v2/public/app/manifests/v1"))
        .set("Accept", MANIFEST_ACCEPT)
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(
        resp.header("Docker-Content-Digest"),
        Some(public.manifest_digest.as_str())
    );
}
