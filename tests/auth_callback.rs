//! The host's credential callback (`rr_client_set_auth_callback`) through the C ABI,
//! against the token-auth registry: each kind of answer, an empty answer falling through
//! to the keychain, a wrong answer asked for exactly once more, and a failing callback.

use base64::Engine as _;
use rr::ffi::client::*;
use rr::ffi::credential::*;
use rr::ffi::descriptor::*;
use rr::ffi::error::*;
use rr::ffi::rr_status;
use rr::ffi::write::*;
use rr_testkit::{
    shared_seeded, Mode, TOKEN_PULLER, TOKEN_PULLER_PASSWORD, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD,
};
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::Mutex;

#[derive(Clone, Copy, PartialEq)]
enum Answer {
    Basic,
    WrongPassword,
    IdentityToken,
    RegistryToken,
    Nothing,
    Fail,
}

struct Host {
    answer: Answer,
    registry_token: String,
    asked: Mutex<Vec<String>>,
}

unsafe extern "C" fn auth(
    ud: *mut c_void,
    registry: *const c_char,
    cred: *mut rr_credential,
) -> i32 {
    let host = &*(ud as *const Host);
    host.asked
        .lock()
        .unwrap()
        .push(CStr::from_ptr(registry).to_str().unwrap().to_string());
    let s = |v: &str| CString::new(v).unwrap();
    match host.answer {
        Answer::Basic => {
            let (u, p) = (s(TOKEN_PUSHER), s(TOKEN_PUSHER_PASSWORD));
            assert_eq!(
                rr_credential_set_basic(cred, u.as_ptr(), p.as_ptr()),
                rr_status::RR_OK
            );
        }
        Answer::WrongPassword => {
            let (u, p) = (s(TOKEN_PUSHER), s("not-the-password"));
            rr_credential_set_basic(cred, u.as_ptr(), p.as_ptr());
        }
        Answer::IdentityToken => {
            let t = s("refresh-pusher");
            assert_eq!(
                rr_credential_set_identity_token(cred, t.as_ptr()),
                rr_status::RR_OK
            );
        }
        Answer::RegistryToken => {
            let t = s(&host.registry_token);
            assert_eq!(
                rr_credential_set_registry_token(cred, t.as_ptr()),
                rr_status::RR_OK
            );
        }
        Answer::Nothing => {}
        Answer::Fail => return 5,
    }
    0
}

fn message() -> String {
    unsafe { CStr::from_ptr(rr_error_message()) }
        .to_string_lossy()
        .into_owned()
}

fn get_with(host: &Host, reference: &str, keychain: bool) -> rr_status {
    unsafe {
        let mut c = ptr::null_mut();
        assert_eq!(rr_client_new(&mut c), rr_status::RR_OK);
        rr_client_set_keychain(c, keychain);
        assert_eq!(
            rr_client_set_auth_callback(c, Some(auth), host as *const Host as *mut c_void),
            rr_status::RR_OK
        );
        let r = CString::new(reference).unwrap();
        let mut d = ptr::null_mut();
        let rc = rr_get(c, r.as_ptr(), &mut d);
        let msg = message();
        rr_descriptor_free(d);
        rr_client_free(c);
        if rc != rr_status::RR_OK {
            eprintln!("{msg}");
        }
        rc
    }
}

fn host(answer: Answer, registry_token: String) -> Host {
    Host {
        answer,
        registry_token,
        asked: Mutex::new(Vec::new()),
    }
}

#[test]
fn basic_identity_and_registry_token_answers_all_work_and_name_the_registry() {
    let (reg, seeded) = shared_seeded(Mode::Token);
    let token = reg.issue_token(TOKEN_PULLER, &["repository:demo/app:pull"]);
    for answer in [Answer::Basic, Answer::IdentityToken, Answer::RegistryToken] {
        let h = host(answer, token.clone());
        assert_eq!(
            get_with(&h, &seeded.app.reference, false),
            rr_status::RR_OK,
            "{}",
            message()
        );
        let asked = h.asked.lock().unwrap().clone();
        assert_eq!(
            asked,
            vec![reg.host()],
            "asked once, with the registry's host:port"
        );
    }
}

#[test]
fn a_wrong_answer_is_asked_for_once_more_then_unauthorized() {
    let (_reg, seeded) = shared_seeded(Mode::Token);
    let h = host(Answer::WrongPassword, String::new());
    assert_eq!(
        get_with(&h, &seeded.app.reference, false),
        rr_status::RR_ERR_UNAUTHORIZED
    );
    assert_eq!(
        h.asked.lock().unwrap().len(),
        2,
        "exactly one more ask after the rejection"
    );
}

#[test]
fn a_failing_callback_is_rr_err_callback() {
    let (_reg, seeded) = shared_seeded(Mode::Token);
    let h = host(Answer::Fail, String::new());
    assert_eq!(
        get_with(&h, &seeded.app.reference, false),
        rr_status::RR_ERR_CALLBACK
    );
    assert!(message().contains("auth callback"), "{}", message());
}

#[test]
fn an_empty_answer_falls_through_to_the_keychain() {
    let (reg, seeded) = shared_seeded(Mode::Token);
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{TOKEN_PULLER}:{TOKEN_PULLER_PASSWORD}"));
    std::fs::write(
        dir.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    // This test binary changes the environment of its own process only; no other test in
    // it reads the keychain.
    std::env::set_var("DOCKER_CONFIG", dir.path());
    std::env::set_var("REGISTRY_AUTH_FILE", dir.path().join("none.json"));
    let h = host(Answer::Nothing, String::new());
    assert_eq!(
        get_with(&h, &seeded.app.reference, true),
        rr_status::RR_OK,
        "{}",
        message()
    );
    assert_eq!(h.asked.lock().unwrap().len(), 1);
    // Without the keychain, nothing is left: anonymous, refused.
    let h = host(Answer::Nothing, String::new());
    assert_eq!(
        get_with(&h, &seeded.app.reference, false),
        rr_status::RR_ERR_UNAUTHORIZED
    );
}

#[test]
fn pushing_with_credentials_from_the_callback() {
    let (reg, seeded) = shared_seeded(Mode::Token);
    let h = host(Answer::Basic, String::new());
    unsafe {
        let mut c = ptr::null_mut();
        rr_client_new(&mut c);
        rr_client_set_keychain(c, false);
        rr_client_set_auth_callback(c, Some(auth), &h as *const Host as *mut c_void);
        let src = CString::new(seeded.app.reference.as_str()).unwrap();
        let dst = CString::new(format!("{}/callback/pushed:v1", reg.host())).unwrap();
        assert_eq!(
            rr_copy(c, src.as_ptr(), dst.as_ptr()),
            rr_status::RR_OK,
            "{}",
            message()
        );
        assert_eq!(
            rr_check_push_permission(c, dst.as_ptr()),
            rr_status::RR_OK,
            "{}",
            message()
        );
        rr_client_free(c);
    }
}
