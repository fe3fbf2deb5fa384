//! Progress over a whole operation, delivered to the host one call at a time: the
//! operation's byte totals, and events per blob (which blob, how far, in which phase) so
//! that a host can draw one line per layer. A host that answers "stop" cancels the
//! operation.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// The host's progress callback over a whole operation. Returns false to cancel.
pub trait ProgressSink: Send + Sync {
    fn report(&self, complete: u64, total: u64) -> bool;
}

/// The host's per-blob progress callback. Returns false to cancel.
pub trait BlobProgressSink: Send + Sync {
    fn event(&self, event: &BlobEvent<'_>) -> bool;
}

/// Where a blob stands in its operation. The numbers are those of the C enum
/// `rr_blob_phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// The operation's first event: its totals are known (no blob named).
    Started = 0,
    /// Planned, not begun yet (all of an operation's blobs, in manifest order, at start).
    Waiting = 1,
    /// Asking the destination whether it has the blob.
    Checking = 2,
    /// Asking the destination to mount it from another repository.
    Mounting = 3,
    Uploading = 4,
    Downloading = 5,
    /// Every byte is in; the digest is being checked.
    Verifying = 6,
    /// Ended: the destination had it already (nothing sent).
    Exists = 7,
    /// Ended: mounted from another repository (nothing sent).
    Mounted = 8,
    /// Ended: sent or received and verified.
    Done = 9,
}

impl Phase {
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or_default()
    }

    /// The name NUL-terminated, for C hosts.
    pub fn c_name(self) -> &'static CStr {
        match self {
            Phase::Started => c"started",
            Phase::Waiting => c"waiting",
            Phase::Checking => c"checking",
            Phase::Mounting => c"mounting",
            Phase::Uploading => c"uploading",
            Phase::Downloading => c"downloading",
            Phase::Verifying => c"verifying",
            Phase::Exists => c"exists",
            Phase::Mounted => c"mounted",
            Phase::Done => c"done",
        }
    }

    pub fn from_u8(n: u8) -> Option<Phase> {
        use Phase::*;
        [
            Started,
            Waiting,
            Checking,
            Mounting,
            Uploading,
            Downloading,
            Verifying,
            Exists,
            Mounted,
            Done,
        ]
        .get(usize::from(n))
        .copied()
    }

    /// Whether the blob's part of the operation is over.
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Exists | Phase::Mounted | Phase::Done)
    }
}

/// One progress event: a blob's state (or, with no digest, the operation's start) and the
/// operation's totals at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobEvent<'a> {
    /// The operation, unique within the process (ids start at 1).
    pub operation: u64,
    pub digest: Option<&'a str>,
    pub phase: Phase,
    pub blob_size: u64,
    /// Bytes of the blob done so far, over all its attempts (never decreases).
    pub blob_done: u64,
    pub complete: u64,
    pub total: u64,
}

static NEXT_OPERATION: AtomicU64 = AtomicU64::new(1);

struct Counters {
    complete: u64,
    total: u64,
}

/// Counts bytes for one operation and forwards them to the sinks, serialised.
pub struct Progress {
    operation: u64,
    sink: Option<Arc<dyn ProgressSink>>,
    events: Option<Arc<dyn BlobProgressSink>>,
    counters: Mutex<Counters>,
    cancelled: Arc<AtomicBool>,
}

impl Progress {
    pub fn new(
        sink: Option<Arc<dyn ProgressSink>>,
        events: Option<Arc<dyn BlobProgressSink>>,
        cancelled: Arc<AtomicBool>,
    ) -> Progress {
        Progress {
            operation: NEXT_OPERATION.fetch_add(1, Ordering::Relaxed),
            sink,
            events,
            counters: Mutex::new(Counters {
                complete: 0,
                total: 0,
            }),
            cancelled,
        }
    }

    /// The operation's id, as its events carry it.
    pub fn operation(&self) -> u64 {
        self.operation
    }

    pub fn add_total(&self, bytes: u64) {
        let mut c = self.lock();
        c.total += bytes;
    }

    /// Tells the host the current numbers again (once at the start: the `Started` event).
    pub fn announce(&self) {
        let c = self.lock();
        self.deliver(&c, None);
    }

