//! `rr_platform_spec`: a platform given field by field, for the requests a platform
//! string cannot express (os.features). The functions that take it live with their
//! handles (`rr_client_set_platform_spec`, `rr_index_image_for_platform_spec`).

use super::{opt_str_arg, str_arg};
use crate::error::{Error, Result};
use crate::platform::Platform;
use std::ffi::c_char;

/// A platform to ask for, field by field: what `"os/arch[/variant][:os.version]"` says,
/// plus the os.features a chosen index child must list (all of them; it may list more).
/// The library reads it during the call only and keeps nothing of the caller's memory.
///
/// Zero-initialise it (`rr_platform_spec p = {0};`) and set what you need:
/// - `os`, `architecture`: required (`"windows"`, `"amd64"`); aliases are normalised as
///   in platform strings (`x86_64` → `amd64`, `aarch64` → `arm64`).
/// - `variant`, `os_version`: NULL or `""` for none (`"v8"`, `"10.0.17763.1234"`).
/// - `os_features`: an array of `os_feature_count` strings (`"win32k"`); NULL when the
///   count is 0.
#[repr(C)]
pub struct rr_platform_spec {
    pub os: *const c_char,
    pub architecture: *const c_char,
    pub variant: *const c_char,
    pub os_version: *const c_char,
    pub os_features: *const *const c_char,
    pub os_feature_count: usize,
}

/// Reads a `rr_platform_spec` into a `Platform`: a NULL pointer or invalid UTF-8 is
/// RR_ERR_INVALID_ARGUMENT; a value that is no platform's (an empty os, a space, a `/`)
/// is RR_ERR_INVALID_REFERENCE, as a platform string that does not parse.
///
/// # Safety
/// `spec` must be NULL or point to a readable `rr_platform_spec` whose pointers are NULL
/// or valid as documented there.
pub(crate) unsafe fn platform_from_spec(spec: *const rr_platform_spec) -> Result<Platform> {
    let spec = spec
        .as_ref()
        .ok_or_else(|| Error::invalid_argument("platform is NULL"))?;
    let os = str_arg(spec.os, "platform.os")?;
    let architecture = str_arg(spec.architecture, "platform.architecture")?;
    let variant = opt_str_arg(spec.variant, "platform.variant")?;
    let os_version = opt_str_arg(spec.os_version, "platform.os_version")?;
    let mut features = Vec::with_capacity(spec.os_feature_count.min(64));
    if spec.os_feature_count > 0 {
        if spec.os_features.is_null() {
            return Err(Error::invalid_argument(format!(
                "platform.os_features is NULL with os_feature_count {}",
                spec.os_feature_count
            )));
        }
        for j in 0..spec.os_feature_count {
            let f = *spec.os_features.add(j);
            features.push(str_arg(f, &format!("platform.os_features[{j}]"))?);
        }
    }
    Platform::from_parts(os, architecture, variant, os_version, &features)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::ffi::CString;
    use std::ptr::null;

    fn spec(os: &CString, arch: &CString) -> rr_platform_spec {
        rr_platform_spec {
            os: os.as_ptr(),
            architecture: arch.as_ptr(),
            variant: null(),
            os_version: null(),
            os_features: null(),
            os_feature_count: 0,
        }
    }

    #[test]
    fn a_spec_reads_every_field_and_checks_its_pointers() {
        let (os, arch) = (
            CString::new("windows").unwrap(),
            CString::new("amd64").unwrap(),
        );
        let version = CString::new("10.0.17763.1234").unwrap();
        let feature = CString::new("win32k").unwrap();
        let features = [feature.as_ptr()];
        let mut s = spec(&os, &arch);
        s.os_version = version.as_ptr();
        s.os_features = features.as_ptr();
        s.os_feature_count = 1;
        let p = unsafe { platform_from_spec(&s) }.unwrap();
        assert_eq!(p.to_string(), "windows/amd64:10.0.17763.1234");
        assert_eq!(p.os_features, vec!["win32k".to_string()]);

        let kind = |s: &rr_platform_spec| unsafe { platform_from_spec(s) }.unwrap_err().kind;
        assert_eq!(
            unsafe { platform_from_spec(std::ptr::null()) }
                .unwrap_err()
                .kind,
            ErrorKind::InvalidArgument
        );
        let mut no_os = spec(&os, &arch);
        no_os.os = null();
        assert_eq!(kind(&no_os), ErrorKind::InvalidArgument);
        let mut missing_array = spec(&os, &arch);
        missing_array.os_feature_count = 2;
        assert_eq!(kind(&missing_array), ErrorKind::InvalidArgument);
        let null_entry = [feature.as_ptr(), null()];
        let mut with_null = spec(&os, &arch);
        with_null.os_features = null_entry.as_ptr();
        with_null.os_feature_count = 2;
        assert_eq!(kind(&with_null), ErrorKind::InvalidArgument);
        let bad = b"\xff\xfe\0";
        let mut not_utf8 = spec(&os, &arch);
        not_utf8.variant = bad.as_ptr().cast();
        assert_eq!(kind(&not_utf8), ErrorKind::InvalidArgument);
        let empty = CString::new("").unwrap();
        let mut empty_os = spec(&empty, &arch);
        empty_os.os = empty.as_ptr();
        assert_eq!(kind(&empty_os), ErrorKind::InvalidReference);
    }
}
