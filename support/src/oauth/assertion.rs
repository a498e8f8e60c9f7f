//! Signed assertions (RFC 7523): the JWT a client signs with its private key
//! instead of sending a secret (`private_key_jwt`, section 2.2, as OpenID
//! Connect Core 9 names it: Okta's API service apps), and the JWT bearer grant
//! a service account signs to act for a user (section 2.1: Google's
//! domain-wide delegation). The provider checks it with the public key it holds.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;

/// The form value that says a client assertion authenticates the client.
pub(super) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is good for: it is made for one token request, and
/// providers refuse long-lived ones (Okta takes at most an hour).
const LIFETIME_SECS: u64 = 300;

/// A private key the client signs with: RSA (RS256) or EC P-256 (ES256).
pub(super) enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl Key {
    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, RSA or P-256) or
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`). Pasted on one line, or with `\n`
    /// written out as in a JSON key file, it reads the same.
    pub fn from_pem(text: &str) -> Result<Key, String> {
        let text = text.replace("\\n", "\n");
        let label = text
            .split("-----BEGIN ")
            .nth(1)
            .and_then(|rest| rest.split_once("-----"))
            .map(|(label, _)| label.trim().to_owned())
            .ok_or("the client's private key is not a PEM key (-----BEGIN PRIVATE KEY----- …)")?;
        let body = text
            .split_once(&format!("-----BEGIN {label}-----"))
            .and_then(|(_, rest)| rest.split_once(&format!("-----END {label}-----")))
            .map(|(body, _)| body)
            .ok_or_else(|| format!("the client's private key has no -----END {label}----- line"))?;
        let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = STANDARD.decode(base64).map_err(|_| "the client's private key is not valid base64".to_owned())?;
        let rng = SystemRandom::new();
        match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der)
                .map(Key::Rsa)
                .or_else(|_| EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng).map(Key::Ec))
                .map_err(|_| {
                    "the client's private key is neither an RSA key of 2048 bits or more nor a P-256 key".to_owned()
                }),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map(Key::Rsa)
                .map_err(|_| "the client's RSA private key cannot be read (2048 bits or more)".to_owned()),
            "EC PRIVATE KEY" => Err("the client's EC key is in the SEC 1 form: give it as PKCS#8 \
                 (openssl pkcs8 -topk8 -nocrypt -in key.pem)"
                .to_owned()),
            other => Err(format!("the client's private key is a `{other}`, not a private key")),
        }
    }

    fn algorithm(&self) -> &'static str {
        match self {
            Key::Rsa(_) => "RS256",
            Key::Ec(_) => "ES256",
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        match self {
            Key::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| "the client's key could not sign".to_owned())?;
                Ok(signature)
            }
            Key::Ec(key) => key
                .sign(&rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| "the client's key could not sign".to_owned()),
        }
    }
}

/// What an assertion says: who issued it, about whom, for which token endpoint.
pub(super) struct Claims<'a> {
    /// The client (`private_key_jwt`), or the service account (the JWT bearer grant).
    pub issuer: &'a str,
    /// The client itself, or the user a service account acts for (Google's domain-wide delegation).
    pub subject: &'a str,
    /// The token endpoint's URL.
    pub audience: &'a str,
    /// The scopes asked for, where the grant carries them in the assertion (Google).
    pub scope: Option<&'a str>,
    /// When it is issued, in Unix seconds: [`now_secs`] but in tests.
    pub now_secs: u64,
}

/// One token request's assertion, signed with the PEM key the connection holds where a
/// client secret would be. A key that cannot sign is said in words.
pub(super) fn signed(pem: &str, key_id: Option<&str>, said: &Claims<'_>) -> Result<String, String> {
    assertion(&Key::from_pem(pem)?, key_id, said)
}

/// One token request's assertion: short-lived and never used twice (`jti`).
fn assertion(key: &Key, key_id: Option<&str>, said: &Claims<'_>) -> Result<String, String> {
    let mut header = json!({"alg": key.algorithm(), "typ": "JWT"});
    if let Some(kid) = key_id {
        header["kid"] = json!(kid);
    }
    let mut jti = [0u8; 16];
    SystemRandom::new().fill(&mut jti).map_err(|_| "no random bytes for the assertion's id".to_owned())?;
    let mut claims = json!({
        "iss": said.issuer,
        "sub": said.subject,
        "aud": said.audience,
        "iat": said.now_secs,
        "exp": said.now_secs + LIFETIME_SECS,
        "jti": hex(&jti),
    });
    if let Some(scope) = said.scope {
        claims["scope"] = json!(scope);
    }
    let signed =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = key.sign(signed.as_bytes())?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

pub(super) fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, KeyPair as _, UnparsedPublicKey};

    #[test]
    fn an_assertion_names_its_key_and_says_what_was_asked_and_its_signature_verifies() {
        let rng = SystemRandom::new();
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("a key");
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----", STANDARD.encode(der.as_ref()));
        let key = Key::from_pem(&pem).expect("a P-256 key");
        let Key::Ec(pair) = &key else { panic!("read as EC") };
        let public = pair.public_key().as_ref().to_vec();
        let claims = Claims {
            issuer: "svc@example.iam",
            subject: "admin@example.com",
            audience: "https://example.com/token",
            scope: Some("a b"),
            now_secs: 1_700_000_000,
        };
        let jwt = assertion(&key, Some("key-7"), &claims).expect("signed");
        let (signed, signature) = jwt.rsplit_once('.').expect("three parts");
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(signed.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).expect("base64url"))
            .expect("verifies");
        let part = |i: usize| -> serde_json::Value {
            let text = signed.split('.').nth(i).expect("a part");
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).expect("base64url")).expect("JSON")
        };
        assert_eq!(part(0), json!({"alg": "ES256", "typ": "JWT", "kid": "key-7"}));
        let said = part(1);
        assert_eq!(
            (&said["iss"], &said["sub"], &said["aud"], &said["scope"]),
            (
                &json!("svc@example.iam"),
                &json!("admin@example.com"),
                &json!("https://example.com/token"),
                &json!("a b")
            )
        );
        assert_eq!((said["iat"].as_u64(), said["exp"].as_u64()), (Some(1_700_000_000), Some(1_700_000_300)));
        assert_eq!(said["jti"].as_str().map(str::len), Some(32));
    }

    #[test]
    fn what_is_not_a_usable_key_says_why() {
        let cases = [
            ("not a key", "not a PEM key"),
            ("-----BEGIN PRIVATE KEY-----\nAAAA", "no -----END PRIVATE KEY-----"),
            ("-----BEGIN PRIVATE KEY-----\n@@@\n-----END PRIVATE KEY-----", "not valid base64"),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "neither an RSA key"),
            ("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----", "SEC 1"),
            ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "a `CERTIFICATE`"),
        ];
        for (pem, said) in cases {
            let error = Key::from_pem(pem).err().expect("refused");
            assert!(error.contains(said), "{pem}: {error}");
        }
    }
}
