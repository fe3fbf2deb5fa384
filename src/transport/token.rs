//! The Bearer token exchange of the Docker token spec: GET with repeated `scope` and
//! `service`, or the OAuth2 POST with a refresh (identity) token.

use super::challenge::Challenge;
use super::http::{Body, Exchange, Request};
use super::{redact, status};
use crate::authn::Credential;
use crate::error::{Error, ErrorKind, Result};
use base64::Engine as _;
use serde::Deserialize;
use std::net::IpAddr;
use std::sync::Arc;
use url::Url;

/// Token responses are small; a larger one is refused.
pub const TOKEN_BODY_LIMIT: u64 = 64 * 1024;
const MAX_TOKEN_REDIRECTS: usize = 10;

#[derive(Debug, Clone)]
pub struct Token {
    pub token: String,
    /// A refresh token the server handed back; later exchanges use it.
    pub refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    refresh_token: String,
}

fn is_private_ip(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private_ip(&IpAddr::V4(v4)))
        }
    }
}

/// A realm must be https (http only when the registry itself answered over http), and
/// may not point at a private, loopback or link-local IP literal unless that is the
/// registry's own host: a hostile registry must not be able to aim our credentials at
/// the host's internal network.
pub fn validate_realm(realm: &str, registry_host: &str, registry_scheme: &str) -> Result<Url> {
    let url = Url::parse(realm)
        .map_err(|e| Error::invalid_response(format!("token realm {realm:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if registry_scheme == "http" => {}
        other => {
            return Err(Error::invalid_response(format!(
                "token realm {} uses {other} while the registry uses {registry_scheme}; refused",
                redact::url(&url)
            )))
        }
    }
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    let registry_host = registry_host.trim_start_matches('[').trim_end_matches(']');
    if !host.eq_ignore_ascii_case(registry_host) {
        if let Ok(ip) = host.parse::<IpAddr>() {
            if is_private_ip(&ip) {
                return Err(Error::invalid_response(format!(
                    "token realm {} points at a private address that is not the registry's host; refused",
                    redact::url(&url)
                )));
            }
        }
    }
    Ok(url)
}

fn basic_header(username: &str, password: &str) -> String {
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
    )
}

pub struct TokenRequest<'a> {
    /// Sends one exchange (the session's, retrying passing failures).
    pub exchange: &'a dyn Exchange,
    pub user_agent: &'a str,
    pub challenge: &'a Challenge,
    pub registry_host: &'a str,
    pub registry_scheme: &'a str,
    pub credential: &'a Credential,
    pub scopes: &'a [String],
}

/// Obtains a token for `scopes`. A registry token is used as it is; an identity token
/// goes through the OAuth2 POST (falling back to GET on 404); everything else uses GET.
pub fn fetch(req: &TokenRequest<'_>) -> Result<Token> {
    if let Credential::RegistryToken(t) = req.credential {
        return Ok(Token {
            token: t.clone(),
            refresh_token: None,
        });
    }
    let realm = req
        .challenge
        .param("realm")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            Error::invalid_response(format!(
                "registry {} sent a Bearer challenge without a realm",
                req.registry_host
            ))
        })?;
    let realm = validate_realm(realm, req.registry_host, req.registry_scheme)?;
    let service = req.challenge.param("service").unwrap_or("");
    if let Credential::IdentityToken(refresh) = req.credential {
        match fetch_oauth(req, &realm, service, refresh) {
            Err(e) if e.http_status == 404 => {}
            other => return other,
        }
    }
    fetch_get(req, &realm, service)
}

fn fetch_get(req: &TokenRequest<'_>, realm: &Url, service: &str) -> Result<Token> {
    let mut url = realm.clone();
    {
        let mut q = url.query_pairs_mut();
        for scope in req.scopes {
            q.append_pair("scope", scope);
        }
        q.append_pair("service", service);
    }
    let mut request = Request::new("GET", url).header("User-Agent", req.user_agent);
    if let Credential::Basic { username, password } = req.credential {
        request.set_header("Authorization", basic_header(username, password));
    }
    send(req, request)
}

fn fetch_oauth(req: &TokenRequest<'_>, realm: &Url, service: &str, refresh: &str) -> Result<Token> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "refresh_token");
    form.append_pair("refresh_token", refresh);
    if !service.is_empty() {
        form.append_pair("service", service);
    }
    form.append_pair("scope", &req.scopes.join(" "));
    form.append_pair("client_id", "rr");
    let body: Arc<[u8]> = form.finish().into_bytes().into();
    let request = Request::new("POST", realm.clone())
        .header("User-Agent", req.user_agent)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(Body::Bytes(body));
    send(req, request)
}

fn send(req: &TokenRequest<'_>, mut request: Request) -> Result<Token> {
    let method = request.method;
    for _ in 0..=MAX_TOKEN_REDIRECTS {
        let mut response = req.exchange.exchange(&request)?;
        if matches!(response.status, 301 | 302 | 303 | 307 | 308) {
            let location = response.header("location").unwrap_or("").to_string();
            let next = response.url.join(&location).map_err(|_| {
                Error::invalid_response(format!(
                    "token server {} redirected to an unusable Location",
                    redact::url(&response.url)
                ))
            })?;
            let next = validate_realm(next.as_str(), req.registry_host, req.registry_scheme)?;
            if next.origin() != request.url.origin() {
                request.remove_header("Authorization");
            }
            if response.status == 303
                || (method == "POST" && response.status != 307 && response.status != 308)
            {
                request.method = "GET";
                request.body = Body::Empty;
                request.remove_header("Content-Type");
            }
            request.url = next;
            response.drain();
            continue;
        }
        if response.status != 200 {
            let mut err = status::error_from_response(request.method, response);
            if err.http_status == 401 || err.http_status == 403 {
                err.kind = ErrorKind::Unauthorized;
            }
            return Err(err.context("token exchange"));
        }
        let body = response.read_limited(TOKEN_BODY_LIMIT, "token response")?;
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            Error::invalid_response(format!(
                "token response from {} is not valid JSON: {e}",
                redact::url(&response.url)
            ))
        })?;
        let token = if !parsed.access_token.is_empty() {
            parsed.access_token
        } else {
            parsed.token
        };
        if token.is_empty() {
            return Err(Error::invalid_response(format!(
                "token response from {} holds no token",
                redact::url(&response.url)
            )));
        }
        return Ok(Token {
            token,
            refresh_token: Some(parsed.refresh_token).filter(|t| !t.is_empty()),
        });
    }
    Err(Error::invalid_response(format!(
        "token server {} redirected more than {MAX_TOKEN_REDIRECTS} times",
        redact::url(&request.url)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_rules() {
        assert!(validate_realm("https://auth.docker.io/token", "index.docker.io", "https").is_ok());
        assert!(validate_realm("http://auth.example/token", "r.example", "https").is_err());
        assert!(validate_realm("http://127.0.0.1:9000/token", "127.0.0.1", "http").is_ok());
        assert!(validate_realm("https://169.254.169.254/latest", "r.example", "https").is_err());
        assert!(validate_realm("https://10.0.0.1/token", "r.example", "https").is_err());
        assert!(validate_realm("https://[::1]/token", "r.example", "https").is_err());
        assert!(validate_realm("https://8.8.8.8/token", "r.example", "https").is_ok());
        assert!(validate_realm("not a url", "r.example", "https").is_err());
        assert!(validate_realm("ftp://x/", "r.example", "https").is_err());
    }
}
