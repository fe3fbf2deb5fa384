//! `rr_image_builder` and `rr_index_builder`: images from local layer files, and indexes
//! from images.

use super::image::rr_image;
use super::index::rr_index;
use super::{check_out, free_handle, guard, handle, into_handle, rr_status, str_arg};
use crate::builder::{ImageBuilder, IndexBuilder};
use crate::error::Error;
use std::ffi::c_char;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Builds one image from layer files and a base config. Single-threaded: use a builder
/// from one thread at a time (calls made from several threads at once are serialised).
/// The images it builds do not depend on it: it may be freed right after
/// `rr_image_builder_build`, and may also build again.
pub struct rr_image_builder {
    inner: Mutex<ImageBuilder>,
}

/// Builds an index from images. Single-threaded, like `rr_image_builder`. The indexes it
/// builds keep their images alive: the builder and the images added to it may be freed
/// right after `rr_index_builder_build`.
pub struct rr_index_builder {
    inner: Mutex<IndexBuilder>,
}

/// The builder behind a handle; a builder left inconsistent by a caught panic is still
/// usable (every change to it is a single push or assignment).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Creates an empty image builder: no layers, no base config (`{}`), no platform (the base
/// config's, else `linux/amd64`).
///
/// On RR_OK `*out` receives a builder owned by the caller, to be released with
/// `rr_image_builder_free`. RR_ERR_INVALID_ARGUMENT when `out` is NULL.
///
/// # Safety
/// `out` must be NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rr_image_builder_new(out: *mut *mut rr_image_builder) -> rr_status {
    guard("rr_image_builder_new", || {
        check_out(out, "out")?;
        *out = into_handle(rr_image_builder {
            inner: Mutex::new(ImageBuilder::new()),
        });
        Ok(())
    })
}

/// Releases an image builder. NULL is ignored. Images built with it stay valid. Must not
/// be called twice with the same value, nor while another call uses the builder.
///
/// # Safety
/// `b` must be NULL or a builder from `rr_image_builder_new`.
#[no_mangle]
pub unsafe extern "C" fn rr_image_builder_free(b: *mut rr_image_builder) {
    free_handle(b)
}

/// Sets the platform written into the config, `"os/arch[/variant][:os.version]"` (e.g.
/// `"linux/arm64/v8"`); it replaces the base config's `os`, `architecture`, `variant` and
/// `os.version`. Without it, the base config's own `os` and `architecture` are kept when it
/// has both, else the platform is `linux/amd64`. The string is copied.
/// RR_ERR_INVALID_REFERENCE when it does not parse.
///
/// # Safety
/// `b` must be NULL or a live builder; `platform` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_image_builder_set_platform(
    b: *mut rr_image_builder,
    platform: *const c_char,
) -> rr_status {
    guard("rr_image_builder_set_platform", || {
        let b = handle(b, "b")?;
        let platform = str_arg(platform, "platform")?;
        lock(&b.inner).set_platform(platform)
    })
}

/// Starts the image from `base`: its layers come first, left where `base` keeps them (a
/// push to the registry and repository they are in skips them, and a push to another
/// repository of that registry mounts them), its config becomes the base config (a later
/// `rr_image_builder_set_config` replaces it), and its history and diff_ids are kept before
/// those of the added layers. Reads `base`'s config (a request when it is remote). The
/// builder keeps what it needs: `base` may be freed afterwards. Replaces an earlier base.
/// RR_ERR_INVALID_ARGUMENT when `base`'s config is not a JSON object or lists a different
/// number of diff_ids than it has layers. An addition to the API contract.
///
/// # Safety
/// `b` must be NULL or a live builder; `base` NULL or a live image.
#[no_mangle]
pub unsafe extern "C" fn rr_image_builder_set_base(
    b: *mut rr_image_builder,
    base: *const rr_image,
) -> rr_status {
    guard("rr_image_builder_set_base", || {
        let b = handle(b, "b")?;
        let base = handle(base, "base")?;
        lock(&b.inner).set_base_image(&base.inner)
    })
}

