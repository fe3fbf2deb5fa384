//! `rr_reference_normalize`.

use super::{guard, rr_status, str_arg};
use crate::error::Error;
use std::ffi::c_char;

/// Normalises `reference`: `"ubuntu"` becomes `"index.docker.io/library/ubuntu:latest"`.
///
/// Writes the NUL-terminated result into `buf` (of `cap` bytes). When `needed` is not NULL
/// it always receives the size the result needs, NUL included, even when `cap` is too
/// small; then the call returns RR_ERR_INVALID_ARGUMENT and `buf` is not written. `buf`
/// may be NULL when `cap` is 0 (to ask for the size). RR_ERR_INVALID_REFERENCE when the
/// reference does not parse.
///
/// # Safety
/// `reference` must be NULL or a NUL-terminated string; `buf` must be NULL or valid for
/// `cap` bytes; `needed` must be NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rr_reference_normalize(
    reference: *const c_char,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> rr_status {
    guard("rr_reference_normalize", || {
        let reference = str_arg(reference, "reference")?;
        let normalized = crate::name::normalize(reference)?;
        let size = normalized.len() + 1;
        if !needed.is_null() {
            *needed = size;
        }
        if buf.is_null() || cap < size {
            return Err(Error::invalid_argument(format!(
                "the buffer holds {cap} bytes; the normalised reference needs {size}"
            )));
        }
        std::ptr::copy_nonoverlapping(normalized.as_ptr(), buf.cast::<u8>(), normalized.len());
        *buf.add(normalized.len()) = 0;
        Ok(())
    })
}
