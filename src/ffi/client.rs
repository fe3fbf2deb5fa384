//! `rr_client`: options, credentials and callbacks shared by every operation.

use super::callbacks::{HostAuth, HostLog, HostProgress};
use super::credential::rr_auth_fn;
use super::platform::{platform_from_spec, rr_platform_spec};
use super::progress::{rr_blob_progress_fn, HostBlobProgress};
use super::string_list::{rr_string_list, string_list};
use super::{
    check_out, free_handle, guard, guard_getter, handle, into_handle, opt_str_arg, rr_status,
    str_arg,
};
use crate::error::Error;
use crate::registries::PullFrom;
use crate::remote::client::{UploadStrategy, DEFAULT_MONOLITHIC_THRESHOLD};
use crate::remote::Client;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// A registry client: options, credentials, and the connection and token caches every
/// operation shares. Safe to share between threads and calls.
pub struct rr_client {
    pub(crate) client: Client,
}

/// Creates a client with the defaults: keychain on, 8 jobs, platform `linux/amd64`,
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

/// Makes a derived client: a cheap handle that shares `parent`'s settings, credentials,
/// connection pools and token cache, with its own cancellation (`rr_client_cancel`), its
/// own progress callbacks and its own deadline, first-byte timeout and minimum rate,
/// which start as copies of `parent`'s. Derive one per request or per task to cancel it
/// alone; cancelling `parent` also cancels every client derived from it (and from those).
///
/// Other setters called on a derived client change the settings it shares, and so its
/// parent's and siblings' too. On RR_OK `*out` receives a client owned by the caller,
/// released with `rr_client_free`; it stays valid after `parent` is freed. Thread-safe:
/// `parent` may be in use by other threads meanwhile. RR_ERR_INVALID_ARGUMENT when
/// `parent` or `out` is NULL.
///
/// # Safety
/// `parent` must be NULL or a live client; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rr_client_derive(
    parent: *const rr_client,
    out: *mut *mut rr_client,
) -> rr_status {
    guard("rr_client_derive", || {
        let parent = &handle(parent, "parent")?.client;
        check_out(out, "out")?;
        *out = into_handle(rr_client {
            client: parent.derive(),
        });
        Ok(())
    })
}

/// Cancels every operation running on `client` and on clients derived from it,
/// including reads through images, indexes and descriptors they made; each returns
/// RR_ERR_CANCELLED promptly (within about 50 ms, also while it waits in connect, a read,
/// a Retry-After wait or a token exchange), with nothing half-written left behind: no
/// file, no temporary, no open upload session, no manifest.
///
/// Cancellation is final: operations started on `client` afterwards return
/// RR_ERR_CANCELLED at once (derive a client per task to cancel tasks one by one).
/// Cancelling twice, before any call, or after the calls ended is harmless. NULL is
/// ignored. May be called from any thread, also while another thread is inside a call
/// on `client`, and from a signal handler (it is one atomic store). Never sets the
/// thread's last error. `client` must stay live until the call returns.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_cancel(client: *const rr_client) {
    guard_getter((), || {
        if let Some(c) = client.as_ref() {
            c.client.cancel();
        }
    })
}

/// Sets the deadline of every operation started on this handle from now on: the time
/// it may take in all, retries and waits included, in milliseconds; 0 means none (the
/// default). An operation past its deadline returns RR_ERR_TRANSPORT with a message that
/// names the deadline, and leaves nothing half-written. A derived client's deadline is
/// its own. RR_ERR_INVALID_ARGUMENT above 604800000 (a week).
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_deadline(client: *mut rr_client, ms: u64) -> rr_status {
    with_client!("rr_client_set_deadline", client, |c| c.set_deadline(ms))
}

/// Sets the time to first byte: from the end of sending a request (its body included) to
/// the response's head, in milliseconds; 0 means no limit. Default 30000. A request that
/// passes it is a stall: sent again once, then RR_ERR_TRANSPORT naming the timeout. This
/// handle's own setting. RR_ERR_INVALID_ARGUMENT above 604800000 (a week).
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_first_byte_timeout(
    client: *mut rr_client,
    ms: u64,
) -> rr_status {
    with_client!("rr_client_set_first_byte_timeout", client, |c| c
        .set_first_byte_timeout(ms))
}

