//! A sync's way into the SQLite store: its staged records spooled to a file
//! of its own, then applied in one transaction with the history they imply.
//!
//! Why a file and not a staging table: every row staged in SQLite is written
//! twice (WAL, then the database) and deleted afterwards, and each page's
//! transaction waits for the one write lock that a large apply holds for
//! seconds. A spool is appended without any lock, read once by the apply and
//! removed; a sync that dies leaves only a file that the next run sweeps.
//! Measured on a million users (`cargo bench -p tib-e2e --bench sync`): see
//! the README's figures.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{OptionalExtension, Transaction, params};

use super::{USER_COLUMNS, err};
use crate::store::applying::{self, Decision, Stored, Tally, Written};
use crate::store::history::Event;
use crate::store::staging::{self, Baseline, Digest, FIELDS};
use crate::store::{Result, StoreError, Time};

/// The staging directory of a store: `tib.db` keeps its spools in `tib.db-staging/`.
pub fn staging_dir(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push("-staging");
    store.with_file_name(name)
}

/// Where a run's records are spooled, and where a held run keeps its baseline.
pub struct Spool {
    pub records: PathBuf,
    pub kept: PathBuf,
}

impl Spool {
    pub fn of(dir: &Path, run_id: i64) -> Spool {
        Spool { records: dir.join(format!("run-{run_id}")), kept: dir.join(format!("run-{run_id}.kept")) }
    }

    /// Appends records; the directory and the file are the owner's alone (users are personal data).
    pub fn append(&self, records: &[u8]) -> Result<()> {
        self.write(records, false)
    }

    fn write(&self, records: &[u8], even_empty: bool) -> Result<()> {
        if records.is_empty() && !even_empty {
            return Ok(());
        }
        let io = |e: std::io::Error| StoreError::failed(io_error("cannot stage users", &self.records, &e));
        if let Some(dir) = self.records.parent() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&self.records).and_then(|mut file| file.write_all(records)).map_err(io)
    }

    /// Hands the spooled records to `each` in chunks of whole records, with
    /// the offset of each chunk: the apply holds a megabyte of them at a
    /// time, not the whole sync (250 MiB for a first sync of a million users).
    pub fn for_each_chunk(&self, mut each: impl FnMut(usize, &[u8]) -> Result<()>) -> Result<()> {
        use std::io::Read as _;
        const CHUNK: usize = 1 << 20;
        let io = |e: std::io::Error| StoreError::failed(io_error("cannot read the staged users", &self.records, &e));
        let mut file = match std::fs::File::open(&self.records) {
            Ok(file) => file,
            // Nothing was staged.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        let (mut buffer, mut offset) = (Vec::with_capacity(CHUNK), 0);
        loop {
            let filled = buffer.len();
            // A record longer than a chunk grows the buffer to hold it.
            let want = CHUNK.max(filled + 1);
            buffer.resize(want, 0);
            let read = file.read(&mut buffer[filled..]).map_err(io)?;
            buffer.truncate(filled + read);
            let whole = staging::whole_records(&buffer);
            if whole > 0 {
                each(offset, &buffer[..whole])?;
                buffer.drain(..whole);
                offset += whole;
            }
            if read == 0 {
                if buffer.is_empty() {
                    return Ok(());
                }
                return Err(damaged(&self.records, offset));
            }
        }
    }

    /// Keeps a held run on disk until it is approved: the records flushed,
    /// and the digests of the users it kept beside them.
    pub fn hold(&self, baseline: &Baseline) -> Result<()> {
        let kept: Vec<u8> = baseline.kept_digests().flat_map(u64::to_le_bytes).collect();
        fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
            move |e| StoreError::failed(io_error("cannot keep the held sync", path, &e))
        }
        if self.records.exists() {
            std::fs::File::open(&self.records).and_then(|f| f.sync_all()).map_err(io(&self.records))?;
        } else {
            self.write(&[], true)?;
        }
        std::fs::write(&self.kept, &kept)
            .and_then(|()| std::fs::File::open(&self.kept)?.sync_all())
            .map_err(io(&self.kept))
    }

    /// The kept digests of a held run.
    pub fn kept(&self) -> Result<Vec<Digest>> {
        let bytes = std::fs::read(&self.kept)
            .map_err(|e| StoreError::failed(io_error("cannot read the held sync", &self.kept, &e)))?;
        Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect())
    }

    /// Best effort: what is left is swept by a later run.
    pub fn remove(&self) {
        for path in [&self.records, &self.kept] {
            if let Err(e) = std::fs::remove_file(path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a staging file; a later sync removes it");
            }
        }
    }
}

/// The message of a failed file operation; a full disk is named as such.
fn io_error(what: &str, path: &Path, e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(28) || e.kind() == std::io::ErrorKind::StorageFull {
        let dir = path.parent().unwrap_or(path);
        format!("{what}: the disk holding {} is full; free space there", dir.display())
    } else {
        format!("{what} ({}): {e}", path.display())
    }
}

fn damaged(spool: &Path, at: usize) -> StoreError {
    StoreError::failed(format!(
        "the staged users in {} are damaged at byte {at}; the sync is retried at the next",
        spool.display()
    ))
}

