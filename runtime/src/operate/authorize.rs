//! OAuth 2.0 authorization code: starting an authorization (at connect, or
//! again for an account saved before) and completing it when the provider
//! redirects back to this server.
//!
//! A `state` is single use, expires after ten minutes, and is bound to one
//! integration and account; each integration has its own callback path, and
//! a state presented on another integration's path is refused without
//! exchanging the code.

use std::collections::HashMap;

use tib_support::oauth::{OAuthClient, production_redirect_url};
use tib_support::spec::Auth;
use url::Url;

use super::{Error, Result, Services};
use crate::access::operator::Actor;
use crate::oauth::{endpoints, seal_tokens};
use crate::store::{Connection, PendingAuthorization};

/// How long an authorization link stays valid.
pub const AUTHORIZATION_SECS: i64 = 10 * 60;

/// An authorization started: where the user authorizes tib.
pub struct Authorization {
    /// Works once, for ten minutes.
    pub url: Url,
    /// Whether the provider issues refresh tokens (without, the connection must be authorized again
    /// when the access token expires).
    pub refresh_tokens: bool,
}

/// What seals an authorization's PKCE verifier: its state.
fn verifier_binding(state: &str) -> String {
    format!("authorization:{state}")
}

impl Services {
    /// Starts an authorization for an authorization code connection with its
    /// credentials: the URL to open, with its state and PKCE verifier kept
    /// (sealed) until the provider redirects back to the production redirect URL.
    pub(super) async fn start_authorization(
        &self,
        connection: &Connection,
        spec: &'static tib_support::Spec,
        credentials: &tib_support::CredentialValues,
    ) -> Result<Authorization> {
        let endpoints = endpoints(connection).map_err(Error::invalid)?;
        let client =
            OAuthClient::new(spec, credentials, &endpoints, &self.client).map_err(|e| Error::invalid(e.to_string()))?;
        let redirect = production_redirect_url(&self.public_url, &connection.integration);
        let authorization = client.authorize(&redirect).map_err(|e| Error::invalid(e.to_string()))?;
        let sealed_verifier = self
            .sealing()?
            .seal_text(&authorization.verifier, &verifier_binding(&authorization.state))
            .map_err(Error::failed)?;
        let pending = PendingAuthorization {
            state: authorization.state,
            integration: connection.integration.clone(),
            account: connection.account.clone(),
            sealed_verifier,
            redirect_uri: redirect.to_string(),
            expires_at: self.clock.now() + AUTHORIZATION_SECS,
        };
        self.in_store(move |store| store.add_authorization(&pending)).await?;
        Ok(Authorization { url: authorization.url, refresh_tokens: client.refresh_tokens() })
    }

    /// A new authorization for an account saved before (waiting, or whose tokens the provider revoked).
    pub async fn authorize_again(&self, by: &Actor, integration: &str, account: &str) -> Result<Authorization> {
        self.change(by, "authorize again", &format!("{integration}/{account}"), async {
            let connection = self.find(integration, account).await?;
            let spec = self.connector(integration)?.spec();
            if !matches!(spec.auth, Auth::OAuthAuthorizationCode(_)) {
                return Err(Error::conflict("only OAuth authorization code accounts are authorized"));
            }
            let credentials = self.sealing()?.credentials(&connection, spec).map_err(Error::failed)?;
            self.start_authorization(&connection, spec, &credentials).await
        })
        .await
    }

    /// The provider's redirect to `integration`'s callback: checked against its pending
    /// authorization, the code exchanged and the tokens stored; the connection, now due.
    pub async fn complete_authorization(
        &self,
        integration: &str,
        query: &HashMap<String, String>,
    ) -> Result<Connection> {
        let state = query.get("state").ok_or_else(|| Error::invalid("the redirect has no state"))?;
        let now = self.clock.now();
        let taken = state.clone();
        let pending = self.in_store(move |s| s.take_authorization(&taken, now)).await?.ok_or_else(|| {
            Error::invalid(
                "this authorization is unknown or was used already: authorize the account again from its page",
            )
        })?;
        if pending.integration != integration {
            return Err(Error::invalid(format!(
                "this authorization belongs to another integration than {integration}"
            )));
        }
        if pending.expires_at < now {
            return Err(Error::invalid(
                "the authorization link has expired: authorize the account again from its page",
            ));
        }
        let (found, account) = (pending.integration.clone(), pending.account.clone());
        let connection = self
            .in_store(move |s| s.connection(&found, &account))
            .await?
            .ok_or_else(|| Error::invalid("the connection was removed meanwhile"))?;
        let name = connection.name();
        // The account still waits for authorization: admins are told why, not only the browser that came back.
        let failed = |why: String| async move {
            let message = format!("{name} is still waiting for authorization: {why}; authorize it again from its page");
            self.notifier.notify(&self.store, &name, crate::notify::Kind::AuthorizationFailed, &message, now).await;
            Error::invalid(why)
        };
        if let Some(error) = query.get("error") {
            let description = query.get("error_description").map(|d| format!(": {d}")).unwrap_or_default();
            return Err(failed(format!("the provider refused the authorization: {error}{description}")).await);
        }
        let Some(code) = query.get("code") else {
            return Err(failed("the redirect has no code".to_owned()).await);
        };
        let name = connection.name();
        let spec = self.connector(integration)?.spec();
        let vault = self.sealing()?;
        let credentials = vault.credentials(&connection, spec).map_err(Error::failed)?;
        let endpoints = endpoints(&connection).map_err(Error::failed)?;
        let client =
            OAuthClient::new(spec, &credentials, &endpoints, &self.client).map_err(|e| Error::failed(e.to_string()))?;
        let verifier =
            vault.open_text(&pending.sealed_verifier, &verifier_binding(&pending.state)).map_err(Error::failed)?;
        let redirect = Url::parse(&pending.redirect_uri).map_err(|e| Error::failed(e.to_string()))?;
        let tokens = match client.exchange(code, &verifier, &redirect).await {
            Ok(tokens) => tokens,
            Err(error) => return Err(failed(format!("the code could not be exchanged for a token: {error}")).await),
        };
        let sealed = seal_tokens(&vault, &tokens, &name).map_err(Error::failed)?;
        let id = connection.id;
        self.in_store(move |s| {
            s.save_tokens(id, &sealed)?;
            s.set_enabled(id, true, None)?;
            s.set_next_sync(id, now)
        })
        .await?;
        if tokens.refresh_token.is_none() {
            tracing::warn!(
                connection = name,
                "the provider gave no refresh token: when the access token expires, authorize again"
            );
        }
        Ok(connection)
    }
}
