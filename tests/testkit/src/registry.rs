//! One registry process on a random 127.0.0.1 port, with its temp dir, and (Token mode)
//! token server: CNCF distribution 2.8 (`docker-registry serve`, the default), distribution
//! v3 or go-containerregistry's registry (see [`Server`]).

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;

use crate::certs::{tls_server_config_requiring_client, write_tls_files, TlsFiles};
use crate::digest::sha256_hex;
use crate::http::{agent_with_ca, agent_with_tls, any_status, basic_header};
use crate::netem::{Link, NetEm};
use crate::proc::{kill_and_wait, spawn_tied};
use crate::server::Server;
use crate::token_server::{TokenRequest, TokenServer};
use crate::{
    Mode, BASIC_PASSWORD, BASIC_USER, TOKEN_ISSUER, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD,
    TOKEN_SERVICE,
};

const DIR_PREFIX: &str = "rr-testkit-";
/// File in each temp dir naming the PID of the process that owns it.
const OWNER_FILE: &str = "owner.pid";
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const START_ATTEMPTS: usize = 5;
/// bcrypt cost of the htpasswd entries. distribution checks the password on
/// every request, so the default cost (12, ~250 ms) would make tests crawl.
const HTPASSWD_BCRYPT_COST: u32 = 4;

/// A running registry. Dropping it kills the registry (and stops the token
/// server) and removes its temp dir.
pub struct Registry {
    server: Server,
    mode: Mode,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    pid: u32,
    tls: Option<TlsFiles>,
    token: Option<TokenServer>,
    /// The emulator in front of the token server ([`Options::token_link`]).
    token_netem: Option<NetEm>,
    token_realm_host: Option<&'static str>,
    agent: ureq::Agent,
    deletes_enabled: bool,
    catalog_max_entries: Option<u32>,
    mtls: bool,
    /// The referrers middleware's flags ([`Server::GgcrReferrers`]).
    referrers_args: Vec<String>,
}

/// How to start a [`Registry`]: which server, in which mode, with which settings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub server: Server,
    pub mode: Mode,
    /// Whether manifests (and tags) may be deleted (distribution only; a registry without
    /// it answers DELETE with 405).
    pub deletes_enabled: bool,
    /// distribution v3's `catalog.maxentries`: the largest `n` it accepts on listings
    /// (larger is `400 PAGINATION_NUMBER_INVALID`) and its page size without `n`.
    pub catalog_max_entries: Option<u32>,
    /// Mutual TLS (distribution only): the registry speaks https with the test CA in any
    /// mode and requires a client certificate signed by it (`http.tls.clientcas`); see
    /// [`Registry::client_cert_pem_path`]. In Token mode the token server speaks https
    /// and requires one too.
    pub mtls: bool,
    /// [`Server::GgcrReferrers`] only (the others refuse it): referrers answers in pages of
    /// this many entries (at least 1), every page but the last with
    /// `Link: </v2/NAME/referrers/DIGEST?...&last=DIGEST>; rel="next"` (`last`: the digest of
    /// the previous page's last entry, the entries sorted by digest; the client's other
    /// query parameters, such as `artifactType`, are kept). None: one page.
    pub referrers_page_size: Option<u32>,
    /// [`Server::GgcrReferrers`] only: `artifactType` is removed from referrers queries
    /// before go-containerregistry's handler sees it, so answers are unfiltered and carry no
    /// `OCI-Filters-Applied`. go-containerregistry v0.22.1 ignores `artifactType` anyway:
    /// without either of these flags its answers are unfiltered too.
    pub ignore_referrer_filters: bool,
    /// [`Server::GgcrReferrers`] only: the middleware filters referrers answers on
    /// `artifactType` and says so with `OCI-Filters-Applied: artifactType` (what
    /// go-containerregistry does not do). Excludes [`Options::ignore_referrer_filters`].
    pub apply_referrer_filters: bool,
    /// [`Server::GgcrReferrers`] only: no `OCI-Subject` header in answers to PUTs of
    /// manifests with a subject, as go-containerregistry answers them (by default the
    /// middleware adds it, as the spec says a registry with the referrers API must). oras
    /// then falls back to the referrers tag schema (a `sha256-HEX` index tag) on attach.
    pub omit_oci_subject: bool,
    /// Token mode only (the others panic): a [`NetEm`] with this link in front of the
    /// token server, started before the registry's configuration is written, whose address
    /// is the realm (`http://127.0.0.1:NETEM_PORT/token`): every token a client fetches then
    /// crosses the emulated link, as the registry's requests do through an emulator of the
    /// caller's in front of [`Registry::host`]. The registry keeps it running; its log is
    /// [`Registry::token_netem`]. With mTLS the token server's TLS passes through it
    /// (proxied, not logged).
    pub token_link: Option<Link>,
    /// Token mode only: the realm names the token server (or its emulator) by this host
    /// name instead of `127.0.0.1`, such as `localhost` (the test certificate names it
    /// too). go-containerregistry (crane) v0.22.1 refuses a realm at a loopback or private
    /// IP literal unless it is the registry's own `host:port`; a name it does not check.
    pub token_realm_host: Option<&'static str>,
}

