//! The C boundary without a registry: NULLs, bad UTF-8, size queries, status names, the
//! version macros and the last-error rules of API.md.

use rr::ffi::client::*;
use rr::ffi::descriptor::*;
use rr::ffi::error::*;
use rr::ffi::image::*;
use rr::ffi::index::*;
use rr::ffi::list::*;
use rr::ffi::reference::*;
use rr::ffi::rr_status;
use rr::ffi::status::*;
use rr::ffi::string_list::*;
use std::ffi::{c_char, CStr, CString};
use std::ptr;

fn message() -> String {
    unsafe { CStr::from_ptr(rr_error_message()) }
        .to_str()
        .unwrap()
        .to_string()
}

fn new_client() -> *mut rr_client {
    let mut c = ptr::null_mut();
    assert_eq!(unsafe { rr_client_new(&mut c) }, rr_status::RR_OK);
    assert!(!c.is_null());
    c
}

#[test]
fn null_out_parameter_is_an_invalid_argument_naming_it() {
    assert_eq!(
        unsafe { rr_client_new(ptr::null_mut()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(message().contains("out"), "{}", message());
    assert_eq!(rr_error_http_status(), 0);
    assert!(rr_error_registry_code().is_null());
}

#[test]
fn null_handles_and_strings_are_invalid_arguments() {
    let mut d = ptr::null_mut();
    let r = CString::new("example.com/a:b").unwrap();
    assert_eq!(
        unsafe { rr_get(ptr::null_mut(), r.as_ptr(), &mut d) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(message().contains("client"), "{}", message());
    assert!(d.is_null(), "out must not be written on failure");

    let c = new_client();
    assert_eq!(
        unsafe { rr_get(c, ptr::null(), &mut d) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(message().contains("reference"), "{}", message());
    assert_eq!(
        unsafe { rr_get(c, r.as_ptr(), ptr::null_mut()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        unsafe { rr_client_set_basic_auth(c, r.as_ptr(), ptr::null(), r.as_ptr()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(message().contains("username"), "{}", message());
    let mut l = ptr::null_mut();
    assert_eq!(
        unsafe { rr_list(c, ptr::null(), &mut l) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        unsafe { rr_catalog(ptr::null_mut(), r.as_ptr(), &mut l) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    unsafe { rr_client_free(c) };
}

#[test]
fn invalid_utf8_is_an_invalid_argument() {
    let c = new_client();
    let bad = b"example.com/\xff\xfe:tag\0";
    let mut d = ptr::null_mut();
    assert_eq!(
        unsafe { rr_get(c, bad.as_ptr().cast::<c_char>(), &mut d) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(message().contains("UTF-8"), "{}", message());
    assert_eq!(
        unsafe { rr_client_set_platform(c, bad.as_ptr().cast()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    unsafe { rr_client_free(c) };
}

#[test]
fn option_setters_validate_their_values() {
    let c = new_client();
    let s = |v: &str| CString::new(v).unwrap();
    assert_eq!(
        unsafe { rr_client_set_jobs(c, 0) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert_eq!(unsafe { rr_client_set_jobs(c, 8) }, rr_status::RR_OK);
    for refused in [0, 17, u32::MAX] {
        assert_eq!(
            unsafe { rr_client_set_blob_connections(c, refused) },
            rr_status::RR_ERR_INVALID_ARGUMENT,
            "{refused}"
        );
        assert!(message().contains("connections"), "{}", message());
    }
    for taken in [1, 4, 16] {
        assert_eq!(
            unsafe { rr_client_set_blob_connections(c, taken) },
            rr_status::RR_OK
        );
    }
    assert_eq!(
        unsafe { rr_client_set_blob_connections(ptr::null_mut(), 4) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        unsafe { rr_client_set_retry(c, 0, 10) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert_eq!(unsafe { rr_client_set_retry(c, 1, 0) }, rr_status::RR_OK);
    assert_eq!(unsafe { rr_client_set_timeout(c, 0, 0) }, rr_status::RR_OK);
    assert_eq!(
        unsafe { rr_client_set_platform(c, s("linux").as_ptr()) },
        rr_status::RR_ERR_INVALID_REFERENCE
    );
    assert_eq!(
        unsafe { rr_client_set_platform(c, s("linux/arm64/v8").as_ptr()) },
        rr_status::RR_OK
    );
    assert_eq!(
        unsafe { rr_client_set_insecure(c, s("bad host").as_ptr()) },
        rr_status::RR_ERR_INVALID_REFERENCE
    );
    assert_eq!(
        unsafe { rr_client_set_insecure(c, s("reg.local:5000").as_ptr()) },
        rr_status::RR_OK
    );
    assert_eq!(
        unsafe { rr_client_set_plain_http(c, s("bad host").as_ptr()) },
        rr_status::RR_ERR_INVALID_REFERENCE
    );
    assert_eq!(
        unsafe { rr_client_set_plain_http(c, s("reg.local:5000").as_ptr()) },
        rr_status::RR_OK
    );
    assert_eq!(
        unsafe { rr_client_add_ca_file(c, s("/nonexistent/ca.pem").as_ptr()) },
        rr_status::RR_ERR_IO
    );
    assert!(message().contains("/nonexistent/ca.pem"), "{}", message());
    let not_pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_pem.path(), "hello").unwrap();
    let p = s(not_pem.path().to_str().unwrap());
    assert_eq!(
        unsafe { rr_client_add_ca_file(c, p.as_ptr()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(
        message().contains("holds no PEM certificate"),
        "{}",
        message()
    );
    // A certificate section whose body is not base64 is refused, not skipped.
    std::fs::write(
        not_pem.path(),
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    assert_eq!(
        unsafe { rr_client_add_ca_file(c, p.as_ptr()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(message().contains("is not valid PEM"), "{}", message());
    assert_eq!(
        unsafe { rr_client_set_keychain(c, false) },
        rr_status::RR_OK
    );
    assert_eq!(
        unsafe { rr_client_set_auth_callback(c, None, ptr::null_mut()) },
        rr_status::RR_OK
    );
    assert_eq!(
        unsafe { rr_client_set_progress_callback(c, None, ptr::null_mut()) },
        rr_status::RR_OK
    );
    assert_eq!(
        unsafe { rr_client_set_jobs(ptr::null_mut(), 1) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    unsafe { rr_client_free(c) };
    unsafe { rr_client_free(ptr::null_mut()) };
}

#[test]
fn success_clears_the_last_error() {
    let c = new_client();
    assert_eq!(
        unsafe { rr_client_set_jobs(c, 0) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(!message().is_empty());
    assert_eq!(unsafe { rr_client_set_jobs(c, 2) }, rr_status::RR_OK);
    assert_eq!(message(), "");
    assert_eq!(rr_error_http_status(), 0);
    assert!(rr_error_registry_code().is_null());
    unsafe { rr_client_free(c) };
}

#[test]
fn normalize_reports_the_needed_size_even_when_the_buffer_is_small() {
    let r = CString::new("ubuntu").unwrap();
    let expected = "index.docker.io/library/ubuntu:latest";
    let mut needed = 0usize;
    assert_eq!(
        unsafe { rr_reference_normalize(r.as_ptr(), ptr::null_mut(), 0, &mut needed) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert_eq!(needed, expected.len() + 1);
    let mut small = [0 as c_char; 8];
    assert_eq!(
        unsafe { rr_reference_normalize(r.as_ptr(), small.as_mut_ptr(), small.len(), &mut needed) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert_eq!(small, [0; 8], "buf is not written when too small");
    let mut buf = vec![0 as c_char; needed];
    assert_eq!(
        unsafe { rr_reference_normalize(r.as_ptr(), buf.as_mut_ptr(), buf.len(), ptr::null_mut()) },
        rr_status::RR_OK
    );
    assert_eq!(
        unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap(),
        expected
    );
    let bad = CString::new("https://example.com/a").unwrap();
    assert_eq!(
        unsafe { rr_reference_normalize(bad.as_ptr(), buf.as_mut_ptr(), buf.len(), &mut needed) },
        rr_status::RR_ERR_INVALID_REFERENCE
    );
}

#[test]
fn getters_with_null_handles_return_null_or_zero_without_an_error() {
    let c = new_client();
    assert_eq!(
        unsafe { rr_client_set_jobs(c, 0) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    let before = message();
    unsafe {
        assert!(rr_descriptor_media_type(ptr::null()).is_null());
        assert!(rr_descriptor_digest(ptr::null()).is_null());
        assert_eq!(rr_descriptor_size(ptr::null()), 0);
        assert!(rr_image_digest(ptr::null()).is_null());
        assert!(rr_image_media_type(ptr::null()).is_null());
        assert_eq!(rr_image_layer_count(ptr::null()), 0);
        assert!(rr_image_layer_digest(ptr::null(), 0).is_null());
        assert!(rr_image_layer_media_type(ptr::null(), 0).is_null());
        assert_eq!(rr_image_layer_size(ptr::null(), 0), 0);
        assert!(rr_index_digest(ptr::null()).is_null());
        assert!(rr_index_media_type(ptr::null()).is_null());
        assert_eq!(rr_index_child_count(ptr::null()), 0);
        assert!(rr_index_child_digest(ptr::null(), 3).is_null());
        assert!(rr_index_child_platform(ptr::null(), 0).is_null());
        assert_eq!(rr_string_list_len(ptr::null()), 0);
        assert!(rr_string_list_get(ptr::null(), 0).is_null());
        rr_descriptor_free(ptr::null_mut());
        rr_image_free(ptr::null_mut());
        rr_index_free(ptr::null_mut());
        rr_string_list_free(ptr::null_mut());
    }
    assert_eq!(message(), before, "getters leave the last error alone");
    unsafe { rr_client_free(c) };
}

#[test]
fn status_names_cover_every_code() {
    let names = [
        "RR_OK",
        "RR_ERR_INVALID_ARGUMENT",
        "RR_ERR_INVALID_REFERENCE",
        "RR_ERR_NOT_FOUND",
        "RR_ERR_UNAUTHORIZED",
        "RR_ERR_DENIED",
        "RR_ERR_TOO_MANY_REQUESTS",
        "RR_ERR_DIGEST_MISMATCH",
        "RR_ERR_UNSUPPORTED",
        "RR_ERR_INVALID_RESPONSE",
        "RR_ERR_REGISTRY",
        "RR_ERR_TRANSPORT",
        "RR_ERR_IO",
        "RR_ERR_CANCELLED",
        "RR_ERR_CALLBACK",
        "RR_ERR_PANIC",
    ];
    for (i, name) in names.iter().enumerate() {
        let got = unsafe { CStr::from_ptr(rr_status_name(i as i32)) };
        assert_eq!(got.to_str().unwrap(), *name);
    }
    for bad in [-1, 16, 99, i32::MAX] {
        let got = unsafe { CStr::from_ptr(rr_status_name(bad)) };
        assert_eq!(got.to_str().unwrap(), "RR_UNKNOWN");
    }
}

#[test]
fn version_macros_in_the_header_agree_with_rr_version() {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/rr.h")).unwrap();
    let macro_value = |name: &str| -> String {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("{name} missing from rr.h"))
            .trim()
            .to_string()
    };
    let from_macros = format!(
        "{}.{}.{}",
        macro_value("RR_VERSION_MAJOR"),
        macro_value("RR_VERSION_MINOR"),
        macro_value("RR_VERSION_PATCH")
    );
    let runtime = unsafe { CStr::from_ptr(rr_version()) }.to_str().unwrap();
    assert_eq!(from_macros, runtime);
    assert_eq!(runtime, env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_last_error_is_per_thread() {
    let c = new_client();
    assert_eq!(
        unsafe { rr_client_set_jobs(c, 0) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    let other = std::thread::spawn(message).join().unwrap();
    assert_eq!(other, "");
    assert!(message().contains("jobs"));
    unsafe { rr_client_free(c) };
}

#[test]
fn layout_entries_are_named_through_child_annotations() {
    use rr::ffi::builder::*;
    use rr::ffi::layout::*;
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("empty.tar");
    std::fs::write(&tar, [0u8; 1024]).unwrap();
    let layout = CString::new(dir.path().join("layout").to_str().unwrap()).unwrap();
    let tar_c = CString::new(tar.to_str().unwrap()).unwrap();
    let name = CString::new("v1").unwrap();
    let key = CString::new("org.opencontainers.image.ref.name").unwrap();
    let other = CString::new("no.such.key").unwrap();
    unsafe {
        let c = new_client();
        let mut b = ptr::null_mut();
        assert_eq!(rr_image_builder_new(&mut b), rr_status::RR_OK);
        assert_eq!(
            rr_image_builder_add_layer_file(b, tar_c.as_ptr(), ptr::null()),
            rr_status::RR_OK
        );
        let mut img = ptr::null_mut();
        assert_eq!(rr_image_builder_build(b, &mut img), rr_status::RR_OK);
        assert_eq!(
            rr_layout_write_image(c, layout.as_ptr(), img, name.as_ptr()),
            rr_status::RR_OK
        );
        let mut idx = ptr::null_mut();
        assert_eq!(
            rr_layout_read_index(layout.as_ptr(), &mut idx),
            rr_status::RR_OK
        );
        let v = rr_index_child_annotation(idx, 0, key.as_ptr());
        assert_eq!(CStr::from_ptr(v).to_str().unwrap(), "v1");
        assert!(rr_index_child_annotation(idx, 0, other.as_ptr()).is_null());
        assert!(rr_index_child_annotation(idx, 1, key.as_ptr()).is_null());
        assert!(rr_index_child_annotation(idx, 0, ptr::null()).is_null());
        assert!(rr_index_child_annotation(ptr::null(), 0, key.as_ptr()).is_null());
        rr_index_free(idx);
        rr_image_free(img);
        rr_image_builder_free(b);
        rr_client_free(c);
    }
}

#[test]
fn new_client_hooks_and_builder_base_refuse_null_and_bad_input() {
    use rr::ffi::builder::*;
    unsafe extern "C" fn log(_: *mut std::ffi::c_void, _: *const c_char) {}
    unsafe {
        assert_eq!(
            rr_client_set_log_callback(ptr::null_mut(), Some(log), ptr::null_mut()),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert!(message().contains("client"), "{}", message());
        assert_eq!(
            rr::ffi::transport::rr_client_set_transport(ptr::null_mut(), None, ptr::null_mut()),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        let c = new_client();
        assert_eq!(
            rr_client_set_log_callback(c, Some(log), ptr::null_mut()),
            rr_status::RR_OK
        );
        assert_eq!(
            rr_client_set_log_callback(c, None, ptr::null_mut()),
            rr_status::RR_OK
        );
        rr_client_free(c);

        let mut b = ptr::null_mut();
        assert_eq!(rr_image_builder_new(&mut b), rr_status::RR_OK);
        assert_eq!(
            rr_image_builder_set_base(b, ptr::null()),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert!(message().contains("base"), "{}", message());
        assert_eq!(
            rr_image_builder_set_base(ptr::null_mut(), ptr::null()),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        // A base whose config lists fewer diff_ids than it has layers.
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("empty.tar");
        std::fs::write(&tar, [0u8; 1024]).unwrap();
        let tar_c = CString::new(tar.to_str().unwrap()).unwrap();
        let mut inner = ptr::null_mut();
        assert_eq!(rr_image_builder_new(&mut inner), rr_status::RR_OK);
        assert_eq!(
            rr_image_builder_add_layer_file(inner, tar_c.as_ptr(), ptr::null()),
            rr_status::RR_OK
        );
        let mut base = ptr::null_mut();
        assert_eq!(rr_image_builder_build(inner, &mut base), rr_status::RR_OK);
        // The built base's own config is right: one layer, one diff_id.
        assert_eq!(rr_image_builder_set_base(b, base), rr_status::RR_OK);
        // A base whose config lists no diff_id for its one layer (a hand-made layout).
        let layout = dir.path().join("odd-layout");
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |bytes: &[u8]| {
            let d = rr::digest::of_bytes(bytes);
            std::fs::write(blobs.join(&d[7..]), bytes).unwrap();
            d
        };
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let config_digest = put(config);
        let layer_digest = put(&[0u8; 1024]);
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":1024}}]}}"#,
            config.len()
        );
        let manifest_digest = put(manifest.as_bytes());
        std::fs::write(
            layout.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        std::fs::write(
            layout.join("index.json"),
            format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{}}}]}}"#,
                manifest.len()
            ),
        )
        .unwrap();
        let layout_c = CString::new(layout.to_str().unwrap()).unwrap();
        let mut odd = ptr::null_mut();
        assert_eq!(
            rr::ffi::layout::rr_layout_read_image(layout_c.as_ptr(), ptr::null(), &mut odd),
            rr_status::RR_OK
        );
        assert_eq!(
            rr_image_builder_set_base(b, odd),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert!(message().contains("diff_ids"), "{}", message());
        rr_image_free(odd);
        rr_image_free(base);
        rr_image_builder_free(inner);
        rr_image_builder_free(b);
    }
}

#[test]
fn http_request_and_response_functions_refuse_null() {
    use rr::ffi::transport::*;
    unsafe {
        assert!(rr_http_request_method(ptr::null()).is_null());
        assert!(rr_http_request_url(ptr::null()).is_null());
        assert_eq!(rr_http_request_header_count(ptr::null()), 0);
        assert!(rr_http_request_header_name(ptr::null(), 0).is_null());
        assert!(rr_http_request_header_value(ptr::null(), 0).is_null());
        assert_eq!(rr_http_request_body_length(ptr::null()), 0);
        let mut buf = [0u8; 4];
        assert_eq!(
            rr_http_request_read_body(ptr::null_mut(), buf.as_mut_ptr(), buf.len()),
            -1
        );
        assert_eq!(
            rr_http_response_set_status(ptr::null_mut(), 200),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        let n = CString::new("X").unwrap();
        assert_eq!(
            rr_http_response_add_header(ptr::null_mut(), n.as_ptr(), n.as_ptr()),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        // A body given with a NULL response is closed at once, not leaked.
        static CLOSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        unsafe extern "C" fn read(_: *mut std::ffi::c_void, _: *mut u8, _: usize) -> i64 {
            0
        }
        unsafe extern "C" fn close(_: *mut std::ffi::c_void) {
            CLOSED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        assert_eq!(
            rr_http_response_set_body(ptr::null_mut(), Some(read), Some(close), ptr::null_mut()),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert_eq!(CLOSED.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}

#[test]
fn tls_and_proxy_setters_refuse_null_bad_utf8_and_bad_values() {
    let c = new_client();
    let s = |v: &str| CString::new(v).unwrap();
    let bad = [0xffu8, 0xfe, 0];
    let bad = bad.as_ptr() as *const c_char;
    let reg = s("reg.local:5000");
    let file = s("/nonexistent/file.pem");

    // NULL client, then each NULL string, then invalid UTF-8, each named (each call is
    // checked right after it is made: the last error is the last call's).
    type Call<'a> = Box<dyn Fn() -> rr_status + 'a>;
    let calls: Vec<(Call, &str)> = vec![
        (
            Box::new(|| unsafe { rr_client_set_plain_http(ptr::null_mut(), reg.as_ptr()) }),
            "client",
        ),
        (
            Box::new(|| unsafe { rr_client_set_plain_http(c, ptr::null()) }),
            "registry",
        ),
        (
            Box::new(|| unsafe { rr_client_set_plain_http(c, bad) }),
            "registry",
        ),
        (
            Box::new(|| unsafe { rr_client_set_ping_cache_dir(ptr::null_mut(), reg.as_ptr()) }),
            "client",
        ),
        (
            Box::new(|| unsafe { rr_client_set_ping_cache_dir(c, bad) }),
            "dir",
        ),
        (
            Box::new(|| unsafe { rr_client_set_ping_cache_dir(c, s("").as_ptr()) }),
            "directory",
        ),
        (
            Box::new(|| unsafe {
                rr_client_add_registry_ca_file(ptr::null_mut(), reg.as_ptr(), file.as_ptr())
            }),
            "client",
        ),
        (
            Box::new(|| unsafe { rr_client_add_registry_ca_file(c, ptr::null(), file.as_ptr()) }),
            "registry",
        ),
        (
            Box::new(|| unsafe { rr_client_add_registry_ca_file(c, reg.as_ptr(), ptr::null()) }),
            "pem_path",
        ),
        (
            Box::new(|| unsafe { rr_client_add_registry_ca_file(c, bad, file.as_ptr()) }),
            "registry",
        ),
        (
            Box::new(|| unsafe {
                rr_client_set_client_cert(
                    ptr::null_mut(),
                    reg.as_ptr(),
                    file.as_ptr(),
                    file.as_ptr(),
                )
            }),
            "client",
        ),
        (
            Box::new(|| unsafe {
                rr_client_set_client_cert(c, ptr::null(), file.as_ptr(), file.as_ptr())
            }),
            "registry",
        ),
        (
            Box::new(|| unsafe {
                rr_client_set_client_cert(c, reg.as_ptr(), ptr::null(), file.as_ptr())
            }),
            "cert_path",
        ),
        (
            Box::new(|| unsafe {
                rr_client_set_client_cert(c, reg.as_ptr(), file.as_ptr(), ptr::null())
            }),
            "key_path",
        ),
        (
            Box::new(|| unsafe { rr_client_set_client_cert(c, reg.as_ptr(), file.as_ptr(), bad) }),
            "key_path",
        ),
        (
            Box::new(|| unsafe { rr_client_add_certs_dir(ptr::null_mut(), file.as_ptr()) }),
            "client",
        ),
        (
            Box::new(|| unsafe { rr_client_add_certs_dir(c, ptr::null()) }),
            "dir",
        ),
        (
            Box::new(|| unsafe { rr_client_add_certs_dir(c, bad) }),
            "dir",
        ),
        (
            Box::new(|| unsafe { rr_client_set_default_certs_dirs(ptr::null_mut(), false) }),
            "client",
        ),
        (
            Box::new(|| unsafe { rr_client_set_proxy(ptr::null_mut(), reg.as_ptr(), ptr::null()) }),
            "client",
        ),
        (
            Box::new(|| unsafe { rr_client_set_proxy(c, ptr::null(), ptr::null()) }),
            "registry",
        ),
        (
            Box::new(|| unsafe { rr_client_set_proxy(c, reg.as_ptr(), bad) }),
            "proxy",
        ),
    ];
    for (call, name) in calls {
        let status = call();
        assert_eq!(status, rr_status::RR_ERR_INVALID_ARGUMENT, "{name}");
        assert!(message().contains(name), "{name}: {}", message());
    }

    // The ping cache: NULL turns it off, a directory that does not exist yet is made
    // later, a file is refused.
    assert_eq!(
        unsafe { rr_client_set_ping_cache_dir(c, ptr::null()) },
        rr_status::RR_OK
    );
    assert_eq!(
        unsafe { rr_client_set_ping_cache_dir(c, s("/nonexistent/rr-pings").as_ptr()) },
        rr_status::RR_OK
    );
    assert_eq!(
        unsafe { rr_client_set_ping_cache_dir(c, s("/dev/null").as_ptr()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(message().contains("not a directory"), "{}", message());

    // Files are read when set: a missing one is RR_ERR_IO naming it.
    assert_eq!(
        unsafe { rr_client_set_client_cert(c, reg.as_ptr(), file.as_ptr(), file.as_ptr()) },
        rr_status::RR_ERR_IO
    );
    assert!(message().contains("/nonexistent/file.pem"), "{}", message());
    assert_eq!(
        unsafe { rr_client_add_registry_ca_file(c, reg.as_ptr(), file.as_ptr()) },
        rr_status::RR_ERR_IO
    );
    assert_eq!(
        unsafe { rr_client_add_registry_ca_file(c, s("bad host").as_ptr(), file.as_ptr()) },
        rr_status::RR_ERR_INVALID_REFERENCE
    );
    assert_eq!(
        unsafe { rr_client_add_certs_dir(c, s("").as_ptr()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        unsafe { rr_client_set_proxy(c, reg.as_ptr(), s("socks5://proxy:1080").as_ptr()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert!(message().contains("socks5"), "{}", message());

    // The good cases: a directory that need not exist yet, the defaults off, a proxy,
    // no proxy, and the setting removed.
    for status in [
        unsafe { rr_client_add_certs_dir(c, s("/nonexistent/certs.d").as_ptr()) },
        unsafe { rr_client_set_default_certs_dirs(c, false) },
        unsafe { rr_client_set_proxy(c, reg.as_ptr(), s("http://proxy.local:3128").as_ptr()) },
        unsafe { rr_client_set_proxy(c, reg.as_ptr(), s("").as_ptr()) },
        unsafe { rr_client_set_proxy(c, reg.as_ptr(), ptr::null()) },
    ] {
        assert_eq!(status, rr_status::RR_OK, "{}", message());
    }
    unsafe { rr_client_free(c) };
}

#[test]
fn mirror_and_rate_limit_functions_refuse_null_bad_utf8_and_bad_values() {
    let c = new_client();
    let s = |v: &str| CString::new(v).unwrap();
    let bad = [0xffu8, 0xfe, 0];
    let bad = bad.as_ptr() as *const c_char;
    let reg = s("reg.local:5000");
    let mirror = s("mirror.local/cache");
    let mut n = 0i64;
    let mut list = ptr::null_mut();

    type Call<'a> = Box<dyn Fn() -> rr_status + 'a>;
    let calls: Vec<(Call, &str)> = vec![
        (
            Box::new(|| unsafe { rr_client_load_registries_conf(ptr::null_mut(), ptr::null()) }),
            "client",
        ),
        (
            Box::new(|| unsafe { rr_client_load_registries_conf(c, bad) }),
            "path",
        ),
        (
            Box::new(|| unsafe {
                rr_client_add_mirror(ptr::null_mut(), reg.as_ptr(), mirror.as_ptr(), 0)
            }),
            "client",
        ),
        (
            Box::new(|| unsafe { rr_client_add_mirror(c, ptr::null(), mirror.as_ptr(), 0) }),
            "registry",
        ),
        (
            Box::new(|| unsafe { rr_client_add_mirror(c, reg.as_ptr(), ptr::null(), 0) }),
            "mirror",
        ),
        (
            Box::new(|| unsafe { rr_client_add_mirror(c, reg.as_ptr(), bad, 0) }),
            "mirror",
        ),
        (
            Box::new(|| unsafe { rr_client_add_mirror(c, reg.as_ptr(), mirror.as_ptr(), 3) }),
            "pull_from",
        ),
        (
            Box::new(|| unsafe {
                rr_client_add_mirror(c, reg.as_ptr(), s("https://m.local").as_ptr(), 0)
            }),
            "scheme",
        ),
        (
            Box::new(|| unsafe {
                rr_client_rate_limit(
                    ptr::null(),
                    reg.as_ptr(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            }),
            "client",
        ),
        (
            Box::new(|| unsafe {
                rr_client_rate_limit(
                    c,
                    ptr::null(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            }),
            "registry",
        ),
        (
            Box::new(|| unsafe {
                rr_client_rate_limit(c, bad, ptr::null_mut(), ptr::null_mut(), ptr::null_mut())
            }),
            "registry",
        ),
        (
            Box::new(|| unsafe {
                let mut unused = ptr::null_mut();
                rr_client_rate_limit_registries(ptr::null(), &mut unused)
            }),
            "client",
        ),
        (
            Box::new(|| unsafe { rr_client_rate_limit_registries(c, ptr::null_mut()) }),
            "out",
        ),
    ];
    for (call, name) in calls {
        let status = call();
        assert_eq!(status, rr_status::RR_ERR_INVALID_ARGUMENT, "{name}");
        assert!(message().contains(name), "{name}: {}", message());
    }

    // A file that is not there, a bad registry, nothing seen yet.
    assert_eq!(
        unsafe { rr_client_load_registries_conf(c, s("/nonexistent/registries.conf").as_ptr()) },
        rr_status::RR_ERR_IO
    );
    assert!(
        message().contains("/nonexistent/registries.conf"),
        "{}",
        message()
    );
    assert_eq!(
        unsafe {
            rr_client_rate_limit(
                c,
                s("bad host").as_ptr(),
                &mut n,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        },
        rr_status::RR_ERR_INVALID_REFERENCE
    );
    assert_eq!(
        unsafe { rr_client_rate_limit(c, reg.as_ptr(), &mut n, ptr::null_mut(), ptr::null_mut()) },
        rr_status::RR_ERR_NOT_FOUND
    );
    assert_eq!(n, 0, "no out-parameter is written on failure");

    // The good cases: each pull_from, and an empty list of rate-limited registries.
    for pull in [
        rr_mirror_pull::RR_MIRROR_PULL_ALL,
        rr_mirror_pull::RR_MIRROR_PULL_DIGEST_ONLY,
        rr_mirror_pull::RR_MIRROR_PULL_TAG_ONLY,
    ] {
        assert_eq!(
            unsafe { rr_client_add_mirror(c, reg.as_ptr(), mirror.as_ptr(), pull as u32) },
            rr_status::RR_OK,
            "{}",
            message()
        );
    }
    assert_eq!(
        unsafe { rr_client_rate_limit_registries(c, &mut list) },
        rr_status::RR_OK
    );
    assert_eq!(unsafe { rr_string_list_len(list) }, 0);
    unsafe {
        rr_string_list_free(list);
        rr_client_free(c);
    }
}