/// Sets the base config: `len` bytes of JSON at `json`, which must be a JSON object (an
/// image config such as another image's `rr_image_config`). The bytes are copied. At build
/// time its `rootfs` and `history` are replaced (one history entry per layer), the platform
/// fields are set, and `created` is added when missing (from `SOURCE_DATE_EPOCH`, else
/// 1970-01-01T00:00:00Z, so builds are reproducible); everything else is kept. Setting a
/// config again replaces the previous one.
/// RR_ERR_INVALID_ARGUMENT when the bytes are not a JSON object, or `json` is NULL with
/// `len` > 0 (NULL with `len` 0 is empty input, which is not a JSON object either).
///
/// # Safety
/// `b` must be NULL or a live builder; `json` NULL or valid for reading `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rr_image_builder_set_config(
    b: *mut rr_image_builder,
    json: *const u8,
    len: usize,
) -> rr_status {
    guard("rr_image_builder_set_config", || {
        let b = handle(b, "b")?;
        let bytes: &[u8] = if json.is_null() {
            if len > 0 {
                return Err(Error::invalid_argument(format!(
                    "json is NULL but len is {len}"
                )));
            }
            &[]
        } else {
            std::slice::from_raw_parts(json, len)
        };
        lock(&b.inner).set_config(bytes)
    })
}

/// Adds the layer file at `path` as the next layer, stored exactly as it is (its digest is
/// the file's sha256). `media_type` is the layer's media type, or NULL to detect it from
/// the content: gzip -> `application/vnd.oci.image.layer.v1.tar+gzip`, zstd ->
/// `...tar+zstd`, otherwise `application/vnd.oci.image.layer.v1.tar`. Docker's
/// `application/vnd.docker.image.rootfs.diff.tar.gzip` is accepted too.
///
/// The file is read once, now, to check it and compute its digest and diff_id (large
/// files are streamed, not held in memory); the built image reads it again when its layer
/// is pushed, saved or read, and must find the same bytes (RR_ERR_DIGEST_MISMATCH
/// otherwise). Both strings are copied.
///
/// RR_ERR_IO when the file is missing or cannot be read. RR_ERR_INVALID_ARGUMENT when
/// the media type is not a tar, tar+gzip or tar+zstd layer type, when the content does
/// not match it (a plain file given as tar+gzip), or when it does not hold a tar stream.
/// A failed call leaves the builder as it was.
///
/// # Safety
/// `b` must be NULL or a live builder; `path` NULL or a NUL-terminated string;
/// `media_type` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_image_builder_add_layer_file(
    b: *mut rr_image_builder,
    path: *const c_char,
    media_type: *const c_char,
) -> rr_status {
    guard("rr_image_builder_add_layer_file", || {
        let b = handle(b, "b")?;
        let path = str_arg(path, "path")?;
        let media_type = if media_type.is_null() {
            None
        } else {
            Some(str_arg(media_type, "media_type")?)
        };
        lock(&b.inner).add_layer_file(Path::new(path), media_type)
    })
}

/// Builds the image: its config (see `rr_image_builder_set_config`) and an OCI image
/// manifest listing the layers in the order they were added (none is allowed).
///
/// On RR_OK `*out` receives an image owned by the caller (`rr_image_free`); it holds its
/// config and manifest and the paths of its layer files, and stays valid after
/// `rr_image_builder_free(b)`. The builder stays usable and may build again.
/// RR_ERR_INVALID_ARGUMENT when `b` or `out` is NULL.
///
/// # Safety
/// `b` must be NULL or a live builder; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rr_image_builder_build(
    b: *mut rr_image_builder,
    out: *mut *mut rr_image,
) -> rr_status {
    guard("rr_image_builder_build", || {
        let b = handle(b, "b")?;
        check_out(out, "out")?;
        let image = lock(&b.inner).build()?;
        *out = rr_image::wrap(image);
        Ok(())
    })
}

