//! What the runtime keeps: connections, sync runs, users and admin
//! notifications, behind [`Store`]. SQLite ([`sqlite`]) is the embedded
//! default; another database implements the same trait.
//!
//! A sync compares every user with the digests of the stored ones
//! ([`staging::Baseline`]) and stages only the new and changed ones; only a
//! complete sync applies them to the stored users, in one transaction, with
//! the deletions its listing implies and the history of each change. A sync
//! that fails, or a process that dies, leaves the stored users as they were.

mod applying;
mod filter;
pub mod history;
pub mod migrate;
pub mod postgres;
mod rows;
pub mod sqlite;
pub mod staging;
pub mod tables;

/// Every aggregate's trait, for code that calls a backend by its own type rather than as a `dyn Store`.
pub mod prelude {
    pub use super::{Authorizations, Connections, Leases, Notifications, Operators, Runs, Store, Users};
}

use std::fmt;

pub use history::{Change, Event, FieldChange, HistoryQuery};
pub use staging::Baseline;
pub use tib_support::record::UserRow;

/// Unix seconds, UTC.
pub type Time = i64;

/// A connected account as stored; its credentials stay sealed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connection {
    pub id: i64,
    pub integration: String,
    pub account: String,
    /// Sealed by the vault; never shown.
    pub sealed_credentials: Vec<u8>,
    /// Replaces the spec's base URL (a sandbox, a self-hosted instance).
    pub base_url: Option<String>,
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    pub interval_secs: i64,
    pub next_sync_at: Time,
    /// Connected again under this account name: the next sync replaces its users outright.
    pub replace_users: bool,
    /// Replace the spec's OAuth endpoints (a provider's sandbox, a local test server).
    pub token_url: Option<String>,
    pub authorize_url: Option<String>,
    /// OAuth authorization code: the sealed access and refresh tokens.
    pub sealed_tokens: Option<Vec<u8>>,
}

impl Connection {
    /// `integration/account`, as the runtime names a connection.
    pub fn name(&self) -> String {
        format!("{}/{}", self.integration, self.account)
    }
}

/// A connection to create, or to replace under the same integration and account name.
pub struct NewConnection<'a> {
    pub integration: &'a str,
    pub account: &'a str,
    pub sealed_credentials: &'a [u8],
    pub base_url: Option<&'a str>,
    pub interval_secs: i64,
    pub next_sync_at: Time,
    pub token_url: Option<&'a str>,
    pub authorize_url: Option<&'a str>,
    /// Set when the connection cannot sync yet (an OAuth authorization to
    /// complete): it is stored disabled with this reason.
    pub waiting_reason: Option<&'a str>,
}

/// An OAuth authorization under way: what the provider's redirect must
/// match, and the PKCE verifier (sealed) that completes it.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingAuthorization {
    pub state: String,
    pub integration: String,
    pub account: String,
    pub sealed_verifier: Vec<u8>,
    pub redirect_uri: String,
    pub expires_at: Time,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    Created,
    /// The account existed: its credentials were replaced, and its users will be at the next sync.
    Replaced,
}

/// How a run ended; the API shows it by the names the store keeps it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = RunOutcome)]
pub enum Outcome {
    Running,
    Applied,
    /// Complete, but it would delete too many users: waiting for an operator.
    Held,
    Failed,
    /// The process died during the run.
    Interrupted,
    /// A held run an operator approved.
    Approved,
    /// A held run that a later sync made moot.
    Superseded,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Applied => "applied",
            Outcome::Held => "held",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
            Outcome::Approved => "approved",
            Outcome::Superseded => "superseded",
        }
    }

    pub(crate) fn parse(text: &str) -> Outcome {
        match text {
            "applied" => Outcome::Applied,
            "held" => Outcome::Held,
            "failed" => Outcome::Failed,
            "interrupted" => Outcome::Interrupted,
            "approved" => Outcome::Approved,
            "superseded" => Outcome::Superseded,
            _ => Outcome::Running,
        }
    }
}

