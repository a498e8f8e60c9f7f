//! The syncs of a connection in the SQLite file: a run started against its baseline, its users
//! staged, then applied or held under the policy, failed, or approved; and the runs listed.

use super::*;
use crate::store::Runs;

impl Runs for Sqlite {
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
                return Err(crate::store::not_leased(owner));
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
        crate::store::may_apply(leased.as_deref(), owner, Outcome::parse(&outcome))?;
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
                // What it would delete, kept with it: the account's page says how many.
                tx.execute(
                    "UPDATE runs SET users_version = ?2, deleted = ?3 WHERE id = ?1",
                    [run_id, version, would_delete],
                )
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
        // The query planner picks the indexes of a search (SCIM's `userName eq`, a person's email)
        // over the primary key only with statistics: gathered over a bounded sample as the users
        // change. The sync has applied; statistics not gathered change only which index a search uses.
        let _ = db.execute_batch("ANALYZE users;");
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
        let Some((run_id, held_version)) = held_run(&self.lock(), connection_id)? else { return Ok(None) };
        let spool = Spool::of(&self.staging, run_id);
        let kept = spool.kept()?;
        let applied = self.in_transaction("approving the held sync", |tx| {
            let replayed = replay_held(tx, run_id, kept, &spool, now)?;
            if Some(replayed.version) != held_version {
                return Err(StoreError::conflict(
                    "the stored users changed since this sync was held; sync again".to_owned(),
                ));
            }
            let applied = finish(tx, &replayed.target, replayed.baseline, replayed.written, policy)?;
            tx.execute("UPDATE runs SET outcome = 'approved' WHERE id = ?1", [run_id]).map_err(&e)?;
            record_changes(tx, run_id, applied)?;
            Ok(applied)
        })?;
        spool.remove();
        Ok(Some(applied))
    }

    fn held_deletions(
        &self,
        connection_id: i64,
        offset: i64,
        limit: i64,
        now: Time,
    ) -> Result<Option<crate::store::HeldDeletions>> {
        let mut db = self.lock();
        let Some((run_id, _)) = held_run(&db, connection_id)? else { return Ok(None) };
        let spool = Spool::of(&self.staging, run_id);
        let kept = spool.kept()?;
        // The approval itself, in a transaction that is never committed: exactly the users it would
        // mark deleted, as the users stand now.
        let tx = db.transaction().map_err(err("reading who the held sync would delete"))?;
        let replayed = replay_held(&tx, run_id, kept, &spool, now)?;
        let present = replayed.baseline.present() as i64;
        let (total, users) = apply::unlisted_users(&tx, &replayed.target, replayed.baseline, offset, limit)?;
        drop(tx);
        Ok(Some(crate::store::HeldDeletions { total, present, users }))
    }

    fn discard_held(&self, connection_id: i64) -> Result<bool> {
        let discarded = self.in_transaction("discarding the held sync", |tx| {
            let e = err("discarding the held sync");
            let mut statement = tx
                .prepare_cached(
                    "UPDATE runs SET outcome = 'superseded', error = ?2 WHERE connection_id = ?1 AND outcome = 'held' \
                     RETURNING id",
                )
                .map_err(&e)?;
            let rows =
                statement.query_map(params![connection_id, crate::store::DISCARDED], |r| r.get(0)).map_err(&e)?;
            rows.collect::<rusqlite::Result<Vec<i64>>>().map_err(&e)
        })?;
        remove_spools(&self.staging, &discarded);
        Ok(!discarded.is_empty())
    }

    fn last_runs(&self) -> Result<Vec<Run>> {
        let db = self.read();
        let mut statement = db
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY connection_id)"
            ))
            .map_err(err("reading runs"))?;
        let rows = statement.query_map([], |r| rows::run(r)).map_err(err("reading runs"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading runs"))
    }

    fn runs(&self, connection_id: i64, limit: i64) -> Result<Vec<Run>> {
        let db = self.read();
        let mut statement = db
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE connection_id = ?1 ORDER BY id DESC LIMIT ?2"))
            .map_err(err("reading runs"))?;
        let rows = statement.query_map([connection_id, limit], |r| rows::run(r)).map_err(err("reading runs"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading runs"))
    }
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

/// The connection's newest held run: its id, and the users version it was held at.
fn held_run(db: &rusqlite::Connection, connection_id: i64) -> Result<Option<(i64, Option<i64>)>> {
    db.query_row(
        "SELECT id, users_version FROM runs WHERE connection_id = ?1 AND outcome = 'held' ORDER BY id DESC LIMIT 1",
        [connection_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(err("reading the held sync"))
}

/// A held run's records written over the stored users, as its approval begins.
struct Replayed {
    target: Target,
    baseline: Baseline,
    written: crate::store::applying::Written,
    /// The connection's users version now.
    version: i64,
}

/// Writes the held run's records in `tx`, against the users it kept (`kept`): committed, it is
/// the approval; rolled back, it shows what the approval would do.
fn replay_held(
    tx: &Transaction<'_>,
    run_id: i64,
    kept: Vec<crate::store::staging::Digest>,
    spool: &Spool,
    now: Time,
) -> Result<Replayed> {
    let target = target(tx, run_id, now)?;
    let (version, present): (i64, i64) = tx
        .query_row(
            "SELECT users_version, (SELECT COUNT(*) FROM users WHERE connection_id = ?1 AND deleted = 0) \
             FROM connections WHERE id = ?1",
            [target.connection_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(err("replaying the held sync"))?;
    let baseline = Baseline::from_kept(kept, present as usize, version);
    let written = apply::write_records(tx, &target, &baseline, spool)?;
    Ok(Replayed { target, baseline, written, version })
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

/// Records how a run ended, and frees its connection's lease; unless the run
/// ended already (recorded as interrupted when its lease lapsed): then nothing
/// changes, and false.
fn record_totals(tx: &Transaction<'_>, run_id: i64, totals: &RunTotals, outcome: Outcome, now: Time) -> Result<bool> {
    let dropped: i64 = totals.dropped_reasons.iter().map(|(_, n)| n).sum();
    let ended = tx
        .execute(
            "UPDATE runs SET outcome = ?2, ended_at = ?3, pages = ?4, users_seen = ?5, users_dropped = ?6, \
         dropped_reasons = ?7, warning = ?8, lookups = ?9, lookup_ms = ?10, dropped_users = ?11 \
         WHERE id = ?1 AND outcome = 'running'",
            params![
                run_id,
                outcome.as_str(),
                now,
                totals.pages,
                totals.users_seen,
                dropped,
                json_text(&totals.dropped_reasons),
                totals.warning,
                totals.lookups,
                totals.lookup_ms,
                json_text(&totals.dropped_users)
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
