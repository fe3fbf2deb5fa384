//! Parsing of Docker's config.json and Podman's auth.json (same shape), and the lookup
//! in their `auths` section.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::{Map, Value};

use super::{host_form, shown};
use crate::authn::Credential;
use crate::error::{Error, ErrorKind, Result};

/// Standard alphabet, padding optional (both forms are found in the wild).
const AUTH_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The username that marks the password as an OAuth2 identity (refresh) token.
pub(super) const TOKEN_USERNAME: &str = "<token>";

/// Where the credentials for one key are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Store<'a> {
    /// `credHelpers[key]`.
    CredHelper(&'a str),
    /// `credsStore`.
    DefaultHelper(&'a str),
    /// The file's own `auths`.
    File,
}

/// One parsed credentials file (no `Debug`: it holds secrets).
pub(super) struct ConfigFile {
    path: PathBuf,
    /// `auths`, keyed by the key as written (sorted, so lookups are deterministic).
    auths: Map<String, Value>,
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
}

fn io_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("credentials file {}: {what}", shown(path)),
    )
}

/// `obj[name]`, matching the name case-insensitively when there is no exact match (Go's
/// JSON decoding, which wrote and reads these files, does the same).
fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

impl ConfigFile {
    /// Loads `path` when it exists as a regular file; `None` when it does not.
    pub(super) fn load_if_exists(path: &Path) -> Result<Option<ConfigFile>> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            // Missing, not a file, or not reachable: as if absent.
            _ => return Ok(None),
        }
        let data = std::fs::read(path)
            .map_err(|e| Error::io(format!("reading credentials file {}", shown(path)), &e))?;
        ConfigFile::parse(path, &data).map(Some)
    }

    pub(super) fn parse(path: &Path, data: &[u8]) -> Result<ConfigFile> {
        let mut cfg = ConfigFile {
            path: path.to_path_buf(),
            auths: Map::new(),
            cred_helpers: BTreeMap::new(),
            creds_store: None,
        };
        // An empty file is an empty configuration, as for docker/cli.
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(cfg);
        }
        // Parse errors of `Value` describe the syntax and position only, never the content.
        let value: Value = serde_json::from_slice(data)
            .map_err(|e| io_error(path, format_args!("invalid JSON: {e}")))?;
        let Value::Object(top) = value else {
            return Err(io_error(path, "not a JSON object"));
        };
        match get_ci(&top, "auths") {
            None => {}
            Some(Value::Object(auths)) => {
                for (key, entry) in auths {
                    match entry {
                        Value::Object(_) => {
                            cfg.auths.insert(key.clone(), entry.clone());
                        }
                        Value::Null => {}
                        _ => {
                            return Err(io_error(
                                path,
                                format_args!("entry {key:?} of \"auths\" is not an object"),
                            ))
                        }
                    }
                }
            }
            Some(_) => return Err(io_error(path, "\"auths\" is not an object")),
        }
        match get_ci(&top, "credHelpers") {
            None => {}
            Some(Value::Object(helpers)) => {
                for (key, name) in helpers {
                    match name {
                        Value::String(name) => {
                            cfg.cred_helpers.insert(key.clone(), name.clone());
                        }
                        Value::Null => {}
                        _ => {
                            return Err(io_error(
                                path,
                                format_args!("entry {key:?} of \"credHelpers\" is not a string"),
                            ))
                        }
                    }
                }
            }
            Some(_) => return Err(io_error(path, "\"credHelpers\" is not an object")),
        }
        match get_ci(&top, "credsStore") {
            None => {}
            Some(Value::String(s)) => {
                cfg.creds_store = Some(s.clone()).filter(|s| !s.is_empty());
            }
            Some(_) => return Err(io_error(path, "\"credsStore\" is not a string")),
        }
        Ok(cfg)
    }

    /// docker/cli's store selection: `credHelpers[key]` (exact key) if present, else
    /// `credsStore` if set, else the file store. A `credHelpers` entry naming no helper
    /// selects the file store, as in docker/cli.
    pub(super) fn store_for(&self, key: &str) -> Store<'_> {
        match self.cred_helpers.get(key) {
            Some(name) if name.is_empty() => Store::File,
            Some(name) => Store::CredHelper(name),
            None => match &self.creds_store {
                Some(name) => Store::DefaultHelper(name),
                None => Store::File,
            },
        }
    }

    /// The file store: the entry with exactly `key`, else the entries whose host form
    /// equals `key` (entries for a whole registry, `https://host/v1/` or `host`, before
    /// entries with a path, then in key order). The first entry that yields a usable
    /// credential wins; an entry is decoded only when it is consulted.
    pub(super) fn auths_lookup(&self, key: &str) -> Result<Option<Credential>> {
        if let Some(entry) = self.auths.get(key) {
            if let Some(cred) = self.entry_credential(key, entry)? {
                return Ok(Some(cred));
            }
        }
        let mut matches: Vec<(&String, &Value)> = self
            .auths
            .iter()
            .filter(|(k, _)| k.as_str() != key && host_form(k).eq_ignore_ascii_case(key))
            .collect();
        // Entries for a whole registry (`https://host/v1/`, `host`) before `host/path`
        // ones; the sort is stable, so key order holds within each group.
        matches.sort_by_key(|(k, _)| !k.contains("://") && k.contains('/'));
        for (k, entry) in matches {
            if let Some(cred) = self.entry_credential(k, entry)? {
                return Ok(Some(cred));
            }
        }
        Ok(None)
    }

    fn string_field<'a>(&self, key: &str, entry: &'a Value, field: &str) -> Result<&'a str> {
        let Value::Object(obj) = entry else {
            return Ok("");
        };
        match get_ci(obj, field) {
            None => Ok(""),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(io_error(
                &self.path,
                format_args!("field {field:?} of entry {key:?} is not a string"),
            )),
        }
    }

    /// The credential an `auths` entry gives, `None` when it has nothing usable.
    /// Precedence: `registrytoken`, `identitytoken`, `<token>` user, username + password.
    fn entry_credential(&self, key: &str, entry: &Value) -> Result<Option<Credential>> {
        let registry_token = self.string_field(key, entry, "registrytoken")?;
        if !registry_token.is_empty() {
            return Ok(Some(Credential::RegistryToken(registry_token.to_string())));
        }
        let identity_token = self.string_field(key, entry, "identitytoken")?;
        if !identity_token.is_empty() {
            return Ok(Some(Credential::IdentityToken(identity_token.to_string())));
        }
        let auth = self.string_field(key, entry, "auth")?.trim();
        let (username, password) = if auth.is_empty() {
            (
                self.string_field(key, entry, "username")?.to_string(),
                self.string_field(key, entry, "password")?.to_string(),
            )
        } else {
            self.decode_auth(key, auth)?
        };
        Ok(credential_from(username, password))
    }

    /// Decodes an `auth` value (base64 of `user:pass`, padded or not). The messages never
    /// include the value or the decoder's error (which quotes the offending byte).
    fn decode_auth(&self, key: &str, auth: &str) -> Result<(String, String)> {
        let bad = |why: &str| {
            io_error(
                &self.path,
                format_args!("the \"auth\" value of entry {key:?} {why}"),
            )
        };
        let decoded = AUTH_BASE64
            .decode(auth)
            .map_err(|_| bad("is not valid base64"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad("is not UTF-8 text"))?;
        let Some((username, password)) = decoded.split_once(':') else {
            return Err(bad("has no ':' between username and password"));
        };
        if username.is_empty() {
            return Err(bad("has an empty username"));
        }
        Ok((
            username.to_string(),
            password.trim_matches('\0').to_string(),
        ))
    }
}

/// A username and a password (or secret) as a credential: `<token>` makes the password an
/// identity token; otherwise both must be non-empty for Basic.
pub(super) fn credential_from(username: String, password: String) -> Option<Credential> {
    if password.is_empty() {
        None
    } else if username == TOKEN_USERNAME {
        Some(Credential::IdentityToken(password))
    } else if username.is_empty() {
        None
    } else {
        Some(Credential::Basic { username, password })
    }
}
