//! `rr_client`: options, credentials and callbacks shared by every operation.

use super::callbacks::{HostAuth, HostLog, HostProgress};
use super::credential::rr_auth_fn;
use super::platform::{platform_from_spec, rr_platform_spec};
use super::{check_out, free_handle, guard, handle, into_handle, opt_str_arg, rr_status, str_arg};
use crate::remote::Client;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// A registry client: options, credentials, and the connection and token caches every
/// operation shares. Safe to share between threads and calls.
pub struct rr_client {
    pub(crate) client: Client,
}

/// Creates a client with the defaults: keychain on, 4 jobs, platform `linux/amd64`,
/// 5 attempts from 200 ms, connect timeout 30 s, idle timeout 60 s.
///
/// On RR_OK `*out` receives a client owned by the caller, to be released with
/// `rr_client_free`. RR_ERR_INVALID_ARGUMENT when `out` is NULL.
///
/// # Safety
/// `out` must be NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rr_client_new(out: *mut *mut rr_client) -> rr_status {
    guard("rr_client_new", || {
        check_out(out, "out")?;
        *out = into_handle(rr_client {
            client: Client::new(),
        });
        Ok(())
    })
}

/// Releases a client. NULL is ignored. Images, indexes and descriptors made through the
/// client stay usable after it is freed. Must not be called twice with the same value,
/// nor while another thread is using the client.
///
/// # Safety
/// `client` must be NULL or a client from `rr_client_new`.
#[no_mangle]
pub unsafe extern "C" fn rr_client_free(client: *mut rr_client) {
    free_handle(client)
}

macro_rules! with_client {
    ($name:literal, $client:expr, |$c:ident| $body:expr) => {
        guard($name, || {
            let $c = &handle($client, "client")?.client;
            $body
        })
    };
}

/// Sets the platform an index resolves to: `"os/arch[/variant][:os.version]"`, e.g.
/// `"linux/arm64"` or `"windows/amd64:10.0.17763.1"`. RR_ERR_INVALID_REFERENCE when it
/// does not parse.
///
/// # Safety
/// `client` must be NULL or a live client; `platform` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_platform(
    client: *mut rr_client,
    platform: *const c_char,
) -> rr_status {
    with_client!("rr_client_set_platform", client, |c| c
        .set_platform(str_arg(platform, "platform")?))
}

/// Sets the platform an index resolves to, field by field (see `rr_platform_spec`): what
/// `rr_client_set_platform` takes, plus os.features that the chosen child must list (e.g.
/// `win32k` for Windows images that need it). Replaces the platform set before, string or
/// spec. RR_ERR_INVALID_ARGUMENT for a NULL `platform`, `os` or `architecture`, or invalid
/// UTF-8; RR_ERR_INVALID_REFERENCE for a field that is no platform's. `platform` is read
/// during the call only. An addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; `platform` NULL or a readable `rr_platform_spec`.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_platform_spec(
    client: *mut rr_client,
    platform: *const rr_platform_spec,
) -> rr_status {
    with_client!("rr_client_set_platform_spec", client, |c| {
        c.set_platform_value(platform_from_spec(platform)?);
        Ok(())
    })
}

/// Sets how many blobs are transferred in parallel (1 to 256; default 4).
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_jobs(client: *mut rr_client, jobs: u32) -> rr_status {
    with_client!("rr_client_set_jobs", client, |c| c.set_jobs(jobs))
}

/// Sets how many entries `rr_list` and `rr_catalog` ask for per page (`n`, 1 to 1000), or
/// 0 (the default) to send no `n` and take each registry's own page size. Whatever is set,
/// every page is followed to the end: `Link` headers, a full page without `Link` (asked on
/// with `last=`), and a registry that refuses the page size (asked again without `n`).
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_page_size(
    client: *mut rr_client,
    page_size: u32,
) -> rr_status {
    with_client!("rr_client_set_page_size", client, |c| c
        .set_page_size(Some(page_size).filter(|&n| n != 0)))
}

/// Puts `user_agent` in front of the library's own `rr/<version>` in the User-Agent
/// header of every request. The string is copied.
///
/// # Safety
/// `client` must be NULL or a live client; `user_agent` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_user_agent(
    client: *mut rr_client,
    user_agent: *const c_char,
) -> rr_status {
    with_client!("rr_client_set_user_agent", client, |c| c
        .set_user_agent(str_arg(user_agent, "user_agent")?))
}

/// Allows plain HTTP (after https fails) and unverified TLS for `registry`
/// (`host[:port]`). Loopback registries may fall back to plain HTTP without this.
///
/// # Safety
/// `client` must be NULL or a live client; `registry` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_insecure(
    client: *mut rr_client,
    registry: *const c_char,
) -> rr_status {
    with_client!("rr_client_set_insecure", client, |c| c
        .set_insecure(str_arg(registry, "registry")?))
}

