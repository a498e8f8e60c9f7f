//! The embedded store: one SQLite file (WAL), migrated on open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{OptionalExtension, Transaction, params};

use super::filter::{Dialect, Filter, Param};
use super::rows::{self, CONNECTION_COLUMNS, RUN_COLUMNS, USER_COLUMNS};
use super::tables::{Column, Held, Kind};
use super::{
    Applied, ApplyPolicy, Baseline, Change, Claim, Claimed, Connection, HistoryQuery, NewConnection, Notification,
    Outcome, PendingAuthorization, Result, Run, RunTotals, Started, Store, StoreError, StoredUser, Time, Upserted,
    UserQuery,
};
use apply::{Spool, Target};

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

use schema::MIGRATIONS;

pub struct Sqlite {
    /// The one connection that writes, and reads inside its transactions.
    db: Mutex<rusqlite::Connection>,
    /// Connections that only read, so that the edges' reads (the API, SCIM, the console) run side by
    /// side with each other and with a sync's writes, as WAL allows. None in a store opened to read
    /// only: its one connection reads.
    readers: Vec<Mutex<rusqlite::Connection>>,
    /// Which reader the next read tries first.
    next_reader: std::sync::atomic::AtomicUsize,
    /// Where runs spool their staged users (see [`apply`]).
    staging: PathBuf,
}

/// Readers a store opens beside its writer: two per core of a small server is what its reads can use.
const READERS: usize = 4;

/// A connection that only reads the store at `path` (SQLite refuses its writes).
fn reader(path: &Path, shown: &str) -> Result<rusqlite::Connection> {
    let db = rusqlite::Connection::open(path)
        .map_err(|e| StoreError::failed(format!("cannot open the store {shown} to read: {e}")))?;
    db.busy_timeout(std::time::Duration::from_secs(10)).map_err(err("busy timeout"))?;
    db.execute_batch("PRAGMA query_only = ON;").map_err(err("a reading connection"))?;
    unicode_lower(&db)?;
    Ok(db)
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
        let mut store = Sqlite::with(db, path);
        store.migrate(&shown)?;
        // After the migration: a reader keeps the schema it first saw until it changes again.
        store.readers = (0..READERS).map(|_| reader(path, &shown).map(Mutex::new)).collect::<Result<_>>()?;
        // Statistics (each sync gathers them, [`super::runs`]) sample at most this many rows an index.
        store.lock().execute_batch("PRAGMA analysis_limit = 1000;").map_err(err("bounding statistics"))?;
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
        Ok(Sqlite::with(db, path))
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
        Ok(Sqlite::with(db, path))
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

    /// A store of one connection, `db`, at `path`; readers are opened beside it once it is migrated.
    fn with(db: rusqlite::Connection, path: &Path) -> Sqlite {
        Sqlite {
            db: Mutex::new(db),
            readers: Vec::new(),
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            staging: apply::staging_dir(path),
        }
    }

    /// A connection to read with, outside any transaction: a reader that is free, else the next one
    /// in turn once it is; the writer in a store without readers.
    fn read(&self) -> MutexGuard<'_, rusqlite::Connection> {
        let count = self.readers.len();
        if count == 0 {
            return self.lock();
        }
        let first = self.next_reader.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..count {
            if let Ok(reader) = self.readers[(first + i) % count].try_lock() {
                return reader;
            }
        }
        self.readers[first % count].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl Store for Sqlite {
    fn health(&self) -> Result<String> {
        let db = self.lock();
        let check: String = db.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(err("checking the store"))?;
        let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err("checking the store"))?;
        let path = db.path().unwrap_or("(memory)").to_owned();
        Ok(format!("SQLite {path}: schema {version}, integrity {check}"))
    }
}

/// How SQLite reads a cell: as the rows of both backends are made into the store's types ([`rows`]).
impl rows::Cells for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }
    fn bytes(&self, i: usize) -> rusqlite::Result<Vec<u8>> {
        self.get(i)
    }
    fn opt_bytes(&self, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
        self.get(i)
    }
}

/// SQLite's SQL, where a user query's differs ([`filter`]).
impl Dialect for Sqlite {
    fn placeholder(n: usize) -> String {
        format!("?{n}")
    }
    fn holds(column: &str, value: &str) -> String {
        format!("EXISTS (SELECT 1 FROM json_each({column}) WHERE value = {value})")
    }
    fn contains(text: &str, part: &str) -> String {
        format!("instr({text}, {part}) > 0")
    }
    fn starts_with(text: &str, prefix: &str) -> String {
        format!("substr({text}, 1, length({prefix})) = {prefix}")
    }
    // SQLite compares text by its bytes unless told otherwise.
    const BY_BYTES: &'static str = "";
    fn elements(column: &str) -> (String, String) {
        (format!("json_each({column}) AS element"), "element.value".to_owned())
    }
}
