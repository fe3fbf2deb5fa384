//! What pings taught, kept on disk between processes (`rr_client_set_ping_cache_dir`): a
//! registry's challenge for one scheme, so that the next process starts its token
//! exchange at once and asks `GET /v2/` beside it, instead of waiting two round trips (a
//! connection and the answer) for what it already knows.
//!
//! Only what the registry tells anyone who asks is kept (the challenge's scheme, realm,
//! service; never a token or a credential). A remembered answer is a guess: the ping
//! beside the token exchange, or a 401 naming another challenge, replaces it. Files are
//! written whole (a temporary file renamed over the old one) so that processes racing
//! each other never read half an entry, and read only when this user owns them and nobody
//! else may write them: the realm is where credentials are sent.

use super::challenge::Challenge;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a remembered answer is used before the registry is asked again.
pub const REMEMBERED_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// A file larger than this is not an entry of ours.
const MAX_ENTRY_BYTES: u64 = 16 * 1024;
const FORMAT_VERSION: u64 = 1;

/// One file: what `registry` answered over `scheme`, and when (Unix seconds).
#[derive(Serialize, Deserialize)]
struct Entry {
    version: u64,
    registry: String,
    scheme: String,
    /// `None`: the registry asked for no authentication.
    challenge: Option<StoredChallenge>,
    saved: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredChallenge {
    scheme: String,
    params: BTreeMap<String, String>,
}

/// A directory of remembered pings, one file per registry and scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingStore {
    dir: PathBuf,
}

impl PingStore {
    pub fn new(dir: impl Into<PathBuf>) -> PingStore {
        PingStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, registry: &str, scheme: &str) -> PathBuf {
        let key = sha2::Sha256::digest(format!("{scheme}://{}", registry.to_ascii_lowercase()));
        self.dir.join(format!("{}.json", hex::encode(&key[..16])))
    }

    /// The challenge `registry` answered over `scheme` (`None` inside: it asked for no
    /// authentication), when a usable entry is on disk.
    pub fn load(&self, registry: &str, scheme: &str) -> Option<Option<Challenge>> {
        self.load_at(registry, scheme, SystemTime::now())
    }

    fn load_at(&self, registry: &str, scheme: &str, now: SystemTime) -> Option<Option<Challenge>> {
        if !owned_and_private(&self.dir) {
            return None;
        }
        let path = self.entry_path(registry, scheme);
        if !owned_and_private(&path) {
            return None;
        }
        let meta = fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > MAX_ENTRY_BYTES {
            return None;
        }
        let entry: Entry = serde_json::from_slice(&fs::read(&path).ok()?).ok()?;
        if entry.version != FORMAT_VERSION
            || !entry.registry.eq_ignore_ascii_case(registry)
            || entry.scheme != scheme
        {
            return None;
        }
        let saved = UNIX_EPOCH + Duration::from_secs(entry.saved);
        match now.duration_since(saved) {
            Ok(age) if age < REMEMBERED_FOR => {}
            // A little into the future is a clock step between processes; more is not ours.
            Err(e) if e.duration() < Duration::from_secs(3600) => {}
            _ => return None,
        }
        match entry.challenge {
            None => Some(None),
            Some(c) if c.scheme.is_empty() => None,
            Some(c) => Some(Some(Challenge {
                scheme: c.scheme,
                params: c.params,
            })),
        }
    }

    /// Remembers `challenge` as `registry`'s answer over `scheme`. Best effort: a cache
    /// that cannot be written costs the next process a ping, nothing else.
    pub fn save(&self, registry: &str, scheme: &str, challenge: Option<&Challenge>) {
        let _ = self.try_save(registry, scheme, challenge, SystemTime::now());
    }

    fn try_save(
        &self,
        registry: &str,
        scheme: &str,
        challenge: Option<&Challenge>,
        now: SystemTime,
    ) -> std::io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        if !owned_and_private(&self.dir) {
            return Err(std::io::Error::other(
                "the ping cache directory is not private",
            ));
        }
        let entry = Entry {
            version: FORMAT_VERSION,
            registry: registry.to_ascii_lowercase(),
            scheme: scheme.to_string(),
            challenge: challenge.map(|c| StoredChallenge {
                scheme: c.scheme.clone(),
                params: kept_params(c),
            }),
            saved: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        };
        // tempfile makes the file 0600 under a unique name; persist renames it over the
        // old entry, so a reader sees the old entry or the new one, never a part.
        let mut tmp = tempfile::Builder::new()
            .prefix(".entry")
            .suffix(".tmp")
            .tempfile_in(&self.dir)?;
        serde_json::to_writer(&mut tmp, &entry)?;
        tmp.persist(self.entry_path(registry, scheme))
            .map(drop)
            .map_err(|e| e.error)
    }

    /// Drops what is remembered of `registry` over `scheme`: it turned out wrong.
    pub fn forget(&self, registry: &str, scheme: &str) {
        let _ = fs::remove_file(self.entry_path(registry, scheme));
    }
}

