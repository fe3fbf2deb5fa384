//! Test harness for `librr`: real registries (CNCF distribution 2.8, the
//! Debian `docker-registry` binary) on loopback, in four modes, plus a token
//! server, OCI fixtures pushed with `skopeo`, and helpers for tests.
//!
//! Every [`Registry`] owns a temp dir (config, storage, htpasswd, certs, log)
//! and its child process(es); dropping it kills them by PID. Children are also
//! tied to the test process with `PR_SET_PDEATHSIG`, so even a killed test
//! binary leaves no registry behind.
//!
//! ```no_run
//! use rr_testkit::{Mode, Registry};
//! let reg = Registry::start(Mode::Open);
//! let seeded = reg.seed_standard();
//! println!("{} {}", seeded.app.reference, seeded.app.manifest_digest);
//! ```
//!
//! Needs the Debian packages `docker-registry` (distribution 2.8) and
//! `skopeo` on PATH. Temp dirs go to `$RR_TESTKIT_TMPDIR`, else `/dev/shm`,
//! else the system temp dir.
//!
//! | mode    | scheme | auth | users |
//! |---------|--------|------|-------|
//! | `Open`  | http   | none | anonymous everything |
//! | `Basic` | http   | htpasswd (bcrypt) | [`BASIC_USER`] |
//! | `Tls`   | https (test CA, SAN 127.0.0.1 + localhost) | htpasswd | [`BASIC_USER`] |
//! | `Token` | http   | bearer, realm = our token server (http) | [`TOKEN_PUSHER`] (pull, push, delete, `*`; `registry:catalog:*`), [`TOKEN_PULLER`] (pull), [`TOKEN_MIRROR`] (pull, push on `mirror/…`), anonymous (pull on `public/…`) |
//!
//! [`Options::mtls`] makes a distribution registry of any mode speak https and
//! require a client certificate signed by the test CA (`http.tls.clientcas`); in
//! Token mode its token server then speaks https and requires one too.
//! [`HttpProxy`] is a CONNECT and forward proxy that records what it relays.
//! [`NetEm`] (module [`netem`]) puts an emulated wide-area link (delay, bandwidth,
//! jitter) in front of a server and logs the HTTP exchanges through it; the `rr-netem`
//! binary runs one for scripts. [`Options::token_link`] puts one in front of a Token
//! mode registry's token server (the realm is its address), and `rr-testkit serve
//! --netem-rtt-ms N` serves a registry through one and its token server through another,
//! dumping both logs on SIGUSR1 (the WAN benchmark, `scripts/bench-wan.sh`).
//!
//! The `rr-testkit` binary runs one registry outside `cargo test` (ctest
//! fixtures): `rr-testkit serve --mode M [--seed] --env-file F [--detach]`
//! and `rr-testkit stop --env-file F`; see `src/bin/rr-testkit.rs`.
//!
//! Distribution 2.8 quirks the harness (and tests using it) must live with:
//! manifest GETs, even by digest, answer 404 unless `Accept` names the
//! stored type (use [`MANIFEST_ACCEPT`]); `tags/list` ignores `n`/`last`
//! (one unpaginated page, in storage order, not sorted) while `_catalog`
//! does paginate with `Link`; over TLS it offers HTTP/2 via ALPN.

use std::time::Duration;

mod access;
mod certs;
mod digest;
mod fault_proxy;
mod fixtures;
mod forward_proxy;
mod http;
mod jwt;
mod matrix;
mod mode;
pub mod netem;
mod proc;
mod registry;
mod server;
mod shared;
mod skopeo;
mod token_server;