impl Options {
    pub fn new(server: Server, mode: Mode) -> Options {
        Options {
            server,
            mode,
            deletes_enabled: true,
            catalog_max_entries: None,
            mtls: false,
            referrers_page_size: None,
            ignore_referrer_filters: false,
            apply_referrer_filters: false,
            omit_oci_subject: false,
            token_link: None,
            token_realm_host: None,
        }
    }

    /// The flags of `rr-registry-ggcr-referrers` for these options; panics on referrers
    /// options given to another server, or contradicting each other.
    fn referrers_args(&self) -> Vec<String> {
        let any = self.referrers_page_size.is_some()
            || self.ignore_referrer_filters
            || self.apply_referrer_filters
            || self.omit_oci_subject;
        if self.server != Server::GgcrReferrers {
            if any {
                panic!(
                    "rr-testkit: referrers options are for {}, not {}",
                    Server::GgcrReferrers,
                    self.server
                );
            }
            return Vec::new();
        }
        if self.ignore_referrer_filters && self.apply_referrer_filters {
            panic!(
                "rr-testkit: ignore_referrer_filters and apply_referrer_filters exclude each other"
            );
        }
        let mut args = Vec::new();
        if let Some(n) = self.referrers_page_size {
            assert!(n > 0, "rr-testkit: referrers_page_size must be at least 1");
            args.extend(["-referrers-page-size".to_string(), n.to_string()]);
        }
        for (on, flag) in [
            (self.ignore_referrer_filters, "-ignore-filters"),
            (self.apply_referrer_filters, "-apply-filters"),
            (self.omit_oci_subject, "-no-oci-subject"),
        ] {
            if on {
                args.push(flag.to_string());
            }
        }
        args
    }
}

/// One request from the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub status: u16,
}

enum StartOutcome {
    Ready,
    AddrInUse,
    Failed(String),
}

impl Registry {
    /// Starts a registry in `mode`, waiting until `/v2/` answers. Panics with
    /// a clear message (and the registry's log tail) if it cannot.
    pub fn start(mode: Mode) -> Registry {
        Registry::start_with(Options::new(Server::Distribution28, mode))
    }

    /// Like [`Registry::start`], with manifest deletion enabled or not (a registry
    /// without it answers DELETE with 405).
    pub fn start_with_deletes(mode: Mode, deletes_enabled: bool) -> Registry {
        Registry::start_with(Options {
            deletes_enabled,
            ..Options::new(Server::Distribution28, mode)
        })
    }

    /// Starts `server` in Open mode.
    pub fn start_server(server: Server) -> Registry {
        Registry::start_with(Options::new(server, Mode::Open))
    }

