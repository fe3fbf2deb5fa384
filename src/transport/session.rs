//! Sending requests to one registry within one operation: the ping that picks the scheme
//! and learns the challenge, the Authorization that goes only to the registry's origin,
//! exactly one re-authentication per 401, and redirects (retries are the context's).

use super::cache::scope_covers;
use super::cache::{lock, Ping};
use super::challenge::{self, Challenge};
use super::context::{Attempts, Context};
use super::credentials::Source;
use super::http::{Body, Exchange, Request, Response};
use super::ping_store::{same_authority, without_request_params};
use super::retry::{is_retryable_error, is_retryable_status};
use super::{redact, status, token};
use crate::authn::Credential;
use crate::error::{Error, ErrorKind, Result};
use crate::name::Registry;
use base64::Engine as _;
use sha2::Digest as _;
use std::net::IpAddr;
use std::sync::Mutex;
use url::Url;

const MAX_REDIRECTS: usize = 10;

#[derive(Clone)]
enum Auth {
    None,
    Header { value: String, from_cache: bool },
}

struct AuthState {
    scopes: Vec<String>,
    auth: Auth,
    /// The credential resolved for this session, once a challenge asked for one.
    credential: Option<(Credential, Source)>,
}

/// Requests to one registry for one operation, safe to use from several threads.
/// How long the https ping of a registry that may also speak plain http runs alone before
/// the http ping starts beside it: longer than a TLS handshake on the same host, shorter
/// than two round trips of any real network.
const PLAIN_HTTP_HEAD_START: std::time::Duration = std::time::Duration::from_millis(25);

pub struct Session<'a> {
    ctx: &'a Context,
    registry: Registry,
    repository: Option<String>,
    state: Mutex<AuthState>,
}

#[derive(Default)]
struct Reauth {
    /// A remembered ping was contradicted by a 401 and dropped.
    remembered_dropped: bool,
    scopes_added: bool,
    cache_dropped: bool,
    started: bool,
    asked_again: bool,
}

fn origin_of(url: &Url) -> (String, String, u16) {
    (
        url.scheme().to_string(),
        url.host_str().unwrap_or("").to_ascii_lowercase(),
        url.port_or_known_default().unwrap_or(0),
    )
}

fn is_private_literal(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

impl Context {
    /// A session on `registry` asking for `scopes`; `repository` (the path) selects
    /// per-repository keychain entries.
    pub fn session(
        &self,
        registry: &Registry,
        repository: Option<&str>,
        scopes: Vec<String>,
    ) -> Session<'_> {
        Session {
            ctx: self,
            registry: registry.clone(),
            repository: repository.map(String::from),
            state: Mutex::new(AuthState {
                scopes,
                auth: Auth::None,
                credential: None,
            }),
        }
    }
}

/// The context's exchange with its retry policy, for the token exchange on behalf of
/// `registry`: its requests carry the registry's name so that the registry's own TLS
/// and proxy settings (a client certificate, a CA) reach the token endpoint too.
struct TokenExchange<'a> {
    ctx: &'a Context,
    registry: &'a Registry,
    /// One try, no retries: the realm is a remembered one, and a failure is first checked
    /// against a live ping rather than waited out.
    once: bool,
}

impl Exchange for TokenExchange<'_> {
    fn exchange(&self, request: &Request) -> Result<Response> {
        let mut request = request.clone();
        request.for_registry = Some(self.registry.as_str().to_string());
        if self.once {
            self.ctx.send_once(&request, false)
        } else {
            self.ctx.exchange_with_retry(&request)
        }
    }
}

impl<'a> Session<'a> {
    pub fn context(&self) -> &'a Context {
        self.ctx
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Adds a scope (e.g. pull on a mount source) for the tokens fetched from now on.
    pub fn add_scope(&self, scope: String) {
        let mut st = lock(&self.state);
        if !st.scopes.contains(&scope) {
            st.scopes.push(scope);
            st.auth = Auth::None;
        }
    }

    /// `<scheme>://<registry><path>` with the scheme the ping settled on.
    pub fn url(&self, path_and_query: &str) -> Result<Url> {
        let ping = self.ping()?;
        let s = format!(
            "{}://{}{}",
            ping.scheme,
            self.registry.as_str(),
            path_and_query
        );
        Url::parse(&s).map_err(|e| Error::invalid_argument(format!("bad URL {s:?}: {e}")))
    }

