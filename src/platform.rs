//! Platforms (`os/arch[/variant][:os.version]`) and choosing an index child by platform.
//!
//! Matching follows the API contract (and containerd's defaults rather than ggcr's literal
//! string comparison): os and architecture are compared after normalisation (`x86_64` →
//! `amd64`, `aarch64` → `arm64`, ...); `arm64` without a variant is `arm64/v8`, `amd64`
//! without a variant is `amd64/v1` and an `arm` child without a variant is taken as `arm/v7`;
//! a requested variant is matched exactly if possible, otherwise by the highest lower variant
//! of the same architecture (`arm/v7` may take `arm/v6`, never `arm/v8`); a requested
//! os.version must be equal; requested features must be present; the first of equally good
//! children wins.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

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
    pub fn parse(s: &str) -> Result<Platform> {
        parse_platform(s).map_err(|why| {
            Error::invalid_reference(format!(
                "invalid platform {s:?}: {why}; expected os/arch[/variant][:os.version]"
            ))
        })
    }
    /// A platform from its fields, as a host that has them apart gives them (a struct
    /// rather than a string, which has no place for os.features). The same checks and
    /// normalisation as `parse` apply to each field; `variant` and `os_version` may be
    /// empty for none. Errors are `ErrorKind::InvalidReference`.
    pub fn from_parts(
        os: &str,
        architecture: &str,
        variant: Option<&str>,
        os_version: Option<&str>,
        os_features: &[&str],
    ) -> Result<Platform> {
        let variant = variant.filter(|v| !v.is_empty());
        let os_version = os_version.filter(|v| !v.is_empty());
        let check = || -> std::result::Result<(), String> {
            check_part(os).map_err(|e| format!("os: {e}"))?;
            check_part(architecture).map_err(|e| format!("architecture: {e}"))?;
            if let Some(v) = variant {
                check_part(v).map_err(|e| format!("variant: {e}"))?;
            }
            if let Some(v) = os_version {
                check_os_version(v)?;
            }
            os_features.iter().try_for_each(|f| check_os_feature(f))
        };
        check().map_err(|why| {
            Error::invalid_reference(format!(
                "invalid platform (os {os:?}, architecture {architecture:?}, variant {variant:?}, \
                 os.version {os_version:?}, os.features {os_features:?}): {why}"
            ))
        })?;
        let (architecture, variant) = normalize_arch(architecture, variant);
        Ok(Platform {
            os: normalize_os(os),
            architecture,
            variant,
            os_version: os_version.map(str::to_string),
            os_features: os_features.iter().map(|f| f.to_string()).collect(),
            features: Vec::new(),
        })
    }
    /// The platform as a person reads it in a message: the string form, and the
    /// os.features asked for, which the string form cannot carry.
    pub fn describe(&self) -> String {
        if self.os_features.is_empty() {
            self.to_string()
        } else {
            format!("{self} with os.features {}", self.os_features.join(","))
        }
    }
    /// Reads the `platform` object of an index descriptor; None when absent or not an object.
    pub fn from_json(value: &serde_json::Value) -> Option<Platform> {
        let obj = value.as_object()?;
        let string = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_string);
        let optional = |key: &str| string(key).filter(|s| !s.is_empty());
        let list = |key: &str| -> Vec<String> {
            obj.get(key)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(Platform {
            os: string("os")?,
            architecture: string("architecture")?,
            variant: optional("variant"),
            os_version: optional("os.version"),
            os_features: list("os.features"),
            features: list("features"),
        })
    }
    /// The `platform` object of a descriptor, as the image-spec writes it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut obj = Map::new();
        obj.insert(
            "architecture".into(),
            Value::from(self.architecture.as_str()),
        );
        obj.insert("os".into(), Value::from(self.os.as_str()));
        if let Some(v) = self.os_version.as_deref().filter(|v| !v.is_empty()) {
            obj.insert("os.version".into(), Value::from(v));
        }
        if !self.os_features.is_empty() {
            obj.insert("os.features".into(), Value::from(self.os_features.clone()));
        }
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            obj.insert("variant".into(), Value::from(v));
        }
        if !self.features.is_empty() {
            obj.insert("features".into(), Value::from(self.features.clone()));
        }
        Value::Object(obj)
    }
    /// `os/arch[/variant]`, without os.version.
    pub fn short(&self) -> String {
        match self.variant.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{}/{}/{}", self.os, self.architecture, v),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
    /// The platform with os, architecture and variant in their canonical spelling
    /// (`x86_64` → `amd64`, `aarch64` → `arm64`, `armhf` → `arm/v7`, `armel` → `arm/v6`,
    /// lower case, bare variant numbers get a `v`). Variants that equal the architecture's
    /// default are kept as given.
    pub fn normalized(&self) -> Platform {
        let (architecture, variant) = normalize_arch(&self.architecture, self.variant.as_deref());
        Platform {
            os: normalize_os(&self.os),
            architecture,
            variant,
            os_version: self.os_version.clone().filter(|v| !v.is_empty()),
            os_features: self.os_features.clone(),
            features: self.features.clone(),
        }
    }
    /// Whether a child with platform `self` may serve a request for `wanted`.
    pub fn satisfies(&self, wanted: &Platform) -> bool {
        score(wanted, self).is_some()
    }
}

