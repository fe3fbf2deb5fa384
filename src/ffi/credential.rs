//! `rr_credential`: what the host's auth callback fills in.

use super::{guard, rr_status, str_arg};
use crate::authn::Credential;
use crate::error::Error;
use std::ffi::{c_char, c_void};

/// The answer an auth callback fills in. Valid only during the callback; owned by the
/// library. Left empty, it means "none from me": the keychain is consulted next.
#[derive(Default)]
pub struct rr_credential {
    value: Option<Credential>,
}

impl rr_credential {
    pub(crate) fn into_credential(self) -> Option<Credential> {
        self.value
    }
}

/// The host's credential callback: fill `cred` for `registry` (`host[:port]`, e.g.
/// `index.docker.io`) and return 0, or leave it empty and return 0 to pass; non-zero is a
/// failure (the operation returns RR_ERR_CALLBACK). `registry` is valid during the call.
pub type rr_auth_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        registry: *const c_char,
        cred: *mut rr_credential,
    ) -> i32,
>;

unsafe fn set(cred: *mut rr_credential, value: Credential) -> crate::error::Result<()> {
    let cred = cred
        .as_mut()
        .ok_or_else(|| Error::invalid_argument("cred is NULL"))?;
    cred.value = Some(value);
    Ok(())
}

/// Answers with a username and password (copied).
///
/// # Safety
/// `cred` must be NULL or the credential passed to the running callback; the strings
/// NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_credential_set_basic(
    cred: *mut rr_credential,
    username: *const c_char,
    password: *const c_char,
) -> rr_status {
    guard("rr_credential_set_basic", || {
        let username = str_arg(username, "username")?.to_string();
        let password = str_arg(password, "password")?.to_string();
        set(cred, Credential::Basic { username, password })
    })
}

/// Answers with an identity token (an OAuth2 refresh token), exchanged at the token
/// server by POST. The string is copied.
///
/// # Safety
/// As for `rr_credential_set_basic`.
#[no_mangle]
pub unsafe extern "C" fn rr_credential_set_identity_token(
    cred: *mut rr_credential,
    token: *const c_char,
) -> rr_status {
    guard("rr_credential_set_identity_token", || {
        let token = str_arg(token, "token")?.to_string();
        set(cred, Credential::IdentityToken(token))
    })
}

/// Answers with a registry token, sent to the registry as `Bearer <token>` as it is.
/// The string is copied.
///
/// # Safety
/// As for `rr_credential_set_basic`.
#[no_mangle]
pub unsafe extern "C" fn rr_credential_set_registry_token(
    cred: *mut rr_credential,
    token: *const c_char,
) -> rr_status {
    guard("rr_credential_set_registry_token", || {
        let token = str_arg(token, "token")?.to_string();
        set(cred, Credential::RegistryToken(token))
    })
}
