//! `rr_artifact_builder`: OCI 1.1 artifacts (files of any media type, an `artifactType`,
//! an optional `subject`), built as images so that every push and layout path takes them.

use super::client::rr_client;
use super::image::rr_image;
use super::{check_out, free_handle, guard, handle, into_handle, rr_status, str_arg};
use crate::builder::ArtifactBuilder;
use crate::error::Error;
use crate::remote;
use std::ffi::c_char;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Builds one OCI artifact. Single-threaded, like `rr_image_builder`: calls made from
/// several threads at once are serialised. The images it builds do not depend on it.
pub struct rr_artifact_builder {
    inner: Mutex<ArtifactBuilder>,
}

/// A builder left inconsistent by a caught panic is still usable: every change to it is
/// a single push, insert or assignment.
fn lock(b: &rr_artifact_builder) -> MutexGuard<'_, ArtifactBuilder> {
    b.inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Creates an artifact builder for `artifact_type` (the manifest's `artifactType`, e.g.
/// `"application/vnd.example.sbom+json"`): no files, the empty config
/// (`application/vnd.oci.empty.v1+json`, `{}`), no annotations, no subject. The string is
/// copied.
///
/// On RR_OK `*out` receives a builder owned by the caller, to be released with
/// `rr_artifact_builder_free`. RR_ERR_INVALID_ARGUMENT when an argument is NULL or not
/// UTF-8, or when `artifact_type` is not a media type of the form `type/subtype`
/// (RFC 6838; a `+suffix` is allowed, parameters are not). An addition to the API
/// contract.
///
/// # Safety
/// `artifact_type` must be NULL or a NUL-terminated string; `out` NULL or valid for a
/// write.
#[no_mangle]
pub unsafe extern "C" fn rr_artifact_builder_new(
    artifact_type: *const c_char,
    out: *mut *mut rr_artifact_builder,
) -> rr_status {
    guard("rr_artifact_builder_new", || {
        let artifact_type = str_arg(artifact_type, "artifact_type")?;
        check_out(out, "out")?;
        let builder = ArtifactBuilder::new(artifact_type)?;
        *out = into_handle(rr_artifact_builder {
            inner: Mutex::new(builder),
        });
        Ok(())
    })
}

/// Releases an artifact builder. NULL is ignored. Images built with it stay valid. Must
/// not be called twice with the same value, nor while another call uses the builder.
/// An addition to the API contract.
///
/// # Safety
/// `b` must be NULL or a builder from `rr_artifact_builder_new`.
#[no_mangle]
pub unsafe extern "C" fn rr_artifact_builder_free(b: *mut rr_artifact_builder) {
    free_handle(b)
}

/// Sets a config blob of the artifact's own: `len` bytes at `bytes` (stored as they are,
/// JSON or not) of type `media_type`, in place of the empty config. Both are copied; a
/// second call replaces the first. RR_ERR_INVALID_ARGUMENT when `b` or `media_type` is
/// NULL, `bytes` is NULL with `len` > 0, or `media_type` is not a media type (see
/// `rr_artifact_builder_new`). An addition to the API contract.
///
/// # Safety
/// `b` must be NULL or a live builder; `media_type` NULL or a NUL-terminated string;
/// `bytes` NULL or valid for reading `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rr_artifact_builder_set_config(
    b: *mut rr_artifact_builder,
    media_type: *const c_char,
    bytes: *const u8,
    len: usize,
) -> rr_status {
    guard("rr_artifact_builder_set_config", || {
        let b = handle(b, "b")?;
        let media_type = str_arg(media_type, "media_type")?;
        let bytes: &[u8] = if bytes.is_null() {
            if len > 0 {
                return Err(Error::invalid_argument(format!(
                    "bytes is NULL but len is {len}"
                )));
            }
            &[]
        } else {
            std::slice::from_raw_parts(bytes, len)
        };
        lock(b).set_config(media_type, bytes)
    })
}