/// Sets the minimum rate of a response body: fewer than `bytes_per_second` on average
/// over `window_ms` of waiting for the server is a stall (slow-trickle detection). A
/// stalled blob download resumes with Range; another request is sent again once, then
/// fails with RR_ERR_TRANSPORT naming the minimum rate. 0 for either value turns the
/// check off. Default 1024 bytes/s over 30000 ms. This handle's own setting.
/// RR_ERR_INVALID_ARGUMENT when the window is above 604800000 (a week) or the rate
/// above 2^40.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_min_rate(
    client: *mut rr_client,
    bytes_per_second: u64,
    window_ms: u64,
) -> rr_status {
    with_client!("rr_client_set_min_rate", client, |c| c
        .set_min_rate(bytes_per_second, window_ms))
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

/// Sets how many blobs are transferred in parallel (1 to 256; default 8).
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_jobs(client: *mut rr_client, jobs: u32) -> rr_status {
    with_client!("rr_client_set_jobs", client, |c| c.set_jobs(jobs))
}

/// Sets how many connections one large blob (16 MiB or more) may be fetched over when it is
/// pulled into an OCI layout (1 to 16; default 4; 1 never splits a blob). A blob is read
/// from its start on one connection as usual; only when that connection turns out slow
/// (under 96 MiB/s, with more than a second of the blob left) is the rest split into
/// `Range` requests on up to `connections - 1` more, and only when the registry answers
/// every one of them with the bytes asked for (206). The whole blob is still checked
/// against its digest. RR_ERR_INVALID_ARGUMENT for 0 or more than 16. An addition to the
/// API contract.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_blob_connections(
    client: *mut rr_client,
    connections: u32,
) -> rr_status {
    with_client!("rr_client_set_blob_connections", client, |c| c
        .set_blob_connections(connections))
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

/// How blob bytes are sent to a registry, for `rr_client_set_upload_strategy`. Each is
/// streamed from the blob's source (a file, a layout, another registry) at constant memory.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rr_upload_strategy {
    /// The default: monolithic up to the monolithic threshold, streamed above it, and
    /// chunked above the chunk size when one is set (or known for the host: ghcr.io takes
    /// chunks of at most 4 MiB).
    RR_UPLOAD_AUTO = 0,
    /// POST, then PUT `?digest=` with the whole blob as its body: one request pair.
    RR_UPLOAD_MONOLITHIC = 1,
    /// POST, one PATCH with the whole blob, PUT `?digest=`.
    RR_UPLOAD_STREAMED = 2,
    /// POST, PATCHes of `chunk_size` bytes with `Content-Range`, PUT `?digest=`.
    RR_UPLOAD_CHUNKED = 3,
}

fn upload_strategy(value: u32) -> crate::error::Result<UploadStrategy> {
    // Read as a plain integer: an out-of-range value in a Rust enum would be undefined.
    Ok(match value {
        0 => UploadStrategy::Auto,
        1 => UploadStrategy::Monolithic,
        2 => UploadStrategy::Streamed,
        3 => UploadStrategy::Chunked,
        other => {
            return Err(Error::invalid_argument(format!(
                "strategy {other} is not an rr_upload_strategy (0 to 3)"
            )))
        }
    })
}

/// Sets how blobs are uploaded to `registry` (`host[:port]`, as in references), or, when
/// `registry` is NULL, to every registry that has no setting of its own. `strategy` is an
/// `rr_upload_strategy` value. `chunk_size` is the size of the chunks of
/// `RR_UPLOAD_CHUNKED` and the largest PATCH body of the other strategies (a blob above
/// it is sent in chunks of that size): 65536 (64 KiB) to 1073741824 (1 GiB), or 0 for the
/// default (8 MiB chunks for `RR_UPLOAD_CHUNKED`, no limit for the others). A
/// registry's own setting replaces what rr knows of that host (ghcr.io: chunks of at most
/// 4 MiB). The chunk size never goes under the `OCI-Chunk-Min-Length` a registry asks
/// for.
///
/// Whatever is set, a registry or proxy that refuses a request body as too large (413, a
/// size error, a connection closed while sending) makes the client send that registry
/// smaller chunks from then on, for the rest of its life, and the blob is sent again from
/// its source. Takes effect for operations started after the call.
///
/// RR_ERR_INVALID_ARGUMENT when `strategy` or `chunk_size` is out of range (the message
/// names the value); RR_ERR_INVALID_REFERENCE when `registry` does not parse.
///
/// # Safety
/// `client` must be NULL or a live client; `registry` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_upload_strategy(
    client: *mut rr_client,
    registry: *const c_char,
    strategy: u32,
    chunk_size: u64,
) -> rr_status {
    with_client!("rr_client_set_upload_strategy", client, |c| {
        let registry = opt_str_arg(registry, "registry")?;
        let strategy = upload_strategy(strategy)?;
        c.set_upload_strategy(registry, strategy, Some(chunk_size).filter(|&n| n != 0))
    })
}

