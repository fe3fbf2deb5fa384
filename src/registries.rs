//! Pull mirrors and remapped locations, as containers-registries.conf(5) describes them in
//! its v2 format (the file Podman, Buildah, Skopeo and CRI-O read): each `[[registry]]`
//! table names a `prefix` of repository names, the `location` that prefix really lives at,
//! its `[[registry.mirror]]`s in order, and `insecure`/`blocked`. A repository falls under
//! the table with the longest matching prefix; a read of it may be served by the table's
//! mirrors (those its `pull-from-mirror` allows for a read by tag or by digest), then by
//! the location. Nothing here sends a request: `remote::mirror` does the reading.
//!
//! Names are matched in the library's normalised form (`index.docker.io/library/ubuntu`):
//! prefixes and locations are normalised the same way, so that `docker.io/library` matches
//! Docker Hub's official images. Prefixes naming a tag or a digest are refused: rr matches
//! repositories, for blobs as much as for manifests.

use crate::error::{Error, ErrorKind, Result};
use crate::name::{Registry, Repository};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Which reads a mirror serves (`pull-from-mirror`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullFrom {
    /// Reads by tag and by digest (`all`, the default).
    #[default]
    All,
    /// Reads by digest only (`digest-only`): a tag's answer may lag on a mirror.
    DigestOnly,
    /// Reads by tag only (`tag-only`).
    TagOnly,
}

impl PullFrom {
    fn parse(value: &str, mirror: &str, origin: &str) -> Result<PullFrom> {
        match value {
            "" | "all" => Ok(PullFrom::All),
            "digest-only" => Ok(PullFrom::DigestOnly),
            "tag-only" => Ok(PullFrom::TagOnly),
            other => Err(Error::invalid_argument(format!(
                "{origin}: mirror {mirror:?}: pull-from-mirror is {other:?}; it takes \"all\", \"digest-only\" or \"tag-only\""
            ))),
        }
    }

    fn serves(self, by_digest: bool) -> bool {
        match self {
            PullFrom::All => true,
            PullFrom::DigestOnly => by_digest,
            PullFrom::TagOnly => !by_digest,
        }
    }
}

/// One `[[registry.mirror]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Normalised `host[:port][/namespace...]`.
    pub location: String,
    pub insecure: bool,
    pub pull_from: PullFrom,
}

/// One `[[registry]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Normalised `host[:port][/namespace...]`, or `*.domain`.
    pub prefix: String,
    /// Where the prefix lives; empty for a `*.domain` prefix without one (names are then
    /// used as they are).
    pub location: String,
    pub insecure: bool,
    pub blocked: bool,
    pub mirror_by_digest_only: bool,
    pub mirrors: Vec<Mirror>,
    /// Where the entry came from, for messages: a file, or the API.
    pub origin: String,
}

/// Where a read of one repository may be served from, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// The mirrors' repositories, tried first in this order.
    pub mirrors: Vec<Repository>,
    /// The repository at the entry's location: the repository itself unless its
    /// `location` remaps it. Tried last, with the full retry policy.
    pub primary: Repository,
}

/// The registries.conf entries a client knows, at most one per prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registries {
    entries: Vec<Entry>,
}

impl Registries {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Adds `entries`, replacing those with the same prefix (as a later drop-in file does).
    pub fn merge(&mut self, entries: Vec<Entry>) {
        for e in entries {
            match self.entries.iter_mut().find(|have| have.prefix == e.prefix) {
                Some(have) => *have = e,
                None => self.entries.push(e),
            }
        }
    }