/// Adds the file at `path` as the next blob (layer) of the artifact, of type
/// `media_type`, stored exactly as it is, with an `org.opencontainers.image.title`
/// annotation holding the file's base name. The file is read once, now, for its digest
/// and size (streamed, not held in memory); the built image reads it again when it is
/// pushed or saved and must find the same bytes (RR_ERR_DIGEST_MISMATCH otherwise). Both
/// strings are copied.
///
/// RR_ERR_IO when the file is missing or cannot be read. RR_ERR_INVALID_ARGUMENT when an
/// argument is NULL or not UTF-8, `media_type` is not a media type, or `path` names no
/// file. A failed call leaves the builder as it was. An addition to the API contract.
///
/// # Safety
/// `b` must be NULL or a live builder; `path` and `media_type` NULL or NUL-terminated
/// strings.
#[no_mangle]
pub unsafe extern "C" fn rr_artifact_builder_add_file(
    b: *mut rr_artifact_builder,
    path: *const c_char,
    media_type: *const c_char,
) -> rr_status {
    guard("rr_artifact_builder_add_file", || {
        let b = handle(b, "b")?;
        let path = str_arg(path, "path")?;
        let media_type = str_arg(media_type, "media_type")?;
        lock(b).add_file(Path::new(path), media_type)
    })
}

/// Sets the manifest annotation `key` to `value`, replacing an earlier value of the same
/// key. Both are copied. RR_ERR_INVALID_ARGUMENT when an argument is NULL or not UTF-8,
/// or `key` is empty. An addition to the API contract.
///
/// # Safety
/// `b` must be NULL or a live builder; `key` and `value` NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn rr_artifact_builder_add_annotation(
    b: *mut rr_artifact_builder,
    key: *const c_char,
    value: *const c_char,
) -> rr_status {
    guard("rr_artifact_builder_add_annotation", || {
        let b = handle(b, "b")?;
        let key = str_arg(key, "key")?;
        let value = str_arg(value, "value")?;
        lock(b).add_annotation(key, value)
    })
}

/// Sets the artifact's `subject`, the manifest it refers to, from its media type, digest
/// (`sha256:<64 hex>`) and size, as `rr_head` reports them. Nothing is checked against a
/// registry (see `rr_artifact_builder_set_subject_ref` for that). Replaces an earlier
/// subject. The strings are copied. RR_ERR_INVALID_ARGUMENT when an argument is NULL or
/// not UTF-8, `media_type` is not a media type, or `digest` is not a valid digest. An
/// addition to the API contract.
///
/// # Safety
/// `b` must be NULL or a live builder; `media_type` and `digest` NULL or NUL-terminated
/// strings.
#[no_mangle]
pub unsafe extern "C" fn rr_artifact_builder_set_subject(
    b: *mut rr_artifact_builder,
    media_type: *const c_char,
    digest: *const c_char,
    size: u64,
) -> rr_status {
    guard("rr_artifact_builder_set_subject", || {
        let b = handle(b, "b")?;
        let media_type = str_arg(media_type, "media_type")?;
        let digest = str_arg(digest, "digest")?;
        lock(b).set_subject(media_type, digest, size)
    })
}

/// Sets the artifact's `subject` to the manifest at `reference` (a tag or a digest),
/// found with one HEAD through `client` (its mirrors, credentials and settings apply);
/// its media type, digest and size become the subject. Nothing is uploaded. Replaces an
/// earlier subject; a failed call leaves the builder as it was. `client` is not kept.
///
/// RR_ERR_NOT_FOUND when no such manifest exists; RR_ERR_INVALID_REFERENCE when
/// `reference` does not parse; RR_ERR_INVALID_ARGUMENT when an argument is NULL or not
/// UTF-8; otherwise the statuses of `rr_head`. An addition to the API contract.
///
/// # Safety
/// `b` must be NULL or a live builder; `client` NULL or a live client; `reference` NULL
/// or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_artifact_builder_set_subject_ref(
    b: *mut rr_artifact_builder,
    client: *mut rr_client,
    reference: *const c_char,
) -> rr_status {
    guard("rr_artifact_builder_set_subject_ref", || {
        let b = handle(b, "b")?;
        let client = &handle(client, "client")?.client;
        let reference = str_arg(reference, "reference")?;
        let head = remote::head(client, reference)?;
        // A Content-Type may carry parameters; the descriptor's media type takes none.
        let media_type = head.media_type.split(';').next().unwrap_or("").trim();
        lock(b)
            .set_subject(media_type, &head.digest, head.size)
            .map_err(|e| {
                Error::invalid_response(format!("{reference}: HEAD answered {}", e.message))
            })
    })
}

