//! Connecting an account, as `tib connect` and the API's `PUT` do it: the
//! integration and overrides checked, the credentials sealed, the connection
//! stored (the same account name replaces that account), and for OAuth
//! authorization code integrations the authorization started.

use tib_support::CredentialValues;
use url::Url;

use crate::schedule;
use crate::store::{NewConnection, Store, Time, Upserted};
use crate::vault::Vault;

/// Where a connection's requests go, when not where its spec says.
#[derive(Default)]
pub struct Overrides {
    pub base_url: Option<Url>,
    pub token_url: Option<Url>,
    pub authorize_url: Option<Url>,
}

/// What connecting did.
pub struct Connected {
    pub upserted: Upserted,
    /// For an authorization code integration: where the user authorizes tib.
    pub authorization: Option<crate::oauth::Authorization>,
}

/// The longest account name: a name, not a document.
const MAX_ACCOUNT_LEN: usize = 200;

/// Everything `connect` needs besides the account itself.
pub struct Setting<'a> {
    pub store: &'a dyn Store,
    pub vault: &'a Vault,
    pub client: &'a tib_support::Client,
    pub public_url: &'a Url,
    pub now: Time,
}

/// The integration with this id, compiled or interpreted, or an error naming those there are.
pub fn connector(integration: &str) -> Result<std::sync::Arc<dyn tib_support::Connector>, String> {
    crate::integrations::connector(integration).ok_or_else(|| {
        let known: Vec<String> = crate::integrations::all().into_iter().map(|i| i.id).collect();
        format!("no integration `{integration}`; this runtime has {}", known.join(", "))
    })
}

pub fn connect(
    setting: &Setting<'_>,
    integration: &str,
    account: &str,
    values: &CredentialValues,
    overrides: &Overrides,
    every: i64,
) -> Result<Connected, String> {
    let connector = connector(integration)?;
    if account.trim().is_empty() {
        return Err("the account name is empty".to_owned());
    }
    if account.chars().any(char::is_control) || account.len() > MAX_ACCOUNT_LEN {
        return Err(format!(
            "the account name must be printable text of at most {MAX_ACCOUNT_LEN} bytes (no control characters)"
        ));
    }
    if let Some(url) = &overrides.base_url {
        tib_support::network::check_base_override(url)?;
    }
    for (flag, url) in [("--token-url", &overrides.token_url), ("--authorize-url", &overrides.authorize_url)] {
        if let Some(url) = url {
            tib_support::network::check_override(flag, url)?;
        }
    }
    let name = format!("{integration}/{account}");
    let sealed = setting.vault.seal(values.values(), &name)?;
    let spec = connector.spec();
    let authorization_code = matches!(spec.auth, tib_support::spec::Auth::OAuthAuthorizationCode(_));
    let upserted = setting
        .store
        .upsert_connection(&NewConnection {
            integration,
            account,
            sealed_credentials: &sealed,
            base_url: overrides.base_url.as_ref().map(Url::as_str),
            interval_secs: every,
            next_sync_at: schedule::first_sync(setting.now, &name),
            token_url: overrides.token_url.as_ref().map(Url::as_str),
            authorize_url: overrides.authorize_url.as_ref().map(Url::as_str),
            waiting_reason: authorization_code.then_some(crate::oauth::WAITING),
        })
        .map_err(|e| e.to_string())?;
    let authorization = if authorization_code {
        let connection = setting
            .store
            .connection(integration, account)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{name} was stored and is gone"))?;
        Some(crate::oauth::authorize(setting, &connection, spec, values)?)
    } else {
        None
    };
    Ok(Connected { upserted, authorization })
}
