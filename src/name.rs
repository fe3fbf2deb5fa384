//! References: `registry/repository[:tag|@digest]` with go-containerregistry's defaults.
//!
//! Grammar (see `docs/registry-client-behaviour.md` §1 and the API contract):
//! * the first path component is a registry iff there is a second component and the first
//!   contains `.` or `:` or is exactly `localhost`; otherwise the whole name is a Docker Hub
//!   repository, which gets `library/` when it has a single component;
//! * a tag is the text after the last `:` when that text contains no `/`;
//! * a digest follows the only `@` and must be `sha256:` + 64 lower-case hex characters;
//!   `repo:tag@digest` keeps only the digest (the tag must still be valid);
//! * repository paths are `[a-z0-9_.-]` components joined by single `/`, 1..=255 characters;
//!   tags are `[A-Za-z0-9_.-]`, 1..=128 characters; registries are `host[:port]`.

use crate::error::{Error, Result};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Docker Hub's registry name after aliasing.
pub const DEFAULT_REGISTRY: &str = "index.docker.io";
pub const DEFAULT_TAG: &str = "latest";

/// The name people write for Docker Hub; rewritten to [`DEFAULT_REGISTRY`].
const DOCKER_HUB_ALIAS: &str = "docker.io";
/// The implicit namespace of single-component Docker Hub repositories.
const DOCKER_HUB_NAMESPACE: &str = "library/";
const MAX_PATH_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A registry: `host[:port]` (IPv6 literals in brackets), after `docker.io` aliasing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Registry {
    name: String,
}

/// A repository on a registry; `path` has `library/` added for single-name Docker Hub repos.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    registry: Registry,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    Tag(String),
    /// `sha256:<64 hex>`
    Digest(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    repository: Repository,
    identifier: Identifier,
}

/// The normalised string of a reference: `ubuntu` → `index.docker.io/library/ubuntu:latest`.
pub fn normalize(s: &str) -> Result<String> {
    Ok(Reference::parse(s)?.to_string())
}

impl Registry {
    /// Parses `host[:port]`. Errors are `ErrorKind::InvalidReference`.
    pub fn parse(s: &str) -> Result<Registry> {
        parse_registry(s)
            .map_err(|why| Error::invalid_reference(format!("invalid registry {s:?}: {why}")))
    }
    /// Docker Hub (`index.docker.io`).
    pub fn docker_hub() -> Registry {
        Registry {
            name: DEFAULT_REGISTRY.to_string(),
        }
    }
    /// `host[:port]` as used in URLs and as the key for credentials.
    pub fn as_str(&self) -> &str {
        &self.name
    }
    /// The host without port (IPv6 without brackets).
    pub fn host(&self) -> &str {
        split_host_port(&self.name).0
    }
    pub fn port(&self) -> Option<u16> {
        split_host_port(&self.name).1.and_then(|p| p.parse().ok())
    }
    /// `localhost`, `*.localhost`, `127.0.0.0/8` or `::1`, with or without a port.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        if host.len() > ".localhost".len() {
            let (head, suffix) = host.split_at(host.len() - ".localhost".len());
            if !head.is_empty() && suffix.eq_ignore_ascii_case(".localhost") {
                return true;
            }
        }
        if let Ok(v4) = host.parse::<Ipv4Addr>() {
            return v4.is_loopback();
        }
        if let Ok(v6) = host.parse::<Ipv6Addr>() {
            return v6.is_loopback();
        }
        false
    }
    /// Whether this is Docker Hub (`index.docker.io`).
    pub fn is_docker_hub(&self) -> bool {
        self.name == DEFAULT_REGISTRY
    }
    /// The token scope of registry-level operations: `registry:catalog:*`.
    pub fn scope(&self) -> String {
        "registry:catalog:*".to_string()
    }
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::docker_hub()
    }
}

