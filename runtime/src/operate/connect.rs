//! Connecting an account, as `tib connect`, the API's `PUT` and the console's
//! dialog do it: the integration, the name and the overrides checked, the
//! credentials sealed, the connection stored (the same account name replaces
//! that account, when the caller says so), and for an OAuth authorization
//! code integration its authorization started.

use tib_support::CredentialValues;
use url::Url;

use super::authorize::Authorization;
use super::{Error, Result, Services};
use crate::access::operator::Actor;
use crate::schedule;
use crate::store::{NewConnection, Upserted};

/// Where a connection's requests go, when not where its spec says.
#[derive(Default)]
pub struct Overrides {
    pub base_url: Option<Url>,
    pub token_url: Option<Url>,
    pub authorize_url: Option<Url>,
}

/// An account to connect.
pub struct NewAccount {
    pub integration: String,
    pub account: String,
    /// Exactly the credentials the integration declares.
    pub values: CredentialValues,
    pub overrides: Overrides,
    /// Seconds between its syncs.
    pub every: i64,
    /// Whether an account of that name already connected is overwritten (otherwise it is a conflict).
    pub replace: bool,
}

/// What connecting did.
pub struct Connected {
    pub upserted: Upserted,
    /// For an authorization code integration: where the user authorizes tib.
    pub authorization: Option<Authorization>,
}

/// Whether connecting asks the API first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trial {
    /// The first page is requested with the credentials; a refusal saves nothing. The console's
    /// way: the operator is there to mend them.
    Tried,
    /// Saved as given; the first sync finds out. The CLI's and the API's way unless asked to try
    /// first (`--try-first`, `try_first=true`): their callers may connect an account before its API
    /// is up.
    Untried,
}

impl Trial {
    /// Tried when the caller asks for it (`--try-first`, `try_first=true`), otherwise saved as given.
    pub fn asked(try_first: bool) -> Trial {
        if try_first { Trial::Tried } else { Trial::Untried }
    }
}

/// The longest account name: a name, not a document.
const MAX_ACCOUNT_LEN: usize = 200;

impl Services {
    /// Asks the API for the first page with `new`'s credentials, as its first sync would, and saves
    /// nothing: an API that refuses them, or cannot be reached, is `Invalid` with its message and
    /// what to do. An authorization code account is not asked: a person authorizes it first.
    async fn try_credentials(&self, new: &NewAccount) -> Result<()> {
        use tib_support::oauth::{ClientCredentials, Endpoints, OAuthClient};
        let connector = self.connector(&new.integration)?;
        let spec = connector.spec();
        let tokens: Option<ClientCredentials> = match spec.auth {
            tib_support::spec::Auth::OAuthAuthorizationCode(_) => return Ok(()),
            tib_support::spec::Auth::OAuthClientCredentials(_) => {
                let endpoints = Endpoints { token_url: new.overrides.token_url.clone(), authorize_url: None };
                let client = OAuthClient::new(spec, &new.values, &endpoints, &self.client)
                    .map_err(|e| Error::invalid(new.values.redact(&e.to_string())))?;
                Some(ClientCredentials::new(client))
            }
            _ => None,
        };
        let connection = tib_support::Connection {
            credentials: &new.values,
            tokens: tokens.as_ref().map(|t| t as &dyn tib_support::oauth::TokenProvider),
            base_url: new.overrides.base_url.as_ref(),
        };
        // A person waits for the answer: retry less and sooner than a scheduled sync.
        let retry = tib_support::RetryPolicy {
            max_retries: 1,
            base_delay: std::time::Duration::from_millis(250),
            max_delay: std::time::Duration::from_secs(5),
        };
        let probe = tib_support::probe(&self.client, connector.as_ref(), &connection, &retry)
            .await
            .map_err(|e| Error::invalid(new.values.redact(&format!("the request could not be made: {e}"))))?;
        match probe.answer {
            Ok(_) => Ok(()),
            Err(error) => {
                let said = probe.secrets.redact(&error.to_string());
                Err(Error::invalid(format!("{} refused: {said}; {}", spec.app, crate::sync::hint(&error))))
            }
        }
    }

    /// Connects `new` for `by` (an admin): refused with nothing saved when it cannot be. Its
    /// credentials are first tried on the API when `first` says so ([`Services::try_credentials`]).
    pub async fn connect(&self, by: &Actor, new: NewAccount, first: Trial) -> Result<Connected> {
        let (i, a) = (new.integration.clone(), new.account.clone());
        // Read once: it names the action in the audit log and decides whether connecting overwrites.
        let exists = self.in_store(move |store| store.connection(&i, &a)).await?.is_some();
        let verb = if exists { "connect again" } else { "connect" };
        let target = format!("{}/{}", new.integration, new.account);
        self.change(by, verb, &target, self.connect_now(new, exists, first)).await
    }

