//! The store on PostgreSQL, for deployments beyond one machine: any number
//! of runtime instances share one database. tokio-postgres through
//! deadpool's pool, driven by a small runtime of the store's own, so that the
//! [`Store`] methods (called on blocking threads, like the SQLite store's)
//! can wait for it from any thread. Migrated on open under an advisory lock,
//! so instances starting together migrate once; a database whose schema is
//! newer than this build is refused.

mod apply;
mod authorizations;
mod company;
mod connections;
mod leases;
mod notifications;
mod operators;
mod runs;
mod schema;
mod users;

use std::collections::HashMap;

use deadpool_postgres::{Client, GenericClient, Pool};
use tokio_postgres::types::ToSql;

use super::filter::{Dialect, Filter, Param};
use super::rows::{self, CONNECTION_COLUMNS, RUN_COLUMNS, USER_COLUMNS};
use super::tables::{Column, Held, Kind, Table};
use super::{
    Applied, ApplyPolicy, Baseline, Change, Claim, Claimed, Connection, HistoryQuery, NewConnection, Notification,
    Outcome, PendingAuthorization, Result, Run, RunTotals, Started, Store, StoreError, StoredUser, Time, Upserted,
    UserQuery,
};
use schema::MIGRATIONS;

/// Connections the pool keeps at most: a sync's writer, the scheduler and the API's reads at once.
const POOL_SIZE: usize = 16;

/// An advisory lock's key that migrations take: "tib" in ASCII.
const MIGRATION_LOCK: i64 = 0x74_69_62;

/// The advisory lock's key that claims of due connections take: "tibc".
const CLAIM_LOCK: i64 = 0x74_69_62_63;

/// Claims and recoveries lock what every instance needs; they take
/// milliseconds. An instance frozen within one (a stopped process, a
/// stalled VM) must not stall the others: its session is ended after a few
/// seconds idle, and a wait for its lock fails, to be tried at the next tick.
const HOLDS_LOCKS_BRIEFLY: &str = "SET LOCAL idle_in_transaction_session_timeout = '5s'; SET LOCAL lock_timeout = '5s'";

pub struct Postgres {
    pool: Pool,
    /// `None` only while dropping: the runtime is shut down without blocking, as the store may be
    /// dropped on an async worker.
    runtime: Option<tokio::runtime::Runtime>,
    /// The database as messages name it: host, port and database, never a password.
    shown: String,
}

/// A PostgreSQL error with what was being done; the server's own message when it sent one.
fn pg(context: &str) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
    move |e| {
        let detail = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}")),
        };
        StoreError::failed(format!("{context}: {detail}"))
    }
}

/// Whether a store location names a PostgreSQL database rather than an SQLite file.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user@host:port/db`, libpq's options, such as
    /// `options=-c search_path=tenant`, included) and migrates it.
    pub fn open(url: &str) -> Result<Postgres> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::failed(format!("the store URL is not a PostgreSQL URL: {e}")))?;
        let shown = shown(&config);
        // A server that vanishes without closing its connections (a crash of its machine, a cut
        // network) is noticed within a minute, not never; a URL's own settings stand.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        if config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(std::time::Duration::from_secs(15));
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(std::time::Duration::from_secs(60));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tib-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::failed(format!("cannot start the PostgreSQL store's runtime: {e}")))?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::failed(format!("cannot make the pool of {shown}: {e}")))?;
        let store = Postgres { pool, runtime: Some(runtime), shown };
        store.migrate()?;
        Ok(store)
    }

    /// Runs `work` with a pooled connection on the store's runtime and waits for it: callable from
    /// any thread (the caller's own runtime, if any, is left alone).
    fn with<T>(&self, work: impl AsyncFnOnce(Client) -> Result<T>) -> Result<T> {
        let Some(runtime) = &self.runtime else { return Err(StoreError::failed("the store is closed".to_owned())) };
        // Entered, so that the pool's new connections are driven by the store's runtime.
        let _entered = runtime.enter();
        futures_executor::block_on(async {
            let client =
                self.pool.get().await.map_err(|e| StoreError::failed(format!("cannot reach {}: {e}", self.shown)))?;
            work(client).await
        })
    }

    fn migrate(&self) -> Result<()> {
        let shown = self.shown.clone();
        self.with(async move |mut client| {
            let e = pg("migrating the store");
            let tx = client.transaction().await.map_err(&e)?;
            // Instances starting together: one migrates, the others wait and find it done.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(&e)?;
            // The server's notice that the version table exists already is no news.
            tx.batch_execute("SET LOCAL client_min_messages = warning").await.map_err(&e)?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS tib_schema (version INTEGER NOT NULL)").await.map_err(&e)?;
            let version: Option<i32> =
                tx.query_opt("SELECT version FROM tib_schema", &[]).await.map_err(&e)?.map(|row| row.get(0));
            let version = version.unwrap_or(0) as usize;
            if version > MIGRATIONS.len() {
                return Err(StoreError::failed(format!(
                    "the store {shown} has schema version {version}, newer than this runtime's {}; use a newer tib",
                    MIGRATIONS.len()
                )));
            }
            for migration in &MIGRATIONS[version..] {
                tx.batch_execute(migration).await.map_err(&e)?;
            }
            tx.execute("DELETE FROM tib_schema", &[]).await.map_err(&e)?;
            tx.execute("INSERT INTO tib_schema (version) VALUES ($1)", &[&(MIGRATIONS.len() as i32)])
                .await
                .map_err(&e)?;
            tx.commit().await.map_err(&e)
        })
    }
}