impl Repository {
    /// Parses `[registry/]path` (no tag, no digest).
    pub fn parse(s: &str) -> Result<Repository> {
        parse_repository_only(s)
            .map_err(|why| Error::invalid_reference(format!("invalid repository {s:?}: {why}")))
    }
    pub fn new(registry: Registry, path: String) -> Repository {
        Repository { registry, path }
    }
    /// The repository `path` on `registry`, the path checked as a parsed one is but taken
    /// as it is: no Docker Hub `library/` is added, since the path is already a full one
    /// (a mirror's repository, rewritten from a registries.conf location).
    pub fn with_path(registry: Registry, path: &str) -> Result<Repository> {
        validate_path(path)
            .and_then(|()| {
                if path.len() > MAX_PATH_LEN {
                    Err(format!(
                        "the repository path is {} characters long; at most {MAX_PATH_LEN} are allowed",
                        path.len()
                    ))
                } else {
                    Ok(())
                }
            })
            .map_err(|why| Error::invalid_reference(format!("invalid repository {path:?}: {why}")))?;
        Ok(Repository::new(registry, path.to_string()))
    }
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
    pub fn path(&self) -> &str {
        &self.path
    }
    /// `repository:<path>:<actions>`
    pub fn scope(&self, actions: &str) -> String {
        format!("repository:{}:{}", self.path, actions)
    }
    /// A reference to `tag` in this repository (the tag is not validated).
    pub fn tag(&self, tag: &str) -> Reference {
        Reference::new(self.clone(), Identifier::Tag(tag.to_string()))
    }
    /// A reference to `digest` in this repository (the digest is not validated).
    pub fn digest(&self, digest: &str) -> Reference {
        Reference::new(self.clone(), Identifier::Digest(digest.to_string()))
    }
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference> {
        parse_reference(s)
            .map_err(|why| Error::invalid_reference(format!("invalid reference {s:?}: {why}")))
    }

    /// A reference to write to: the tag or digest must be written out, since pushing to an
    /// implied `latest` is more often a mistake than a wish.
    pub fn parse_for_write(s: &str) -> Result<Reference> {
        let reference = Reference::parse(s)?;
        let name = s.split_once('@').map_or(s, |(name, _)| name);
        if !s.contains('@') && split_tag(name).1.is_none() {
            return Err(Error::invalid_reference(format!(
                "invalid reference {s:?} for writing: give a tag (:tag) or a digest (@sha256:...)"
            )));
        }
        Ok(reference)
    }

    /// Validates a bare tag, e.g. the new tag of `rr_tag`.
    pub fn validate_tag(tag: &str) -> Result<()> {
        validate_tag(tag)
            .map_err(|why| Error::invalid_reference(format!("invalid tag {tag:?}: {why}")))
    }
    pub fn new(repository: Repository, identifier: Identifier) -> Reference {
        Reference {
            repository,
            identifier,
        }
    }
    pub fn repository(&self) -> &Repository {
        &self.repository
    }
    pub fn registry(&self) -> &Registry {
        &self.repository.registry
    }
    pub fn identifier(&self) -> &Identifier {
        &self.identifier
    }
    /// The tag or digest as it goes in a URL.
    pub fn identifier_str(&self) -> &str {
        match &self.identifier {
            Identifier::Tag(t) => t,
            Identifier::Digest(d) => d,
        }
    }
    pub fn digest(&self) -> Option<&str> {
        match &self.identifier {
            Identifier::Digest(d) => Some(d),
            Identifier::Tag(_) => None,
        }
    }
    pub fn tag(&self) -> Option<&str> {
        match &self.identifier {
            Identifier::Tag(t) => Some(t),
            Identifier::Digest(_) => None,
        }
    }
    /// `repository:<path>:<actions>` of the reference's repository.
    pub fn scope(&self, actions: &str) -> String {
        self.repository.scope(actions)
    }
}