    pub fn request(&self, method: &'static str, path_and_query: &str) -> Result<Request> {
        Ok(Request::new(method, self.url(path_and_query)?))
    }

    fn ping(&self) -> Result<Ping> {
        self.ping_from(true)
    }

    /// The registry's ping: the client's own answer, else (when `remembered` allows it)
    /// the one on disk, else a live one.
    fn ping_from(&self, remembered: bool) -> Result<Ping> {
        if let Some(p) = lock(&self.ctx.shared.pings).get(self.registry.as_str()) {
            return Ok(p.clone());
        }
        let gate = lock(&self.ctx.shared.ping_gates)
            .entry(self.registry.as_str().to_string())
            .or_default()
            .clone();
        let _one_at_a_time = lock(&gate);
        if let Some(p) = lock(&self.ctx.shared.pings).get(self.registry.as_str()) {
            return Ok(p.clone());
        }
        let schemes: &[&'static str] = if self.ctx.is_plain_http(&self.registry) {
            &["http"]
        } else if self.registry.is_loopback() || self.ctx.is_insecure(&self.registry) {
            &["https", "http"]
        } else {
            &["https"]
        };
        // Only an answer whose scheme is settled without asking is remembered: which of
        // two schemes a registry speaks is what the ping itself finds out.
        let store = match schemes {
            [only] => self.ctx.ping_store.as_ref().map(|s| (s, *only)),
            _ => None,
        };
        if let (true, Some((store, scheme))) = (remembered, store) {
            if let Some(challenge) = store.load(self.registry.as_str(), scheme) {
                let p = Ping {
                    scheme,
                    challenge,
                    remembered: true,
                };
                lock(&self.ctx.shared.pings).insert(self.registry.as_str().to_string(), p.clone());
                return Ok(p);
            }
        }
        let max = self.ctx.retry.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            self.ctx.check_cancelled()?;
            let outcomes: Vec<Result<Ping>> = if schemes.len() == 1 {
                vec![self.ping_scheme(schemes[0])]
            } else {
                self.ping_both()
            };
            let mut first_error: Option<Error> = None;
            let mut retryable = false;
            for outcome in outcomes {
                match outcome {
                    Ok(p) => {
                        lock(&self.ctx.shared.pings)
                            .insert(self.registry.as_str().to_string(), p.clone());
                        if let Some((store, _)) = store {
                            store.save(self.registry.as_str(), p.scheme, p.challenge.as_ref());
                        }
                        return Ok(p);
                    }
                    Err(e) => {
                        retryable |= is_retryable_error(&e)
                            || (e.http_status != 0 && is_retryable_status(e.http_status));
                        if first_error.is_none() {
                            first_error = Some(e);
                        }
                    }
                }
            }
            let err = first_error.expect("at least one scheme was tried");
            if !retryable || attempt >= max {
                return Err(err.context(format!("ping of registry {}", self.registry)));
            }
            self.ctx
                .sleep(self.ctx.retry.wait_after_error(attempt, &err))?;
            attempt += 1;
        }
    }

    /// Pings over https and, when that has neither answered nor failed within
    /// `PLAIN_HTTP_HEAD_START`, over http beside it (a registry that may speak plain http:
    /// loopback, or insecure). A plain-http registry's failed TLS handshake then costs no
    /// round trips of its own, while a TLS registry that answers at once sees no plain
    /// request. The outcomes, https first: https wins whenever it answers.
    fn ping_both(&self) -> Vec<Result<Ping>> {
        std::thread::scope(|scope| {
            let (sent, https) = std::sync::mpsc::channel();
            scope.spawn(move || {
                let _ = sent.send(self.ping_scheme("https"));
            });
            let ended = || Err(Error::transport("the https ping ended without an answer"));
            match https.recv_timeout(PLAIN_HTTP_HEAD_START) {
                Ok(Ok(p)) => vec![Ok(p)],
                Ok(Err(e)) => vec![Err(e), self.ping_scheme("http")],
                Err(_) => {
                    let http = scope.spawn(|| self.ping_scheme("http"));
                    let first = https.recv().unwrap_or_else(|_| ended());
                    let second = http.join().unwrap_or_else(|_| ended());
                    vec![first, second]
                }
            }
        })
    }

    /// One ping of `/v2/` over `scheme`: 200 (no auth) or 401 (its challenge).
    fn ping_scheme(&self, scheme: &'static str) -> Result<Ping> {
        let url = Url::parse(&format!("{scheme}://{}/v2/", self.registry.as_str()))
            .map_err(|e| Error::invalid_reference(format!("registry {}: {e}", self.registry)))?;
        let req = Request::new("GET", url).header("User-Agent", &self.ctx.user_agent);
        let resp = self.follow_redirects(&req, false, Attempts::Once)?;
        match resp.status {
            200 => {
                resp.drain();
                Ok(Ping {
                    scheme,
                    challenge: None,
                    remembered: false,
                })
            }
            401 => {
                let challenge = challenge::pick(resp.header_all("www-authenticate"));
                resp.drain();
                Ok(Ping {
                    scheme,
                    challenge,
                    remembered: false,
                })
            }
            _ => Err(status::error_from_response("GET", resp)),
        }
    }

    /// Drops a remembered ping that turned out wrong, here and on disk, and asks the
    /// registry. Another session may have asked already: its answer is used.
    fn ping_again(&self, wrong: &Ping) -> Result<Ping> {
        self.forget_remembered(wrong);
        self.ping_from(false)
    }

    /// Forgets a remembered ping, in the client (unless a live one replaced it already)
    /// and on disk.
    fn forget_remembered(&self, wrong: &Ping) {
        {
            let mut pings = lock(&self.ctx.shared.pings);
            if pings
                .get(self.registry.as_str())
                .is_some_and(|p| p.remembered)
            {
                pings.remove(self.registry.as_str());
            }
        }
        if let Some(store) = &self.ctx.ping_store {
            store.forget(self.registry.as_str(), wrong.scheme);
        }
    }

    /// Puts what a 401 answered in place of a remembered ping it contradicted.
    fn replace_remembered(&self, wrong: &Ping, answered: &Challenge) {
        self.record_live(&Ping {
            scheme: wrong.scheme,
            challenge: Some(without_request_params(answered)),
            remembered: false,
        });
    }

    /// `authenticate` for the ping's challenge. A remembered Bearer challenge starts its
    /// token exchange (tried once) while the registry is pinged beside it, so that the
    /// answer is checked at no cost in time and the ping's connection is there for the
    /// first request: what the registry names now decides, and a token exchange that
    /// failed, or went to a realm the registry no longer names, is made again with
    /// retries.
    fn authenticate_for_ping(&self, ping: &Ping) -> Result<Ping> {
        let Some(challenge) = &ping.challenge else {
            return Ok(ping.clone());
        };
        // One session checks a remembered answer; the others starting beside it use it
        // as it is (their token comes from the first one's exchange).
        if !(ping.remembered
            && challenge.is_bearer()
            && self.ctx.shared.claim_ping_check(self.registry.as_str()))
        {
            return match self.authenticate(ping, challenge, false) {
                Err(e) if ping.remembered && e.kind != ErrorKind::Cancelled => {
                    let live = self.ping_again(ping)?;
                    if let Some(now) = &live.challenge {
                        self.authenticate(&live, now, false)?;
                    }
                    Ok(live)
                }
                other => other.map(|()| ping.clone()),
            };
        }
        let (token, live) = std::thread::scope(|scope| {
            let live = scope.spawn(|| self.ping_scheme(ping.scheme));
            let token = self.authenticate(ping, challenge, false);
            let live = live
                .join()
                .unwrap_or_else(|_| Err(Error::transport("the ping ended without an answer")));
            (token, live)
        });
        self.ctx.check_cancelled()?;
        let live = match live {
            Ok(live) => {
                self.record_live(&live);
                live
            }
            // The registry did not answer its ping: the ping with its retries says what
            // is wrong, or finds it again.
            Err(_) => self.ping_again(ping)?,
        };
        match &live.challenge {
            Some(now) if same_authority(now, challenge) && token.is_ok() => {}
            Some(now) => self.authenticate(&live, now, false)?,
            None => lock(&self.state).auth = Auth::None,
        }
        Ok(live)
    }

    /// A live answer in place of a remembered one, in the client (unless another session
    /// put a live one there already) and on disk.
    fn record_live(&self, live: &Ping) {
        {
            let mut pings = lock(&self.ctx.shared.pings);
            if pings
                .get(self.registry.as_str())
                .is_none_or(|p| p.remembered)
            {
                pings.insert(self.registry.as_str().to_string(), live.clone());
            }
        }
        if let Some(store) = &self.ctx.ping_store {
            store.save(self.registry.as_str(), live.scheme, live.challenge.as_ref());
        }
    }

    fn registry_origin(&self, ping: &Ping) -> (String, String, u16) {
        let url = Url::parse(&format!("{}://{}/", ping.scheme, self.registry.as_str()))
            .expect("registry parsed before");
        origin_of(&url)
    }

    fn credential(&self) -> Result<(Credential, Source)> {
        if let Some(c) = &lock(&self.state).credential {
            return Ok(c.clone());
        }
        let c = self.ctx.op_credentials.get(
            &self.ctx.credentials,
            self.registry.as_str(),
            self.repository.as_deref(),
        )?;
        lock(&self.state).credential = Some(c.clone());
        Ok(c)
    }

    /// `registry|credential fingerprint|`: what a token cache key starts with.
    fn token_cache_prefix(&self, credential: &Credential) -> String {
        let fingerprint = sha2::Sha256::digest(format!("{credential:?}{}", secret_of(credential)));
        format!(
            "{}|{}|",
            self.registry.as_str(),
            hex::encode(&fingerprint[..12])
        )
    }

    fn token_cache_key(&self, credential: &Credential, scopes: &[String]) -> String {
        let mut sorted = scopes.to_vec();
        sorted.sort();
        format!(
            "{}{}",
            self.token_cache_prefix(credential),
            sorted.join(" ")
        )
    }

    /// Sets the Authorization this session sends, fetching a token when the challenge is
    /// Bearer. `fresh` skips the token cache.
    fn authenticate(&self, ping: &Ping, challenge: &Challenge, fresh: bool) -> Result<()> {
        let (credential, _) = self.credential()?;
        if !challenge.is_bearer() {
            let header = match &credential {
                Credential::Basic { username, password } => Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{password}").as_bytes())
                )),
                Credential::RegistryToken(t) => Some(format!("Bearer {t}")),
                _ => None,
            };
            lock(&self.state).auth = match header {
                Some(value) => Auth::Header {
                    value,
                    from_cache: false,
                },
                None => Auth::None,
            };
            return Ok(());
        }
        let scopes = lock(&self.state).scopes.clone();
        let prefix = self.token_cache_prefix(&credential);
        // A token asked for with more scopes serves this session too (a copy's token,
        // which also pulls from the source, for a later read of the destination).
        let cached = || match self.ctx.shared.token_covering(&prefix, &scopes) {
            Some(t) if !fresh => {
                lock(&self.state).auth = Auth::Header {
                    value: format!("Bearer {t}"),
                    from_cache: true,
                };
                true
            }
            _ => false,
        };
        if cached() {
            return Ok(());
        }
        // Sessions asking at once for the same registry and credential (a copy's source
        // and destination) wait for the first one's token rather than each fetching one.
        let gate = self.ctx.shared.token_gate(&prefix);
        let _one_at_a_time = lock(&gate);
        if cached() {
            return Ok(());
        }
        let mut credential = credential;
        let token = loop {
            let result = token::fetch(&token::TokenRequest {
                exchange: &TokenExchange {
                    ctx: self.ctx,
                    registry: &self.registry,
                    once: ping.remembered,
                },
                user_agent: &self.ctx.user_agent,
                challenge,
                registry_host: self.registry.host(),
                registry_scheme: ping.scheme,
                credential: &credential,
                scopes: &scopes,
            });
            match result {
                Ok(t) => break t,
                // A remembered realm that refuses the credentials may be the wrong realm:
                // the host is asked again only after a live ping.
                Err(e) if e.kind == ErrorKind::Unauthorized && !ping.remembered => {
                    match self.ctx.op_credentials.rejected(
                        &self.ctx.credentials,
                        self.registry.as_str(),
                        self.repository.as_deref(),
                    )? {
                        Some(again) => {
                            lock(&self.state).credential = Some((again.clone(), Source::Callback));
                            credential = again;
                        }
                        None => {
                            return Err(Error::new(
                                ErrorKind::Unauthorized,
                                format!(
                                    "credentials for {} were rejected: {}",
                                    self.registry, e.message
                                ),
                            )
                            .with_http(e.http_status, e.registry_code))
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        };
        if let Some(refresh) = &token.refresh_token {
            let replaced = Credential::IdentityToken(refresh.clone());
            self.ctx.op_credentials.replace(
                self.registry.as_str(),
                self.repository.as_deref(),
                replaced.clone(),
            );
            if let Some((c, _)) = &mut lock(&self.state).credential {
                *c = replaced;
            }
        }
        let key = self.token_cache_key(&credential, &scopes);
        lock(&self.ctx.shared.tokens).insert(key, token.token.clone());
        lock(&self.state).auth = Auth::Header {
            value: format!("Bearer {}", token.token),
            from_cache: false,
        };
        Ok(())
    }

    /// Sends `request` (its URL built by `url`/`request`), answering auth challenges and
    /// following redirects. Any status comes back as a response; see `send_expect`.
    pub fn send(&self, request: Request) -> Result<Response> {
        self.send_with(request, Attempts::Retry)
    }

    /// `send` with the given retry behaviour.
    pub fn send_with(&self, request: Request, attempts: Attempts) -> Result<Response> {
        let mut ping = self.ping()?;
        let mut request = request;
        request.set_header("User-Agent", self.ctx.user_agent.clone());
        if matches!(lock(&self.state).auth, Auth::None) {
            ping = self.authenticate_for_ping(&ping)?;
        }
        let mut reauth = Reauth::default();
        loop {
            let response = self.follow_redirects(&request, true, attempts)?;
            if response.status == 401 && origin_of(&response.url) == self.registry_origin(&ping) {
                match self.after_unauthorized(&ping, &response, &mut reauth)? {
                    true => {
                        response.drain();
                        continue;
                    }
                    false => return Err(self.unauthorized_error(request.method, response)),
                }
            }
            return Ok(response);
        }
    }

    /// Sends and accepts only `ok` statuses; anything else becomes the registry's error.
    pub fn send_expect(&self, request: Request, ok: &[u16]) -> Result<Response> {
        let method = request.method;
        let response = self.send(request)?;
        if ok.contains(&response.status) {
            Ok(response)
        } else {
            Err(status::error_from_response(method, response))
        }
    }

    fn unauthorized_error(&self, method: &str, response: Response) -> Error {
        let challenge = challenge::pick(response.header_all("www-authenticate"));
        let credential = lock(&self.state).credential.clone();
        let mut err = status::error_from_response(method, response);
        let anonymous = credential.as_ref().is_none_or(|(c, _)| c.is_anonymous());
        let insufficient = challenge
            .as_ref()
            .and_then(|c| c.param("error"))
            .is_some_and(|e| e == "insufficient_scope");
        if anonymous {
            err.kind = ErrorKind::Unauthorized;
            err.message = format!(
                "{} (no credentials were found for {})",
                err.message, self.registry
            );
        } else if insufficient || err.registry_code.as_deref() == Some("DENIED") {
            err.kind = ErrorKind::Denied;
            err.message = format!(
                "{} (the credentials for {} were accepted but do not allow this)",
                err.message, self.registry
            );
        } else {
            err.kind = ErrorKind::Unauthorized;
        }
        err
    }

    /// Decides whether a 401 is worth one more try; returns true to re-send.
    fn after_unauthorized(
        &self,
        ping: &Ping,
        response: &Response,
        reauth: &mut Reauth,
    ) -> Result<bool> {
        let Some(challenge) = challenge::pick(response.header_all("www-authenticate")) else {
            return Ok(false);
        };
        if ping.remembered && !reauth.remembered_dropped {
            let contradicted = match &ping.challenge {
                Some(held) => !same_authority(held, &challenge),
                None => true,
            };
            if contradicted {
                // The registry's own answer replaces the remembered one, for this request,
                // the client's next sessions and the next process.
                reauth.remembered_dropped = true;
                self.replace_remembered(ping, &challenge);
                self.authenticate(ping, &challenge, false)?;
                return Ok(!matches!(lock(&self.state).auth, Auth::None));
            }
        }
        let current = lock(&self.state).auth.clone();
        let insufficient = challenge.param("error") == Some("insufficient_scope");
        if challenge.is_bearer() {
            // A scope the session holds with the actions in another order is not new.
            let new_scopes: Vec<String> = {
                let st = lock(&self.state);
                challenge
                    .scopes()
                    .into_iter()
                    .filter(|s| !st.scopes.iter().any(|held| scope_covers(held, s)))
                    .collect()
            };
            if !new_scopes.is_empty() && !reauth.scopes_added {
                reauth.scopes_added = true;
                {
                    let mut st = lock(&self.state);
                    let mut scopes = new_scopes;
                    scopes.append(&mut st.scopes);
                    st.scopes = scopes;
                }
                self.authenticate(ping, &challenge, true)?;
                return Ok(true);
            }
            match current {
                Auth::None if !reauth.started => {
                    reauth.started = true;
                    self.authenticate(ping, &challenge, false)?;
                    return Ok(true);
                }
                // A cached token may have expired; one that lacks a scope would come back
                // the same from the token server.
                Auth::Header {
                    from_cache: true, ..
                } if !reauth.cache_dropped && !insufficient => {
                    reauth.cache_dropped = true;
                    self.authenticate(ping, &challenge, true)?;
                    return Ok(true);
                }
                _ => {}
            }
        } else if matches!(current, Auth::None) && !reauth.started {
            reauth.started = true;
            self.authenticate(ping, &challenge, false)?;
            return Ok(!matches!(lock(&self.state).auth, Auth::None));
        }
        let (credential, _) = self.credential()?;
        if credential.is_anonymous() || insufficient || reauth.asked_again {
            return Ok(false);
        }
        reauth.asked_again = true;
        match self.ctx.op_credentials.rejected(
            &self.ctx.credentials,
            self.registry.as_str(),
            self.repository.as_deref(),
        )? {
            Some(again) => {
                lock(&self.state).credential = Some((again, Source::Callback));
                self.authenticate(ping, &challenge, true)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Sends one request and follows redirects, attaching Authorization only for the
    /// registry's origin and never going from https to http. The ping sends `Once`:
    /// it retries its whole https-then-http round itself: a plain-http registry must not
    /// cost the retry budget of the https attempt first.
    fn follow_redirects(
        &self,
        request: &Request,
        with_auth: bool,
        attempts: Attempts,
    ) -> Result<Response> {
        let registry_origin = if with_auth {
            Some(self.registry_origin(&self.ping()?))
        } else {
            None
        };
        let mut current = request.clone();
        for _ in 0..=MAX_REDIRECTS {
            let mut outgoing = current.clone();
            outgoing.remove_header("Authorization");
            if let Some(origin) = &registry_origin {
                if origin_of(&outgoing.url) == *origin {
                    if let Auth::Header { value, .. } = &lock(&self.state).auth {
                        outgoing.set_header("Authorization", value.clone());
                    }
                }
            }
            let response = match attempts {
                Attempts::Retry => self.ctx.exchange_with_retry(&outgoing)?,
                Attempts::Once => self.ctx.send_once(&outgoing, false)?,
                Attempts::Cleanup => self.ctx.send_once(&outgoing, true)?,
            };
            if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
                return Ok(response);
            }
            let Some(location) = response.header("location").map(String::from) else {
                return Ok(response);
            };
            let next = response.url.join(&location).map_err(|e| {
                Error::invalid_response(format!(
                    "{} {}: redirect to an unusable Location: {e}",
                    current.method,
                    redact::url(&response.url)
                ))
            })?;
            if current.url.scheme() == "https" && next.scheme() != "https" {
                return Err(Error::transport(format!(
                    "{} {}: refusing a redirect from https to {}",
                    current.method,
                    redact::url(&current.url),
                    redact::url(&next)
                )));
            }
            let next_host = next.host_str().unwrap_or("");
            if !next_host.eq_ignore_ascii_case(current.url.host_str().unwrap_or(""))
                && is_private_literal(next_host)
            {
                return Err(Error::transport(format!(
                    "{} {}: refusing a redirect to the private address {}",
                    current.method,
                    redact::url(&current.url),
                    redact::url(&next)
                )));
            }
            let status = response.status;
            response.drain();
            if status == 303
                || (matches!(status, 301 | 302) && !matches!(current.method, "GET" | "HEAD"))
            {
                current.method = "GET";
                current.body = Body::Empty;
                current.remove_header("Content-Type");
                current.remove_header("Content-Length");
            }
            current.url = next;
        }
        Err(Error::invalid_response(format!(
            "{} {}: more than {MAX_REDIRECTS} redirects",
            request.method,
            redact::url(&request.url)
        )))
    }
}

fn secret_of(c: &Credential) -> &str {
    match c {
        Credential::Anonymous => "",
        Credential::Basic { password, .. } => password,
        Credential::IdentityToken(t) | Credential::RegistryToken(t) => t,
    }
}
