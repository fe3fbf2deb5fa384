//! When and how long to wait before sending a request again.

use super::http::Response;
use crate::error::{Error, ErrorKind};
use rand::Rng;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    /// The longest single wait, Retry-After included.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Statuses a registry or proxy gives for passing trouble.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): doubling from the initial
    /// backoff with up to 25% jitter, and at least the `Retry-After` of the answer, whatever
    /// its status (servers send it with 429 and 503, proxies with 502 and 504 too).
    pub fn wait_after(&self, attempt: u32, response: Option<&Response>) -> Duration {
        self.wait_at_least(attempt, response.and_then(retry_after_of))
    }

    /// `wait_after` for a failure already turned into an `Error` (which keeps the answer's
    /// `Retry-After`): the retry loops of whole units (uploads, the ping) use it.
    pub fn wait_after_error(&self, attempt: u32, err: &Error) -> Duration {
        self.wait_at_least(attempt, err.retry_after)
    }

    fn wait_at_least(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
        let jitter_ms = (exp.as_millis() as u64 / 4).max(1);
        let backoff = exp + Duration::from_millis(rand::thread_rng().gen_range(0..jitter_ms));
        backoff
            .max(retry_after.unwrap_or_default())
            .min(self.max_wait)
    }
}

/// The `Retry-After` of a response, when it has a usable one.
pub fn retry_after_of(response: &Response) -> Option<Duration> {
    response.header("retry-after").and_then(parse_retry_after)
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate_parse(value)?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires senders to use.
pub(crate) fn httpdate_parse(s: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: u64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<_>>>()?;
    // Years past 9999 are not dates a server means, and would overflow the arithmetic.
    if hms.len() != 3
        || !(1..=31).contains(&day)
        || !(1970..=9999).contains(&year)
        || hms[0] > 23
        || hms[1] > 59
        || hms[2] > 60
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

pub(crate) fn is_retryable_error(e: &Error) -> bool {
    e.kind == ErrorKind::Transport
        && !super::tls::is_permanent_failure(&e.message)
        // Past the deadline, a new attempt cannot end in time.
        && !e.message.contains(super::watch::DEADLINE_PASSED)
}

/// Whether an operation that failed with `e` is worth trying again as a whole (an upload
/// re-opened from its source, for instance).
pub fn is_retryable(e: &Error) -> bool {
    is_retryable_error(e)
        || e.kind == ErrorKind::TooManyRequests
        || (e.http_status != 0 && is_retryable_status(e.http_status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784111777))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        // Nothing a server sends overflows the arithmetic.
        assert_eq!(httpdate_parse("Sun, 06 Nov 99999999999 08:49:37 GMT"), None);
        assert_eq!(
            httpdate_parse("Sun, 06 Nov 1994 18446744073709551615:49:37 GMT"),
            None
        );
    }

    #[test]
    fn retry_after_counts_with_any_status_and_through_an_error() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_wait: Duration::from_secs(60),
        };
        let response = |status| Response {
            status,
            headers: vec![("Retry-After".into(), "2".into())],
            url: url::Url::parse("http://r.io/v2/").unwrap(),
            body: Box::new(std::io::empty()),
        };
        for status in [429, 502, 503, 504] {
            assert!(p.wait_after(1, Some(&response(status))) >= Duration::from_secs(2));
        }
        let err = super::super::status::error_from_response("PATCH", response(502));
        assert_eq!(err.retry_after, Some(Duration::from_secs(2)));
        assert!(p.wait_after_error(1, &err) >= Duration::from_secs(2));
        let capped = RetryPolicy {
            max_wait: Duration::from_secs(1),
            ..p
        };
        assert_eq!(capped.wait_after_error(1, &err), Duration::from_secs(1));
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_wait: Duration::from_secs(60),
        };
        for (attempt, base) in [(1, 100u64), (2, 200), (3, 400)] {
            let w = p.wait_after(attempt, None).as_millis() as u64;
            assert!(
                w >= base && w < base + base / 4 + 1,
                "attempt {attempt}: {w}"
            );
        }
    }
}
