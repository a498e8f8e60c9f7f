//! Operators logging in at the company's identity provider: OpenID Connect's authorization code
//! flow with PKCE (RFC 7636) and a nonce. The provider is found by its discovery document; the ID
//! token it answers with is checked as OpenID Connect Core 1.0 §3.1.3.7 says: signed by one of
//! the provider's keys (RS256 or ES256), issued by the issuer, for this client, not expired, and
//! bearing the nonce of this login. The operator's name is their email (else their username, else
//! the subject); the admins are those the settings name, everyone else the provider lets in is a
//! viewer.
//!
//! A login under way lives in this process's memory for ten minutes, as the console's sessions do:
//! several instances behind one address need sticky sessions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::operator::Role;
use super::sessions::random_id;

/// How long a login may take at the provider.
const PENDING_FOR: Duration = Duration::from_secs(10 * 60);
/// Clocks differ: a token this many seconds past its expiry is still taken.
const LEEWAY_SECS: i64 = 60;
/// The provider's discovery and keys are read again after this long (keys rotate).
const PROVIDER_FOR: Duration = Duration::from_secs(60 * 60);
/// The most of a provider's answer that is read.
const MAX_ANSWER: usize = 1 << 20;

/// What `tib serve` is told of the provider.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// The issuer, as its ID tokens name it: its discovery document is under it.
    pub issuer: Url,
    pub client_id: String,
    /// None for a public client, which PKCE alone protects.
    pub client_secret: Option<String>,
    /// Emails, usernames or subjects of the operators who are admins (compared without regard to case).
    pub admins: Vec<String>,
}

/// Who logged in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedIn {
    pub name: String,
    pub role: Role,
}

/// Where the provider's endpoints and keys are.
#[derive(Clone)]
struct Provider {
    authorization_endpoint: Url,
    token_endpoint: Url,
    keys: Vec<Jwk>,
    read_at: Instant,
}

/// A login sent to the provider, kept by its state.
struct Pending {
    verifier: String,
    nonce: String,
    redirect: Url,
    expires: Instant,
}

pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    provider: tokio::sync::Mutex<Option<Provider>>,
    pending: Mutex<HashMap<String, Pending>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
}

