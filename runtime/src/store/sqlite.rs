//! The embedded store: one SQLite file (WAL), migrated on open.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{OptionalExtension, Transaction, params};

use super::{
    Applied, Connection, HoldPolicy, NewConnection, Notification, Outcome, PendingAuthorization, Result, Run,
    RunTotals, Store, StoreError, StoredUser, Time, Upserted, UserRow,
};

/// Each entry moves the schema one version on; `PRAGMA user_version` says how far a file is.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE connections (
    id              INTEGER PRIMARY KEY,
    integration     TEXT NOT NULL,
    account         TEXT NOT NULL,
    credentials     BLOB NOT NULL,
    base_url        TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    interval_secs   INTEGER NOT NULL,
    next_sync_at    INTEGER NOT NULL,
    replace_users   INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (integration, account)
);
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    connection_id   INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    outcome         TEXT NOT NULL,
    pages           INTEGER NOT NULL DEFAULT 0,
    users_seen      INTEGER NOT NULL DEFAULT 0,
    users_dropped   INTEGER NOT NULL DEFAULT 0,
    dropped_reasons TEXT NOT NULL DEFAULT '[]',
    error           TEXT
);
CREATE INDEX runs_by_connection ON runs (connection_id, id);
CREATE TABLE users (
    connection_id   INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    external_id     TEXT NOT NULL,
    email           TEXT NOT NULL,
    username        TEXT,
    full_name       TEXT,
    first_name      TEXT,
    last_name       TEXT,
    role            TEXT,
    created_at      TEXT,
    last_seen_at    TEXT,
    active          INTEGER NOT NULL,
    status          TEXT NOT NULL,
    licenses        TEXT NOT NULL,
    custom_fields   TEXT NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    PRIMARY KEY (connection_id, external_id)
) WITHOUT ROWID;
CREATE TABLE staged_users (
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    external_id     TEXT NOT NULL,
    email           TEXT NOT NULL,
    username        TEXT,
    full_name       TEXT,
    first_name      TEXT,
    last_name       TEXT,
    role            TEXT,
    created_at      TEXT,
    last_seen_at    TEXT,
    active          INTEGER NOT NULL,
    status          TEXT NOT NULL,
    licenses        TEXT NOT NULL,
    custom_fields   TEXT NOT NULL,
    PRIMARY KEY (run_id, external_id)
) WITHOUT ROWID;
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    connection      TEXT,
    created_at      INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    message         TEXT NOT NULL
);
"#,
    r#"
ALTER TABLE connections ADD COLUMN token_url TEXT;
ALTER TABLE connections ADD COLUMN authorize_url TEXT;
ALTER TABLE connections ADD COLUMN tokens BLOB;
CREATE TABLE authorizations (
    state           TEXT PRIMARY KEY,
    integration     TEXT NOT NULL,
    account         TEXT NOT NULL,
    verifier        BLOB NOT NULL,
    redirect_uri    TEXT NOT NULL,
    expires_at      INTEGER NOT NULL
);
"#,
];

/// The columns a user row and a staged row share, in this order.
const USER_COLUMNS: &str = "external_id, email, username, full_name, first_name, last_name, role, created_at, \
                            last_seen_at, active, status, licenses, custom_fields";

pub struct Sqlite {
    db: Mutex<rusqlite::Connection>,
}

fn err(context: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError(format!("{context}: {e}"))
}

