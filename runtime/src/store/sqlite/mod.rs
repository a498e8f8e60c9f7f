//! The embedded store: one SQLite file (WAL), migrated on open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{OptionalExtension, Transaction, params};

use super::migrate::{Column, Held, Kind};
use super::{
    Applied, ApplyPolicy, Baseline, Change, Claim, Claimed, Connection, Event, FULL_NAME, FieldTest, HistoryQuery,
    NewConnection, Notification, Outcome, PendingAuthorization, Result, Run, RunTotals, Started, Store, StoreError,
    StoredUser, Time, Upserted, UserQuery, UserRow,
};
use apply::{Spool, Target};

mod apply;
mod schema;

use schema::MIGRATIONS;

/// The columns a user row and a staged row share, in this order.
const USER_COLUMNS: &str = "external_id, email, username, full_name, first_name, last_name, role, created_at, \
                            last_seen_at, active, status, licenses, custom_fields";

pub struct Sqlite {
    db: Mutex<rusqlite::Connection>,
    /// Where runs spool their staged users (see [`apply`]).
    staging: PathBuf,
}

fn err(context: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::failed(format!("{context}: {e}"))
}

/// SQLite's own `lower()` folds ASCII only, so `Émile@Example.com` would be
/// found by no search: the store's `lower()` folds all of Unicode, as
/// PostgreSQL's does in a UTF-8 database. No index is built on it.
fn unicode_lower(db: &rusqlite::Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS;
    db.create_scalar_function("lower", 1, flags, |context| {
        use rusqlite::types::ValueRef;
        Ok(match context.get_raw(0) {
            ValueRef::Text(text) | ValueRef::Blob(text) => Some(String::from_utf8_lossy(text).to_lowercase()),
            ValueRef::Integer(n) => Some(n.to_string()),
            ValueRef::Real(x) => Some(x.to_string()),
            ValueRef::Null => None,
        })
    })
    .map_err(err("the lower() function"))
}

/// The SQLite file at `path` opened to read only, with SQLite's URI `options`; and the path as messages show it.
fn read_only(path: &Path, options: &str) -> Result<(rusqlite::Connection, String)> {
    let shown = path.display().to_string();
    let absolute =
        std::fs::canonicalize(path).map_err(|e| StoreError::failed(format!("cannot open the store {shown}: {e}")))?;
    let mut uri = url::Url::from_file_path(&absolute)
        .map_err(|()| StoreError::failed(format!("the store {shown} has no file URL")))?;
    uri.set_query(Some(options));
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let db = rusqlite::Connection::open_with_flags(uri.as_str(), flags)
        .map_err(|e| StoreError::failed(format!("cannot open the store {shown} to read: {e}")))?;
    Ok((db, shown))
}