/// A public key of the provider's, as its JWKS gives it (RFC 7517).
#[derive(Clone, Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    /// RSA's modulus and exponent.
    n: Option<String>,
    e: Option<String>,
    /// An EC key's curve and point.
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// An audience is one client id or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    nonce: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    preferred_username: Option<String>,
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> Result<Oidc, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| format!("cannot make the identity provider's client: {e}"))?;
        Ok(Oidc { settings, http, provider: tokio::sync::Mutex::new(None), pending: Mutex::default() })
    }

    /// The provider's host, to name it on the login page.
    pub fn provider_name(&self) -> String {
        self.settings.issuer.host_str().unwrap_or("the identity provider").to_owned()
    }

    /// The URL that sends the operator to the provider, with a fresh state, nonce and PKCE challenge;
    /// `redirect` is where the provider sends them back.
    pub async fn start(&self, redirect: &Url) -> Result<Url, String> {
        let provider = self.provider().await?;
        let (state, nonce, verifier) = (random_id(), random_id(), random_id());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let mut url = provider.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect.as_str())
            .append_pair("scope", "openid email profile")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let mut pending = lock(&self.pending);
        let now = Instant::now();
        pending.retain(|_, p| p.expires > now);
        pending.insert(state, Pending { verifier, nonce, redirect: redirect.clone(), expires: now + PENDING_FOR });
        Ok(url)
    }

    /// The provider's redirect back: the code exchanged (once, for the login of `state`) and the ID
    /// token checked; who logged in.
    pub async fn finish(&self, state: &str, code: &str, now_secs: i64) -> Result<LoggedIn, String> {
        let pending = lock(&self.pending).remove(state);
        let pending = pending
            .filter(|p| p.expires > Instant::now())
            .ok_or("this login is unknown or took longer than ten minutes: log in again")?;
        let provider = self.provider().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", pending.redirect.as_str()),
            ("code_verifier", pending.verifier.as_str()),
        ];
        let mut request = self.http.post(provider.token_endpoint.clone());
        match &self.settings.client_secret {
            Some(secret) => request = request.basic_auth(&self.settings.client_id, Some(secret)),
            None => form.push(("client_id", &self.settings.client_id)),
        }
        let answer = request.form(&form).send().await.map_err(|e| self.unreachable(&e))?;
        let status = answer.status();
        let body = read(answer).await?;
        #[derive(Deserialize)]
        struct Tokens {
            id_token: Option<String>,
            error: Option<String>,
            error_description: Option<String>,
        }
        let tokens: Tokens = serde_json::from_slice(&body)
            .map_err(|_| format!("the identity provider's token endpoint answered HTTP {status} without JSON"))?;
        let Some(id_token) = tokens.id_token.filter(|_| status.is_success()) else {
            let why = [tokens.error, tokens.error_description].into_iter().flatten().collect::<Vec<_>>().join(": ");
            return Err(format!("the identity provider refused the login (HTTP {status}): {why}"));
        };
        let claims = self.verify(&id_token, &provider.keys, &pending.nonce, now_secs)?;
        Ok(self.logged_in(claims))
    }

    /// The name and role the claims give.
    fn logged_in(&self, claims: Claims) -> LoggedIn {
        let email = claims.email.filter(|_| claims.email_verified != Some(false));
        let name = email.or(claims.preferred_username).unwrap_or_else(|| claims.sub.clone());
        let admin = self.settings.admins.iter().any(|a| a.eq_ignore_ascii_case(&name) || *a == claims.sub);
        LoggedIn { name, role: if admin { Role::Admin } else { Role::Viewer } }
    }

    /// The ID token's claims, once its signature and claims hold.
    fn verify(&self, token: &str, keys: &[Jwk], nonce: &str, now_secs: i64) -> Result<Claims, String> {
        let refused = |why: &str| format!("the identity provider's ID token is refused: {why}");
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused("it is not a signed JWT"));
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| refused("a part is not base64url"));
        let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| refused("its header is not JSON"))?;
        let key = keys
            .iter()
            .find(|k| header.kid.is_none() || k.kid == header.kid)
            .ok_or_else(|| refused("no key of the provider's has its key id"))?;
        let signed = &token[..token.len() - signature.len() - 1];
        key.verify(&header.alg, signed.as_bytes(), &decode(signature)?).map_err(|why| refused(&why))?;
        let claims: Claims = serde_json::from_slice(&decode(payload)?)
            .map_err(|e| refused(&format!("its claims cannot be read: {e}")))?;
        if claims.iss.trim_end_matches('/') != self.settings.issuer.as_str().trim_end_matches('/') {
            return Err(refused(&format!("it was issued by {}, not {}", claims.iss, self.settings.issuer)));
        }
        let for_us = match &claims.aud {
            Audience::One(aud) => *aud == self.settings.client_id,
            Audience::Many(auds) => auds.contains(&self.settings.client_id),
        };
        if !for_us {
            return Err(refused("it is for another client"));
        }
        if claims.exp + LEEWAY_SECS < now_secs {
            return Err(refused("it has expired"));
        }
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(refused("it does not bear this login's nonce"));
        }
        Ok(claims)
    }

    /// The provider's endpoints and keys: read once an hour, or when a login needs them.
    async fn provider(&self) -> Result<Provider, String> {
        let mut cached = self.provider.lock().await;
        if let Some(provider) = cached.as_ref().filter(|p| p.read_at.elapsed() < PROVIDER_FOR) {
            return Ok(provider.clone());
        }
        let issuer = self.settings.issuer.as_str().trim_end_matches('/');
        let discovery_url = format!("{issuer}/.well-known/openid-configuration");
        let discovery: Discovery = self.get_json(&discovery_url).await?;
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(format!(
                "the identity provider at {issuer} names its issuer {}: set the issuer to that",
                discovery.issuer
            ));
        }
        let jwks: Jwks = self.get_json(discovery.jwks_uri.as_str()).await?;
        let provider = Provider {
            authorization_endpoint: discovery.authorization_endpoint,
            token_endpoint: discovery.token_endpoint,
            keys: jwks.keys,
            read_at: Instant::now(),
        };
        *cached = Some(provider.clone());
        Ok(provider)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let answer = self.http.get(url).send().await.map_err(|e| self.unreachable(&e))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(format!("the identity provider answered HTTP {status} at {url}"));
        }
        serde_json::from_slice(&read(answer).await?)
            .map_err(|e| format!("the identity provider's {url} cannot be read: {e}"))
    }

    fn unreachable(&self, error: &reqwest::Error) -> String {
        let source = std::error::Error::source(error).map_or_else(String::new, |s| format!(": {s}"));
        format!("the identity provider at {} cannot be reached{source}", self.settings.issuer)
    }
}

