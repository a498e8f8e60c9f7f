//! One sync of one connection, and the error policy: the connector's users
//! are compared with the stored ones as pages arrive, the new and changed
//! ones staged, and all applied only when the sync is complete; HTTP 400–404
//! disables the connection and notifies admins; anything else is recorded and
//! retried at the next scheduled sync. Store work runs on blocking threads,
//! never on the async workers that fetch every connection's pages.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tib_support::oauth::{ClientCredentials, OAuthClient, Refreshing, TokenProvider};
use tib_support::record::DropReason;
use tib_support::spec::Auth;
use tib_support::{CredentialValues, PageUsers, SyncError, SyncOptions};

use crate::clock::Clock;
use crate::notify::{Kind, Notifier};
use crate::store::{Applied, ApplyPolicy, Connection, Outcome, RunTotals, Started, Store, StoreError, off_workers};
use crate::vault::Vault;

/// Everything a sync needs, shared by every sync of the process.
pub struct Engine {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub client: tib_support::Client,
    pub notifier: Arc<Notifier>,
    /// The hold, and how long users' history is kept.
    pub apply: ApplyPolicy,
    pub options: SyncOptions,
    /// Admins are told when a connection's syncs fail this many times in a row.
    pub notify_after_failures: u32,
    pub clock: Arc<dyn Clock>,
    /// This process, as leases name it: `host:pid`.
    pub owner: String,
    /// How long a lease lasts unless renewed; a sync renews it a third of that apart.
    pub lease_secs: i64,
    /// Client credentials tokens, kept across syncs until shortly before they
    /// expire; keyed by connection and its sealed credentials, so connecting
    /// again starts afresh.
    pub client_tokens: Mutex<ClientTokens>,
    /// Where the scheduler's syncs report their progress, for the console's live view.
    pub live: Arc<crate::live::Syncs>,
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
        /// What to check, as the notification and the disabled reason say it.
        hint: &'static str,
    },
    /// Another sync of this connection is under way.
    Busy,
}

impl Ended {
    /// How the sync ended, in words for an operator (the command line adds what to do next).
    pub fn describe(&self) -> String {
        match self {
            Ended::Applied { pages, users, dropped, added, updated, deleted, .. } => format!(
                "synced {users} users from {pages} pages ({added} new, {updated} updated, {deleted} marked deleted, {dropped} dropped)"
            ),
            Ended::Held { would_delete, of } => format!("held: it would mark {would_delete} of {of} users deleted"),
            Ended::Failed { error } => {
                format!("failed: {} (retried at the next scheduled sync)", tib_support::printable(error))
            }
            Ended::Disabled { error, .. } => format!("disabled: {}", tib_support::printable(error)),
            Ended::Busy => "another sync of it is under way".to_owned(),
        }
    }
}

/// Why a sync stopped before its end: another process took its connection over.
const LOST_LEASE: &str = "this sync lost its lease on the connection: its process stopped, or lost the store, past \
                          the lease, and its run was recorded as interrupted and left to another; it is stopped, \
                          nothing applied";

/// Staged records are handed to the store in batches of about this many
/// bytes (a thousand users of ~250 bytes): one file write per batch, not per page.
const STAGE_BATCH_BYTES: usize = 256 << 10;

