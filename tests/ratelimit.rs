//! Rate limits made visible: rate-limit headers injected by a fault proxy in front of a
//! real registry (Docker Hub's `100;w=21600` form and the IETF drafts' forms) are kept per
//! registry from every manifest response, GET and HEAD, and read back through the Rust
//! API and the C getters; through a mirror they are the mirror's; a 429 says until when
//! it holds, and one that outlasts the longest wait is not waited out.

mod common;

use common::*;
use rr::ffi::client::*;
use rr::ffi::descriptor::*;
use rr::ffi::error::rr_error_message;
use rr::ffi::rr_status;
use rr::ffi::string_list::*;
use rr::registries::PullFrom;
use rr::remote;
use rr::ErrorKind;
use rr_testkit::{shared_seeded_on, Fault, FaultProxy, Rule, Server};
use std::ffi::{CStr, CString};
use std::ptr;
use std::time::{Duration, Instant, SystemTime};

fn via(proxy: &FaultProxy, reference: &str, registry: &str) -> String {
    reference.replacen(registry, &proxy.host(), 1)
}

fn docker_hub_headers() -> Fault {
    Fault::add_headers(&[
        ("ratelimit-limit", "100;w=21600"),
        ("ratelimit-remaining", "76;w=21600"),
        ("docker-ratelimit-source", "192.0.2.7"),
    ])
}

#[test]
fn manifest_responses_leave_the_last_rate_limit_per_registry() {
    let (reg, seeded) = shared_seeded_on(Server::Distribution28);
    let proxy = FaultProxy::start(
        &reg.host(),
        vec![Rule::new(
            None,
            "/manifests/",
            docker_hub_headers(),
            usize::MAX,
        )],
    );
    let reference = via(&proxy, &seeded.app.reference, &reg.host());
    let c = client();
    assert_eq!(c.rate_limit(&proxy.host()).unwrap(), None);
    remote::get(&c, &reference).unwrap();
    let rl = c
        .rate_limit(&proxy.host())
        .unwrap()
        .expect("seen on the GET");
    assert_eq!(
        (rl.limit, rl.remaining, rl.window_seconds),
        (Some(100), Some(76), Some(21600))
    );
    assert_eq!(c.rate_limited_registries(), [proxy.host()]);
    assert_eq!(
        c.rate_limit(&reg.host()).unwrap(),
        None,
        "the registry behind the proxy said nothing"
    );

    // A HEAD counts too, and the values are the last ones seen.
    proxy.set_rules(vec![Rule::new(
        Some("HEAD"),
        "/manifests/",
        Fault::add_headers(&[
            ("RateLimit-Limit", "10, 10;w=1, 50;w=60"),
            ("RateLimit-Remaining", "9"),
            ("RateLimit-Reset", "1"),
        ]),
        usize::MAX,
    )]);
    remote::head(&c, &reference).unwrap();
    let rl = c.rate_limit(&proxy.host()).unwrap().unwrap();
    assert_eq!(
        (rl.limit, rl.remaining, rl.window_seconds),
        (Some(10), Some(9), Some(1))
    );
    assert!(rl
        .reset
        .is_some_and(|t| t > SystemTime::now() - Duration::from_secs(5)));

    // Blob responses are not manifest responses: their headers are not read.
    proxy.set_rules(vec![Rule::new(
        None,
        "/blobs/",
        Fault::add_headers(&[("RateLimit-Remaining", "1")]),
        usize::MAX,
    )]);
    let img = remote::image(&c, &reference).unwrap();
    img.config().unwrap();
    let rl = c.rate_limit(&proxy.host()).unwrap().unwrap();
    assert_eq!(
        rl.remaining,
        Some(9),
        "the GET of the manifest said nothing"
    );
    assert_eq!(
        c.rate_limit("not a registry").unwrap_err().kind,
        ErrorKind::InvalidReference
    );
}