impl Postgres {
    /// Fills an empty database with another store's tables and held runs, in one transaction,
    /// and moves each id sequence past the ids it holds.
    pub(crate) fn import(&self, tables: Vec<Table>, held: Vec<Held>) -> Result<()> {
        /// Rows per statement.
        const BATCH: usize = 5000;
        self.with(async move |mut client| {
            let e = pg("moving the store");
            let tx = client.transaction().await.map_err(&e)?;
            for Table { name: table, columns, values } in &tables {
                let rows = values.first().map_or(0, Column::rows);
                let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
                let arrays: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind))| {
                        let kind = match kind {
                            Kind::Int => "bigint",
                            Kind::Text => "text",
                            Kind::Blob => "bytea",
                            Kind::Bool => "boolean",
                        };
                        format!("${}::{kind}[]", i + 1)
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO {table} ({0}) SELECT {0} FROM UNNEST({1}) AS v({0})",
                    names.join(", "),
                    arrays.join(", ")
                );
                for start in (0..rows).step_by(BATCH) {
                    let end = (start + BATCH).min(rows);
                    let slices: Vec<Box<dyn ToSql + Sync + Send>> = values
                        .iter()
                        .map(|column| -> Box<dyn ToSql + Sync + Send> {
                            match column {
                                Column::Int(v) => Box::new(v[start..end].to_vec()),
                                Column::Text(v) => Box::new(v[start..end].to_vec()),
                                Column::Blob(v) => Box::new(v[start..end].to_vec()),
                                Column::Bool(v) => Box::new(v[start..end].to_vec()),
                            }
                        })
                        .collect();
                    let params: Vec<&(dyn ToSql + Sync)> =
                        slices.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
                    tx.execute(&sql, &params).await.map_err(&e)?;
                }
                if names.contains(&"id") {
                    tx.execute(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1), \
                             MAX(id) IS NOT NULL) FROM {table}"
                        ),
                        &[],
                    )
                    .await
                    .map_err(&e)?;
                }
            }
            for run in &held {
                for batch in &run.batches {
                    tx.execute("INSERT INTO staged (run_id, records) VALUES ($1, $2)", &[&run.run_id, batch])
                        .await
                        .map_err(&e)?;
                }
                tx.execute("INSERT INTO held (run_id, kept) VALUES ($1, $2)", &[&run.run_id, &run.kept])
                    .await
                    .map_err(&e)?;
            }
            tx.commit().await.map_err(&e)
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The database as messages name it.
fn shown(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("PostgreSQL {host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

/// Records how a run ended, and frees its connection's lease; unless the run
/// ended already (recorded as interrupted when its lease lapsed): then nothing
/// changes, and false.
async fn record_totals(
    tx: &impl GenericClient,
    run_id: i64,
    totals: &RunTotals,
    outcome: Outcome,
    now: Time,
) -> Result<bool> {
    let dropped: i64 = totals.dropped_reasons.iter().map(|(_, n)| n).sum();
    let reasons = serde_json::to_string(&totals.dropped_reasons).unwrap_or_else(|_| "[]".to_owned());
    let dropped_users = serde_json::to_string(&totals.dropped_users).unwrap_or_else(|_| "[]".to_owned());
    let e = pg("recording the run");
    let ended = tx
        .execute(
            "UPDATE runs SET outcome = $2, ended_at = $3, pages = $4, users_seen = $5, users_dropped = $6, \
             dropped_reasons = $7, warning = $8, lookups = $9, lookup_ms = $10, dropped_users = $11 \
             WHERE id = $1 AND outcome = 'running'",
            &[
                &run_id,
                &outcome.as_str(),
                &now,
                &totals.pages,
                &totals.users_seen,
                &dropped,
                &reasons,
                &totals.warning,
                &totals.lookups,
                &totals.lookup_ms,
                &dropped_users,
            ],
        )
        .await
        .map_err(&e)?;
    if ended == 1 {
        tx.execute(
            "UPDATE connections SET lease_owner = NULL, lease_until = NULL \
             WHERE id = (SELECT connection_id FROM runs WHERE id = $1)",
            &[&run_id],
        )
        .await
        .map_err(&e)?;
    }
    Ok(ended == 1)
}

/// What one value of a `Row` reads as, for the queries that return one.
async fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(
    client: &impl GenericClient,
    context: &str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<T> {
    Ok(client.query_one(sql, params).await.map_err(pg(context))?.get(0))
}

impl Store for Postgres {
    fn health(&self) -> Result<String> {
        let shown = self.shown.clone();
        self.with(async move |client| {
            let version: i32 = one(&client, "checking the store", "SELECT version FROM tib_schema", &[]).await?;
            let schema: String = one(&client, "checking the store", "SELECT current_schema()", &[]).await?;
            Ok(format!("{shown} (schema {schema}): schema version {version}"))
        })
    }
}

/// How PostgreSQL reads a cell: as the rows of both backends are made into the store's types ([`rows`]).
impl rows::Cells for tokio_postgres::Row {
    type Error = tokio_postgres::Error;
    fn int(&self, i: usize) -> std::result::Result<i64, Self::Error> {
        self.try_get(i)
    }
    fn opt_int(&self, i: usize) -> std::result::Result<Option<i64>, Self::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> std::result::Result<String, Self::Error> {
        self.try_get(i)
    }
    fn opt_text(&self, i: usize) -> std::result::Result<Option<String>, Self::Error> {
        self.try_get(i)
    }
    fn flag(&self, i: usize) -> std::result::Result<bool, Self::Error> {
        self.try_get(i)
    }
    fn bytes(&self, i: usize) -> std::result::Result<Vec<u8>, Self::Error> {
        self.try_get(i)
    }
    fn opt_bytes(&self, i: usize) -> std::result::Result<Option<Vec<u8>>, Self::Error> {
        self.try_get(i)
    }
}

/// PostgreSQL's SQL, where a user query's differs ([`filter`]).
impl Dialect for Postgres {
    fn placeholder(n: usize) -> String {
        format!("${n}")
    }
    fn holds(column: &str, value: &str) -> String {
        format!("EXISTS (SELECT 1 FROM jsonb_array_elements_text({column}::jsonb) l WHERE l = {value})")
    }
    fn contains(text: &str, part: &str) -> String {
        format!("strpos({text}, {part}) > 0")
    }
    fn starts_with(text: &str, prefix: &str) -> String {
        format!("starts_with({text}, {prefix})")
    }
    // Not the database's collation: the order SQLite gives, byte by byte.
    const BY_BYTES: &'static str = " COLLATE \"C\"";
    fn elements(column: &str) -> (String, String) {
        (format!("jsonb_array_elements_text({column}::jsonb) AS element"), "element".to_owned())
    }
}

/// Rows made into the store's type by `make`; a row that cannot be is the store's error.
fn all<T>(
    rows: &[tokio_postgres::Row],
    context: &str,
    make: impl Fn(&tokio_postgres::Row) -> std::result::Result<T, tokio_postgres::Error>,
) -> Result<Vec<T>> {
    rows.iter().map(|row| make(row).map_err(pg(context))).collect()
}