    /// Adds `mirror` (pulled from as `pull_from` says) after the mirrors of the entry whose
    /// prefix is `registry`, making an entry for it when there is none.
    pub fn add_mirror(&mut self, registry: &str, mirror: &str, pull_from: PullFrom) -> Result<()> {
        const ORIGIN: &str = "rr_client_add_mirror";
        let prefix = normalize_location(registry, "registry", ORIGIN)?;
        if prefix.starts_with("*.") {
            return Err(Error::invalid_argument(format!(
                "{ORIGIN}: {registry:?} is a wildcard; give host[:port][/namespace]"
            )));
        }
        let location = normalize_location(mirror, "mirror", ORIGIN)?;
        if location.starts_with("*.") {
            return Err(Error::invalid_argument(format!(
                "{ORIGIN}: the mirror {mirror:?} is a wildcard; give host[:port][/namespace]"
            )));
        }
        let mirror = Mirror {
            location,
            insecure: false,
            pull_from,
        };
        match self.entries.iter_mut().find(|e| e.prefix == prefix) {
            Some(e) => {
                if e.mirror_by_digest_only && pull_from != PullFrom::All {
                    return Err(Error::invalid_argument(format!(
                        "{ORIGIN}: the entry for {prefix} (from {}) has mirror-by-digest-only, \
                         which excludes a pull-from-mirror of its own",
                        e.origin
                    )));
                }
                e.mirrors.push(mirror);
            }
            None => self.entries.push(Entry {
                location: prefix.clone(),
                prefix,
                insecure: false,
                blocked: false,
                mirror_by_digest_only: false,
                mirrors: vec![mirror],
                origin: ORIGIN.to_string(),
            }),
        }
        Ok(())
    }

    /// The entry `repository` falls under: the one with the longest matching prefix, and
    /// where in the name the prefix match ends.
    pub fn find(&self, name: &str) -> Option<(&Entry, usize)> {
        self.entries
            .iter()
            .filter_map(|e| matched_len(name, &e.prefix).map(|n| (e, n)))
            .max_by_key(|(e, _)| e.prefix.len())
    }

    /// Where a read of `repository` (by digest when `by_digest`) may be served from, or
    /// None when no entry covers it. A blocked entry is RR_ERR_DENIED.
    pub fn sources(&self, repository: &Repository, by_digest: bool) -> Result<Option<Sources>> {
        let name = repository.to_string();
        let Some((entry, matched)) = self.find(&name) else {
            return Ok(None);
        };
        if entry.blocked {
            return Err(Error::new(
                ErrorKind::Denied,
                format!(
                    "{repository} is blocked by the registries.conf entry for {} ({})",
                    entry.prefix, entry.origin
                ),
            ));
        }
        let rest = &name[matched..];
        let mirrors = entry
            .mirrors
            .iter()
            .filter(|m| {
                if entry.mirror_by_digest_only {
                    by_digest
                } else {
                    m.pull_from.serves(by_digest)
                }
            })
            .map(|m| rewrite(&m.location, rest, entry))
            .collect::<Result<Vec<_>>>()?;
        let primary = if entry.location.is_empty() {
            repository.clone()
        } else {
            rewrite(&entry.location, rest, entry)?
        };
        Ok(Some(Sources { mirrors, primary }))
    }