/// Index of the child that best matches `wanted`; `None` counts as `linux/amd64`.
pub fn select(wanted: &Platform, children: &[Option<Platform>]) -> Option<usize> {
    let default = Platform::linux_amd64();
    let mut best: Option<(usize, Score)> = None;
    for (i, child) in children.iter().enumerate() {
        let child = child.as_ref().unwrap_or(&default);
        if let Some(s) = score(wanted, child) {
            let better = match &best {
                Some((_, b)) => s > *b,
                None => true,
            };
            if better {
                best = Some((i, s));
            }
        }
    }
    best.map(|(i, _)| i)
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

impl FromStr for Platform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Platform> {
        Platform::parse(s)
    }
}

// ---------------------------------------------------------------------------------------

fn parse_platform(s: &str) -> std::result::Result<Platform, String> {
    if s.is_empty() {
        return Err("the platform is empty".into());
    }
    let (main, os_version) = match s.split_once(':') {
        Some((main, version)) => (main, Some(version)),
        None => (s, None),
    };
    let parts: Vec<&str> = main.split('/').collect();
    if parts.len() < 2 {
        return Err("it needs at least os and architecture".into());
    }
    if parts.len() > 3 {
        return Err(format!(
            "it has {} parts before ':', at most 3 are allowed",
            parts.len()
        ));
    }
    for part in &parts {
        check_part(part)?;
    }
    if let Some(v) = os_version {
        if v.is_empty() {
            return Err("the os.version after ':' is empty".into());
        }
        check_os_version(v)?;
    }
    let (architecture, variant) = normalize_arch(parts[1], parts.get(2).copied());
    Ok(Platform {
        os: normalize_os(parts[0]),
        architecture,
        variant,
        os_version: os_version.map(str::to_string),
        os_features: Vec::new(),
        features: Vec::new(),
    })
}

/// os, architecture and variant: what a `/`-separated part of a platform string may hold.
fn check_part(part: &str) -> std::result::Result<(), String> {
    if part.is_empty() {
        return Err("it has an empty part".into());
    }
    match part
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_-.".contains(c)))
    {
        Some(c) => Err(format!("{part:?} contains {c:?}")),
        None => Ok(()),
    }
}

/// An os.version: anything printable without spaces or `/` (Windows builds such as
/// `10.0.17763.1234`).
fn check_os_version(v: &str) -> std::result::Result<(), String> {
    match v
        .chars()
        .find(|&c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Some(c) => Err(format!("the os.version {v:?} contains {c:?}")),
        None => Ok(()),
    }
}

/// An os.features entry (`win32k`): a non-empty word.
fn check_os_feature(f: &str) -> std::result::Result<(), String> {
    if f.is_empty() {
        return Err("an os.features entry is empty".into());
    }
    match f.chars().find(|&c| c.is_whitespace() || c.is_control()) {
        Some(c) => Err(format!("the os.features entry {f:?} contains {c:?}")),
        None => Ok(()),
    }
}

fn normalize_os(os: &str) -> String {
    let os = os.to_ascii_lowercase();
    match os.as_str() {
        "macos" => "darwin".to_string(),
        _ => os,
    }
}

