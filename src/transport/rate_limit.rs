//! Rate limits registries announce on their answers: the IETF RateLimit header fields in
//! their drafts' forms (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`,
//! `RateLimit-Policy`, and the combined `RateLimit`), with Docker Hub's
//! `ratelimit-limit: 100;w=21600` among them. The last values seen on a manifest response
//! are kept per registry in the client's cache, and a 429 says until when it holds.

use super::http::Response;
use super::retry::{httpdate_parse, parse_retry_after};
use std::time::{Duration, SystemTime};

/// What one response said about the registry's rate limit. A value the registry did not
/// give is None.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// The window, in seconds (`w=`).
    pub window_seconds: Option<u64>,
    /// When the current window ends, when the registry said so (`RateLimit-Reset`).
    pub reset: Option<SystemTime>,
}

/// The number of one item (`100` of `100;w=21600`) and its parameters.
fn item(text: &str) -> (Option<u64>, Vec<(String, String)>) {
    let mut parts = text.split(';').map(str::trim);
    let first = parts.next().unwrap_or("");
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            )
        })
        .collect();
    (first.parse().ok(), params)
}

fn param(params: &[(String, String)], name: &str) -> Option<u64> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// Reads what `headers` say about the rate limit, `now` being the time of the answer
/// (`RateLimit-Reset` counts seconds from it). None when they give neither a limit nor
/// what remains of it.
pub fn parse(headers: &[(String, String)], now: SystemTime) -> Option<RateLimit> {
    let rl = read(headers, now);
    (rl.limit.is_some() || rl.remaining.is_some()).then_some(rl)
}

fn read(headers: &[(String, String)], now: SystemTime) -> RateLimit {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let mut rl = RateLimit {
        limit: None,
        remaining: None,
        window_seconds: None,
        reset: None,
    };
    let mut reset_seconds = None;
    // `RateLimit-Limit: 10, 10;w=1, 50;w=60`: the limit in force, then the policies; the
    // window is that of the policy whose quota is the limit, else the first one given.
    if let Some(v) = get("ratelimit-limit") {
        let items: Vec<_> = v.split(',').map(item).collect();
        if let Some((limit, params)) = items.first() {
            rl.limit = *limit;
            rl.window_seconds = param(params, "w")
                .or_else(|| {
                    items
                        .iter()
                        .find(|(q, p)| *q == *limit && param(p, "w").is_some())
                        .and_then(|(_, p)| param(p, "w"))
                })
                .or_else(|| items.iter().find_map(|(_, p)| param(p, "w")));
        }
    }
    if let Some(v) = get("ratelimit-remaining") {
        let (remaining, params) = item(v.split(',').next().unwrap_or(""));
        rl.remaining = remaining;
        rl.window_seconds = rl.window_seconds.or_else(|| param(&params, "w"));
    }
    if let Some(v) = get("ratelimit-reset") {
        reset_seconds = item(v.split(',').next().unwrap_or("")).0;
    }
    // `RateLimit-Policy: 100;w=60` (draft 04 on) or `"default";q=100;w=60` (draft 08 on).
    if let Some(v) = get("ratelimit-policy") {
        let (number, params) = item(v.split(',').next().unwrap_or(""));
        rl.limit = rl.limit.or(param(&params, "q")).or(number);
        rl.window_seconds = rl.window_seconds.or_else(|| param(&params, "w"));
    }
    // `RateLimit: limit=100, remaining=50, reset=50` (drafts 05 to 07) or
    // `"default";r=50;t=30` (draft 08 on).
    if let Some(v) = get("ratelimit") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for part in v.split([',', ';']) {
            if let Some((k, val)) = part.split_once('=') {
                fields.push((k.trim().to_ascii_lowercase(), val.trim().to_string()));
            }
        }
        rl.limit = rl.limit.or_else(|| param(&fields, "limit"));
        rl.remaining = rl
            .remaining
            .or_else(|| param(&fields, "remaining"))
            .or_else(|| param(&fields, "r"));
        reset_seconds = reset_seconds
            .or_else(|| param(&fields, "reset"))
            .or_else(|| param(&fields, "t"));
    }
    // A reset past what the clock can hold is no reset at all.
    rl.reset = reset_seconds.and_then(|s| now.checked_add(Duration::from_secs(s)));
    rl
}

/// Until when a 429 holds: its `Retry-After`, else the window's reset.
pub fn limited_until(response: &Response, now: SystemTime) -> Option<SystemTime> {
    let retry_after = response.header("retry-after").map(str::trim);
    // A date is kept as it is (going through a wait from now would lose its seconds).
    retry_after
        .and_then(httpdate_parse)
        .or_else(|| {
            retry_after
                .and_then(parse_retry_after)
                .and_then(|d| now.checked_add(d))
        })
        .or_else(|| read(&response.headers, now).reset)
}