pub use certs::{libtrust_key_id, tls_client_config, tls_client_config_with_cert};
pub use digest::sha256_digest;
pub use fault_proxy::{Fault, FaultProxy, Rule, SeenRequest};
pub use fixtures::{
    make_layer_tar_gz, Annotated, ImageSpec, ManifestExtras, PushedImage, PushedIndex, Seeded,
    ANNOTATED_ARTIFACT_TYPE, ANNOTATED_LAYER_ARTIFACT_TYPE, ANNOTATED_OS_VERSION,
    STANDARD_MANY_TAGS,
};
pub use forward_proxy::{HttpProxy, Relayed};
pub use http::{agent_with_ca, agent_with_tls, MANIFEST_ACCEPT};
pub use matrix::{shared_seeded_in, shared_seeded_on, skip};
pub use mode::Mode;
pub use netem::{
    binding_path, critical_path, BindingPath, CriticalPath, ExchangeRecord, Link, NetEm,
};
pub use registry::{LoggedRequest, Options, Registry};
pub use server::{
    oras, regctl, tools_dir, Server, DISTRIBUTION_V3_VERSION, GGCR_VERSION, ORAS_VERSION,
    REGCTL_VERSION,
};
pub use shared::shared_seeded;
pub use skopeo::run_skopeo;
pub use token_server::{TokenRequest, TokenServer};

/// A loopback port where connecting hangs, as with a black-holed address: a listener
/// with a backlog of 0 that never accepts, its queue filled by connections held here,
/// so that the kernel drops further SYNs. Keep the returned guard alive while testing.
pub struct BlackHole {
    _listener: std::net::TcpListener,
    _held: Vec<std::net::TcpStream>,
    pub port: u16,
}

impl BlackHole {
    pub fn new() -> BlackHole {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        // SAFETY: listen(2) on a socket we own; it only changes its backlog.
        unsafe { libc::listen(listener.as_raw_fd(), 0) };
        let port = listener.local_addr().expect("addr").port();
        let mut held = Vec::new();
        // With backlog 0 Linux queues one connection; a few more fill any slack. Each
        // attempt is bounded, so that filling stops at the first that hangs.
        for _ in 0..4 {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
        BlackHole {
            _listener: listener,
            _held: held,
            port,
        }
    }
}

impl Default for BlackHole {
    fn default() -> Self {
        BlackHole::new()
    }
}

/// htpasswd user of the `Basic` and `Tls` modes.
pub const BASIC_USER: &str = "alice";
/// Password of [`BASIC_USER`].
pub const BASIC_PASSWORD: &str = "alice-secret-pw";

/// Token-mode user allowed pull, push and delete on every repository, and
/// `registry:catalog:*`.
pub const TOKEN_PUSHER: &str = "pusher";
/// Password of [`TOKEN_PUSHER`].
pub const TOKEN_PUSHER_PASSWORD: &str = "pusher-pw";
/// Token-mode user allowed pull on every repository.
pub const TOKEN_PULLER: &str = "puller";
/// Password of [`TOKEN_PULLER`].
pub const TOKEN_PULLER_PASSWORD: &str = "puller-pw";
/// Token-mode user allowed pull and push under [`MIRROR_REPO_PREFIX`] only: it can
/// write there but not read (so not mount from) other repositories.
pub const TOKEN_MIRROR: &str = "mirror";
/// Password of [`TOKEN_MIRROR`].
pub const TOKEN_MIRROR_PASSWORD: &str = "mirror-pw";
/// Where [`TOKEN_MIRROR`] may pull and push.
pub const MIRROR_REPO_PREFIX: &str = "mirror/";
/// Anonymous token requests get `pull` on repositories under this prefix only.
pub const PUBLIC_REPO_PREFIX: &str = "public/";

/// `service` of the token auth (the registry's `auth.token.service`, the JWT `aud`).
pub const TOKEN_SERVICE: &str = "rr-test-registry";
/// `issuer` of the token auth (the JWT `iss`).
pub const TOKEN_ISSUER: &str = "rr-testkit";
/// Lifetime of the tokens the token server issues, in seconds.
pub const TOKEN_LIFETIME_SECS: u64 = 300;

/// A domain that resolves nowhere but in [`HttpProxy`], which connects its names to
/// 127.0.0.1 (RFC 6761 keeps `.test` for tests): a registry reached as
/// `registry.rr.test:PORT` can only be reached through the proxy, and clients proxy it
/// from the environment, which they never do for loopback addresses.
pub const PROXY_ONLY_DOMAIN: &str = "rr.test";
/// The name in [`PROXY_ONLY_DOMAIN`] that the Tls server certificate also names.
pub const PROXY_ONLY_HOST: &str = "registry.rr.test";