impl FromStr for Registry {
    type Err = Error;
    fn from_str(s: &str) -> Result<Registry> {
        Registry::parse(s)
    }
}
impl FromStr for Repository {
    type Err = Error;
    fn from_str(s: &str) -> Result<Repository> {
        Repository::parse(s)
    }
}
impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Reference> {
        Reference::parse(s)
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.identifier {
            Identifier::Tag(t) => write!(f, "{}:{}", self.repository, t),
            Identifier::Digest(d) => write!(f, "{}@{}", self.repository, d),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing. The helpers return the reason as a String; the public entry points put the
// kind of input and the quoted input in front of it, so every message is one line that
// says what was given and what is wrong with it.

type Why<T> = std::result::Result<T, String>;

/// Refuses `https://...` and friends with a message that tells what to do.
fn reject_scheme(s: &str) -> Why<()> {
    if let Some(pos) = s.find("://") {
        let scheme = &s[..pos];
        return Err(format!(
            "a scheme ({scheme}://) is not part of a reference; drop the scheme and give host[:port]/repository"
        ));
    }
    Ok(())
}

fn parse_reference(s: &str) -> Why<Reference> {
    if s.is_empty() {
        return Err("the reference is empty".into());
    }
    reject_scheme(s)?;
    let (name, digest) = match s.split_once('@') {
        Some((name, digest)) => {
            if digest.contains('@') {
                return Err("more than one '@'".into());
            }
            crate::digest::validate(digest).map_err(|e| e.message)?;
            (name, Some(digest))
        }
        None => (s, None),
    };
    if name.is_empty() {
        return Err("the repository name before '@' is missing".into());
    }
    let (repo, tag) = split_tag(name);
    if let Some(tag) = tag {
        validate_tag(tag)?;
    }
    if repo.is_empty() {
        return Err("the repository name before ':' is missing".into());
    }
    let repository = parse_repository_name(repo)?;
    let identifier = match (digest, tag) {
        (Some(d), _) => Identifier::Digest(d.to_string()),
        (None, Some(t)) => Identifier::Tag(t.to_string()),
        (None, None) => Identifier::Tag(DEFAULT_TAG.to_string()),
    };
    Ok(Reference::new(repository, identifier))
}

/// Splits off a tag: the text after the last `:` when it contains no `/`.
fn split_tag(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (name, None),
    }
}

fn parse_repository_only(s: &str) -> Why<Repository> {
    if s.is_empty() {
        return Err("the repository name is empty".into());
    }
    reject_scheme(s)?;
    if s.contains('@') {
        return Err("a repository takes no digest; drop the '@...' part".into());
    }
    if let (_, Some(tag)) = split_tag(s) {
        return Err(format!("a repository takes no tag; drop the ':{tag}' part"));
    }
    parse_repository_name(s)
}

/// `[registry/]path` without tag or digest.
fn parse_repository_name(s: &str) -> Why<Repository> {
    let (registry, path) = match s.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (parse_registry(first)?, rest)
        }
        _ => (Registry::docker_hub(), s),
    };
    validate_path(path)?;
    let path = if registry.is_docker_hub() && !path.contains('/') {
        format!("{DOCKER_HUB_NAMESPACE}{path}")
    } else {
        path.to_string()
    };
    // Counted on the stored path, so that the normalised form parses again.
    if path.len() > MAX_PATH_LEN {
        return Err(format!(
            "the repository path is {} characters long; at most {MAX_PATH_LEN} are allowed",
            path.len()
        ));
    }
    Ok(Repository::new(registry, path))
}

fn validate_path(path: &str) -> Why<()> {
    if path.is_empty() {
        return Err("the repository path is empty".into());
    }
    if let Some(c) = path.chars().find(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "repository path {path:?} contains upper-case {c:?}; repository names must be lower-case"
        ));
    }
    if let Some(c) = path
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_-./".contains(c)))
    {
        return Err(format!(
            "repository path {path:?} contains {c:?}; only a-z, 0-9, '_', '-', '.' and '/' are allowed"
        ));
    }
    if path.split('/').any(str::is_empty) {
        return Err(format!(
            "repository path {path:?} has an empty component (leading, trailing or double '/')"
        ));
    }
    Ok(())
}