/// One sync run, as `list` and `status` show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub id: i64,
    pub connection_id: i64,
    pub started_at: Time,
    pub ended_at: Option<Time>,
    pub outcome: Outcome,
    pub pages: i64,
    pub users_seen: i64,
    pub users_dropped: i64,
    /// Each distinct reason with how many users it dropped.
    pub dropped_reasons: Vec<(String, i64)>,
    /// The first users it dropped ([`MAX_DROPPED_SHOWN`]), each with why.
    pub dropped_users: Vec<DroppedUser>,
    pub error: Option<String>,
    /// What an applied run changed: users new or back, changed, marked deleted.
    pub added: i64,
    pub updated: i64,
    pub deleted: i64,
    /// What deserves a look in a run that worked: only the first page read, say.
    pub warning: Option<String>,
    /// Requests asked per listed user (`lookup`), and the milliseconds pages waited for them.
    pub lookups: i64,
    pub lookup_ms: i64,
}

/// How many dropped users a run keeps by name: enough to see what is wrong, not a second copy of a
/// broken listing.
pub const MAX_DROPPED_SHOWN: usize = 100;

/// A user a run dropped: its external id, when it had a usable one, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DroppedUser {
    pub external_id: Option<String>,
    pub reason: String,
}

/// Who a held sync would mark deleted.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldDeletions {
    /// How many it would mark deleted.
    pub total: i64,
    /// Of how many stored users present now.
    pub present: i64,
    /// A page of them, by external id.
    pub users: Vec<StoredUser>,
}

/// A run started: its id, and the stored users it compares against.
#[derive(Debug)]
pub struct Started {
    pub run_id: i64,
    pub baseline: Baseline,
}

/// What a complete sync saw, besides its users.
#[derive(Clone, Debug, Default)]
pub struct RunTotals {
    pub pages: i64,
    pub users_seen: i64,
    pub dropped_reasons: Vec<(String, i64)>,
    /// The first users dropped, each with why ([`Run::dropped_users`]).
    pub dropped_users: Vec<DroppedUser>,
    /// What deserves a look, recorded with the run ([`Run::warning`]).
    pub warning: Option<String>,
    /// The lookups' requests, and the milliseconds pages waited for them ([`Run::lookups`]).
    pub lookups: i64,
    pub lookup_ms: i64,
}

/// When a complete sync is held instead of applied.
#[derive(Clone, Copy, Debug)]
pub struct HoldPolicy {
    /// Held when it would delete more than this share of the account's users...
    pub max_share: f64,
    /// ...and more than this many.
    pub min_users: i64,
}

impl Default for HoldPolicy {
    fn default() -> Self {
        HoldPolicy { max_share: 0.5, min_users: 10 }
    }
}

/// How a complete sync is applied.
#[derive(Clone, Copy, Debug)]
pub struct ApplyPolicy {
    pub hold: HoldPolicy,
    /// Users' history older than this is dropped as syncs apply.
    pub keep_history_secs: i64,
}

impl Default for ApplyPolicy {
    fn default() -> Self {
        ApplyPolicy { hold: HoldPolicy::default(), keep_history_secs: 365 * 24 * 60 * 60 }
    }
}

/// What applying a complete sync did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Applied { added: i64, updated: i64, deleted: i64 },
    Held { would_delete: i64, of: i64 },
}

/// A stored user of a connection.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StoredUser {
    #[serde(flatten)]
    pub user: UserRow,
    /// No longer returned by the API: kept, without access.
    pub deleted: bool,
    pub first_seen: Time,
    /// The last applied sync that listed it.
    pub last_seen: Time,
    /// When it last changed here: appeared, changed, was marked deleted or came back.
    pub modified_at: Time,
}

impl StoredUser {
    /// Listed by the last sync, and active in the app.
    pub fn has_access(&self) -> bool {
        self.user.active && !self.deleted
    }
}

/// Which of a connection's users to read, in pages by external id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// With access (listed by the last sync and active), or without; both when `None`.
    pub access: Option<bool>,
    /// Only users who hold this license.
    pub license: Option<String>,
    /// Only members of this group.
    pub group: Option<String>,
    /// Only users a sync ending at or after this time added or changed.
    pub changed_since: Option<Time>,
    /// Only users whose email or name contains this text, in any case.
    pub search: Option<String>,
    /// Only users the app has not seen since this time (RFC 3339, UTC): neither the last sign-in nor
    /// the last activity it gives is at or after it, or it gives neither.
    pub unseen_before: Option<String>,
    /// Only users whose external id sorts after this one: the cursor of the next page.
    pub after: Option<String>,
    /// Conditions on single fields, all of which must hold (a SCIM filter).
    pub conditions: Vec<Condition>,
    /// The order they come in; `after` pages only the external id order.
    pub order: UserOrder,
    /// The order reversed (users without the value sorted on still last).
    pub reversed: bool,
    /// Only users changed here after this time ([`StoredUser::modified_at`]).
    pub modified_after: Option<Time>,
    /// Skip this many of those selected, for paging by index.
    pub offset: Option<i64>,
    /// At most this many.
    pub limit: Option<i64>,
}

