//! A Docker/OAuth2 token server for the Token mode (plain HTTP on a random
//! 127.0.0.1 port, or https requiring a client certificate beside an mTLS
//! registry; one request per connection, a thread per connection), recording
//! every request it gets.
//!
//! * `GET /token?service=..&scope=..&scope=..` with optional Basic auth
//!   (Docker token flow). Answers `{"token","access_token","expires_in","issued_at"}`
//!   (plus `refresh_token` when `offline_token=true` and authenticated).
//! * `POST /token` form: `grant_type=password` (username, password) or
//!   `grant_type=refresh_token` (refresh_token), `scope` space-separated.
//!   Answers `{"access_token","refresh_token","expires_in","issued_at","scope"}`.
//!
//! Wrong credentials give 401 with a JSON error; a valid (or anonymous) user
//! asking for more than it may have gets a token with just what it may have.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::access::{self, Scope};
use crate::certs::{make_signing_material, SigningMaterial};
use crate::jwt::{access_claim, rfc3339, unix_now, TokenSigner};
use crate::{TOKEN_LIFETIME_SECS, TOKEN_SERVICE};

/// One request the token server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, as sent (e.g. `/token?scope=...&service=...`).
    pub path_and_query: String,
    /// Whether an `Authorization` header was present.
    pub authorization: bool,
    /// The user named by the Basic header or the form (`refresh-<user>` maps
    /// to `<user>`), whether or not the password was right.
    pub user: Option<String>,
    /// Form fields of a POST, in order, with `password` and `refresh_token`
    /// values replaced by `***`.
    pub form: Vec<(String, String)>,
    /// Requested scopes (query `scope` params, or the form's space-separated `scope`).
    pub scopes: Vec<String>,
    /// HTTP status the server answered.
    pub status: u16,
}

struct Shared {
    signer: TokenSigner,
    log: Mutex<Vec<TokenRequest>>,
    stop: AtomicBool,
}

/// The Token mode's token server. Stopped on drop.
pub struct TokenServer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    port: u16,
    cert_pem: String,
    https: bool,
}

impl TokenServer {
    /// Starts a token server speaking plain http, or https with `tls` (which may
    /// require a client certificate).
    pub(crate) fn start_with_tls(tls: Option<Arc<rustls::ServerConfig>>) -> TokenServer {
        let material: SigningMaterial = make_signing_material();
        let https = tls.is_some();
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("rr-testkit: cannot start the token server: {e}"));
        let port = listener.local_addr().expect("token server address").port();
        let shared = Arc::new(Shared {
            signer: TokenSigner::new(&material),
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("rr-testkit-token-{port}"))
                .spawn(move || {
                    for conn in listener.incoming() {
                        if shared.stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(conn) = conn else { continue };
                        let shared = Arc::clone(&shared);
                        let tls = tls.clone();
                        std::thread::spawn(move || {
                            let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                            match tls {
                                None => serve_connection(&shared, conn),
                                Some(cfg) => {
                                    // The handshake runs on the first read; a client
                                    // without the required certificate fails there.
                                    let Ok(server) = rustls::ServerConnection::new(cfg) else {
                                        return;
                                    };
                                    serve_connection(
                                        &shared,
                                        rustls::StreamOwned::new(server, conn),
                                    )
                                }
                            }
                        });
                    }
                })
                .expect("spawn token server thread")
        };
        TokenServer {
            shared,
            thread: Some(thread),
            port,
            cert_pem: material.cert_pem,
            https,
        }
    }

    /// `http://127.0.0.1:PORT/token`, or `https://` when it speaks TLS.
    pub fn realm(&self) -> String {
        self.realm_at(&self.host())
    }

    /// The realm as reached through `host` (`host:port`, e.g. an emulator in front of
    /// this server): `http://HOST/token`, or `https://` when it speaks TLS.
    pub fn realm_at(&self, host: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{host}/token")
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// PEM of the certificate whose key signs the tokens.
    pub fn signing_cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// A token for `user` ("" = anonymous; no password check) with what the
    /// policy allows of `scopes` (`type:name:actions` strings).
    pub fn issue_token(&self, user: &str, scopes: &[&str]) -> String {
        let requested: Vec<Scope> = scopes
            .iter()
            .map(|s| Scope::parse(s).unwrap_or_else(|| panic!("bad scope {s:?}")))
            .collect();
        let who = (!user.is_empty()).then_some(user);
        let granted = access::grant(who, &requested);
        self.shared
            .signer
            .issue(user, access_claim(&granted), TOKEN_LIFETIME_SECS as i64)
    }

    /// A token with an arbitrary `sub` and `access` claim, valid for
    /// `lifetime_secs` (negative: already expired; the registry allows
    /// about 60 s of leeway).
    pub fn issue_token_custom(&self, sub: &str, access: Value, lifetime_secs: i64) -> String {
        self.shared.signer.issue(sub, access, lifetime_secs)
    }

    /// Stops serving; idempotent.
    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            // Wake the accept loop so that it sees the flag.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            let _ = t.join();
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServer")
            .field("realm", &self.realm())
            .finish()
    }
}