fn validate_tag(tag: &str) -> Why<()> {
    if tag.is_empty() {
        return Err("the tag after ':' is empty".into());
    }
    if let Some(c) = tag
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_-.".contains(c)))
    {
        return Err(format!(
            "tag {tag:?} contains {c:?}; only A-Z, a-z, 0-9, '_', '-' and '.' are allowed"
        ));
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "the tag is {} characters long; at most {MAX_TAG_LEN} are allowed",
            tag.len()
        ));
    }
    Ok(())
}

/// Validates `host[:port]` and applies the `docker.io` alias.
fn parse_registry(s: &str) -> Why<Registry> {
    if s.is_empty() {
        return Err("the registry host is empty".into());
    }
    reject_scheme(s)?;
    if let Some(c) = s
        .chars()
        .find(|&c| c.is_whitespace() || c.is_control() || "/@?#\\%".contains(c))
    {
        return Err(format!(
            "registry {s:?} contains {c:?}; a registry is host[:port]"
        ));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("registry {s:?} has '[' without a closing ']'"))?;
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "registry {s:?}: {inner:?} in brackets is not an IPv6 address"
            ));
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| {
                format!("registry {s:?} has {after:?} after ']'; expected ':port'")
            })?),
        };
        (None, port)
    } else {
        let (host, port) = match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        };
        if port.is_some_and(|p| p.contains(':')) {
            return Err(format!(
                "registry {s:?} has more than one ':'; IPv6 addresses go in brackets, as in [::1]:5000"
            ));
        }
        (Some(host), port)
    };
    if let Some(host) = host {
        validate_host(s, host)?;
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p != 0);
        if !valid {
            return Err(if port.is_empty() {
                format!("registry {s:?} has an empty port after ':'")
            } else {
                format!("registry {s:?} has port {port:?}; a port is a number from 1 to 65535")
            });
        }
    }
    let name = if s == DOCKER_HUB_ALIAS {
        DEFAULT_REGISTRY.to_string()
    } else {
        s.to_string()
    };
    Ok(Registry { name })
}

/// A DNS name (labels of letters, digits and '-') or an IPv4 literal.
fn validate_host(registry: &str, host: &str) -> Why<()> {
    if host.is_empty() {
        return Err(format!("registry {registry:?} has an empty host"));
    }
    if let Some(c) = host
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(format!(
            "registry host {host:?} contains {c:?}; a host is a DNS name, an IPv4 address or a bracketed IPv6 address"
        ));
    }
    if host.split('.').any(str::is_empty) {
        return Err(format!(
            "registry host {host:?} has an empty label (leading, trailing or double '.')"
        ));
    }
    // As in URL host parsing, a name whose last label is numeric must be an IPv4 address.
    let last = host.rsplit('.').next().unwrap_or(host);
    if last.bytes().all(|b| b.is_ascii_digit()) && host.parse::<Ipv4Addr>().is_err() {
        return Err(format!(
            "registry host {host:?} looks like an IPv4 address but is not a valid one"
        ));
    }
    Ok(())
}

