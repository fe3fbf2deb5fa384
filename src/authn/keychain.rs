//! The default keychain: Docker's config.json (auths, credHelpers, credsStore) and
//! Podman's auth.json, read afresh on every lookup.
//!
//! Files are consulted in this order (the first candidate of each group that is set is
//! the one of that group; a candidate that does not exist as a regular file is skipped):
//!
//! 1. `$DOCKER_CONFIG/config.json` when `DOCKER_CONFIG` is set, else `~/.docker/config.json`;
//! 2. `$REGISTRY_AUTH_FILE` when set, else `$XDG_RUNTIME_DIR/containers/auth.json`;
//! 3. `$XDG_CONFIG_HOME/containers/auth.json` when set, else `~/.config/containers/auth.json`.
//!
//! A file that exists but has no usable entry for the registry falls through to the next
//! file: someone with Docker credentials for one registry and Podman credentials for
//! another expects both to work. A file that cannot be read or parsed, a malformed
//! `auth` value that is consulted, or a failing credential helper is an error
//! (`ErrorKind::Io`) and stops the lookup; the messages name the file or helper and the
//! registry, never a secret.
//!
//! Within a file the keys are, in order: `registry/repository` (when a repository is
//! given), then `registry` (`https://index.docker.io/v1/` for Docker Hub, followed by the
//! convenience aliases `index.docker.io` and `docker.io`). For each key the store is chosen
//! as Docker does: `credHelpers[key]`, else `credsStore`, else the file's `auths`.

mod config;
mod helper;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Credential;
use crate::error::{Error, Result};

use config::{ConfigFile, Store};

/// How long a credential helper may run before it is killed and the lookup fails.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// Docker Hub's historical key in config.json and credential helpers.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// The registry name of Docker Hub in normalised references.
const DOCKER_HUB_REGISTRY: &str = "index.docker.io";

/// The parts of the environment the keychain reads. Empty values mean "not set".
/// [`resolve`] fills it from the process environment; tests build their own.
#[derive(Debug, Clone, Default)]
pub struct KeychainEnv {
    /// `DOCKER_CONFIG`: the directory holding Docker's `config.json`.
    pub docker_config: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `REGISTRY_AUTH_FILE`: Podman's auth file.
    pub registry_auth_file: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `PATH`: where `docker-credential-<name>` helpers are searched.
    pub path: Option<OsString>,
    /// Limit on one helper run; `None` means [`DEFAULT_HELPER_TIMEOUT`].
    pub helper_timeout: Option<Duration>,
}

impl KeychainEnv {
    /// Reads the variables from the process environment (at every call).
    pub fn from_process() -> Self {
        fn var(name: &str) -> Option<OsString> {
            std::env::var_os(name).filter(|v| !v.is_empty())
        }
        KeychainEnv {
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            registry_auth_file: var("REGISTRY_AUTH_FILE").map(PathBuf::from),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
            xdg_config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            path: var("PATH"),
            helper_timeout: None,
        }
    }

    /// The candidate files, in the order they are consulted (duplicates removed).
    /// Whether each exists is decided when it is consulted.
    pub fn candidate_files(&self) -> Vec<PathBuf> {
        fn set(p: &Option<PathBuf>) -> Option<&PathBuf> {
            p.as_ref().filter(|p| !p.as_os_str().is_empty())
        }
        let home = set(&self.home);
        let mut files = Vec::with_capacity(3);
        // Docker: DOCKER_CONFIG replaces ~/.docker entirely, as in docker/cli.
        if let Some(dir) = set(&self.docker_config) {
            files.push(dir.join("config.json"));
        } else if let Some(home) = home {
            files.push(home.join(".docker").join("config.json"));
        }
        // Podman's primary auth file.
        if let Some(file) = set(&self.registry_auth_file) {
            files.push(file.clone());
        } else if let Some(dir) = set(&self.xdg_runtime_dir) {
            files.push(dir.join("containers").join("auth.json"));
        }
        // Podman's persistent auth file.
        if let Some(dir) = set(&self.xdg_config_home) {
            files.push(dir.join("containers").join("auth.json"));
        } else if let Some(home) = home {
            files.push(home.join(".config").join("containers").join("auth.json"));
        }
        let mut unique: Vec<PathBuf> = Vec::with_capacity(files.len());
        for f in files {
            if !unique.contains(&f) {
                unique.push(f);
            }
        }
        unique
    }

