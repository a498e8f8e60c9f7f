//! The connections: finding them, where each stands, and what an operator
//! does to one (enable, disable, sync now, approve its held sync, disconnect).

use super::{Error, Result, Services};
use crate::access::operator::Actor;
use crate::store::{self, Connection, Run};

/// A connection with what its pages and listings show beside it.
#[derive(Clone, Debug)]
pub struct Summary {
    pub connection: Connection,
    pub last_run: Option<Run>,
    /// Users with access, and all stored users.
    pub with_access: i64,
    pub users: i64,
    /// One of the company's directories: who is active in it is active in the company.
    pub directory: bool,
}

impl Summary {
    pub fn state(&self) -> ConnectionState {
        ConnectionState::of(&self.connection, self.last_run.as_ref())
    }

    /// The connection's summary; `directories` are the store's, read once for every summary.
    fn read(store: &dyn store::Store, connection: Connection, directories: &[i64]) -> store::Result<Summary> {
        let last_run = store.last_run(connection.id)?;
        let (with_access, users) = store.user_counts(connection.id)?;
        let directory = directories.contains(&connection.id);
        Ok(Summary { connection, last_run, with_access, users, directory })
    }
}

/// Where a connection stands, as operators see it (and the API shows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = State)]
pub enum ConnectionState {
    Enabled,
    /// By an operator, or by the error policy (its reason says which, with the API's message).
    Disabled,
    /// An authorization code connection not authorized yet.
    WaitingForAuthorization,
    /// Its last sync is held until an operator approves it.
    Held,
}

impl ConnectionState {
    pub fn of(connection: &Connection, last: Option<&Run>) -> Self {
        match (last, connection.enabled) {
            (_, false) if connection.disabled_reason.as_deref() == Some(crate::oauth::WAITING) => {
                ConnectionState::WaitingForAuthorization
            }
            (_, false) => ConnectionState::Disabled,
            (Some(run), true) if run.outcome == store::Outcome::Held => ConnectionState::Held,
            _ => ConnectionState::Enabled,
        }
    }
}

/// What an operator can do to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Enable,
    Disable,
    /// Due now: the scheduler is woken and starts it at once, when it has room.
    Sync,
    /// Applies its held sync.
    Approve,
    /// Drops its held sync: the stored users stay as they are.
    Discard,
    Disconnect,
    /// Makes it one of the company's directories, which the access review compares the apps with.
    MarkDirectory,
    /// It is no longer a directory.
    UnmarkDirectory,
}

impl Action {
    /// What the audit log calls it.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Sync => "sync now",
            Action::Approve => "approve the held sync",
            Action::Discard => "discard the held sync",
            Action::Disconnect => "disconnect",
            Action::MarkDirectory => "mark as directory",
            Action::UnmarkDirectory => "unmark as directory",
        }
    }
}

impl Services {
    /// The connection `integration/account`.
    pub async fn find(&self, integration: &str, account: &str) -> Result<Connection> {
        let (i, a) = (integration.to_owned(), account.to_owned());
        self.in_store(move |store| store.connection(&i, &a))
            .await?
            .ok_or_else(|| Error::not_found(format!("no connection {integration}/{account}")))
    }

    /// Every connection, with its last run and counts.
    pub async fn summaries(&self) -> Result<Vec<Summary>> {
        // A few reads for every connection together, not a few for each: the overview of ten
        // thousand accounts.
        self.in_store(|store| {
            let directories = store.directories()?;
            let mut last_runs: std::collections::HashMap<i64, Run> =
                store.last_runs()?.into_iter().map(|run| (run.connection_id, run)).collect();
            let counts: std::collections::HashMap<i64, (i64, i64)> = store
                .all_user_counts()?
                .into_iter()
                .map(|(id, with_access, users)| (id, (with_access, users)))
                .collect();
            let summaries = store.connections()?.into_iter().map(|connection| {
                let last_run = last_runs.remove(&connection.id);
                let (with_access, users) = counts.get(&connection.id).copied().unwrap_or_default();
                let directory = directories.contains(&connection.id);
                Summary { connection, last_run, with_access, users, directory }
            });
            Ok(summaries.collect())
        })
        .await
    }

