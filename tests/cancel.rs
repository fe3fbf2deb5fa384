//! Cancellation from another thread (`Client::cancel`, `rr_client_cancel`): wherever the
//! call is blocked (connect to a black-holed port, a stalled body, a Retry-After wait, a
//! token exchange, a listing of many pages, a chunked push) it returns RR_ERR_CANCELLED
//! within 500 ms of the cancel, and leaves nothing behind.

mod common;

use common::*;
use rr::remote::{self, Client, UploadStrategy};
use rr::transport::ureq_backend::{BackendConfig, UreqBackend};
use rr::transport::{Exchange, Request, Response};
use rr::ErrorKind;
use rr_testkit::{shared_seeded_in, BlackHole, Fault, FaultProxy, Mode, Registry, Rule, Server};
use std::time::{Duration, Instant};

/// The promise of the README, with room for a loaded test machine.
const MAX_LATENCY: Duration = Duration::from_millis(500);

/// Runs `call` on a client derived from `parent`, cancels that client from this thread
/// after `after`, and returns the call's result with the time from the cancel to the
/// call's return.
fn cancel_after<T: Send + 'static>(
    parent: &Client,
    after: Duration,
    call: impl FnOnce(Client) -> rr::Result<T> + Send + 'static,
) -> (rr::Result<T>, Duration) {
    let child = parent.derive();
    let runner = child.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = call(runner);
        let _ = tx.send(Instant::now());
        result
    });
    std::thread::sleep(after);
    if rx.try_recv().is_ok() {
        let result = worker.join().expect("no panic");
        panic!(
            "the call ended before it could be cancelled: {:?}",
            result.err()
        );
    }
    let cancelled_at = Instant::now();
    child.cancel();
    let ended_at = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the call ends");
    let result = worker.join().expect("no panic");
    (result, ended_at.saturating_duration_since(cancelled_at))
}

fn assert_cancelled<T>(what: &str, result: rr::Result<T>, latency: Duration) {
    eprintln!("{what}: returned {latency:?} after the cancel");
    match result {
        Err(e) => assert_eq!(e.kind, ErrorKind::Cancelled, "{what}: {}", e.message),
        Ok(_) => panic!("{what}: succeeded although cancelled"),
    }
    assert!(latency < MAX_LATENCY, "{what}: took {latency:?}");
}

fn via(proxy: &FaultProxy, reference: &str, registry: &str) -> String {
    reference.replacen(registry, &proxy.host(), 1)
}

