//! Which way a blob's bytes go to a registry, decided from the host's settings, what is
//! documented about the host, what the registry taught the client (bodies it refused) and
//! what the upload session asks for (`OCI-Chunk-Min-Length`); and where to resume from
//! when an upload session reports what it holds. Pure decisions, no requests.

use crate::remote::client::{
    UploadConfig, UploadStrategy, DEFAULT_CHUNK_SIZE, DEFAULT_MONOLITHIC_THRESHOLD, MIN_CHUNK_SIZE,
};

/// What is documented about registries in the wild, used when the host set nothing for
/// that registry: the largest PATCH body each takes.
const KNOWN_HOSTS: &[(&str, u64)] = &[
    // GitHub's registry takes chunks of at most 4 MiB, or a monolithic upload.
    ("ghcr.io", 4 << 20),
];

/// After a refusal, chunks start at most this large: the documented ghcr.io limit, and a
/// few halvings above nginx's default `client_max_body_size` of 1 MiB.
const FALLBACK_CHUNK_START: u64 = 4 << 20;

/// The largest PATCH body documented for `registry`, if any.
pub fn known_max_patch(registry: &str) -> Option<u64> {
    KNOWN_HOSTS
        .iter()
        .find(|(host, _)| *host == registry)
        .map(|(_, max)| *max)
}

/// One request's worth of the way a blob is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// The whole blob as the body of the commit PUT.
    Monolithic,
    /// What is left, in one PATCH.
    Streamed,
    /// What is left, in PATCHes of this many bytes (the last may be shorter).
    Chunked(u64),
}

/// The rules for uploads to one registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub strategy: UploadStrategy,
    /// The chunk size (Chunked) and the largest PATCH (the others).
    pub chunk_size: Option<u64>,
    pub threshold: u64,
    /// The largest body of any request, learned from a refusal.
    pub max_body: Option<u64>,
}

impl Rules {
    /// The host's settings for `registry` (else for all registries, capped by what is
    /// known of the host), with the limits the client learned.
    pub fn for_registry(config: &UploadConfig, registry: &str) -> Rules {
        let (settings, known) = match config.for_registry(registry) {
            Some(own) => (own, None),
            None => (
                config.for_all().unwrap_or_default(),
                known_max_patch(registry),
            ),
        };
        let chunk_size = match (settings.chunk_size, known) {
            (Some(set), Some(known)) => Some(set.min(known)),
            (set, known) => set.or(known),
        };
        Rules {
            strategy: settings.strategy,
            chunk_size,
            threshold: settings
                .monolithic_threshold
                .unwrap_or(DEFAULT_MONOLITHIC_THRESHOLD),
            max_body: config.limits.max_body(registry),
        }
    }

    /// How to send a blob of `size` bytes of which the session holds `offset`, in a
    /// session that wants chunks of at least `min_chunk` (all but the last).
    pub fn way(&self, size: u64, offset: u64, min_chunk: Option<u64>) -> Way {
        let max_body = self.max_body.unwrap_or(u64::MAX);
        let max_patch = self.chunk_size.unwrap_or(u64::MAX).min(max_body);
        let chunked = |c: u64| Way::Chunked(c.max(min_chunk.unwrap_or(0)).max(1));
        let fresh = offset == 0;
        match self.strategy {
            // Nothing to send but the commit.
            _ if fresh && size == 0 => Way::Monolithic,
            UploadStrategy::Monolithic if fresh && size <= max_body => Way::Monolithic,
            UploadStrategy::Auto if fresh && size <= self.threshold && size <= max_body => {
                Way::Monolithic
            }
            UploadStrategy::Chunked => {
                chunked(self.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE).min(max_body))
            }
            _ if size - offset <= max_patch => Way::Streamed,
            _ => chunked(max_patch),
        }
    }

    /// How to send a blob whose size is not known (a host's reader) from wherever the
    /// session stands: never monolithic, since the digest in the URL of that PUT is known
    /// only at the end; in one PATCH unless chunks are asked for or needed.
    pub fn way_of_unknown_size(&self, min_chunk: Option<u64>) -> Way {
        let max_body = self.max_body.unwrap_or(u64::MAX);
        let max_patch = self.chunk_size.unwrap_or(u64::MAX).min(max_body);
        let chunked = |c: u64| Way::Chunked(c.max(min_chunk.unwrap_or(0)).max(1));
        match self.strategy {
            UploadStrategy::Chunked => {
                chunked(self.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE).min(max_body))
            }
            _ if max_patch == u64::MAX => Way::Streamed,
            _ => chunked(max_patch),
        }
    }
}

