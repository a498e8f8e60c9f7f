//! OAuth 2.0 for connectors whose spec says so: where a sync gets its bearer
//! token ([`TokenProvider`]), the client credentials grant with a cached token,
//! and the authorization code grant (authorize URL with state and PKCE S256,
//! code exchange, refresh with rotation), over the oauth2 crate.
//!
//! Following RFC 9700: PKCE S256 and a fresh `state` on every authorization,
//! an exact redirect URI, a token endpoint client that follows no redirects,
//! and a rotated refresh token kept before the access token it came with is
//! used. The access token goes only into the API's Authorization header.

use std::future::Future;
use std::pin::Pin;

mod assertion;
mod token;

/// The JWT bearer grant's type (RFC 7523 section 2.1).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use tokio::sync::Mutex;
use url::Url;

use crate::error::SyncError;
use crate::http::Client;
use crate::secret::{CredentialValues, Secret};
use crate::spec::{Auth, ClientAuth, Param, Spec};
use crate::template::{render, render_url};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A token is renewed this long before it expires (a quarter of its life
/// for short-lived ones), so no request carries one that expires on the way.
const MARGIN_SECS: i64 = 60;

/// When a token that lives `seconds` from `now` is to be renewed.
fn renew_at(now: i64, seconds: i64) -> i64 {
    now + seconds - MARGIN_SECS.min(seconds / 4)
}

/// Where a sync gets the bearer token of an OAuth spec.
pub trait TokenProvider: Send + Sync {
    /// A token that is valid now.
    fn token(&self) -> BoxFuture<'_, Result<Secret, SyncError>>;
    /// The API answered 401 to `rejected`: a new token, or `None` when no
    /// other can be had (the 401 then stands).
    fn renew<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Option<Secret>, SyncError>>;
    /// The API's origin the last token answer gave, for specs that take the
    /// base URL from it (`base_url_from`).
    fn base_url(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async { None })
    }

    /// The values a sign-in answer gave, by name, that the request path holds (`auth session`).
    fn values(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// A token given as is, e.g. to `compiler test`.
#[derive(Debug)]
pub struct StaticToken(pub Secret);

impl TokenProvider for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<Secret, SyncError>> {
        Box::pin(async { Ok(self.0.clone()) })
    }

    fn renew<'a>(&'a self, _: &'a Secret) -> BoxFuture<'a, Result<Option<Secret>, SyncError>> {
        Box::pin(async { Ok(None) })
    }
}

/// The tokens of an authorization, as stored between syncs.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token is to be renewed, in Unix seconds: a little
    /// before it expires. `None` when the provider did not say.
    pub expires_at: Option<i64>,
    /// The origin of the API, for specs that take it from the token answer
    /// (`base_url_from`); kept with the tokens, moved by a refresh that brings a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .field("expires_at", &self.expires_at)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl TokenSet {
    fn fresh(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Where a connection's OAuth endpoints are: the spec's, unless overridden
/// (a provider's sandbox or regional endpoint, or a local test server).
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    pub token_url: Option<Url>,
    pub authorize_url: Option<Url>,
}

/// The token endpoint client of one connection.
pub struct OAuthClient {
    client_id: String,
    client_secret: Secret,
    /// The connection's secrets and the client secret, redacted from what
    /// the token endpoint says.
    secrets: CredentialValues,
    token_url: Url,
    authorize_url: Option<Url>,
    http: Client,
    grant: Grant,
}

/// What the spec says of its grant, with the connection's values put in.
struct Grant {
    scopes: &'static [&'static str],
    client_auth: ClientAuth,
    /// The `kid` of a signed assertion's key, with the connection's values put in.
    key_id: Option<String>,
    /// The JWT bearer grant's subject, with the connection's values put in.
    subject: Option<String>,
    /// The client credentials grant's type (`client_credentials` or a variant).
    grant_type: &'static str,
    /// The token answer's field that gives the API's base URL.
    base_url_from: Option<&'static str>,
    /// Extra parameters of the client credentials or code exchange request.
    token_params: Vec<(String, String)>,
    /// Extra parameters of a refresh request.
    refresh_params: Vec<(String, String)>,
    authorize_params: Vec<(String, String)>,
    refresh_tokens: bool,
}

impl Grant {
    fn from_client_credentials(cc: &crate::spec::OAuthClientCredentials, creds: &CredentialValues) -> Grant {
        Grant {
            scopes: cc.scopes,
            client_auth: cc.client_auth,
            key_id: cc.key_id.as_ref().map(|kid| render(kid, creds)),
            subject: cc.subject.as_ref().map(|subject| render(subject, creds)),
            grant_type: cc.grant_type,
            base_url_from: cc.base_url_from,
            token_params: params(cc.token_params, creds),
            refresh_params: Vec::new(),
            authorize_params: Vec::new(),
            refresh_tokens: false,
        }
    }