#[test]
fn cancel_during_connect_to_a_black_holed_port() {
    let hole = BlackHole::new();
    let c = client();
    let reference = format!("127.0.0.1:{}/demo/app:v1", hole.port);
    let started = Instant::now();
    let (result, latency) = cancel_after(&c, Duration::from_millis(300), move |c| {
        remote::get(&c, &reference)
    });
    assert_cancelled("connect", result, latency);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn cancel_during_a_stalled_body_leaves_no_file() {
    let (reg, seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let proxy = proxy_always(
        reg,
        Some("GET"),
        "/blobs/sha256:",
        Fault::StallAfterHeaders(Duration::from_secs(30)),
    );
    let reference = via(&proxy, &seeded.app.reference, &reg.host());
    let img = remote::image(&client(), &reference).unwrap();
    let dir = temp_dir();
    let path = dir.path().join("layer.tar.gz");
    let target = path.clone();
    // The image keeps the client that opened it: cancel a derived one that opens it again.
    let (result, latency) = cancel_after(&client(), Duration::from_millis(400), move |c| {
        let img = remote::image(&c, &reference)?;
        img.layer_save(0, &target)
    });
    assert_cancelled("stalled body", result, latency);
    drop(img);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn an_image_read_through_a_derived_client_is_cancelled_by_it_alone() {
    let (reg, seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let proxy = FaultProxy::start(
        &reg.host(),
        vec![Rule::new(
            Some("GET"),
            "/blobs/sha256:",
            Fault::StallAfterHeaders(Duration::from_secs(30)),
            1,
        )],
    );
    let reference = via(&proxy, &seeded.app.reference, &reg.host());
    let parent = client();
    // Opened once, then read through a client derived per read (what Go's image methods
    // do with their ctx): cancelling that client ends the read, not the image.
    let img = std::sync::Arc::new(remote::image(&parent, &reference).unwrap());
    let shared = img.clone();
    let (result, latency) = cancel_after(&parent, Duration::from_millis(400), move |c| {
        shared.through(&c).layer_read(0, &mut |_| Ok(()))
    });
    assert_cancelled("a layer read through a derived client", result, latency);
    // The stall was for the first blob request only: the image and its client go on.
    let mut n = 0u64;
    img.layer_read(0, &mut |chunk| {
        n += chunk.len() as u64;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, img.layers()[0].size);
    assert!(!parent.is_cancelled());
}

#[test]
fn cancel_during_a_retry_after_wait() {
    let (reg, seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let proxy = proxy_always(
        reg,
        Some("GET"),
        "/manifests/",
        Fault::status_retry_after(429, "30"),
    );
    let reference = via(&proxy, &seeded.app.reference, &reg.host());
    let (result, latency) = cancel_after(&client(), Duration::from_millis(500), move |c| {
        remote::get(&c, &reference)
    });
    assert_cancelled("Retry-After wait", result, latency);
}

#[test]
fn cancel_during_a_token_exchange() {
    let (reg, seeded) = shared_seeded_in(Server::Distribution28, Mode::Token);
    // The registry's challenge names the token server; requests to it are sent to a
    // proxy in front of it that never answers.
    let stalled = FaultProxy::start(
        &token_host_of(reg),
        vec![Rule::new(
            None,
            "",
            Fault::StallBeforeAnswer(Duration::from_secs(30)),
            usize::MAX,
        )],
    );
    let c = client();
    c.set_basic_auth(
        &reg.host(),
        rr_testkit::TOKEN_PULLER,
        rr_testkit::TOKEN_PULLER_PASSWORD,
    )
    .unwrap();
    c.set_transport(Some(std::sync::Arc::new(RealmRewrite {
        from: token_host_of(reg),
        to: stalled.host(),
        inner: UreqBackend::new(BackendConfig::default(), Vec::new()).unwrap(),
    })));
    let reference = seeded.app.reference.clone();
    let (result, latency) = cancel_after(&c, Duration::from_millis(500), move |c| {
        remote::get(&c, &reference)
    });
    assert_cancelled("token exchange", result, latency);
    assert!(
        !stalled.seen().is_empty(),
        "the token request reached the stalled realm"
    );
}

fn token_host_of(reg: &Registry) -> String {
    let realm = url::Url::parse(&reg.token_server().expect("token mode").realm()).unwrap();
    format!("{}:{}", realm.host_str().unwrap(), realm.port().unwrap())
}

/// A host transport that sends every request with the library's own HTTP client
/// (the request keeps the operation's control, so the wait stays cancellable), and
/// requests for one host to another.
struct RealmRewrite {
    from: String,
    to: String,
    inner: UreqBackend,
}

impl Exchange for RealmRewrite {
    fn exchange(&self, request: &Request) -> rr::Result<Response> {
        let mut request = request.clone();
        let host = format!(
            "{}:{}",
            request.url.host_str().unwrap_or(""),
            request.url.port_or_known_default().unwrap_or(0)
        );
        if host == self.from {
            let rewritten = request.url.as_str().replacen(&self.from, &self.to, 1);
            request.url = url::Url::parse(&rewritten).unwrap();
        }
        self.inner.exchange(&request)
    }
}

#[test]
fn cancel_during_a_listing_of_many_pages() {
    let (reg, _seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let proxy = proxy_always(
        reg,
        Some("GET"),
        "/_catalog",
        Fault::DelayAnswer(Duration::from_millis(150)),
    );
    let c = client();
    c.set_page_size(Some(1)).unwrap();
    let host = proxy.host();
    let (result, latency) = cancel_after(&c, Duration::from_millis(400), move |c| {
        remote::list::catalog(&c, &host)
    });
    assert_cancelled("catalog", result, latency);
    let pages = proxy
        .seen()
        .iter()
        .filter(|r| r.path.contains("/_catalog"))
        .count();
    assert!(pages >= 2, "cancelled after {pages} pages");
}

#[test]
fn cancel_during_a_chunked_push_leaves_no_session() {
    let (reg, _seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let dir = temp_dir();
    let path = write_file(dir.path(), "big.tar", &tar_bytes(77, 8 << 20));
    let mut b = rr::builder::ImageBuilder::new();
    b.add_layer_file(&path, None).unwrap();
    let image = b.build().unwrap();
    // Slow PATCHes (each waits before its answer) so that the cancel lands mid-push.
    let proxy = proxy_always(
        reg,
        Some("PATCH"),
        "/blobs/uploads/",
        Fault::DelayAnswer(Duration::from_millis(200)),
    );
    let c = client();
    c.set_upload_strategy(None, UploadStrategy::Chunked, Some(256 << 10))
        .unwrap();
    let repo = format!("cancel/chunked-{}", std::process::id());
    let reference = format!("{}/{repo}:v1", proxy.host());
    let (result, latency) = cancel_after(&c, Duration::from_millis(900), move |c| {
        remote::write::write_image(&c, &reference, &image)
    });
    assert_cancelled("chunked push", result, latency);
    let patches = proxy.seen().iter().filter(|r| r.method == "PATCH").count();
    assert!(patches >= 1, "the push was cancelled before any chunk");
    // The clean-up DELETE is sent before the call returns; the registry may still be
    // finishing the PATCH that was in flight, so give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(open_upload_sessions(reg, &repo), 0, "sessions left open");
    let manifest = reg
        .agent()
        .head(&reg.url(&format!("/v2/{repo}/manifests/v1")))
        .call();
    assert!(manifest.is_err(), "no manifest was written");
}

#[test]
fn cancelling_twice_before_a_call_and_after_it_is_harmless() {
    let (reg, seeded) = shared_seeded_in(Server::Distribution28, Mode::Open);
    let _ = reg;
    let parent = client();
    let child = parent.derive();
    // After a call: the call succeeded, the cancel affects later calls only.
    remote::get(&child, &seeded.app.reference).unwrap();
    child.cancel();
    child.cancel();
    let e = remote::get(&child, &seeded.app.reference).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{}", e.message);
    // The parent and its other children go on.
    remote::get(&parent, &seeded.app.reference).unwrap();
    remote::get(&parent.derive(), &seeded.app.reference).unwrap();
    // Cancelling the parent reaches a child derived before and after.
    let before = parent.derive();
    parent.cancel();
    for c in [&before, &parent.derive(), &parent] {
        let e = remote::get(c, &seeded.app.reference).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled, "{}", e.message);
    }
}

/// A server for one fault a registry will not make on demand: on a kept-alive
/// connection it answers `GET /v2/` (200), then reads the next request and, after
/// `hold`, closes the connection without an answer. It counts the requests for `path`.
struct HoldThenClose {
    addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl HoldThenClose {
    fn start(path: &'static str, hold: Duration) -> HoldThenClose {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    loop {
                        let mut line = String::new();
                        // A TLS ClientHello or a closed connection ends it.
                        if reader.read_line(&mut line).unwrap_or(0) == 0
                            || !line.ends_with("HTTP/1.1\r\n")
                        {
                            return;
                        }
                        loop {
                            let mut header = String::new();
                            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                                return;
                            }
                            if header == "\r\n" {
                                break;
                            }
                        }
                        if line.contains(path) {
                            counter.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(hold);
                            let _ = conn.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                    }
                });
            }
        });
        HoldThenClose { addr, seen }
    }
}

#[test]
fn nothing_is_sent_again_after_a_cancelled_call_has_returned() {
    // ureq sends a request without a body again, on a new connection, when the reused
    // connection it went out on closes before the answer. After a cancel that would be a
    // request the host was told had ended: the backend refuses to connect for a call
    // that was given up.
    let server = HoldThenClose::start("/manifests/", Duration::from_millis(700));
    let reference = format!("{}/demo/app:v1", server.addr);
    let c = client();
    c.set_retry(1, 0).unwrap();
    let (result, latency) = cancel_after(&c, Duration::from_millis(300), move |d| {
        remote::get(&d, &reference)
    });
    assert_cancelled("a GET on a kept-alive connection", result, latency);
    assert_eq!(server.seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The hold ends and the server closes that connection without an answer.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        server.seen.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the GET was sent again after its call had returned"
    );
}
