//! `rr_blob_*`: one blob on its own, named by its digest (go-containerregistry's
//! `remote.Layer` and `remote.WriteLayer`): its size, its bytes into a callback or a file,
//! and the push of one blob from a file or from a reader callback.

use super::client::rr_client;
use super::image::rr_write_fn;
use super::{check_out, guard, handle, opt_str_arg, rr_status, str_arg};
use crate::error::{Error, Result};
use crate::remote::single_blob::{self, Written};
use std::ffi::{c_char, c_void};
use std::io::Read;
use std::path::Path;

/// The bytes a digest takes with its NUL (`sha256:` and 64 hex digits): `RR_DIGEST_SIZE`
/// in rr.h, which build.rs writes from this value's twin (the test below holds them equal).
pub const DIGEST_SIZE: usize = 72;

/// Gives the library the next bytes of a blob to push: fills `buf` with at most `cap`
/// bytes and returns how many (> 0), 0 at the end of the blob, or a negative value on
/// failure (the push then ends with RR_ERR_CALLBACK). Returning more than `cap` is a
/// failure too.
pub type rr_read_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, buf: *mut u8, cap: usize) -> i64>;

type ReadFn = unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> i64;

/// The host's read callback as a reader.
struct HostReader {
    read: ReadFn,
    userdata: *mut c_void,
    delivered: u64,
}

// The host promised (rr.h) that its read callback may be called from a library thread;
// the library calls it from one thread at a time and never after the push returns.
unsafe impl Send for HostReader {}

impl Read for HostReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let cap = buf.len().min(i64::MAX as usize);
        let rc = unsafe { (self.read)(self.userdata, buf.as_mut_ptr(), cap) };
        if rc < 0 {
            return Err(Error::callback(format!(
                "the read callback returned {rc} after {} bytes",
                self.delivered
            ))
            .into_io());
        }
        if rc as u64 > cap as u64 {
            return Err(Error::callback(format!(
                "the read callback returned {rc} for a buffer of {cap} bytes"
            ))
            .into_io());
        }
        self.delivered += rc as u64;
        Ok(rc as usize)
    }
}

/// Checks a digest buffer before any work: NULL (not wanted), or room for a digest.
pub(crate) fn check_digest_out(digest: *mut c_char, digest_cap: usize) -> Result<()> {
    if !digest.is_null() && digest_cap < DIGEST_SIZE {
        return Err(Error::invalid_argument(format!(
            "digest_cap is {digest_cap}: a digest needs RR_DIGEST_SIZE ({DIGEST_SIZE}) bytes"
        )));
    }
    Ok(())
}

/// Writes what a push made to the out-parameters the host gave (either may be NULL).
///
/// # Safety
/// `digest` NULL or valid for `DIGEST_SIZE` bytes (checked by `check_digest_out`); `size`
/// NULL or writable.
unsafe fn write_out(written: &Written, digest: *mut c_char, size: *mut u64) {
    write_digest_out(&written.digest, digest);
    if !size.is_null() {
        *size = written.size;
    }
}

/// Copies `value` (a digest) NUL-terminated into `digest` when it is not NULL.
///
/// # Safety
/// `digest` NULL or valid for `DIGEST_SIZE` bytes (checked by `check_digest_out`).
pub(crate) unsafe fn write_digest_out(value: &str, digest: *mut c_char) {
    if !digest.is_null() {
        let text = value.as_bytes();
        let len = text.len().min(DIGEST_SIZE - 1);
        std::ptr::copy_nonoverlapping(text.as_ptr(), digest.cast::<u8>(), len);
        *digest.add(len) = 0;
    }
}

/// The size in bytes of the blob `reference` names (`REGISTRY/REPOSITORY@sha256:...`),
/// from one HEAD (through the repository's mirrors, as reads go), into `*size`.
/// RR_ERR_NOT_FOUND when the registry has no such blob; RR_ERR_INVALID_REFERENCE when
/// `reference` names a tag rather than a digest. An addition to the API contract.
///
/// # Safety
/// `client` NULL or live; `reference` NULL or NUL-terminated; `size` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_blob_stat(
    client: *mut rr_client,
    reference: *const c_char,
    size: *mut u64,
) -> rr_status {
    guard("rr_blob_stat", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        check_out(size, "size")?;
        *size = single_blob::stat(client, reference)?;
        Ok(())
    })
}

