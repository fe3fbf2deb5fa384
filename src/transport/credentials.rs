//! Which credential to present for a registry, in the contract's order: basic auth set
//! on the client, then the host's auth callback, then the default keychain. Resolved at
//! most once per registry per operation; the callback is asked once more only after the
//! registry rejected its answer.

use crate::authn::{keychain, Credential};
use crate::error::{Error, ErrorKind, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The host's credential source (`rr_client_set_auth_callback`).
pub trait AuthCallback: Send + Sync {
    /// `Ok(None)` means "none from me": the keychain is consulted next.
    fn credential(&self, registry: &str) -> Result<Option<Credential>>;
}

#[derive(Clone, Default)]
pub struct CredentialSettings {
    /// `host[:port]` → (username, password).
    pub basic: HashMap<String, (String, String)>,
    pub callback: Option<Arc<dyn AuthCallback>>,
    pub keychain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Client,
    Callback,
    Keychain,
    None,
}

#[derive(Debug, Clone)]
struct Resolved {
    credential: Credential,
    source: Source,
    callback_asks: u32,
}

/// One operation's view of credentials.
#[derive(Default)]
pub struct OperationCredentials {
    resolved: Mutex<HashMap<String, Resolved>>,
}

impl OperationCredentials {
    /// The credential for `registry` (and `repository` path, for per-repository keychain
    /// entries), resolving it on first use in this operation.
    pub fn get(
        &self,
        settings: &CredentialSettings,
        registry: &str,
        repository: Option<&str>,
    ) -> Result<(Credential, Source)> {
        let key = memo_key(registry, repository);
        if let Some(r) = self.lock().get(&key) {
            return Ok((r.credential.clone(), r.source));
        }
        let mut resolved = Resolved {
            credential: Credential::Anonymous,
            source: Source::None,
            callback_asks: 0,
        };
        if let Some((user, pass)) = settings.basic.get(registry) {
            resolved.credential = Credential::Basic {
                username: user.clone(),
                password: pass.clone(),
            };
            resolved.source = Source::Client;
        } else {
            if let Some(cb) = &settings.callback {
                resolved.callback_asks = 1;
                if let Some(c) = ask(cb.as_ref(), registry)? {
                    resolved.credential = c;
                    resolved.source = Source::Callback;
                }
            }
            if resolved.source == Source::None && settings.keychain {
                let c = keychain::resolve(registry, repository)?;
                if !c.is_anonymous() {
                    resolved.credential = c;
                    resolved.source = Source::Keychain;
                }
            }
        }
        let out = (resolved.credential.clone(), resolved.source);
        self.lock().insert(key, resolved);
        Ok(out)
    }

    /// The registry refused what we presented. Returns a new credential to try when the
    /// callback gave the refused one and has not been asked again yet; `None` otherwise.
    pub fn rejected(
        &self,
        settings: &CredentialSettings,
        registry: &str,
        repository: Option<&str>,
    ) -> Result<Option<Credential>> {
        let key = memo_key(registry, repository);
        let asks = match self.lock().get(&key) {
            Some(r) if r.source == Source::Callback && r.callback_asks < 2 => r.callback_asks,
            _ => return Ok(None),
        };
        let Some(cb) = &settings.callback else {
            return Ok(None);
        };
        let again = ask(cb.as_ref(), registry)?;
        let mut map = self.lock();
        let entry = map.get_mut(&key).expect("entry present");
        entry.callback_asks = asks + 1;
        match again {
            Some(c) => {
                entry.credential = c.clone();
                Ok(Some(c))
            }
            None => Ok(None),
        }
    }

    /// A token server handed back a refresh token: later exchanges in this operation use it.
    pub fn replace(&self, registry: &str, repository: Option<&str>, credential: Credential) {
        if let Some(r) = self.lock().get_mut(&memo_key(registry, repository)) {
            r.credential = credential;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Resolved>> {
        self.resolved.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn memo_key(registry: &str, repository: Option<&str>) -> String {
    match repository {
        Some(r) => format!("{registry}/{r}"),
        None => registry.to_string(),
    }
}

fn ask(cb: &dyn AuthCallback, registry: &str) -> Result<Option<Credential>> {
    match cb.credential(registry) {
        Ok(Some(Credential::Anonymous)) | Ok(None) => Ok(None),
        Ok(Some(c)) => Ok(Some(c)),
        Err(e) if e.kind == ErrorKind::Callback => Err(e),
        Err(e) => Err(Error::callback(format!(
            "the auth callback failed for {registry}: {}",
            e.message
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Counting {
        calls: AtomicU32,
        answer: Option<Credential>,
    }
    impl AuthCallback for Counting {
        fn credential(&self, _registry: &str) -> Result<Option<Credential>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(self.answer.clone())
        }
    }

    fn basic(u: &str) -> Credential {
        Credential::Basic {
            username: u.into(),
            password: "pw".into(),
        }
    }

    #[test]
    fn client_basic_auth_comes_before_the_callback() {
        let cb = Arc::new(Counting {
            calls: AtomicU32::new(0),
            answer: Some(basic("cb")),
        });
        let mut s = CredentialSettings {
            callback: Some(cb.clone()),
            ..Default::default()
        };
        s.basic
            .insert("r.io".into(), ("client".into(), "pw".into()));
        let op = OperationCredentials::default();
        assert_eq!(
            op.get(&s, "r.io", None).unwrap(),
            (basic("client"), Source::Client)
        );
        assert_eq!(cb.calls.load(Ordering::SeqCst), 0);
        assert_eq!(
            op.get(&s, "other.io", None).unwrap(),
            (basic("cb"), Source::Callback)
        );
    }

    #[test]
    fn callback_is_asked_once_then_once_more_after_rejection() {
        let cb = Arc::new(Counting {
            calls: AtomicU32::new(0),
            answer: Some(basic("cb")),
        });
        let s = CredentialSettings {
            callback: Some(cb.clone()),
            ..Default::default()
        };
        let op = OperationCredentials::default();
        op.get(&s, "r.io", None).unwrap();
        op.get(&s, "r.io", None).unwrap();
        assert_eq!(cb.calls.load(Ordering::SeqCst), 1);
        assert_eq!(op.rejected(&s, "r.io", None).unwrap(), Some(basic("cb")));
        assert_eq!(op.rejected(&s, "r.io", None).unwrap(), None);
        assert_eq!(cb.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn empty_callback_answer_falls_through_to_anonymous_without_keychain() {
        let cb = Arc::new(Counting {
            calls: AtomicU32::new(0),
            answer: None,
        });
        let s = CredentialSettings {
            callback: Some(cb),
            keychain: false,
            ..Default::default()
        };
        let op = OperationCredentials::default();
        assert_eq!(
            op.get(&s, "r.io", None).unwrap(),
            (Credential::Anonymous, Source::None)
        );
        assert_eq!(op.rejected(&s, "r.io", None).unwrap(), None);
    }
}