/// The chunk size to use after a body of `refused` bytes was refused: a power of two
/// below it, at most `FALLBACK_CHUNK_START`; None when that would be under
/// `MIN_CHUNK_SIZE`.
pub fn chunk_below(refused: u64) -> Option<u64> {
    let mut chunk = FALLBACK_CHUNK_START;
    while chunk >= refused && chunk > 0 {
        chunk /= 2;
    }
    (chunk >= MIN_CHUNK_SIZE).then_some(chunk)
}

/// The end of an upload status `Range: 0-END` (also `bytes=0-END`), None when it is not
/// of that form.
pub fn range_end(range: &str) -> Option<u64> {
    let range = range.trim();
    let range = range
        .strip_prefix("bytes=")
        .or_else(|| range.strip_prefix("bytes "))
        .unwrap_or(range);
    let (start, end) = range.split_once('-')?;
    if start.trim() != "0" {
        return None;
    }
    end.trim().parse().ok()
}

/// The offsets an upload may resume from, best first, after the session said it holds
/// `0-END`: the spec's reading (END is the last byte held, so END+1 bytes) and the
/// off-by-one reading (END bytes) that ECR and zot send. `0-0` is what distribution and
/// go-containerregistry say of an empty session, so there 0 comes first. A reading below
/// what the registry had confirmed (`confirmed`) or past what was sent (`sent_upto`) is
/// impossible and left out; both readings are then compared with what was sent.
pub fn resume_offsets(end: u64, confirmed: u64, sent_upto: u64) -> Vec<u64> {
    let readings = if end == 0 {
        [0, 1]
    } else {
        [end.saturating_add(1), end]
    };
    readings
        .into_iter()
        .filter(|&o| o >= confirmed && o <= sent_upto)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::client::{UploadLimits, UploadSettings};

    fn rules(strategy: UploadStrategy, chunk: Option<u64>, max_body: Option<u64>) -> Rules {
        Rules {
            strategy,
            chunk_size: chunk,
            threshold: 1 << 20,
            max_body,
        }
    }

    #[test]
    fn auto_is_monolithic_up_to_the_threshold_then_streamed_or_chunked() {
        let auto = rules(UploadStrategy::Auto, None, None);
        assert_eq!(auto.way(1 << 20, 0, None), Way::Monolithic);
        assert_eq!(auto.way((1 << 20) + 1, 0, None), Way::Streamed);
        assert_eq!(auto.way(0, 0, None), Way::Monolithic);
        // Resumed: the rest goes in one PATCH.
        assert_eq!(auto.way(100, 40, None), Way::Streamed);
        let capped = rules(UploadStrategy::Auto, Some(4 << 20), None);
        assert_eq!(capped.way(4 << 20, 0, None), Way::Streamed);
        assert_eq!(capped.way(64 << 20, 0, None), Way::Chunked(4 << 20));
        // A chunk never under the session's minimum.
        assert_eq!(
            capped.way(64 << 20, 0, Some(5 << 20)),
            Way::Chunked(5 << 20)
        );
    }

    #[test]
    fn a_blob_of_unknown_size_streams_or_goes_in_chunks_never_monolithic() {
        for strategy in [
            UploadStrategy::Auto,
            UploadStrategy::Monolithic,
            UploadStrategy::Streamed,
        ] {
            assert_eq!(
                rules(strategy, None, None).way_of_unknown_size(None),
                Way::Streamed
            );
            assert_eq!(
                rules(strategy, None, Some(512 << 10)).way_of_unknown_size(None),
                Way::Chunked(512 << 10)
            );
        }
        let chunked = rules(UploadStrategy::Chunked, Some(256 << 10), None);
        assert_eq!(chunked.way_of_unknown_size(None), Way::Chunked(256 << 10));
        assert_eq!(
            chunked.way_of_unknown_size(Some(1 << 20)),
            Way::Chunked(1 << 20)
        );
        assert_eq!(
            rules(UploadStrategy::Chunked, None, None).way_of_unknown_size(None),
            Way::Chunked(DEFAULT_CHUNK_SIZE)
        );
        // What is known of a registry's largest PATCH holds for readers too.
        assert_eq!(
            rules(UploadStrategy::Auto, Some(4 << 20), None).way_of_unknown_size(None),
            Way::Chunked(4 << 20)
        );
    }

    #[test]
    fn learned_limits_turn_large_bodies_into_chunks() {
        let learned = rules(UploadStrategy::Auto, None, Some(512 << 10));
        assert_eq!(learned.way(100 << 10, 0, None), Way::Monolithic);
        assert_eq!(learned.way(1 << 20, 0, None), Way::Chunked(512 << 10));
        let mono = rules(UploadStrategy::Monolithic, None, Some(512 << 10));
        assert_eq!(mono.way(1 << 20, 0, None), Way::Chunked(512 << 10));
        assert_eq!(mono.way(10 << 20, 0, None), Way::Chunked(512 << 10));
        let chunked = rules(UploadStrategy::Chunked, Some(16 << 20), Some(4 << 20));
        assert_eq!(chunked.way(64 << 20, 0, None), Way::Chunked(4 << 20));
        let default_chunk = rules(UploadStrategy::Chunked, None, None);
        assert_eq!(
            default_chunk.way(64 << 20, 0, None),
            Way::Chunked(DEFAULT_CHUNK_SIZE)
        );
        assert_eq!(
            rules(UploadStrategy::Streamed, None, None).way(10, 0, None),
            Way::Streamed
        );
    }

    #[test]
    fn settings_of_a_registry_replace_the_known_hosts_and_learned_limits_stay() {
        let mut config = UploadConfig::default();
        let ghcr = Rules::for_registry(&config, "ghcr.io");
        assert_eq!(ghcr.chunk_size, Some(4 << 20));
        assert_eq!(ghcr.threshold, DEFAULT_MONOLITHIC_THRESHOLD);
        assert_eq!(ghcr.way(64 << 20, 0, None), Way::Chunked(4 << 20));
        assert_eq!(Rules::for_registry(&config, "quay.io").chunk_size, None);
        config.limits = std::sync::Arc::new(UploadLimits::default());
        config.limits.lower("quay.io", 2 << 20);
        config.limits.lower("quay.io", 8 << 20);
        assert_eq!(
            Rules::for_registry(&config, "quay.io").max_body,
            Some(2 << 20)
        );
        let _ = UploadSettings::default();
    }

    #[test]
    fn chunks_after_a_refusal_are_below_it() {
        assert_eq!(chunk_below(64 << 20), Some(4 << 20));
        assert_eq!(chunk_below(4 << 20), Some(2 << 20));
        assert_eq!(chunk_below((1 << 20) + 1), Some(1 << 20));
        assert_eq!(chunk_below(MIN_CHUNK_SIZE), None);
        assert_eq!(chunk_below(MIN_CHUNK_SIZE + 1), Some(MIN_CHUNK_SIZE));
        assert_eq!(chunk_below(0), None);
    }

    #[test]
    fn ranges_parse_and_resume_offsets_take_the_possible_reading() {
        assert_eq!(range_end("0-999"), Some(999));
        assert_eq!(range_end("bytes=0-999"), Some(999));
        assert_eq!(range_end(" 0-0 "), Some(0));
        assert_eq!(range_end("5-9"), None);
        assert_eq!(range_end("x"), None);
        // The spec's reading first, then the off-by-one one.
        assert_eq!(resume_offsets(699, 0, 1000), vec![700, 699]);
        // Everything sent and the registry says 0-1000: only the off-by-one reading is
        // possible.
        assert_eq!(resume_offsets(1000, 0, 1000), vec![1000]);
        assert_eq!(resume_offsets(999, 0, 1000), vec![1000, 999]);
        // An empty session.
        assert_eq!(resume_offsets(0, 0, 1000), vec![0, 1]);
        // Nothing below what the registry had confirmed.
        assert_eq!(resume_offsets(500, 501, 1000), vec![501]);
        assert!(resume_offsets(5000, 0, 1000).is_empty());
    }
}
