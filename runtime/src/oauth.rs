//! OAuth 2.0 in the runtime's store: where a connection's OAuth endpoints
//! are, and its tokens sealed at rest. Starting and completing an
//! authorization are operations (the `operate` module); the sync engine takes
//! the tokens from here.

use tib_support::oauth::{Endpoints, TokenSet};
use url::Url;

use crate::store::Connection;
use crate::vault::Vault;

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

pub fn seal_tokens(vault: &Vault, tokens: &TokenSet, connection: &str) -> Result<Vec<u8>, String> {
    let json = serde_json::to_string(tokens).map_err(|e| format!("cannot encode the tokens: {e}"))?;
    vault.seal_text(&json, &tokens_binding(connection))
}

pub fn open_tokens(vault: &Vault, sealed: &[u8], connection: &str) -> Result<TokenSet, String> {
    let json = vault.open_text(sealed, &tokens_binding(connection))?;
    serde_json::from_str(&json).map_err(|e| format!("the stored tokens of {connection} cannot be read: {e}"))
}