    /// The hosts `insecure` names: each entry's location and each insecure mirror's.
    /// A `*.domain` prefix without a location names no host, so its `insecure` is not
    /// applied (its registries keep verified TLS).
    pub fn insecure_hosts(&self) -> Vec<String> {
        let mut hosts = Vec::new();
        for e in &self.entries {
            if e.insecure && !e.location.is_empty() && !e.location.starts_with("*.") {
                hosts.push(host_of(&e.location).to_string());
            }
            for m in e.mirrors.iter().filter(|m| m.insecure) {
                hosts.push(host_of(&m.location).to_string());
            }
        }
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

fn host_of(location: &str) -> &str {
    location.split('/').next().unwrap_or(location)
}

/// `location` followed by what the name has past the prefix, as a repository.
fn rewrite(location: &str, rest: &str, entry: &Entry) -> Result<Repository> {
    let full = format!("{location}{rest}");
    let fail = |why: String| {
        Error::invalid_reference(format!(
            "the registries.conf entry for {} ({}) rewrites a name to {full:?}: {why}",
            entry.prefix, entry.origin
        ))
    };
    let Some((host, path)) = full.split_once('/') else {
        return Err(fail("that names no repository".to_string()));
    };
    let registry = Registry::parse(host).map_err(|e| fail(e.message))?;
    Repository::with_path(registry, path).map_err(|e| fail(e.message))
}

/// Where `prefix` stops matching `name` (a normalised `registry/path`), or None when it
/// does not match. A prefix matches the whole name or a run of its `/`-separated
/// components; `*.domain` matches a registry host (any port) below `domain`.
fn matched_len(name: &str, prefix: &str) -> Option<usize> {
    if let Some(domain) = prefix.strip_prefix('*') {
        // domain is ".example.com".
        let host_end = name.find('/').unwrap_or(name.len());
        let host = &name[..host_end];
        let host_only = match host.rsplit_once(':') {
            Some((h, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        };
        // The match takes the port along, so that a mirror's location replaces the whole
        // registry (containers/image would leave ":port" behind, making no repository).
        return (host_only.len() > domain.len() && host_only.ends_with(domain)).then_some(host_end);
    }
    if name == prefix {
        return Some(prefix.len());
    }
    (name.starts_with(prefix) && name.as_bytes().get(prefix.len()) == Some(&b'/'))
        .then_some(prefix.len())
}

/// A `prefix` or `location` in the library's form: no trailing `/`, no scheme, the host
/// aliased as references are (`docker.io` is `index.docker.io`), the path checked.
fn normalize_location(value: &str, what: &str, origin: &str) -> Result<String> {
    let trimmed = value.trim().trim_end_matches('/');
    let fail = |why: &str| Error::invalid_argument(format!("{origin}: {what} {value:?}: {why}"));
    if trimmed.is_empty() {
        return Err(fail("it is empty"));
    }
    if trimmed.contains("://") {
        return Err(fail(
            "a scheme is not part of a location; give host[:port][/namespace]",
        ));
    }
    if let Some(domain) = trimmed.strip_prefix("*.") {
        if domain.is_empty() || domain.contains(['/', '@', ':', '*']) {
            return Err(fail(
                "a wildcard is only \"*.domain\", without port or path",
            ));
        }
        return Ok(trimmed.to_ascii_lowercase());
    }
    let (host, path) = match trimmed.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (trimmed, None),
    };
    let registry = Registry::parse(host).map_err(|e| fail(&e.message))?;
    let Some(path) = path else {
        return Ok(registry.as_str().to_string());
    };
    if path.contains('@')
        || path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        return Err(fail(
            "rr matches repositories and namespaces, not a tag or a digest",
        ));
    }
    Repository::with_path(registry.clone(), path).map_err(|e| fail(&e.message))?;
    Ok(format!("{}/{path}", registry.as_str()))
}

// ---- the file ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct File {
    #[serde(default)]
    registry: Vec<RawRegistry>,
    /// The v1 format's `[registries.search]`, `[registries.insecure]`, `[registries.block]`.
    registries: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawRegistry {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    pull_from_mirror: Option<String>,
    #[serde(default)]
    mirror: Vec<RawMirror>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawMirror {
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<String>,
}

/// The entries of one registries.conf text; `origin` names it in messages. Keys rr does
/// not use (`unqualified-search-registries`, `[aliases]`, `short-name-mode`,
/// `credential-helpers`, ...) are ignored; the v1 format is refused.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Entry>> {
    let file: File = toml::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("{origin}: {}", e.to_string().trim())))?;
    if let Some(v1) = &file.registries {
        let used = ["search", "insecure", "block"].iter().any(|k| {
            v1.get(*k)
                .and_then(|t| t.get("registries"))
                .and_then(toml::Value::as_array)
                .is_some_and(|a| !a.is_empty())
        });
        if used {
            return Err(Error::invalid_argument(format!(
                "{origin}: this is the v1 format ([registries.search], [registries.insecure], \
                 [registries.block]), which rr does not read: write [[registry]] tables \
                 (containers-registries.conf(5)) instead"
            )));
        }
    }
    let mut entries: Vec<Entry> = Vec::new();
    for raw in file.registry {
        let location = match raw.location.as_deref() {
            Some(l) if !l.trim().is_empty() => normalize_location(l, "location", origin)?,
            _ => String::new(),
        };
        let prefix = match raw.prefix.as_deref() {
            Some(p) if !p.trim().is_empty() => normalize_location(p, "prefix", origin)?,
            _ if location.is_empty() => {
                return Err(Error::invalid_argument(format!(
                    "{origin}: a [[registry]] has neither prefix nor location"
                )))
            }
            _ => location.clone(),
        };
        if location.is_empty() && !prefix.starts_with("*.") {
            return Err(Error::invalid_argument(format!(
                "{origin}: the [[registry]] for {prefix} has no location (only a \"*.domain\" prefix may go without)"
            )));
        }
        if location.starts_with("*.") {
            return Err(Error::invalid_argument(format!(
                "{origin}: the [[registry]] for {prefix}: a location cannot be a wildcard"
            )));
        }
        if raw.pull_from_mirror.is_some() {
            return Err(Error::invalid_argument(format!(
                "{origin}: the [[registry]] for {prefix} sets pull-from-mirror, which only a [[registry.mirror]] takes"
            )));
        }
        let mut mirrors = Vec::new();
        for m in raw.mirror {
            let location = match m.location.as_deref() {
                Some(l) if !l.trim().is_empty() => {
                    normalize_location(l, "mirror location", origin)?
                }
                _ => {
                    return Err(Error::invalid_argument(format!(
                        "{origin}: a [[registry.mirror]] of {prefix} has no location"
                    )))
                }
            };
            if location.starts_with("*.") {
                return Err(Error::invalid_argument(format!(
                    "{origin}: mirror {location:?} of {prefix}: a mirror cannot be a wildcard"
                )));
            }
            if raw.mirror_by_digest_only && m.pull_from_mirror.is_some() {
                return Err(Error::invalid_argument(format!(
                    "{origin}: the [[registry]] for {prefix} sets mirror-by-digest-only and its mirror {location} \
                     pull-from-mirror; only one of them may be set"
                )));
            }
            let pull_from = PullFrom::parse(
                m.pull_from_mirror.as_deref().unwrap_or(""),
                &location,
                origin,
            )?;
            mirrors.push(Mirror {
                location,
                insecure: m.insecure,
                pull_from,
            });
        }
        // Within one file the first entry of a prefix wins, as in containers/image.
        if entries.iter().any(|e| e.prefix == prefix) {
            continue;
        }
        entries.push(Entry {
            prefix,
            location,
            insecure: raw.insecure,
            blocked: raw.blocked,
            mirror_by_digest_only: raw.mirror_by_digest_only,
            mirrors,
            origin: origin.to_string(),
        });
    }
    Ok(entries)
}