/// Creates an empty index builder.
///
/// On RR_OK `*out` receives a builder owned by the caller, to be released with
/// `rr_index_builder_free`. RR_ERR_INVALID_ARGUMENT when `out` is NULL.
///
/// # Safety
/// `out` must be NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rr_index_builder_new(out: *mut *mut rr_index_builder) -> rr_status {
    guard("rr_index_builder_new", || {
        check_out(out, "out")?;
        *out = into_handle(rr_index_builder {
            inner: Mutex::new(IndexBuilder::new()),
        });
        Ok(())
    })
}

/// Releases an index builder and its references to the images added to it. NULL is
/// ignored. Indexes built with it stay valid. Must not be called twice with the same
/// value, nor while another call uses the builder.
///
/// # Safety
/// `b` must be NULL or a builder from `rr_index_builder_new`.
#[no_mangle]
pub unsafe extern "C" fn rr_index_builder_free(b: *mut rr_index_builder) {
    free_handle(b)
}

/// Adds `img` as the next child of the index, under `platform`
/// (`"os/arch[/variant][:os.version]"`), or, when `platform` is NULL, under the platform
/// its config declares (`os`, `architecture`, `variant`, `os.version`; the config is
/// fetched now for an image from a registry). The builder keeps its own reference to the
/// image: `img` may be freed after this call. Adding the same image with the same platform
/// again changes nothing.
///
/// RR_ERR_INVALID_REFERENCE when `platform` does not parse; RR_ERR_INVALID_ARGUMENT when
/// `platform` is NULL and the config names no os and architecture (give a platform then);
/// fetching the config may fail as `rr_image_config` does.
///
/// # Safety
/// `b` must be NULL or a live builder; `img` NULL or a live image; `platform` NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_index_builder_add_image(
    b: *mut rr_index_builder,
    img: *const rr_image,
    platform: *const c_char,
) -> rr_status {
    guard("rr_index_builder_add_image", || {
        let b = handle(b, "b")?;
        let img = handle(img, "img")?;
        let platform = if platform.is_null() {
            None
        } else {
            Some(str_arg(platform, "platform")?)
        };
        lock(&b.inner).add_image(&img.inner, platform)
    })
}