struct Outcome {
    status: u16,
    body: Value,
    user: Option<String>,
    scopes: Vec<String>,
}

/// Reads one request from `conn`, answers it, and closes the connection.
fn serve_connection(shared: &Shared, conn: impl Read + Write) {
    let mut reader = BufReader::new(conn);
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let url = parts.next().unwrap_or("").to_string();
    let mut authorization = None;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.to_string());
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length.min(1 << 20)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let outcome = handle(shared, &method, &url, authorization.as_deref(), &body);
    let text = outcome.body.to_string();
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        outcome.status,
        text.len()
    );
    if outcome.status == 401 {
        head.push_str("WWW-Authenticate: Basic realm=\"rr-testkit\"\r\n");
    }
    head.push_str("\r\n");
    let conn = reader.get_mut();
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(text.as_bytes());
    let _ = conn.flush();
}

fn handle(
    shared: &Shared,
    method: &str,
    url: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> Outcome {
    let method = method.to_string();
    let url = url.to_string();
    let authorization = authorization.map(String::from);

    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let mut form: Vec<(String, String)> = Vec::new();
    let outcome = match (method.as_str(), path) {
        ("GET", "/token") => {
            let params = parse_form(query.as_bytes());
            get_flow(shared, &params, authorization.as_deref())
        }
        ("POST", "/token") => {
            let params = parse_form(body);
            form = params
                .iter()
                .map(|(k, v)| {
                    let masked = matches!(k.as_str(), "password" | "refresh_token");
                    (k.clone(), if masked { "***".into() } else { v.clone() })
                })
                .collect();
            post_flow(shared, &params)
        }
        (_, "/token") => error(405, "unsupported_method", "use GET or POST"),
        _ => error(404, "not_found", "no such endpoint"),
    };

    shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(TokenRequest {
            method,
            path_and_query: url.clone(),
            authorization: authorization.is_some(),
            user: outcome.user.clone(),
            form,
            scopes: outcome.scopes.clone(),
            status: outcome.status,
        });
    outcome
}

fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn values<'a>(params: &'a [(String, String)], key: &str) -> impl Iterator<Item = &'a str> {
    let key = key.to_string();
    params
        .iter()
        .filter(move |(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

fn first<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    values(params, key).next()
}

fn error(status: u16, code: &str, description: &str) -> Outcome {
    Outcome {
        status,
        body: json!({"error": code, "error_description": description,
                     "errors": [{"code": code.to_uppercase(), "message": description}]}),
        user: None,
        scopes: Vec::new(),
    }
}

fn check_service(params: &[(String, String)]) -> Result<(), Outcome> {
    match first(params, "service") {
        Some(s) if s != TOKEN_SERVICE => Err(error(
            400,
            "invalid_request",
            &format!("unknown service {s:?}"),
        )),
        _ => Ok(()),
    }
}

fn parse_scopes(raw: &[String]) -> Vec<Scope> {
    raw.iter().filter_map(|s| Scope::parse(s)).collect()
}

fn get_flow(shared: &Shared, params: &[(String, String)], auth: Option<&str>) -> Outcome {
    let scopes: Vec<String> = values(params, "scope")
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect();
    let mut user: Option<String> = None;
    let mut outcome = (|| {
        check_service(params)?;
        let authed =
            match auth {
                None => None,
                Some(h) => {
                    let (name, pw) = decode_basic(h).ok_or_else(|| {
                        error(401, "unauthorized", "only Basic authorization is accepted")
                    })?;
                    user = Some(name.clone());
                    Some(access::authenticate(&name, &pw).ok_or_else(|| {
                        error(401, "unauthorized", "invalid username or password")
                    })?)
                }
            };
        let granted = access::grant(authed, &parse_scopes(&scopes));
        let token = shared.signer.issue(
            authed.unwrap_or(""),
            access_claim(&granted),
            TOKEN_LIFETIME_SECS as i64,
        );
        let mut body = json!({
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_LIFETIME_SECS,
            "issued_at": rfc3339(unix_now()),
        });
        if let (Some(u), Some("true")) = (authed, first(params, "offline_token")) {
            body["refresh_token"] = json!(format!("refresh-{u}"));
        }
        Ok(Outcome {
            status: 200,
            body,
            user: None,
            scopes: Vec::new(),
        })
    })()
    .unwrap_or_else(|e: Outcome| e);
    outcome.user = user;
    outcome.scopes = scopes;
    outcome
}

fn post_flow(shared: &Shared, params: &[(String, String)]) -> Outcome {
    let scopes: Vec<String> = values(params, "scope")
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect();
    let mut user: Option<String> = None;
    let mut outcome = (|| {
        check_service(params)?;
        let authed: &'static str = match first(params, "grant_type") {
            Some("password") => {
                let (Some(name), Some(pw)) = (first(params, "username"), first(params, "password"))
                else {
                    return Err(error(
                        400,
                        "invalid_request",
                        "username and password required",
                    ));
                };
                user = Some(name.to_string());
                access::authenticate(name, pw)
                    .ok_or_else(|| error(401, "invalid_grant", "invalid username or password"))?
            }
            Some("refresh_token") => {
                let Some(rt) = first(params, "refresh_token") else {
                    return Err(error(400, "invalid_request", "refresh_token required"));
                };
                let name = rt.strip_prefix("refresh-").unwrap_or("");
                if !name.is_empty() {
                    user = Some(name.to_string());
                }
                [crate::TOKEN_PUSHER, crate::TOKEN_PULLER]
                    .into_iter()
                    .find(|u| *u == name)
                    .ok_or_else(|| error(401, "invalid_grant", "unknown refresh token"))?
            }
            Some(other) => {
                return Err(error(
                    400,
                    "unsupported_grant_type",
                    &format!("unsupported grant_type {other:?}"),
                ))
            }
            None => return Err(error(400, "invalid_request", "grant_type required")),
        };
        let granted = access::grant(Some(authed), &parse_scopes(&scopes));
        let token = shared
            .signer
            .issue(authed, access_claim(&granted), TOKEN_LIFETIME_SECS as i64);
        let scope_str: Vec<String> = granted
            .iter()
            .map(|s| format!("{}:{}:{}", s.typ, s.name, s.actions.join(",")))
            .collect();
        Ok(Outcome {
            status: 200,
            body: json!({
                "access_token": token,
                "refresh_token": format!("refresh-{authed}"),
                "expires_in": TOKEN_LIFETIME_SECS,
                "issued_at": rfc3339(unix_now()),
                "scope": scope_str.join(" "),
            }),
            user: None,
            scopes: Vec::new(),
        })
    })()
    .unwrap_or_else(|e: Outcome| e);
    outcome.user = user;
    outcome.scopes = scopes;
    outcome
}

/// `Basic base64(user:password)` → (user, password).
fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}