/// The default monolithic threshold, in bytes (see `rr_client_set_monolithic_threshold`).
#[no_mangle]
pub extern "C" fn rr_upload_default_monolithic_threshold() -> u64 {
    DEFAULT_MONOLITHIC_THRESHOLD
}

/// Sets the size up to which `RR_UPLOAD_AUTO` sends a blob monolithic (one PUT with the
/// body) for `registry` (`host[:port]`), or, when `registry` is NULL, for every registry
/// that has no setting of its own: 0 (never) to 1073741824 (1 GiB). The default is
/// `rr_upload_default_monolithic_threshold()` (1 MiB, measured on loopback; see the
/// README's "Uploads"). Takes effect for operations started after the call.
///
/// RR_ERR_INVALID_ARGUMENT when `bytes` is out of range (the message names the value);
/// RR_ERR_INVALID_REFERENCE when `registry` does not parse.
///
/// # Safety
/// `client` must be NULL or a live client; `registry` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_monolithic_threshold(
    client: *mut rr_client,
    registry: *const c_char,
    bytes: u64,
) -> rr_status {
    with_client!("rr_client_set_monolithic_threshold", client, |c| {
        let registry = opt_str_arg(registry, "registry")?;
        c.set_monolithic_threshold(registry, bytes)
    })
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

/// Reaches `registry` (`host[:port]`) over plain HTTP only: no https attempt comes first,
/// as it does for a registry given to `rr_client_set_insecure` or on loopback (where a
/// registry without TLS costs each operation's first request up to two round trips more:
/// the refused handshake). For registries known to have no TLS; a TLS registry set so
/// refuses every request. The string is copied. RR_ERR_INVALID_REFERENCE when `registry`
/// does not parse. An addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; `registry` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_plain_http(
    client: *mut rr_client,
    registry: *const c_char,
) -> rr_status {
    with_client!("rr_client_set_plain_http", client, |c| c
        .set_plain_http(str_arg(registry, "registry")?))
}