    /// The connection `integration/account`, with its last run and counts.
    pub async fn summary(&self, integration: &str, account: &str) -> Result<Summary> {
        let connection = self.find(integration, account).await?;
        self.in_store(move |store| Summary::read(store, connection, &store.directories()?)).await
    }

    /// The accounts of an integration connected now.
    pub async fn accounts_of(&self, integration: &str) -> Result<Vec<String>> {
        let integration = integration.to_owned();
        self.in_store(move |store| {
            Ok(store.connections()?.into_iter().filter(|c| c.integration == integration).map(|c| c.account).collect())
        })
        .await
    }

    /// Does `action` to `integration/account` for `by`; what happened, in words for the operator.
    pub async fn act(&self, by: &Actor, integration: &str, account: &str, action: Action) -> Result<String> {
        let target = format!("{integration}/{account}");
        self.change(by, action.verb(), &target, self.act_now(integration, account, action)).await
    }

    async fn act_now(&self, integration: &str, account: &str, action: Action) -> Result<String> {
        let connection = self.find(integration, account).await?;
        let (name, id, now, policy) = (connection.name(), connection.id, self.clock.now(), self.policy);
        match action {
            Action::Enable => {
                self.in_store(move |store| {
                    store.set_enabled(id, true, None)?;
                    store.set_next_sync(id, now)
                })
                .await?;
                self.wake.notify_one();
                Ok(format!("enabled {name}; it is due now"))
            }
            Action::Disable => {
                self.in_store(move |store| store.set_enabled(id, false, Some("disabled by an operator"))).await?;
                Ok(format!("disabled {name}"))
            }
            Action::Sync if !connection.enabled => {
                let reason = connection.disabled_reason.unwrap_or_default();
                Err(Error::conflict(format!("{name} is disabled ({reason}); enable it first")))
            }
            Action::Sync => {
                self.in_store(move |store| store.set_next_sync(id, now)).await?;
                self.wake.notify_one();
                Ok(format!("{name} is due now: it starts as soon as a sync slot is free"))
            }
            Action::Approve => match self.in_store(move |store| store.approve_held(id, policy, now)).await? {
                Some(applied) => Ok(format!("applied the held sync of {name}: {applied:?}")),
                None => Err(Error::conflict(format!("{name} has no held sync"))),
            },
            Action::Discard => match self.in_store(move |store| store.discard_held(id)).await? {
                true => Ok(format!("discarded the held sync of {name}: its users stay as they were")),
                false => Err(Error::conflict(format!("{name} has no held sync"))),
            },
            Action::Disconnect => {
                self.in_store(move |store| store.remove_connection(id)).await?;
                Ok(format!("disconnected {name}; its stored users and runs are removed"))
            }
            Action::MarkDirectory => {
                self.in_store(move |store| store.set_directory(id, true)).await?;
                Ok(format!("{name} is a directory: the access review compares every other account with it"))
            }
            Action::UnmarkDirectory => {
                self.in_store(move |store| store.set_directory(id, false)).await?;
                Ok(format!("{name} is no longer a directory"))
            }
        }
    }

    /// A sync now moves the connection's scheduled one a full interval on.
    pub async fn synced_now(&self, connection: &Connection) -> Result<()> {
        let now = self.clock.now();
        let (id, next) = (connection.id, crate::schedule::next_sync(now, connection.interval_secs, &connection.name()));
        self.in_store(move |store| store.set_next_sync(id, next)).await
    }

    /// Records the syncs of processes that are gone as interrupted, their connections due again;
    /// how many.
    pub async fn recover_interrupted(&self) -> Result<usize> {
        let now = self.clock.now();
        self.in_store(move |store| store.recover_interrupted(&crate::owner::alive, now)).await
    }

    /// The store's health in a line: reachable, schema version, integrity.
    pub async fn health(&self) -> Result<String> {
        self.in_store(|store| store.health()).await
    }

    /// A connection's runs, newest first.
    pub async fn runs(&self, integration: &str, account: &str, limit: i64) -> Result<Vec<Run>> {
        let connection = self.find(integration, account).await?;
        self.in_store(move |store| store.runs(connection.id, limit)).await
    }

    /// What admins were told, newest first.
    pub async fn notifications(&self, limit: i64) -> Result<Vec<store::Notification>> {
        self.in_store(move |store| store.notifications(limit)).await
    }
}
