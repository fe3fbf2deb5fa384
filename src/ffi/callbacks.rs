//! Host callbacks seen from the core: each wraps a C function pointer and its userdata.
//! The C contract makes the host responsible for thread safety of its callbacks.

use super::credential::rr_credential;
use crate::authn::Credential;
use crate::error::{Error, Result};
use crate::remote::ProgressSink;
use crate::transport::AuthCallback;
use std::ffi::{c_void, CString};

pub(crate) struct HostAuth {
    f: unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char, *mut rr_credential) -> i32,
    userdata: *mut c_void,
}

// The host promised (rr.h) that its callbacks may be called from any thread.
unsafe impl Send for HostAuth {}
unsafe impl Sync for HostAuth {}

impl HostAuth {
    pub(crate) fn new(
        f: unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char, *mut rr_credential) -> i32,
        userdata: *mut c_void,
    ) -> HostAuth {
        HostAuth { f, userdata }
    }
}

impl AuthCallback for HostAuth {
    fn credential(&self, registry: &str) -> Result<Option<Credential>> {
        let registry_c = CString::new(registry)
            .map_err(|_| Error::invalid_argument("registry name holds a NUL"))?;
        let mut cred = rr_credential::default();
        let rc = unsafe { (self.f)(self.userdata, registry_c.as_ptr(), &mut cred) };
        if rc != 0 {
            return Err(Error::callback(format!(
                "the auth callback returned {rc} for registry {registry}"
            )));
        }
        Ok(cred.into_credential())
    }
}

pub(crate) struct HostProgress {
    f: unsafe extern "C" fn(*mut c_void, u64, u64) -> i32,
    userdata: *mut c_void,
}

unsafe impl Send for HostProgress {}
unsafe impl Sync for HostProgress {}

impl HostProgress {
    pub(crate) fn new(
        f: unsafe extern "C" fn(*mut c_void, u64, u64) -> i32,
        userdata: *mut c_void,
    ) -> Self {
        HostProgress { f, userdata }
    }
}

impl ProgressSink for HostProgress {
    fn report(&self, complete: u64, total: u64) -> bool {
        unsafe { (self.f)(self.userdata, complete, total) == 0 }
    }
}

pub(crate) struct HostLog {
    f: unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char),
    userdata: *mut c_void,
}

unsafe impl Send for HostLog {}
unsafe impl Sync for HostLog {}

impl HostLog {
    pub(crate) fn new(
        f: unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char),
        userdata: *mut c_void,
    ) -> Self {
        HostLog { f, userdata }
    }
}

impl crate::transport::LogSink for HostLog {
    fn line(&self, text: &str) {
        let line = super::c_string(text);
        unsafe { (self.f)(self.userdata, line.as_ptr()) }
    }
}