/// Remembers each registry's ping in the directory `dir` between processes: the
/// challenge the registry answered `GET /v2/` with (its scheme, realm and service; never a
/// token or a credential). A later client with the same directory starts its token
/// exchange at once, with the ping beside it rather than before it: two round trips
/// fewer before its first request. What that ping names decides: a remembered answer
/// the registry contradicts is replaced (the token exchange of a remembered realm is
/// tried once, and made again with retries when it failed or the registry names another
/// realm), as is one contradicted by a 401's challenge. Only a registry whose scheme
/// needs no ping is remembered: https, or plain http given to `rr_client_set_plain_http`. The directory is made (0700)
/// with the first answer saved; entries are files of 0600, each written whole, and are
/// read only when owned by this user and writable by nobody else; they are kept 7 days.
/// Off by default; NULL turns it off again. The string is copied.
/// RR_ERR_INVALID_ARGUMENT when `dir` is empty or names something that is not a
/// directory. An addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; `dir` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_ping_cache_dir(
    client: *mut rr_client,
    dir: *const c_char,
) -> rr_status {
    with_client!("rr_client_set_ping_cache_dir", client, |c| c
        .set_ping_cache_dir(opt_str_arg(dir, "dir")?))
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
/// in milliseconds; 0 means no limit (a socket of an abandoned request still ends after
/// 10 minutes of silence). Defaults: 30000 and 60000. Shared with derived clients.
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

/// Sets the progress callback, called one call at a time per operation (possibly from a
/// worker thread) by `rr_image_layer_read`, `rr_image_layer_save` and the write
/// operations. `complete` never decreases and ends equal to `total`. NULL `fn` removes
/// it. Two operations running at once call it each with its own numbers, possibly at
/// the same time: tell them apart with derived clients (each has its own callback) or
/// use `rr_client_set_blob_progress_callback`, whose events name their operation. The
/// callback belongs to this handle: a derived client starts with its parent's and may
/// set its own.
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

/// Sets the per-blob progress callback: events that name their operation and their blob
/// (digest, size, bytes done, phase) with the operation's totals, so that a host can draw
/// one line per layer. Called by the same operations as `rr_progress_fn`, one call at a
/// time per operation, from whichever thread moves the blob; two operations running at
/// once call it concurrently, each event carrying its own `operation`. Every operation
/// starts with one `RR_BLOB_STARTED` event and one `RR_BLOB_WAITING` per blob. NULL `fn`
/// removes it. Both callbacks may be set; each receives its own calls. `userdata` is
/// passed back untouched and must stay valid while set. The callback belongs to this
/// handle: a derived client starts with its parent's and may set its own. An addition to
/// the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; `fn` must be NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_blob_progress_callback(
    client: *mut rr_client,
    r#fn: rr_blob_progress_fn,
    userdata: *mut c_void,
) -> rr_status {
    with_client!("rr_client_set_blob_progress_callback", client, |c| {
        c.set_blob_progress(r#fn.map(|f| Arc::new(HostBlobProgress::new(f, userdata)) as _));
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

/// Which reads a mirror added with `rr_client_add_mirror` serves, as registries.conf's
/// `pull-from-mirror` says it. Passed as a `uint32_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rr_mirror_pull {
    /// Reads by tag and by digest (`all`).
    RR_MIRROR_PULL_ALL = 0,
    /// Reads by digest only (`digest-only`): a mirror's tags may lag behind the origin's.
    RR_MIRROR_PULL_DIGEST_ONLY = 1,
    /// Reads by tag only (`tag-only`).
    RR_MIRROR_PULL_TAG_ONLY = 2,
}

/// Reads pull mirrors, remapped locations and `insecure` from a containers-registries.conf(5)
/// file in its v2 format (`[[registry]]` tables with `prefix`, `location`, `insecure`,
/// `blocked`, `mirror-by-digest-only` and `[[registry.mirror]]` tables with `location`,
/// `insecure`, `pull-from-mirror`), as Podman, Buildah and Skopeo do. `path` is a file, or
/// a directory whose `*.conf` files are read in name order (a registries.conf.d), or NULL
/// for the files containers/image reads: `$CONTAINERS_REGISTRIES_CONF`, else
/// `$HOME/.config/containers/registries.conf` if it exists (then only the drop-ins of
/// `$HOME/.config/containers/registries.conf.d`), else `/etc/containers/registries.conf`
/// (if it exists) and the drop-ins of `/etc/containers/registries.conf.d` then of the
/// user's. Each entry replaces an earlier one with the same prefix. Nothing is read
/// unless the host calls this.
///
/// A repository falls under the entry with the longest prefix (whole path components;
/// `*.domain` for the registries below a domain); its reads (manifests, HEADs, blobs,
/// child manifests; not tag lists or the catalog) go to the entry's mirrors in order,
/// then to its `location`. A read by tag uses the mirrors whose `pull-from-mirror` is
/// `all` or `tag-only`, a read by digest (blobs and an index's children are) those with
/// `all` or `digest-only`. A mirror is asked once per request, and one that fails or
/// lacks the content is passed over (a line in the log callback says so).
/// Digests are verified as always, a mirror's blob bytes always, and a mirror that served
/// a blob wrong is not asked for it again. Writes, mounts and the checks before a write go
/// to the reference's own registry only: nothing is written to a mirror. A `blocked`
/// entry makes those reads RR_ERR_DENIED. `insecure` applies to the whole host of the entry's
/// location or mirror, as `rr_client_set_insecure`. Keys rr does not use
/// (`unqualified-search-registries`, `[aliases]`, `short-name-mode`, ...) are ignored.
///
/// RR_ERR_IO when a file cannot be read (a missing file given by `path` or by
/// `$CONTAINERS_REGISTRIES_CONF`; a missing default file is fine); RR_ERR_INVALID_ARGUMENT,
/// naming the file and the entry, when it is not TOML, is in the v1 format
/// (`[registries.search]`, ...), or has an entry containers/image would refuse or a
/// prefix naming a tag or digest. On failure nothing is taken from any of the files. An
/// addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rr_client_load_registries_conf(
    client: *mut rr_client,
    path: *const c_char,
) -> rr_status {
    with_client!("rr_client_load_registries_conf", client, |c| c
        .load_registries_conf(opt_str_arg(path, "path")?))
}

/// Adds the pull mirror `mirror` (`host[:port][/namespace]`) after the mirrors of the
/// registries.conf entry whose prefix is `registry` (`host[:port][/namespace]`,
/// `docker.io` meaning Docker Hub), making that entry when there is none. A repository
/// below the prefix maps to the same path below the mirror's namespace:
/// `rr_client_add_mirror(c, "docker.io", "mirror.example.com/hub", RR_MIRROR_PULL_ALL)`
/// reads `ubuntu` from `mirror.example.com/hub/library/ubuntu` first. `pull_from` is one
/// of `rr_mirror_pull`. Reads go as `rr_client_load_registries_conf` describes; a plain-http
/// mirror needs `rr_client_set_insecure` (loopback ones do not). The strings are copied.
/// RR_ERR_INVALID_ARGUMENT for an empty or wildcard value, a scheme, a tag or digest, a
/// `pull_from` out of range or one set on an entry with `mirror-by-digest-only`. An
/// addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; the strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_client_add_mirror(
    client: *mut rr_client,
    registry: *const c_char,
    mirror: *const c_char,
    pull_from: u32,
) -> rr_status {
    with_client!("rr_client_add_mirror", client, |c| {
        let registry = str_arg(registry, "registry")?;
        let mirror = str_arg(mirror, "mirror")?;
        // Read as a plain integer: a value out of range must not become an enum.
        let pull_from = match pull_from {
            0 => PullFrom::All,
            1 => PullFrom::DigestOnly,
            2 => PullFrom::TagOnly,
            other => {
                return Err(Error::invalid_argument(format!(
                    "pull_from is {other}; it is one of RR_MIRROR_PULL_ALL (0), \
                     RR_MIRROR_PULL_DIGEST_ONLY (1), RR_MIRROR_PULL_TAG_ONLY (2)"
                )))
            }
        };
        c.add_mirror(registry, mirror, pull_from)
    })
}

/// The rate limit `registry` (`host[:port]`, `index.docker.io` for Docker Hub; for reads
/// through a mirror, the mirror's host) announced on the last manifest response (GET or
/// HEAD, a 429 included) that carried rate-limit headers: `RateLimit-Limit` and
/// `RateLimit-Remaining` (also Docker Hub's `100;w=21600` form, `RateLimit-Policy` and
/// the combined `RateLimit`). `*limit` gets the requests allowed per window, `*remaining`
/// those left, `*window_seconds` the window (`w=`); each is -1 when the registry did not
/// say, and each pointer may be NULL when that value is not wanted. RR_ERR_NOT_FOUND when
/// no such response came from `registry` through this client; RR_ERR_INVALID_REFERENCE
/// when `registry` does not parse. An addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; `registry` NULL or NUL-terminated; the
/// out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_client_rate_limit(
    client: *const rr_client,
    registry: *const c_char,
    limit: *mut i64,
    remaining: *mut i64,
    window_seconds: *mut i64,
) -> rr_status {
    guard("rr_client_rate_limit", || {
        let c = &handle(client, "client")?.client;
        let registry = str_arg(registry, "registry")?;
        let Some(rl) = c.rate_limit(registry)? else {
            return Err(Error::not_found(format!(
                "no rate limit was announced by {registry} to this client"
            )));
        };
        let value = |v: Option<u64>| v.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        for (out, v) in [
            (limit, rl.limit),
            (remaining, rl.remaining),
            (window_seconds, rl.window_seconds),
        ] {
            if !out.is_null() {
                *out = value(v);
            }
        }
        Ok(())
    })
}

/// The registries (`host[:port]`) that announced a rate limit to this client, sorted, as
/// `rr_client_rate_limit` takes them. `*out` is owned by the caller
/// (`rr_string_list_free`). An addition to the API contract.
///
/// # Safety
/// `client` must be NULL or a live client; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rr_client_rate_limit_registries(
    client: *const rr_client,
    out: *mut *mut rr_string_list,
) -> rr_status {
    guard("rr_client_rate_limit_registries", || {
        let c = &handle(client, "client")?.client;
        check_out(out, "out")?;
        *out = string_list(c.rate_limited_registries());
        Ok(())
    })
}
