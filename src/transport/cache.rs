//! What a client remembers across its operations: how each registry answered its ping
//! (the scheme and the challenge), the tokens it was given, the rate limits registries
//! announced, and which mirrors failed it.

use super::challenge::Challenge;
use super::http::Response;
use super::rate_limit::RateLimit;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// What the ping of a registry taught us; kept for the client's lifetime.
#[derive(Debug, Clone)]
pub(crate) struct Ping {
    pub(crate) scheme: &'static str,
    pub(crate) challenge: Option<Challenge>,
    /// Read from the ping cache on disk rather than asked: used until the registry or its
    /// token server contradicts it.
    pub(crate) remembered: bool,
}

/// How long a mirror that could not be reached is left out of reads.
pub const MIRROR_DOWN_FOR: Duration = Duration::from_secs(60);
/// At most this many blobs are remembered as served wrong by a mirror; past it the record
/// starts again (a long-lived client must not grow without bound).
const MIRROR_FAILURES_KEPT: usize = 4096;

/// State shared by every operation of one client.
#[derive(Default)]
pub struct Shared {
    pub(crate) pings: Mutex<HashMap<String, Ping>>,
    /// One ping at a time per registry: threads starting together wait for the first.
    pub(crate) ping_gates: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    pub(crate) tokens: Mutex<HashMap<String, String>>,
    /// The last rate limit each registry (`host[:port]`, lower case) announced on a
    /// manifest response.
    pub(crate) rate_limits: Mutex<BTreeMap<String, RateLimit>>,
    /// Mirrors (`host[:port]`) that could not be reached, and when.
    mirrors_down: Mutex<HashMap<String, Instant>>,
    /// Per blob digest, the mirror repositories whose read of it failed after it had
    /// started (a body that broke off, bytes that did not hash to the digest): they are
    /// not asked for it again.
    mirror_failures: Mutex<HashMap<String, Vec<String>>>,
    /// One update at a time per fallback referrers tag (`registry/repository:tag`): the
    /// client's own threads attaching to one subject wait for each other instead of
    /// overwriting each other's entries. Other writers are caught by reading back.
    referrers_tag_gates: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Per host (`host:port`), the quickest answer (status and headers) to a request
    /// without a body: about one round trip, where the time of any one request may hold a
    /// connection's setup too.
    fastest_answers: Mutex<HashMap<String, Duration>>,
    /// One token exchange at a time per `registry|credential|` prefix.
    token_gates: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Registries whose remembered ping a session has set out to check.
    ping_checks: Mutex<std::collections::HashSet<String>>,
}

impl Shared {
    /// The gate of the fallback referrers tag `key`, held while it is read, changed and
    /// written back.
    pub fn referrers_tag_gate(&self, key: &str) -> Arc<Mutex<()>> {
        let mut gates = lock(&self.referrers_tag_gates);
        // A long-lived client touching many subjects must not grow without bound: gates
        // nobody holds are dropped.
        if gates.len() > 1024 {
            gates.retain(|_, g| Arc::strong_count(g) > 1);
        }
        gates.entry(key.to_string()).or_default().clone()
    }

    /// A cached token whose key starts with `prefix` (registry and credential) and whose
    /// scopes cover every one of `wanted`: the same resource with at least the actions.
    pub fn token_covering(&self, prefix: &str, wanted: &[String]) -> Option<String> {
        let tokens = lock(&self.tokens);
        let mut sorted = wanted.to_vec();
        sorted.sort();
        if let Some(exact) = tokens.get(&format!("{prefix}{}", sorted.join(" "))) {
            return Some(exact.clone());
        }
        tokens
            .iter()
            .filter_map(|(key, token)| Some((key.strip_prefix(prefix)?, token)))
            .find(|(held, _)| {
                let held: Vec<&str> = held.split(' ').collect();
                wanted
                    .iter()
                    .all(|w| held.iter().any(|h| scope_covers(h, w)))
            })
            .map(|(_, token)| token.clone())
    }

    /// The gate held while a token for `prefix` (registry and credential) is fetched.
    pub(crate) fn token_gate(&self, prefix: &str) -> Arc<Mutex<()>> {
        let mut gates = lock(&self.token_gates);
        if gates.len() > 1024 {
            gates.retain(|_, g| Arc::strong_count(g) > 1);
        }
        gates.entry(prefix.to_string()).or_default().clone()
    }

    /// True for the first caller for `registry`: that session checks its remembered ping.
    pub(crate) fn claim_ping_check(&self, registry: &str) -> bool {
        lock(&self.ping_checks).insert(registry.to_string())
    }

    /// Records how long `host` took to answer a request without a body.
    pub fn record_answer(&self, host: &str, took: Duration) {
        let mut answers = lock(&self.fastest_answers);
        if answers.len() >= 1024 && !answers.contains_key(host) {
            answers.clear();
        }
        let fastest = answers.entry(host.to_string()).or_insert(took);
        *fastest = (*fastest).min(took);
    }

    /// The quickest answer `host` gave so far, if any: an estimate of the round trip to it.
    pub fn fastest_answer(&self, host: &str) -> Option<Duration> {
        lock(&self.fastest_answers).get(host).copied()
    }