/// The parameters worth keeping: those that say where and for what tokens are asked.
/// `scope` and `error` describe one request, not the registry.
fn kept_params(c: &Challenge) -> BTreeMap<String, String> {
    c.params
        .iter()
        .filter(|(k, _)| k.as_str() != "scope" && k.as_str() != "error")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `c` as a ping would have answered it: without the parameters of one request.
pub fn without_request_params(c: &Challenge) -> Challenge {
    Challenge {
        scheme: c.scheme.clone(),
        params: kept_params(c),
    }
}

/// Whether two challenges send a client to the same place: the same scheme and the same
/// parameters but `scope` and `error`.
pub fn same_authority(a: &Challenge, b: &Challenge) -> bool {
    a.scheme == b.scheme && kept_params(a) == kept_params(b)
}

/// Owned by this user and writable by nobody else (not followed through a symlink).
fn owned_and_private(path: &Path) -> bool {
    match fs::symlink_metadata(path) {
        Ok(m) => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let me = unsafe { libc::geteuid() };
            !m.file_type().is_symlink() && m.uid() == me && m.mode() & 0o022 == 0
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn bearer(realm: &str) -> Challenge {
        let mut params = BTreeMap::new();
        params.insert("realm".to_string(), realm.to_string());
        params.insert("service".to_string(), "registry".to_string());
        params.insert("scope".to_string(), "repository:a:pull".to_string());
        params.insert("error".to_string(), "invalid_token".to_string());
        Challenge {
            scheme: "bearer".to_string(),
            params,
        }
    }

    fn store() -> (tempfile::TempDir, PingStore) {
        let tmp = tempfile::tempdir().unwrap();
        let store = PingStore::new(tmp.path().join("pings"));
        (tmp, store)
    }

    #[test]
    fn an_answer_comes_back_without_its_request_parameters() {
        let (_tmp, store) = store();
        assert_eq!(store.load("r.example:5000", "https"), None);
        store.save(
            "R.example:5000",
            "https",
            Some(&bearer("https://auth/token")),
        );
        let back = store.load("r.example:5000", "https").unwrap().unwrap();
        assert_eq!(back.scheme, "bearer");
        assert_eq!(back.param("realm"), Some("https://auth/token"));
        assert_eq!(back.param("service"), Some("registry"));
        assert_eq!(back.param("scope"), None);
        assert_eq!(back.param("error"), None);
        assert!(same_authority(&back, &bearer("https://auth/token")));
        assert!(!same_authority(&back, &bearer("https://elsewhere/token")));
        // Another scheme is another question.
        assert_eq!(store.load("r.example:5000", "http"), None);

        store.save("open.example", "http", None);
        assert_eq!(store.load("open.example", "http"), Some(None));
        store.forget("open.example", "http");
        assert_eq!(store.load("open.example", "http"), None);

        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.dir()), 0o700);
        let entry = store.entry_path("r.example:5000", "https");
        assert_eq!(mode(&entry), 0o600);
        let leftovers: Vec<_> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn old_foreign_writable_or_garbled_entries_are_not_used() {
        let (_tmp, store) = store();
        let now = SystemTime::now();
        store
            .try_save("r", "https", Some(&bearer("https://a/t")), now)
            .unwrap();
        assert!(store.load_at("r", "https", now + REMEMBERED_FOR).is_none());
        assert!(store
            .load_at("r", "https", now - Duration::from_secs(2 * 3600))
            .is_none());
        assert!(store
            .load_at("r", "https", now - Duration::from_secs(60))
            .is_some());

        let entry = store.entry_path("r", "https");
        fs::set_permissions(&entry, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(store.load("r", "https").is_none(), "others may write it");
        fs::set_permissions(&entry, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(store.load("r", "https").is_some());

        fs::set_permissions(store.dir(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(store.load("r", "https").is_none(), "others may replace it");
        fs::set_permissions(store.dir(), fs::Permissions::from_mode(0o700)).unwrap();

        for garbage in [
            &b"not json"[..],
            br#"{"version":2,"registry":"r","scheme":"https","challenge":null,"saved":1}"#,
            br#"{"version":1,"registry":"other","scheme":"https","challenge":null,"saved":1}"#,
            br#"{"version":1,"registry":"r","scheme":"https","challenge":{"scheme":"","params":{}},"saved":1}"#,
            br#"{"version":1,"registry":"r","scheme":"https","challenge":{"scheme":"bearer","params":{"realm":7}},"saved":1}"#,
        ] {
            fs::write(&entry, garbage).unwrap();
            assert!(store.load("r", "https").is_none(), "{garbage:?}");
        }
        fs::write(&entry, vec![b' '; MAX_ENTRY_BYTES as usize + 1]).unwrap();
        assert!(store.load("r", "https").is_none());

        let link = store.entry_path("l", "https");
        std::os::unix::fs::symlink(&entry, &link).unwrap();
        assert!(
            store.load("l", "https").is_none(),
            "a symlink is not followed"
        );
    }
}
