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

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use tokio::sync::Mutex;
use url::Url;

use crate::error::SyncError;
use crate::http::{Client, Unread, read_body};
use crate::request::{render, render_url};
use crate::secret::{CredentialValues, Secret};
use crate::spec::{Auth, Param, Spec};

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
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .field("expires_at", &self.expires_at)
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
    scopes: &'static [&'static str],
    /// Extra parameters of the client credentials or code exchange request.
    token_params: Vec<(String, String)>,
    /// Extra parameters of a refresh request.
    refresh_params: Vec<(String, String)>,
    authorize_params: Vec<(String, String)>,
    pub refresh_tokens: bool,
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

/// Why the token endpoint's answer was not had.
#[derive(Debug)]
pub struct TokenHttpError(String);

impl std::fmt::Display for TokenHttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TokenHttpError {}

/// The token endpoint as the oauth2 crate calls it: requests through the
/// token client, answers read within the size bound, since a token endpoint
/// is as untrusted as an API.
struct TokenEndpoint<'a>(&'a Client);

impl<'c> oauth2::AsyncHttpClient<'c> for TokenEndpoint<'_> {
    type Error = TokenHttpError;
    type Future = BoxFuture<'c, Result<oauth2::HttpResponse, TokenHttpError>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(post(self.0, request))
    }
}