/// Builds an OCI image index listing the images in the order they were added, each with
/// its platform. RR_ERR_INVALID_ARGUMENT when no image was added, or `b` or `out` is NULL.
///
/// On RR_OK `*out` receives an index owned by the caller (`rr_index_free`); it keeps its
/// images alive (`rr_index_child_image` works without a registry), and stays valid after
/// the builder and the images added to it are freed. The builder stays usable.
///
/// # Safety
/// `b` must be NULL or a live builder; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rr_index_builder_build(
    b: *mut rr_index_builder,
    out: *mut *mut rr_index,
) -> rr_status {
    guard("rr_index_builder_build", || {
        let b = handle(b, "b")?;
        check_out(out, "out")?;
        let index = lock(&b.inner).build()?;
        *out = rr_index::wrap(index);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::rr_error_message;
    use crate::ffi::image::{rr_image_free, rr_image_layer_count, rr_image_layer_media_type};
    use crate::ffi::index::{
        rr_index_child_count, rr_index_child_image, rr_index_child_platform, rr_index_free,
    };
    use std::ffi::{CStr, CString};
    use std::ptr::{null, null_mut};

    fn last_message() -> String {
        unsafe { CStr::from_ptr(rr_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    fn cstr(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    fn tar_file(dir: &Path, name: &str) -> CString {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "hello", &b"hello"[..])
            .unwrap();
        let path = dir.join(name);
        std::fs::write(&path, builder.into_inner().unwrap()).unwrap();
        cstr(path.to_str().unwrap())
    }

    fn new_image_builder() -> *mut rr_image_builder {
        let mut b = null_mut();
        assert_eq!(unsafe { rr_image_builder_new(&mut b) }, rr_status::RR_OK);
        assert!(!b.is_null());
        b
    }

    #[test]
    fn null_arguments_are_invalid_arguments() {
        use rr_status::RR_ERR_INVALID_ARGUMENT as INVALID;
        unsafe {
            assert_eq!(rr_image_builder_new(null_mut()), INVALID);
            assert_eq!(rr_index_builder_new(null_mut()), INVALID);
            let p = cstr("linux/amd64");
            assert_eq!(
                rr_image_builder_set_platform(null_mut(), p.as_ptr()),
                INVALID
            );
            assert!(last_message().contains("b is NULL"), "{}", last_message());
            assert_eq!(
                rr_image_builder_set_config(null_mut(), b"{}".as_ptr(), 2),
                INVALID
            );
            assert_eq!(
                rr_image_builder_add_layer_file(null_mut(), p.as_ptr(), null()),
                INVALID
            );
            let mut img = null_mut();
            assert_eq!(rr_image_builder_build(null_mut(), &mut img), INVALID);
            assert!(img.is_null());
            let mut idx = null_mut();
            assert_eq!(rr_index_builder_build(null_mut(), &mut idx), INVALID);
            assert!(idx.is_null());

            let b = new_image_builder();
            assert_eq!(rr_image_builder_set_platform(b, null()), INVALID);
            assert!(
                last_message().contains("platform is NULL"),
                "{}",
                last_message()
            );
            assert_eq!(rr_image_builder_add_layer_file(b, null(), null()), INVALID);
            assert!(
                last_message().contains("path is NULL"),
                "{}",
                last_message()
            );
            assert_eq!(rr_image_builder_set_config(b, null(), 3), INVALID);
            assert_eq!(rr_image_builder_set_config(b, null(), 0), INVALID);
            assert_eq!(rr_image_builder_build(b, null_mut()), INVALID);
            // Bad UTF-8 is refused too.
            let bad = [0x66u8, 0xff, 0x00];
            assert_eq!(
                rr_image_builder_set_platform(b, bad.as_ptr().cast()),
                INVALID
            );
            assert_eq!(
                rr_image_builder_add_layer_file(b, bad.as_ptr().cast(), null()),
                INVALID
            );
            rr_image_builder_free(b);

            let mut ib = null_mut();
            assert_eq!(rr_index_builder_new(&mut ib), rr_status::RR_OK);
            assert_eq!(rr_index_builder_add_image(ib, null(), null()), INVALID);
            assert!(last_message().contains("img is NULL"), "{}", last_message());
            assert_eq!(rr_index_builder_build(ib, null_mut()), INVALID);
            assert_eq!(rr_index_builder_build(ib, &mut idx), INVALID, "no images");
            assert!(idx.is_null());
            rr_index_builder_free(ib);

            rr_image_builder_free(null_mut());
            rr_index_builder_free(null_mut());
        }
    }

    #[test]
    fn bad_configs_platforms_and_layers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let b = new_image_builder();
        unsafe {
            for bad in [&b"[1]"[..], b"{", b"\"s\""] {
                assert_eq!(
                    rr_image_builder_set_config(b, bad.as_ptr(), bad.len()),
                    rr_status::RR_ERR_INVALID_ARGUMENT
                );
                assert!(last_message().contains("base config"), "{}", last_message());
            }
            let good = br#"{"config":{}}"#;
            assert_eq!(
                rr_image_builder_set_config(b, good.as_ptr(), good.len()),
                rr_status::RR_OK
            );
            assert_eq!(last_message(), "");

            let p = cstr("linux/arm64/v8/extra");
            assert_eq!(
                rr_image_builder_set_platform(b, p.as_ptr()),
                rr_status::RR_ERR_INVALID_REFERENCE
            );

            let missing = cstr(dir.path().join("missing.tar").to_str().unwrap());
            assert_eq!(
                rr_image_builder_add_layer_file(b, missing.as_ptr(), null()),
                rr_status::RR_ERR_IO
            );
            assert!(last_message().contains("missing.tar"), "{}", last_message());

            let layer = tar_file(dir.path(), "l.tar");
            let gzip = cstr(crate::manifest::OCI_LAYER_GZIP);
            assert_eq!(
                rr_image_builder_add_layer_file(b, layer.as_ptr(), gzip.as_ptr()),
                rr_status::RR_ERR_INVALID_ARGUMENT
            );
            let junk = dir.path().join("junk.bin");
            std::fs::write(&junk, vec![7u8; 2000]).unwrap();
            let junk = cstr(junk.to_str().unwrap());
            assert_eq!(
                rr_image_builder_add_layer_file(b, junk.as_ptr(), null()),
                rr_status::RR_ERR_INVALID_ARGUMENT
            );

            let mut img = null_mut();
            assert_eq!(rr_image_builder_build(b, &mut img), rr_status::RR_OK);
            assert_eq!(rr_image_layer_count(img), 0, "failed adds added nothing");
            rr_image_free(img);
            rr_image_builder_free(b);
        }
    }

    #[test]
    fn built_images_and_indexes_outlive_their_builders() {
        let dir = tempfile::tempdir().unwrap();
        let first = tar_file(dir.path(), "a.tar");
        let second = tar_file(dir.path(), "b.tar");
        unsafe {
            let b = new_image_builder();
            assert_eq!(
                rr_image_builder_add_layer_file(b, first.as_ptr(), null()),
                rr_status::RR_OK
            );
            let docker_tar = cstr("application/vnd.docker.image.rootfs.diff.tar");
            assert_eq!(
                rr_image_builder_add_layer_file(b, second.as_ptr(), docker_tar.as_ptr()),
                rr_status::RR_OK
            );
            let platform = cstr("linux/arm64");
            assert_eq!(
                rr_image_builder_set_platform(b, platform.as_ptr()),
                rr_status::RR_OK
            );
            let mut arm = null_mut();
            assert_eq!(rr_image_builder_build(b, &mut arm), rr_status::RR_OK);
            let platform = cstr("linux/amd64");
            assert_eq!(
                rr_image_builder_set_platform(b, platform.as_ptr()),
                rr_status::RR_OK
            );
            let mut amd = null_mut();
            assert_eq!(rr_image_builder_build(b, &mut amd), rr_status::RR_OK);
            rr_image_builder_free(b);

            assert_eq!(rr_image_layer_count(arm), 2);
            let mt = CStr::from_ptr(rr_image_layer_media_type(arm, 0));
            assert_eq!(mt.to_str().unwrap(), crate::manifest::OCI_LAYER_TAR);
            let mt = CStr::from_ptr(rr_image_layer_media_type(arm, 1));
            assert_eq!(mt.to_str().unwrap(), docker_tar.to_str().unwrap());
            assert!((*arm).inner.config().unwrap().starts_with(b"{"));

            let mut ib = null_mut();
            assert_eq!(rr_index_builder_new(&mut ib), rr_status::RR_OK);
            assert_eq!(
                rr_index_builder_add_image(ib, arm, null()),
                rr_status::RR_OK
            );
            let explicit = cstr("linux/amd64/v2");
            assert_eq!(
                rr_index_builder_add_image(ib, amd, explicit.as_ptr()),
                rr_status::RR_OK
            );
            let bad = cstr("nope");
            assert_eq!(
                rr_index_builder_add_image(ib, amd, bad.as_ptr()),
                rr_status::RR_ERR_INVALID_REFERENCE
            );
            let arm_digest = (*arm).inner.digest().to_string();
            rr_image_free(arm);
            rr_image_free(amd);
            let mut idx = null_mut();
            assert_eq!(rr_index_builder_build(ib, &mut idx), rr_status::RR_OK);
            rr_index_builder_free(ib);

            assert_eq!(rr_index_child_count(idx), 2);
            let p = CStr::from_ptr(rr_index_child_platform(idx, 0));
            assert_eq!(p.to_str().unwrap(), "linux/arm64");
            let p = CStr::from_ptr(rr_index_child_platform(idx, 1));
            assert_eq!(p.to_str().unwrap(), "linux/amd64/v2");
            let mut child = null_mut();
            assert_eq!(rr_index_child_image(idx, 0, &mut child), rr_status::RR_OK);
            assert_eq!((*child).inner.digest(), arm_digest);
            assert_eq!(rr_image_layer_count(child), 2);
            rr_image_free(child);
            rr_index_free(idx);
        }
    }
}