/// How users are sorted; ties, and users without the value, go by external id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserOrder {
    #[default]
    ExternalId,
    /// By email, without regard to case.
    Email,
    /// By the whole name (or first and last), without regard to case.
    Name,
    /// The most recently seen in the app first.
    LastSeen,
    /// The most recently created in the app first.
    Created,
    /// By SCIM's userName (the username, or the email where there is none), without regard to case.
    UserName,
    /// The least recently changed here first ([`StoredUser::modified_at`]).
    Modified,
}

/// One field of a stored user, tested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub field: UserField,
    pub test: FieldTest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserField {
    /// Compared exactly; the others without regard to case.
    ExternalId,
    Email,
    /// The username, or the email where there is none.
    UserName,
    /// With access: listed by the last sync, and active.
    Access,
    /// A member of the group named (compared exactly; only `Equals`).
    Group,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldTest {
    Equals(String),
    Contains(String),
    StartsWith(String),
    /// Has a value that is not empty.
    Present,
    /// A yes/no field is this.
    Is(bool),
}

/// Which people to read: a person is an email, without regard to case, across every connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeopleQuery {
    /// Only people with an email or a name (in any of their accounts) that contains this text, in any case.
    pub search: Option<String>,
    /// Only people whose email (in lower case) sorts after this one: the cursor of the next page.
    pub after: Option<String>,
    /// At most this many.
    pub limit: i64,
}

/// One person: their stored users across every connection, summed up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The email in lower case: what makes stored users one person.
    pub email: String,
    /// A name one of their accounts gives.
    pub name: Option<String>,
    /// The accounts that list them, those that no longer do included.
    pub accounts: i64,
    /// The accounts where they have access.
    pub with_access: i64,
    /// The latest time an app gives for them (last sign-in or activity), as it gave it.
    pub last_seen_at: Option<String>,
}

/// A license of one connection: how many users with access hold it, and how many of those the app
/// has not seen since a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseHeld {
    pub connection_id: i64,
    pub license: String,
    pub holders: i64,
    pub unseen: i64,
}

/// What a held run that an operator discarded says of itself.
pub const DISCARDED: &str = "discarded by an operator: the stored users stay as they were";

/// Which due connections a process takes at once, and for how long.
pub struct Claim<'a> {
    /// The process, as leases name it (`host:pid`).
    pub owner: &'a str,
    pub now: Time,
    /// The leases lapse then unless renewed.
    pub until: Time,
    /// At most this many connections...
    pub limit: usize,
    /// ...of which at most this many slow ones: whose last sync lasted `slow_after` seconds or longer.
    pub slow_limit: usize,
    pub slow_after: i64,
    /// At most this many connections of an integration leased at once, by
    /// every process together: an API's rate limit is shared by all its
    /// connections.
    pub caps: &'a std::collections::BTreeMap<String, usize>,
    /// When a claimed connection syncs next.
    pub next: &'a (dyn Fn(&Connection) -> Time + Sync),
}

/// A connection a process claimed.
#[derive(Clone, Debug, PartialEq)]
pub struct Claimed {
    pub connection: Connection,
    /// Its last sync was slow.
    pub slow: bool,
}

/// How many due connections a claim reads to choose from: the oldest due
/// first, enough that a few of a capped integration or slow ones among them
/// leave room for the others.
fn candidates(claim: &Claim<'_>) -> i64 {
    (claim.limit as i64).saturating_mul(4).saturating_add(16)
}

/// The integrations a claim must pass over: at their cap already, given how
/// many connections of each are leased.
fn at_cap(claim: &Claim<'_>, leased: &std::collections::HashMap<String, usize>) -> Vec<String> {
    claim
        .caps
        .iter()
        .filter(|(integration, cap)| leased.get(*integration).copied().unwrap_or(0) >= **cap)
        .map(|(i, _)| i.clone())
        .collect()
}

