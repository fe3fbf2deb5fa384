//! References: `registry/repository[:tag|@digest]` with go-containerregistry's defaults.

use crate::error::Result;
use std::fmt;

/// Docker Hub's registry name after aliasing.
pub const DEFAULT_REGISTRY: &str = "index.docker.io";
pub const DEFAULT_TAG: &str = "latest";

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

impl Registry {
    /// Parses `host[:port]`. Errors are `ErrorKind::InvalidReference`.
    pub fn parse(_s: &str) -> Result<Registry> {
        unimplemented!()
    }
    /// `host[:port]` as used in URLs and as the key for credentials.
    pub fn as_str(&self) -> &str {
        &self.name
    }
    /// The host without port (IPv6 without brackets).
    pub fn host(&self) -> &str {
        unimplemented!()
    }
    pub fn port(&self) -> Option<u16> {
        unimplemented!()
    }
    /// `localhost`, `*.localhost`, `127.0.0.0/8` or `::1`, with or without a port.
    pub fn is_loopback(&self) -> bool {
        unimplemented!()
    }
}

impl Repository {
    /// Parses `[registry/]path` (no tag, no digest).
    pub fn parse(_s: &str) -> Result<Repository> {
        unimplemented!()
    }
    pub fn new(registry: Registry, path: String) -> Repository {
        Repository { registry, path }
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
}

impl Reference {
    pub fn parse(_s: &str) -> Result<Reference> {
        unimplemented!()
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
