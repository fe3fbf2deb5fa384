//! A host-supplied transport (`rr_client_set_transport`) seen from a host: a Rust
//! implementation over ureq plays the C host, pulling and pushing through the library
//! against real registries, and misbehaving on purpose to check the library's answers.

mod common;

use rr::ffi::client::*;
use rr::ffi::credential::*;
use rr::ffi::descriptor::*;
use rr::ffi::error::*;
use rr::ffi::image::*;
use rr::ffi::rr_status;
use rr::ffi::transport::*;
use rr::ffi::write::*;
use rr_testkit::{shared_seeded, Mode, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD};
use std::ffi::{c_char, c_void, CStr, CString};
use std::io::Read;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Clone, Copy, PartialEq)]
enum Misbehave {
    Nothing,
    Fail,
    NoStatus,
    BadHeader,
    BodyBreaksAfter(usize),
}

struct Host {
    agent: ureq::Agent,
    misbehave: Misbehave,
    exchanges: AtomicUsize,
    bodies_opened: AtomicUsize,
    bodies_closed: AtomicUsize,
    saw_authorization: AtomicUsize,
}

impl Host {
    fn new(misbehave: Misbehave) -> Box<Host> {
        Box::new(Host {
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            misbehave,
            exchanges: AtomicUsize::new(0),
            bodies_opened: AtomicUsize::new(0),
            bodies_closed: AtomicUsize::new(0),
            saw_authorization: AtomicUsize::new(0),
        })
    }
}

struct Body {
    breaks: bool,
    host: *const Host,
    reader: Box<dyn Read + Send>,
    served: usize,
}

unsafe fn text(p: *const c_char) -> String {
    CStr::from_ptr(p).to_str().unwrap().to_string()
}

unsafe extern "C" fn read_body(ud: *mut c_void, buf: *mut u8, cap: usize) -> i64 {
    let body = &mut *(ud as *mut Body);
    let host = &*body.host;
    if let Misbehave::BodyBreaksAfter(n) = host.misbehave {
        if body.breaks && body.served >= n {
            return -1;
        }
    }
    let slice = std::slice::from_raw_parts_mut(buf, cap);
    match body.reader.read(slice) {
        Ok(n) => {
            body.served += n;
            n as i64
        }
        Err(_) => -1,
    }
}

unsafe extern "C" fn close_body(ud: *mut c_void) {
    let body = Box::from_raw(ud as *mut Body);
    (*body.host).bodies_closed.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn transport(
    ud: *mut c_void,
    req: *mut rr_http_request,
    resp: *mut rr_http_response,
) -> i32 {
    let host = &*(ud as *const Host);
    host.exchanges.fetch_add(1, Ordering::SeqCst);
    if host.misbehave == Misbehave::Fail {
        return 7;
    }
    let method = text(rr_http_request_method(req));
    let url = text(rr_http_request_url(req));
    let mut r = host.agent.request(&method, &url);
    for i in 0..rr_http_request_header_count(req) {
        let name = text(rr_http_request_header_name(req, i));
        if name.eq_ignore_ascii_case("authorization") {
            host.saw_authorization.fetch_add(1, Ordering::SeqCst);
        }
        r = r.set(&name, &text(rr_http_request_header_value(req, i)));
    }
    let mut body = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = rr_http_request_read_body(req, buf.as_mut_ptr(), buf.len());
        if n < 0 {
            return 1;
        }
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n as usize]);
    }
    let result = if rr_http_request_body_length(req) == 0
        && matches!(method.as_str(), "GET" | "HEAD" | "DELETE")
    {
        r.call()
    } else {
        r.send_bytes(&body)
    };
    let response = match result {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(_) => return 2,
    };
    // The ping behaves, so that the misbehaviour meets a manifest or blob request.
    let targeted = url.contains("/manifests/") || url.contains("/blobs/");
    if host.misbehave != Misbehave::NoStatus || !targeted {
        assert_eq!(
            rr_http_response_set_status(resp, response.status()),
            rr_status::RR_OK
        );
    }
    for name in response.headers_names() {
        for value in response.all(&name) {
            let n = CString::new(name.clone()).unwrap();
            let v = CString::new(value).unwrap();
            rr_http_response_add_header(resp, n.as_ptr(), v.as_ptr());
        }
    }
    if host.misbehave == Misbehave::BadHeader && targeted {
        let bad = [0x58u8, 0xff, 0xfe, 0];
        let v = CString::new("v").unwrap();
        assert_eq!(
            rr_http_response_add_header(resp, bad.as_ptr() as *const c_char, v.as_ptr()),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
    }
    if method != "HEAD" {
        host.bodies_opened.fetch_add(1, Ordering::SeqCst);
        let body = Box::new(Body {
            breaks: url.contains("/blobs/"),
            host,
            reader: Box::new(response.into_reader()),
            served: 0,
        });
        rr_http_response_set_body(
            resp,
            Some(read_body),
            Some(close_body),
            Box::into_raw(body) as *mut c_void,
        );
    }
    0
}

fn client_with(host: &Host) -> *mut rr_client {
    let mut c = ptr::null_mut();
    unsafe {
        assert_eq!(rr_client_new(&mut c), rr_status::RR_OK);
        rr_client_set_keychain(c, false);
        assert_eq!(
            rr_client_set_transport(c, Some(transport), host as *const Host as *mut c_void),
            rr_status::RR_OK
        );
    }
    c
}