impl Sqlite {
    /// Opens (creating it and its directory when needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Sqlite> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::failed(format!("cannot create {}: {e}", dir.display())))?;
        }
        let shown = path.display().to_string();
        // Users are personal data: a new store file (and SQLite's WAL beside it, which copies its mode)
        // is the owner's alone.
        if !path.exists() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                // Another process created it meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::failed(format!("cannot create the store {shown}: {e}"))),
                Ok(_) => {}
            }
        }
        let db = rusqlite::Connection::open(path)
            .map_err(|e| StoreError::failed(format!("cannot open the store {shown}: {e}")))?;
        // Another process may be opening the same store: wait for its locks rather than fail.
        db.busy_timeout(std::time::Duration::from_secs(10)).map_err(err("busy timeout"))?;
        // Turning WAL on takes an exclusive lock and does not wait for a busy
        // handler: when two processes open a new store together, the second retries.
        let mut attempts = 0;
        loop {
            // FULL: a committed apply survives a power cut (NORMAL may lose the last commits). It
            // costs one fsync per transaction, and a sync now makes a handful of them, not one a page.
            match db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;") {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 100 =>
                {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(StoreError::failed(match no_space(path) {
                        Some(why) => format!("cannot open the store {shown}: {why} ({e})"),
                        None => format!("the store {shown} is not a usable SQLite database: {e}"),
                    }));
                }
            }
        }
        unicode_lower(&db)?;
        let store = Sqlite { db: Mutex::new(db), staging: apply::staging_dir(path) };
        store.migrate(&shown)?;
        Ok(store)
    }

    /// Opens the store at `path` to read only, as it is on disk, for the
    /// commands that only read when [`Sqlite::open`] cannot (a full disk, on
    /// which SQLite cannot make the shared-memory file a WAL store needs).
    /// Immutable: what a running process has not yet written back is not seen.
    pub fn open_read_only(path: &Path) -> Result<Sqlite> {
        let (db, shown) = read_only(path, "immutable=1")?;
        let version: usize = db.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err("schema version"))?;
        if version != MIGRATIONS.len() {
            return Err(StoreError::failed(format!(
                "the store {shown} has schema version {version}, not this runtime's {}",
                MIGRATIONS.len()
            )));
        }
        unicode_lower(&db)?;
        Ok(Sqlite { db: Mutex::new(db), staging: apply::staging_dir(path) })
    }

    /// Opens the store at `path` to move it elsewhere: read only (not
    /// immutable, so that what a stopped process left in the WAL is read),
    /// and only if it is a tib store of this runtime's schema: an empty file
    /// or another database is refused, and nothing is written to it.
    pub fn open_to_move(path: &Path) -> Result<Sqlite> {
        let (db, shown) = read_only(path, "mode=ro")?;
        let not_a_store = |why: String| StoreError::failed(format!("{shown} is not a tib store: {why}"));
        let version: usize =
            db.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| not_a_store(e.to_string()))?;
        let tables: i64 = db
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'connections'", [], |r| {
                r.get(0)
            })
            .map_err(|e| not_a_store(e.to_string()))?;
        if version == 0 || tables == 0 {
            return Err(not_a_store("it holds no tib schema".to_owned()));
        }
        if version != MIGRATIONS.len() {
            return Err(StoreError::failed(format!(
                "the store {shown} has schema version {version}, not this runtime's {}: open it once with this \
                 tib (`tib --store {shown} list`), then move it",
                MIGRATIONS.len()
            )));
        }
        unicode_lower(&db)?;
        Ok(Sqlite { db: Mutex::new(db), staging: apply::staging_dir(path) })
    }

    fn migrate(&self, shown: &str) -> Result<()> {
        let mut db = self.lock();
        let version: usize = db.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err("schema version"))?;
        if version > MIGRATIONS.len() {
            return Err(StoreError::failed(format!(
                "the store {shown} has schema version {version}, newer than this runtime's {}; use a newer tib",
                MIGRATIONS.len()
            )));
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            // The write lock first, then the version again: a process that
            // opened the store at the same time may have migrated it meanwhile.
            let tx =
                db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err("migration"))?;
            let now: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err("schema version"))?;
            if now > index {
                continue;
            }
            tx.execute_batch(migration).map_err(err("migration"))?;
            tx.pragma_update(None, "user_version", index + 1).map_err(err("migration"))?;
            tx.commit().map_err(err("migration"))?;
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, rusqlite::Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn in_transaction<T>(&self, context: &str, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.in_transaction_on(&mut self.lock(), context, f)
    }

    fn in_transaction_on<T>(
        &self,
        db: &mut rusqlite::Connection,
        context: &str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        // Immediate: the write lock is taken (waiting for it) before the first
        // read, so a transaction that reads then writes cannot fail to upgrade
        // when another process writes the store.
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err(context))?;
        let value = f(&tx)?;
        tx.commit().map_err(err(context))?;
        Ok(value)
    }

    /// Removes the spools of runs that will never apply (failed, interrupted,
    /// superseded, or gone with their connection): what a full disk or a
    /// killed process left behind.
    fn sweep_staging(&self) -> Result<()> {
        let runs = apply::spooled_runs(&self.staging);
        if runs.is_empty() {
            return Ok(());
        }
        let mut live = Vec::new();
        {
            let db = self.lock();
            let mut statement =
                db.prepare_cached("SELECT outcome FROM runs WHERE id = ?1").map_err(err("sweeping the staging"))?;
            for run in &runs {
                let outcome: Option<String> =
                    statement.query_row([run], |r| r.get(0)).optional().map_err(err("sweeping the staging"))?;
                if matches!(outcome.as_deref(), Some("running" | "held")) {
                    live.push(*run);
                }
            }
        }
        let gone: Vec<i64> = runs.into_iter().filter(|r| !live.contains(r)).collect();
        remove_spools(&self.staging, &gone);
        Ok(())
    }
}

impl Sqlite {
    /// A table's values, column by column (the rows `filter` selects, or all), for a move to
    /// another store.
    pub(crate) fn dump(&self, table: &str, columns: &[(&str, Kind)], filter: Option<&str>) -> Result<Vec<Column>> {
        let e = err("reading the store to move it");
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
        let db = self.lock();
        let mut statement = db.prepare(&format!("SELECT {} FROM {table}{filter}", names.join(", "))).map_err(&e)?;
        let mut values: Vec<Column> = columns
            .iter()
            .map(|(_, kind)| match kind {
                Kind::Int => Column::Int(Vec::new()),
                Kind::Text => Column::Text(Vec::new()),
                Kind::Blob => Column::Blob(Vec::new()),
                Kind::Bool => Column::Bool(Vec::new()),
            })
            .collect();
        let mut rows = statement.query([]).map_err(&e)?;
        while let Some(row) = rows.next().map_err(&e)? {
            for (i, column) in values.iter_mut().enumerate() {
                match column {
                    Column::Int(v) => v.push(row.get(i).map_err(&e)?),
                    Column::Text(v) => v.push(row.get(i).map_err(&e)?),
                    Column::Blob(v) => v.push(row.get(i).map_err(&e)?),
                    Column::Bool(v) => v.push(row.get(i).map_err(&e)?),
                }
            }
        }
        Ok(values)
    }

    /// Every held run with its spooled records and kept digests.
    pub(crate) fn held_runs(&self) -> Result<Vec<Held>> {
        let ids = match self.dump("runs", &[("id", Kind::Int)], Some("outcome = 'held'"))?.pop() {
            Some(Column::Int(ids)) => ids.into_iter().flatten().collect::<Vec<i64>>(),
            _ => Vec::new(),
        };
        let mut held = Vec::new();
        for run_id in ids {
            let spool = Spool::of(&self.staging, run_id);
            let mut batches = Vec::new();
            spool.for_each_chunk(|_, chunk| {
                batches.push(chunk.to_vec());
                Ok(())
            })?;
            let kept = std::fs::read(&spool.kept)
                .map_err(|e| StoreError::failed(format!("cannot read the held sync {}: {e}", spool.kept.display())))?;
            held.push(Held { run_id, batches, kept });
        }
        Ok(held)
    }
}

