//! HTTP(S)_PROXY and NO_PROXY, read once when the client's HTTP agents are built.

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
        if host == "localhost"
            || host.ends_with(".localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
        {
            return None;
        }
        let port = url.port_or_known_default();
        for entry in &self.no_proxy {
            if entry == "*" {
                return None;
            }
            let (entry_host, entry_port) = match entry.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, p.parse::<u16>().ok()),
                _ => (entry.as_str(), None),
            };
            if entry_port.is_some() && entry_port != port {
                continue;
            }
            let entry_host = entry_host
                .trim_start_matches('.')
                .trim_start_matches("*.")
                .trim_start_matches('[')
                .trim_end_matches(']');
            if host == entry_host || host.ends_with(&format!(".{entry_host}")) {
                return None;
            }
        }
        Some(proxy.clone())
    }
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
}
