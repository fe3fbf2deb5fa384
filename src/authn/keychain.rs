//! The default keychain: Docker's config.json (auths, credHelpers, credsStore) and
//! Podman's auth.json, read afresh on every lookup.

use super::Credential;
use crate::error::Result;

/// Looks up credentials for `registry` (`host[:port]`), trying the `registry/repository`
/// key first when `repository` (the path, e.g. `library/ubuntu`) is given.
pub fn resolve(_registry: &str, _repository: Option<&str>) -> Result<Credential> {
    unimplemented!()
}