/// Of the due `candidates` (the oldest due first, each with whether it is
/// slow), those the claim takes: within its limits, and its integrations' caps
/// given how many are `leased`.
fn choose(
    claim: &Claim<'_>,
    candidates: Vec<(Connection, bool)>,
    mut leased: std::collections::HashMap<String, usize>,
) -> Vec<Claimed> {
    let (mut chosen, mut slow_chosen) = (Vec::new(), 0);
    for (connection, slow) in candidates {
        if chosen.len() >= claim.limit {
            break;
        }
        if slow && slow_chosen >= claim.slow_limit {
            continue;
        }
        let held = leased.entry(connection.integration.clone()).or_default();
        if claim.caps.get(&connection.integration).is_some_and(|cap| *held >= *cap) {
            continue;
        }
        *held += 1;
        slow_chosen += usize::from(slow);
        chosen.push(Claimed { connection, slow });
    }
    chosen
}

/// Every lease and every running run, in SQL both stores read: the
/// connection, its lease's owner and end, its running run, and whether the
/// run before that one was interrupted too.
const LEASES_AND_RUNS: &str = "SELECT c.id, c.lease_owner, c.lease_until, r.id, \
     (SELECT p.outcome FROM runs p WHERE p.connection_id = c.id AND p.id < r.id ORDER BY p.id DESC LIMIT 1) \
     = 'interrupted' \
     FROM connections c LEFT JOIN runs r ON r.connection_id = c.id AND r.outcome = 'running' \
     WHERE c.lease_owner IS NOT NULL OR r.id IS NOT NULL";

/// A row of [`LEASES_AND_RUNS`].
struct LeaseAndRun {
    connection_id: i64,
    owner: Option<String>,
    until: Option<Time>,
    run: Option<i64>,
    run_before_interrupted: Option<bool>,
}

/// A lease to free, because its owner is gone or it expired.
struct Lapsed {
    connection_id: i64,
    /// Its owner as read: the lease is freed only if it is still that one's.
    owner: Option<String>,
    /// The run it held, to record as interrupted.
    run: Option<i64>,
    /// The connection syncs again at once, not at its next slot.
    due_again: bool,
}

/// The leases recovery frees: those whose owner no longer runs or that
/// expired, and the runs of none.
fn lapsed(rows: Vec<LeaseAndRun>, is_alive: &dyn Fn(&str) -> bool, now: Time) -> Vec<Lapsed> {
    rows.into_iter()
        .filter(|row| !(row.owner.as_deref().is_some_and(is_alive) && row.until.is_some_and(|u| u >= now)))
        .map(|row| Lapsed {
            connection_id: row.connection_id,
            owner: row.owner,
            run: row.run,
            due_again: row.run.is_none() || row.run_before_interrupted != Some(true),
        })
        .collect()
}

/// What an interrupted run's error says.
const INTERRUPTED: &str = "the process running this sync stopped, or lost the store for longer than its lease, \
                           before the sync ended";

/// A message for the admins.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub id: i64,
    pub connection: Option<String>,
    pub created_at: Time,
    pub kind: String,
    pub message: String,
}

/// Why the store did not do what it was asked: it failed (the database, the disk), or what it
/// was asked conflicts with what it holds now.
#[derive(Debug)]
pub struct StoreError {
    pub conflict: bool,
    message: String,
}

impl StoreError {
    pub fn failed(message: impl Into<String>) -> StoreError {
        StoreError { conflict: false, message: message.into() }
    }