/// Pages and users so far, for a progress bar.
pub type Progress<'a> = &'a mut (dyn FnMut(u32, u64) + Send);

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
    /// Syncs a connection now, outside the schedule, under a lease of its own.
    pub async fn sync(&self, connection: &Connection, progress: Progress<'_>) -> Result<Ended, String> {
        let name = connection.name();
        let (until, id, owner) = (self.clock.now().saturating_add(self.lease_secs), connection.id, self.owner.clone());
        let leased = self.store(move |s| s.try_lease(id, &owner, until)).await?;
        if !leased {
            return Ok(Ended::Busy);
        }
        let ended = tokio::select! {
            ended = self.leased(connection, &name, progress) => ended,
            never = self.keep_lease(id) => match never {},
        };
        let owner = self.owner.clone();
        if let Err(error) = self.store(move |s| s.release(id, &owner)).await {
            tracing::error!(%error, connection = name, "cannot release the connection");
        }
        ended
    }

    /// Returns once the run is no longer the connection's running one: its
    /// process stopped (or lost the store) past its lease, and another
    /// recorded it as interrupted. Looked at a third of a lease apart; while
    /// the store cannot be read the sync goes on, and its apply is checked.
    async fn until_lease_lost(&self, connection_id: i64, run_id: i64) {
        let every = std::time::Duration::from_secs((self.lease_secs / 3).max(1) as u64);
        loop {
            tokio::time::sleep(every).await;
            match self.store(move |s| s.last_run(connection_id)).await {
                Ok(Some(run)) if run.id == run_id && run.outcome == Outcome::Running => {}
                Ok(_) => return,
                Err(error) => tracing::warn!(%error, "cannot check that a sync still holds its lease"),
            }
        }
    }

    /// Renews this process's lease on the connection `id` a third of a lease apart, for as long as it is
    /// polled.
    async fn keep_lease(&self, id: i64) -> std::convert::Infallible {
        let every = std::time::Duration::from_secs((self.lease_secs / 3).max(1) as u64);
        loop {
            tokio::time::sleep(every).await;
            let (owner, until) = (self.owner.clone(), self.clock.now().saturating_add(self.lease_secs));
            if let Err(error) = self.store(move |s| s.renew_leases(&owner, &[id], until)).await {
                tracing::error!(%error, "cannot renew the lease of the sync under way");
            }
        }
    }

    /// Store work, off the async workers; its error as text.
    async fn store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        off_workers(&self.store, work).await.map_err(|e| e.to_string())
    }

    async fn leased(&self, connection: &Connection, name: &str, progress: Progress<'_>) -> Result<Ended, String> {
        let (id, now, owner) = (connection.id, self.clock.now(), self.owner.clone());
        let Started { run_id, mut baseline } = self.store(move |s| s.start_run(id, &owner, now)).await?;
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
        let (mut pages, mut users) = (0u32, 0u64);
        let writer = Writer::start(self.store.clone(), run_id);
        let mut batch = Vec::with_capacity(STAGE_BATCH_BYTES + (64 << 10));
        let result = {
            let mut sink = |page: PageUsers| {
                pages = page.number;
                users += page.users.len() as u64;
                for dropped in &page.dropped {
                    *reasons.entry(reason_kind(&dropped.reason)).or_default() += 1;
                    if totals.dropped_users.len() < crate::store::MAX_DROPPED_SHOWN {
                        let reason = tib_support::storable(&dropped.reason.to_string()).into_owned();
                        let external_id =
                            dropped.external_id.as_deref().map(|id| tib_support::storable(id).into_owned());
                        totals.dropped_users.push(crate::store::DroppedUser { external_id, reason });
                    }
                }
                // Unchanged users are only looked up in the baseline: nothing is written for them.
                for user in &page.users {
                    crate::store::staging::stage(user, &mut baseline, &mut batch);
                }
                if batch.len() >= STAGE_BATCH_BYTES {
                    writer.send(std::mem::take(&mut batch));
                }
                progress(pages, users);
            };
            let fetched = tib_support::sync(&self.client, connector, &target, &self.options, &mut sink);
            // A sync whose users cannot be staged (the store is gone) cannot apply: it stops at once.
            tokio::select! {
                result = fetched => Some(result),
                () = self.until_lease_lost(connection.id, run_id) => None,
                () = writer.failed() => None,
            }
        };
        if !batch.is_empty() {
            writer.send(batch);
        }
        let staged = writer.finish().await;
        totals.pages = i64::from(pages);
        totals.users_seen = users as i64;
        totals.dropped_reasons = reasons.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
        let summary = match (result, staged) {
            (_, Err(error)) => return self.failed(connection, run_id, &totals, error).await,
            (None, Ok(())) => {
                tracing::warn!(connection = name, "{LOST_LEASE}");
                return self.failed(connection, run_id, &totals, LOST_LEASE.to_owned()).await;
            }
            (Some(Err(error)), Ok(())) => {
                return Ok(self.api_failed(connection, name, run_id, &totals, &error).await);
            }
            (Some(Ok(summary)), Ok(())) => summary,
        };
        totals.lookups = i64::try_from(summary.lookups).unwrap_or(i64::MAX);
        totals.lookup_ms = i64::try_from(summary.lookup_time.as_millis()).unwrap_or(i64::MAX);
        if summary.unlinked {
            // Right for an account of one page; for a larger one the spec reads the link from the wrong place.
            let warning = "only the first page was read: no page held the link to the next; if the account has \
                           more users, check `from` in the spec's `paginate`";
            tracing::warn!(connection = name, "{warning}");
            totals.warning = Some(warning.to_owned());
        }
        let (now, policy) = (self.clock.now(), self.apply);
        let applied = {
            let (totals, owner) = (totals.clone(), self.owner.clone());
            self.store(move |s| s.complete_run(run_id, &owner, baseline, &totals, policy, now)).await
        };
        match applied {
            Ok(Applied::Applied { added, updated, deleted }) => Ok(Ended::Applied {
                pages: summary.pages,
                users: summary.users,
                dropped: summary.dropped,
                added,
                updated,
                deleted,
                replaced: connection.replace_users,
            }),
            Ok(Applied::Held { would_delete, of }) => {
                let message = format!(
                    "the sync of {name} would mark {would_delete} of {of} users deleted, more than the policy allows; \
                     the stored users are unchanged. If that is right, approve it; if not, discard it"
                );
                self.notifier.notify(&self.store, name, Kind::Held, &message, now).await;
                Ok(Ended::Held { would_delete, of })
            }
            // Recorded as failed, and retried at the next sync: the users stay as they were.
            Err(error) => self.failed(connection, run_id, &totals, error).await,
        }
    }

    /// The connector, credentials and base URL of a connection.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        connection: &Connection,
        name: &str,
    ) -> Result<(Arc<dyn tib_support::Connector>, CredentialValues, Option<url::Url>), String> {
        let connector = crate::integrations::connector(&connection.integration).ok_or_else(|| {
            format!(
                "the integration `{}` is neither compiled into this runtime nor given as a spec (--specs)",
                connection.integration
            )
        })?;
        let credentials = self.vault.credentials(connection, connector.spec())?;
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
                    crate::store::blocking(|| store.save_tokens(id, &sealed)).map_err(|e| e.to_string())
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
        // What an API sent may be in it: kept as every store keeps text.
        let error = tib_support::storable(&error).into_owned();
        let (now, recorded, failure) = (self.clock.now(), totals.clone(), error.clone());
        if let Err(e) = self.store(move |s| s.fail_run(run_id, &recorded, &failure, now)).await {
            // A full disk, say: the run stays `running` and is recovered as interrupted later.
            tracing::error!(error = %e, connection = connection.name(), "cannot record the failed sync");
        }
        self.failing(connection, &error).await;
        Ok(Ended::Failed { error })
    }

    /// Tells the admins once a connection's syncs have failed
    /// `notify_after_failures` times in a row: once per streak, not at every failure.
    async fn failing(&self, connection: &Connection, error: &str) {
        let streak_to_tell = self.notify_after_failures as usize;
        let id = connection.id;
        let runs = match self.store(move |s| s.runs(id, streak_to_tell as i64 + 1)).await {
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
             scheduled sync"
        );
        self.notifier.notify(&self.store, &name, Kind::Failing, &message, self.clock.now()).await;
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
        let now = self.clock.now();
        // The API's answer is in it: kept as every store keeps text.
        let text = tib_support::storable(&error.to_string()).into_owned();
        let (recorded, failure) = (totals.clone(), text.clone());
        if let Err(e) = self.store(move |s| s.fail_run(run_id, &recorded, &failure, now)).await {
            tracing::error!(error = %e, connection = name, "cannot record the failed sync");
        }
        if !error.is_auth_or_config_failure() {
            tracing::warn!(connection = name, error = text, "sync failed; it is retried at the next scheduled sync");
            self.failing(connection, &text).await;
            return Ended::Failed { error: text };
        }
        let hint = hint(error);
        // The reason carries the hint: the console and `tib status` show it beside the API's message.
        let (id, reason) = (connection.id, format!("{text}; {hint}"));
        if let Err(e) = self.store(move |s| s.set_enabled(id, false, Some(&reason))).await {
            tracing::error!(error = %e, connection = name, "cannot disable the connection");
        }
        let message = format!("{name} is disabled: {text}. {hint}, then connect it again or enable it");
        self.notifier.notify(&self.store, name, Kind::Disabled, &message, now).await;
        Ended::Disabled { error: text, hint }
    }
}