    async fn connect_now(&self, new: NewAccount, exists: bool, first: Trial) -> Result<Connected> {
        let connector = self.connector(&new.integration)?;
        check(&new)?;
        let name = format!("{}/{}", new.integration, new.account);
        if exists && !new.replace {
            return Err(Error::conflict(format!(
                "{name} is already connected: connecting again overwrites its credentials and its next sync \
                 replaces its users"
            )));
        }
        if first == Trial::Tried {
            self.try_credentials(&new).await?;
        }
        let vault = self.sealing()?;
        let sealed = vault.seal(new.values.values(), &name).map_err(Error::failed)?;
        let spec = connector.spec();
        let authorization_code = matches!(spec.auth, tib_support::spec::Auth::OAuthAuthorizationCode(_));
        let now = self.clock.now();
        let NewAccount { integration, account, values, overrides, every, .. } = new;
        let (i, a) = (integration.clone(), account.clone());
        let (upserted, connection) = self
            .in_store(move |store| {
                let upserted = store.upsert_connection(&NewConnection {
                    integration: &i,
                    account: &a,
                    sealed_credentials: &sealed,
                    base_url: overrides.base_url.as_ref().map(Url::as_str),
                    interval_secs: every,
                    next_sync_at: schedule::first_sync(now, &name),
                    token_url: overrides.token_url.as_ref().map(Url::as_str),
                    authorize_url: overrides.authorize_url.as_ref().map(Url::as_str),
                    waiting_reason: authorization_code.then_some(crate::oauth::WAITING),
                })?;
                Ok((upserted, store.connection(&i, &a)?))
            })
            .await?;
        let authorization = if authorization_code {
            let connection =
                connection.ok_or_else(|| Error::conflict(format!("{integration}/{account} was stored and is gone")))?;
            Some(self.start_authorization(&connection, spec, &values).await?)
        } else {
            None
        };
        Ok(Connected { upserted, authorization })
    }
}

/// What can be checked before anything is stored: the name and the overrides.
fn check(new: &NewAccount) -> Result<()> {
    if new.account.trim().is_empty() {
        return Err(Error::invalid("the account name is empty"));
    }
    if new.account.chars().any(char::is_control) || new.account.len() > MAX_ACCOUNT_LEN {
        return Err(Error::invalid(format!(
            "the account name must be printable text of at most {MAX_ACCOUNT_LEN} bytes (no control characters)"
        )));
    }
    if let Some(url) = &new.overrides.base_url {
        tib_support::network::check_base_override("the base URL", url).map_err(Error::invalid)?;
    }
    // In words: every edge shows the refusal, the console's pages among them.
    for (what, url) in
        [("the token URL", &new.overrides.token_url), ("the authorize URL", &new.overrides.authorize_url)]
    {
        if let Some(url) = url {
            tib_support::network::check_override(what, url).map_err(Error::invalid)?;
        }
    }
    Ok(())
}

/// What a connected account was connected with, secrets left out: what connecting it again starts from.
pub struct Shown {
    /// The non-secret credentials, by name, in the spec's order.
    pub values: Vec<(String, String)>,
    pub base_url: Option<String>,
    pub token_url: Option<String>,
    pub authorize_url: Option<String>,
    /// Seconds between its syncs.
    pub every: i64,
}

impl Services {
    /// The account's non-secret credentials and its URLs, for connecting it again; its secrets are
    /// never read out.
    pub async fn connected_with(&self, integration: &str, account: &str) -> Result<Shown> {
        let connection = self.find(integration, account).await?;
        let spec = self.connector(integration)?.spec();
        let vault = self.vault().map_err(Error::failed)?;
        let values = vault.credentials(&connection, spec).map_err(Error::failed)?;
        let values = spec
            .credentials
            .iter()
            .enumerate()
            .filter(|(_, credential)| !credential.secret)
            .map(|(index, credential)| (credential.name.to_owned(), values.get(index).to_owned()))
            .collect();
        Ok(Shown {
            values,
            base_url: connection.base_url,
            token_url: connection.token_url,
            authorize_url: connection.authorize_url,
            every: connection.interval_secs,
        })
    }
}