impl Sqlite {
    /// Opens (creating it and its directory when needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Sqlite> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("cannot create {}: {e}", dir.display())))?;
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
                Err(e) => return Err(StoreError(format!("cannot create the store {shown}: {e}"))),
                Ok(_) => {}
            }
        }
        let db =
            rusqlite::Connection::open(path).map_err(|e| StoreError(format!("cannot open the store {shown}: {e}")))?;
        // Another process may be opening the same store: wait for its locks rather than fail.
        db.busy_timeout(std::time::Duration::from_secs(10)).map_err(err("busy timeout"))?;
        // Turning WAL on takes an exclusive lock and does not wait for a busy
        // handler: when two processes open a new store together, the second retries.
        let mut attempts = 0;
        loop {
            match db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 100 =>
                {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(StoreError(match no_space(path) {
                        Some(why) => format!("cannot open the store {shown}: {why} ({e})"),
                        None => format!("the store {shown} is not a usable SQLite database: {e}"),
                    }));
                }
            }
        }
        let store = Sqlite { db: Mutex::new(db) };
        store.migrate(&shown)?;
        Ok(store)
    }

    /// Opens the store at `path` to read only, as it is on disk, for the
    /// commands that only read when [`Sqlite::open`] cannot (a full disk, on
    /// which SQLite cannot make the shared-memory file a WAL store needs).
    /// Immutable: what a running process has not yet written back is not seen.
    pub fn open_read_only(path: &Path) -> Result<Sqlite> {
        let shown = path.display().to_string();
        let absolute =
            std::fs::canonicalize(path).map_err(|e| StoreError(format!("cannot open the store {shown}: {e}")))?;
        let mut uri = url::Url::from_file_path(&absolute)
            .map_err(|()| StoreError(format!("the store {shown} has no file URL")))?;
        uri.set_query(Some("immutable=1"));
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        let db = rusqlite::Connection::open_with_flags(uri.as_str(), flags)
            .map_err(|e| StoreError(format!("cannot open the store {shown} to read: {e}")))?;
        let version: usize = db.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err("schema version"))?;
        if version != MIGRATIONS.len() {
            return Err(StoreError(format!(
                "the store {shown} has schema version {version}, not this runtime's {}",
                MIGRATIONS.len()
            )));
        }
        Ok(Sqlite { db: Mutex::new(db) })
    }

    fn migrate(&self, shown: &str) -> Result<()> {
        let mut db = self.lock();
        let version: usize = db.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err("schema version"))?;
        if version > MIGRATIONS.len() {
            return Err(StoreError(format!(
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
        let mut db = self.lock();
        // Immediate: the write lock is taken (waiting for it) before the first
        // read, so a transaction that reads then writes cannot fail to upgrade
        // when another process writes the store.
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err(context))?;
        let value = f(&tx)?;
        tx.commit().map_err(err(context))?;
        Ok(value)
    }
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
    })
}