/// The entries of the file at `path`, or of every `*.conf` file of the directory at
/// `path` in name order (a registries.conf.d). Unreadable is RR_ERR_IO.
pub fn load_path(path: &Path) -> Result<Vec<Entry>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::io(format!("registries.conf {}", path.display()), &e))?;
    if meta.is_dir() {
        let mut registries = Registries::default();
        for file in drop_ins(path)? {
            registries.merge(load_file(&file)?);
        }
        Ok(registries.entries)
    } else {
        load_file(path)
    }
}

fn load_file(path: &Path) -> Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("registries.conf {}", path.display()), &e))?;
    parse(&text, &path.display().to_string())
}

/// The `*.conf` files of a drop-in directory, by name; none when it does not exist.
fn drop_ins(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), &e)),
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    Ok(files)
}

/// Where containers/image reads its configuration from, in the order it reads it:
/// `$CONTAINERS_REGISTRIES_CONF` if set (it must exist), else
/// `$HOME/.config/containers/registries.conf` if it exists (with only the drop-ins of
/// `$HOME/.config/containers/registries.conf.d`), else `/etc/containers/registries.conf`
/// (which may be missing) with the drop-ins of `/etc/containers/registries.conf.d` then
/// of `$HOME/.config/containers/registries.conf.d`.
pub struct DefaultFiles {
    pub main: PathBuf,
    pub main_required: bool,
    pub drop_in_dirs: Vec<PathBuf>,
}

pub const SYSTEM_FILE: &str = "/etc/containers/registries.conf";
pub const SYSTEM_DROP_INS: &str = "/etc/containers/registries.conf.d";