/// The run ids of the spools in the staging directory.
pub fn spooled_runs(dir: &Path) -> Vec<i64> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut runs: Vec<i64> = entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let id = name.strip_prefix("run-")?;
            id.strip_suffix(".kept").unwrap_or(id).parse().ok()
        })
        .collect();
    runs.sort_unstable();
    runs.dedup();
    runs
}

/// The run being applied and its connection.
pub struct Target {
    pub connection_id: i64,
    pub run_id: i64,
    /// Connected again: users the listing does not hold are removed, not kept as deleted.
    pub replace: bool,
    /// When the connection's users were last applied: none before its first sync.
    pub synced_before: Option<Time>,
    pub now: Time,
}

/// Writes the run's records onto the connection's users, with their history.
/// A user listed twice is kept as first listed, as the sync's listings are.
pub fn write_records(tx: &Transaction<'_>, target: &Target, baseline: &Baseline, spool: &Spool) -> Result<Written> {
    let e = err("applying the sync");
    let Target { connection_id, run_id, now, .. } = *target;
    // An account's first sync only inserts: no user to look up, no history (every user appears).
    let first = !tx
        .query_row("SELECT EXISTS (SELECT 1 FROM users WHERE connection_id = ?1)", [connection_id], |r| {
            r.get::<_, bool>(0)
        })
        .map_err(&e)?;
    let mut lookup = tx
        .prepare_cached(&format!(
            "SELECT digest, deleted, run_id, {USER_COLUMNS} FROM users WHERE connection_id = ?1 AND external_id = ?2"
        ))
        .map_err(&e)?;
    let mut insert = tx
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO users (connection_id, {USER_COLUMNS}, deleted, first_seen, last_seen, digest, run_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?18, ?19, ?20, ?21, 0, ?15, ?15, ?16, \
             ?17)"
        ))
        .map_err(&e)?;
    let mut update = tx
        .prepare_cached(
            "UPDATE users SET email = ?3, username = ?4, full_name = ?5, first_name = ?6, last_name = ?7, role = ?8, \
             created_at = ?9, last_seen_at = ?10, active = ?11, status = ?12, licenses = ?13, custom_fields = ?14, \
             roles = ?18, groups = ?19, account_type = ?20, last_activity_at = ?21, \
             deleted = 0, last_seen = ?15, digest = ?16, run_id = ?17 WHERE connection_id = ?1 AND external_id = ?2",
        )
        .map_err(&e)?;
    let mut history = History::new(tx, target)?;
    let mut tally = Tally::default();
    spool.for_each_chunk(|offset, chunk| {
        for record in staging::records(chunk) {
            let record = record.map_err(|staging::Damaged(at)| damaged(&spool.records, offset + at))?;
            let f = &record.fields;
            let values = params![
                connection_id,
                f[0],
                f[1],
                f[2],
                f[3],
                f[4],
                f[5],
                f[6],
                f[7],
                f[8],
                record.active(),
                f[10],
                f[11],
                f[12],
                now,
                record.digest as i64,
                run_id,
                f[13],
                f[14],
                f[15],
                f[16]
            ];
            if first {
                tally.inserted(insert.execute(values).map_err(&e)? as i64);
                continue;
            }
            let old = lookup
                .query_row([&connection_id as &dyn rusqlite::ToSql, &record.external_id()], read_stored)
                .optional()
                .map_err(&e)?;
            let decision = applying::decide(old.as_ref(), &record, run_id, baseline);
            match decision {
                Decision::Insert => {
                    insert.execute(values).map_err(&e)?;
                }
                Decision::Update { .. } => {
                    update.execute(values).map_err(&e)?;
                }
                Decision::Leave => {}
            }
            for (event, detail) in applying::entries(&decision, &record, history.first_sync)? {
                history.write(record.external_id(), event, detail.as_deref())?;
            }
            tally.count(&decision);
        }
        Ok(())
    })?;
    Ok(tally.written(baseline))
}

/// A stored user row, as the apply compares it.
fn read_stored(row: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    let mut fields = Vec::with_capacity(FIELDS.len());
    for (i, name) in FIELDS.iter().enumerate() {
        let value = if *name == "active" {
            Some(if row.get::<_, bool>(3 + i)? { "1" } else { "0" }.to_owned())
        } else {
            row.get(3 + i)?
        };
        fields.push(value);
    }
    Ok(Stored { digest: row.get(0)?, deleted: row.get(1)?, run_id: row.get(2)?, fields })
}

/// The history entries a run writes.
struct History<'t> {
    insert: rusqlite::CachedStatement<'t>,
    target: (i64, Time, i64),
    /// The account's first sync: every user appears, and none is recorded.
    first_sync: bool,
}

impl<'t> History<'t> {
    fn new(tx: &'t Transaction<'_>, target: &Target) -> Result<History<'t>> {
        let insert = tx
            .prepare_cached(
                "INSERT INTO user_history (connection_id, external_id, at, run_id, event, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(err("recording the history"))?;
        Ok(History {
            insert,
            target: (target.connection_id, target.now, target.run_id),
            first_sync: target.synced_before.is_none(),
        })
    }