/// An answer's body, at most [`MAX_ANSWER`] bytes.
async fn read(answer: reqwest::Response) -> Result<Vec<u8>, String> {
    let body = answer.bytes().await.map_err(|e| format!("the identity provider's answer broke off: {e}"))?;
    if body.len() > MAX_ANSWER {
        return Err("the identity provider's answer is larger than a megabyte".to_owned());
    }
    Ok(body.to_vec())
}

impl Jwk {
    /// Whether `signature` over `signed` is this key's, by the algorithm the token's header names.
    fn verify(&self, alg: &str, signed: &[u8], signature: &[u8]) -> Result<(), String> {
        use ring::signature;
        let part = |value: &Option<String>, name: &str| {
            let text = value.as_deref().ok_or_else(|| format!("the provider's key has no `{name}`"))?;
            URL_SAFE_NO_PAD.decode(text).map_err(|_| format!("the provider's key's `{name}` is not base64url"))
        };
        let checked = match (alg, self.kty.as_str()) {
            ("RS256", "RSA") => {
                let key = signature::RsaPublicKeyComponents { n: part(&self.n, "n")?, e: part(&self.e, "e")? };
                key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, signature)
            }
            ("ES256", "EC") if self.crv.as_deref() == Some("P-256") => {
                let point = [vec![4u8], part(&self.x, "x")?, part(&self.y, "y")?].concat();
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(signed, signature)
            }
            (alg, kty) => return Err(format!("it is signed with {alg}, by a {kty} key: tib takes RS256 and ES256")),
        };
        checked.map_err(|_| "its signature is not the provider's".to_owned())
    }
}

/// A lock that a panic elsewhere left poisoned still guards a plain map: take it anyway.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(admins: &[&str]) -> Oidc {
        Oidc::new(OidcSettings {
            issuer: Url::parse("https://id.example.com").expect("a URL"),
            client_id: "tib".to_owned(),
            client_secret: None,
            admins: admins.iter().map(|a| (*a).to_owned()).collect(),
        })
        .expect("made")
    }

    fn claims(email: Option<&str>, verified: Option<bool>) -> Claims {
        Claims {
            iss: "https://id.example.com".into(),
            sub: "00u1".into(),
            aud: Audience::One("tib".into()),
            exp: 0,
            nonce: None,
            email: email.map(str::to_owned),
            email_verified: verified,
            preferred_username: Some("ann".into()),
        }
    }

    #[test]
    fn the_name_is_a_verified_email_else_the_username_and_admins_are_those_named() {
        let sso = oidc(&["Ann@Example.com", "00u9"]);
        assert_eq!(
            sso.logged_in(claims(Some("ann@example.com"), None)),
            LoggedIn { name: "ann@example.com".into(), role: Role::Admin }
        );
        assert_eq!(sso.logged_in(claims(Some("ann@example.com"), Some(false))).name, "ann");
        assert_eq!(oidc(&[]).logged_in(claims(None, None)).role, Role::Viewer);
        assert_eq!(oidc(&["00u1"]).logged_in(claims(None, None)).role, Role::Admin);
    }

    #[test]
    fn a_token_that_is_not_a_signed_jwt_or_not_the_providers_is_refused() {
        let sso = oidc(&[]);
        assert!(sso.verify("a.b", &[], "n", 0).expect_err("refused").contains("not a signed JWT"));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"k"}"#);
        let token = format!("{header}.e30.c2ln");
        let key = Jwk { kty: "RSA".into(), kid: Some("k".into()), n: None, e: None, crv: None, x: None, y: None };
        let refused = sso.verify(&token, &[key], "n", 0).expect_err("refused");
        assert!(refused.contains("signed with HS256"), "{refused}");
    }
}
