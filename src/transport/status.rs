//! Turning an unexpected HTTP answer into an `Error`: the status, the registry's error
//! body (`{"errors":[{"code","message","detail"}]}`) and the class a caller acts on.

use super::http::Response;
use super::{rate_limit, redact};
use crate::error::{Error, ErrorKind};
use serde::Deserialize;

/// Error bodies are read up to this size; a larger one is reported without its text.
pub const ERROR_BODY_LIMIT: u64 = 64 * 1024;

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<Diagnostic>,
}

#[derive(Deserialize)]
struct Diagnostic {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The class of a registry's refusal.
pub fn kind_for(status: u16, code: Option<&str>) -> ErrorKind {
    match code {
        Some("MANIFEST_UNKNOWN" | "BLOB_UNKNOWN" | "NAME_UNKNOWN") => return ErrorKind::NotFound,
        Some("DENIED") => return ErrorKind::Denied,
        Some("TOOMANYREQUESTS") => return ErrorKind::TooManyRequests,
        Some("UNSUPPORTED") => return ErrorKind::Unsupported,
        // An upload or manifest whose content does not hash to the digest given for it.
        Some("DIGEST_INVALID") => return ErrorKind::DigestMismatch,
        Some("UNAUTHORIZED") if status == 401 => return ErrorKind::Unauthorized,
        _ => {}
    }
    match status {
        404 => ErrorKind::NotFound,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Denied,
        429 => ErrorKind::TooManyRequests,
        405 => ErrorKind::Unsupported,
        _ => ErrorKind::Registry,
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Builds the error for `response` to `method`, reading (at most 64 KiB of) its body.
pub fn error_from_response(method: &str, mut response: Response) -> Error {
    let status = response.status;
    let retry_after = super::retry::retry_after_of(&response);
    let shown_url = redact::url(&response.url);
    let body = if method == "HEAD" {
        Ok(Vec::new())
    } else {
        response.read_limited(ERROR_BODY_LIMIT, "error body")
    };
    let (code, detail) = match &body {
        Ok(bytes) => match serde_json::from_slice::<ErrorBody>(bytes) {
            Ok(parsed) if !parsed.errors.is_empty() => {
                let first = &parsed.errors[0];
                let mut detail = parsed
                    .errors
                    .iter()
                    .map(|d| {
                        if d.message.is_empty() {
                            d.code.clone()
                        } else {
                            format!("{}: {}", d.code, d.message)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                if detail.is_empty() {
                    detail = reason(status).to_string();
                }
                let code = Some(first.code.clone()).filter(|c| !c.is_empty());
                (code, detail)
            }
            _ => {
                let text = String::from_utf8_lossy(bytes);
                let text = text.trim();
                let mut snippet: String = text.chars().take(200).collect();
                if text.chars().count() > 200 {
                    snippet.push('…');
                }
                let detail = if snippet.is_empty() {
                    reason(status).to_string()
                } else {
                    format!("{} {}", reason(status), snippet).trim().to_string()
                };
                (None, detail)
            }
        },
        Err(_) => (
            None,
            format!(
                "{} (error body over {ERROR_BODY_LIMIT} bytes)",
                reason(status)
            ),
        ),
    };
    let kind = kind_for(status, code.as_deref());
    let mut message = format!("{method} {shown_url}: {status} {detail}");
    if kind == ErrorKind::TooManyRequests {
        message = format!(
            "{} ({})",
            message.trim_end(),
            rate_limit::describe_429(&response)
        );
    }
    let mut err = Error::new(kind, message.trim_end()).with_http(status, code);
    err.retry_after = retry_after;
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            url: url::Url::parse("https://r.io/v2/app/manifests/v9?sig=secret").unwrap(),
            body: Box::new(std::io::Cursor::new(body.as_bytes().to_vec())),
        }
    }

    #[test]
    fn structured_error_names_code_and_message() {
        let e = error_from_response(
            "GET",
            response(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v9"}}]}"#,
            ),
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.http_status, 404);
        assert_eq!(e.registry_code.as_deref(), Some("MANIFEST_UNKNOWN"));
        assert_eq!(
            e.message,
            "GET https://r.io/v2/app/manifests/v9?sig=REDACTED: 404 MANIFEST_UNKNOWN: manifest unknown"
        );
    }

    #[test]
    fn a_429_says_until_when_it_is_limited() {
        let mut r = response(
            429,
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#,
        );
        r.headers = vec![
            ("Retry-After".into(), "Sun, 06 Nov 2044 08:49:37 GMT".into()),
            ("ratelimit-limit".into(), "100;w=21600".into()),
            ("ratelimit-remaining".into(), "0;w=21600".into()),
        ];
        let e = error_from_response("GET", r);
        assert_eq!(e.kind, ErrorKind::TooManyRequests);
        assert!(
            e.message.ends_with(
                "TOOMANYREQUESTS: You have reached your pull rate limit. (rate limited until \
                 2044-11-06T08:49:37Z; limit 100 per 21600 s, 0 remaining)"
            ),
            "{}",
            e.message
        );
        let e = error_from_response("HEAD", response(429, ""));
        assert!(
            e.message.ends_with(
                "429 Too Many Requests (rate limited; the registry did not say until when)"
            ),
            "{}",
            e.message
        );
    }

    #[test]
    fn classes_follow_status_and_code() {
        assert_eq!(kind_for(403, None), ErrorKind::Denied);
        assert_eq!(kind_for(401, Some("DENIED")), ErrorKind::Denied);
        assert_eq!(kind_for(429, None), ErrorKind::TooManyRequests);
        assert_eq!(kind_for(405, None), ErrorKind::Unsupported);
        assert_eq!(kind_for(500, Some("UNKNOWN")), ErrorKind::Registry);
        assert_eq!(kind_for(400, Some("NAME_UNKNOWN")), ErrorKind::NotFound);
    }

    #[test]
    fn plain_and_oversized_bodies() {
        let e = error_from_response("GET", response(502, "<html>bad\ngateway</html>"));
        assert_eq!(e.kind, ErrorKind::Registry);
        assert!(!e.message.contains('\n'));
        assert!(
            e.message.contains("502 Bad Gateway <html>bad"),
            "{}",
            e.message
        );
        let big = "x".repeat(70 * 1024);
        let e = error_from_response("GET", response(500, &big));
        assert_eq!(e.http_status, 500);
        assert!(e.message.contains("over 65536"), "{}", e.message);
        let e = error_from_response("HEAD", response(404, ""));
        assert_eq!(e.registry_code, None);
        assert_eq!(e.kind, ErrorKind::NotFound);
    }
}