/// Splits a validated `host[:port]`; brackets are removed from IPv6 hosts.
fn split_host_port(name: &str) -> (&str, Option<&str>) {
    if let Some(rest) = name.strip_prefix('[') {
        if let Some((inner, after)) = rest.split_once(']') {
            return (inner, after.strip_prefix(':'));
        }
    }
    match name.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (name, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// `Ok(normalised)` or `Err(words the message must contain)`.
    enum Want {
        Ok(&'static str),
        Err(&'static str),
    }
    use Want::{Err as E, Ok as N};

    /// Inputs with `{D}` replaced by a valid digest, `{T128}` etc. by long strings.
    fn expand(s: &str) -> String {
        s.replace("{D}", &format!("sha256:{HEX}"))
            .replace("{HEX}", HEX)
            .replace("{T128}", &"t".repeat(128))
            .replace("{T129}", &"t".repeat(129))
            .replace("{P255}", &"p".repeat(255))
            .replace("{P256}", &"p".repeat(256))
            .replace("{P247}", &"p".repeat(247))
            .replace("{P248}", &"p".repeat(248))
    }

    const TABLE: &[(&str, Want)] = &[
        // Docker Hub defaults and aliasing.
        ("ubuntu", N("index.docker.io/library/ubuntu:latest")),
        ("ubuntu:22.04", N("index.docker.io/library/ubuntu:22.04")),
        ("library/ubuntu", N("index.docker.io/library/ubuntu:latest")),
        ("foo/bar", N("index.docker.io/foo/bar:latest")),
        ("foo/bar/baz:1", N("index.docker.io/foo/bar/baz:1")),
        ("docker.io/x/y", N("index.docker.io/x/y:latest")),
        (
            "docker.io/ubuntu",
            N("index.docker.io/library/ubuntu:latest"),
        ),
        ("docker.io/foo/bar:1", N("index.docker.io/foo/bar:1")),
        (
            "index.docker.io/ubuntu",
            N("index.docker.io/library/ubuntu:latest"),
        ),
        (
            "index.docker.io/library/ubuntu:20.04",
            N("index.docker.io/library/ubuntu:20.04"),
        ),
        ("registry-1.docker.io/x", N("registry-1.docker.io/x:latest")),
        ("docker.io:443/x", N("docker.io:443/x:latest")),
        // Registry detection.
        ("a.b/c", N("a.b/c:latest")),
        ("example.com/a", N("example.com/a:latest")),
        ("gcr.io/p/i:v1", N("gcr.io/p/i:v1")),
        ("localhost/a", N("localhost/a:latest")),
        ("localhost:5000/a/b", N("localhost:5000/a/b:latest")),
        ("localhost:5000/a/b:t", N("localhost:5000/a/b:t")),
        ("host:5000", N("index.docker.io/library/host:5000")),
        ("host:5000/img", N("host:5000/img:latest")),
        ("host:5000/img:v2", N("host:5000/img:v2")),
        ("localhost", N("index.docker.io/library/localhost:latest")),
        (
            "localhost:5000",
            N("index.docker.io/library/localhost:5000"),
        ),
        ("localhostx/a", N("index.docker.io/localhostx/a:latest")),
        ("127.0.0.1:5000/a/b", N("127.0.0.1:5000/a/b:latest")),
        ("10.1.2.3/a", N("10.1.2.3/a:latest")),
        ("My.Registry.IO/a", N("My.Registry.IO/a:latest")),
        ("[::1]/a", N("[::1]/a:latest")),
        ("[::1]:5000/a:t", N("[::1]:5000/a:t")),
        ("[2001:db8::1]:443/x/y@{D}", N("[2001:db8::1]:443/x/y@{D}")),
        ("host:65535/a", N("host:65535/a:latest")),
        // Tags.
        ("x:Latest", N("index.docker.io/library/x:Latest")),
        ("x:-x", N("index.docker.io/library/x:-x")),
        ("x:.x_1-2", N("index.docker.io/library/x:.x_1-2")),
        ("x:{T128}", N("index.docker.io/library/x:{T128}")),
        ("x:{T129}", E("at most 128")),
        ("x:", E("tag after ':' is empty")),
        (":tag", E("repository name before ':' is missing")),
        ("x:a+b", E("tag \"a+b\" contains '+'")),
        ("x:a:b", E("contains ':'")),
        ("x:t g", E("contains ' '")),
        // Digests.
        ("gcr.io/p/i@{D}", N("gcr.io/p/i@{D}")),
        ("ubuntu@{D}", N("index.docker.io/library/ubuntu@{D}")),
        ("nginx:latest@{D}", N("index.docker.io/library/nginx@{D}")),
        ("localhost:5000/a:t@{D}", N("localhost:5000/a@{D}")),
        ("localhost:5000/a@{D}", N("localhost:5000/a@{D}")),
        ("nginx:@{D}", E("tag after ':' is empty")),
        ("nginx:b@d@{D}", E("more than one '@'")),
        ("@{D}", E("repository name before '@' is missing")),
        ("x@sha512:{HEX}", E("only sha256")),
        (
            "x@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            E("lower-case hex"),
        ),
        ("x@sha256:abc", E("64 lower-case hex")),
        ("x@", E("only sha256")),
        ("x@{D}x", E("64 lower-case hex")),
        ("x@{HEX}", E("only sha256")),
        // Repository paths.
        ("UPPER/x", E("upper-case 'U'")),
        ("x/Y", E("must be lower-case")),
        ("gcr.io/Project/i", E("must be lower-case")),
        ("x//y", E("empty component")),
        ("/x", E("empty component")),
        ("x/", E("empty component")),
        ("gcr.io/", E("repository path is empty")),
        ("gcr.io//x", E("empty component")),
        ("a.b/{P255}", N("a.b/{P255}:latest")),
        ("a.b/{P256}", E("at most 255")),
        ("{P247}", N("index.docker.io/library/{P247}:latest")),
        ("{P248}", E("at most 255")),
        ("x/{P255}", E("at most 255")),
        ("ab-c.d/e__f-g.h", N("ab-c.d/e__f-g.h:latest")),
        ("a$b", E("contains '$'")),
        ("über", E("contains 'ü'")),
        // Registries that do not parse.
        ("https://x/y", E("drop the scheme")),
        ("http://localhost:5000/a", E("drop the scheme")),
        ("oci://x", E("drop the scheme")),
        ("host:/x", E("empty port")),
        ("host:0/x", E("from 1 to 65535")),
        ("host:65536/x", E("from 1 to 65535")),
        ("host:50a/x", E("from 1 to 65535")),
        (":5000/x", E("empty host")),
        ("a..b/x", E("empty label")),
        (".a/x", E("empty label")),
        ("a_b.io/x", E("contains '_'")),
        ("1.2.3.999/x", E("not a valid one")),
        ("::1/x", E("IPv6 addresses go in brackets")),
        ("[::1/x", E("without a closing ']'")),
        ("[1.2.3.4]/x", E("not an IPv6 address")),
        ("[::1]x/y", E("expected ':port'")),
        ("[::1]:/y", E("empty port")),
        ("a?b.io/x", E("contains '?'")),
        ("a#b.io/x", E("contains '#'")),
        ("user@host.io/x", E("only sha256")),
        // Empty and white space.
        ("", E("empty")),
        (" ", E("contains ' '")),
        (" ubuntu", E("contains ' '")),
        ("ubuntu ", E("contains ' '")),
        ("ubuntu\n", E("contains '\\n'")),
        ("a .b/x", E("contains ' '")),
    ];

    #[test]
    fn reference_table() {
        assert!(TABLE.len() >= 70, "{} cases", TABLE.len());
        let mut failures = Vec::new();
        for (input, want) in TABLE {
            let input = expand(input);
            let got = Reference::parse(&input);
            match (want, &got) {
                (Want::Ok(norm), Ok(r)) => {
                    let norm = expand(norm);
                    if r.to_string() != norm {
                        failures.push(format!("{input:?}: got {r}, want {norm}"));
                    }
                    // The normalised form parses to itself.
                    let again = Reference::parse(&norm).map(|r| r.to_string());
                    if again.as_deref() != Ok(norm.as_str()) {
                        failures.push(format!("{norm:?} does not round-trip: {again:?}"));
                    }
                    if normalize(&input).as_deref() != Ok(norm.as_str()) {
                        failures.push(format!("normalize({input:?}) differs"));
                    }
                }
                (Want::Err(words), Err(e)) => {
                    let quoted = format!("{input:?}");
                    if e.kind != ErrorKind::InvalidReference
                        || !e.message.contains(words)
                        || !e.message.contains(&quoted)
                        || e.message.contains('\n')
                    {
                        failures.push(format!(
                            "{input:?}: error {:?} {:?} lacks {words:?} or the input",
                            e.kind, e.message
                        ));
                    }
                }
                (Want::Ok(norm), Err(e)) => {
                    failures.push(format!("{input:?}: want {norm}, got error {}", e.message))
                }
                (Want::Err(words), Ok(r)) => {
                    failures.push(format!("{input:?}: want error {words:?}, got {r}"))
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn reference_accessors() {
        let r = Reference::parse("nginx:1.25").unwrap();
        assert_eq!(r.registry().as_str(), "index.docker.io");
        assert_eq!(r.repository().path(), "library/nginx");
        assert_eq!(r.identifier(), &Identifier::Tag("1.25".into()));
        assert_eq!(r.identifier_str(), "1.25");
        assert_eq!(r.tag(), Some("1.25"));
        assert_eq!(r.digest(), None);
        assert_eq!(r.scope("pull"), "repository:library/nginx:pull");

        let d = format!("sha256:{HEX}");
        let r = Reference::parse(&format!("gcr.io/p/i:v1@{d}")).unwrap();
        assert_eq!(r.digest(), Some(d.as_str()));
        assert_eq!(r.identifier_str(), d);
        assert_eq!(r.tag(), None);
        assert_eq!(r.repository().to_string(), "gcr.io/p/i");

        let r: Reference = "localhost:5000/a/b".parse().unwrap();
        assert_eq!(r.identifier_str(), DEFAULT_TAG);
        assert_eq!(r.registry().host(), "localhost");
        assert_eq!(r.registry().port(), Some(5000));
    }

    #[test]
    fn repository_built_references_display_normalised() {
        let repo = Repository::parse("gcr.io/p/i").unwrap();
        assert_eq!(repo.tag("v1").to_string(), "gcr.io/p/i:v1");
        let d = format!("sha256:{HEX}");
        assert_eq!(repo.digest(&d).to_string(), format!("gcr.io/p/i@{d}"));
    }

    #[test]
    fn registry_parse_and_host_port() {
        let cases: &[(&str, &str, &str, Option<u16>)] = &[
            ("docker.io", "index.docker.io", "index.docker.io", None),
            (
                "index.docker.io",
                "index.docker.io",
                "index.docker.io",
                None,
            ),
            (
                "registry-1.docker.io",
                "registry-1.docker.io",
                "registry-1.docker.io",
                None,
            ),
            ("gcr.io", "gcr.io", "gcr.io", None),
            ("localhost", "localhost", "localhost", None),
            ("localhost:5000", "localhost:5000", "localhost", Some(5000)),
            ("127.0.0.1:5000", "127.0.0.1:5000", "127.0.0.1", Some(5000)),
            ("[::1]", "[::1]", "::1", None),
            ("[::1]:5000", "[::1]:5000", "::1", Some(5000)),
            (
                "[2001:db8::1]:443",
                "[2001:db8::1]:443",
                "2001:db8::1",
                Some(443),
            ),
            ("My.Host:1", "My.Host:1", "My.Host", Some(1)),
            ("registry", "registry", "registry", None),
        ];
        for (input, name, host, port) in cases {
            let r = Registry::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.as_str(), *name, "{input}");
            assert_eq!(r.to_string(), *name, "{input}");
            assert_eq!(r.host(), *host, "{input}");
            assert_eq!(r.port(), *port, "{input}");
        }
        for bad in [
            "",
            "host:",
            ":80",
            "host:0",
            "host:70000",
            "a b",
            "a@b",
            "a?b",
            "a#b",
            "a/b",
            "::1",
            "[::1",
            "[zz]",
            "https://gcr.io",
            "http://localhost:5000",
        ] {
            let e = Registry::parse(bad).expect_err(bad);
            assert_eq!(e.kind, ErrorKind::InvalidReference, "{bad}");
            assert!(e.message.contains(&format!("{bad:?}")), "{}", e.message);
        }
        let e = Registry::parse("https://gcr.io").unwrap_err();
        assert!(e.message.contains("drop the scheme"), "{}", e.message);
        assert_eq!(Registry::default().as_str(), DEFAULT_REGISTRY);
        assert!(Registry::parse("docker.io").unwrap().is_docker_hub());
        assert_eq!(
            Registry::parse("gcr.io").unwrap().scope(),
            "registry:catalog:*"
        );
    }

    #[test]
    fn loopback_registries() {
        for yes in [
            "localhost",
            "localhost:5000",
            "LocalHost",
            "foo.localhost",
            "a.b.localhost:8080",
            "127.0.0.1",
            "127.0.0.1:5000",
            "127.1.2.3",
            "127.255.255.255:443",
            "[::1]",
            "[::1]:5000",
            "[0:0:0:0:0:0:0:1]",
        ] {
            assert!(Registry::parse(yes).unwrap().is_loopback(), "{yes}");
        }
        for no in [
            "gcr.io",
            "localhost.example.com",
            "mylocalhost",
            "foo.local",
            "128.0.0.1",
            "10.0.0.1:5000",
            "127.example.com",
            "[2001:db8::1]:5000",
            "[::2]",
        ] {
            assert!(!Registry::parse(no).unwrap().is_loopback(), "{no}");
        }
        let r = Reference::parse("127.0.0.1:5000/a/b").unwrap();
        assert!(r.registry().is_loopback());
    }

    #[test]
    fn repository_parse() {
        let r = Repository::parse("ubuntu").unwrap();
        assert_eq!(r.registry().as_str(), "index.docker.io");
        assert_eq!(r.path(), "library/ubuntu");
        assert_eq!(r.to_string(), "index.docker.io/library/ubuntu");
        assert_eq!(r.scope("pull"), "repository:library/ubuntu:pull");
        assert_eq!(r.scope("pull,push"), "repository:library/ubuntu:pull,push");

        let r = Repository::parse("localhost:5000/foo").unwrap();
        assert_eq!(r.registry().as_str(), "localhost:5000");
        assert_eq!(r.path(), "foo");
        assert_eq!(r.scope("push,pull"), "repository:foo:push,pull");

        let r = Repository::parse("docker.io/foo/bar").unwrap();
        assert_eq!(r.to_string(), "index.docker.io/foo/bar");
        let r: Repository = "[::1]:5000/a/b".parse().unwrap();
        assert_eq!(r.registry().host(), "::1");
        assert_eq!(r.path(), "a/b");

        let d = format!("sha256:{HEX}");
        for (bad, words) in [
            ("localhost:5000/foo:bar", "no tag"),
            ("foo:bar", "no tag"),
            ("host:5000", "no tag"),
            (&*format!("foo@{d}"), "no digest"),
            (&*format!("gcr.io/foo:t@{d}"), "no digest"),
            ("", "empty"),
            ("Foo", "lower-case"),
            ("a//b", "empty component"),
            ("gcr.io/", "empty"),
            ("https://gcr.io/foo", "drop the scheme"),
        ] {
            let e = Repository::parse(bad).expect_err(bad);
            assert_eq!(e.kind, ErrorKind::InvalidReference, "{bad}");
            assert!(e.message.contains(words), "{bad}: {}", e.message);
            assert!(e.message.contains(&format!("{bad:?}")), "{}", e.message);
        }
    }

    #[test]
    fn error_messages_are_one_line_and_quote_the_input() {
        let e = Reference::parse("x\ny").unwrap_err();
        assert!(!e.message.contains('\n'));
        assert!(
            e.message.starts_with("invalid reference \"x\\ny\""),
            "{}",
            e.message
        );
        let e = normalize("https://gcr.io/a/b").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidReference);
        assert!(e.message.contains("https://"), "{}", e.message);
    }
}