fn remove_spools(dir: &Path, runs: &[i64]) {
    for run in runs {
        Spool::of(dir, *run).remove();
    }
}

/// The run to apply, with its connection.
fn target(tx: &Transaction<'_>, run_id: i64, now: Time) -> Result<Target> {
    tx.query_row(
        "SELECT c.id, c.replace_users, c.users_synced_at FROM runs r JOIN connections c ON c.id = r.connection_id \
         WHERE r.id = ?1",
        [run_id],
        |r| Ok(Target { connection_id: r.get(0)?, run_id, replace: r.get(1)?, synced_before: r.get(2)?, now }),
    )
    .map_err(err("completing the sync"))
}

/// Marks the connection's held runs other than `run_id` superseded; returns them.
fn supersede_held(tx: &Transaction<'_>, connection_id: i64, run_id: i64) -> Result<Vec<i64>> {
    let e = err("completing the sync");
    let mut statement = tx
        .prepare_cached(
            "UPDATE runs SET outcome = 'superseded' WHERE connection_id = ?1 AND outcome = 'held' AND id <> ?2 \
             RETURNING id",
        )
        .map_err(&e)?;
    let rows = statement.query_map([connection_id, run_id], |r| r.get(0)).map_err(&e)?;
    rows.collect::<rusqlite::Result<_>>().map_err(&e)
}

/// After the records: the deletions, the history kept, the connection's users version moved on.
fn finish(
    tx: &Transaction<'_>,
    target: &Target,
    baseline: Baseline,
    written: crate::store::applying::Written,
    policy: ApplyPolicy,
) -> Result<Applied> {
    // Nothing unlisted (the daily case): no pass over the account at all.
    let deleted =
        if written.unlisted > 0 || target.replace { apply::delete_unlisted(tx, target, baseline)? } else { 0 };
    apply::prune_history(tx, target.connection_id, target.now.saturating_sub(policy.keep_history_secs))?;
    tx.execute(
        "UPDATE connections SET replace_users = 0, users_version = users_version + 1, users_synced_at = ?2 \
         WHERE id = ?1",
        [target.connection_id, target.now],
    )
    .map_err(err("applying the sync"))?;
    Ok(Applied::Applied { added: written.added, updated: written.updated, deleted })
}

fn record_changes(tx: &Transaction<'_>, run_id: i64, applied: Applied) -> Result<()> {
    if let Applied::Applied { added, updated, deleted } = applied {
        tx.execute(
            "UPDATE runs SET added = ?2, updated = ?3, deleted = ?4 WHERE id = ?1",
            [run_id, added, updated, deleted],
        )
        .map_err(err("recording the run"))?;
    }
    Ok(())
}

/// Why SQLite may have failed with an I/O error: the file system holding the
/// store is full, found by writing a little beside it (and removing it).
fn no_space(store: &Path) -> Option<String> {
    use std::io::Write;
    let dir = store.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let probe = dir.join(format!(".tib-space-{}", std::process::id()));
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        file.write_all(&[0u8; 64 << 10])?;
        file.sync_data()
    });
    let _ = std::fs::remove_file(&probe);
    match written {
        Err(e) if e.raw_os_error() == Some(28) || e.kind() == std::io::ErrorKind::StorageFull => {
            Some(format!("the disk holding it is full; free space in {}", dir.display()))
        }
        _ => None,
    }
}

fn connection_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Connection> {
    Ok(Connection {
        id: row.get(0)?,
        integration: row.get(1)?,
        account: row.get(2)?,
        sealed_credentials: row.get(3)?,
        base_url: row.get(4)?,
        enabled: row.get(5)?,
        disabled_reason: row.get(6)?,
        interval_secs: row.get(7)?,
        next_sync_at: row.get(8)?,
        replace_users: row.get(9)?,
        token_url: row.get(10)?,
        authorize_url: row.get(11)?,
        sealed_tokens: row.get(12)?,
    })
}

const CONNECTION_COLUMNS: &str = "id, integration, account, credentials, base_url, enabled, disabled_reason, \
                                  interval_secs, next_sync_at, replace_users, token_url, authorize_url, tokens";

fn run_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Run> {
    let reasons: String = row.get(8)?;
    Ok(Run {
        id: row.get(0)?,
        connection_id: row.get(1)?,
        started_at: row.get(2)?,
        ended_at: row.get(3)?,
        outcome: Outcome::parse(&row.get::<_, String>(4)?),
        pages: row.get(5)?,
        users_seen: row.get(6)?,
        users_dropped: row.get(7)?,
        dropped_reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        error: row.get(9)?,
        added: row.get(10)?,
        updated: row.get(11)?,
        deleted: row.get(12)?,
    })
}