fn message() -> String {
    unsafe { CStr::from_ptr(rr_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn pull_and_push_go_through_the_host_and_every_body_is_closed_once() {
    let (_reg, seeded) = shared_seeded(Mode::Open);
    let host = Host::new(Misbehave::Nothing);
    let c = client_with(&host);
    unsafe {
        let src = CString::new(seeded.app.reference.as_str()).unwrap();
        let mut img = ptr::null_mut();
        assert_eq!(
            rr_image_open(c, src.as_ptr(), &mut img),
            rr_status::RR_OK,
            "{}",
            message()
        );
        let mut cfg = ptr::null();
        let mut len = 0;
        assert_eq!(
            rr_image_config(img, &mut cfg, &mut len),
            rr_status::RR_OK,
            "{}",
            message()
        );
        assert_eq!(len, seeded.app.config_bytes.len());

        // A push to another registry's repository: uploads through the host.
        let (token, _) = shared_seeded(Mode::Token);
        let user = CString::new(TOKEN_PUSHER).unwrap();
        let pw = CString::new(TOKEN_PUSHER_PASSWORD).unwrap();
        let host_name = CString::new(token.host()).unwrap();
        assert_eq!(
            rr_client_set_basic_auth(c, host_name.as_ptr(), user.as_ptr(), pw.as_ptr()),
            rr_status::RR_OK
        );
        let dst = CString::new(format!("{}/host-transport/app:v1", token.host())).unwrap();
        assert_eq!(
            rr_write(c, dst.as_ptr(), img),
            rr_status::RR_OK,
            "{}",
            message()
        );
        assert_eq!(
            token.skopeo_inspect_raw(&format!("{}/host-transport/app:v1", token.host())),
            seeded.app.manifest_bytes
        );
        rr_image_free(img);
        rr_client_free(c);
    }
    assert!(host.exchanges.load(Ordering::SeqCst) > 5);
    assert!(
        host.saw_authorization.load(Ordering::SeqCst) > 0,
        "the library builds Authorization"
    );
    assert_eq!(
        host.bodies_opened.load(Ordering::SeqCst),
        host.bodies_closed.load(Ordering::SeqCst),
        "every body closed exactly once"
    );
}

#[test]
fn a_failing_host_gives_rr_err_callback() {
    let (_reg, seeded) = shared_seeded(Mode::Open);
    for (misbehave, needle) in [
        (Misbehave::Fail, "host transport failed"),
        (Misbehave::NoStatus, "no valid status"),
        (Misbehave::BadHeader, "unusable response header"),
    ] {
        let host = Host::new(misbehave);
        let c = client_with(&host);
        let src = CString::new(seeded.app.reference.as_str()).unwrap();
        let mut d = ptr::null_mut();
        let rc = unsafe { rr_get(c, src.as_ptr(), &mut d) };
        assert_eq!(rc, rr_status::RR_ERR_CALLBACK, "{}", message());
        assert!(message().contains(needle), "{}", message());
        assert!(d.is_null());
        unsafe { rr_client_free(c) };
        assert_eq!(
            host.bodies_opened.load(Ordering::SeqCst),
            host.bodies_closed.load(Ordering::SeqCst)
        );
    }
}

#[test]
fn a_body_reader_that_breaks_midway_fails_the_read_and_is_still_closed() {
    let (_reg, seeded) = shared_seeded(Mode::Open);
    let good = Host::new(Misbehave::Nothing);
    let c = client_with(&good);
    let src = CString::new(seeded.app.reference.as_str()).unwrap();
    let mut img = ptr::null_mut();
    assert_eq!(
        unsafe { rr_image_open(c, src.as_ptr(), &mut img) },
        rr_status::RR_OK
    );
    unsafe { rr_client_free(c) };

    let breaking = Host::new(Misbehave::BodyBreaksAfter(100));
    let c = client_with(&breaking);
    unsafe {
        rr_client_set_retry(c, 1, 1);
        let dir = common::temp_dir();
        let dst = CString::new(dir.path().join("layer").to_str().unwrap()).unwrap();
        // The image keeps the client it was opened with; read through the breaking host
        // by opening it again there.
        let mut img2 = ptr::null_mut();
        assert_eq!(
            rr_image_open(c, src.as_ptr(), &mut img2),
            rr_status::RR_OK,
            "{}",
            message()
        );
        let rc = rr_image_layer_save(img2, 0, dst.as_ptr());
        assert_eq!(rc, rr_status::RR_ERR_CALLBACK, "{}", message());
        assert!(message().contains("body reader failed"), "{}", message());
        assert!(!dir.path().join("layer").exists(), "no partial file");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temporary file either"
        );
        rr_image_free(img2);
        rr_image_free(img);
        rr_client_free(c);
    }
    assert_eq!(
        breaking.bodies_opened.load(Ordering::SeqCst),
        breaking.bodies_closed.load(Ordering::SeqCst)
    );
}

#[test]
fn the_auth_callback_answers_for_the_token_registry() {
    let (reg, seeded) = shared_seeded(Mode::Token);
    unsafe extern "C" fn auth(
        _: *mut c_void,
        registry: *const c_char,
        cred: *mut rr_credential,
    ) -> i32 {
        let _ = CStr::from_ptr(registry);
        let u = CString::new(rr_testkit::TOKEN_PULLER).unwrap();
        let p = CString::new(rr_testkit::TOKEN_PULLER_PASSWORD).unwrap();
        rr_credential_set_basic(cred, u.as_ptr(), p.as_ptr());
        0
    }
    let host = Host::new(Misbehave::Nothing);
    let c = client_with(&host);
    unsafe {
        rr_client_set_auth_callback(c, Some(auth), ptr::null_mut());
        let src = CString::new(seeded.app.reference.as_str()).unwrap();
        let mut d = ptr::null_mut();
        assert_eq!(
            rr_get(c, src.as_ptr(), &mut d),
            rr_status::RR_OK,
            "{}",
            message()
        );
        rr_descriptor_free(d);
        rr_client_free(c);
    }
    assert!(!reg.token_requests().is_empty());
}
