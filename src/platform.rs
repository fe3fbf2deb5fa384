//! Platforms (`os/arch[/variant][:os.version]`) and choosing an index child by platform.

use crate::error::Result;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub os_version: Option<String>,
    pub os_features: Vec<String>,
    pub features: Vec<String>,
}

impl Platform {
    /// `linux/amd64`, the default of the client and of children without a platform.
    pub fn linux_amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            ..Platform::default()
        }
    }
    /// Parses `os/arch[/variant][:os.version]`; errors are `ErrorKind::InvalidReference`.
    pub fn parse(_s: &str) -> Result<Platform> {
        unimplemented!()
    }
    /// Reads the `platform` object of an index descriptor; None when absent or not an object.
    pub fn from_json(_value: &serde_json::Value) -> Option<Platform> {
        unimplemented!()
    }
    /// The `platform` object of a descriptor, as the image-spec writes it.
    pub fn to_json(&self) -> serde_json::Value {
        unimplemented!()
    }
    /// `os/arch[/variant]`, without os.version.
    pub fn short(&self) -> String {
        unimplemented!()
    }
}

/// Index of the child that best matches `wanted`; `None` counts as `linux/amd64`.
pub fn select(_wanted: &Platform, _children: &[Option<Platform>]) -> Option<usize> {
    unimplemented!()
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())?;
        if let Some(v) = &self.os_version {
            write!(f, ":{v}")?;
        }
        Ok(())
    }
}