    fn write(&mut self, user: &str, event: Event, detail: Option<&str>) -> Result<()> {
        let (connection_id, at, run_id) = self.target;
        self.insert
            .execute(params![connection_id, user, at, run_id, event.as_str(), detail])
            .map_err(err("recording the history"))?;
        Ok(())
    }
}

/// The users a run neither kept nor wrote, which its apply marks deleted: the connection's id is
/// the first parameter, the run's the second, and [`kept_function`] must be registered.
const UNLISTED: &str = "connection_id = ?1 AND run_id IS NOT ?2 AND deleted = 0 AND NOT tib_kept(digest)";

/// Registers `tib_kept(digest)`: whether the baseline kept the user of that digest. The kept set is
/// asked from SQL: one pass over the account's rows, with no list of the deleted built in memory.
fn kept_function(tx: &Transaction<'_>, baseline: Baseline) -> rusqlite::Result<()> {
    let kept = Arc::new(baseline);
    tx.create_scalar_function(
        "tib_kept",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8 | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| Ok(ctx.get::<Option<i64>>(0)?.is_some_and(|d| kept.is_kept(d as Digest))),
    )
}

/// The users the run's apply would mark deleted, after its records are written: how many, and a
/// page of them by external id.
pub fn unlisted_users(
    tx: &Transaction<'_>,
    target: &Target,
    baseline: Baseline,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<crate::store::StoredUser>)> {
    let e = err("reading who the held sync would delete");
    kept_function(tx, baseline).map_err(&e)?;
    let (connection_id, run_id) = (target.connection_id, target.run_id);
    let result = (|| {
        let total: i64 =
            tx.query_row(&format!("SELECT COUNT(*) FROM users WHERE {UNLISTED}"), [connection_id, run_id], |r| {
                r.get(0)
            })?;
        let sql = format!(
            "SELECT {} FROM users WHERE {UNLISTED} ORDER BY external_id LIMIT ?3 OFFSET ?4",
            crate::store::rows::stored_user_columns("users", "?1")
        );
        let mut statement = tx.prepare(&sql)?;
        let users = statement
            .query_map(params![connection_id, run_id, limit, offset], |r| crate::store::rows::stored_user(r))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total, users))
    })();
    let removed = tx.remove_function("tib_kept", 1);
    let found = result.map_err(&e)?;
    removed.map_err(&e)?;
    Ok(found)
}

/// Marks deleted (or, for an account connected again, removes) the users
/// the run neither kept nor wrote; returns how many were marked deleted.
pub fn delete_unlisted(tx: &Transaction<'_>, target: &Target, baseline: Baseline) -> Result<i64> {
    let e = err("applying the sync");
    let Target { connection_id, run_id, now, .. } = *target;
    kept_function(tx, baseline).map_err(&e)?;
    let unlisted = UNLISTED;
    let result = (|| {
        if target.replace {
            // Connected again: the old listing's users go, with their history.
            tx.execute(
                "DELETE FROM user_history WHERE connection_id = ?1 AND external_id IN \
                 (SELECT external_id FROM users WHERE connection_id = ?1 AND run_id IS NOT ?2 \
                  AND NOT (deleted = 0 AND tib_kept(digest)))",
                [connection_id, run_id],
            )?;
            tx.execute(
                "DELETE FROM users WHERE connection_id = ?1 AND run_id IS NOT ?2 AND NOT (deleted = 0 AND tib_kept(digest))",
                [connection_id, run_id],
            )?;
            return Ok(0);
        }
        tx.execute(
            &format!(
                "INSERT INTO user_history (connection_id, external_id, at, run_id, event, detail) \
                 SELECT connection_id, external_id, ?3, ?2, 'deleted', NULL FROM users WHERE {unlisted}"
            ),
            [connection_id, run_id, now],
        )?;
        tx.execute(
            &format!(
                "INSERT INTO user_history (connection_id, external_id, at, run_id, event, detail) \
                 SELECT u.connection_id, u.external_id, ?3, ?2, 'license_lost', l.value \
                 FROM users u, json_each(u.licenses) l WHERE {unlisted}"
            ),
            [connection_id, run_id, now],
        )?;
        // Last seen at the last sync that listed them.
        let deleted = tx.execute(
            &format!(
                "UPDATE users SET deleted = 1, active = 0, licenses = '[]', status = 'Deleted', last_seen = ?3 \
                 WHERE {unlisted}"
            ),
            [connection_id, run_id, target.synced_before.unwrap_or(now)],
        )?;
        Ok(deleted as i64)
    })();
    let removed = tx.remove_function("tib_kept", 1);
    let deleted = result.map_err(&e)?;
    removed.map_err(&e)?;
    Ok(deleted)
}

/// Drops the connection's history older than the policy keeps.
pub fn prune_history(tx: &Transaction<'_>, connection_id: i64, before: Time) -> Result<()> {
    tx.execute("DELETE FROM user_history WHERE connection_id = ?1 AND at < ?2", [connection_id, before])
        .map_err(err("pruning the history"))?;
    Ok(())
}