    /// What was asked no longer fits what is stored (a held sync approved after the users changed).
    pub fn conflict(message: impl Into<String>) -> StoreError {
        StoreError { conflict: true, message: message.into() }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The store at `location`: a PostgreSQL URL (`postgres://…`), or the path of an SQLite file.
pub fn open(location: &str) -> Result<std::sync::Arc<dyn Store>> {
    Ok(if postgres::is_url(location) {
        std::sync::Arc::new(postgres::Postgres::open(location)?)
    } else {
        std::sync::Arc::new(sqlite::Sqlite::open(std::path::Path::new(location))?)
    })
}

/// The whole name, or first and last, in SQL both stores read: what a search and the name order read.
/// Refuses an apply by `owner` of a run that is no longer running (recorded
/// as interrupted when its lease lapsed), or whose connection's lease is not
/// its own.
fn may_apply(leased: Option<&str>, owner: &str, run: Outcome) -> Result<()> {
    if leased == Some(owner) && run == Outcome::Running {
        return Ok(());
    }
    Err(StoreError::failed(format!(
        "this sync lost its lease on the connection (the run is {}, the lease {}): its process stopped past the \
         lease, and the sync was recorded as interrupted and left to another; it is not applied",
        run.as_str(),
        leased.map_or_else(|| "free".to_owned(), |owner| format!("held by {owner}"))
    )))
}

/// The error of a run not started: `owner` does not hold the lease.
fn not_leased(owner: &str) -> StoreError {
    StoreError::failed(format!(
        "this sync lost its lease on the connection before it began ({owner} no longer holds it): another \
         instance syncs it"
    ))
}

/// Whether a connection `c`'s last sync was slow, in SQL both stores read,
/// given the parameters of the time now and of how long a slow sync lasts:
/// a sync still running counts until now.
fn slow_sql(now: &str, slow_after: &str) -> String {
    format!(
        "COALESCE((SELECT COALESCE(r.ended_at, {now}) - r.started_at FROM runs r WHERE r.connection_id = c.id \
         ORDER BY r.id DESC LIMIT 1), 0) >= {slow_after}"
    )
}

/// A store location as messages and logs show it: a URL without its password.
pub fn shown(location: &str) -> String {
    match url::Url::parse(location) {
        Ok(mut url) if postgres::is_url(location) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("[redacted]"));
            }
            url.to_string()
        }
        _ => location.to_owned(),
    }
}

/// Runs blocking store work on the blocking threads, so that a long apply
/// (seconds, for a million users) never holds an async worker: other syncs
/// go on fetching, and the scheduler keeps ticking.
pub async fn off_workers<T: Send + 'static>(
    store: &std::sync::Arc<dyn Store>,
    work: impl FnOnce(&dyn Store) -> Result<T> + Send + 'static,
) -> Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || work(store.as_ref()))
        .await
        .unwrap_or_else(|e| Err(StoreError::failed(format!("the store's work stopped: {e}"))))
}