const RUN_COLUMNS: &str = "id, connection_id, started_at, ended_at, outcome, pages, users_seen, users_dropped, dropped_reasons, error, \
     added, updated, deleted";

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// Records how a run ended, and frees its connection's lease; unless the run
/// ended already (recorded as interrupted when its lease lapsed): then nothing
/// changes, and false.
fn record_totals(tx: &Transaction<'_>, run_id: i64, totals: &RunTotals, outcome: Outcome, now: Time) -> Result<bool> {
    let dropped: i64 = totals.dropped_reasons.iter().map(|(_, n)| n).sum();
    let ended = tx
        .execute(
            "UPDATE runs SET outcome = ?2, ended_at = ?3, pages = ?4, users_seen = ?5, users_dropped = ?6, \
         dropped_reasons = ?7 WHERE id = ?1 AND outcome = 'running'",
            params![
                run_id,
                outcome.as_str(),
                now,
                totals.pages,
                totals.users_seen,
                dropped,
                json_text(&totals.dropped_reasons)
            ],
        )
        .map_err(err("recording the run"))?;
    if ended == 1 {
        tx.execute(
            "UPDATE connections SET lease_owner = NULL, lease_until = NULL \
             WHERE id = (SELECT connection_id FROM runs WHERE id = ?1)",
            [run_id],
        )
        .map_err(err("recording the run"))?;
    }
    Ok(ended == 1)
}

