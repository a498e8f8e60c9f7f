//! One sync of one connection, and the error policy: the connector's users
//! are staged page by page and applied only when the sync is complete; HTTP
//! 400–404 disables the connection and notifies admins; anything else is
//! recorded and retried at the next scheduled sync.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tib_support::oauth::{ClientCredentials, OAuthClient, Refreshing, TokenProvider};
use tib_support::record::DropReason;
use tib_support::spec::Auth;
use tib_support::{CredentialValues, PageUsers, SyncError, SyncOptions};

use crate::notify::{Kind, Notifier};
use crate::schedule::Clock;
use crate::store::{Applied, Connection, HoldPolicy, Outcome, RunTotals, Store, UserRow};
use crate::vault::Vault;

/// A lease outlives a page by far; it is renewed at every page.
const LEASE_SECS: i64 = 15 * 60;

/// Everything a sync needs, shared by every sync of the process.
pub struct Engine {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub client: tib_support::Client,
    pub notifier: Notifier,
    pub hold: HoldPolicy,
    pub options: SyncOptions,
    /// Admins are told when a connection's syncs fail this many times in a row.
    pub notify_after_failures: u32,
    pub clock: Arc<dyn Clock>,
    /// This process, as leases name it: `host:pid`.
    pub owner: String,
    /// Client credentials tokens, kept across syncs until shortly before they
    /// expire; keyed by connection and its sealed credentials, so connecting
    /// again starts afresh.
    pub client_tokens: Mutex<ClientTokens>,
}

/// Client credentials providers by connection id and sealed credentials.
pub type ClientTokens = HashMap<(i64, Vec<u8>), Arc<ClientCredentials>>;

/// How a sync ended.
#[derive(Debug, PartialEq)]
pub enum Ended {
    Applied {
        pages: u32,
        users: u64,
        dropped: u64,
        added: i64,
        updated: i64,
        deleted: i64,
        replaced: bool,
    },
    Held {
        would_delete: i64,
        of: i64,
    },
    /// Recorded; retried at the next scheduled sync.
    Failed {
        error: String,
    },
    /// The API refused the credentials or configuration: disabled, admins notified.
    Disabled {
        error: String,
    },
    /// Another sync of this connection is under way.
    Busy,
}

/// Pages and users so far, for a progress bar.
pub type Progress<'a> = &'a mut (dyn FnMut(u32, u64) + Send);

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned()
}

/// This process as a lease owner.
pub fn process_owner() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

/// Whether the process that owns a lease still runs. Only a process on this
/// host can be checked; another host's is assumed alive until its lease expires.
pub fn owner_alive(owner: &str) -> bool {
    let Some((host, pid)) = owner.rsplit_once(':') else { return false };
    if host != hostname() {
        return true;
    }
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// A connection's credentials, opened, with whether each is secret as its spec says.
pub fn credentials(
    vault: &Vault,
    connection: &Connection,
    spec: &tib_support::Spec,
) -> Result<CredentialValues, String> {
    let name = connection.name();
    let values = vault.open_sealed(&connection.sealed_credentials, &name)?;
    if values.len() != spec.credentials.len() {
        return Err(format!(
            "the {} spec now asks for other credentials than were given at connect time; connect {name} again",
            connection.integration
        ));
    }
    Ok(CredentialValues::new(values.into_iter().zip(spec.credentials.iter().map(|c| c.secret)).collect()))
}

/// Dropped users grouped by kind of reason, as runs record them.
fn reason_kind(reason: &DropReason) -> &'static str {
    match reason {
        DropReason::NotAnObject => "not a JSON object",
        DropReason::MissingId => "no external id",
        DropReason::InvalidId(_) => "invalid external id",
        DropReason::MissingEmail => "no email",
        DropReason::InvalidEmail(_) => "invalid email",
    }
}

impl Engine {
    pub async fn sync(&self, connection: &Connection, progress: Progress<'_>) -> Result<Ended, String> {
        let store = self.store.as_ref();
        let name = connection.name();
        let now = self.clock.now();
        if !store.try_lease(connection.id, &self.owner, now + LEASE_SECS, now).map_err(|e| e.to_string())? {
            return Ok(Ended::Busy);
        }
        let ended = self.leased(connection, &name, progress).await;
        if let Err(error) = store.release(connection.id, &self.owner) {
            tracing::error!(%error, connection = name, "cannot release the connection");
        }
        ended
    }