/// Canonical architecture and variant; a variant given explicitly is kept (lower-cased,
/// with a `v` in front of a bare number for the arm and amd64 families).
fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant
        .filter(|v| !v.is_empty())
        .map(str::to_ascii_lowercase);
    let (arch, implied) = match arch.as_str() {
        "x86_64" | "x86-64" => ("amd64".to_string(), None),
        "aarch64" => ("arm64".to_string(), None),
        "armhf" => ("arm".to_string(), Some("v7")),
        "armel" => ("arm".to_string(), Some("v6")),
        "i386" => ("386".to_string(), None),
        _ => (arch, None),
    };
    let variant = variant.or(implied.map(str::to_string)).map(|v| {
        let numbered = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if numbered && has_versioned_variants(&arch) {
            format!("v{v}")
        } else {
            v
        }
    });
    (arch, variant)
}

/// Architectures whose variants are ordered versions where a higher one runs the lower ones.
fn has_versioned_variants(arch: &str) -> bool {
    matches!(arch, "arm" | "arm64" | "amd64")
}

/// The variant assumed when none is given.
fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm" => Some("v7"),
        "arm64" => Some("v8"),
        "amd64" => Some("v1"),
        _ => None,
    }
}

/// `v8` → (8, 0), `v8.2` → (8, 2); None when not of that form.
fn variant_version(v: &str) -> Option<(u32, u32)> {
    let rest = v.strip_prefix('v')?;
    let (major, minor) = match rest.split_once('.') {
        Some((major, minor)) => (major, minor.parse().ok()?),
        None => (rest, 0),
    };
    Some((major.parse().ok()?, minor))
}

/// How well a child fits: higher is better. `tier` 3 is an exact variant, 2 a compatible
/// lower variant (ranked by `version`), 1 any variant when none was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    tier: u8,
    version: (u32, u32),
}

