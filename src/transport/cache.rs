//! What a client remembers across its operations: how each registry answered its ping
//! (the scheme and the challenge) and the tokens it was given.

use super::challenge::Challenge;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the ping of a registry taught us; kept for the client's lifetime.
#[derive(Debug, Clone)]
pub(crate) struct Ping {
    pub(crate) scheme: &'static str,
    pub(crate) challenge: Option<Challenge>,
}

/// State shared by every operation of one client.
#[derive(Default)]
pub struct Shared {
    pub(crate) pings: Mutex<HashMap<String, Ping>>,
    /// One ping at a time per registry: threads starting together wait for the first.
    pub(crate) ping_gates: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    pub(crate) tokens: Mutex<HashMap<String, String>>,
}

impl Shared {
    /// Forgets tokens, e.g. when the client's credentials change.
    pub fn clear_tokens(&self) {
        lock(&self.tokens).clear();
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
