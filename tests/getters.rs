//! The getters a host reads manifests through instead of parsing JSON, the platform it
//! may ask for field by field, listings handed out a page at a time, and manifests put as
//! their exact bytes: through the C ABI, against real registries (distribution 2.8 seeded
//! with `seed_standard` and `seed_annotated`, pushed by skopeo; distribution v3 and
//! go-containerregistry's registry for pagination).

use rr::ffi::client::*;
use rr::ffi::descriptor::*;
use rr::ffi::error::*;
use rr::ffi::image::*;
use rr::ffi::index::*;
use rr::ffi::list::*;
use rr::ffi::platform::rr_platform_spec;
use rr::ffi::rr_status;
use rr::ffi::string_list::*;
use rr::ffi::write::*;
use rr_testkit::{
    sha256_digest, shared_seeded, shared_seeded_on, Annotated, Mode, Registry, Server,
    ANNOTATED_ARTIFACT_TYPE, ANNOTATED_LAYER_ARTIFACT_TYPE, ANNOTATED_OS_VERSION,
};
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

const OK: rr_status = rr_status::RR_OK;

/// The shared open registry with `seed_annotated` pushed once for this process.
fn annotated() -> (&'static Registry, &'static Annotated) {
    static ANNOTATED: OnceLock<Annotated> = OnceLock::new();
    let (reg, _) = shared_seeded(Mode::Open);
    (reg, ANNOTATED.get_or_init(|| reg.seed_annotated()))
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// A getter's string, None for NULL.
fn text(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string())
}

fn message() -> String {
    text(rr_error_message()).unwrap_or_default()
}

fn client() -> *mut rr_client {
    let mut c = ptr::null_mut();
    assert_eq!(unsafe { rr_client_new(&mut c) }, OK);
    assert_eq!(unsafe { rr_client_set_keychain(c, false) }, OK);
    c
}

fn open_image(c: *mut rr_client, reference: &str) -> *mut rr_image {
    let r = cstr(reference);
    let mut img = ptr::null_mut();
    let rc = unsafe { rr_image_open(c, r.as_ptr(), &mut img) };
    assert_eq!(rc, OK, "{reference}: {}", message());
    img
}

fn open_index(c: *mut rr_client, reference: &str) -> *mut rr_index {
    let r = cstr(reference);
    let mut idx = ptr::null_mut();
    let rc = unsafe { rr_index_open(c, r.as_ptr(), &mut idx) };
    assert_eq!(rc, OK, "{reference}: {}", message());
    idx
}