impl DefaultFiles {
    pub fn find(env: &dyn Fn(&str) -> Option<String>) -> DefaultFiles {
        let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let user_file = home
            .as_ref()
            .map(|h| h.join(".config/containers/registries.conf"));
        let user_dir = home
            .as_ref()
            .map(|h| h.join(".config/containers/registries.conf.d"));
        if let Some(path) = env("CONTAINERS_REGISTRIES_CONF").filter(|p| !p.is_empty()) {
            return DefaultFiles {
                main: PathBuf::from(path),
                main_required: true,
                drop_in_dirs: std::iter::once(PathBuf::from(SYSTEM_DROP_INS))
                    .chain(user_dir)
                    .collect(),
            };
        }
        if let Some(user_file) = user_file.filter(|f| f.is_file()) {
            return DefaultFiles {
                main: user_file,
                main_required: true,
                drop_in_dirs: user_dir.into_iter().collect(),
            };
        }
        DefaultFiles {
            main: PathBuf::from(SYSTEM_FILE),
            main_required: false,
            drop_in_dirs: std::iter::once(PathBuf::from(SYSTEM_DROP_INS))
                .chain(user_dir)
                .collect(),
        }
    }

    /// Every entry of these files, later files replacing earlier entries of the same prefix.
    pub fn load(&self) -> Result<Vec<Entry>> {
        let mut registries = Registries::default();
        match std::fs::metadata(&self.main) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.main_required => {}
            _ => registries.merge(load_file(&self.main)?),
        }
        for dir in &self.drop_in_dirs {
            for file in drop_ins(dir)? {
                registries.merge(load_file(&file)?);
            }
        }
        Ok(registries.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(s: &str) -> Repository {
        Repository::parse(s).unwrap()
    }

    fn registries(text: &str) -> Registries {
        let mut r = Registries::default();
        r.merge(parse(text, "test.conf").unwrap());
        r
    }

    fn names(sources: &Sources) -> Vec<String> {
        sources
            .mirrors
            .iter()
            .chain(std::iter::once(&sources.primary))
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_man_pages_example_tries_the_mirrors_then_the_location() {
        let r = registries(
            r#"
unqualified-search-registries = ["example.com"]

[[registry]]
prefix = "example.com/foo"
insecure = false
blocked = false
location = "internal-registry-for-example.com/bar"

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true

[[registry]]
location = "registry.com"

[[registry.mirror]]
location = "mirror.registry.com"
"#,
        );
        let s = r
            .sources(&repo("example.com/foo/image"), false)
            .unwrap()
            .unwrap();
        assert_eq!(
            names(&s),
            [
                "example-mirror-0.local/mirror-for-foo/image",
                "example-mirror-1.local/mirrors/foo/image",
                "internal-registry-for-example.com/bar/image",
            ]
        );
        // A mirror belongs to its own table only.
        let s = r
            .sources(&repo("registry.com/image"), true)
            .unwrap()
            .unwrap();
        assert_eq!(
            names(&s),
            ["mirror.registry.com/image", "registry.com/image"]
        );
        assert_eq!(r.sources(&repo("other.io/image"), false).unwrap(), None);
        assert_eq!(r.insecure_hosts(), ["example-mirror-1.local"]);
    }

    #[test]
    fn docker_hub_prefixes_match_the_normalised_names() {
        let r = registries(
            r#"
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "mirror.example.com/cache"
[[registry]]
prefix = "docker.io/library"
location = "docker.io/library"
[[registry.mirror]]
location = "official.example.com"
"#,
        );
        let s = r.sources(&repo("ubuntu"), false).unwrap().unwrap();
        assert_eq!(
            names(&s),
            [
                "official.example.com/ubuntu",
                "index.docker.io/library/ubuntu"
            ]
        );
        let s = r.sources(&repo("bitnami/redis"), false).unwrap().unwrap();
        assert_eq!(
            names(&s),
            [
                "mirror.example.com/cache/bitnami/redis",
                "index.docker.io/bitnami/redis"
            ]
        );
    }

    #[test]
    fn prefixes_match_whole_components_and_the_longest_wins() {
        let r = registries(
            r#"
[[registry]]
location = "r.io/team"
[[registry.mirror]]
location = "m.io/team"
[[registry]]
location = "r.io/team/app"
[[registry.mirror]]
location = "m.io/app-only"
[[registry]]
location = "localhost:5000"
[[registry.mirror]]
location = "localhost:5001"
"#,
        );
        let first = |name: &str| {
            r.sources(&repo(name), false)
                .unwrap()
                .map(|s| s.mirrors[0].to_string())
        };
        assert_eq!(first("r.io/team/app").as_deref(), Some("m.io/app-only"));
        assert_eq!(
            first("r.io/team/app/sub").as_deref(),
            Some("m.io/app-only/sub")
        );
        assert_eq!(first("r.io/team/other").as_deref(), Some("m.io/team/other"));
        assert_eq!(first("r.io/teamwork/x"), None, "not a component boundary");
        assert_eq!(
            first("localhost:5000/a").as_deref(),
            Some("localhost:5001/a")
        );
        assert_eq!(first("localhost:50001/a"), None);
    }

    #[test]
    fn wildcards_match_subdomains_with_any_port() {
        let r = registries(
            r#"
[[registry]]
prefix = "*.example.com"
[[registry.mirror]]
location = "cache.local/ex"
"#,
        );
        let s = r
            .sources(&repo("a.b.example.com/app"), false)
            .unwrap()
            .unwrap();
        assert_eq!(names(&s), ["cache.local/ex/app", "a.b.example.com/app"]);
        assert!(r
            .sources(&repo("example.com/app"), false)
            .unwrap()
            .is_none());
        assert!(r
            .sources(&repo("a.example.com.evil.io/app"), false)
            .unwrap()
            .is_none());
        assert!(r
            .sources(&repo("a.example.com:5000/app"), false)
            .unwrap()
            .is_some());
    }

    #[test]
    fn pull_from_mirror_and_mirror_by_digest_only_choose_by_the_kind_of_read() {
        let r = registries(
            r#"
[[registry]]
location = "r.io"
[[registry.mirror]]
location = "all.io"
[[registry.mirror]]
location = "digests.io"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tags.io"
pull-from-mirror = "tag-only"
[[registry]]
location = "d.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "dm.io"
"#,
        );
        let by =
            |name: &str, digest: bool| names(&r.sources(&repo(name), digest).unwrap().unwrap());
        assert_eq!(by("r.io/a", false), ["all.io/a", "tags.io/a", "r.io/a"]);
        assert_eq!(by("r.io/a", true), ["all.io/a", "digests.io/a", "r.io/a"]);
        assert_eq!(by("d.io/a", false), ["d.io/a"]);
        assert_eq!(by("d.io/a", true), ["dm.io/a", "d.io/a"]);
    }

    #[test]
    fn blocked_entries_refuse_reads() {
        let r = registries("[[registry]]\nlocation = \"bad.io\"\nblocked = true\n");
        let e = r.sources(&repo("bad.io/x"), false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Denied);
        assert!(
            e.message.contains("blocked") && e.message.contains("test.conf"),
            "{}",
            e.message
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_file_and_the_reason() {
        let cases = [
            ("[[registry]]\ninsecure = true\n", "neither prefix nor location"),
            ("[[registry]]\nprefix = \"r.io\"\n", "no location"),
            ("[[registry]]\nlocation = \"https://r.io\"\n", "scheme"),
            ("[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\ninsecure = true\n", "has no location"),
            ("[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"some\"\n", "pull-from-mirror"),
            ("[[registry]]\nlocation = \"r.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"all\"\n", "only one of them"),
            ("[[registry]]\nlocation = \"r.io\"\npull-from-mirror = \"all\"\n", "only a [[registry.mirror]]"),
            ("[[registry]]\nprefix = \"*.r.io/x\"\n", "wildcard"),
            ("[[registry]]\nprefix = \"r.io/app:v1\"\nlocation = \"r.io/app\"\n", "not a tag"),
            ("[[registry]]\nlocation = \"r.io/App\"\n", "lower-case"),
            ("[registries.search]\nregistries = ['r.io']\n", "v1 format"),
            ("[[registry]]\nlocation = 5\n", "test.conf"),
            ("[[registry]\n", "test.conf"),
        ];
        for (text, says) in cases {
            let e = parse(text, "test.conf").unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{text}");
            assert!(e.message.contains(says), "{text}: {}", e.message);
            assert!(e.message.starts_with("test.conf"), "{}", e.message);
            assert!(!e.message.contains('\n'));
        }
        // An empty v1 table and the keys rr does not read are fine.
        let ok = "unqualified-search-registries = [\"r.io\"]\nshort-name-mode = \"enforcing\"\n\
                  [aliases]\n\"app\" = \"r.io/app\"\n[registries.search]\nregistries = []\n";
        assert_eq!(parse(ok, "test.conf").unwrap(), Vec::new());
    }

    #[test]
    fn later_entries_replace_earlier_ones_of_the_same_prefix() {
        let mut r = registries(
            "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"old.io\"\n",
        );
        r.merge(
            parse(
                "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"new.io\"\n",
                "b.conf",
            )
            .unwrap(),
        );
        let s = r.sources(&repo("r.io/x"), false).unwrap().unwrap();
        assert_eq!(names(&s), ["new.io/x", "r.io/x"]);
        // Within one file, the first one wins.
        let r = registries("[[registry]]\nlocation = \"r.io\"\n[[registry]]\nlocation = \"r.io\"\nblocked = true\n");
        assert!(r.sources(&repo("r.io/x"), false).is_ok());
    }

    #[test]
    fn add_mirror_extends_or_makes_an_entry() {
        let mut r = Registries::default();
        r.add_mirror("docker.io", "mirror.example.com/cache", PullFrom::All)
            .unwrap();
        r.add_mirror(
            "index.docker.io",
            "second.example.com",
            PullFrom::DigestOnly,
        )
        .unwrap();
        let s = r.sources(&repo("ubuntu"), true).unwrap().unwrap();
        assert_eq!(
            names(&s),
            [
                "mirror.example.com/cache/library/ubuntu",
                "second.example.com/library/ubuntu",
                "index.docker.io/library/ubuntu"
            ]
        );
        for (registry, mirror) in [
            ("*.io", "m.io"),
            ("r.io", "*.m.io"),
            ("", "m.io"),
            ("r.io", "http://m.io"),
        ] {
            let e = r.add_mirror(registry, mirror, PullFrom::All).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{registry} {mirror}");
        }
    }

    #[test]
    fn default_files_follow_containers_image() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap().to_string();
        let env = |vars: Vec<(&'static str, String)>| {
            move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };
        let d = DefaultFiles::find(&env(vec![("HOME", h.clone())]));
        assert_eq!(d.main, PathBuf::from(SYSTEM_FILE));
        assert!(!d.main_required);
        assert_eq!(
            d.drop_in_dirs,
            [
                PathBuf::from(SYSTEM_DROP_INS),
                home.path().join(".config/containers/registries.conf.d")
            ]
        );
        let user = home.path().join(".config/containers");
        std::fs::create_dir_all(user.join("registries.conf.d")).unwrap();
        std::fs::write(
            user.join("registries.conf"),
            "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"a.io\"\n",
        )
        .unwrap();
        std::fs::write(
            user.join("registries.conf.d/50-b.conf"),
            "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"b.io\"\n",
        )
        .unwrap();
        std::fs::write(user.join("registries.conf.d/ignored.txt"), "not toml [").unwrap();
        let d = DefaultFiles::find(&env(vec![("HOME", h.clone())]));
        assert_eq!(d.main, user.join("registries.conf"));
        assert_eq!(d.drop_in_dirs, [user.join("registries.conf.d")]);
        let mut r = Registries::default();
        r.merge(d.load().unwrap());
        assert_eq!(
            names(&r.sources(&repo("r.io/x"), false).unwrap().unwrap()),
            ["b.io/x", "r.io/x"],
            "the drop-in replaces the main file's entry"
        );
        let d = DefaultFiles::find(&env(vec![
            ("HOME", h.clone()),
            ("CONTAINERS_REGISTRIES_CONF", format!("{h}/nowhere.conf")),
        ]));
        assert!(d.main_required);
        assert_eq!(d.load().unwrap_err().kind, ErrorKind::Io);
        assert_eq!(
            load_path(&user.join("registries.conf.d")).unwrap()[0].mirrors[0].location,
            "b.io"
        );
    }
}