    /// Forgets tokens, e.g. when the client's credentials change.
    pub fn clear_tokens(&self) {
        lock(&self.tokens).clear();
    }

    /// Keeps what `response` says about `registry`'s rate limit as the last seen, when it
    /// says anything.
    pub fn record_rate_limit(&self, registry: &str, response: &Response) {
        if let Some(rl) = super::rate_limit::parse(&response.headers, SystemTime::now()) {
            lock(&self.rate_limits).insert(registry.to_ascii_lowercase(), rl);
        }
    }

    /// The last rate limit `registry` announced, if any.
    pub fn rate_limit(&self, registry: &str) -> Option<RateLimit> {
        lock(&self.rate_limits)
            .get(&registry.to_ascii_lowercase())
            .copied()
    }

    /// The registries a rate limit was seen from, sorted.
    pub fn rate_limited_registries(&self) -> Vec<String> {
        lock(&self.rate_limits).keys().cloned().collect()
    }

    pub(crate) fn mark_mirror_down(&self, host: &str) {
        lock(&self.mirrors_down).insert(host.to_string(), Instant::now());
    }

    /// How long ago `host` was found unreachable, while that still counts.
    pub(crate) fn mirror_down_since(&self, host: &str) -> Option<Duration> {
        let mut down = lock(&self.mirrors_down);
        let since = down.get(host)?.elapsed();
        if since >= MIRROR_DOWN_FOR {
            down.remove(host);
            return None;
        }
        Some(since)
    }

    pub(crate) fn record_mirror_failure(&self, digest: &str, mirror_repository: &str) {
        let mut failures = lock(&self.mirror_failures);
        if failures.len() >= MIRROR_FAILURES_KEPT && !failures.contains_key(digest) {
            failures.clear();
        }
        let list = failures.entry(digest.to_string()).or_default();
        if !list.iter().any(|m| m == mirror_repository) {
            list.push(mirror_repository.to_string());
        }
    }

    pub(crate) fn mirror_failed(&self, digest: &str, mirror_repository: &str) -> bool {
        lock(&self.mirror_failures)
            .get(digest)
            .is_some_and(|l| l.iter().any(|m| m == mirror_repository))
    }

    /// How many mirrors failed a read of `digest` so far: a read that fails while this
    /// grows failed on a mirror, and may be tried again from the next source.
    pub fn mirror_failures(&self, digest: &str) -> usize {
        lock(&self.mirror_failures).get(digest).map_or(0, Vec::len)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether the token scope `held` (`type:name:actions`) grants all that `wanted` asks: the
/// same type and name, and every action of it (or `*`).
pub(crate) fn scope_covers(held: &str, wanted: &str) -> bool {
    let split = |s: &str| {
        s.rsplit_once(':')
            .map(|(resource, actions)| (resource.to_string(), actions.to_string()))
    };
    let (Some((held_resource, held_actions)), Some((wanted_resource, wanted_actions))) =
        (split(held), split(wanted))
    else {
        return held == wanted;
    };
    if held_resource != wanted_resource {
        return false;
    }
    let held: Vec<&str> = held_actions.split(',').collect();
    held.contains(&"*") || wanted_actions.split(',').all(|a| held.contains(&a))
}

#[cfg(test)]
mod scope_tests {
    use super::*;

    #[test]
    fn the_quickest_answer_of_each_host_is_kept() {
        let shared = Shared::default();
        assert_eq!(shared.fastest_answer("r:5000"), None);
        shared.record_answer("r:5000", Duration::from_millis(300));
        shared.record_answer("r:5000", Duration::from_millis(150));
        shared.record_answer("r:5000", Duration::from_millis(200));
        shared.record_answer("other:443", Duration::from_millis(5));
        assert_eq!(
            shared.fastest_answer("r:5000"),
            Some(Duration::from_millis(150))
        );
    }

    #[test]
    fn a_token_for_more_scopes_serves_fewer() {
        assert!(scope_covers(
            "repository:a/b:push,pull",
            "repository:a/b:pull"
        ));
        assert!(scope_covers("repository:a/b:*", "repository:a/b:delete"));
        assert!(!scope_covers(
            "repository:a/b:pull",
            "repository:a/b:push,pull"
        ));
        assert!(!scope_covers("repository:a/bc:pull", "repository:a/b:pull"));
        let shared = Shared::default();
        lock(&shared.tokens).insert(
            "r|f|repository:dst:push,pull repository:src:pull".into(),
            "T".into(),
        );
        let get = |w: &[&str]| {
            shared.token_covering("r|f|", &w.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(get(&["repository:dst:pull"]).as_deref(), Some("T"));
        assert_eq!(
            get(&["repository:src:pull", "repository:dst:push"]).as_deref(),
            Some("T")
        );
        assert_eq!(get(&["repository:src:push"]), None);
        assert_eq!(get(&["repository:other:pull"]), None);
        assert_eq!(
            shared.token_covering("r|g|", &["repository:dst:pull".to_string()]),
            None
        );
    }
}
