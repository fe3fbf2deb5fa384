//! The certs.d directories that Docker and containers/image (podman, skopeo, buildah)
//! read: `ROOT/HOST[:PORT]/` holding `*.crt` CA certificates and `NAME.cert` +
//! `NAME.key` client pairs. As in containers/image, only the first root that has a
//! directory for the registry is used; the directory is named as the registry is
//! written in references (`registry.example` for the default port; the backend also
//! asks for `registry.example:443`, which is the same server); and a directory that
//! may not be looked at is skipped (a rootless user under a root-only `/etc/docker`).

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

/// How the message of a TLS set-up failure (a certs.d directory or a file that cannot be
/// used) begins; `tls::is_permanent_failure` knows it, so it is not retried.
pub(crate) const SETUP_FAILED: &str = "TLS setup";

/// A client certificate and its private key, both PEM files. The certificate file may
/// hold the chain after the leaf.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientPair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The roots searched when the host has not turned them off, highest priority first,
/// as containers-certs.d(5) orders them: the user's
/// `$XDG_CONFIG_HOME/containers/certs.d` (`$HOME/.config/containers/certs.d` when
/// XDG_CONFIG_HOME is unset), `/etc/containers/certs.d`, then Docker's
/// `/etc/docker/certs.d`.
pub fn default_roots() -> Vec<PathBuf> {
    default_roots_from(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    )
}

fn default_roots_from(xdg_config_home: Option<OsString>, home: Option<OsString>) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    // The XDG spec ignores relative values.
    let config_home = xdg_config_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".config"))
        });
    if let Some(dir) = config_home {
        roots.push(dir.join("containers/certs.d"));
    }
    roots.push(PathBuf::from("/etc/containers/certs.d"));
    roots.push(PathBuf::from("/etc/docker/certs.d"));
    roots
}

/// One registry's certs.d directory, listed (the files are read when the TLS config is
/// built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertsDir {
    pub dir: PathBuf,
    /// `*.crt`, by name.
    pub ca_files: Vec<PathBuf>,
    /// `NAME.cert` with `NAME.key`, by name; the first is the one presented.
    pub client_pairs: Vec<ClientPair>,
}

/// The names a registry's directory may have: the registry as written, and for Docker
/// Hub also `docker.io`, the name containers/image looks under.
fn dir_names(registry: &str) -> Vec<String> {
    let mut names = Vec::new();
    if registry.eq_ignore_ascii_case(crate::name::DEFAULT_REGISTRY) {
        names.push("docker.io".to_string());
    }
    names.push(registry.to_string());
    names
}

/// The first directory for `registry` under `roots`, listed; None when no root has one.
pub fn find(roots: &[PathBuf], registry: &str) -> Result<Option<CertsDir>> {
    for root in roots {
        for name in dir_names(registry) {
            let dir = root.join(&name);
            match std::fs::metadata(&dir) {
                Ok(m) if m.is_dir() => return list(&dir),
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), IoKind::NotFound | IoKind::PermissionDenied) => {
                    continue
                }
                Err(e) => {
                    return Err(Error::io(
                        format!("looking for certs.d directory {}", dir.display()),
                        &e,
                    ))
                }
            }
        }
    }
    Ok(None)
}

fn list(dir: &Path) -> Result<Option<CertsDir>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == IoKind::PermissionDenied => return Ok(None),
        Err(e) => {
            return Err(Error::io(
                format!("listing certs.d directory {}", dir.display()),
                &e,
            ))
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|e| Error::io(format!("listing certs.d directory {}", dir.display()), &e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    let mut found = CertsDir {
        dir: dir.to_path_buf(),
        ca_files: Vec::new(),
        client_pairs: Vec::new(),
    };
    for name in &names {
        if name.ends_with(".crt") {
            found.ca_files.push(dir.join(name));
        } else if let Some(stem) = name.strip_suffix(".cert") {
            let key = format!("{stem}.key");
            if !names.contains(&key) {
                return Err(Error::transport(format!(
                    "{SETUP_FAILED} failed: client certificate {} has no key {key} beside it \
                     (CA certificates must end in .crt)",
                    dir.join(name).display()
                )));
            }
            found.client_pairs.push(ClientPair {
                cert: dir.join(name),
                key: dir.join(key),
            });
        } else if let Some(stem) = name.strip_suffix(".key") {
            let cert = format!("{stem}.cert");
            if !names.contains(&cert) {
                return Err(Error::transport(format!(
                    "{SETUP_FAILED} failed: client key {} has no certificate {cert} beside it",
                    dir.join(name).display()
                )));
            }
        }
    }
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn default_roots_follow_containers_certs_d() {
        assert_eq!(
            default_roots_from(None, Some("/home/u".into())),
            vec![
                PathBuf::from("/home/u/.config/containers/certs.d"),
                PathBuf::from("/etc/containers/certs.d"),
                PathBuf::from("/etc/docker/certs.d"),
            ]
        );
        assert_eq!(
            default_roots_from(Some("/x/cfg".into()), Some("/home/u".into()))[0],
            PathBuf::from("/x/cfg/containers/certs.d")
        );
        // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
        assert_eq!(
            default_roots_from(Some("cfg".into()), Some("/home/u".into()))[0],
            PathBuf::from("/home/u/.config/containers/certs.d")
        );
        assert_eq!(default_roots_from(None, None).len(), 2);
    }

    #[test]
    fn the_first_root_with_a_directory_wins_and_files_are_sorted() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let host = "r.example:5000";
        std::fs::create_dir(b.path().join(host)).unwrap();
        for f in ["z.crt", "a.crt", "me.cert", "me.key", "README"] {
            std::fs::write(b.path().join(host).join(f), "x").unwrap();
        }
        let roots = vec![a.path().to_path_buf(), b.path().to_path_buf()];
        let found = find(&roots, host).unwrap().unwrap();
        assert_eq!(found.dir, b.path().join(host));
        assert_eq!(
            found.ca_files,
            vec![
                b.path().join(host).join("a.crt"),
                b.path().join(host).join("z.crt")
            ]
        );
        assert_eq!(found.client_pairs.len(), 1);
        assert_eq!(
            found.client_pairs[0].key,
            b.path().join(host).join("me.key")
        );
        // Now the first root has one too (even an empty one): it is the one used.
        std::fs::create_dir(a.path().join(host)).unwrap();
        let found = find(&roots, host).unwrap().unwrap();
        assert_eq!(found.dir, a.path().join(host));
        assert!(found.ca_files.is_empty() && found.client_pairs.is_empty());
        // The port is part of the name: none for another port or none at all.
        assert_eq!(find(&roots, "r.example").unwrap(), None);
        assert_eq!(find(&roots, "r.example:5001").unwrap(), None);
    }

    #[test]
    fn a_half_pair_is_a_transport_error_naming_the_file() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("r.example");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("client.cert"), "x").unwrap();
        let e = find(&[root.path().to_path_buf()], "r.example").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transport);
        assert!(
            e.message.contains("client.cert") && e.message.contains("client.key"),
            "{}",
            e.message
        );
        std::fs::remove_file(dir.join("client.cert")).unwrap();
        std::fs::write(dir.join("client.key"), "x").unwrap();
        let e = find(&[root.path().to_path_buf()], "r.example").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transport);
        assert!(e.message.contains("client.key"), "{}", e.message);
    }

    #[test]
    fn docker_hub_is_also_looked_up_as_docker_io() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("docker.io")).unwrap();
        let found = find(&[root.path().to_path_buf()], "index.docker.io")
            .unwrap()
            .unwrap();
        assert_eq!(found.dir, root.path().join("docker.io"));
    }
}