/// Builds the artifact: an OCI image manifest
/// (`application/vnd.oci.image.manifest.v1+json`) with the `artifactType`, the config
/// (the empty one unless set), the files in the order added as its layers (or, with no
/// file, the single empty descriptor the image-spec recommends), the subject and the
/// annotations.
///
/// On RR_OK `*out` receives an image owned by the caller (`rr_image_free`), pushed with
/// `rr_write` or written to a layout like any image; it stays valid after
/// `rr_artifact_builder_free(b)`. The builder stays usable and may build again.
/// RR_ERR_INVALID_ARGUMENT when `b` or `out` is NULL. An addition to the API contract.
///
/// # Safety
/// `b` must be NULL or a live builder; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rr_artifact_builder_build(
    b: *mut rr_artifact_builder,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_artifact_builder_build", || {
        let b = handle(b, "b")?;
        check_out(out, "out")?;
        let image = lock(b).build()?;
        *out = rr_image::wrap(image);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::rr_error_message;
    use crate::ffi::image::{
        rr_image_artifact_type, rr_image_free, rr_image_layer_annotation, rr_image_layer_count,
        rr_image_subject_digest,
    };
    use std::ffi::{CStr, CString};
    use std::ptr::{null, null_mut};

    const INVALID: rr_status = rr_status::RR_ERR_INVALID_ARGUMENT;

    fn last_message() -> String {
        unsafe { CStr::from_ptr(rr_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    fn cstr(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    fn text(p: *const c_char) -> Option<String> {
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string())
    }

    #[test]
    fn null_bad_utf8_and_bad_types_are_invalid_arguments() {
        let at = cstr("application/vnd.example.sbom+json");
        let bad = [0x66u8, 0xff, 0x00];
        unsafe {
            let mut b = null_mut();
            assert_eq!(rr_artifact_builder_new(null(), &mut b), INVALID);
            assert!(last_message().contains("artifact_type is NULL"));
            assert_eq!(rr_artifact_builder_new(at.as_ptr(), null_mut()), INVALID);
            assert_eq!(
                rr_artifact_builder_new(bad.as_ptr().cast(), &mut b),
                INVALID
            );
            for t in [
                "sbom",
                "a/b/c",
                "/x",
                "a/",
                "a/b; charset=utf-8",
                "-a/b",
                "",
            ] {
                let t = cstr(t);
                assert_eq!(rr_artifact_builder_new(t.as_ptr(), &mut b), INVALID);
                assert!(
                    last_message().contains("artifact type"),
                    "{}",
                    last_message()
                );
            }
            assert!(b.is_null());

            let m = cstr("text/plain");
            assert_eq!(
                rr_artifact_builder_add_file(null_mut(), m.as_ptr(), m.as_ptr()),
                INVALID
            );
            assert!(last_message().contains("b is NULL"));
            assert_eq!(
                rr_artifact_builder_set_config(null_mut(), m.as_ptr(), null(), 0),
                INVALID
            );
            assert_eq!(
                rr_artifact_builder_add_annotation(null_mut(), m.as_ptr(), m.as_ptr()),
                INVALID
            );
            assert_eq!(
                rr_artifact_builder_set_subject(null_mut(), m.as_ptr(), m.as_ptr(), 1),
                INVALID
            );
            assert_eq!(
                rr_artifact_builder_set_subject_ref(null_mut(), null_mut(), m.as_ptr()),
                INVALID
            );
            let mut img = null_mut();
            assert_eq!(rr_artifact_builder_build(null_mut(), &mut img), INVALID);
            assert!(img.is_null());

            assert_eq!(
                rr_artifact_builder_new(at.as_ptr(), &mut b),
                rr_status::RR_OK
            );
            assert_eq!(rr_artifact_builder_add_file(b, null(), m.as_ptr()), INVALID);
            assert!(last_message().contains("path is NULL"));
            assert_eq!(rr_artifact_builder_add_file(b, m.as_ptr(), null()), INVALID);
            assert!(last_message().contains("media_type is NULL"));
            let nope = cstr("not a type");
            assert_eq!(
                rr_artifact_builder_add_file(b, m.as_ptr(), nope.as_ptr()),
                INVALID
            );
            assert!(
                last_message().contains("\"not a type\""),
                "{}",
                last_message()
            );
            assert_eq!(
                rr_artifact_builder_add_file(b, bad.as_ptr().cast(), m.as_ptr()),
                INVALID
            );
            assert_eq!(
                rr_artifact_builder_set_config(b, nope.as_ptr(), b"{}".as_ptr(), 2),
                INVALID
            );
            assert_eq!(
                rr_artifact_builder_set_config(b, m.as_ptr(), null(), 3),
                INVALID
            );
            assert_eq!(
                rr_artifact_builder_set_config(b, null(), b"{}".as_ptr(), 2),
                INVALID
            );
            let empty = cstr("");
            assert_eq!(
                rr_artifact_builder_add_annotation(b, empty.as_ptr(), m.as_ptr()),
                INVALID
            );
            assert!(last_message().contains("annotation key"));
            assert_eq!(
                rr_artifact_builder_add_annotation(b, m.as_ptr(), null()),
                INVALID
            );
            assert_eq!(
                rr_artifact_builder_set_subject(b, nope.as_ptr(), m.as_ptr(), 1),
                INVALID
            );
            assert_eq!(
                rr_artifact_builder_set_subject(b, m.as_ptr(), m.as_ptr(), 1),
                INVALID
            );
            assert_eq!(
                rr_artifact_builder_set_subject_ref(b, null_mut(), m.as_ptr()),
                INVALID
            );
            assert!(last_message().contains("client is NULL"));
            assert_eq!(rr_artifact_builder_build(b, null_mut()), INVALID);

            // The failed calls changed nothing: the artifact is the bare one.
            assert_eq!(rr_artifact_builder_build(b, &mut img), rr_status::RR_OK);
            rr_artifact_builder_free(b);
            assert_eq!(
                text(rr_image_artifact_type(img)).as_deref(),
                at.to_str().ok()
            );
            assert_eq!(rr_image_layer_count(img), 1, "the empty descriptor");
            assert_eq!(rr_image_subject_digest(img), null());
            rr_image_free(img);
            rr_artifact_builder_free(null_mut());
        }
    }

    #[test]
    fn a_missing_file_is_an_io_error_and_titles_are_base_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, b"hello").unwrap();
        let at = cstr("application/vnd.example.notes");
        let mt = cstr("text/plain");
        let digest = cstr(&crate::digest::of_bytes(b"x"));
        unsafe {
            let mut b = null_mut();
            assert_eq!(
                rr_artifact_builder_new(at.as_ptr(), &mut b),
                rr_status::RR_OK
            );
            let missing = cstr(dir.path().join("missing.txt").to_str().unwrap());
            assert_eq!(
                rr_artifact_builder_add_file(b, missing.as_ptr(), mt.as_ptr()),
                rr_status::RR_ERR_IO
            );
            assert!(last_message().contains("missing.txt"), "{}", last_message());
            let path = cstr(file.to_str().unwrap());
            assert_eq!(
                rr_artifact_builder_add_file(b, path.as_ptr(), mt.as_ptr()),
                rr_status::RR_OK
            );
            let om = cstr(crate::manifest::OCI_MANIFEST);
            assert_eq!(
                rr_artifact_builder_set_subject(b, om.as_ptr(), digest.as_ptr(), 7),
                rr_status::RR_OK
            );
            let mut img = null_mut();
            assert_eq!(rr_artifact_builder_build(b, &mut img), rr_status::RR_OK);
            rr_artifact_builder_free(b);
            assert_eq!(rr_image_layer_count(img), 1);
            let title = cstr(crate::builder::TITLE_ANNOTATION);
            assert_eq!(
                text(rr_image_layer_annotation(img, 0, title.as_ptr())).as_deref(),
                Some("notes.txt")
            );
            assert_eq!(
                text(rr_image_subject_digest(img)).as_deref(),
                digest.to_str().ok()
            );
            rr_image_free(img);
        }
    }
}