    fn from_authorization_code(ac: &crate::spec::OAuthAuthorizationCode, creds: &CredentialValues) -> Grant {
        Grant {
            scopes: ac.scopes,
            client_auth: ac.client_auth,
            key_id: ac.key_id.as_ref().map(|kid| render(kid, creds)),
            subject: None,
            grant_type: "authorization_code",
            base_url_from: ac.base_url_from,
            token_params: params(ac.token_params, creds),
            refresh_params: params(ac.refresh_params, creds),
            authorize_params: params(ac.authorize_params, creds),
            refresh_tokens: ac.refresh_tokens,
        }
    }
}

/// The origin a token answer's base URL field gives (`https://na1.salesforce.com`,
/// or a bare host name): https, or plain http to this machine only.
fn base_origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("https://{text}") };
    let url = Url::parse(&with_scheme).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !crate::network::secure_or_loopback(&url) {
        return Err(format!("`{text}` is not https (plain http goes to this machine only)"));
    }
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{text}` is not a host to send requests to"));
    }
    Ok(url.origin().ascii_serialization())
}

fn params(params: &[Param], creds: &CredentialValues) -> Vec<(String, String)> {
    params.iter().map(|p| (p.name.to_owned(), render(&p.value, creds))).collect()
}

/// A URL of the spec with the connection's values put in, under the rules
/// the base URL follows: a value cannot move it to another host or path.
fn url(template: &crate::spec::Template, creds: &CredentialValues, what: &str) -> Result<Url, SyncError> {
    let text = render_url(template, creds)?;
    Url::parse(&text).map_err(|e| SyncError::Config(creds.redact(&format!("the {what} `{text}` is not valid: {e}"))))
}

impl OAuthClient {
    /// The client of an OAuth spec, with the connection's credentials
    /// (`client_id` and `client_secret` among them); token requests go
    /// through `http`'s token client (no redirects, the network policy, the
    /// answer size bound).
    pub fn new(
        spec: &'static Spec,
        creds: &CredentialValues,
        endpoints: &Endpoints,
        http: &Client,
    ) -> Result<OAuthClient, SyncError> {
        let credential = |name: &str| {
            spec.credentials.iter().position(|c| c.name == name).map(|i| creds.get(i).to_owned()).unwrap_or_default()
        };
        let (token_url, authorize_url, grant) = match &spec.auth {
            Auth::OAuthClientCredentials(cc) => (&cc.token_url, None, Grant::from_client_credentials(cc, creds)),
            Auth::OAuthAuthorizationCode(ac) => {
                (&ac.token_url, Some(&ac.authorize_url), Grant::from_authorization_code(ac, creds))
            }
            _ => return Err(SyncError::Config(format!("{} does not authenticate with OAuth 2.0", spec.app))),
        };
        let token_url = match &endpoints.token_url {
            Some(u) => u.clone(),
            None => url(token_url, creds, "token URL")?,
        };
        let authorize_url = match (&endpoints.authorize_url, authorize_url) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(template)) => Some(url(template, creds, "authorize URL")?),
            (None, None) => None,
        };
        let (client_id, client_secret) = (credential("client_id"), credential("client_secret"));
        Ok(OAuthClient {
            secrets: creds.with_secret(&client_secret).with_secret(&token::basic_pair(&client_id, &client_secret)),
            client_id,
            client_secret: Secret::new(client_secret),
            token_url,
            authorize_url,
            http: http.clone(),
            grant,
        })
    }

    /// Whether the provider issues refresh tokens.
    pub fn refresh_tokens(&self) -> bool {
        self.grant.refresh_tokens
    }

    /// Sends one token request and reads its answer as a token set, or
    /// classifies the error: the provider refusing the client or grant is an
    /// auth failure (the connection is disabled); anything else is retried at
    /// the next sync. `refresh_token` is the one being refreshed, kept when
    /// the answer brings none; `sent` is the refresh token or code the request
    /// carried, redacted with the secrets since a provider may echo it.
    async fn token_set(
        &self,
        form: Vec<(String, String)>,
        refresh_token: Option<&str>,
        previous_base: Option<&str>,
        sent: Option<&str>,
    ) -> Result<TokenSet, SyncError> {
        let endpoint = token::Endpoint {
            url: &self.token_url,
            client_id: &self.client_id,
            client_secret: self.client_secret.expose(),
            client_auth: self.grant.client_auth,
            key_id: self.grant.key_id.as_deref(),
            http: &self.http,
        };
        let secrets = match sent {
            Some(sent) => &self.secrets.with_secret(sent),
            None => &self.secrets,
        };
        let refused =
            |message: String, permanent: bool| SyncError::Auth { message: secrets.redact(&message), permanent };
        let granted =
            token::request(&endpoint, form).await.map_err(|refused_| refused(refused_.message, refused_.permanent))?;
        let base_url = match self.grant.base_url_from {
            None => None,
            Some(field) => match granted.fields.get(field) {
                Some(serde_json::Value::String(text)) => Some(
                    base_origin(text).map_err(|why| refused(format!("the token answer's `{field}` {why}"), false))?,
                ),
                // No new one: the connection stays where it is.
                _ => match previous_base {
                    Some(previous) => Some(previous.to_owned()),
                    None => {
                        let message = format!(
                            "the token endpoint {} gave no `{field}`, which the spec says holds the API's base URL",
                            self.token_url
                        );
                        return Err(refused(message, false));
                    }
                },
            },
        };
        Ok(TokenSet {
            access_token: granted.access_token,
            // No new refresh token: the old one stays valid.
            refresh_token: granted.refresh_token.or(refresh_token.map(str::to_owned)),
            expires_at: granted.expires_in.map(|seconds| renew_at(now(), seconds)),
            base_url,
        })
    }

    async fn client_credentials(&self) -> Result<TokenSet, SyncError> {
        let mut form = vec![("grant_type".to_owned(), self.grant.grant_type.to_owned())];
        if self.grant.grant_type == JWT_BEARER {
            form.push(("assertion".to_owned(), self.bearer_assertion()?));
        } else {
            form.extend(self.scope());
        }
        form.extend(self.grant.token_params.iter().cloned());
        self.token_set(form, None, None, None).await
    }

    /// The JWT bearer grant's assertion (RFC 7523 section 2.1): signed with the
    /// service account's key (held where a client secret would be), issued by the
    /// account, about the user it acts for, with the scopes among its claims as Google reads them.
    fn bearer_assertion(&self) -> Result<String, SyncError> {
        let scope = self.grant.scopes.join(" ");
        let claims = assertion::Claims {
            issuer: &self.client_id,
            subject: self.grant.subject.as_deref().unwrap_or(&self.client_id),
            audience: self.token_url.as_str(),
            scope: (!scope.is_empty()).then_some(scope.as_str()),
            now_secs: assertion::now_secs(),
        };
        // A key that cannot sign is the connection's configuration: retrying will not mend it.
        assertion::signed(self.client_secret.expose(), self.grant.key_id.as_deref(), &claims)
            .map_err(|message| SyncError::Auth { message, permanent: true })
    }

    /// A refresh sends the refresh parameters, not the code exchange's.
    async fn refresh(&self, tokens: &TokenSet, refresh_token: &str) -> Result<TokenSet, SyncError> {
        let mut form = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), refresh_token.to_owned()),
        ];
        form.extend(self.grant.refresh_params.iter().cloned());
        self.token_set(form, Some(refresh_token), tokens.base_url.as_deref(), Some(refresh_token)).await
    }

    /// The `scope` parameter: the spec's scopes in its order, space-separated.
    fn scope(&self) -> Option<(String, String)> {
        (!self.grant.scopes.is_empty()).then(|| ("scope".to_owned(), self.grant.scopes.join(" ")))
    }

    /// The URL that asks the user to grant access, with a fresh state and
    /// PKCE challenge; scopes in the spec's order.
    pub fn authorize(&self, redirect: &Url) -> Result<Authorization, SyncError> {
        let Some(authorize_url) = &self.authorize_url else {
            return Err(SyncError::Config("this spec has no authorize URL".to_owned()));
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let basic = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(authorize_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
        let mut request = basic
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.grant.scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge);
        for (name, value) in &self.grant.authorize_params {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        let (url, state) = request.url();
        Ok(Authorization { url, state: state.secret().clone(), verifier: verifier.secret().clone() })
    }

    /// Exchanges an authorization code (with its PKCE verifier and the exact
    /// redirect URI of the authorization) for tokens.
    pub async fn exchange(&self, code: &str, verifier: &str, redirect: &Url) -> Result<TokenSet, SyncError> {
        let mut form = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
            ("redirect_uri".to_owned(), redirect.as_str().to_owned()),
            ("code_verifier".to_owned(), verifier.to_owned()),
        ];
        // RFC 6749 section 4.1.3: a client that does not authenticate sends its id.
        if self.grant.client_auth == ClientAuth::Basic {
            form.push(("client_id".to_owned(), self.client_id.clone()));
        }
        form.extend(self.grant.token_params.iter().cloned());
        self.token_set(form, None, None, Some(code)).await
    }
}

/// An authorization under way: the URL to open, and what checks its answer.
pub struct Authorization {
    pub url: Url,
    /// Single use: the redirect must bring it back.
    pub state: String,
    pub verifier: String,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

/// Client credentials: a token fetched with the client id and secret, and
/// kept until shortly before it expires.
pub struct ClientCredentials {
    client: OAuthClient,
    cached: Mutex<Option<TokenSet>>,
}

impl ClientCredentials {
    pub fn new(client: OAuthClient) -> Self {
        ClientCredentials { client, cached: Mutex::new(None) }
    }

    /// A new token from the token endpoint, kept in `cached`.
    async fn fetch(&self, cached: &mut Option<TokenSet>) -> Result<Secret, SyncError> {
        let set = self.client.client_credentials().await?;
        let token = Secret::new(set.access_token.clone());
        *cached = Some(set);
        Ok(token)
    }
}

impl TokenProvider for ClientCredentials {
    fn token(&self) -> BoxFuture<'_, Result<Secret, SyncError>> {
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            if let Some(set) = cached.as_ref().filter(|set| set.fresh(now())) {
                return Ok(Secret::new(set.access_token.clone()));
            }
            self.fetch(&mut cached).await
        })
    }

    fn renew<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Option<Secret>, SyncError>> {
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            // Another request may have renewed it already.
            if let Some(set) = cached.as_ref().filter(|set| set.access_token != rejected.expose()) {
                return Ok(Some(Secret::new(set.access_token.clone())));
            }
            self.fetch(&mut cached).await.map(Some)
        })
    }

    fn base_url(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move { self.cached.lock().await.as_ref().and_then(|set| set.base_url.clone()) })
    }
}

/// Keeps a connection's tokens where they are stored; called with every new
/// token set before its access token is used.
pub type Persist = Box<dyn Fn(&TokenSet) -> Result<(), String> + Send + Sync>;

/// Authorization code: the stored tokens, refreshed when about to expire or
/// refused, each new set persisted before it is used.
pub struct Refreshing {
    client: OAuthClient,
    tokens: Mutex<TokenSet>,
    persist: Persist,
}

impl Refreshing {
    pub fn new(client: OAuthClient, tokens: TokenSet, persist: Persist) -> Self {
        Refreshing { client, tokens: Mutex::new(tokens), persist }
    }

    async fn refresh(&self, tokens: &mut TokenSet) -> Result<Secret, SyncError> {
        let refresh_token = match (&tokens.refresh_token, self.client.refresh_tokens()) {
            (Some(token), true) => token.clone(),
            _ => {
                return Err(SyncError::Auth {
                    message: "the access token has expired and the provider gives no refresh token: authorize the \
                              connection again"
                        .to_owned(),
                    permanent: true,
                });
            }
        };
        let new = self.client.refresh(tokens, &refresh_token).await.map_err(|error| match error {
            SyncError::Auth { message, permanent: true } => SyncError::Auth {
                message: format!("{message}; the refresh token is no longer valid: authorize the connection again"),
                permanent: true,
            },
            other => other,
        })?;
        // Rotation: the new refresh token must be kept before anything uses the new access token.
        (self.persist)(&new).map_err(|e| SyncError::Auth {
            message: format!("cannot store the refreshed tokens: {e}"),
            permanent: false,
        })?;
        let token = Secret::new(new.access_token.clone());
        *tokens = new;
        Ok(token)
    }
}

impl TokenProvider for Refreshing {
    fn token(&self) -> BoxFuture<'_, Result<Secret, SyncError>> {
        Box::pin(async move {
            let mut tokens = self.tokens.lock().await;
            if tokens.fresh(now()) {
                return Ok(Secret::new(tokens.access_token.clone()));
            }
            self.refresh(&mut tokens).await
        })
    }

    fn renew<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Option<Secret>, SyncError>> {
        Box::pin(async move {
            let mut tokens = self.tokens.lock().await;
            if tokens.access_token != rejected.expose() {
                return Ok(Some(Secret::new(tokens.access_token.clone())));
            }
            self.refresh(&mut tokens).await.map(Some)
        })
    }

    fn base_url(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move { self.tokens.lock().await.base_url.clone() })
    }
}

/// The port of the loopback redirect that spec authors test with (RFC 8252
/// section 7.3); providers must allow `http://127.0.0.1:8765/callback`.
pub const TEST_REDIRECT_PORT: u16 = 8765;

/// The loopback redirect URL on `port`.
pub fn test_redirect_url(port: u16) -> Url {
    Url::parse(&format!("http://127.0.0.1:{port}/callback")).expect("a loopback URL is valid")
}

/// The runtime's redirect URL for an integration: each has its own path, so
/// a code from one provider is never sent to another.
pub fn production_redirect_url(public_url: &Url, integration: &str) -> Url {
    let mut url = public_url.clone();
    let path = format!("{}/oauth/callback/{integration}", public_url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_renewed_a_minute_early_or_a_quarter_of_their_life() {
        assert_eq!(super::renew_at(1000, 3600), 1000 + 3600 - 60);
        assert_eq!(super::renew_at(1000, 40), 1000 + 30);
        assert_eq!(super::renew_at(1000, 2), 1002);
    }
}