    /// Starts a registry as `options` say. go-containerregistry's registry (both
    /// [`Server::Ggcr`] and [`Server::GgcrReferrers`]) has no authentication, TLS, storage
    /// on disk or settings: it runs in Open mode only.
    pub fn start_with(options: Options) -> Registry {
        let referrers_args = options.referrers_args();
        let Options {
            server,
            mode,
            deletes_enabled,
            catalog_max_entries,
            mtls,
            token_link,
            token_realm_host,
            ..
        } = options;
        if server.is_ggcr() && (mode != Mode::Open || mtls) {
            panic!("rr-testkit: {server} runs in open mode without TLS only, not {mode}");
        }
        if (token_link.is_some() || token_realm_host.is_some()) && mode != Mode::Token {
            panic!("rr-testkit: token_link and token_realm_host are for Token mode, not {mode}");
        }
        let binary = server.binary();
        if Command::new(&binary)
            .arg(server.version_flag())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            panic!(
                "rr-testkit: {server} (`{}`) cannot be run; {}",
                binary.display(),
                server.install_hint()
            );
        }
        let base = temp_base();
        sweep_stale_dirs(&base);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-{mode}-", server.as_str()))
            .tempdir_in(&base)
            .expect("rr-testkit: create temp dir");
        fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())
            .expect("write owner pid");
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage).expect("create storage dir");

        let tls = (mode.is_tls() || mtls).then(|| write_tls_files(&dir.path().join("certs"), mtls));
        if matches!(mode, Mode::Basic | Mode::Tls) {
            write_htpasswd(
                &dir.path().join("htpasswd"),
                &[(BASIC_USER, BASIC_PASSWORD)],
            );
        }
        let token = (mode == Mode::Token).then(|| {
            let t =
                TokenServer::start_with_tls(tls.as_ref().filter(|_| mtls).map(|f| {
                    tls_server_config_requiring_client(&f.cert_pem, &f.key_pem, &f.ca_pem)
                }));
            fs::write(dir.path().join("token-signer.pem"), t.signing_cert_pem())
                .expect("write token signing certificate");
            t
        });
        let token_netem = token
            .as_ref()
            .zip(token_link)
            .map(|(t, link)| NetEm::start(&t.host(), link));
        let agent = match (&tls, mtls) {
            (Some(t), true) => agent_with_tls(
                Some(&t.ca_pem),
                Some((&t.client_cert_pem, &t.client_key_pem)),
            ),
            (t, _) => agent_with_ca(t.as_ref().map(|t| t.ca_pem.as_path())),
        };

        let mut reg = Registry {
            server,
            mode,
            port: 0,
            dir,
            child: None,
            pid: 0,
            tls,
            token,
            token_netem,
            token_realm_host,
            agent,
            deletes_enabled,
            catalog_max_entries,
            mtls,
            referrers_args,
        };
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            reg.port = free_port();
            reg.write_config();
            match reg.spawn_and_wait() {
                StartOutcome::Ready => {
                    reg.write_regctl_config();
                    return reg;
                }
                StartOutcome::AddrInUse => {
                    last_failure = format!("port {} was taken", reg.port);
                    continue;
                }
                StartOutcome::Failed(msg) => {
                    reg.stop();
                    panic!("{msg}");
                }
            }
        }
        reg.stop();
        panic!("rr-testkit: registry ({server}, {mode}) could not bind a port after {START_ATTEMPTS} attempts ({last_failure})");
    }

    fn write_config(&self) {
        if self.server.is_ggcr() {
            return;
        }
        let d = self.dir.path();
        let mut cfg = json!({
            "version": "0.1",
            "log": {
                "level": "info",
                "formatter": "text",
                "fields": {"service": "registry", "rr_testkit_mode": self.mode.as_str()},
            },
            "storage": {
                "filesystem": {"rootdirectory": self.storage_dir()},
                "delete": {"enabled": self.deletes_enabled},
                "maintenance": {"uploadpurging": {"enabled": false}},
            },
            "http": {
                "addr": self.host(),
                "secret": "rr-testkit-not-a-secret",
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
            "health": {"storagedriver": {"enabled": false}},
        });
        if let Some(max) = self.catalog_max_entries {
            cfg["catalog"] = json!({ "maxentries": max });
        }
        if let Some(tls) = &self.tls {
            cfg["http"]["tls"] = json!({
                "certificate": tls.cert_pem,
                "key": tls.key_pem,
            });
            if self.mtls {
                // distribution then requires and verifies a client certificate.
                cfg["http"]["tls"]["clientcas"] = json!([tls.ca_pem]);
            }
        }
        match self.mode {
            Mode::Open => {}
            Mode::Basic | Mode::Tls => {
                cfg["auth"] = json!({"htpasswd": {
                    "realm": "rr-testkit",
                    "path": d.join("htpasswd"),
                }});
            }
            Mode::Token => {
                cfg["auth"] = json!({"token": {
                    "realm": self.token_realm(),
                    "service": TOKEN_SERVICE,
                    "issuer": TOKEN_ISSUER,
                    "rootcertbundle": d.join("token-signer.pem"),
                }});
            }
        }
        // YAML is a superset of JSON: serde_json does all the quoting.
        let text = serde_json::to_string_pretty(&cfg).expect("serialize config");
        fs::write(self.config_path(), text).expect("write config.yml");
    }

    fn spawn_and_wait(&mut self) -> StartOutcome {
        let log = File::create(self.log_path()).expect("create registry log");
        let mut cmd = Command::new(self.server.binary());
        match self.server {
            Server::Ggcr => cmd.arg("-port").arg(self.port.to_string()),
            Server::GgcrReferrers => cmd
                .arg("-port")
                .arg(self.port.to_string())
                .args(&self.referrers_args),
            _ => cmd.arg("serve").arg(self.config_path()),
        };
        cmd.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log fd"))
            .stderr(log);
        // distribution lets REGISTRY_* variables override the config.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("REGISTRY_") {
                cmd.env_remove(k);
            }
        }
        let child = match spawn_tied(cmd) {
            Ok(c) => c,
            Err(e) => {
                return StartOutcome::Failed(format!(
                    "rr-testkit: cannot run `{}`: {e}",
                    self.server.binary().display()
                ))
            }
        };
        self.pid = child.id();
        self.child = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{}/v2/", self.base_url());
        let mut last_err;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                let tail = self.log_tail(40);
                if tail.contains("address already in use") {
                    return StartOutcome::AddrInUse;
                }
                return StartOutcome::Failed(format!(
                    "rr-testkit: registry ({}) exited during startup ({status}); log {}:\n{tail}",
                    self.mode,
                    self.log_path().display()
                ));
            }
            let probe = self.agent.get(&url).timeout(Duration::from_secs(2)).call();
            match any_status(probe) {
                Ok(resp)
                    if resp.status() == 200
                        || resp.header("Docker-Distribution-Api-Version").is_some() =>
                {
                    return StartOutcome::Ready
                }
                Ok(resp) => last_err = format!("unexpected answer {}", resp.status()),
                Err(t) => last_err = t,
            }
            if Instant::now() > deadline {
                let tail = self.log_tail(40);
                return StartOutcome::Failed(format!(
                    "rr-testkit: registry ({}) on {} did not answer /v2/ within {:?} (last: {last_err}); log {}:\n{tail}",
                    self.mode,
                    self.host(),
                    READY_TIMEOUT,
                    self.log_path().display()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port the registry listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Which registry implementation this is.
    pub fn server(&self) -> Server {
        self.server
    }

    /// `http://127.0.0.1:PORT` or, in Tls mode and with mTLS, `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// `base_url() + path` (path starting with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// PID of the registry process (0 once stopped).
    pub fn pid(&self) -> u32 {
        if self.child.is_some() {
            self.pid
        } else {
            0
        }
    }

    /// The registry's temp dir (config.yml, storage/, htpasswd, certs/, registry.log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    /// Where the registry's stdout and stderr go.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// The last `n` lines of the registry log.
    pub fn log_tail(&self, n: usize) -> String {
        let Ok(f) = File::open(self.log_path()) else {
            return String::from("(no log)");
        };
        let lines: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Every request the registry has answered so far, from its access log, in order.
    /// go-containerregistry's registry logs no status for requests it answered without an
    /// error: those have status 0. [`Server::GgcrReferrers`] logs referrers requests with
    /// the URI the client sent.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        let Ok(text) = fs::read_to_string(self.log_path()) else {
            return Vec::new();
        };
        let parse = match self.server {
            Server::Ggcr | Server::GgcrReferrers => {
                // It writes a request's line after sending the answer: let the lines of
                // requests just answered arrive.
                std::thread::sleep(Duration::from_millis(50));
                parse_ggcr_line
            }
            _ => parse_access_line,
        };
        text.lines().filter_map(parse).collect()
    }

    /// Root directory of the filesystem storage driver.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where the registry stores a blob's bytes (distribution only; go-containerregistry's
    /// registry keeps them in memory):
    /// `storage/docker/registry/v2/blobs/sha256/ab/<hex>/data`.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = sha256_hex(digest);
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// PEM of the test CA (Tls mode and mTLS only).
    pub fn ca_pem_path(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|t| t.ca_pem.clone())
    }

    /// Whether the registry requires a client certificate ([`Options::mtls`]).
    pub fn is_mtls(&self) -> bool {
        self.mtls
    }

    /// `host:PORT` of this registry: a name for it that only the harness proxy
    /// resolves, such as [`crate::PROXY_ONLY_HOST`] (named by the Tls server
    /// certificate).
    pub fn host_as(&self, name: &str) -> String {
        format!("{name}:{}", self.port)
    }

    /// PEM of a client certificate signed by the test CA, which an mTLS registry (and
    /// its token server) accepts (Tls mode and mTLS only).
    pub fn client_cert_pem_path(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|t| t.client_cert_pem.clone())
    }

    /// PEM of the private key of [`Registry::client_cert_pem_path`].
    pub fn client_key_pem_path(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|t| t.client_key_pem.clone())
    }

    /// A client certificate and its key signed by another CA, which an mTLS registry
    /// refuses (Tls mode and mTLS only).
    pub fn stranger_client_pair(&self) -> Option<(PathBuf, PathBuf)> {
        self.tls
            .as_ref()
            .map(|t| (t.stranger_cert_pem.clone(), t.stranger_key_pem.clone()))
    }

    /// PEM of the server's private key, which belongs to no client certificate: a key
    /// that does not match (Tls mode and mTLS only).
    pub fn server_key_pem_path(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|t| t.key_pem.clone())
    }

    pub(crate) fn skopeo_cert_dir(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.skopeo_cert_dir.as_path())
    }

    /// `http://127.0.0.1:PORT/token`, https with mTLS (Token mode only): the realm the
    /// registry names in its challenges; the port is the token emulator's with
    /// [`Options::token_link`], the host [`Options::token_realm_host`] when set.
    pub fn token_realm(&self) -> Option<String> {
        let token = self.token.as_ref()?;
        let host = match &self.token_netem {
            Some(netem) => netem.host(),
            None => token.host(),
        };
        Some(match self.token_realm_host {
            Some(name) => {
                let port = host.rsplit_once(':').map(|(_, p)| p).unwrap_or_default();
                token.realm_at(&format!("{name}:{port}"))
            }
            None => token.realm_at(&host),
        })
    }

    /// The emulator in front of the token server ([`Options::token_link`]): its log
    /// holds every token request made through the realm.
    pub fn token_netem(&self) -> Option<&NetEm> {
        self.token_netem.as_ref()
    }

    /// The token server (Token mode only).
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    fn token_server_or_panic(&self) -> &TokenServer {
        self.token
            .as_ref()
            .unwrap_or_else(|| panic!("rr-testkit: {} mode has no token server", self.mode))
    }

    /// Every request the token server received (Token mode; panics otherwise).
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.token_server_or_panic().requests()
    }

    /// Forgets the token server's recorded requests (Token mode; panics otherwise).
    pub fn clear_token_requests(&self) {
        self.token_server_or_panic().clear_requests()
    }

    /// A bearer token for `user` ("" = anonymous; no password check) with
    /// what the policy grants of `scopes` (e.g. `repository:demo/app:pull`).
    /// Token mode; panics otherwise.
    pub fn issue_token(&self, user: &str, scopes: &[&str]) -> String {
        self.token_server_or_panic().issue_token(user, scopes)
    }

    /// The mode's push-capable credentials: alice (Basic, Tls), pusher
    /// (Token), none (Open).
    pub fn credentials(&self) -> Option<(&'static str, &'static str)> {
        match self.mode {
            Mode::Open => None,
            Mode::Basic | Mode::Tls => Some((BASIC_USER, BASIC_PASSWORD)),
            Mode::Token => Some((TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD)),
        }
    }

    /// An `Authorization` header value with full access for the mode:
    /// Basic alice, or a pusher bearer token for `scopes`; None in Open mode.
    pub fn auth_header(&self, scopes: &[&str]) -> Option<String> {
        match self.mode {
            Mode::Open => None,
            Mode::Basic | Mode::Tls => Some(basic_header(BASIC_USER, BASIC_PASSWORD)),
            Mode::Token => Some(format!("Bearer {}", self.issue_token(TOKEN_PUSHER, scopes))),
        }
    }

    /// The flags that point oras's registry commands (`push`, `attach`, `discover`,
    /// `pull`, `manifest fetch`, ...) at this registry, to put after the subcommand
    /// (`oras attach FLAGS... REF FILE...`): `--plain-http`; `--registry-config
    /// DIR/oras-auth.json`, an auth file of this registry's own (oras does not need it to
    /// exist), so that no `~/.docker/config.json` or credential helper is consulted; and in
    /// Basic and Token mode `--username`/`--password` with [`Registry::credentials`].
    /// Plain-http registries only (panics for Tls mode and mTLS).
    pub fn oras_flags(&self) -> Vec<String> {
        self.plain_http_only("oras_flags");
        let mut flags = vec![
            "--plain-http".to_string(),
            "--registry-config".to_string(),
            self.dir.path().join("oras-auth.json").display().to_string(),
        ];
        if let Some((user, password)) = self.credentials() {
            flags.extend([
                "--username".to_string(),
                user.to_string(),
                "--password".to_string(),
                password.to_string(),
            ]);
        }
        flags
    }

    /// The environment that points regctl at this registry, for `Command::envs`:
    /// `REGCTL_CONFIG` naming `DIR/regctl-config.json`, written at start:
    /// `{"hosts": {"127.0.0.1:PORT": {"tls": "disabled"}}, "incDockerCred": false,
    /// "incDockerCert": false}`, with `user` and `pass` of [`Registry::credentials`] in Basic
    /// and Token mode. regctl v0.11.7 reads its whole configuration from the file
    /// `$REGCTL_CONFIG` names when the variable is set (over `~/.regctl/config.json` and
    /// `$XDG_CONFIG_HOME/regctl/config.json`), and `regctl registry set` and `regctl
    /// registry login` write to it: nothing global is read or changed. (Without a file,
    /// the global flag `--host reg=127.0.0.1:PORT,tls=disabled` does the same for one run
    /// but still reads those files and Docker's credentials.) Plain-http registries only
    /// (panics for Tls mode and mTLS).
    pub fn regctl_env(&self) -> Vec<(&'static str, PathBuf)> {
        self.plain_http_only("regctl_env");
        vec![("REGCTL_CONFIG", self.regctl_config_path())]
    }

    fn regctl_config_path(&self) -> PathBuf {
        self.dir.path().join("regctl-config.json")
    }

    fn write_regctl_config(&self) {
        if self.tls.is_some() {
            return;
        }
        let mut host = json!({ "tls": "disabled" });
        if let Some((user, password)) = self.credentials() {
            host["user"] = json!(user);
            host["pass"] = json!(password);
        }
        let cfg = json!({
            "hosts": { self.host(): host },
            "incDockerCred": false,
            "incDockerCert": false,
        });
        fs::write(
            self.regctl_config_path(),
            serde_json::to_string_pretty(&cfg).expect("serialize regctl config"),
        )
        .expect("write regctl config");
    }

    fn plain_http_only(&self, what: &str) {
        if self.tls.is_some() {
            panic!(
                "rr-testkit: {what} is for plain-http registries, not {} ({} mode{})",
                self.server,
                self.mode,
                if self.mtls { ", mTLS" } else { "" }
            );
        }
    }

    /// A ureq agent that trusts this registry (the test CA in Tls mode).
    pub fn agent(&self) -> ureq::Agent {
        self.agent.clone()
    }

    /// Whether the registry process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the registry by PID and waits for it, stops the token server (and its
    /// emulator). Idempotent; `Drop` calls it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_wait(&mut child);
        }
        self.token_netem = None;
        if let Some(t) = self.token.as_mut() {
            t.stop();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("server", &self.server)
            .field("mode", &self.mode)
            .field("host", &self.host())
            .field("pid", &self.pid())
            .field("dir", &self.dir.path())
            .finish()
    }
}

