//! The registry implementations the harness can run. Debian's `docker-registry` is on PATH;
//! the others are built from the Go module proxy at pinned versions by
//! `scripts/install-deps.sh` into the tools directory, under names of their own (each
//! upstream binary is called `registry`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// distribution v3, as `scripts/install-deps.sh` installs it.
pub const DISTRIBUTION_V3_VERSION: &str = "v3.1.2";
/// go-containerregistry's `cmd/registry`, as `scripts/install-deps.sh` installs it.
pub const GGCR_VERSION: &str = "v0.22.1";

/// Which registry implementation a [`crate::Registry`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Server {
    /// CNCF distribution 2.8, Debian's `docker-registry`: every mode.
    Distribution28,
    /// CNCF distribution v3 (`rr-registry-distribution-v3`): every mode; paginates tags
    /// and refuses `n` above `catalog.maxentries`.
    DistributionV3,
    /// go-containerregistry's in-memory registry (`rr-registry-ggcr`): open mode only;
    /// honours `n` without sending `Link`, answers every mount with 202.
    Ggcr,
    /// The OCI 1.1 referrers registry (`rr-registry-ggcr-referrers`, built by
    /// `scripts/install-deps.sh` from `tests/testkit/ggcr-referrers`): go-containerregistry's
    /// in-memory registry at [`GGCR_VERSION`] with its referrers API on, behind a
    /// middleware that pages the referrers list, filters it or not, and answers
    /// `OCI-Subject` (see [`crate::Options::referrers_page_size`] and the fields after it,
    /// and the comment at the top of its `main.go`). Everything else is [`Server::Ggcr`]'s
    /// behaviour: open mode only. Not in [`Server::ALL`].
    GgcrReferrers,
}

impl Server {
    /// The servers every matrix test runs on ([`Server::GgcrReferrers`], the referrers
    /// tests' own, is not one of them).
    pub const ALL: [Server; 3] = [Server::Distribution28, Server::DistributionV3, Server::Ggcr];

    pub fn as_str(self) -> &'static str {
        match self {
            Server::Distribution28 => "distribution-2.8",
            Server::DistributionV3 => "distribution-v3",
            Server::Ggcr => "ggcr",
            Server::GgcrReferrers => "ggcr-referrers",
        }
    }

    /// Whether this is go-containerregistry's in-memory registry underneath
    /// ([`Server::Ggcr`] and [`Server::GgcrReferrers`]): open mode only, no storage on disk,
    /// no upload status or cancel, its own access log format.
    pub fn is_ggcr(self) -> bool {
        matches!(self, Server::Ggcr | Server::GgcrReferrers)
    }

    /// The program to run: a name on PATH for Debian's package, a file in the tools
    /// directory for the others.
    pub fn binary(self) -> PathBuf {
        match self {
            Server::Distribution28 => PathBuf::from("docker-registry"),
            Server::DistributionV3 => tools_dir().join("rr-registry-distribution-v3"),
            Server::Ggcr => tools_dir().join("rr-registry-ggcr"),
            Server::GgcrReferrers => tools_dir().join("rr-registry-ggcr-referrers"),
        }
    }

    /// An argument that makes the binary print something and exit at once.
    pub(crate) fn version_flag(self) -> &'static str {
        match self {
            Server::Ggcr | Server::GgcrReferrers => "-h",
            _ => "--version",
        }
    }

    pub(crate) fn install_hint(self) -> String {
        match self {
            Server::Distribution28 => {
                "install it with `apt-get install docker-registry` (CNCF distribution 2.8)".into()
            }
            Server::DistributionV3 | Server::Ggcr | Server::GgcrReferrers => format!(
                "run scripts/install-deps.sh, which builds it into {} (or set RR_TOOLS_DIR)",
                tools_dir().display()
            ),
        }
    }
}

/// Where `scripts/install-deps.sh` puts the Go-built tools: `$RR_TOOLS_DIR`, else
/// `$HOME/.cache/rr-tools/bin`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RR_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/rr-tools/bin")
}

/// oras (`oras.land/oras` [`ORAS_VERSION`]) in the tools directory, as
/// `scripts/install-deps.sh` installs it. [`crate::Registry::oras_flags`] says how to point
/// it at a test registry.
pub fn oras() -> PathBuf {
    tools_dir().join("oras")
}

/// regctl (`github.com/regclient/regclient` [`REGCTL_VERSION`]) in the tools directory, as
/// `scripts/install-deps.sh` installs it. [`crate::Registry::regctl_env`] says how to point
/// it at a test registry.
pub fn regctl() -> PathBuf {
    tools_dir().join("regctl")
}

/// The oras that `scripts/install-deps.sh` installs.
pub const ORAS_VERSION: &str = "v1.3.6";
/// The regctl that `scripts/install-deps.sh` installs.
pub const REGCTL_VERSION: &str = "v0.11.7";

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Server {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Server::ALL
            .into_iter()
            .chain([Server::GgcrReferrers])
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown server {s:?} (expected distribution-2.8, distribution-v3, ggcr or \
                     ggcr-referrers)"
                )
            })
    }
}
