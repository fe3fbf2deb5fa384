//! The four registry flavours the harness can run.

use std::fmt;
use std::str::FromStr;

/// How a [`crate::Registry`] is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Plain HTTP, anonymous everything.
    Open,
    /// Plain HTTP, htpasswd Basic auth ([`crate::BASIC_USER`]).
    Basic,
    /// HTTPS with a test CA, plus htpasswd Basic auth ([`crate::BASIC_USER`]).
    Tls,
    /// Plain HTTP, bearer-token auth against the harness's token server.
    Token,
}

impl Mode {
    /// All modes, in declaration order.
    pub const ALL: [Mode; 4] = [Mode::Open, Mode::Basic, Mode::Tls, Mode::Token];

    /// Lower-case name: `open`, `basic`, `tls`, `token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Open => "open",
            Mode::Basic => "basic",
            Mode::Tls => "tls",
            Mode::Token => "token",
        }
    }

    /// Whether the registry speaks HTTPS.
    pub fn is_tls(self) -> bool {
        self == Mode::Tls
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown mode {s:?} (expected open, basic, tls or token)"))
    }
}