/// Runs `work`, which may wait for the store, from synchronous code called
/// on an async worker: on a multi-threaded runtime the worker's other tasks
/// move to another thread meanwhile.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// The connected accounts: each with its credentials sealed, its schedule, and whether it is enabled.
pub trait Connections: Send + Sync {
    fn upsert_connection(&self, new: &NewConnection<'_>) -> Result<Upserted>;
    fn connection(&self, integration: &str, account: &str) -> Result<Option<Connection>>;
    fn connections(&self) -> Result<Vec<Connection>>;
    /// Removes a connection with its runs and users; false when there was none.
    fn remove_connection(&self, id: i64) -> Result<bool>;
    fn set_enabled(&self, id: i64, enabled: bool, reason: Option<&str>) -> Result<()>;
    fn set_next_sync(&self, id: i64, at: Time) -> Result<()>;
}

/// Which process syncs which connection: the scheduler's claims, a sync outside the schedule, and the recovery of the leases of processes that are gone.
pub trait Leases: Send + Sync {
    /// Takes the connections due for a sync, as [`Claim`] bounds them: each
    /// is leased to the claiming process and its next sync moved on, in one
    /// transaction, so that of several processes serving one store exactly
    /// one takes each slot.
    fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Claimed>>;
    /// Extends to `until` the leases `owner` holds on the connections `ids`
    /// (those it knows it is syncing); returns how many it still holds. A
    /// lease it holds on another connection (a sync that ended while the store
    /// was unreachable, and could not release it) is left to lapse.
    fn renew_leases(&self, owner: &str, ids: &[i64], until: Time) -> Result<usize>;
    /// Takes the connection for one sync outside the schedule: false when
    /// it is leased. `owner` names the process (`host:pid`). A lease whose
    /// owner died or that expired is freed by [`Leases::recover_interrupted`].
    fn try_lease(&self, id: i64, owner: &str, until: Time) -> Result<bool>;
    fn release(&self, id: i64, owner: &str) -> Result<()>;
    /// Frees the leases of processes that are gone or whose lease expired:
    /// their runs become `interrupted`, with their staged users dropped, and
    /// their connections due again, to sync once more in the slot they lost
    /// (unless the run before was interrupted too: a sync that keeps killing
    /// its process waits for its next slot). Returns how many leases it freed.
    fn recover_interrupted(&self, is_alive: &dyn Fn(&str) -> bool, now: Time) -> Result<usize>;
}

/// The syncs of a connection: started, staged, completed (applied, or held under the policy), failed, approved, and listed.
pub trait Runs: Send + Sync {
    /// Starts a run of the connection, with the baseline it compares its
    /// users against; refused unless `owner` holds its lease (a process
    /// stopped between its claim and its sync may have lost it meanwhile).
    fn start_run(&self, connection_id: i64, owner: &str, now: Time) -> Result<Started>;
    /// Stages [`staging`] records: the users the baseline does not hold unchanged.
    fn stage(&self, run_id: i64, records: &[u8]) -> Result<()>;
    /// Applies a complete run, or holds it under the policy: its staged
    /// users, and as deleted the present users it neither staged nor kept.
    /// Refused unless `owner` still holds the connection's lease: a sync
    /// that lost it (another instance took the connection over, or its run
    /// was recorded as interrupted) never applies.
    fn complete_run(
        &self,
        run_id: i64,
        owner: &str,
        baseline: Baseline,
        totals: &RunTotals,
        policy: ApplyPolicy,
        now: Time,
    ) -> Result<Applied>;
    /// Records a failed run (unless it already ended: recorded as
    /// interrupted, say) and drops what it staged.
    fn fail_run(&self, run_id: i64, totals: &RunTotals, error: &str, now: Time) -> Result<()>;
    /// Applies the connection's held run regardless of the hold.
    fn approve_held(&self, connection_id: i64, policy: ApplyPolicy, now: Time) -> Result<Option<Applied>>;
    /// Drops the connection's held run without applying it ([`DISCARDED`]); false when none was held.
    fn discard_held(&self, connection_id: i64) -> Result<bool>;
    /// Who the connection's held sync would mark deleted if approved now: how many of how many
    /// present, and a page of them by external id; `None` when no sync is held. Nothing changes.
    fn held_deletions(&self, connection_id: i64, offset: i64, limit: i64, now: Time) -> Result<Option<HeldDeletions>>;
    fn last_run(&self, connection_id: i64) -> Result<Option<Run>> {
        Ok(self.runs(connection_id, 1)?.into_iter().next())
    }
    /// The connection's newest runs, newest first.
    fn runs(&self, connection_id: i64, limit: i64) -> Result<Vec<Run>>;
    /// Every connection's newest run, in one read (the overview's).
    fn last_runs(&self) -> Result<Vec<Run>>;
}

/// A connection's stored users, as the edges read them, and their history.
pub trait Users: Send + Sync {
    /// The connection's users the query selects, by external id.
    fn find_users(&self, connection_id: i64, query: &UserQuery) -> Result<Vec<StoredUser>>;
    /// How many users the query's filters select (its cursor, offset and limit aside).
    fn count_users(&self, connection_id: i64, query: &UserQuery) -> Result<i64>;
    /// Every user with access, or (`include_deleted`) every stored user.
    fn users(&self, connection_id: i64, include_deleted: bool) -> Result<Vec<StoredUser>> {
        let access = (!include_deleted).then_some(true);
        self.find_users(connection_id, &UserQuery { access, ..UserQuery::default() })
    }
    /// Each license the users with access hold, with how many hold it, most held first.
    fn license_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>>;
    /// Each group of the connection's present users, with its members' count, largest first.
    fn group_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>>;
    /// Active (not deleted, active) and all stored users.
    fn user_counts(&self, connection_id: i64) -> Result<(i64, i64)>;
    /// [`Users::user_counts`] of every connection with users, in one read: its id, then the counts.
    fn all_user_counts(&self) -> Result<Vec<(i64, i64, i64)>>;
    /// The connection's users' history, newest first.
    fn history(&self, connection_id: i64, query: &HistoryQuery) -> Result<Vec<Change>>;
}

/// The company's views, across every connection: people by email, licenses and their holders.
pub trait Company: Send + Sync {
    /// The people `query` selects, by email.
    fn people(&self, query: &PeopleQuery) -> Result<Vec<Person>>;
    /// Every stored user whose email is `email` without regard to case, with their connection's id,
    /// by connection.
    fn person(&self, email: &str) -> Result<Vec<(i64, StoredUser)>>;
    /// Each license held in each connection by users with access, with how many of them the app has
    /// not seen since `unseen_before` (RFC 3339, UTC); by connection, then most held first.
    fn licenses_held(&self, unseen_before: &str) -> Result<Vec<LicenseHeld>>;
    /// Marks a connection as one of the company's directories, or no longer.
    fn set_directory(&self, connection_id: i64, directory: bool) -> Result<()>;
    /// The connections marked as directories.
    fn directories(&self) -> Result<Vec<i64>>;
    /// The users with access in the connections that are not directories whose person (their email,
    /// in any case) is active in no directory: by connection, then email; how many in all (0 for a
    /// page past the end), and those of the `page` (offset, limit) or every one.
    fn departed(&self, page: Option<(i64, i64)>) -> Result<(i64, Vec<Departed>)>;
    /// The directories' active users with access in no other connection, with their directory's id:
    /// by email; how many in all (0 for a page past the end), and those of the `page` (offset,
    /// limit) or every one.
    fn unaccounted(&self, page: Option<(i64, i64)>) -> Result<(i64, Vec<(i64, StoredUser)>)>;
}

/// A user with access in an app whose person is not active in the directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Departed {
    pub connection_id: i64,
    pub user: StoredUser,
    /// A directory lists the person (suspended, deactivated, gone): they left. Otherwise they were
    /// never in it: someone from outside the company, or an account under another email.
    pub in_directory: bool,
}