    fn timeout(&self) -> Duration {
        self.helper_timeout.unwrap_or(DEFAULT_HELPER_TIMEOUT)
    }
}

/// Looks up credentials for `registry` (`host[:port]`), trying the `registry/repository`
/// key first when `repository` (the path, e.g. `library/ubuntu`) is given.
pub fn resolve(registry: &str, repository: Option<&str>) -> Result<Credential> {
    resolve_in(&KeychainEnv::from_process(), registry, repository)
}

/// [`resolve`] with an explicit environment. Nothing is cached: every call reads the files
/// (and runs the helpers) again.
pub fn resolve_in(
    env: &KeychainEnv,
    registry: &str,
    repository: Option<&str>,
) -> Result<Credential> {
    let registry = registry.trim();
    if registry.is_empty() || registry.contains(['/', '\n', '\r']) {
        return Err(Error::invalid_argument(format!(
            "credential lookup: invalid registry name {registry:?}"
        )));
    }
    let keys = lookup_keys(registry, repository);
    for file in env.candidate_files() {
        let Some(cfg) = ConfigFile::load_if_exists(&file)? else {
            continue;
        };
        for key in &keys {
            if let Some(cred) = lookup_key(env, &cfg, key, registry)? {
                return Ok(cred);
            }
        }
        // Nothing for this registry here: fall through to the next file.
    }
    Ok(Credential::Anonymous)
}

/// One key to look up within a file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LookupKey {
    key: String,
    /// A convenience alias (Docker Hub's `index.docker.io` and `docker.io`): matched in
    /// `credHelpers` and `auths` but never sent to `credsStore`, which was already asked
    /// under the canonical key.
    alias: bool,
}

fn is_docker_hub(registry: &str) -> bool {
    registry.eq_ignore_ascii_case(DOCKER_HUB_REGISTRY) || registry.eq_ignore_ascii_case("docker.io")
}

fn lookup_keys(registry: &str, repository: Option<&str>) -> Vec<LookupKey> {
    let hub = is_docker_hub(registry);
    let host = if hub { DOCKER_HUB_REGISTRY } else { registry };
    let mut keys = Vec::with_capacity(4);
    if let Some(repo) = repository
        .map(|r| r.trim_matches('/'))
        .filter(|r| !r.is_empty())
    {
        keys.push(LookupKey {
            key: format!("{host}/{repo}"),
            alias: false,
        });
    }
    if hub {
        keys.push(LookupKey {
            key: DOCKER_HUB_KEY.to_string(),
            alias: false,
        });
        for alias in [DOCKER_HUB_REGISTRY, "docker.io"] {
            keys.push(LookupKey {
                key: alias.to_string(),
                alias: true,
            });
        }
    } else {
        keys.push(LookupKey {
            key: registry.to_string(),
            alias: false,
        });
    }
    keys
}

fn lookup_key(
    env: &KeychainEnv,
    cfg: &ConfigFile,
    key: &LookupKey,
    registry: &str,
) -> Result<Option<Credential>> {
    match cfg.store_for(&key.key) {
        // credsStore was already asked under the canonical key.
        Store::DefaultHelper(_) if key.alias => Ok(None),
        Store::CredHelper(name) | Store::DefaultHelper(name) => {
            let found = helper::get(env.path.as_deref(), name, &key.key, registry, env.timeout())?;
            Ok(found.and_then(helper::HelperCredentials::into_credential))
        }
        Store::File => cfg.auths_lookup(&key.key),
    }
}

/// The host form of an `auths` key: with `://`, the `host[:port]` of the URL; otherwise
/// everything before the first `/`.
fn host_form(key: &str) -> &str {
    match key.find("://") {
        Some(i) => {
            let after = &key[i + 3..];
            let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
            // Drop any user information.
            authority.rsplit('@').next().unwrap_or(authority)
        }
        None => key.split('/').next().unwrap_or(key),
    }
}

/// For messages: the file's path.
fn shown(path: &Path) -> std::path::Display<'_> {
    path.display()
}

/// Parses `data` as a Docker `config.json` and looks up `key` in it, as the keychain
/// does; for the fuzz targets.
#[doc(hidden)]
pub fn parse_config_and_lookup(data: &[u8], key: &str) -> Result<Option<Credential>> {
    let file = config::ConfigFile::parse(Path::new("config.json"), data)?;
    let _ = file.store_for(key);
    file.auths_lookup(key)
}