const RUN_COLUMNS: &str =
    "id, connection_id, started_at, ended_at, outcome, pages, users_seen, users_dropped, dropped_reasons, error";

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn record_totals(tx: &Transaction<'_>, run_id: i64, totals: &RunTotals, outcome: Outcome, now: Time) -> Result<()> {
    let dropped: i64 = totals.dropped_reasons.iter().map(|(_, n)| n).sum();
    tx.execute(
        "UPDATE runs SET outcome = ?2, ended_at = ?3, pages = ?4, users_seen = ?5, users_dropped = ?6, \
         dropped_reasons = ?7 WHERE id = ?1",
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
    Ok(())
}

/// Applies a run's staged users to its connection's users and drops the staging.
fn apply(tx: &Transaction<'_>, connection_id: i64, run_id: i64, replace: bool, now: Time) -> Result<Applied> {
    let e = err("applying the sync");
    if replace {
        // Users the new listing does not hold are removed, not kept as deleted; those it holds
        // keep their history (first seen).
        tx.execute(
            "DELETE FROM users WHERE connection_id = ?1 AND external_id NOT IN \
             (SELECT external_id FROM staged_users WHERE run_id = ?2)",
            [connection_id, run_id],
        )
        .map_err(&e)?;
    }
    let added: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM staged_users s WHERE s.run_id = ?1 AND NOT EXISTS \
             (SELECT 1 FROM users u WHERE u.connection_id = ?2 AND u.external_id = s.external_id)",
            [run_id, connection_id],
            |r| r.get(0),
        )
        .map_err(&e)?;
    let staged: i64 =
        tx.query_row("SELECT COUNT(*) FROM staged_users WHERE run_id = ?1", [run_id], |r| r.get(0)).map_err(&e)?;
    let deleted = tx
        .execute(
            "UPDATE users SET deleted = 1, active = 0, licenses = '[]', status = 'Deleted' \
             WHERE connection_id = ?1 AND deleted = 0 AND external_id NOT IN \
             (SELECT external_id FROM staged_users WHERE run_id = ?2)",
            [connection_id, run_id],
        )
        .map_err(&e)?;
    tx.execute(
        &format!(
            "INSERT INTO users (connection_id, {USER_COLUMNS}, deleted, first_seen, last_seen) \
             SELECT ?1, {USER_COLUMNS}, 0, ?3, ?3 FROM staged_users WHERE run_id = ?2 \
             ON CONFLICT (connection_id, external_id) DO UPDATE SET \
             email = excluded.email, username = excluded.username, full_name = excluded.full_name, \
             first_name = excluded.first_name, last_name = excluded.last_name, role = excluded.role, \
             created_at = excluded.created_at, last_seen_at = excluded.last_seen_at, active = excluded.active, \
             status = excluded.status, licenses = excluded.licenses, custom_fields = excluded.custom_fields, \
             deleted = 0, last_seen = excluded.last_seen"
        ),
        params![connection_id, run_id, now],
    )
    .map_err(&e)?;
    tx.execute("DELETE FROM staged_users WHERE run_id = ?1", [run_id]).map_err(&e)?;
    tx.execute("UPDATE connections SET replace_users = 0 WHERE id = ?1", [connection_id]).map_err(&e)?;
    Ok(Applied::Applied { added, updated: staged - added, deleted: deleted as i64 })
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

    fn claim_slot(&self, id: i64, due: Time, next: Time) -> Result<bool> {
        let claimed = self
            .lock()
            .execute(
                "UPDATE connections SET next_sync_at = ?3 WHERE id = ?1 AND next_sync_at = ?2 AND enabled = 1",
                params![id, due, next],
            )
            .map_err(err("claiming the sync"))?;
        Ok(claimed == 1)
    }

    fn try_lease(&self, id: i64, owner: &str, until: Time, now: Time) -> Result<bool> {
        // The owner's liveness is checked by recover_interrupted before; here an
        // unexpired lease of another owner is respected.
        let taken = self
            .lock()
            .execute(
                "UPDATE connections SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1 AND \
                 (lease_owner IS NULL OR lease_owner = ?2 OR lease_until < ?4)",
                params![id, owner, until, now],
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

    fn start_run(&self, connection_id: i64, now: Time) -> Result<i64> {
        self.in_transaction("starting the run", |tx| {
            // What an earlier failed run could not drop (the disk was full) goes now.
            tx.execute(
                "DELETE FROM staged_users WHERE run_id IN \
                 (SELECT id FROM runs WHERE connection_id = ?1 AND outcome IN ('failed', 'interrupted'))",
                [connection_id],
            )
            .map_err(err("starting the run"))?;
            tx.execute(
                "INSERT INTO runs (connection_id, started_at, outcome) VALUES (?1, ?2, 'running')",
                params![connection_id, now],
            )
            .map_err(err("starting the run"))?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn stage(&self, run_id: i64, users: &[UserRow]) -> Result<()> {
        self.in_transaction("staging users", |tx| {
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT OR REPLACE INTO staged_users (run_id, {USER_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ))
                .map_err(err("staging users"))?;
            for u in users {
                insert
                    .execute(params![
                        run_id,
                        u.external_id,
                        u.email,
                        u.username,
                        u.full_name,
                        u.first_name,
                        u.last_name,
                        u.role,
                        u.created_at,
                        u.last_seen_at,
                        u.active,
                        u.status,
                        json_text(&u.licenses),
                        json_text(&u.custom_fields),
                    ])
                    .map_err(err("staging users"))?;
            }
            Ok(())
        })
    }

    fn complete_run(&self, run_id: i64, totals: &RunTotals, policy: HoldPolicy, now: Time) -> Result<Applied> {
        self.in_transaction("completing the sync", |tx| {
            let e = err("completing the sync");
            let (connection_id, replace): (i64, bool) = tx
                .query_row(
                    "SELECT c.id, c.replace_users FROM runs r JOIN connections c ON c.id = r.connection_id \
                     WHERE r.id = ?1",
                    [run_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(&e)?;
            // An earlier held run is moot now: this one is newer.
            tx.execute(
                "UPDATE runs SET outcome = 'superseded' WHERE connection_id = ?1 AND outcome = 'held' AND id <> ?2",
                [connection_id, run_id],
            )
            .map_err(&e)?;
            tx.execute(
                "DELETE FROM staged_users WHERE run_id IN (SELECT id FROM runs WHERE connection_id = ?1 AND outcome = 'superseded')",
                [connection_id],
            )
            .map_err(&e)?;
            // Connecting again (to rotate a token) replaces the users, but under the same hold:
            // an API that then answers with nobody must not wipe the account.
            let (present, would_delete): (i64, i64) = tx
                .query_row(
                    "SELECT COUNT(*), COALESCE(SUM(external_id NOT IN (SELECT external_id FROM staged_users WHERE run_id = ?2)), 0) \
                     FROM users WHERE connection_id = ?1 AND deleted = 0",
                    [connection_id, run_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(&e)?;
            if would_delete > policy.min_users && would_delete as f64 > policy.max_share * present as f64 {
                record_totals(tx, run_id, totals, Outcome::Held, now)?;
                return Ok(Applied::Held { would_delete, of: present });
            }
            let applied = apply(tx, connection_id, run_id, replace, now)?;
            record_totals(tx, run_id, totals, Outcome::Applied, now)?;
            Ok(applied)
        })
    }

    fn fail_run(&self, run_id: i64, totals: &RunTotals, error: &str, now: Time) -> Result<()> {
        // The failure first, in a write of its own that a nearly full disk still takes (a
        // sync that failed for want of space leaves the room its last write was refused).
        self.in_transaction("recording the failed sync", |tx| {
            record_totals(tx, run_id, totals, Outcome::Failed, now)?;
            tx.execute("UPDATE runs SET error = ?2 WHERE id = ?1", params![run_id, error])
                .map_err(err("recording the failed sync"))?;
            Ok(())
        })?;
        // Its staging is dropped next; if that cannot be written now, the next run sweeps it.
        if let Err(error) = self.in_transaction("dropping the failed sync's users", |tx| {
            tx.execute("DELETE FROM staged_users WHERE run_id = ?1", [run_id]).map_err(err("dropping staged users"))
        }) {
            tracing::warn!(%error, "the failed sync's staged users are dropped at the next sync");
        }
        Ok(())
    }

    fn approve_held(&self, connection_id: i64, now: Time) -> Result<Option<Applied>> {
        self.in_transaction("approving the held sync", |tx| {
            let held: Option<(i64, bool)> = tx
                .query_row(
                    "SELECT r.id, c.replace_users FROM runs r JOIN connections c ON c.id = r.connection_id \
                     WHERE r.connection_id = ?1 AND r.outcome = 'held' ORDER BY r.id DESC LIMIT 1",
                    [connection_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(err("approving the held sync"))?;
            let Some((run_id, replace)) = held else { return Ok(None) };
            let applied = apply(tx, connection_id, run_id, replace, now)?;
            tx.execute("UPDATE runs SET outcome = 'approved' WHERE id = ?1", [run_id])
                .map_err(err("approving the held sync"))?;
            Ok(Some(applied))
        })
    }

    fn recover_interrupted(&self, is_alive: &dyn Fn(&str) -> bool, now: Time) -> Result<usize> {
        self.in_transaction("recovering interrupted syncs", |tx| {
            let e = err("recovering interrupted syncs");
            let running: Vec<(i64, i64, Option<String>, Option<Time>)> = {
                let mut statement = tx
                    .prepare(
                        "SELECT r.id, c.id, c.lease_owner, c.lease_until FROM runs r \
                         JOIN connections c ON c.id = r.connection_id WHERE r.outcome = 'running'",
                    )
                    .map_err(&e)?;
                let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(&e)?;
                rows.collect::<rusqlite::Result<_>>().map_err(&e)?
            };
            let mut recovered = 0;
            for (run_id, connection_id, owner, until) in running {
                let live = owner.as_deref().is_some_and(is_alive) && until.is_some_and(|u| u >= now);
                if live {
                    continue;
                }
                tx.execute(
                    "UPDATE runs SET outcome = 'interrupted', ended_at = ?2, \
                     error = 'the process running this sync stopped before it ended' WHERE id = ?1",
                    [run_id, now],
                )
                .map_err(&e)?;
                tx.execute("DELETE FROM staged_users WHERE run_id = ?1", [run_id]).map_err(&e)?;
                tx.execute(
                    "UPDATE connections SET lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                    [connection_id],
                )
                .map_err(&e)?;
                recovered += 1;
            }
            Ok(recovered)
        })
    }

    fn last_run(&self, connection_id: i64) -> Result<Option<Run>> {
        Ok(self.runs(connection_id, 1)?.into_iter().next())
    }

    fn runs(&self, connection_id: i64, limit: i64) -> Result<Vec<Run>> {
        let db = self.lock();
        let mut statement = db
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE connection_id = ?1 ORDER BY id DESC LIMIT ?2"))
            .map_err(err("reading runs"))?;
        let rows = statement.query_map([connection_id, limit], run_row).map_err(err("reading runs"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading runs"))
    }

    fn users(&self, connection_id: i64, include_deleted: bool) -> Result<Vec<StoredUser>> {
        let db = self.lock();
        let mut statement = db
            .prepare(&format!(
                "SELECT {USER_COLUMNS}, deleted, first_seen, last_seen FROM users \
                 WHERE connection_id = ?1 AND (?2 OR (deleted = 0 AND active = 1)) ORDER BY external_id"
            ))
            .map_err(err("reading users"))?;
        let rows = statement
            .query_map(params![connection_id, include_deleted], |r| {
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

    fn user_counts(&self, connection_id: i64) -> Result<(i64, i64)> {
        self.lock()
            .query_row(
                "SELECT COALESCE(SUM(deleted = 0 AND active = 1), 0), COUNT(*) FROM users WHERE connection_id = ?1",
                [connection_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err("counting users"))
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
