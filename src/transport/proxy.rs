//! HTTP(S)_PROXY and NO_PROXY, read once when the client's HTTP agents are built, and
//! the per-registry proxy settings that override them.

use std::net::IpAddr;
use url::Url;

#[derive(Debug, Clone, Default)]
pub struct ProxyEnv {
    http: Option<String>,
    https: Option<String>,
    no_proxy: Vec<String>,
}

fn env_either(upper: &str, lower: &str) -> Option<String> {
    std::env::var(lower)
        .ok()
        .or_else(|| std::env::var(upper).ok())
        .filter(|v| !v.trim().is_empty())
}

impl ProxyEnv {
    pub fn from_env() -> ProxyEnv {
        let all = env_either("ALL_PROXY", "all_proxy");
        ProxyEnv {
            http: env_either("HTTP_PROXY", "http_proxy").or_else(|| all.clone()),
            https: env_either("HTTPS_PROXY", "https_proxy").or(all),
            no_proxy: env_either("NO_PROXY", "no_proxy")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The proxy URL to use for `url`, if any. Loopback hosts are never proxied (as in Go).
    pub fn proxy_for(&self, url: &Url) -> Option<String> {
        let proxy = match url.scheme() {
            "https" => self.https.as_ref(),
            _ => self.http.as_ref(),
        }?;
        let host = url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let host = host.to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        if host == "localhost"
            || host.ends_with(".localhost")
            || ip.is_some_and(|ip| ip.is_loopback())
        {
            return None;
        }
        let port = url.port_or_known_default();
        if self
            .no_proxy
            .iter()
            .any(|entry| no_proxy_matches(entry, &host, ip, port))
        {
            return None;
        }
        Some(proxy.clone())
    }
}

/// One NO_PROXY entry against a host (lower case, IPv6 without brackets), with Go's
/// rules (golang.org/x/net/http/httpproxy): `*` matches everything; `10.0.0.0/8` and
/// `fd00::/8` match IP literals in the range; an IP matches itself; `example.com`
/// matches it and its subdomains, `.example.com` and `*.example.com` its subdomains
/// only; `host:port` matches that port only.
fn no_proxy_matches(entry: &str, host: &str, ip: Option<IpAddr>, port: Option<u16>) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((net, bits)) = entry.split_once('/') {
        let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u8>()) else {
            return false;
        };
        return ip.is_some_and(|ip| cidr_contains(net, bits, ip));
    }
    let bare = entry.trim_start_matches('[').trim_end_matches(']');
    if let Ok(entry_ip) = bare.parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    let (entry_host, entry_port) = match entry.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, p.parse::<u16>().ok()),
        _ => (entry, None),
    };
    if entry_port.is_some() && entry_port != port {
        return false;
    }
    let entry_host = entry_host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(entry_ip) = entry_host.parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    let subdomains_only = entry_host.starts_with('.') || entry_host.starts_with("*.");
    let domain = entry_host.trim_start_matches('*').trim_start_matches('.');
    if domain.is_empty() {
        return false;
    }
    host.ends_with(&format!(".{domain}")) || (!subdomains_only && host == domain)
}

/// Whether `ip` lies in `net/bits`; an IPv4 network never holds an IPv6 address.
fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

/// A proxy setting given for one registry through the API: it replaces whatever
/// HTTP(S)_PROXY and NO_PROXY say for that registry, loopback included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProxyChoice {
    /// No proxy, whatever the environment says.
    Direct,
    /// This proxy (`http://host:port`), for http and https alike.
    Via(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(no_proxy: &[&str]) -> ProxyEnv {
        ProxyEnv {
            http: Some("http://proxy:3128".into()),
            https: Some("http://sproxy:3128".into()),
            no_proxy: no_proxy.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn proxies_by_scheme_and_skips_loopback() {
        let e = env(&[]);
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            e.proxy_for(&u("https://r.io/v2/")).as_deref(),
            Some("http://sproxy:3128")
        );
        assert_eq!(
            e.proxy_for(&u("http://r.io/v2/")).as_deref(),
            Some("http://proxy:3128")
        );
        assert_eq!(e.proxy_for(&u("http://127.0.0.1:5000/v2/")), None);
        assert_eq!(e.proxy_for(&u("http://[::1]:5000/v2/")), None);
        assert_eq!(e.proxy_for(&u("http://localhost:5000/v2/")), None);
    }

    #[test]
    fn no_proxy_matches_domains_suffixes_and_ports() {
        let e = env(&["corp.example", ".internal", "r.io:8443", "*.svc"]);
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(e.proxy_for(&u("https://corp.example/v2/")), None);
        assert_eq!(e.proxy_for(&u("https://a.corp.example/v2/")), None);
        assert_eq!(e.proxy_for(&u("https://x.internal/v2/")), None);
        assert_eq!(e.proxy_for(&u("https://r.io:8443/v2/")), None);
        assert!(e.proxy_for(&u("https://r.io/v2/")).is_some());
        assert_eq!(e.proxy_for(&u("https://a.svc/v2/")), None);
        assert!(e.proxy_for(&u("https://notcorp.example/v2/")).is_some());
        assert_eq!(env(&["*"]).proxy_for(&u("https://r.io/")), None);
    }

    #[test]
    fn a_leading_dot_means_subdomains_only() {
        let e = env(&[".internal", "*.svc"]);
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(e.proxy_for(&u("https://x.internal/v2/")), None);
        assert!(e.proxy_for(&u("https://internal/v2/")).is_some());
        assert!(e.proxy_for(&u("https://svc/v2/")).is_some());
        assert!(e.proxy_for(&u("https://xinternal/v2/")).is_some());
    }

    #[test]
    fn no_proxy_matches_cidr_ranges_and_ip_literals() {
        let e = env(&[
            "10.0.0.0/8",
            "192.168.1.7",
            "fd00::/8",
            "[2001:db8::1]",
            "bad/99",
        ]);
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(e.proxy_for(&u("https://10.1.2.3:5000/v2/")), None);
        assert!(e.proxy_for(&u("https://11.1.2.3/v2/")).is_some());
        assert_eq!(e.proxy_for(&u("https://192.168.1.7/v2/")), None);
        assert!(e.proxy_for(&u("https://192.168.1.8/v2/")).is_some());
        assert_eq!(e.proxy_for(&u("https://[fd12::5]:443/v2/")), None);
        assert!(e.proxy_for(&u("https://[fe80::1]/v2/")).is_some());
        assert_eq!(e.proxy_for(&u("https://[2001:db8::1]/v2/")), None);
        // A range matches addresses, never names.
        assert!(e.proxy_for(&u("https://10.example/v2/")).is_some());
        assert!(cidr_contains(
            "0.0.0.0".parse().unwrap(),
            0,
            "8.8.8.8".parse().unwrap()
        ));
        assert!(!cidr_contains(
            "10.0.0.0".parse().unwrap(),
            8,
            "::ffff:10.0.0.1".parse().unwrap()
        ));
    }
}