    /// Tells the host of the blobs the operation will make present or fetch, in order,
    /// before any of them starts.
    pub fn plan<'a>(&self, blobs: impl IntoIterator<Item = (&'a str, u64)>) {
        if self.events.is_none() {
            return;
        }
        let c = self.lock();
        for (digest, size) in blobs {
            let event = BlobEvent {
                operation: self.operation,
                digest: Some(digest),
                phase: Phase::Waiting,
                blob_size: size,
                blob_done: 0,
                complete: c.complete,
                total: c.total,
            };
            self.deliver_event(&event);
        }
    }

    /// Moves `blob` to `phase` and tells the host.
    pub fn phase(&self, blob: &BlobMark, phase: Phase) {
        blob.phase.store(phase as u8, Ordering::SeqCst);
        let c = self.lock();
        self.deliver(&c, Some(blob));
    }

    /// Moves `blob`'s mark to `position` bytes and adds what lies past its previous mark,
    /// so that a transfer tried again counts only once it passes where it had reached.
    pub fn reach(&self, blob: &BlobMark, position: u64) {
        let before = blob.reached.fetch_max(position, Ordering::SeqCst);
        if position > before {
            let mut c = self.lock();
            c.complete = (c.complete + (position - before)).min(c.total);
            self.deliver(&c, Some(blob));
        }
    }

    /// Ends `blob` in `phase` (`Exists`, `Mounted`, `Done`): its whole size counts as
    /// done, and the host is told once.
    pub fn settle(&self, blob: &BlobMark, phase: Phase) {
        blob.phase.store(phase as u8, Ordering::SeqCst);
        let before = blob.reached.fetch_max(blob.size, Ordering::SeqCst);
        let mut c = self.lock();
        c.complete = (c.complete + blob.size.saturating_sub(before)).min(c.total);
        self.deliver(&c, Some(blob));
    }

    /// With the counters locked (the host sees one call at a time per operation).
    fn deliver(&self, c: &Counters, blob: Option<&BlobMark>) {
        if self.cancelled.load(Ordering::SeqCst) {
            return;
        }
        if let Some(sink) = &self.sink {
            if !sink.report(c.complete, c.total) {
                self.cancelled.store(true, Ordering::SeqCst);
                return;
            }
        }
        if self.events.is_none() {
            return;
        }
        let event = match blob {
            None => BlobEvent {
                operation: self.operation,
                digest: None,
                phase: Phase::Started,
                blob_size: 0,
                blob_done: 0,
                complete: c.complete,
                total: c.total,
            },
            // A blob without a name (BlobMark::default) is counted, not reported.
            Some(b) if b.digest.is_empty() => return,
            Some(b) => BlobEvent {
                operation: self.operation,
                digest: Some(&b.digest),
                phase: b.current_phase(),
                blob_size: b.size,
                blob_done: b.reached.load(Ordering::SeqCst).min(b.size),
                complete: c.complete,
                total: c.total,
            },
        };
        self.deliver_event(&event);
    }

    fn deliver_event(&self, event: &BlobEvent<'_>) {
        if let Some(events) = &self.events {
            if self.cancelled.load(Ordering::SeqCst) {
                return;
            }
            if !events.event(event) {
                self.cancelled.store(true, Ordering::SeqCst);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One blob of an operation: its name, and how far its transfer has got over all its
/// attempts.
#[derive(Default)]
pub struct BlobMark {
    digest: String,
    size: u64,
    reached: AtomicU64,
    phase: AtomicU8,
}

impl BlobMark {
    pub fn new(digest: &str, size: u64) -> BlobMark {
        BlobMark {
            digest: digest.to_string(),
            size,
            reached: AtomicU64::new(0),
            phase: AtomicU8::new(Phase::Waiting as u8),
        }
    }

    fn current_phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::SeqCst)).unwrap_or(Phase::Waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Digest, phase, blob bytes done, operation bytes done and in total.
    type Seen = (Option<String>, Phase, u64, u64, u64);

    #[derive(Default)]
    struct Recorder {
        events: Mutex<Vec<Seen>>,
        stop_at: Option<Phase>,
    }

    impl BlobProgressSink for Recorder {
        fn event(&self, e: &BlobEvent<'_>) -> bool {
            self.events.lock().unwrap().push((
                e.digest.map(str::to_string),
                e.phase,
                e.blob_done,
                e.complete,
                e.total,
            ));
            Some(e.phase) != self.stop_at
        }
    }

    #[test]
    fn a_blob_goes_through_its_phases_and_counts_once_when_retried() {
        let recorder = Arc::new(Recorder::default());
        let p = Progress::new(None, Some(recorder.clone()), Arc::default());
        p.add_total(10);
        p.announce();
        p.plan([("sha256:a", 10)]);
        let mark = BlobMark::new("sha256:a", 10);
        p.phase(&mark, Phase::Uploading);
        p.reach(&mark, 6);
        p.reach(&mark, 4); // a retry, behind where the first attempt had reached
        p.reach(&mark, 8);
        p.settle(&mark, Phase::Done);
        let a = Some("sha256:a".to_string());
        assert_eq!(
            *recorder.events.lock().unwrap(),
            vec![
                (None, Phase::Started, 0, 0, 10),
                (a.clone(), Phase::Waiting, 0, 0, 10),
                (a.clone(), Phase::Uploading, 0, 0, 10),
                (a.clone(), Phase::Uploading, 6, 6, 10),
                (a.clone(), Phase::Uploading, 8, 8, 10),
                (a, Phase::Done, 10, 10, 10),
            ]
        );
    }

    #[test]
    fn operations_have_their_own_ids_and_a_false_answer_cancels() {
        let recorder = Arc::new(Recorder {
            stop_at: Some(Phase::Checking),
            ..Default::default()
        });
        let cancelled = Arc::new(AtomicBool::new(false));
        let p = Progress::new(None, Some(recorder.clone()), cancelled.clone());
        let q = Progress::new(None, None, Arc::default());
        assert_ne!(p.operation(), q.operation());
        p.add_total(3);
        let mark = BlobMark::new("sha256:b", 3);
        p.phase(&mark, Phase::Checking);
        assert!(cancelled.load(Ordering::SeqCst));
        p.settle(&mark, Phase::Exists); // not told: the operation is cancelled
        assert_eq!(recorder.events.lock().unwrap().len(), 1);
    }

    #[test]
    fn phases_round_trip_through_their_numbers() {
        for n in 0..=9u8 {
            assert_eq!(Phase::from_u8(n).unwrap() as u8, n);
        }
        assert_eq!(Phase::from_u8(10), None);
        assert!(Phase::Mounted.is_final() && !Phase::Verifying.is_final());
    }
}
