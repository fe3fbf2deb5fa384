//! Progress over a whole operation, delivered to the host one call at a time; a host
//! that answers "stop" cancels the operation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The host's progress callback. Returns false to cancel.
pub trait ProgressSink: Send + Sync {
    fn report(&self, complete: u64, total: u64) -> bool;
}

struct Counters {
    complete: u64,
    total: u64,
}

/// Counts bytes for one operation and forwards them to the sink, serialised.
pub struct Progress {
    sink: Option<Arc<dyn ProgressSink>>,
    counters: Mutex<Counters>,
    cancelled: Arc<AtomicBool>,
}

impl Progress {
    pub fn new(sink: Option<Arc<dyn ProgressSink>>, cancelled: Arc<AtomicBool>) -> Progress {
        Progress {
            sink,
            counters: Mutex::new(Counters {
                complete: 0,
                total: 0,
            }),
            cancelled,
        }
    }

    pub fn add_total(&self, bytes: u64) {
        let mut c = self.lock();
        c.total += bytes;
    }

    /// Adds `bytes` to what is complete (never past the total) and tells the host.
    pub fn advance(&self, bytes: u64) {
        let mut c = self.lock();
        c.complete = (c.complete + bytes).min(c.total);
        self.deliver(&c);
    }

    /// Tells the host the current numbers again (e.g. once at the start).
    pub fn announce(&self) {
        let c = self.lock();
        self.deliver(&c);
    }

    /// Moves `blob`'s mark to `position` bytes and adds what lies past its previous mark,
    /// so that a transfer tried again counts only once it passes where it had reached.
    pub fn reach(&self, blob: &BlobMark, position: u64) {
        let before = blob.reached.fetch_max(position, Ordering::SeqCst);
        if position > before {
            self.advance(position - before);
        }
    }

    fn deliver(&self, c: &Counters) {
        if let Some(sink) = &self.sink {
            if self.cancelled.load(Ordering::SeqCst) {
                return;
            }
            // The lock is held during the call: the host sees one call at a time.
            if !sink.report(c.complete, c.total) {
                self.cancelled.store(true, Ordering::SeqCst);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How far one blob's transfer has got, over all its attempts.
#[derive(Default)]
pub struct BlobMark {
    reached: std::sync::atomic::AtomicU64,
}