/// What an operator can do about an API's refusal, in words.
pub(crate) fn hint(error: &SyncError) -> &'static str {
    match error {
        SyncError::Status { status: 401 | 403, .. } => "check the credentials",
        SyncError::Auth { .. } => "check the OAuth client id and secret, and authorize the connection again",
        _ => "check the configuration (base URL, account)",
    }
}

/// The scheduler's syncs: it claimed each connection's lease, and renews it.
impl crate::schedule::Runner for Engine {
    async fn run(&self, connection: Connection) {
        let name = connection.name();
        tracing::info!(connection = name, "sync started");
        let tracker = self.live.start(connection.id, self.clock.now());
        match self.leased(&connection, &name, &mut |pages, users| tracker.progress(pages, users)).await {
            Ok(ended) => {
                tracing::info!(connection = name, ?ended, "sync ended");
                tracker.ended(ended.describe());
            }
            Err(error) => {
                tracing::error!(connection = name, %error, "sync could not run");
                tracker.ended(format!("could not run: {}", tib_support::printable(&error)));
            }
        }
    }
}

/// Stages a run's records on a blocking thread, so that pages never wait
/// for the disk or the store's lock. At most
/// [`Writer::QUEUE`] batches wait for it: memory stays bounded when the disk
/// is slower than the API.
struct Writer {
    sender: std::sync::mpsc::SyncSender<Vec<u8>>,
    done: tokio::task::JoinHandle<Result<(), String>>,
    /// Set when a batch could not be staged.
    failed: tokio::sync::watch::Receiver<bool>,
}