#[test]
fn the_c_getters_give_what_the_registry_announced() {
    let (reg, seeded) = shared_seeded_on(Server::Distribution28);
    let proxy = FaultProxy::start(
        &reg.host(),
        vec![Rule::new(
            Some("GET"),
            "/manifests/",
            Fault::add_headers(&[("RateLimit-Remaining", "5")]),
            usize::MAX,
        )],
    );
    let reference = CString::new(via(&proxy, &seeded.app.reference, &reg.host())).unwrap();
    let host = CString::new(proxy.host()).unwrap();
    unsafe {
        let mut c = ptr::null_mut();
        assert_eq!(rr_client_new(&mut c), rr_status::RR_OK);
        assert_eq!(rr_client_set_keychain(c, false), rr_status::RR_OK);
        let (mut limit, mut remaining, mut window) = (7i64, 7i64, 7i64);
        assert_eq!(
            rr_client_rate_limit(c, host.as_ptr(), &mut limit, &mut remaining, &mut window),
            rr_status::RR_ERR_NOT_FOUND
        );
        assert_eq!(
            (limit, remaining, window),
            (7, 7, 7),
            "untouched on failure"
        );
        let message = CStr::from_ptr(rr_error_message())
            .to_string_lossy()
            .into_owned();
        assert!(message.contains(&proxy.host()), "{message}");

        let mut d = ptr::null_mut();
        assert_eq!(rr_get(c, reference.as_ptr(), &mut d), rr_status::RR_OK);
        rr_descriptor_free(d);
        assert_eq!(
            rr_client_rate_limit(c, host.as_ptr(), &mut limit, &mut remaining, &mut window),
            rr_status::RR_OK
        );
        assert_eq!((limit, remaining, window), (-1, 5, -1), "-1: not announced");
        // Each out-parameter may be left out.
        let mut only = 0i64;
        assert_eq!(
            rr_client_rate_limit(
                c,
                host.as_ptr(),
                ptr::null_mut(),
                &mut only,
                ptr::null_mut()
            ),
            rr_status::RR_OK
        );
        assert_eq!(only, 5);

        let mut list = ptr::null_mut();
        assert_eq!(
            rr_client_rate_limit_registries(c, &mut list),
            rr_status::RR_OK
        );
        assert_eq!(rr_string_list_len(list), 1);
        assert_eq!(CStr::from_ptr(rr_string_list_get(list, 0)), host.as_c_str());
        rr_string_list_free(list);
        rr_client_free(c);
    }
}

#[test]
fn through_a_mirror_the_rate_limit_is_the_mirrors() {
    let (reg, seeded) = shared_seeded_on(Server::Distribution28);
    // The "mirror" is the same registry behind a proxy: a repository maps to itself.
    let mirror = FaultProxy::start(
        &reg.host(),
        vec![Rule::new(
            None,
            "/manifests/",
            docker_hub_headers(),
            usize::MAX,
        )],
    );
    let c = client();
    c.add_mirror(&reg.host(), &mirror.host(), PullFrom::All)
        .unwrap();
    remote::get(&c, &seeded.app.reference).unwrap();
    let rl = c.rate_limit(&mirror.host()).unwrap().expect("the mirror's");
    assert_eq!(rl.remaining, Some(76));
    assert_eq!(c.rate_limit(&reg.host()).unwrap(), None);
}

#[test]
fn a_429_says_until_when_and_one_beyond_the_longest_wait_is_not_waited_out() {
    let (reg, seeded) = shared_seeded_on(Server::Distribution28);
    let until = "Wed, 01 Jan 2042 10:00:00 GMT";
    let proxy = FaultProxy::start(
        &reg.host(),
        vec![Rule::new(
            None,
            "/manifests/",
            Fault::status_with_headers(
                429,
                &[
                    ("Retry-After", until),
                    ("ratelimit-limit", "100;w=21600"),
                    ("ratelimit-remaining", "0;w=21600"),
                ],
            ),
            usize::MAX,
        )],
    );
    let reference = via(&proxy, &seeded.app.reference, &reg.host());
    let c = client();
    c.set_retry(5, 10).unwrap();
    let started = Instant::now();
    for head in [false, true] {
        let e = if head {
            remote::head(&c, &reference).unwrap_err()
        } else {
            remote::get(&c, &reference).unwrap_err()
        };
        assert_eq!(e.kind, ErrorKind::TooManyRequests, "{e}");
        assert_eq!(e.http_status, 429);
        assert!(
            e.message.contains(
                "rate limited until 2042-01-01T10:00:00Z; limit 100 per 21600 s, 0 remaining"
            ),
            "{e}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5), "not waited out");
    let asked = proxy
        .seen()
        .iter()
        .filter(|r| r.path.contains("/manifests/"))
        .count();
    assert_eq!(asked, 2, "one request each, no retries");
    let rl = c.rate_limit(&proxy.host()).unwrap().expect("a 429 counts");
    assert_eq!(rl.remaining, Some(0));

    // A short Retry-After is waited out, then the message says until when it was.
    proxy.set_rules(vec![Rule::new(
        None,
        "/manifests/",
        Fault::status_with_headers(429, &[("Retry-After", "1")]),
        usize::MAX,
    )]);
    c.set_retry(2, 10).unwrap();
    let started = Instant::now();
    let e = remote::get(&c, &reference).unwrap_err();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(e.kind, ErrorKind::TooManyRequests);
    assert!(e.message.contains("(rate limited until 20"), "{e}");
}
