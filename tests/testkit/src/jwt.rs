//! ES256 JWTs in the shape the token auth of distribution 2.8 and v3 accepts.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::{json, Value};

use crate::access::Scope;
use crate::certs::SigningMaterial;
use crate::{TOKEN_ISSUER, TOKEN_SERVICE};

/// Signs registry tokens.
pub(crate) struct TokenSigner {
    key: EcdsaKeyPair,
    kid: String,
    /// The signing certificate (DER, base64) for the `x5c` header.
    x5c: String,
    rng: SystemRandom,
}

impl TokenSigner {
    pub fn new(material: &SigningMaterial) -> TokenSigner {
        let rng = SystemRandom::new();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &material.pkcs8_der, &rng)
                .expect("load ES256 signing key");
        let cert = CertificateDer::from_pem_slice(material.cert_pem.as_bytes())
            .expect("the signing certificate's PEM");
        TokenSigner {
            key,
            kid: material.kid.clone(),
            x5c: STANDARD.encode(cert.as_ref()),
            rng,
        }
    }

    /// A token for `sub` ("" = anonymous) with the given access, valid for
    /// `lifetime_secs` from now (negative: already expired).
    pub fn issue(&self, sub: &str, access: Value, lifetime_secs: i64) -> String {
        let now = unix_now() as i64;
        // distribution 2.8 finds the key by its libtrust `kid`; v3 no longer knows that id
        // and verifies the `x5c` certificate against its root bundle instead.
        let header = json!({"typ": "JWT", "alg": "ES256", "kid": self.kid, "x5c": [self.x5c]});
        let claims = json!({
            "iss": TOKEN_ISSUER,
            "sub": sub,
            // distribution 2.8 wants a single string here, not an array.
            "aud": TOKEN_SERVICE,
            "exp": now + lifetime_secs,
            "nbf": now - 5,
            "iat": now,
            "jti": random_hex(16),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // FIXED signing = raw r||s, 64 bytes, as JWS requires.
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .expect("ES256 sign");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// The JWT `access` claim for granted scopes.
pub(crate) fn access_claim(scopes: &[Scope]) -> Value {
    Value::Array(
        scopes
            .iter()
            .map(|s| json!({"type": s.typ, "name": s.name, "actions": s.actions}))
            .collect(),
    )
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_secs()
}

/// RFC 3339 UTC timestamp (`2024-01-02T03:04:05Z`) of a Unix time.
pub(crate) fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn random_hex(n: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; n];
    SystemRandom::new().fill(&mut buf).expect("random bytes");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn token_shape() {
        let m = crate::certs::make_signing_material();
        let t = TokenSigner::new(&m).issue("u", json!([]), 60);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["kid"], m.kid);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], TOKEN_SERVICE);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
    }
}