fn score(wanted: &Platform, child: &Platform) -> Option<Score> {
    let w = wanted.normalized();
    let c = child.normalized();
    if w.os != c.os || w.architecture != c.architecture {
        return None;
    }
    if let Some(v) = &w.os_version {
        if c.os_version.as_ref() != Some(v) {
            return None;
        }
    }
    let subset = |want: &[String], have: &[String]| want.iter().all(|f| have.contains(f));
    if !subset(&w.os_features, &c.os_features) || !subset(&w.features, &c.features) {
        return None;
    }

    let explicit = w.variant.is_some();
    let default = default_variant(&w.architecture);
    if !explicit && default.is_none() {
        // Nothing asked for and no default to prefer: every variant is as good.
        return Some(Score {
            tier: 1,
            version: (0, 0),
        });
    }
    let effective = |p: &Platform| -> Option<String> {
        p.variant.clone().or_else(|| default.map(str::to_string))
    };
    let (wv, cv) = (effective(&w), effective(&c));
    let exact = match (wv.as_deref(), cv.as_deref()) {
        (Some(a), Some(b)) => {
            a == b || variant_version(a).is_some() && variant_version(a) == variant_version(b)
        }
        (None, None) => true,
        _ => false,
    };
    if exact {
        return Some(Score {
            tier: 3,
            version: (0, 0),
        });
    }
    if has_versioned_variants(&w.architecture) {
        if let (Some(a), Some(b)) = (
            wv.as_deref().and_then(variant_version),
            cv.as_deref().and_then(variant_version),
        ) {
            if b < a {
                return Some(Score {
                    tier: 2,
                    version: b,
                });
            }
        }
    }
    (!explicit).then_some(Score {
        tier: 1,
        version: (0, 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn children(list: &[&str]) -> Vec<Option<Platform>> {
        list.iter()
            .map(|s| if s.is_empty() { None } else { Some(p(s)) })
            .collect()
    }
    /// `select` over children given as strings ("" = no platform).
    fn pick(wanted: &str, list: &[&str]) -> Option<usize> {
        select(&p(wanted), &children(list))
    }

    #[test]
    fn parse_forms() {
        let x = p("linux/amd64");
        assert_eq!(x, Platform::linux_amd64());
        let x = p("linux/arm/v7");
        assert_eq!(
            (x.os.as_str(), x.architecture.as_str(), x.variant.as_deref()),
            ("linux", "arm", Some("v7"))
        );
        assert_eq!(x.os_version, None);
        let x = p("windows/amd64:10.0.17763.1");
        assert_eq!(x.os, "windows");
        assert_eq!(x.os_version.as_deref(), Some("10.0.17763.1"));
        assert_eq!(x.variant, None);
        let x = p("linux/arm64/v8:5.1");
        assert_eq!(x.variant.as_deref(), Some("v8"));
        assert_eq!(x.os_version.as_deref(), Some("5.1"));
        let x: Platform = "Linux/ARM64".parse().unwrap();
        assert_eq!(x.short(), "linux/arm64");
    }

    #[test]
    fn parse_normalises_aliases() {
        assert_eq!(p("linux/x86_64").short(), "linux/amd64");
        assert_eq!(p("linux/x86-64").short(), "linux/amd64");
        assert_eq!(p("linux/X86_64").short(), "linux/amd64");
        assert_eq!(p("linux/aarch64").short(), "linux/arm64");
        assert_eq!(p("linux/aarch64/v8").short(), "linux/arm64/v8");
        assert_eq!(p("linux/armhf").short(), "linux/arm/v7");
        assert_eq!(p("linux/armel").short(), "linux/arm/v6");
        assert_eq!(p("linux/arm/7").short(), "linux/arm/v7");
        assert_eq!(p("LINUX/AMD64").short(), "linux/amd64");
        assert_eq!(p("linux/i386").short(), "linux/386");
        // arm64 without variant stays without one; it only compares equal to v8.
        assert_eq!(p("linux/arm64").variant, None);
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "linux",
            "a/b/c/d",
            "linux//amd64",
            "/amd64",
            "linux/",
            "linux/arm/",
            "linux/amd64:",
            ":10.0",
            "linux amd64",
            "linux/amd 64",
            "linux/amd64:10 0",
        ] {
            let e = Platform::parse(bad).expect_err(bad);
            assert_eq!(e.kind, ErrorKind::InvalidReference, "{bad}");
            assert!(e.message.contains(&format!("{bad:?}")), "{}", e.message);
            assert!(!e.message.contains('\n'));
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "linux/amd64",
            "linux/arm/v6",
            "linux/arm64/v8",
            "windows/amd64:10.0.17763.1",
            "linux/ppc64le",
            "linux/s390x:1.2",
            "linux/riscv64/rva22",
        ] {
            let x = p(s);
            assert_eq!(x.to_string(), s);
            assert_eq!(p(&x.to_string()), x);
        }
        assert_eq!(p("windows/amd64:10.0.17763.1").short(), "windows/amd64");
    }

    #[test]
    fn json_round_trip_and_omissions() {
        let v = json!({
            "architecture": "arm64",
            "os": "linux",
            "variant": "v8",
            "os.version": "5.10",
            "os.features": ["a"],
            "features": ["sse4"],
        });
        let x = Platform::from_json(&v).unwrap();
        assert_eq!(x.variant.as_deref(), Some("v8"));
        assert_eq!(x.os_version.as_deref(), Some("5.10"));
        assert_eq!(x.os_features, vec!["a".to_string()]);
        assert_eq!(x.features, vec!["sse4".to_string()]);
        assert_eq!(x.to_json(), v);

        let minimal = Platform::linux_amd64().to_json();
        assert_eq!(minimal, json!({"architecture": "amd64", "os": "linux"}));
        let empty_opts = Platform {
            variant: Some(String::new()),
            os_version: Some(String::new()),
            ..Platform::linux_amd64()
        };
        assert_eq!(empty_opts.to_json(), minimal);
        assert_eq!(
            Platform::from_json(&minimal).unwrap(),
            Platform::linux_amd64()
        );

        assert_eq!(Platform::from_json(&json!({"os": "linux"})), None);
        assert_eq!(Platform::from_json(&json!({"architecture": "amd64"})), None);
        assert_eq!(Platform::from_json(&json!(null)), None);
        assert_eq!(Platform::from_json(&json!("linux/amd64")), None);
        assert_eq!(
            Platform::from_json(&json!({"os": "linux", "architecture": 5})),
            None
        );
        // Empty optional strings read as absent.
        let x =
            Platform::from_json(&json!({"os": "linux", "architecture": "amd64", "variant": ""}))
                .unwrap();
        assert_eq!(x.variant, None);
    }

    #[test]
    fn child_without_platform_is_linux_amd64() {
        assert_eq!(pick("linux/amd64", &["linux/arm64", ""]), Some(1));
        assert_eq!(pick("linux/arm64", &[""]), None);
        assert_eq!(select(&Platform::linux_amd64(), &[None]), Some(0));
    }

    #[test]
    fn first_of_equals_wins_and_no_match_is_none() {
        assert_eq!(
            pick(
                "linux/amd64",
                &["linux/arm64", "linux/amd64", "linux/amd64"]
            ),
            Some(1)
        );
        assert_eq!(pick("linux/amd64", &["linux/arm64", "windows/amd64"]), None);
        assert_eq!(pick("linux/amd64", &[]), None);
        assert_eq!(
            pick("linux/ppc64le", &["linux/ppc64le/x", "linux/ppc64le"]),
            Some(0)
        );
    }

    #[test]
    fn os_and_architecture_compare_normalised() {
        assert_eq!(
            pick("linux/x86_64", &["linux/arm64", "linux/amd64"]),
            Some(1)
        );
        let child = Platform {
            os: "Linux".into(),
            architecture: "x86_64".into(),
            ..Platform::default()
        };
        assert_eq!(select(&p("linux/amd64"), &[Some(child)]), Some(0));
        let child = Platform {
            os: "linux".into(),
            architecture: "aarch64".into(),
            ..Platform::default()
        };
        assert_eq!(select(&p("linux/arm64/v8"), &[Some(child)]), Some(0));
    }

    #[test]
    fn arm64_without_variant_equals_v8() {
        assert_eq!(pick("linux/arm64", &["linux/arm64/v8"]), Some(0));
        assert_eq!(pick("linux/arm64/v8", &["linux/arm64"]), Some(0));
        assert_eq!(
            pick("linux/arm64/v8", &["linux/arm", "linux/arm64"]),
            Some(1)
        );
        // A v8 request prefers v8 over a higher variant listed first.
        assert_eq!(
            pick("linux/arm64", &["linux/arm64/v9", "linux/arm64"]),
            Some(1)
        );
        assert_eq!(pick("linux/arm64/v8", &["linux/arm64/v9"]), None);
        // Without a variant any arm64 is acceptable as a last resort.
        assert_eq!(pick("linux/arm64", &["linux/arm64/v9"]), Some(0));
    }

    #[test]
    fn arm_variants_fall_back_to_the_highest_lower_one() {
        assert_eq!(pick("linux/arm/v7", &["linux/arm/v6"]), Some(0));
        assert_eq!(
            pick("linux/arm/v7", &["linux/arm/v5", "linux/arm/v6"]),
            Some(1)
        );
        assert_eq!(
            pick("linux/arm/v7", &["linux/arm/v6", "linux/arm/v7"]),
            Some(1)
        );
        assert_eq!(pick("linux/arm/v7", &["linux/arm/v8"]), None);
        assert_eq!(pick("linux/arm/v6", &["linux/arm/v7"]), None);
        assert_eq!(
            pick("linux/arm/v6", &["linux/arm/v7", "linux/arm/v5"]),
            Some(1)
        );
        assert_eq!(pick("linux/arm/v5", &["linux/arm/v6"]), None);
        assert_eq!(
            pick(
                "linux/arm/v8",
                &["linux/arm/v5", "linux/arm/v6", "linux/arm/v7"]
            ),
            Some(2)
        );
        assert_eq!(
            pick("linux/arm/v8", &["linux/arm/v7", "linux/arm/v8"]),
            Some(1)
        );
        assert_eq!(
            pick("linux/armhf", &["linux/arm/v6", "linux/arm/v7"]),
            Some(1)
        );
    }

    #[test]
    fn arm_without_variant_prefers_v7_then_lower() {
        assert_eq!(
            pick("linux/arm", &["linux/arm/v6", "linux/arm/v7"]),
            Some(1)
        );
        assert_eq!(
            pick("linux/arm", &["linux/arm/v5", "linux/arm/v6"]),
            Some(1)
        );
        assert_eq!(
            pick("linux/arm", &["linux/arm/v8", "linux/arm/v6"]),
            Some(1)
        );
        assert_eq!(pick("linux/arm", &["linux/arm/v8"]), Some(0));
        assert_eq!(pick("linux/arm", &["linux/arm64", "linux/arm/v5"]), Some(1));
    }

    #[test]
    fn other_architectures_take_any_variant_when_none_is_asked() {
        assert_eq!(
            pick("linux/riscv64", &["linux/riscv64/rva22", "linux/riscv64"]),
            Some(0)
        );
        assert_eq!(pick("linux/riscv64/rva22", &["linux/riscv64"]), None);
        assert_eq!(
            pick(
                "linux/riscv64/rva22",
                &["linux/riscv64", "linux/riscv64/rva22"]
            ),
            Some(1)
        );
    }

    #[test]
    fn os_version_must_match_when_asked() {
        let list = [
            "windows/amd64:10.0.17763.1",
            "windows/amd64:10.0.20348.2",
            "linux/amd64",
        ];
        assert_eq!(pick("windows/amd64:10.0.20348.2", &list), Some(1));
        assert_eq!(pick("windows/amd64:10.0.17763.1", &list), Some(0));
        assert_eq!(pick("windows/amd64:10.0.99999.1", &list), None);
        assert_eq!(pick("windows/amd64", &list), Some(0));
        assert_eq!(pick("linux/amd64:5.1", &list), None);
        assert_eq!(pick("linux/amd64", &list), Some(2));
    }

    #[test]
    fn requested_features_must_be_a_subset() {
        let wanted = Platform {
            os_features: vec!["win32k".into()],
            ..p("windows/amd64")
        };
        let plain = p("windows/amd64");
        let with = Platform {
            os_features: vec!["other".into(), "win32k".into()],
            ..p("windows/amd64")
        };
        assert_eq!(
            select(&wanted, &[Some(plain.clone()), Some(with.clone())]),
            Some(1)
        );
        assert_eq!(select(&wanted, &[Some(plain.clone())]), None);
        // Unrequested features on the child do not matter.
        assert_eq!(select(&plain, &[Some(with.clone())]), Some(0));

        let wanted = Platform {
            features: vec!["sse4".into()],
            ..p("linux/amd64")
        };
        let child = Platform {
            features: vec!["sse4".into(), "avx".into()],
            ..p("linux/amd64")
        };
        assert_eq!(select(&wanted, &[None, Some(child)]), Some(1));
        assert!(!p("linux/amd64").satisfies(&wanted));
    }

    #[test]
    fn amd64_variants() {
        assert_eq!(
            pick("linux/amd64", &["linux/amd64/v3", "linux/amd64"]),
            Some(1)
        );
        assert_eq!(
            pick("linux/amd64/v3", &["linux/amd64", "linux/amd64/v2"]),
            Some(1)
        );
        assert_eq!(pick("linux/amd64/v2", &["linux/amd64/v3"]), None);
        assert_eq!(pick("linux/amd64/v1", &[""]), Some(0));
        assert_eq!(pick("linux/amd64", &["linux/amd64/v3"]), Some(0));
    }

    #[test]
    fn from_parts_checks_and_normalises_each_field() {
        let x = Platform::from_parts(
            "Windows",
            "x86_64",
            Some(""),
            Some("10.0.17763.1234"),
            &["win32k"],
        )
        .unwrap();
        assert_eq!(x.os, "windows");
        assert_eq!(x.architecture, "amd64");
        assert_eq!(x.variant, None);
        assert_eq!(x.os_version.as_deref(), Some("10.0.17763.1234"));
        assert_eq!(x.os_features, vec!["win32k".to_string()]);
        assert_eq!(x.to_string(), "windows/amd64:10.0.17763.1234");
        assert_eq!(
            x.describe(),
            "windows/amd64:10.0.17763.1234 with os.features win32k"
        );
        assert_eq!(
            Platform::from_parts("linux", "arm", Some("7"), None, &[]).unwrap(),
            p("linux/arm/v7")
        );
        assert_eq!(p("linux/amd64").describe(), "linux/amd64");
        for (os, arch, variant, version, features) in [
            ("", "amd64", None, None, &[][..]),
            ("linux", "", None, None, &[][..]),
            ("linux/x", "amd64", None, None, &[][..]),
            ("linux", "amd64", Some("v 1"), None, &[][..]),
            ("linux", "amd64", None, Some("1 2"), &[][..]),
            ("linux", "amd64", None, Some("a/b"), &[][..]),
            ("linux", "amd64", None, None, &[""][..]),
            ("linux", "amd64", None, None, &["a b"][..]),
        ] {
            let e = Platform::from_parts(os, arch, variant, version, features).expect_err(
                &format!("{os:?} {arch:?} {variant:?} {version:?} {features:?}"),
            );
            assert_eq!(e.kind, ErrorKind::InvalidReference, "{}", e.message);
        }
    }

    #[test]
    fn requested_os_features_choose_the_child_that_has_them() {
        let wanted =
            Platform::from_parts("windows", "amd64", None, Some("10.0.1"), &["win32k"]).unwrap();
        let plain = p("windows/amd64:10.0.1");
        let with = Platform {
            os_features: vec!["win32k".into()],
            ..plain.clone()
        };
        assert_eq!(select(&wanted, &[Some(plain.clone()), Some(with)]), Some(1));
        assert_eq!(select(&wanted, &[Some(plain)]), None);
    }
}