/// `2026-01-02T03:04:05Z`.
pub fn format_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} s after the epoch"))
}

/// The words a 429's message ends with: until when, and the limit when it was given.
pub fn describe_429(response: &Response) -> String {
    let now = SystemTime::now();
    let mut text = match limited_until(response, now) {
        Some(t) => format!("rate limited until {}", format_time(t)),
        None => "rate limited; the registry did not say until when".to_string(),
    };
    if let Some(rl) = parse(&response.headers, now) {
        if let Some(limit) = rl.limit {
            text.push_str(&format!("; limit {limit}"));
            if let Some(w) = rl.window_seconds {
                text.push_str(&format!(" per {w} s"));
            }
        }
        if let Some(remaining) = rl.remaining {
            text.push_str(&format!(", {remaining} remaining"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn docker_hubs_form() {
        let rl = parse(
            &h(&[
                ("ratelimit-limit", "100;w=21600"),
                ("ratelimit-remaining", "76;w=21600"),
                ("docker-ratelimit-source", "192.0.2.1"),
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(rl.limit, Some(100));
        assert_eq!(rl.remaining, Some(76));
        assert_eq!(rl.window_seconds, Some(21600));
        assert_eq!(rl.reset, None);
    }

    #[test]
    fn the_drafts_forms() {
        let rl = parse(
            &h(&[
                ("RateLimit-Limit", "10, 10;w=1, 50;w=60"),
                ("RateLimit-Remaining", "3"),
                ("RateLimit-Reset", "7"),
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(
            (rl.limit, rl.remaining, rl.window_seconds),
            (Some(10), Some(3), Some(1))
        );
        assert_eq!(rl.reset, Some(NOW + Duration::from_secs(7)));

        let rl = parse(
            &h(&[
                ("RateLimit-Policy", "100;w=60"),
                ("RateLimit", "limit=100, remaining=50, reset=50"),
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(
            (rl.limit, rl.remaining, rl.window_seconds),
            (Some(100), Some(50), Some(60))
        );
        assert_eq!(rl.reset, Some(NOW + Duration::from_secs(50)));

        let rl = parse(
            &h(&[
                ("RateLimit-Policy", "\"default\";q=500;w=3600"),
                ("RateLimit", "\"default\";r=12;t=30"),
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(
            (rl.limit, rl.remaining, rl.window_seconds),
            (Some(500), Some(12), Some(3600))
        );
        assert_eq!(rl.reset, Some(NOW + Duration::from_secs(30)));
    }

    #[test]
    fn resets_past_the_clock_are_dropped() {
        let rl = parse(
            &h(&[
                ("RateLimit-Remaining", "1"),
                ("RateLimit-Reset", "18446744073709551615"),
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(rl.reset, None);
        let r = response(&[("Retry-After", "18446744073709551615")]);
        assert_eq!(limited_until(&r, SystemTime::now()), None);
    }

    #[test]
    fn nothing_or_nonsense_is_no_rate_limit() {
        assert_eq!(parse(&h(&[("content-type", "x")]), NOW), None);
        assert_eq!(parse(&h(&[("ratelimit-limit", "lots")]), NOW), None);
        let rl = parse(&h(&[("ratelimit-remaining", "0")]), NOW).unwrap();
        assert_eq!((rl.limit, rl.remaining), (None, Some(0)));
    }

    fn response(headers: &[(&str, &str)]) -> Response {
        Response {
            status: 429,
            headers: h(headers),
            url: url::Url::parse("https://r.io/v2/a/manifests/v1").unwrap(),
            body: Box::new(std::io::empty()),
        }
    }

    #[test]
    fn a_429_says_until_when() {
        let r = response(&[("Retry-After", "Sun, 06 Nov 2044 08:49:37 GMT")]);
        assert_eq!(describe_429(&r), "rate limited until 2044-11-06T08:49:37Z");
        let r = response(&[
            ("ratelimit-limit", "100;w=21600"),
            ("ratelimit-remaining", "0;w=21600"),
        ]);
        assert_eq!(
            describe_429(&r),
            "rate limited; the registry did not say until when; limit 100 per 21600 s, 0 remaining"
        );
        let r = response(&[("RateLimit-Reset", "60")]);
        let until = limited_until(&r, NOW).unwrap();
        assert_eq!(until, NOW + Duration::from_secs(60));
        assert_eq!(format_time(until), "1970-01-01T00:01:00Z");
    }
}
