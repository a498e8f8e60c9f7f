//! OAuth 2.0 in the runtime: starting an authorization at `connect`, the
//! callback that `serve` answers at the production redirect URL, and the
//! token provider each sync of an OAuth connection uses.
//!
//! A `state` is single use, expires after ten minutes, and is bound to one
//! integration and account; each integration has its own callback path, and
//! a state presented on another integration's path is refused without
//! exchanging the code.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use tib_support::oauth::{Endpoints, OAuthClient, TokenSet, production_redirect_url};
use url::Url;

use crate::schedule::Clock;
use crate::store::{Connection, PendingAuthorization, Store, off_workers};
use crate::vault::Vault;

/// How long an authorization link stays valid.
pub const AUTHORIZATION_SECS: i64 = 10 * 60;

/// The reason an authorization-code connection waits before its first sync.
pub const WAITING: &str =
    "waiting for the OAuth authorization: open the link `tib connect` printed, or Authorize on its console page";

/// What a connection's OAuth endpoints are: the spec's, or the connection's overrides.
pub fn endpoints(connection: &Connection) -> Result<Endpoints, String> {
    let parse = |url: &Option<String>, what: &str| {
        url.as_deref().map(|u| Url::parse(u).map_err(|e| format!("the {what} `{u}` is not valid: {e}"))).transpose()
    };
    Ok(Endpoints {
        token_url: parse(&connection.token_url, "token URL")?,
        authorize_url: parse(&connection.authorize_url, "authorize URL")?,
    })
}

/// What seals a connection's tokens: bound to the connection, apart from its credentials.
pub fn tokens_binding(connection: &str) -> String {
    format!("{connection}#tokens")
}

/// What seals an authorization's PKCE verifier: its state.
fn verifier_binding(state: &str) -> String {
    format!("authorization:{state}")
}

pub fn seal_tokens(vault: &Vault, tokens: &TokenSet, connection: &str) -> Result<Vec<u8>, String> {
    let json = serde_json::to_string(tokens).map_err(|e| format!("cannot encode the tokens: {e}"))?;
    vault.seal_text(&json, &tokens_binding(connection))
}

pub fn open_tokens(vault: &Vault, sealed: &[u8], connection: &str) -> Result<TokenSet, String> {
    let json = vault.open_text(sealed, &tokens_binding(connection))?;
    serde_json::from_str(&json).map_err(|e| format!("the stored tokens of {connection} cannot be read: {e}"))
}

/// An authorization started: where the user authorizes tib.
pub struct Authorization {
    /// Works once, for ten minutes.
    pub url: Url,
    /// Whether the provider issues refresh tokens (without, the connection must be authorized again
    /// when the access token expires).
    pub refresh_tokens: bool,
}

/// Starts an authorization for an authorization code connection with its
/// credentials: the URL to open, with its state and PKCE verifier kept
/// (sealed) until the provider redirects back to the production redirect URL.
pub fn authorize(
    setting: &crate::connect::Setting<'_>,
    connection: &Connection,
    spec: &'static tib_support::Spec,
    credentials: &tib_support::CredentialValues,
) -> Result<Authorization, String> {
    let client =
        OAuthClient::new(spec, credentials, &endpoints(connection)?, setting.client).map_err(|e| e.to_string())?;
    let redirect = production_redirect_url(setting.public_url, &connection.integration);
    let authorization = client.authorize(&redirect).map_err(|e| e.to_string())?;
    let sealed_verifier = setting.vault.seal_text(&authorization.verifier, &verifier_binding(&authorization.state))?;
    setting
        .store
        .add_authorization(&PendingAuthorization {
            state: authorization.state,
            integration: connection.integration.clone(),
            account: connection.account.clone(),
            sealed_verifier,
            redirect_uri: redirect.to_string(),
            expires_at: setting.now + AUTHORIZATION_SECS,
        })
        .map_err(|e| e.to_string())?;
    Ok(Authorization { url: authorization.url, refresh_tokens: client.refresh_tokens() })
}

/// What the callback needs.
pub struct Callback {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub clock: Arc<dyn Clock>,
    /// The HTTP client the code exchange goes through (the network policy, the answer bound).
    pub client: tib_support::Client,
}