impl Store for Sqlite {
    fn upsert_connection(&self, new: &NewConnection<'_>) -> Result<Upserted> {
        self.in_transaction("saving the connection", |tx| {
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM connections WHERE integration = ?1 AND account = ?2",
                    [new.integration, new.account],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err("saving the connection"))?;
            match existing {
                Some(id) => {
                    tx.execute(
                        "UPDATE connections SET credentials = ?2, base_url = ?3, enabled = ?6, disabled_reason = ?7, \
                         interval_secs = ?4, next_sync_at = ?5, replace_users = 1, token_url = ?8, \
                         authorize_url = ?9, tokens = NULL WHERE id = ?1",
                        params![
                            id,
                            new.sealed_credentials,
                            new.base_url,
                            new.interval_secs,
                            new.next_sync_at,
                            new.waiting_reason.is_none(),
                            new.waiting_reason,
                            new.token_url,
                            new.authorize_url
                        ],
                    )
                    .map_err(err("saving the connection"))?;
                    Ok(Upserted::Replaced)
                }
                None => {
                    tx.execute(
                        "INSERT INTO connections (integration, account, credentials, base_url, interval_secs, \
                         next_sync_at, created_at, enabled, disabled_reason, token_url, authorize_url) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10)",
                        params![
                            new.integration,
                            new.account,
                            new.sealed_credentials,
                            new.base_url,
                            new.interval_secs,
                            new.next_sync_at,
                            new.waiting_reason.is_none(),
                            new.waiting_reason,
                            new.token_url,
                            new.authorize_url
                        ],
                    )
                    .map_err(err("saving the connection"))?;
                    Ok(Upserted::Created)
                }
            }
        })
    }

    fn connection(&self, integration: &str, account: &str) -> Result<Option<Connection>> {
        self.lock()
            .query_row(
                &format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE integration = ?1 AND account = ?2"),
                [integration, account],
                connection_row,
            )
            .optional()
            .map_err(err("reading the connection"))
    }

    fn connections(&self) -> Result<Vec<Connection>> {
        let db = self.lock();
        let mut statement = db
            .prepare(&format!("SELECT {CONNECTION_COLUMNS} FROM connections ORDER BY integration, account"))
            .map_err(err("reading connections"))?;
        let rows = statement.query_map([], connection_row).map_err(err("reading connections"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading connections"))
    }

    fn remove_connection(&self, id: i64) -> Result<bool> {
        let removed = self
            .lock()
            .execute("DELETE FROM connections WHERE id = ?1", [id])
            .map_err(err("removing the connection"))?;
        Ok(removed > 0)
    }

    fn set_enabled(&self, id: i64, enabled: bool, reason: Option<&str>) -> Result<()> {
        self.lock()
            .execute(
                "UPDATE connections SET enabled = ?2, disabled_reason = ?3 WHERE id = ?1",
                params![id, enabled, reason],
            )
            .map_err(err("updating the connection"))?;
        Ok(())
    }

    fn set_next_sync(&self, id: i64, at: Time) -> Result<()> {
        self.lock()
            .execute("UPDATE connections SET next_sync_at = ?2 WHERE id = ?1", params![id, at])
            .map_err(err("scheduling the connection"))?;
        Ok(())
    }

    fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Claimed>> {
        // One writer at a time: the counts of leases per integration hold until the claims are written.
        self.in_transaction("claiming the due connections", |tx| {
            let e = err("claiming the due connections");
            let leased: HashMap<String, usize> = {
                let mut statement = tx
                    .prepare_cached(
                        "SELECT integration, COUNT(*) FROM connections WHERE lease_owner IS NOT NULL GROUP BY integration",
                    )
                    .map_err(&e)?;
                let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize))).map_err(&e)?;
                rows.collect::<rusqlite::Result<_>>().map_err(&e)?
            };
            let candidates: Vec<(Connection, bool)> = {
                let slow = super::slow_sql("?1", "?2");
                let mut statement = tx
                    .prepare_cached(&format!(
                        "SELECT {CONNECTION_COLUMNS}, {slow} FROM connections c \
                         WHERE enabled = 1 AND next_sync_at <= ?1 AND lease_owner IS NULL \
                         AND integration NOT IN (SELECT value FROM json_each(?3)) AND (?4 OR NOT {slow}) \
                         ORDER BY next_sync_at, id LIMIT ?5"
                    ))
                    .map_err(&e)?;
                let passed_over = json_text(&super::at_cap(claim, &leased));
                let rows = statement
                    .query_map(
                        params![claim.now, claim.slow_after, passed_over, claim.slow_limit > 0, super::candidates(claim)],
                        |r| Ok((connection_row(r)?, r.get(13)?)),
                    )
                    .map_err(&e)?;
                rows.collect::<rusqlite::Result<_>>().map_err(&e)?
            };
            let chosen = super::choose(claim, candidates, leased);
            let mut update = tx
                .prepare_cached(
                    "UPDATE connections SET next_sync_at = ?2, lease_owner = ?3, lease_until = ?4 WHERE id = ?1",
                )
                .map_err(&e)?;
            for claimed in &chosen {
                let next = (claim.next)(&claimed.connection);
                update.execute(params![claimed.connection.id, next, claim.owner, claim.until]).map_err(&e)?;
            }
            Ok(chosen)
        })
    }

    fn renew_leases(&self, owner: &str, ids: &[i64], until: Time) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        // Numbers only, so written into the statement (PostgreSQL binds them as an array).
        let listed: Vec<String> = ids.iter().map(i64::to_string).collect();
        let sql =
            format!("UPDATE connections SET lease_until = ?2 WHERE lease_owner = ?1 AND id IN ({})", listed.join(", "));
        self.lock().execute(&sql, params![owner, until]).map_err(err("renewing the leases"))
    }

    fn try_lease(&self, id: i64, owner: &str, until: Time) -> Result<bool> {
        let taken = self
            .lock()
            .execute(
                "UPDATE connections SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1 AND lease_owner IS NULL",
                params![id, owner, until],
            )
            .map_err(err("taking the connection"))?;
        Ok(taken == 1)
    }

    fn release(&self, id: i64, owner: &str) -> Result<()> {
        self.lock()
            .execute(
                "UPDATE connections SET lease_owner = NULL, lease_until = NULL WHERE id = ?1 AND lease_owner = ?2",
                params![id, owner],
            )
            .map_err(err("releasing the connection"))?;
        Ok(())
    }

    fn start_run(&self, connection_id: i64, owner: &str, now: Time) -> Result<Started> {
        self.sweep_staging()?;
        let run_id = self.in_transaction("starting the run", |tx| {
            let started = tx
                .execute(
                    "INSERT INTO runs (connection_id, started_at, outcome) SELECT id, ?2, 'running' FROM connections \
                     WHERE id = ?1 AND lease_owner = ?3",
                    params![connection_id, now, owner],
                )
                .map_err(err("starting the run"))?;
            if started == 0 {
                return Err(super::not_leased(owner));
            }
            Ok(tx.last_insert_rowid())
        })?;
        // Read apart from the write lock, in one snapshot: the version says which users the digests are of.
        let mut db = self.lock();
        let e = err("reading the stored users' digests");
        let tx = db.transaction().map_err(&e)?;
        let version: i64 = tx
            .query_row("SELECT users_version FROM connections WHERE id = ?1", [connection_id], |r| r.get(0))
            .map_err(&e)?;
        let (mut digests, mut present) = (Vec::new(), 0);
        {
            let mut statement =
                tx.prepare_cached("SELECT digest FROM users WHERE connection_id = ?1 AND deleted = 0").map_err(&e)?;
            let mut rows = statement.query([connection_id]).map_err(&e)?;
            while let Some(row) = rows.next().map_err(&e)? {
                present += 1;
                if let Some(digest) = row.get::<_, Option<i64>>(0).map_err(&e)? {
                    digests.push(digest as u64);
                }
            }
        }
        tx.commit().map_err(&e)?;
        Ok(Started { run_id, baseline: Baseline::new(digests, present, version) })
    }

    fn stage(&self, run_id: i64, records: &[u8]) -> Result<()> {
        Spool::of(&self.staging, run_id).append(records)
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
        let spool = Spool::of(&self.staging, run_id);
        let mut db = self.lock();
        let e = err("completing the sync");
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&e)?;
        let target = target(&tx, run_id, now)?;
        let (leased, outcome): (Option<String>, String) = tx
            .query_row(
                "SELECT c.lease_owner, r.outcome FROM runs r JOIN connections c ON c.id = r.connection_id WHERE r.id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&e)?;
        super::may_apply(leased.as_deref(), owner, Outcome::parse(&outcome))?;
        // An earlier held run is moot now: this one is newer.
        let superseded = supersede_held(&tx, target.connection_id, run_id)?;
        let version: i64 = tx
            .query_row("SELECT users_version FROM connections WHERE id = ?1", [target.connection_id], |r| r.get(0))
            .map_err(&e)?;
        if version != baseline.version() {
            return Err(StoreError::conflict(
                "the stored users changed while this sync ran (a held sync was approved); it is retried at the next"
                    .to_owned(),
            ));
        }
        let written = apply::write_records(&tx, &target, &baseline, &spool)?;
        let hold = policy.hold;
        let (would_delete, present) = (written.unlisted, baseline.present() as i64);
        // Connecting again (to rotate a token) replaces the users, but under the same hold:
        // an API that then answers with nobody must not wipe the account.
        if would_delete > hold.min_users && would_delete as f64 > hold.max_share * present as f64 {
            drop(tx);
            spool.hold(&baseline)?;
            self.in_transaction_on(&mut db, "holding the sync", |tx| {
                supersede_held(tx, target.connection_id, run_id)?;
                tx.execute("UPDATE runs SET users_version = ?2 WHERE id = ?1", [run_id, version])
                    .map_err(err("holding the sync"))?;
                record_totals(tx, run_id, totals, Outcome::Held, now).map(drop)
            })?;
            drop(db);
            remove_spools(&self.staging, &superseded);
            return Ok(Applied::Held { would_delete, of: present });
        }
        let applied = finish(&tx, &target, baseline, written, policy)?;
        record_totals(&tx, run_id, totals, Outcome::Applied, now)?;
        record_changes(&tx, run_id, applied)?;
        tx.commit().map_err(&e)?;
        drop(db);
        spool.remove();
        remove_spools(&self.staging, &superseded);
        Ok(applied)
    }

    fn fail_run(&self, run_id: i64, totals: &RunTotals, error: &str, now: Time) -> Result<()> {
        // The spool goes first: a sync that filled the disk leaves the room its failure needs.
        Spool::of(&self.staging, run_id).remove();
        self.in_transaction("recording the failed sync", |tx| {
            if record_totals(tx, run_id, totals, Outcome::Failed, now)? {
                tx.execute("UPDATE runs SET error = ?2 WHERE id = ?1", params![run_id, error])
                    .map_err(err("recording the failed sync"))?;
            }
            Ok(())
        })
    }

    fn approve_held(&self, connection_id: i64, policy: ApplyPolicy, now: Time) -> Result<Option<Applied>> {
        let e = err("approving the held sync");
        let held: Option<(i64, Option<i64>)> = self
            .lock()
            .query_row(
                "SELECT id, users_version FROM runs WHERE connection_id = ?1 AND outcome = 'held' ORDER BY id DESC LIMIT 1",
                [connection_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(&e)?;
        let Some((run_id, held_version)) = held else { return Ok(None) };
        let spool = Spool::of(&self.staging, run_id);
        let kept = spool.kept()?;
        let applied = self.in_transaction("approving the held sync", |tx| {
            let target = target(tx, run_id, now)?;
            let (version, present): (i64, i64) = tx
                .query_row(
                    "SELECT users_version, (SELECT COUNT(*) FROM users WHERE connection_id = ?1 AND deleted = 0)                      FROM connections WHERE id = ?1",
                    [connection_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(&e)?;
            if Some(version) != held_version {
                return Err(StoreError::conflict("the stored users changed since this sync was held; sync again".to_owned()));
            }
            let baseline = Baseline::from_kept(kept, present as usize, version);
            let written = apply::write_records(tx, &target, &baseline, &spool)?;
            let applied = finish(tx, &target, baseline, written, policy)?;
            tx.execute("UPDATE runs SET outcome = 'approved' WHERE id = ?1", [run_id]).map_err(&e)?;
            record_changes(tx, run_id, applied)?;
            Ok(applied)
        })?;
        spool.remove();
        Ok(Some(applied))
    }

    fn recover_interrupted(&self, is_alive: &dyn Fn(&str) -> bool, now: Time) -> Result<usize> {
        let lapsed = self.in_transaction("recovering interrupted syncs", |tx| {
            let e = err("recovering interrupted syncs");
            let rows = {
                let mut statement = tx.prepare(super::LEASES_AND_RUNS).map_err(&e)?;
                let rows = statement
                    .query_map([], |r| {
                        Ok(super::LeaseAndRun {
                            connection_id: r.get(0)?,
                            owner: r.get(1)?,
                            until: r.get(2)?,
                            run: r.get(3)?,
                            run_before_interrupted: r.get(4)?,
                        })
                    })
                    .map_err(&e)?;
                rows.collect::<rusqlite::Result<_>>().map_err(&e)?
            };
            let mut freed = Vec::new();
            for lease in super::lapsed(rows, is_alive, now) {
                // Each change only if what was read still holds, as in the PostgreSQL store.
                if let Some(run) = lease.run {
                    let interrupted = tx
                        .execute(
                            "UPDATE runs SET outcome = 'interrupted', ended_at = ?2, error = ?3 \
                             WHERE id = ?1 AND outcome = 'running'",
                            params![run, now, super::INTERRUPTED],
                        )
                        .map_err(&e)?;
                    if interrupted == 0 {
                        continue;
                    }
                }
                let due = if lease.due_again { now } else { Time::MAX };
                tx.execute(
                    "UPDATE connections SET lease_owner = NULL, lease_until = NULL, next_sync_at = MIN(next_sync_at, ?2) \
                     WHERE id = ?1 AND lease_owner IS ?3",
                    params![lease.connection_id, due, lease.owner],
                )
                .map_err(&e)?;
                freed.push(lease);
            }
            Ok(freed)
        })?;
        remove_spools(&self.staging, &lapsed.iter().filter_map(|lease| lease.run).collect::<Vec<_>>());
        Ok(lapsed.len())
    }

    fn runs(&self, connection_id: i64, limit: i64) -> Result<Vec<Run>> {
        let db = self.lock();
        let mut statement = db
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE connection_id = ?1 ORDER BY id DESC LIMIT ?2"))
            .map_err(err("reading runs"))?;
        let rows = statement.query_map([connection_id, limit], run_row).map_err(err("reading runs"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading runs"))
    }

    fn find_users(&self, connection_id: i64, query: &UserQuery) -> Result<Vec<StoredUser>> {
        let db = self.lock();
        let (filters, mut values) = user_filters(connection_id, query);
        values.push(query.limit.unwrap_or(-1).into());
        values.push(query.offset.unwrap_or(0).into());
        let mut statement = db
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS}, deleted, first_seen, \
                 CASE WHEN deleted THEN last_seen \
                 ELSE COALESCE((SELECT users_synced_at FROM connections WHERE id = ?1), last_seen) END \
                 FROM users WHERE {filters} ORDER BY {} LIMIT ? OFFSET ?",
                super::order_by(query.order, "")
            ))
            .map_err(err("reading users"))?;
        let values = rusqlite::params_from_iter(values);
        let rows = statement
            .query_map(values, |r| {
                let licenses: String = r.get(11)?;
                let custom: String = r.get(12)?;
                Ok(StoredUser {
                    user: UserRow {
                        external_id: r.get(0)?,
                        email: r.get(1)?,
                        username: r.get(2)?,
                        full_name: r.get(3)?,
                        first_name: r.get(4)?,
                        last_name: r.get(5)?,
                        role: r.get(6)?,
                        created_at: r.get(7)?,
                        last_seen_at: r.get(8)?,
                        active: r.get(9)?,
                        status: r.get(10)?,
                        licenses: serde_json::from_str(&licenses).unwrap_or_default(),
                        custom_fields: serde_json::from_str(&custom).unwrap_or_default(),
                    },
                    deleted: r.get(13)?,
                    first_seen: r.get(14)?,
                    last_seen: r.get(15)?,
                })
            })
            .map_err(err("reading users"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading users"))
    }

    fn count_users(&self, connection_id: i64, query: &UserQuery) -> Result<i64> {
        let db = self.lock();
        let (filters, values) = user_filters(connection_id, &UserQuery { after: None, ..query.clone() });
        db.prepare_cached(&format!("SELECT COUNT(*) FROM users WHERE {filters}"))
            .and_then(|mut statement| statement.query_row(rusqlite::params_from_iter(values), |r| r.get(0)))
            .map_err(err("counting users"))
    }

    fn user_counts(&self, connection_id: i64) -> Result<(i64, i64)> {
        self.lock()
            .query_row(
                "SELECT COALESCE(SUM(deleted = 0 AND active = 1), 0), COUNT(*) FROM users WHERE connection_id = ?1",
                [connection_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err("counting users"))
    }

    fn license_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>> {
        let db = self.lock();
        let mut statement = db
            .prepare_cached(
                "SELECT license.value, COUNT(*) FROM users, json_each(users.licenses) AS license \
                 WHERE connection_id = ?1 AND deleted = 0 AND active = 1 \
                 GROUP BY license.value ORDER BY COUNT(*) DESC, license.value",
            )
            .map_err(err("counting licenses"))?;
        let rows =
            statement.query_map([connection_id], |r| Ok((r.get(0)?, r.get(1)?))).map_err(err("counting licenses"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("counting licenses"))
    }

    fn history(&self, connection_id: i64, query: &HistoryQuery) -> Result<Vec<Change>> {
        let e = err("reading the history");
        let db = self.lock();
        // A user named by email is found among the stored users; an id is taken as it is.
        let mut statement = db
            .prepare(
                "SELECT h.external_id, h.at, h.run_id, h.event, h.detail FROM user_history h \
                 WHERE h.connection_id = ?1 AND h.at >= ?2 AND (?3 IS NULL OR h.external_id = ?3 OR h.external_id IN \
                 (SELECT external_id FROM users WHERE connection_id = ?1 AND email = ?3 COLLATE NOCASE)) \
                 ORDER BY h.id DESC LIMIT ?4",
            )
            .map_err(&e)?;
        let rows = statement
            .query_map(params![connection_id, query.since.unwrap_or(i64::MIN), query.user, query.limit], |r| {
                let event: String = r.get(3)?;
                let detail: Option<String> = r.get(4)?;
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, event, detail))
            })
            .map_err(&e)?;
        let mut changes = Vec::new();
        for row in rows {
            let (external_id, at, run_id, event, detail): (String, Time, i64, String, Option<String>) =
                row.map_err(&e)?;
            let Some(event) = Event::parse(&event) else { continue };
            let (fields, license) = match event {
                Event::Changed => (detail.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_default(), None),
                Event::LicenseGained | Event::LicenseLost => (Vec::new(), detail),
                _ => (Vec::new(), None),
            };
            changes.push(Change { external_id, at, run_id, event, fields, license });
        }
        Ok(changes)
    }

    fn add_notification(&self, connection: Option<&str>, kind: &str, message: &str, now: Time) -> Result<i64> {
        let db = self.lock();
        db.execute(
            "INSERT INTO notifications (connection, created_at, kind, message) VALUES (?1, ?2, ?3, ?4)",
            params![connection, now, kind, message],
        )
        .map_err(err("storing the notification"))?;
        Ok(db.last_insert_rowid())
    }

    fn notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        let db = self.lock();
        let mut statement = db
            .prepare("SELECT id, connection, created_at, kind, message FROM notifications ORDER BY id DESC LIMIT ?1")
            .map_err(err("reading notifications"))?;
        let rows = statement
            .query_map([limit], |r| {
                Ok(Notification {
                    id: r.get(0)?,
                    connection: r.get(1)?,
                    created_at: r.get(2)?,
                    kind: r.get(3)?,
                    message: r.get(4)?,
                })
            })
            .map_err(err("reading notifications"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading notifications"))
    }

    fn save_tokens(&self, id: i64, sealed: &[u8]) -> Result<()> {
        self.lock()
            .execute("UPDATE connections SET tokens = ?2 WHERE id = ?1", params![id, sealed])
            .map_err(err("storing the tokens"))?;
        Ok(())
    }

    fn add_authorization(&self, pending: &PendingAuthorization) -> Result<()> {
        self.lock()
            .execute(
                "INSERT INTO authorizations (state, integration, account, verifier, redirect_uri, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    pending.state,
                    pending.integration,
                    pending.account,
                    pending.sealed_verifier,
                    pending.redirect_uri,
                    pending.expires_at
                ],
            )
            .map_err(err("storing the authorization"))?;
        Ok(())
    }

    fn take_authorization(&self, state: &str, now: Time) -> Result<Option<PendingAuthorization>> {
        self.in_transaction("reading the authorization", |tx| {
            let e = err("reading the authorization");
            tx.execute("DELETE FROM authorizations WHERE expires_at < ?1 AND state <> ?2", params![now, state])
                .map_err(&e)?;
            let pending = tx
                .query_row(
                    "SELECT state, integration, account, verifier, redirect_uri, expires_at FROM authorizations \
                     WHERE state = ?1",
                    [state],
                    |r| {
                        Ok(PendingAuthorization {
                            state: r.get(0)?,
                            integration: r.get(1)?,
                            account: r.get(2)?,
                            sealed_verifier: r.get(3)?,
                            redirect_uri: r.get(4)?,
                            expires_at: r.get(5)?,
                        })
                    },
                )
                .optional()
                .map_err(&e)?;
            // Single use: whatever comes of it, a state is never accepted twice.
            tx.execute("DELETE FROM authorizations WHERE state = ?1", [state]).map_err(&e)?;
            Ok(pending)
        })
    }

    fn health(&self) -> Result<String> {
        let db = self.lock();
        let check: String = db.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(err("checking the store"))?;
        let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err("checking the store"))?;
        let path = db.path().unwrap_or("(memory)").to_owned();
        Ok(format!("SQLite {path}: schema {version}, integrity {check}"))
    }
}

/// The WHERE clause of a user query and its parameters (the connection's id is `?1`).
fn user_filters(connection_id: i64, query: &UserQuery) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut sql = String::from("connection_id = ?1");
    let mut values: Vec<Value> = vec![connection_id.into()];
    let mut and = |clause: &str, params: Vec<Value>| {
        sql.push_str(" AND (");
        sql.push_str(clause);
        sql.push(')');
        values.extend(params);
    };
    if let Some(access) = query.access {
        and("(deleted = 0 AND active = 1) = ?", vec![access.into()]);
    }
    if let Some(license) = &query.license {
        and("EXISTS (SELECT 1 FROM json_each(licenses) WHERE value = ?)", vec![license.clone().into()]);
    }
    if let Some(since) = query.changed_since {
        and("run_id IN (SELECT id FROM runs WHERE connection_id = ?1 AND ended_at >= ?)", vec![since.into()]);
    }
    if let Some(search) = &query.search {
        // The name searched is the whole name, or first and last.
        let clause = format!("instr(lower(email), lower(?)) > 0 OR instr(lower({FULL_NAME}), lower(?)) > 0");
        and(&clause, vec![search.clone().into(), search.clone().into()]);
    }
    if let Some(after) = &query.after {
        and("external_id > ?", vec![after.clone().into()]);
    }
    for condition in &query.conditions {
        let (field, exact) = super::condition_column(condition.field);
        let folded = if exact { field.to_owned() } else { format!("lower({field})") };
        let param = |text: &String| if exact { text.clone() } else { text.to_lowercase() };
        match &condition.test {
            FieldTest::Equals(text) => and(&format!("{folded} = ?"), vec![param(text).into()]),
            FieldTest::Contains(text) => and(&format!("instr({folded}, ?) > 0"), vec![param(text).into()]),
            FieldTest::StartsWith(text) => {
                let text = param(text);
                and(&format!("substr({folded}, 1, length(?)) = ?"), vec![text.clone().into(), text.into()]);
            }
            FieldTest::Present => and(&format!("{field} IS NOT NULL AND {field} != ''"), Vec::new()),
            FieldTest::Is(yes) => and(&format!("{field} = ?"), vec![(*yes).into()]),
        }
    }
    (sql, values)
}
