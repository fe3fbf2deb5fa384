//! WWW-Authenticate parsing: `Scheme key=value, key="quoted \" value", ...`.
//! One challenge per header line, as registries send them; scheme and keys lower-cased,
//! values kept as sent.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    /// Lower-cased: `basic`, `bearer`, or whatever the server named.
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
    pub fn is_bearer(&self) -> bool {
        self.scheme == "bearer"
    }
    pub fn is_basic(&self) -> bool {
        self.scheme == "basic"
    }
    /// The scopes named by the `scope` parameter (space-separated).
    pub fn scopes(&self) -> Vec<String> {
        self.param("scope")
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses one header line. Stops quietly at the first malformed piece, keeping what was
/// parsed; a line with no token at all gives `None`.
pub fn parse(line: &str) -> Option<Challenge> {
    let mut chars = line.trim_start().chars().peekable();
    let mut scheme = String::new();
    while let Some(&c) = chars.peek() {
        if is_token_char(c) {
            scheme.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if scheme.is_empty() {
        return None;
    }
    let mut challenge = Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params: BTreeMap::new(),
    };
    loop {
        while matches!(chars.peek(), Some(c) if *c == ' ' || *c == ',' || *c == '\t') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if is_token_char(c) {
                key.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if key.is_empty() {
            break;
        }
        while matches!(chars.peek(), Some(' ')) {
            chars.next();
        }
        if chars.next() != Some('=') {
            break;
        }
        while matches!(chars.peek(), Some(' ')) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            if !closed {
                break;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if is_token_char(c) || c == '/' || c == ':' {
                    value.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
        }
        challenge.params.insert(key.to_ascii_lowercase(), value);
    }
    Some(challenge)
}

/// The challenge to answer among several header lines: the first basic or bearer one,
/// else the first that parses.
pub fn pick<'a>(lines: impl Iterator<Item = &'a str>) -> Option<Challenge> {
    let parsed: Vec<Challenge> = lines.filter_map(parse).collect();
    parsed
        .iter()
        .find(|c| c.is_bearer() || c.is_basic())
        .cloned()
        .or_else(|| parsed.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_docker_bearer_challenge() {
        let c = parse(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull""#).unwrap();
        assert!(c.is_bearer());
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.scopes(), vec!["repository:library/ubuntu:pull"]);
    }

    #[test]
    fn lower_cases_scheme_and_keys_but_keeps_values() {
        let c = parse(r#"BASIC Realm="My Registry""#).unwrap();
        assert!(c.is_basic());
        assert_eq!(c.param("realm"), Some("My Registry"));
    }

    #[test]
    fn handles_escapes_spaces_and_unquoted_values() {
        let c = parse(r#"Bearer realm = "a\"b\\c" , service=svc.io, error="insufficient_scope""#)
            .unwrap();
        assert_eq!(c.param("realm"), Some(r#"a"b\c"#));
        assert_eq!(c.param("service"), Some("svc.io"));
        assert_eq!(c.param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn keeps_what_parsed_before_garbage() {
        let c = parse(r#"Bearer realm="r", =broken, service="s""#).unwrap();
        assert_eq!(c.param("realm"), Some("r"));
        assert_eq!(c.param("service"), None);
        let c = parse(r#"Bearer realm="unterminated"#).unwrap();
        assert_eq!(c.param("realm"), None);
        assert_eq!(parse("   "), None);
        assert_eq!(parse("Negotiate").unwrap().scheme, "negotiate");
    }

    #[test]
    fn picks_the_first_basic_or_bearer_line() {
        let lines = ["Negotiate abc", r#"Basic realm="x""#, r#"Bearer realm="y""#];
        assert_eq!(pick(lines.iter().copied()).unwrap().scheme, "basic");
        assert_eq!(
            pick(["Negotiate"].iter().copied()).unwrap().scheme,
            "negotiate"
        );
        assert_eq!(pick(std::iter::empty()), None);
    }

    #[test]
    fn several_scopes_in_one_parameter() {
        let c =
            parse(r#"Bearer realm="r",scope="repository:a:pull repository:b:pull,push""#).unwrap();
        assert_eq!(
            c.scopes(),
            vec!["repository:a:pull", "repository:b:pull,push"]
        );
    }
}