/// The routes `serve` answers.
pub fn router(callback: Arc<Callback>) -> axum::Router {
    axum::Router::new().route("/oauth/callback/{integration}", axum::routing::get(redirected)).with_state(callback)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page the provider's redirect lands on: a message, and maybe a link on.
fn page(status: StatusCode, message: &str, link: Option<(&str, &str)>) -> (StatusCode, Html<String>) {
    let link = link.map(|(href, text)| format!("<p><a href=\"{}\">{}</a></p>", escape(href), escape(text)));
    let html = format!("<!doctype html><title>tib</title><p>{}</p>{}\n", escape(message), link.unwrap_or_default());
    (status, Html(html))
}

async fn redirected(
    State(callback): State<Arc<Callback>>,
    Path(integration): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Html<String>) {
    match complete(&callback, &integration, &query).await {
        Ok(connection) => {
            let name = connection.name();
            tracing::info!(connection = name, "OAuth authorization completed");
            let console = format!(
                "/connections/{}/{}",
                crate::api::percent_encode(&connection.integration),
                crate::api::percent_encode(&connection.account)
            );
            let message = format!("{name} is connected: its first sync starts now. You can close this page.");
            page(StatusCode::OK, &message, Some((&console, "Open it in the console")))
        }
        Err((status, message)) => {
            tracing::warn!(integration, status = status.as_u16(), "OAuth callback refused: {message}");
            page(status, &message, None)
        }
    }
}

/// Checks the redirect against its pending authorization, exchanges the
/// code and stores the tokens; the connection, or why not.
async fn complete(
    callback: &Callback,
    integration: &str,
    query: &HashMap<String, String>,
) -> Result<Connection, (StatusCode, String)> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message);
    let internal = |message: String| (StatusCode::INTERNAL_SERVER_ERROR, message);
    let state = query.get("state").ok_or_else(|| bad("the redirect has no state".to_owned()))?;
    let now = callback.clock.now();
    // The store's work off the async workers, as everywhere in `serve`.
    let taken = state.clone();
    let pending = off_workers(&callback.store, move |s| s.take_authorization(&taken, now))
        .await
        .map_err(|e| internal(e.to_string()))?
        .ok_or_else(|| bad("unknown or already used state: start again with `tib connect`".to_owned()))?;
    if pending.integration != integration {
        return Err(bad(format!("this authorization belongs to another integration than {integration}")));
    }
    if pending.expires_at < now {
        return Err(bad("the authorization link has expired: start again with `tib connect`".to_owned()));
    }
    if let Some(error) = query.get("error") {
        let description = query.get("error_description").map(|d| format!(": {d}")).unwrap_or_default();
        return Err(bad(format!("the provider refused the authorization: {error}{description}")));
    }
    let code = query.get("code").ok_or_else(|| bad("the redirect has no code".to_owned()))?;
    let (found, account) = (pending.integration.clone(), pending.account.clone());
    let connection = off_workers(&callback.store, move |s| s.connection(&found, &account))
        .await
        .map_err(|e| internal(e.to_string()))?
        .ok_or_else(|| bad("the connection was removed meanwhile".to_owned()))?;
    let name = connection.name();
    let connector =
        crate::integrations::connector(integration).ok_or_else(|| bad(format!("no integration `{integration}`")))?;
    let spec = connector.spec();
    let credentials = crate::sync::credentials(&callback.vault, &connection, spec).map_err(internal)?;
    let client = OAuthClient::new(spec, &credentials, &endpoints(&connection).map_err(internal)?, &callback.client)
        .map_err(|e| internal(e.to_string()))?;
    let verifier =
        callback.vault.open_text(&pending.sealed_verifier, &verifier_binding(&pending.state)).map_err(internal)?;
    let redirect = Url::parse(&pending.redirect_uri).map_err(|e| internal(e.to_string()))?;
    let tokens = client.exchange(code, &verifier, &redirect).await.map_err(|e| bad(e.to_string()))?;
    let sealed = seal_tokens(&callback.vault, &tokens, &name).map_err(internal)?;
    let id = connection.id;
    off_workers(&callback.store, move |s| {
        s.save_tokens(id, &sealed)?;
        s.set_enabled(id, true, None)?;
        s.set_next_sync(id, now)
    })
    .await
    .map_err(|e| internal(e.to_string()))?;
    if tokens.refresh_token.is_none() {
        tracing::warn!(
            connection = name,
            "the provider gave no refresh token: when the access token expires, authorize again"
        );
    }
    Ok(connection)
}