impl Writer {
    const QUEUE: usize = 4;

    fn start(store: Arc<dyn Store>, run_id: i64) -> Writer {
        let (sender, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(Self::QUEUE);
        let (tell, failed) = tokio::sync::watch::channel(false);
        let done = tokio::task::spawn_blocking(move || {
            let mut failed = None;
            for records in received {
                // After a failure the rest is drained unwritten: the run fails as a whole.
                if failed.is_some() {
                    continue;
                }
                // The store's error says what it could not do ("cannot stage users: ...").
                if let Err(error) = store.stage(run_id, &records) {
                    failed = Some(error.to_string());
                    let _ = tell.send(true);
                }
            }
            failed.map_or(Ok(()), Err)
        });
        Writer { sender, done, failed }
    }

    /// Completes once a batch could not be staged; never, while all are.
    async fn failed(&self) {
        let mut failed = self.failed.clone();
        if failed.wait_for(|failed| *failed).await.is_err() {
            // The writer ended without failing: wait for ever.
            std::future::pending::<()>().await;
        }
    }

    fn send(&self, records: Vec<u8>) {
        // A writer gone has failed: its error is what `finish` returns.
        if let Err(std::sync::mpsc::TrySendError::Full(records)) = self.sender.try_send(records) {
            let _ = crate::store::blocking(|| self.sender.send(records));
        }
    }

    async fn finish(self) -> Result<(), String> {
        drop(self.sender);
        self.done.await.unwrap_or_else(|e| Err(format!("the staging of users stopped: {e}")))
    }
}