/// Streams the bytes of the blob `reference` names (`REGISTRY/REPOSITORY@sha256:...`) to
/// `fn` as they arrive, never holding the whole blob in memory: a HEAD gives its size,
/// then a GET resumed with Range when the connection breaks, through the repository's
/// mirrors. The digest and size are checked at the end (RR_ERR_DIGEST_MISMATCH, naming
/// both digests: the host has then seen bad bytes and must discard them; a mirror that
/// served them is not asked for the blob again, so a second call reads it from the next
/// mirror or the registry). `fn` returns 0 to go on, non-zero to stop (RR_ERR_CALLBACK);
/// it is called on the calling thread, one call at a time. Reports progress over the
/// blob's size; a progress callback's non-zero return, `rr_client_cancel` and the
/// client's deadline stop the read. RR_ERR_INVALID_REFERENCE when `reference` names a tag;
/// RR_ERR_NOT_FOUND when the blob is not there. An addition to the API contract.
///
/// # Safety
/// `client` NULL or live; `reference` NULL or NUL-terminated; `fn` NULL or a valid
/// function.
#[no_mangle]
pub unsafe extern "C" fn rr_blob_read(
    client: *mut rr_client,
    reference: *const c_char,
    r#fn: rr_write_fn,
    userdata: *mut c_void,
) -> rr_status {
    guard("rr_blob_read", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        let f = r#fn.ok_or_else(|| Error::invalid_argument("fn is NULL"))?;
        single_blob::read(client, reference, &mut |chunk| {
            let rc = f(userdata, chunk.as_ptr(), chunk.len());
            if rc != 0 {
                return Err(Error::callback(format!(
                    "the write callback returned {rc} while reading {reference}"
                )));
            }
            Ok(())
        })
        .map(drop)
    })
}

/// Saves the blob `reference` names (`REGISTRY/REPOSITORY@sha256:...`) to `path`, read as
/// `rr_blob_read` reads it, atomically: the bytes go to a temporary file beside `path`,
/// which replaces `path` only once digest and size are verified. On any failure
/// (RR_ERR_DIGEST_MISMATCH naming both digests, a cancel, a broken connection that could
/// not be resumed) neither a partial nor a temporary file is left, and an existing `path`
/// is untouched. RR_ERR_IO for local file errors. An addition to the API contract.
///
/// # Safety
/// `client` NULL or live; `reference` and `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_blob_save(
    client: *mut rr_client,
    reference: *const c_char,
    path: *const c_char,
) -> rr_status {
    guard("rr_blob_save", || {
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        let path = str_arg(path, "path")?;
        single_blob::save(client, reference, Path::new(path)).map(drop)
    })
}

/// Pushes the file at `path` as one blob to `repository` (`REGISTRY/REPOSITORY`, no tag or
/// digest: RR_ERR_INVALID_REFERENCE otherwise). The file is hashed first, so that a blob
/// the repository already has is not sent again (one HEAD), and when `from_repository` is
/// not NULL (another repository of the same registry, else RR_ERR_INVALID_ARGUMENT) the
/// blob is mounted from there when it has it; otherwise it is uploaded the way the
/// client's upload strategy for that registry says, resumed where the session stands
/// after a break. RR_ERR_IO when the file cannot be read. Reports progress over the file's
/// size; a cancel (progress callback, `rr_client_cancel`, deadline) or a failure cancels
/// the upload session and commits nothing.
///
/// On RR_OK, `digest` (when not NULL; `digest_cap` must then be at least `RR_DIGEST_SIZE`,
/// else RR_ERR_INVALID_ARGUMENT before anything is done) receives the blob's digest,
/// NUL-terminated, and `*size` (when `size` is not NULL) its size. The caller owns both
/// buffers; nothing is kept. An addition to the API contract.
///
/// # Safety
/// `client` NULL or live; `repository`, `path` and `from_repository` NULL or
/// NUL-terminated; `digest` NULL or valid for `digest_cap` bytes; `size` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_blob_write_file(
    client: *mut rr_client,
    repository: *const c_char,
    path: *const c_char,
    from_repository: *const c_char,
    digest: *mut c_char,
    digest_cap: usize,
    size: *mut u64,
) -> rr_status {
    guard("rr_blob_write_file", || {
        let client = &handle(client, "client")?.client;
        let repository = str_arg(repository, "repository")?;
        let path = str_arg(path, "path")?;
        let from = opt_str_arg(from_repository, "from_repository")?;
        check_digest_out(digest, digest_cap)?;
        let written = single_blob::write_file(client, repository, Path::new(path), from)?;
        write_out(&written, digest, size);
        Ok(())
    })
}