/// Trusts the PEM certificates in `pem_path` as roots, besides the system's. The file is
/// read now (RR_ERR_IO when it cannot be read, RR_ERR_INVALID_ARGUMENT when it holds no
/// certificate) and again when connections are next set up.
///
/// # Safety
/// `client` must be NULL or a live client; `pem_path` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_add_ca_file(
    client: *mut rr_client,
    pem_path: *const c_char,
) -> rr_status {
    with_client!("rr_client_add_ca_file", client, |c| c
        .add_ca_file(str_arg(pem_path, "pem_path")?))
}

/// Trusts the PEM certificates in `pem_path` as roots for `registry` (`host[:port]`)
/// only, besides the system's and those of `rr_client_add_ca_file`; they also apply to
/// the requests made for that registry on another host (its token endpoint). The file
/// is read now (RR_ERR_IO when it cannot be read, RR_ERR_INVALID_ARGUMENT when it holds
/// no certificate) and again when the client first connects to the registry. Both
/// strings are copied. RR_ERR_INVALID_REFERENCE when `registry` does not parse. An
/// addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; the strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_client_add_registry_ca_file(
    client: *mut rr_client,
    registry: *const c_char,
    pem_path: *const c_char,
) -> rr_status {
    with_client!("rr_client_add_registry_ca_file", client, |c| c
        .add_registry_ca_file(
            str_arg(registry, "registry")?,
            str_arg(pem_path, "pem_path")?
        ))
}

/// Presents a client certificate (mutual TLS) to `registry` (`host[:port]`) and to its
/// token endpoint: `cert_path` is a PEM file with the certificate (then its chain, if
/// any), `key_path` a PEM file with its private key (PKCS#8, PKCS#1 or SEC1). Both are
/// read now: RR_ERR_IO when one cannot be read; RR_ERR_INVALID_ARGUMENT when one holds
/// no PEM certificate or key, or when the key is not the certificate's (the message
/// names both files). They are read again when the client first connects to the
/// registry. A pair set here wins over one in the registry's certs.d directory and
/// replaces an earlier one for the same registry. The strings are copied.
/// RR_ERR_INVALID_REFERENCE when `registry` does not parse. An addition to the API
/// contract.
///
/// # Safety
/// `client` must be NULL or a live client; the strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_client_cert(
    client: *mut rr_client,
    registry: *const c_char,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> rr_status {
    with_client!("rr_client_set_client_cert", client, |c| c.set_client_cert(
        str_arg(registry, "registry")?,
        str_arg(cert_path, "cert_path")?,
        str_arg(key_path, "key_path")?
    ))
}

/// Adds a certs.d root: a directory holding one directory per registry, named as the
/// registry is written in references (`host` or `host:port`), with `*.crt` CA
/// certificates and `NAME.cert` + `NAME.key` client pairs, as Docker's
/// `/etc/docker/certs.d` and containers' `/etc/containers/certs.d`. Roots added here are
/// searched in the order added, before the default ones; only the first root that has
/// a directory for a registry is used. The directory need not exist yet: it is read
/// when the client first connects to a registry over https. A key that does not match
/// its certificate, or a `.cert` without its `.key`, then fails that connection with
/// RR_ERR_TRANSPORT naming the files; an unreadable file with RR_ERR_IO. The string is
/// copied. RR_ERR_INVALID_ARGUMENT when `dir` is empty. An addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; `dir` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_add_certs_dir(
    client: *mut rr_client,
    dir: *const c_char,
) -> rr_status {
    with_client!("rr_client_add_certs_dir", client, |c| c
        .add_certs_dir(str_arg(dir, "dir")?))
}

/// Turns the default certs.d roots on or off (on by default): in this order,
/// `$XDG_CONFIG_HOME/containers/certs.d` (or `$HOME/.config/containers/certs.d`),
/// `/etc/containers/certs.d`, `/etc/docker/certs.d`. Roots added with
/// `rr_client_add_certs_dir` are searched either way. An addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_default_certs_dirs(
    client: *mut rr_client,
    enabled: bool,
) -> rr_status {
    with_client!("rr_client_set_default_certs_dirs", client, |c| {
        c.set_default_certs_dirs(enabled);
        Ok(())
    })
}

/// Sets the proxy for `registry` (`host[:port]`), replacing what HTTP_PROXY,
/// HTTPS_PROXY and NO_PROXY say for it, and applying even to loopback registries (which
/// the environment never proxies) and to the requests made for it on another host (its
/// token endpoint). `proxy` is `http://[user:password@]host[:port]` (https requests go
/// through it with CONNECT), `""` for no proxy at all, or NULL to remove the setting
/// so that the environment applies again. RR_ERR_INVALID_ARGUMENT when the URL does not
/// parse or is not http (the message never repeats the URL, which may hold a password);
/// RR_ERR_INVALID_REFERENCE when `registry` does not parse. The strings are copied. An
/// addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; the strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_proxy(
    client: *mut rr_client,
    registry: *const c_char,
    proxy: *const c_char,
) -> rr_status {
    with_client!("rr_client_set_proxy", client, |c| c.set_proxy(
        str_arg(registry, "registry")?,
        opt_str_arg(proxy, "proxy")?
    ))
}

