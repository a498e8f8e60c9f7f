//! The store on PostgreSQL, for deployments beyond one machine: any number
//! of runtime instances share one database. tokio-postgres through
//! deadpool's pool, driven by a small runtime of the store's own, so that the
//! [`Store`] methods (called on blocking threads, like the SQLite store's)
//! can wait for it from any thread. Migrated on open under an advisory lock,
//! so instances starting together migrate once; a database whose schema is
//! newer than this build is refused.

mod apply;
mod schema;

use std::collections::HashMap;

use deadpool_postgres::{Client, GenericClient, Pool};
use tokio_postgres::types::ToSql;

use super::migrate::{Column, Held, Kind, Table};
use super::{
    Applied, ApplyPolicy, Baseline, Change, Claim, Claimed, Connection, Event, FULL_NAME, FieldTest, HistoryQuery,
    NewConnection, Notification, Outcome, PendingAuthorization, Result, Run, RunTotals, Started, Store, StoreError,
    StoredUser, Time, Upserted, UserQuery, UserRow,
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

/// The columns a user row and a staged record share, in this order.
const USER_COLUMNS: &str = "external_id, email, username, full_name, first_name, last_name, role, created_at, \
                            last_seen_at, active, status, licenses, custom_fields";

const CONNECTION_COLUMNS: &str = "id, integration, account, credentials, base_url, enabled, disabled_reason, \
                                  interval_secs, next_sync_at, replace_users, token_url, authorize_url, tokens";

fn connection_row(row: &tokio_postgres::Row) -> Connection {
    Connection {
        id: row.get(0),
        integration: row.get(1),
        account: row.get(2),
        sealed_credentials: row.get(3),
        base_url: row.get(4),
        enabled: row.get(5),
        disabled_reason: row.get(6),
        interval_secs: row.get(7),
        next_sync_at: row.get(8),
        replace_users: row.get(9),
        token_url: row.get(10),
        authorize_url: row.get(11),
        sealed_tokens: row.get(12),
    }
}

const RUN_COLUMNS: &str = "id, connection_id, started_at, ended_at, outcome, pages, users_seen, users_dropped, \
                           dropped_reasons, error, added, updated, deleted";

fn run_row(row: &tokio_postgres::Row) -> Run {
    let reasons: String = row.get(8);
    Run {
        id: row.get(0),
        connection_id: row.get(1),
        started_at: row.get(2),
        ended_at: row.get(3),
        outcome: Outcome::parse(row.get(4)),
        pages: row.get(5),
        users_seen: row.get(6),
        users_dropped: row.get(7),
        dropped_reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        error: row.get(9),
        added: row.get(10),
        updated: row.get(11),
        deleted: row.get(12),
    }
}

fn user_row(row: &tokio_postgres::Row) -> StoredUser {
    let licenses: String = row.get(11);
    let custom: String = row.get(12);
    StoredUser {
        user: UserRow {
            external_id: row.get(0),
            email: row.get(1),
            username: row.get(2),
            full_name: row.get(3),
            first_name: row.get(4),
            last_name: row.get(5),
            role: row.get(6),
            created_at: row.get(7),
            last_seen_at: row.get(8),
            active: row.get(9),
            status: row.get(10),
            licenses: serde_json::from_str(&licenses).unwrap_or_default(),
            custom_fields: serde_json::from_str(&custom).unwrap_or_default(),
        },
        deleted: row.get(13),
        first_seen: row.get(14),
        last_seen: row.get(15),
    }
}

/// SQL with its parameters numbered as they are bound.
#[derive(Default)]
struct Sql {
    text: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Sql {
    /// The placeholder of a new parameter.
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

/// The WHERE clause of a user query, its parameters bound (the connection's id first).
fn user_filters(connection_id: i64, query: &UserQuery) -> Sql {
    let mut sql = Sql::default();
    let id = sql.bind(connection_id);
    let mut clauses = vec![format!("connection_id = {id}")];
    if let Some(access) = query.access {
        clauses.push(format!("(NOT deleted AND active) = {}", sql.bind(access)));
    }
    if let Some(license) = &query.license {
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM jsonb_array_elements_text(licenses::jsonb) l WHERE l = {})",
            sql.bind(license.clone())
        ));
    }
    if let Some(since) = query.changed_since {
        clauses.push(format!(
            "run_id IN (SELECT id FROM runs WHERE connection_id = {id} AND ended_at >= {})",
            sql.bind(since)
        ));
    }
    if let Some(search) = &query.search {
        let search = sql.bind(search.to_lowercase());
        clauses.push(format!("strpos(lower(email), {search}) > 0 OR strpos(lower({FULL_NAME}), {search}) > 0"));
    }
    if let Some(after) = &query.after {
        clauses.push(format!("external_id > {}", sql.bind(after.clone())));
    }
    for condition in &query.conditions {
        let (field, exact) = super::condition_column(condition.field);
        let folded = if exact { field.to_owned() } else { format!("lower({field})") };
        let text = |text: &String| if exact { text.clone() } else { text.to_lowercase() };
        let clause = match &condition.test {
            FieldTest::Equals(value) => format!("{folded} = {}", sql.bind(text(value))),
            FieldTest::Contains(value) => format!("strpos({folded}, {}) > 0", sql.bind(text(value))),
            FieldTest::StartsWith(value) => format!("starts_with({folded}, {})", sql.bind(text(value))),
            FieldTest::Present => format!("{field} IS NOT NULL AND {field} <> ''"),
            FieldTest::Is(yes) => format!("{field} = {}", sql.bind(*yes)),
        };
        clauses.push(clause);
    }
    sql.text = clauses.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" AND ");
    sql
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
    let e = pg("recording the run");
    let ended = tx
        .execute(
            "UPDATE runs SET outcome = $2, ended_at = $3, pages = $4, users_seen = $5, users_dropped = $6, \
             dropped_reasons = $7 WHERE id = $1 AND outcome = 'running'",
            &[&run_id, &outcome.as_str(), &now, &totals.pages, &totals.users_seen, &dropped, &reasons],
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
    fn upsert_connection(&self, new: &NewConnection<'_>) -> Result<Upserted> {
        let enabled = new.waiting_reason.is_none();
        self.with(async |client| {
            // `xmax = 0` only for a row this statement inserted.
            let inserted: bool = one(
                &client,
                "saving the connection",
                "INSERT INTO connections (integration, account, credentials, base_url, interval_secs, next_sync_at, \
                 created_at, enabled, disabled_reason, token_url, authorize_url) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10) \
                 ON CONFLICT (integration, account) DO UPDATE SET credentials = EXCLUDED.credentials, \
                 base_url = EXCLUDED.base_url, enabled = EXCLUDED.enabled, disabled_reason = EXCLUDED.disabled_reason, \
                 interval_secs = EXCLUDED.interval_secs, next_sync_at = EXCLUDED.next_sync_at, replace_users = TRUE, \
                 token_url = EXCLUDED.token_url, authorize_url = EXCLUDED.authorize_url, tokens = NULL \
                 RETURNING xmax = 0",
                &[
                    &new.integration,
                    &new.account,
                    &new.sealed_credentials,
                    &new.base_url,
                    &new.interval_secs,
                    &new.next_sync_at,
                    &enabled,
                    &new.waiting_reason,
                    &new.token_url,
                    &new.authorize_url,
                ],
            )
            .await?;
            Ok(if inserted { Upserted::Created } else { Upserted::Replaced })
        })
    }

    fn connection(&self, integration: &str, account: &str) -> Result<Option<Connection>> {
        self.with(async |client| {
            let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE integration = $1 AND account = $2");
            let row = client.query_opt(&sql, &[&integration, &account]).await.map_err(pg("reading the connection"))?;
            Ok(row.as_ref().map(connection_row))
        })
    }

    fn connections(&self) -> Result<Vec<Connection>> {
        self.with(async |client| {
            let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections ORDER BY integration, account");
            let rows = client.query(&sql, &[]).await.map_err(pg("reading connections"))?;
            Ok(rows.iter().map(connection_row).collect())
        })
    }

    fn remove_connection(&self, id: i64) -> Result<bool> {
        self.with(async |client| {
            let removed = client
                .execute("DELETE FROM connections WHERE id = $1", &[&id])
                .await
                .map_err(pg("removing the connection"))?;
            Ok(removed > 0)
        })
    }

    fn set_enabled(&self, id: i64, enabled: bool, reason: Option<&str>) -> Result<()> {
        self.with(async |client| {
            client
                .execute(
                    "UPDATE connections SET enabled = $2, disabled_reason = $3 WHERE id = $1",
                    &[&id, &enabled, &reason],
                )
                .await
                .map_err(pg("updating the connection"))?;
            Ok(())
        })
    }

    fn set_next_sync(&self, id: i64, at: Time) -> Result<()> {
        self.with(async |client| {
            client
                .execute("UPDATE connections SET next_sync_at = $2 WHERE id = $1", &[&id, &at])
                .await
                .map_err(pg("scheduling the connection"))?;
            Ok(())
        })
    }

    fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Claimed>> {
        self.with(async |mut client| {
            let e = pg("claiming the due connections");
            let tx = client.transaction().await.map_err(&e)?;
            // Claims one at a time across instances, so that the counts of leases per integration hold
            // until this claim commits; SKIP LOCKED passes over a connection an apply has locked.
            tx.batch_execute(HOLDS_LOCKS_BRIEFLY).await.map_err(&e)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CLAIM_LOCK]).await.map_err(&e)?;
            let leased: HashMap<String, usize> = tx
                .query(
                    "SELECT integration, COUNT(*) FROM connections WHERE lease_owner IS NOT NULL GROUP BY integration",
                    &[],
                )
                .await
                .map_err(&e)?
                .iter()
                .map(|row| (row.get(0), row.get::<_, i64>(1) as usize))
                .collect();
            let slow = super::slow_sql("$1", "$2");
            let sql = format!(
                "SELECT {CONNECTION_COLUMNS}, {slow} FROM connections c \
                 WHERE enabled AND next_sync_at <= $1 AND lease_owner IS NULL AND NOT (integration = ANY($3)) \
                 AND ($4 OR NOT {slow}) ORDER BY next_sync_at, id LIMIT $5 FOR UPDATE OF c SKIP LOCKED"
            );
            let passed_over = super::at_cap(claim, &leased);
            let slow_allowed = claim.slow_limit > 0;
            let rows = tx
                .query(&sql, &[&claim.now, &claim.slow_after, &passed_over, &slow_allowed, &super::candidates(claim)])
                .await
                .map_err(&e)?;
            let candidates = rows.iter().map(|row| (connection_row(row), row.get(13))).collect();
            let chosen = super::choose(claim, candidates, leased);
            let ids: Vec<i64> = chosen.iter().map(|c| c.connection.id).collect();
            let next: Vec<Time> = chosen.iter().map(|c| (claim.next)(&c.connection)).collect();
            tx.execute(
                "UPDATE connections c SET next_sync_at = v.next, lease_owner = $3, lease_until = $4 \
                 FROM UNNEST($1::bigint[], $2::bigint[]) AS v(id, next) WHERE c.id = v.id",
                &[&ids, &next, &claim.owner, &claim.until],
            )
            .await
            .map_err(&e)?;
            tx.commit().await.map_err(&e)?;
            Ok(chosen)
        })
    }

    fn renew_leases(&self, owner: &str, ids: &[i64], until: Time) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.with(async |client| {
            let renewed = client
                .execute(
                    "UPDATE connections SET lease_until = $2 WHERE lease_owner = $1 AND id = ANY($3)",
                    &[&owner, &until, &ids],
                )
                .await
                .map_err(pg("renewing the leases"))?;
            Ok(renewed as usize)
        })
    }

    fn try_lease(&self, id: i64, owner: &str, until: Time) -> Result<bool> {
        self.with(async |client| {
            let taken = client
                .execute(
                    "UPDATE connections SET lease_owner = $2, lease_until = $3 WHERE id = $1 AND lease_owner IS NULL",
                    &[&id, &owner, &until],
                )
                .await
                .map_err(pg("taking the connection"))?;
            Ok(taken == 1)
        })
    }

    fn release(&self, id: i64, owner: &str) -> Result<()> {
        self.with(async |client| {
            client
                .execute(
                    "UPDATE connections SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                    &[&id, &owner],
                )
                .await
                .map_err(pg("releasing the connection"))?;
            Ok(())
        })
    }

    fn start_run(&self, connection_id: i64, owner: &str, now: Time) -> Result<Started> {
        self.with(async |mut client| {
            // The connection's row locked until the run is in: recovery cannot free the lease between.
            let inserted = client
                .query_opt(
                    "INSERT INTO runs (connection_id, started_at, outcome) SELECT id, $2, 'running' FROM connections \
                     WHERE id = $1 AND lease_owner = $3 FOR UPDATE RETURNING id",
                    &[&connection_id, &now, &owner],
                )
                .await
                .map_err(pg("starting the run"))?;
            let run_id: i64 = inserted.ok_or_else(|| super::not_leased(owner))?.get(0);
            // One snapshot: the version says which users the digests are of.
            let e = pg("reading the stored users' digests");
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(&e)?;
            let version: i64 = one(
                &tx,
                "reading the stored users' digests",
                "SELECT users_version FROM connections WHERE id = $1",
                &[&connection_id],
            )
            .await?;
            let rows = tx
                .query("SELECT digest FROM users WHERE connection_id = $1 AND NOT deleted", &[&connection_id])
                .await
                .map_err(&e)?;
            tx.commit().await.map_err(&e)?;
            let present = rows.len();
            let digests = rows.iter().filter_map(|r| r.get::<_, Option<i64>>(0)).map(|d| d as u64).collect();
            Ok(Started { run_id, baseline: Baseline::new(digests, present, version) })
        })
    }

    fn stage(&self, run_id: i64, records: &[u8]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.with(async |client| {
            client
                .execute("INSERT INTO staged (run_id, records) VALUES ($1, $2)", &[&run_id, &records])
                .await
                .map_err(pg("cannot stage users"))?;
            Ok(())
        })
    }

    fn complete_run(
        &self,
        run_id: i64,
        owner: &str,
        baseline: Baseline,
        totals: &RunTotals,
        policy: ApplyPolicy,
        now: Time,
    ) -> Result<Applied> {
        self.with(async |client| apply::complete(client, run_id, owner, baseline, totals, policy, now).await)
    }

    fn fail_run(&self, run_id: i64, totals: &RunTotals, error: &str, now: Time) -> Result<()> {
        self.with(async |mut client| {
            let e = pg("recording the failed sync");
            let tx = client.transaction().await.map_err(&e)?;
            tx.execute("DELETE FROM staged WHERE run_id = $1", &[&run_id]).await.map_err(&e)?;
            if record_totals(&tx, run_id, totals, Outcome::Failed, now).await? {
                tx.execute("UPDATE runs SET error = $2 WHERE id = $1", &[&run_id, &error]).await.map_err(&e)?;
            }
            tx.commit().await.map_err(&e)
        })
    }

    fn approve_held(&self, connection_id: i64, policy: ApplyPolicy, now: Time) -> Result<Option<Applied>> {
        self.with(async |client| apply::approve(client, connection_id, policy, now).await)
    }

    fn recover_interrupted(&self, is_alive: &dyn Fn(&str) -> bool, now: Time) -> Result<usize> {
        self.with(async |mut client| {
            let e = pg("recovering interrupted syncs");
            let tx = client.transaction().await.map_err(&e)?;
            tx.batch_execute(HOLDS_LOCKS_BRIEFLY).await.map_err(&e)?;
            // A connection an apply has locked is live: looked at again at the next tick.
            let sql = format!("{} FOR UPDATE OF c SKIP LOCKED", super::LEASES_AND_RUNS);
            let rows = tx.query(&sql, &[]).await.map_err(&e)?;
            let rows = rows
                .iter()
                .map(|r| super::LeaseAndRun {
                    connection_id: r.get(0),
                    owner: r.get(1),
                    until: r.get(2),
                    run: r.get(3),
                    run_before_interrupted: r.get(4),
                })
                .collect();
            let mut freed = 0;
            for lease in super::lapsed(rows, is_alive, now) {
                // A row locked after this statement's snapshot is read again as it is now, joined to the
                // run as it was: a run that ended meanwhile is left as it ended, a lease taken since kept.
                if let Some(run) = lease.run {
                    let interrupted = tx
                        .execute(
                            "UPDATE runs SET outcome = 'interrupted', ended_at = $2, error = $3 \
                             WHERE id = $1 AND outcome = 'running'",
                            &[&run, &now, &super::INTERRUPTED],
                        )
                        .await
                        .map_err(&e)?;
                    if interrupted == 0 {
                        continue;
                    }
                    tx.execute("DELETE FROM staged WHERE run_id = $1", &[&run]).await.map_err(&e)?;
                }
                let due = if lease.due_again { now } else { Time::MAX };
                tx.execute(
                    "UPDATE connections SET lease_owner = NULL, lease_until = NULL, \
                     next_sync_at = LEAST(next_sync_at, $2) WHERE id = $1 AND lease_owner IS NOT DISTINCT FROM $3",
                    &[&lease.connection_id, &due, &lease.owner],
                )
                .await
                .map_err(&e)?;
                freed += 1;
            }
            tx.commit().await.map_err(&e)?;
            Ok(freed)
        })
    }

    fn runs(&self, connection_id: i64, limit: i64) -> Result<Vec<Run>> {
        self.with(async |client| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE connection_id = $1 ORDER BY id DESC LIMIT $2");
            let rows = client.query(&sql, &[&connection_id, &limit]).await.map_err(pg("reading runs"))?;
            Ok(rows.iter().map(run_row).collect())
        })
    }

    fn find_users(&self, connection_id: i64, query: &UserQuery) -> Result<Vec<StoredUser>> {
        let mut sql = user_filters(connection_id, query);
        let limit = sql.bind(query.limit.unwrap_or(i64::MAX));
        let offset = sql.bind(query.offset.unwrap_or(0));
        let text = format!(
            "SELECT {USER_COLUMNS}, deleted, first_seen, \
             CASE WHEN deleted THEN last_seen \
             ELSE COALESCE((SELECT users_synced_at FROM connections WHERE id = $1), last_seen) END \
             FROM users WHERE {} ORDER BY {} LIMIT {limit} OFFSET {offset}",
            sql.text,
            super::order_by(query.order, " COLLATE \"C\"")
        );
        self.with(async |client| {
            let rows = client.query(&text, &sql.params()).await.map_err(pg("reading users"))?;
            Ok(rows.iter().map(user_row).collect())
        })
    }

    fn count_users(&self, connection_id: i64, query: &UserQuery) -> Result<i64> {
        let sql = user_filters(connection_id, &UserQuery { after: None, ..query.clone() });
        let text = format!("SELECT COUNT(*) FROM users WHERE {}", sql.text);
        self.with(async |client| one(&client, "counting users", &text, &sql.params()).await)
    }

    fn user_counts(&self, connection_id: i64) -> Result<(i64, i64)> {
        self.with(async |client| {
            let row = client
                .query_one(
                    "SELECT COUNT(*) FILTER (WHERE NOT deleted AND active), COUNT(*) FROM users WHERE connection_id = $1",
                    &[&connection_id],
                )
                .await
                .map_err(pg("counting users"))?;
            Ok((row.get(0), row.get(1)))
        })
    }

    fn license_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>> {
        self.with(async |client| {
            let rows = client
                .query(
                    "SELECT l, COUNT(*) FROM users, jsonb_array_elements_text(users.licenses::jsonb) AS l \
                     WHERE connection_id = $1 AND NOT deleted AND active \
                     GROUP BY l ORDER BY COUNT(*) DESC, l COLLATE \"C\"",
                    &[&connection_id],
                )
                .await
                .map_err(pg("counting licenses"))?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn history(&self, connection_id: i64, query: &HistoryQuery) -> Result<Vec<Change>> {
        let since = query.since.unwrap_or(i64::MIN);
        self.with(async |client| {
            // A user named by email is found among the stored users; an id is taken as it is.
            let rows = client
                .query(
                    "SELECT h.external_id, h.at, h.run_id, h.event, h.detail FROM user_history h \
                     WHERE h.connection_id = $1 AND h.at >= $2 AND ($3::text IS NULL OR h.external_id = $3 OR \
                     h.external_id IN (SELECT external_id FROM users WHERE connection_id = $1 AND lower(email) = lower($3))) \
                     ORDER BY h.id DESC LIMIT $4",
                    &[&connection_id, &since, &query.user, &query.limit],
                )
                .await
                .map_err(pg("reading the history"))?;
            let mut changes = Vec::new();
            for row in rows {
                let Some(event) = Event::parse(row.get(3)) else { continue };
                let detail: Option<String> = row.get(4);
                let (fields, license) = match event {
                    Event::Changed => (detail.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_default(), None),
                    Event::LicenseGained | Event::LicenseLost => (Vec::new(), detail),
                    _ => (Vec::new(), None),
                };
                changes.push(Change { external_id: row.get(0), at: row.get(1), run_id: row.get(2), event, fields, license });
            }
            Ok(changes)
        })
    }

    fn add_notification(&self, connection: Option<&str>, kind: &str, message: &str, now: Time) -> Result<i64> {
        self.with(async |client| {
            one(
                &client,
                "storing the notification",
                "INSERT INTO notifications (connection, created_at, kind, message) VALUES ($1, $2, $3, $4) RETURNING id",
                &[&connection, &now, &kind, &message],
            )
            .await
        })
    }

    fn notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        self.with(async |client| {
            let rows = client
                .query(
                    "SELECT id, connection, created_at, kind, message FROM notifications ORDER BY id DESC LIMIT $1",
                    &[&limit],
                )
                .await
                .map_err(pg("reading notifications"))?;
            Ok(rows
                .iter()
                .map(|r| Notification {
                    id: r.get(0),
                    connection: r.get(1),
                    created_at: r.get(2),
                    kind: r.get(3),
                    message: r.get(4),
                })
                .collect())
        })
    }

    fn save_tokens(&self, id: i64, sealed: &[u8]) -> Result<()> {
        self.with(async |client| {
            client
                .execute("UPDATE connections SET tokens = $2 WHERE id = $1", &[&id, &sealed])
                .await
                .map_err(pg("storing the tokens"))?;
            Ok(())
        })
    }

    fn add_authorization(&self, pending: &PendingAuthorization) -> Result<()> {
        self.with(async |client| {
            client
                .execute(
                    "INSERT INTO authorizations (state, integration, account, verifier, redirect_uri, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &pending.state,
                        &pending.integration,
                        &pending.account,
                        &pending.sealed_verifier,
                        &pending.redirect_uri,
                        &pending.expires_at,
                    ],
                )
                .await
                .map_err(pg("storing the authorization"))?;
            Ok(())
        })
    }

    fn take_authorization(&self, state: &str, now: Time) -> Result<Option<PendingAuthorization>> {
        self.with(async |mut client| {
            let e = pg("reading the authorization");
            let tx = client.transaction().await.map_err(&e)?;
            tx.execute("DELETE FROM authorizations WHERE expires_at < $1 AND state <> $2", &[&now, &state])
                .await
                .map_err(&e)?;
            // Single use: whatever comes of it, a state is never accepted twice.
            let row = tx
                .query_opt(
                    "DELETE FROM authorizations WHERE state = $1 \
                     RETURNING state, integration, account, verifier, redirect_uri, expires_at",
                    &[&state],
                )
                .await
                .map_err(&e)?;
            tx.commit().await.map_err(&e)?;
            Ok(row.map(|r| PendingAuthorization {
                state: r.get(0),
                integration: r.get(1),
                account: r.get(2),
                sealed_verifier: r.get(3),
                redirect_uri: r.get(4),
                expires_at: r.get(5),
            }))
        })
    }

    fn health(&self) -> Result<String> {
        let shown = self.shown.clone();
        self.with(async move |client| {
            let version: i32 = one(&client, "checking the store", "SELECT version FROM tib_schema", &[]).await?;
            let schema: String = one(&client, "checking the store", "SELECT current_schema()", &[]).await?;
            Ok(format!("{shown} (schema {schema}): schema version {version}"))
        })
    }
}