/// Pushes what `fn` gives, to its end, as one blob to `repository` (`REGISTRY/REPOSITORY`,
/// no tag or digest), at constant memory whatever its size, which need not be known: the
/// bytes are hashed as they are sent (POST, PATCH, then PUT `?digest=` of what was read).
/// Under the default and the monolithic strategies they go in one PATCH, which cannot be
/// resumed after a break (the bytes are not kept); under the chunked strategy
/// (`rr_client_set_upload_strategy`) each chunk is read whole, kept until the next one and
/// sent again after a break.
///
/// `expected_digest`, when not NULL, is the digest the content has: the blob is HEADed
/// first and `fn` is not called at all when the repository has it; when
/// `from_repository` is not NULL too (another repository of the same registry), it is
/// mounted from there when that one has it; otherwise the content is checked at the end
/// and one that hashes to another digest gives RR_ERR_DIGEST_MISMATCH (naming both) with
/// nothing committed. `from_repository` without `expected_digest` is
/// RR_ERR_INVALID_ARGUMENT.
///
/// A negative return of `fn` ends the push with RR_ERR_CALLBACK. It, a cancel
/// (RR_ERR_CANCELLED) and every other failure cancel the upload session (DELETE), and
/// nothing is committed. `fn` may be called on a library thread, one call at a time, and is never
/// called after this function returns (a call in progress when the push is cancelled is
/// waited for). Progress counts the bytes as they are read, the total growing with them.
///
/// On RR_OK, `digest` (when not NULL; `digest_cap` at least `RR_DIGEST_SIZE`, else
/// RR_ERR_INVALID_ARGUMENT before anything is done) receives the blob's digest,
/// NUL-terminated, and `*size` (when not NULL) its size. The caller owns both buffers. An
/// addition to the API contract.
///
/// # Safety
/// `client` NULL or live; `repository`, `expected_digest` and `from_repository` NULL or
/// NUL-terminated; `fn` NULL or a valid function; `digest` NULL or valid for `digest_cap`
/// bytes; `size` NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn rr_blob_write_reader(
    client: *mut rr_client,
    repository: *const c_char,
    r#fn: rr_read_fn,
    userdata: *mut c_void,
    expected_digest: *const c_char,
    from_repository: *const c_char,
    digest: *mut c_char,
    digest_cap: usize,
    size: *mut u64,
) -> rr_status {
    guard("rr_blob_write_reader", || {
        let client = &handle(client, "client")?.client;
        let repository = str_arg(repository, "repository")?;
        let read = r#fn.ok_or_else(|| Error::invalid_argument("fn is NULL"))?;
        let expected = opt_str_arg(expected_digest, "expected_digest")?;
        let from = opt_str_arg(from_repository, "from_repository")?;
        check_digest_out(digest, digest_cap)?;
        let reader = HostReader {
            read,
            userdata,
            delivered: 0,
        };
        let written =
            single_blob::write_reader(client, repository, Box::new(reader), expected, from)?;
        write_out(&written, digest, size);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::rr_error_message;
    use std::ffi::{CStr, CString};

    fn message() -> String {
        unsafe { CStr::from_ptr(rr_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn the_header_names_the_digest_size() {
        let header = include_str!("../../include/rr.h");
        assert!(
            header.contains(&format!("#define RR_DIGEST_SIZE {DIGEST_SIZE}")),
            "rr.h and DIGEST_SIZE disagree"
        );
        assert_eq!(
            crate::digest::of_bytes(b"").len() + 1,
            DIGEST_SIZE,
            "a digest and its NUL"
        );
    }

    #[test]
    fn bad_arguments_are_refused_before_any_request() {
        let mut client: *mut rr_client = std::ptr::null_mut();
        unsafe {
            assert_eq!(
                super::super::client::rr_client_new(&mut client),
                rr_status::RR_OK
            );
        }
        let tag = CString::new("127.0.0.1:1/a:v1").unwrap();
        let repo = CString::new("127.0.0.1:1/a").unwrap();
        let bad_utf8 = b"127.0.0.1:1/\xff\0";
        let mut size = 0u64;
        let mut digest = [0 as c_char; DIGEST_SIZE];
        unsafe extern "C" fn none(_: *mut c_void, _: *mut u8, _: usize) -> i64 {
            0
        }
        unsafe {
            assert_eq!(
                rr_blob_stat(client, tag.as_ptr(), &mut size),
                rr_status::RR_ERR_INVALID_REFERENCE
            );
            assert!(message().contains("digest"), "{}", message());
            assert_eq!(
                rr_blob_stat(client, repo.as_ptr(), std::ptr::null_mut()),
                rr_status::RR_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                rr_blob_save(std::ptr::null_mut(), tag.as_ptr(), tag.as_ptr()),
                rr_status::RR_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                rr_blob_read(client, tag.as_ptr(), None, std::ptr::null_mut()),
                rr_status::RR_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                rr_blob_write_file(
                    client,
                    bad_utf8.as_ptr().cast(),
                    repo.as_ptr(),
                    std::ptr::null(),
                    std::ptr::null_mut(),
                    0,
                    std::ptr::null_mut()
                ),
                rr_status::RR_ERR_INVALID_ARGUMENT
            );
            assert!(message().contains("UTF-8"), "{}", message());
            assert_eq!(
                rr_blob_write_reader(
                    client,
                    tag.as_ptr(),
                    Some(none),
                    std::ptr::null_mut(),
                    std::ptr::null(),
                    std::ptr::null(),
                    digest.as_mut_ptr(),
                    digest.len(),
                    &mut size
                ),
                rr_status::RR_ERR_INVALID_REFERENCE
            );
            assert_eq!(
                rr_blob_write_reader(
                    client,
                    repo.as_ptr(),
                    Some(none),
                    std::ptr::null_mut(),
                    std::ptr::null(),
                    std::ptr::null(),
                    digest.as_mut_ptr(),
                    DIGEST_SIZE - 1,
                    &mut size
                ),
                rr_status::RR_ERR_INVALID_ARGUMENT
            );
            assert!(message().contains("RR_DIGEST_SIZE"), "{}", message());
            super::super::client::rr_client_free(client);
        }
    }
}