async fn post(http: &Client, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, TokenHttpError> {
    let request = reqwest::Request::try_from(request)
        .map_err(|e| TokenHttpError(format!("cannot build the request: {}", e.without_url())))?;
    if let Err(refused) = http.check_address(request.url()) {
        return Err(TokenHttpError(refused.to_string()));
    }
    let response = http.token_http().execute(request).await.map_err(|e| TokenHttpError(crate::http::describe(e)))?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let limit = http.max_answer_bytes();
    let body = read_body(response, limit).await.map_err(|unread| match unread {
        Unread::TooLarge => TokenHttpError(format!("the answer is larger than {limit} bytes")),
        Unread::Failed(e) => TokenHttpError(crate::http::describe(e)),
    })?;
    builder.body(body.to_vec()).map_err(|e| TokenHttpError(e.to_string()))
}

/// What the oauth2 crate makes of a token endpoint's answer.
type TokenAnswer =
    Result<oauth2::basic::BasicTokenResponse, RequestTokenError<TokenHttpError, oauth2::basic::BasicErrorResponse>>;

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
        let (token_url, authorize_url, scopes, token_params, refresh_params, authorize_params, refresh_tokens) =
            match &spec.auth {
                Auth::OAuthClientCredentials(cc) => {
                    (&cc.token_url, None, cc.scopes, params(cc.token_params, creds), Vec::new(), Vec::new(), false)
                }
                Auth::OAuthAuthorizationCode(ac) => (
                    &ac.token_url,
                    Some(&ac.authorize_url),
                    ac.scopes,
                    params(ac.token_params, creds),
                    params(ac.refresh_params, creds),
                    params(ac.authorize_params, creds),
                    ac.refresh_tokens,
                ),
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
            secrets: creds.with_secret(&client_secret).with_secret(&basic_pair(&client_id, &client_secret)),
            client_id,
            client_secret: Secret::new(client_secret),
            token_url,
            authorize_url,
            http: http.clone(),
            scopes,
            token_params,
            refresh_params,
            authorize_params,
            refresh_tokens,
        })
    }

    fn basic(&self) -> BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet> {
        BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.expose().to_owned()))
            .set_token_uri(TokenUrl::from_url(self.token_url.clone()))
    }

    /// The token endpoint's answer as a token set, or the error classified:
    /// the provider refusing the client or grant is an auth failure (the
    /// connection is disabled); anything else is retried at the next sync.
    /// `sent` is the refresh token or code the request carried: a provider
    /// may echo it in its error, so it is redacted with the secrets.
    fn token_set(
        &self,
        answer: TokenAnswer,
        refresh_token: Option<&str>,
        sent: Option<&str>,
    ) -> Result<TokenSet, SyncError> {
        let shown = self.token_url.as_str();
        let (message, permanent) = match answer {
            // RFC 6749 section 7.1: a client must not use a token whose type it does not understand.
            Ok(answer) if *answer.token_type() != oauth2::basic::BasicTokenType::Bearer => (
                format!(
                    "the token endpoint {shown} gave a token of type `{}`; tib sends bearer tokens only",
                    answer.token_type().as_ref()
                ),
                true,
            ),
            Ok(answer) => {
                return Ok(TokenSet {
                    access_token: answer.access_token().secret().clone(),
                    // No new refresh token: the old one stays valid.
                    refresh_token: answer
                        .refresh_token()
                        .map(|t| t.secret().clone())
                        .or(refresh_token.map(str::to_owned)),
                    expires_at: answer.expires_in().map(|d| renew_at(now(), d.as_secs() as i64)),
                });
            }
            Err(RequestTokenError::ServerResponse(error)) => {
                let description = error.error_description().map(|d| format!(": {d}")).unwrap_or_default();
                let permanent = !matches!(error.error(), BasicErrorResponseType::Extension(_));
                (format!("the token endpoint {shown} answered `{}`{description}", error.error()), permanent)
            }
            Err(RequestTokenError::Request(error)) => {
                (format!("no answer from the token endpoint {shown}: {error}"), false)
            }
            // The error names the field and what is wrong with it; the body,
            // which may hold a token in a shape not understood, is not shown.
            Err(RequestTokenError::Parse(error, _)) => {
                (format!("the token endpoint {shown} answered something else than a token: {error}"), false)
            }
            Err(RequestTokenError::Other(message)) => (format!("the token endpoint {shown}: {message}"), false),
        };
        let secrets = match sent {
            Some(sent) => &self.secrets.with_secret(sent),
            None => &self.secrets,
        };
        Err(SyncError::Auth { message: secrets.redact(&message), permanent })
    }

    async fn client_credentials(&self) -> Result<TokenSet, SyncError> {
        let basic = self.basic();
        let mut request =
            basic.exchange_client_credentials().add_scopes(self.scopes.iter().map(|s| Scope::new((*s).to_owned())));
        for (name, value) in &self.token_params {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        let answer = request.request_async(&TokenEndpoint(&self.http)).await;
        self.token_set(answer, None, None)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, SyncError> {
        let basic = self.basic();
        let token = RefreshToken::new(refresh_token.to_owned());
        let mut request = basic.exchange_refresh_token(&token);
        for (name, value) in &self.refresh_params {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        let answer = request.request_async(&TokenEndpoint(&self.http)).await;
        self.token_set(answer, Some(refresh_token), Some(refresh_token))
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
            .add_scopes(self.scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge);
        for (name, value) in &self.authorize_params {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        let (url, state) = request.url();
        Ok(Authorization { url, state: state.secret().clone(), verifier: verifier.secret().clone() })
    }

    /// Exchanges an authorization code (with its PKCE verifier and the exact
    /// redirect URI of the authorization) for tokens.
    pub async fn exchange(&self, code: &str, verifier: &str, redirect: &Url) -> Result<TokenSet, SyncError> {
        let basic = self.basic().set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
        let mut request = basic
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        for (name, value) in &self.token_params {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        let answer = request.request_async(&TokenEndpoint(&self.http)).await;
        self.token_set(answer, None, Some(code))
    }
}

/// The Authorization header's pair as the OAuth client sends it (RFC 6749
/// section 2.3.1: id and secret form-encoded, then base64): a token endpoint
/// that echoes the header must not show it.
fn basic_pair(client_id: &str, client_secret: &str) -> String {
    let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", encode(client_id), encode(client_secret)),
    )
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
        let refresh_token = match (&tokens.refresh_token, self.client.refresh_tokens) {
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
        let new = self.client.refresh(&refresh_token).await.map_err(|error| match error {
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