/// Sets the retry policy: `max_attempts` counts the first try (1 = no retry, 0 is
/// RR_ERR_INVALID_ARGUMENT); waits start at `initial_backoff_ms` and double, with jitter.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_retry(
    client: *mut rr_client,
    max_attempts: u32,
    initial_backoff_ms: u32,
) -> rr_status {
    with_client!("rr_client_set_retry", client, |c| c
        .set_retry(max_attempts, initial_backoff_ms))
}

/// Sets the connect timeout and the idle timeout (no byte read or written for that long),
/// in milliseconds; 0 means no limit.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_timeout(
    client: *mut rr_client,
    connect_ms: u32,
    idle_ms: u32,
) -> rr_status {
    with_client!("rr_client_set_timeout", client, |c| c
        .set_timeout(connect_ms, idle_ms))
}

/// Sets the username and password for `registry` (`host[:port]`, `index.docker.io` for
/// Docker Hub). They come first among the credential sources. The strings are copied.
///
/// # Safety
/// `client` must be NULL or a live client; the strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_basic_auth(
    client: *mut rr_client,
    registry: *const c_char,
    username: *const c_char,
    password: *const c_char,
) -> rr_status {
    with_client!("rr_client_set_basic_auth", client, |c| c.set_basic_auth(
        str_arg(registry, "registry")?,
        str_arg(username, "username")?,
        str_arg(password, "password")?
    ))
}

/// Turns the default keychain (Docker config.json, containers auth.json, credential
/// helpers) on or off. On by default.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_keychain(
    client: *mut rr_client,
    enabled: bool,
) -> rr_status {
    with_client!("rr_client_set_keychain", client, |c| {
        c.set_keychain(enabled);
        Ok(())
    })
}

/// Sets the host's credential callback, asked (after basic auth set on the client, before
/// the keychain) when a registry's challenge needs credentials: at most once per registry
/// per operation, and once more only after the registry rejected its answer. NULL `fn`
/// removes it. It may be called from any thread that runs an operation, so it must be
/// thread-safe; `userdata` is passed back untouched and must stay valid while set.
///
/// # Safety
/// `client` must be NULL or a live client; `fn` must be NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_auth_callback(
    client: *mut rr_client,
    r#fn: rr_auth_fn,
    userdata: *mut c_void,
) -> rr_status {
    with_client!("rr_client_set_auth_callback", client, |c| {
        c.set_auth_callback(r#fn.map(|f| Arc::new(HostAuth::new(f, userdata)) as _));
        Ok(())
    })
}

/// Progress callback: bytes of blobs done and in total over a whole operation. Return 0
/// to go on, non-zero to cancel (the operation then returns RR_ERR_CANCELLED).
pub type rr_progress_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, complete: u64, total: u64) -> i32>;

/// Sets the progress callback, called one call at a time (possibly from a worker
/// thread) by `rr_image_layer_read`, `rr_image_layer_save` and the write operations.
/// `complete` never decreases and ends equal to `total`. NULL `fn` removes it.
///
/// # Safety
/// `client` must be NULL or a live client; `fn` must be NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_progress_callback(
    client: *mut rr_client,
    r#fn: rr_progress_fn,
    userdata: *mut c_void,
) -> rr_status {
    with_client!("rr_client_set_progress_callback", client, |c| {
        c.set_progress(r#fn.map(|f| Arc::new(HostProgress::new(f, userdata)) as _));
        Ok(())
    })
}

/// Log callback: one line of text (UTF-8, NUL-terminated, valid only during the call).
pub type rr_log_fn = Option<unsafe extern "C" fn(userdata: *mut c_void, line: *const c_char)>;

/// Sets a callback that receives one line per HTTP exchange the client makes, e.g.
/// `GET https://host/v2/app/manifests/v1 -> 200 (12 ms)`: the method, the URL with signed
/// query values masked, the status or the failure, and the time taken. Headers, bodies and
/// credentials never appear. Called from whichever thread made the request (it must be
/// thread-safe); `userdata` is passed back untouched and must stay valid while set. NULL
/// `fn` removes it. An addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; `fn` must be NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_log_callback(
    client: *mut rr_client,
    r#fn: rr_log_fn,
    userdata: *mut c_void,
) -> rr_status {
    with_client!("rr_client_set_log_callback", client, |c| {
        c.set_log(r#fn.map(|f| Arc::new(HostLog::new(f, userdata)) as _));
        Ok(())
    })
}