/// What the admins were told.
pub trait Notifications: Send + Sync {
    fn add_notification(&self, connection: Option<&str>, kind: &str, message: &str, now: Time) -> Result<i64>;
    fn notifications(&self, limit: i64) -> Result<Vec<Notification>>;
}

/// The operators' side of the store: named API tokens (kept by their hash, never the token),
/// the audit log of every change, and how far each operator has read the notifications.
pub trait Operators: Send + Sync {
    /// Keeps a new token under its name; `false`, and nothing kept, when a token has that name.
    fn add_token(&self, token: &ApiToken, hash: &str) -> Result<bool>;
    /// The token whose SHA-256 (in hex) this is.
    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>>;
    /// Every token, by name.
    fn tokens(&self) -> Result<Vec<ApiToken>>;
    /// Removes the token of this name; whether there was one.
    fn remove_token(&self, name: &str) -> Result<bool>;
    fn record(&self, entry: &AuditEntry) -> Result<()>;
    /// The latest entries, newest first, older than `before` (an entry's id) when given.
    fn audit(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>>;
    /// The operator has read every notification up to this id.
    fn mark_read(&self, operator: &str, up_to: i64) -> Result<()>;
    /// How many notifications came after the last one the operator read.
    fn unread(&self, operator: &str) -> Result<i64>;
}

/// A named API token, as kept: its name and role; the token itself is shown once, at its making.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub name: String,
    pub role: crate::access::operator::Role,
    pub created_at: Time,
    /// The operator who made it.
    pub created_by: String,
}

/// One change an operator made or tried, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Given by the store; 0 in an entry not yet recorded.
    pub id: i64,
    pub at: Time,
    /// Who: an email, a token's name, `admin`.
    pub actor: String,
    /// How they proved it ([`crate::access::operator::Via`]).
    pub via: String,
    /// From where: the client's address, or this machine.
    pub address: String,
    /// What: `connect`, `sync now`, `approve`, `add token` …
    pub action: String,
    /// To what: a connection, a token.
    pub target: String,
    /// `done`, or why it was refused or failed.
    pub outcome: String,
}

/// OAuth: the authorizations under way, and a connection's tokens.
pub trait Authorizations: Send + Sync {
    fn save_tokens(&self, id: i64, sealed: &[u8]) -> Result<()>;
    fn add_authorization(&self, pending: &PendingAuthorization) -> Result<()>;
    /// The authorization with this state, removed: a state is single use.
    /// Expired ones are swept on the way.
    fn take_authorization(&self, state: &str, now: Time) -> Result<Option<PendingAuthorization>>;
}

/// The runtime's storage, every aggregate of it: what the operations, the sync engine and the
/// scheduler are given. Every method is one transaction.
pub trait Store: Connections + Leases + Runs + Users + Company + Notifications + Operators + Authorizations {
    /// A short health line: reachable, schema version, integrity.
    fn health(&self) -> Result<String>;
}