/// The annotations a count/key/value triple of getters enumerates.
fn enumerate(
    count: usize,
    key: impl Fn(usize) -> *const c_char,
    value: impl Fn(usize) -> *const c_char,
) -> Vec<(String, String)> {
    let out = (0..count)
        .map(|j| (text(key(j)).unwrap(), text(value(j)).unwrap()))
        .collect();
    assert!(
        key(count).is_null() && value(count).is_null(),
        "past the end"
    );
    out
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

/// Makes the thread's last error a failure's, to see that getters leave it alone.
fn set_an_error() {
    assert_eq!(
        unsafe { rr_client_set_jobs(ptr::null_mut(), 1) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
}

#[test]
fn image_getters_give_the_config_annotations_artifact_types_and_total_size() {
    let (_reg, a) = annotated();
    let c = client();
    let img = open_image(c, &a.image.reference);
    set_an_error();
    let before = message();
    unsafe {
        assert_eq!(
            text(rr_image_config_digest(img)).as_deref(),
            Some(a.image.config_digest.as_str())
        );
        assert_eq!(
            text(rr_image_config_media_type(img)).as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
        assert_eq!(rr_image_config_size(img), a.image.config_bytes.len() as u64);
        assert_eq!(
            rr_image_total_size(img),
            a.image.config_bytes.len() as u64 + a.image.layer_sizes.iter().sum::<u64>()
        );
        assert_eq!(
            text(rr_image_artifact_type(img)).as_deref(),
            Some(ANNOTATED_ARTIFACT_TYPE)
        );

        let all = enumerate(
            rr_image_annotation_count(img),
            |j| rr_image_annotation_key(img, j),
            |j| rr_image_annotation_value(img, j),
        );
        // In key order, whatever order the manifest has them in.
        assert_eq!(all, sorted(a.image_annotations.clone()));
        for (k, v) in &a.image_annotations {
            let key = cstr(k);
            assert_eq!(
                text(rr_image_annotation(img, key.as_ptr())).as_deref(),
                Some(v.as_str())
            );
        }
        let missing = cstr("org.example.missing");
        assert!(rr_image_annotation(img, missing.as_ptr()).is_null());
        assert!(rr_image_annotation(img, ptr::null()).is_null());
        let not_utf8 = b"\xff\0";
        assert!(rr_image_annotation(img, not_utf8.as_ptr().cast()).is_null());

        assert_eq!(rr_image_layer_count(img), 2);
        let layer0 = enumerate(
            rr_image_layer_annotation_count(img, 0),
            |j| rr_image_layer_annotation_key(img, 0, j),
            |j| rr_image_layer_annotation_value(img, 0, j),
        );
        assert_eq!(layer0, a.layer_annotations);
        let title = cstr("org.opencontainers.image.title");
        assert_eq!(
            text(rr_image_layer_annotation(img, 0, title.as_ptr())).as_deref(),
            Some("layer-0.tar.gz")
        );
        assert!(rr_image_layer_annotation(img, 1, title.as_ptr()).is_null());
        assert_eq!(rr_image_layer_annotation_count(img, 1), 0);
        assert!(rr_image_layer_artifact_type(img, 0).is_null());
        assert_eq!(
            text(rr_image_layer_artifact_type(img, 1)).as_deref(),
            Some(ANNOTATED_LAYER_ARTIFACT_TYPE)
        );
        assert_eq!(rr_image_layer_size(img, 1), a.image.layer_sizes[1]);

        // Out of range: NULL and 0.
        assert!(rr_image_layer_artifact_type(img, 2).is_null());
        assert!(rr_image_layer_annotation(img, 2, title.as_ptr()).is_null());
        assert_eq!(rr_image_layer_annotation_count(img, 2), 0);
        assert!(rr_image_layer_annotation_key(img, 2, 0).is_null());
        assert!(rr_image_layer_annotation_value(img, 0, 1).is_null());
        assert!(rr_image_annotation_key(img, usize::MAX).is_null());
    }
    assert_eq!(message(), before, "getters leave the last error alone");

    // An image without any of them (the standard fixture) gives NULL and 0.
    let (_, seeded) = shared_seeded(Mode::Open);
    let plain = open_image(c, &seeded.app.reference);
    unsafe {
        assert!(rr_image_artifact_type(plain).is_null());
        assert_eq!(rr_image_annotation_count(plain), 0);
        assert!(rr_image_layer_artifact_type(plain, 0).is_null());
        assert_eq!(rr_image_layer_annotation_count(plain, 0), 0);
        // The config's size without fetching it, equal to what the fetch verifies.
        let (mut bytes, mut len) = (ptr::null(), 0usize);
        assert_eq!(rr_image_config(plain, &mut bytes, &mut len), OK);
        assert_eq!(rr_image_config_size(plain), len as u64);
        rr_image_free(plain);
        rr_image_free(img);
        rr_client_free(c);
    }
}

#[test]
fn index_getters_give_each_childs_size_annotations_artifact_type_and_platform() {
    let (_reg, a) = annotated();
    let c = client();
    let idx = open_index(c, &a.index.reference);
    set_an_error();
    let before = message();
    unsafe {
        assert_eq!(rr_index_child_count(idx), 2);
        for (i, (_, child)) in a.index.children.iter().enumerate() {
            assert_eq!(
                rr_index_child_size(idx, i),
                child.manifest_bytes.len() as u64
            );
        }
        let index_annotations = enumerate(
            rr_index_annotation_count(idx),
            |j| rr_index_annotation_key(idx, j),
            |j| rr_index_annotation_value(idx, j),
        );
        assert_eq!(index_annotations, a.index_annotations);
        let ref_name = cstr("org.opencontainers.image.ref.name");
        assert_eq!(
            text(rr_index_annotation(idx, ref_name.as_ptr())).as_deref(),
            Some("index")
        );
        assert!(rr_index_artifact_type(idx).is_null());

        // The Windows child: every platform field, its annotations and artifact type.
        assert_eq!(text(rr_index_child_os(idx, 0)).as_deref(), Some("windows"));
        assert_eq!(
            text(rr_index_child_architecture(idx, 0)).as_deref(),
            Some("amd64")
        );
        assert!(rr_index_child_variant(idx, 0).is_null());
        assert_eq!(
            text(rr_index_child_os_version(idx, 0)).as_deref(),
            Some(ANNOTATED_OS_VERSION)
        );
        assert_eq!(rr_index_child_os_feature_count(idx, 0), 1);
        assert_eq!(
            text(rr_index_child_os_feature(idx, 0, 0)).as_deref(),
            Some("win32k")
        );
        assert!(rr_index_child_os_feature(idx, 0, 1).is_null());
        assert_eq!(
            text(rr_index_child_platform(idx, 0)).as_deref(),
            Some("windows/amd64")
        );
        assert_eq!(
            text(rr_index_child_artifact_type(idx, 0)).as_deref(),
            Some(ANNOTATED_ARTIFACT_TYPE)
        );
        let child0 = enumerate(
            rr_index_child_annotation_count(idx, 0),
            |j| rr_index_child_annotation_key(idx, 0, j),
            |j| rr_index_child_annotation_value(idx, 0, j),
        );
        assert_eq!(child0, a.child_annotations);

        // The arm64 child: a variant, no os.version, no features, nothing else.
        assert_eq!(text(rr_index_child_os(idx, 1)).as_deref(), Some("linux"));
        assert_eq!(
            text(rr_index_child_architecture(idx, 1)).as_deref(),
            Some("arm64")
        );
        assert_eq!(text(rr_index_child_variant(idx, 1)).as_deref(), Some("v8"));
        assert!(rr_index_child_os_version(idx, 1).is_null());
        assert_eq!(rr_index_child_os_feature_count(idx, 1), 0);
        assert!(rr_index_child_artifact_type(idx, 1).is_null());
        assert_eq!(rr_index_child_annotation_count(idx, 1), 0);

        // Out of range: NULL and 0.
        assert_eq!(rr_index_child_size(idx, 2), 0);
        assert!(rr_index_child_os(idx, 2).is_null());
        assert!(rr_index_child_architecture(idx, 2).is_null());
        assert!(rr_index_child_variant(idx, 2).is_null());
        assert!(rr_index_child_os_version(idx, 2).is_null());
        assert_eq!(rr_index_child_os_feature_count(idx, 2), 0);
        assert!(rr_index_child_os_feature(idx, 2, 0).is_null());
        assert!(rr_index_child_artifact_type(idx, 2).is_null());
        assert_eq!(rr_index_child_annotation_count(idx, 2), 0);
        assert!(rr_index_child_annotation_key(idx, 2, 0).is_null());
        assert!(rr_index_child_annotation_value(idx, 0, 1).is_null());
        assert!(rr_index_annotation_key(idx, 1).is_null());
        assert!(rr_index_annotation_value(idx, 1).is_null());

        // The kinds of what the index lists, without comparing media type strings.
        assert_eq!(
            rr_media_type_kind(rr_index_media_type(idx)),
            rr_manifest_kind::RR_MANIFEST_INDEX
        );
        assert_eq!(
            rr_media_type_kind(rr_index_child_media_type(idx, 0)),
            rr_manifest_kind::RR_MANIFEST_IMAGE
        );
        assert_eq!(
            rr_media_type_kind(ptr::null()),
            rr_manifest_kind::RR_MANIFEST_UNKNOWN
        );
    }
    assert_eq!(message(), before, "getters leave the last error alone");
    unsafe {
        rr_index_free(idx);
        rr_client_free(c);
    }
}

/// A spec for windows/amd64 at the fixture's os.version, asking for `features`.
fn windows_spec<'a>(
    os: &'a CString,
    arch: &'a CString,
    version: &'a CString,
    features: &'a [*const c_char],
) -> rr_platform_spec {
    rr_platform_spec {
        os: os.as_ptr(),
        architecture: arch.as_ptr(),
        variant: ptr::null(),
        os_version: version.as_ptr(),
        os_features: features.as_ptr(),
        os_feature_count: features.len(),
    }
}

#[test]
fn os_version_and_os_features_can_be_asked_for() {
    let (_reg, a) = annotated();
    let windows = &a.index.children[0].1.manifest_digest;
    let c = client();
    let idx = open_index(c, &a.index.reference);
    let (os, arch, version) = (cstr("windows"), cstr("amd64"), cstr(ANNOTATED_OS_VERSION));
    let (win32k, other) = (cstr("win32k"), cstr("other"));
    unsafe {
        // The string form carries os.version.
        let s = cstr(&format!("windows/amd64:{ANNOTATED_OS_VERSION}"));
        let mut img = ptr::null_mut();
        assert_eq!(rr_index_image_for_platform(idx, s.as_ptr(), &mut img), OK);
        assert_eq!(text(rr_image_digest(img)).as_ref(), Some(windows));
        rr_image_free(img);
        let s = cstr("windows/amd64:10.0.1");
        let mut img = ptr::null_mut();
        assert_eq!(
            rr_index_image_for_platform(idx, s.as_ptr(), &mut img),
            rr_status::RR_ERR_NOT_FOUND
        );

        // The spec carries os.features too: the child must list each one asked for.
        let features = [win32k.as_ptr()];
        let spec = windows_spec(&os, &arch, &version, &features);
        let mut img = ptr::null_mut();
        assert_eq!(rr_index_image_for_platform_spec(idx, &spec, &mut img), OK);
        assert_eq!(text(rr_image_digest(img)).as_ref(), Some(windows));
        rr_image_free(img);
        let features = [win32k.as_ptr(), other.as_ptr()];
        let spec = windows_spec(&os, &arch, &version, &features);
        let mut img = ptr::null_mut();
        assert_eq!(
            rr_index_image_for_platform_spec(idx, &spec, &mut img),
            rr_status::RR_ERR_NOT_FOUND
        );
        assert!(img.is_null());
        assert!(
            message().contains("with os.features win32k,other"),
            "{}",
            message()
        );
        let mut bad = windows_spec(&os, &arch, &version, &[]);
        bad.os = ptr::null();
        assert_eq!(
            rr_index_image_for_platform_spec(idx, &bad, &mut img),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert!(message().contains("platform.os"), "{}", message());
        assert_eq!(
            rr_index_image_for_platform_spec(idx, ptr::null(), &mut img),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );

        // On the client: an index opened as an image resolves by the spec.
        let features = [win32k.as_ptr()];
        let spec = windows_spec(&os, &arch, &version, &features);
        assert_eq!(rr_client_set_platform_spec(c, &spec), OK);
        let img = open_image(c, &a.index.reference);
        assert_eq!(text(rr_image_digest(img)).as_ref(), Some(windows));
        rr_image_free(img);
        let features = [other.as_ptr()];
        let spec = windows_spec(&os, &arch, &version, &features);
        assert_eq!(rr_client_set_platform_spec(c, &spec), OK);
        let r = cstr(&a.index.reference);
        let mut img = ptr::null_mut();
        assert_eq!(
            rr_image_open(c, r.as_ptr(), &mut img),
            rr_status::RR_ERR_NOT_FOUND
        );
        let empty = cstr("");
        let mut bad = windows_spec(&empty, &arch, &version, &[]);
        bad.os = empty.as_ptr();
        assert_eq!(
            rr_client_set_platform_spec(c, &bad),
            rr_status::RR_ERR_INVALID_REFERENCE
        );
        assert_eq!(
            rr_client_set_platform_spec(ptr::null_mut(), &spec),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        rr_index_free(idx);
        rr_client_free(c);
    }
}

/// What a page callback saw.
#[derive(Default)]
struct Pages {
    pages: Vec<Vec<String>>,
    /// Stop (return non-zero) after this many pages.
    stop_after: Option<usize>,
}

unsafe extern "C" fn collect_page(
    userdata: *mut c_void,
    entries: *const *const c_char,
    count: usize,
) -> i32 {
    let pages = &mut *(userdata as *mut Pages);
    let page = (0..count).map(|i| text(*entries.add(i)).unwrap()).collect();
    pages.pages.push(page);
    match pages.stop_after {
        Some(n) if pages.pages.len() >= n => 1,
        _ => 0,
    }
}

fn list_pages(c: *mut rr_client, repository: &str, pages: &mut Pages) -> rr_status {
    let r = cstr(repository);
    unsafe {
        rr_list_pages(
            c,
            r.as_ptr(),
            Some(collect_page),
            (pages as *mut Pages).cast(),
        )
    }
}

fn tag_requests(reg: &Registry, from: usize) -> Vec<String> {
    reg.requests()[from..]
        .iter()
        .filter(|r| r.uri.contains("/tags/list"))
        .map(|r| r.uri.clone())
        .collect()
}

#[test]
fn list_pages_hands_out_every_tag_a_page_at_a_time() {
    for server in Server::ALL {
        let (reg, seeded) = shared_seeded_on(server);
        let repo = format!("{}/demo/many", reg.host());
        let c = client();
        assert_eq!(unsafe { rr_client_set_page_size(c, 64) }, OK);
        let before = reg.requests().len();
        let mut pages = Pages::default();
        assert_eq!(
            list_pages(c, &repo, &mut pages),
            OK,
            "{server}: {}",
            message()
        );
        let asked = tag_requests(reg, before);
        let mut all: Vec<String> = pages.pages.concat();
        assert_eq!(all.len(), seeded.many_tags.len(), "{server}: {asked:?}");
        all.sort();
        assert_eq!(all, seeded.many_tags, "{server}");
        assert!(pages.pages.iter().all(|p| !p.is_empty()), "{server}");
        if server == Server::Distribution28 {
            // It ignores `n` on tags: one page of everything.
            assert_eq!(pages.pages.len(), 1, "{server}: {asked:?}");
        } else {
            // Pages as asked for: memory is bounded by 64 tags, not 320.
            assert_eq!(pages.pages.len(), 5, "{server}: {asked:?}");
            assert!(pages.pages.iter().all(|p| p.len() == 64), "{server}");
        }
        if server == Server::Ggcr {
            // Five full pages, then `last=t319`, which go-containerregistry's registry
            // answers with its first page, as a registry that ignores `last` would: the
            // whole listing is asked for once, without `n`, and only what is new in it
            // (nothing) is handed out.
            assert_eq!(asked.len(), 7, "{asked:?}");
            assert!(asked[5].contains("last=t319"), "{asked:?}");
            assert!(asked[..6].iter().all(|u| u.contains("n=64")), "{asked:?}");
            assert!(
                !asked[6].contains("n=") && !asked[6].contains("last="),
                "{asked:?}"
            );
        }

        // rr_list finds the same tags with the same requests.
        let before = reg.requests().len();
        let r = cstr(&repo);
        let mut list = ptr::null_mut();
        assert_eq!(unsafe { rr_list(c, r.as_ptr(), &mut list) }, OK);
        assert_eq!(unsafe { rr_string_list_len(list) }, seeded.many_tags.len());
        assert_eq!(tag_requests(reg, before).len(), asked.len(), "{server}");
        unsafe {
            rr_string_list_free(list);
            rr_client_free(c);
        }
    }
}

#[test]
fn a_page_callback_stops_the_listing_before_the_next_request() {
    let (reg, _) = shared_seeded_on(Server::DistributionV3);
    let repo = format!("{}/demo/many", reg.host());
    let c = client();
    assert_eq!(unsafe { rr_client_set_page_size(c, 100) }, OK);
    let before = reg.requests().len();
    let mut pages = Pages {
        stop_after: Some(1),
        ..Pages::default()
    };
    assert_eq!(
        list_pages(c, &repo, &mut pages),
        rr_status::RR_ERR_CANCELLED
    );
    assert_eq!(pages.pages.len(), 1);
    assert_eq!(pages.pages[0].len(), 100);
    assert_eq!(
        tag_requests(reg, before).len(),
        1,
        "no request after the stop"
    );
    assert!(message().contains("page callback"), "{}", message());

    // Bad arguments, and the errors of a listing.
    let r = cstr(&repo);
    let mut none = Pages::default();
    let userdata = (&mut none as *mut Pages).cast();
    unsafe {
        assert_eq!(
            rr_list_pages(c, r.as_ptr(), None, userdata),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert!(message().contains("fn"), "{}", message());
        assert_eq!(
            rr_list_pages(ptr::null_mut(), r.as_ptr(), Some(collect_page), userdata),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            rr_list_pages(c, ptr::null(), Some(collect_page), userdata),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            rr_catalog_pages(c, ptr::null(), Some(collect_page), userdata),
            rr_status::RR_ERR_INVALID_ARGUMENT
        );
    }
    let tagged = format!("{repo}:t000");
    assert_eq!(
        list_pages(c, &tagged, &mut none),
        rr_status::RR_ERR_INVALID_REFERENCE
    );
    let missing = format!("{}/demo/no-such-repository", reg.host());
    assert_eq!(
        list_pages(c, &missing, &mut none),
        rr_status::RR_ERR_NOT_FOUND
    );
    assert!(none.pages.is_empty(), "no page for failures");
    unsafe { rr_client_free(c) };
}

fn catalog(c: *mut rr_client, host: &CString) -> Vec<String> {
    let mut whole = ptr::null_mut();
    assert_eq!(unsafe { rr_catalog(c, host.as_ptr(), &mut whole) }, OK);
    let mut all: Vec<String> = (0..unsafe { rr_string_list_len(whole) })
        .map(|i| text(unsafe { rr_string_list_get(whole, i) }).unwrap())
        .collect();
    all.sort();
    unsafe { rr_string_list_free(whole) };
    all
}

#[test]
fn catalog_pages_give_every_repository_once_on_every_server() {
    for server in Server::ALL {
        let (reg, _) = shared_seeded_on(server);
        let host = cstr(&reg.host());
        // Pages of 1 and 2: go-containerregistry's registry ignores `last` on the catalog
        // (it answers in no order), so once it repeats an entry the whole catalog is asked
        // for, of which only what is new is handed out; a page of 2 may hold one entry
        // seen and one new, which must still be handed out once.
        for page_size in [1u32, 2] {
            let c = client();
            // Other tests of this process may add repositories meanwhile: the pages hold at
            // least what was there before and at most what is there after.
            let before = catalog(c, &host);
            assert_eq!(unsafe { rr_client_set_page_size(c, page_size) }, OK);
            let mut pages = Pages::default();
            let rc = unsafe {
                rr_catalog_pages(
                    c,
                    host.as_ptr(),
                    Some(collect_page),
                    (&mut pages as *mut Pages).cast(),
                )
            };
            assert_eq!(rc, OK, "{server}: {}", message());
            assert_eq!(unsafe { rr_client_set_page_size(c, 0) }, OK);
            let after = catalog(c, &host);
            let mut got = pages.pages.concat();
            got.sort();
            let mut unique = got.clone();
            unique.dedup();
            let what = format!("{server}, pages of {page_size}: {:?}", pages.pages);
            assert_eq!(got, unique, "each repository once: {what}");
            assert!(before.iter().all(|r| got.contains(r)), "{what}");
            assert!(got.iter().all(|r| after.contains(r)), "{what}");
            assert!(pages.pages[0].len() <= page_size as usize, "{what}");
            unsafe { rr_client_free(c) };
        }
    }
}

/// PUTs `bytes` at `reference`; the descriptor of what was sent on RR_OK.
fn put(
    c: *mut rr_client,
    reference: &str,
    media_type: Option<&str>,
    bytes: &[u8],
) -> (rr_status, *mut rr_descriptor) {
    let r = cstr(reference);
    let m = media_type.map(cstr);
    let mut d = ptr::null_mut();
    let rc = unsafe {
        rr_put_manifest(
            c,
            r.as_ptr(),
            m.as_ref().map_or(ptr::null(), |m| m.as_ptr()),
            bytes.as_ptr(),
            bytes.len(),
            &mut d,
        )
    };
    (rc, d)
}

fn get_bytes(c: *mut rr_client, reference: &str) -> (String, Vec<u8>) {
    let r = cstr(reference);
    let mut d = ptr::null_mut();
    assert_eq!(
        unsafe { rr_get(c, r.as_ptr(), &mut d) },
        OK,
        "{}",
        message()
    );
    let (mut p, mut n) = (ptr::null(), 0usize);
    assert_eq!(unsafe { rr_descriptor_manifest(d, &mut p, &mut n) }, OK);
    let bytes = unsafe { std::slice::from_raw_parts(p, n) }.to_vec();
    let media_type = text(unsafe { rr_descriptor_media_type(d) }).unwrap();
    unsafe { rr_descriptor_free(d) };
    (media_type, bytes)
}

fn puts_to(reg: &Registry, from: usize, repo: &str) -> usize {
    reg.requests()[from..]
        .iter()
        .filter(|r| r.method == "PUT" && r.uri.starts_with(&format!("/v2/{repo}/manifests/")))
        .count()
}

#[test]
fn a_manifest_is_put_as_its_exact_bytes() {
    let (reg, seeded) = shared_seeded(Mode::Open);
    let c = client();
    // A repository of its own, holding demo/app's blobs (mounted).
    let src = cstr(&seeded.app.reference);
    let dst = cstr(&format!("{}/getters/put:base", reg.host()));
    assert_eq!(
        unsafe { rr_copy(c, src.as_ptr(), dst.as_ptr()) },
        OK,
        "{}",
        message()
    );

    // The fixture's manifest with other spacing and an annotation: new bytes, same blobs.
    let text_of = String::from_utf8(seeded.app.manifest_bytes.clone()).unwrap();
    let rest = text_of.strip_prefix('{').expect("a JSON object");
    let edited = format!("{{  \"annotations\": {{\"org.example.put\": \"yes\"}},{rest}");
    let bytes = edited.as_bytes();
    let digest = sha256_digest(bytes);
    let tagged = format!("{}/getters/put:edited", reg.host());
    let (rc, d) = put(c, &tagged, None, bytes);
    assert_eq!(rc, OK, "{}", message());
    unsafe {
        assert_eq!(
            text(rr_descriptor_digest(d)).as_deref(),
            Some(digest.as_str())
        );
        assert_eq!(rr_descriptor_size(d), bytes.len() as u64);
        assert_eq!(
            text(rr_descriptor_media_type(d)).as_deref(),
            Some("application/vnd.oci.image.manifest.v1+json")
        );
        let mut img = ptr::null_mut();
        assert_eq!(rr_descriptor_image(d, &mut img), OK, "{}", message());
        let key = cstr("org.example.put");
        assert_eq!(
            text(rr_image_annotation(img, key.as_ptr())).as_deref(),
            Some("yes")
        );
        rr_image_free(img);
        rr_descriptor_free(d);
    }
    let (media_type, got) = get_bytes(c, &tagged);
    assert_eq!(
        got, bytes,
        "the registry holds the caller's bytes unchanged"
    );
    assert_eq!(media_type, "application/vnd.oci.image.manifest.v1+json");

    // By digest, with the media type given and no descriptor wanted.
    let by_digest = format!("{}/getters/put@{digest}", reg.host());
    let r = cstr(&by_digest);
    let m = cstr("application/vnd.oci.image.manifest.v1+json");
    let rc = unsafe {
        rr_put_manifest(
            c,
            r.as_ptr(),
            m.as_ptr(),
            bytes.as_ptr(),
            bytes.len(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, OK, "{}", message());
    unsafe { rr_client_free(c) };
}

#[test]
fn a_manifest_that_does_not_hold_up_is_refused_before_anything_is_sent() {
    let (reg, seeded) = shared_seeded(Mode::Open);
    let c = client();
    let bytes = &seeded.app.manifest_bytes;
    let before = reg.requests().len();
    let wrong_digest = format!("{}/demo/app@{}", reg.host(), sha256_digest(b"other"));
    let tagged = format!("{}/demo/app:refused", reg.host());
    for (reference, media_type, bytes, why) in [
        (wrong_digest.as_str(), None, bytes.as_slice(), "hash to"),
        (
            tagged.as_str(),
            Some("application/vnd.docker.distribution.manifest.v2+json"),
            bytes.as_slice(),
            "the bytes say",
        ),
        (
            tagged.as_str(),
            Some("application/vnd.oci.image.index.v1+json"),
            &br#"{"schemaVersion": 2, "manifests": [{"digest": "sha256:bad", "size": 1}]}"#[..],
            "not a valid",
        ),
        (
            tagged.as_str(),
            None,
            &b"{\"schemaVersion\": 2"[..],
            "not JSON",
        ),
        (tagged.as_str(), None, &b"{}"[..], "no media type"),
        (tagged.as_str(), None, &b""[..], "empty"),
    ] {
        let (rc, d) = put(c, reference, media_type, bytes);
        assert_eq!(
            rc,
            rr_status::RR_ERR_INVALID_ARGUMENT,
            "{why}: {}",
            message()
        );
        assert!(d.is_null(), "out is written only on RR_OK");
        assert!(message().contains(why), "{why}: {}", message());
    }
    let untagged = format!("{}/demo/app", reg.host());
    assert_eq!(
        put(c, &untagged, None, bytes).0,
        rr_status::RR_ERR_INVALID_REFERENCE
    );
    let r = cstr(&tagged);
    assert_eq!(
        unsafe { rr_put_manifest(c, r.as_ptr(), ptr::null(), ptr::null(), 5, ptr::null_mut()) },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        unsafe {
            rr_put_manifest(
                ptr::null_mut(),
                r.as_ptr(),
                ptr::null(),
                bytes.as_ptr(),
                bytes.len(),
                ptr::null_mut(),
            )
        },
        rr_status::RR_ERR_INVALID_ARGUMENT
    );
    // Other tests share the registry: no PUT of demo/app's manifests is what says that
    // nothing went out.
    assert_eq!(puts_to(reg, before, "demo/app"), 0, "nothing was sent");

    // A manifest naming a blob the repository lacks: the registry refuses it.
    let missing_blob = String::from_utf8(bytes.clone()).unwrap().replace(
        &seeded.app.layer_digests[1],
        &sha256_digest(b"no such layer"),
    );
    let (rc, _) = put(c, &tagged, None, missing_blob.as_bytes());
    assert_ne!(rc, OK);
    assert_eq!(
        text(rr_error_registry_code()).as_deref(),
        Some("MANIFEST_BLOB_UNKNOWN"),
        "{}",
        message()
    );
    unsafe { rr_client_free(c) };
}