    async fn leased(&self, connection: &Connection, name: &str, progress: Progress<'_>) -> Result<Ended, String> {
        let store = self.store.as_ref();
        let run_id = store.start_run(connection.id, self.clock.now()).map_err(|e| e.to_string())?;
        let mut totals = RunTotals::default();
        let prepared = self.prepare(connection, name);
        let (connector, credentials, base_url) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => return self.failed(connection, run_id, &totals, error).await,
        };
        let tokens = match self.tokens(connection, name, connector.spec(), &credentials) {
            Ok(tokens) => tokens,
            Err(error) => return self.failed(connection, run_id, &totals, error).await,
        };
        let target = tib_support::Connection {
            credentials: &credentials,
            tokens: tokens.as_deref(),
            base_url: base_url.as_ref(),
        };
        let mut reasons: BTreeMap<&'static str, i64> = BTreeMap::new();
        let mut stage_error = None;
        let (mut pages, mut users) = (0u32, 0u64);
        let mut leased_at = self.clock.now();
        let result = {
            let mut sink = |page: PageUsers| {
                pages = page.number;
                users += page.users.len() as u64;
                for dropped in &page.dropped {
                    *reasons.entry(reason_kind(&dropped.reason)).or_default() += 1;
                }
                let rows: Vec<UserRow> = page.users.iter().map(UserRow::from).collect();
                if stage_error.is_none()
                    && let Err(error) = store.stage(run_id, &rows)
                {
                    stage_error = Some(error.to_string());
                }
                // The lease is renewed once a minute, not at every page: it lasts fifteen.
                let now = self.clock.now();
                if now - leased_at >= 60 {
                    let _ = store.try_lease(connection.id, &self.owner, now + LEASE_SECS, now);
                    leased_at = now;
                }
                progress(pages, users);
            };
            tib_support::sync(&self.client, Arc::new(connector), &target, &self.options, &mut sink).await
        };
        totals.pages = i64::from(pages);
        totals.users_seen = users as i64;
        totals.dropped_reasons = reasons.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
        let summary = match (result, stage_error) {
            (_, Some(error)) => {
                return self.failed(connection, run_id, &totals, format!("cannot stage users: {error}")).await;
            }
            (Err(error), None) => return Ok(self.api_failed(connection, name, run_id, &totals, &error).await),
            (Ok(summary), None) => summary,
        };
        let now = self.clock.now();
        match store.complete_run(run_id, &totals, self.hold, now).map_err(|e| e.to_string())? {
            Applied::Applied { added, updated, deleted } => Ok(Ended::Applied {
                pages: summary.pages,
                users: summary.users,
                dropped: summary.dropped,
                added,
                updated,
                deleted,
                replaced: connection.replace_users,
            }),
            Applied::Held { would_delete, of } => {
                let message = format!(
                    "the sync of {name} would mark {would_delete} of {of} users deleted, more than the policy allows; \
                     the stored users are unchanged. If that is right, run `tib approve {} {}`",
                    connection.integration, connection.account
                );
                self.notifier.notify(store, name, Kind::Held, &message, now).await;
                Ok(Ended::Held { would_delete, of })
            }
        }
    }

    /// The connector, credentials and base URL of a connection.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        connection: &Connection,
        name: &str,
    ) -> Result<(&'static dyn tib_support::Connector, CredentialValues, Option<url::Url>), String> {
        let connector = tib_connectors::connector(&connection.integration)
            .ok_or_else(|| format!("the integration `{}` is not compiled into this runtime", connection.integration))?;
        let credentials = credentials(&self.vault, connection, connector.spec())?;
        let base_url = connection
            .base_url
            .as_deref()
            .map(|u| url::Url::parse(u).map_err(|e| format!("the base URL `{u}` of {name} is not valid: {e}")))
            .transpose()?;
        Ok((connector, credentials, base_url))
    }

    /// Where an OAuth connection's bearer token comes from.
    fn tokens(
        &self,
        connection: &Connection,
        name: &str,
        spec: &'static tib_support::Spec,
        credentials: &CredentialValues,
    ) -> Result<Option<Arc<dyn TokenProvider>>, String> {
        let client = || {
            let endpoints = crate::oauth::endpoints(connection)?;
            OAuthClient::new(spec, credentials, &endpoints, &self.client).map_err(|e| e.to_string())
        };
        match &spec.auth {
            Auth::OAuthClientCredentials(_) => {
                let key = (connection.id, connection.sealed_credentials.clone());
                let mut cache = self.client_tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let provider = match cache.get(&key) {
                    Some(provider) => provider.clone(),
                    None => {
                        let provider = Arc::new(ClientCredentials::new(client()?));
                        cache.retain(|(id, _), _| *id != connection.id);
                        cache.insert(key, provider.clone());
                        provider
                    }
                };
                Ok(Some(provider))
            }
            Auth::OAuthAuthorizationCode(_) => {
                let Some(sealed) = &connection.sealed_tokens else {
                    return Err(format!("{name} is not authorized yet: complete the link `tib connect` printed"));
                };
                let tokens = crate::oauth::open_tokens(&self.vault, sealed, name)?;
                let (store, vault, id, owner) =
                    (self.store.clone(), self.vault.clone(), connection.id, name.to_owned());
                let persist = Box::new(move |set: &tib_support::oauth::TokenSet| {
                    let sealed = crate::oauth::seal_tokens(&vault, set, &owner)?;
                    store.save_tokens(id, &sealed).map_err(|e| e.to_string())
                });
                Ok(Some(Arc::new(Refreshing::new(client()?, tokens, persist))))
            }
            _ => Ok(None),
        }
    }

    /// A sync that failed before or after the API: recorded (when the store
    /// can still write), and retried at the next scheduled sync.
    async fn failed(
        &self,
        connection: &Connection,
        run_id: i64,
        totals: &RunTotals,
        error: String,
    ) -> Result<Ended, String> {
        if let Err(e) = self.store.fail_run(run_id, totals, &error, self.clock.now()) {
            // A full disk, say: the run stays `running` and is recovered as interrupted later.
            tracing::error!(error = %e, connection = connection.name(), "cannot record the failed sync");
        }
        self.failing(connection, &error).await;
        Ok(Ended::Failed { error })
    }

    /// Tells the admins once a connection's syncs have failed
    /// `notify_after_failures` times in a row: once per streak, not at every failure.
    async fn failing(&self, connection: &Connection, error: &str) {
        let store = self.store.as_ref();
        let streak_to_tell = self.notify_after_failures as usize;
        let runs = match store.runs(connection.id, streak_to_tell as i64 + 1) {
            Ok(runs) => runs,
            Err(e) => {
                tracing::error!(error = %e, connection = connection.name(), "cannot read the runs");
                return;
            }
        };
        let streak =
            runs.iter().take_while(|run| matches!(run.outcome, Outcome::Failed | Outcome::Interrupted)).count();
        if streak != streak_to_tell {
            return;
        }
        let name = connection.name();
        let message = format!(
            "the last {streak} syncs of {name} failed; the last with: {error}. It is still retried at every \
             scheduled sync; `tib status` shows it"
        );
        self.notifier.notify(store, &name, Kind::Failing, &message, self.clock.now()).await;
    }

    /// The error policy for a sync the API or the network failed.
    async fn api_failed(
        &self,
        connection: &Connection,
        name: &str,
        run_id: i64,
        totals: &RunTotals,
        error: &SyncError,
    ) -> Ended {
        let store = self.store.as_ref();
        let now = self.clock.now();
        let text = error.to_string();
        if let Err(e) = store.fail_run(run_id, totals, &text, now) {
            tracing::error!(error = %e, connection = name, "cannot record the failed sync");
        }
        if !error.is_auth_or_config_failure() {
            tracing::warn!(connection = name, error = text, "sync failed; it is retried at the next scheduled sync");
            self.failing(connection, &text).await;
            return Ended::Failed { error: text };
        }
        if let Err(e) = store.set_enabled(connection.id, false, Some(&text)) {
            tracing::error!(error = %e, connection = name, "cannot disable the connection");
        }
        let hint = match error {
            SyncError::Status { status: 401 | 403, .. } => "check the credentials",
            SyncError::Auth { .. } => "check the OAuth client id and secret, and authorize the connection again",
            _ => "check the configuration (base URL, account)",
        };
        let message = format!(
            "{name} is disabled: {text}. {hint}, then `tib connect {} {}` again or `tib enable {} {}`",
            connection.integration, connection.account, connection.integration, connection.account
        );
        self.notifier.notify(store, name, Kind::Disabled, &message, now).await;
        Ended::Disabled { error: text }
    }
}

impl crate::schedule::Runner for Engine {
    async fn run(&self, connection: Connection) {
        let name = connection.name();
        tracing::info!(connection = name, "sync started");
        match self.sync(&connection, &mut |_, _| {}).await {
            Ok(ended) => tracing::info!(connection = name, ?ended, "sync ended"),
            Err(error) => tracing::error!(connection = name, %error, "sync could not run"),
        }
    }
}