/// Where registry temp dirs go: `$RR_TESTKIT_TMPDIR`, else `/dev/shm` (the
/// registry does many small file writes per request; on tmpfs a 320-tag
/// seed and the cleanup are about 3x faster than on disk), else the system
/// temp dir.
fn temp_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("RR_TESTKIT_TMPDIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    let writable =
        fs::metadata(shm).map(|m| m.is_dir()).unwrap_or(false) && tempfile::tempdir_in(shm).is_ok();
    if writable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Removes temp dirs left by harness processes that died without cleanup
/// (e.g. SIGKILLed; their registries died with them). Dirs of live owners,
/// and anything without an owner file, are left alone.
fn sweep_stale_dirs(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let path = entry.path();
        let Ok(owner) = fs::read_to_string(path.join(OWNER_FILE)) else {
            continue;
        };
        let Ok(pid) = owner.trim().parse::<u32>() else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// A port that was free a moment ago (bind 0, read, release).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("rr-testkit: bind 127.0.0.1:0")
}

/// Writes an htpasswd file of bcrypt entries.
fn write_htpasswd(path: &Path, users: &[(&str, &str)]) {
    let mut text = String::new();
    for (user, pw) in users {
        let hash = bcrypt::hash(pw, HTPASSWD_BCRYPT_COST).expect("bcrypt hash");
        text.push_str(&format!("{user}:{hash}\n"));
    }
    fs::write(path, text).expect("write htpasswd");
}

// A Registry can live in a `static OnceLock` shared by tests.
const _: () = {
    const fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<Registry>();
};

/// `127.0.0.1 - - [date] "METHOD URI HTTP/1.1" STATUS SIZE "referer" "agent"`
fn parse_access_line(line: &str) -> Option<LoggedRequest> {
    if line.starts_with("time=") {
        return None;
    }
    let (_, rest) = line.split_once("] \"")?;
    let (request, rest) = rest.split_once('"')?;
    let mut parts = request.split(' ');
    let method = parts.next()?.to_string();
    let uri = parts.next()?.to_string();
    let status = rest.trim_start().split(' ').next()?.parse().ok()?;
    Some(LoggedRequest {
        method,
        uri,
        status,
    })
}

/// `2026/12/03 07:40:01 GET /v2/x/tags/list?n=2` or, for an error,
/// `2026/12/03 07:40:01 GET /v2/x/manifests/y 404 MANIFEST_UNKNOWN message`.
fn parse_ggcr_line(line: &str) -> Option<LoggedRequest> {
    let mut parts = line.splitn(6, ' ');
    let (_date, _time) = (parts.next()?, parts.next()?);
    let method = parts.next()?;
    if !method.chars().all(|c| c.is_ascii_uppercase()) || method.is_empty() {
        return None;
    }
    let uri = parts.next()?;
    if !uri.starts_with('/') {
        return None;
    }
    let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Some(LoggedRequest {
        method: method.to_string(),
        uri: uri.to_string(),
        status,
    })
}

#[cfg(test)]
mod access_log_tests {
    use super::*;

    #[test]
    fn access_lines_parse_and_others_do_not() {
        let line = r#"127.0.0.1 - - [27/Nov/2026:15:23:52 +0000] "POST /v2/x/blobs/uploads/?from=a&mount=b HTTP/1.1" 202 0 "" "curl/7.88.1""#;
        assert_eq!(
            parse_access_line(line),
            Some(LoggedRequest {
                method: "POST".into(),
                uri: "/v2/x/blobs/uploads/?from=a&mount=b".into(),
                status: 202
            })
        );
        assert_eq!(
            parse_access_line(r#"time="x" level=info msg="response completed""#),
            None
        );
    }

    #[test]
    fn ggcr_lines_parse() {
        assert_eq!(
            parse_ggcr_line("2026/12/03 07:40:01 GET /v2/x/tags/list?n=2"),
            Some(LoggedRequest {
                method: "GET".into(),
                uri: "/v2/x/tags/list?n=2".into(),
                status: 0
            })
        );
        assert_eq!(
            parse_ggcr_line(
                "2026/12/03 07:40:01 HEAD /v2/x/blobs/sha256:ab 404 BLOB_UNKNOWN Unknown blob"
            )
            .map(|r| r.status),
            Some(404)
        );
        assert_eq!(
            parse_ggcr_line("2026/12/03 07:40:01 serving on port 5000"),
            None
        );
    }
}
