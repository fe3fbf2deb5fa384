//! The harness's own HTTP client (ureq 2).

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::certs::tls_client_config_with_cert;

/// An `Accept` header naming every manifest type distribution 2.8 serves
/// (it answers 404 to an OCI manifest GET whose Accept does not name OCI).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

/// A ureq agent with short timeouts; with `ca_pem`, HTTPS trusts only that
/// CA (HTTP/1.1, ring provider).
pub fn agent_with_ca(ca_pem: Option<&Path>) -> ureq::Agent {
    agent_with_tls(ca_pem, None)
}

/// Like [`agent_with_ca`], presenting the client certificate `client` (certificate and
/// key PEM files) to servers that ask for one.
pub fn agent_with_tls(ca_pem: Option<&Path>, client: Option<(&Path, &Path)>) -> ureq::Agent {
    let mut b = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(3))
        .timeout(Duration::from_secs(60))
        .redirects(0);
    if let Some(ca) = ca_pem {
        b = b.tls_config(tls_client_config_with_cert(ca, client));
    }
    b.build()
}

/// `Basic base64(user:password)`.
pub(crate) fn basic_header(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Performs a request, turning ureq's "4xx/5xx is an error" into a plain
/// response; only transport failures are `Err` (as text).
pub(crate) fn any_status(r: Result<ureq::Response, ureq::Error>) -> Result<ureq::Response, String> {
    match r {
        Ok(resp) => Ok(resp),
        Err(ureq::Error::Status(_, resp)) => Ok(resp),
        Err(ureq::Error::Transport(t)) => Err(t.to_string()),
    }
}
