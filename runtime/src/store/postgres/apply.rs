//! A sync's way into the PostgreSQL store: its staged batches applied in one
//! transaction, a batch at a time: the stored users of a batch read in one
//! query, the new ones inserted and the changed ones updated in one
//! statement each, their history in one more. What each record does is
//! decided by [`applying`], as in the SQLite store.

use std::collections::HashMap;

use deadpool_postgres::{Client, GenericClient, Transaction};

use super::{USER_COLUMNS, one, pg, record_totals};
use crate::store::applying::{self, Decision, Stored, Tally, Written};
use crate::store::staging::{self, Baseline, Digest, FIELDS, Record};
use crate::store::{Applied, ApplyPolicy, Outcome, Result, RunTotals, StoreError, Time};

/// The run being applied and its connection.
struct Target {
    connection_id: i64,
    run_id: i64,
    /// Connected again: users the listing does not hold are removed, not kept as deleted.
    replace: bool,
    /// When the connection's users were last applied: none before its first sync.
    synced_before: Option<Time>,
    now: Time,
}

/// The run to apply, with its connection's row locked: one apply of a connection at a time, on any
/// instance.
async fn target(tx: &Transaction<'_>, run_id: i64, now: Time) -> Result<(Target, i64)> {
    let row = tx
        .query_one(
            "SELECT c.id, c.replace_users, c.users_synced_at, c.users_version FROM runs r \
             JOIN connections c ON c.id = r.connection_id WHERE r.id = $1 FOR UPDATE OF c",
            &[&run_id],
        )
        .await
        .map_err(pg("completing the sync"))?;
    let target = Target { connection_id: row.get(0), run_id, replace: row.get(1), synced_before: row.get(2), now };
    Ok((target, row.get(3)))
}

/// Marks the connection's held run superseded by an operator's word, and drops what it staged.
pub(super) async fn discard(mut client: Client, connection_id: i64) -> Result<bool> {
    let e = pg("discarding the held sync");
    let tx = client.transaction().await.map_err(&e)?;
    let discarded: Vec<i64> = tx
        .query(
            "UPDATE runs SET outcome = 'superseded', error = $2 WHERE connection_id = $1 AND outcome = 'held' RETURNING id",
            &[&connection_id, &crate::store::DISCARDED],
        )
        .await
        .map_err(&e)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop_staged(&tx, &discarded).await?;
    tx.commit().await.map_err(&e)?;
    Ok(!discarded.is_empty())
}

/// Marks the connection's held runs other than `run_id` superseded, and drops what they staged.
async fn supersede_held(tx: &Transaction<'_>, connection_id: i64, run_id: i64) -> Result<()> {
    let e = pg("completing the sync");
    let superseded: Vec<i64> = tx
        .query(
            "UPDATE runs SET outcome = 'superseded' WHERE connection_id = $1 AND outcome = 'held' AND id <> $2 \
             RETURNING id",
            &[&connection_id, &run_id],
        )
        .await
        .map_err(&e)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop_staged(tx, &superseded).await
}

async fn drop_staged(tx: &impl GenericClient, runs: &[i64]) -> Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let e = pg("dropping staged users");
    tx.execute("DELETE FROM staged WHERE run_id = ANY($1)", &[&runs]).await.map_err(&e)?;
    tx.execute("DELETE FROM held WHERE run_id = ANY($1)", &[&runs]).await.map_err(&e)?;
    Ok(())
}

/// Applies a complete run, or holds it under the policy.
pub async fn complete(
    mut client: Client,
    run_id: i64,
    owner: &str,
    baseline: Baseline,
    totals: &RunTotals,
    policy: ApplyPolicy,
    now: Time,
) -> Result<Applied> {
    let e = pg("completing the sync");
    let tx = client.transaction().await.map_err(&e)?;
    let (target, version) = target(&tx, run_id, now).await?;
    let row = tx
        .query_one(
            "SELECT c.lease_owner, r.outcome FROM runs r JOIN connections c ON c.id = r.connection_id WHERE r.id = $1",
            &[&run_id],
        )
        .await
        .map_err(&e)?;
    crate::store::may_apply(row.get(0), owner, Outcome::parse(row.get(1)))?;
    // An earlier held run is moot now: this one is newer.
    supersede_held(&tx, target.connection_id, run_id).await?;
    if version != baseline.version() {
        return Err(StoreError::conflict(
            "the stored users changed while this sync ran (a held sync was approved); it is retried at the next"
                .to_owned(),
        ));
    }
    let written = write_records(&tx, &target, &baseline).await?;
    let hold = policy.hold;
    let (would_delete, present) = (written.unlisted, baseline.present() as i64);
    // Connecting again (to rotate a token) replaces the users, but under the same hold:
    // an API that then answers with nobody must not wipe the account.
    if would_delete > hold.min_users && would_delete as f64 > hold.max_share * present as f64 {
        tx.rollback().await.map_err(&e)?;
        let tx = client.transaction().await.map_err(&e)?;
        let (target, _) = self::target(&tx, run_id, now).await?;
        supersede_held(&tx, target.connection_id, run_id).await?;
        let kept: Vec<u8> = baseline.kept_digests().flat_map(u64::to_le_bytes).collect();
        tx.execute("INSERT INTO held (run_id, kept) VALUES ($1, $2)", &[&run_id, &kept]).await.map_err(&e)?;
        // What it would delete, kept with it: the account's page says how many.
        tx.execute(
            "UPDATE runs SET users_version = $2, deleted = $3 WHERE id = $1",
            &[&run_id, &version, &would_delete],
        )
        .await
        .map_err(&e)?;
        record_totals(&tx, run_id, totals, Outcome::Held, now).await?;
        tx.commit().await.map_err(&e)?;
        return Ok(Applied::Held { would_delete, of: present });
    }
    let applied = finish(&tx, &target, baseline, written, policy).await?;
    record_totals(&tx, run_id, totals, Outcome::Applied, now).await?;
    record_changes(&tx, run_id, applied).await?;
    drop_staged(&tx, &[run_id]).await?;
    tx.commit().await.map_err(&e)?;
    Ok(applied)
}

/// Applies the connection's held run regardless of the hold.
pub async fn approve(
    mut client: Client,
    connection_id: i64,
    policy: ApplyPolicy,
    now: Time,
) -> Result<Option<Applied>> {
    let e = pg("approving the held sync");
    let tx = client.transaction().await.map_err(&e)?;
    let Some(replayed) = replay_held(&tx, connection_id, now).await? else { return Ok(None) };
    if Some(replayed.version) != replayed.held_version {
        return Err(StoreError::conflict("the stored users changed since this sync was held; sync again".to_owned()));
    }
    let run_id = replayed.target.run_id;
    let applied = finish(&tx, &replayed.target, replayed.baseline, replayed.written, policy).await?;
    tx.execute("UPDATE runs SET outcome = 'approved' WHERE id = $1", &[&run_id]).await.map_err(&e)?;
    record_changes(&tx, run_id, applied).await?;
    drop_staged(&tx, &[run_id]).await?;
    tx.commit().await.map_err(&e)?;
    Ok(Some(applied))
}

/// A held run's records written over the stored users, as its approval begins.
struct Replayed {
    target: Target,
    baseline: Baseline,
    written: Written,
    /// The connection's users version now, and when the run was held.
    version: i64,
    held_version: Option<i64>,
}

/// Writes the connection's newest held run's records in `tx`, against the users it kept: committed,
/// it is the approval; rolled back, it shows what the approval would do. `None` when none is held.
async fn replay_held(tx: &Transaction<'_>, connection_id: i64, now: Time) -> Result<Option<Replayed>> {
    let e = pg("replaying the held sync");
    let held = tx
        .query_opt(
            "SELECT r.id, r.users_version, h.kept FROM runs r JOIN held h ON h.run_id = r.id \
             WHERE r.connection_id = $1 AND r.outcome = 'held' ORDER BY r.id DESC LIMIT 1",
            &[&connection_id],
        )
        .await
        .map_err(&e)?;
    let Some(held) = held else { return Ok(None) };
    let (run_id, held_version, kept): (i64, Option<i64>, Vec<u8>) = (held.get(0), held.get(1), held.get(2));
    let (target, version) = target(tx, run_id, now).await?;
    let present: i64 = one(
        tx,
        "replaying the held sync",
        "SELECT COUNT(*) FROM users WHERE connection_id = $1 AND NOT deleted",
        &[&connection_id],
    )
    .await?;
    let kept: Vec<Digest> =
        kept.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect();
    let baseline = Baseline::from_kept(kept, present as usize, version);
    let written = write_records(tx, &target, &baseline).await?;
    Ok(Some(Replayed { target, baseline, written, version, held_version }))
}

async fn record_changes(tx: &Transaction<'_>, run_id: i64, applied: Applied) -> Result<()> {
    if let Applied::Applied { added, updated, deleted } = applied {
        tx.execute(
            "UPDATE runs SET added = $2, updated = $3, deleted = $4 WHERE id = $1",
            &[&run_id, &added, &updated, &deleted],
        )
        .await
        .map_err(pg("recording the run"))?;
    }
    Ok(())
}

/// After the records: the deletions, the history kept, the connection's users version moved on.
async fn finish(
    tx: &Transaction<'_>,
    target: &Target,
    baseline: Baseline,
    written: Written,
    policy: ApplyPolicy,
) -> Result<Applied> {
    let e = pg("applying the sync");
    // Nothing unlisted (the daily case): no pass over the account at all.
    let deleted =
        if written.unlisted > 0 || target.replace { delete_unlisted(tx, target, &baseline).await? } else { 0 };
    let before = target.now.saturating_sub(policy.keep_history_secs);
    tx.execute("DELETE FROM user_history WHERE connection_id = $1 AND at < $2", &[&target.connection_id, &before])
        .await
        .map_err(pg("pruning the history"))?;
    tx.execute(
        "UPDATE connections SET replace_users = FALSE, users_version = users_version + 1, users_synced_at = $2 \
         WHERE id = $1",
        &[&target.connection_id, &target.now],
    )
    .await
    .map_err(&e)?;
    Ok(Applied::Applied { added: written.added, updated: written.updated, deleted })
}

/// The user rows a batch writes, column by column: what `UNNEST` reads.
#[derive(Default)]
struct Columns<'a> {
    text: [Vec<Option<&'a str>>; FIELDS.len()],
    active: Vec<bool>,
    digest: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, record: &Record<'a>) {
        for (column, value) in self.text.iter_mut().zip(record.fields) {
            column.push(value);
        }
        self.active.push(record.active());
        self.digest.push(record.digest as i64);
    }

    fn is_empty(&self) -> bool {
        self.digest.is_empty()
    }
}

/// The `UNNEST` of a batch's columns (parameters `$4`…`$18`), named as the users table names them.
fn unnest_columns() -> String {
    let mut arrays = Vec::new();
    for (i, name) in FIELDS.iter().enumerate() {
        let kind = if *name == "active" { "boolean" } else { "text" };
        arrays.push(format!("${}::{kind}[]", i + 4));
    }
    arrays.push(format!("${}::bigint[]", FIELDS.len() + 4));
    format!("UNNEST({}) AS v({USER_COLUMNS}, digest)", arrays.join(", "))
}

async fn write_batch(tx: &Transaction<'_>, target: &Target, columns: &Columns<'_>, update: bool) -> Result<u64> {
    if columns.is_empty() {
        return Ok(0);
    }
    let e = pg("applying the sync");
    let text: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        columns.text.iter().enumerate().map(|(i, c)| if i == 9 { &columns.active as _ } else { c as _ }).collect();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        vec![&target.connection_id, &target.now, &target.run_id];
    params.extend(text);
    params.push(&columns.digest);
    let sql = if update {
        let set: Vec<String> = FIELDS.iter().skip(1).map(|f| format!("{f} = v.{f}")).collect();
        format!(
            "UPDATE users u SET {}, deleted = FALSE, last_seen = $2::bigint, digest = v.digest, run_id = $3::bigint \
             FROM {} WHERE u.connection_id = $1::bigint AND u.external_id = v.external_id",
            set.join(", "),
            unnest_columns()
        )
    } else {
        format!(
            "INSERT INTO users (connection_id, {USER_COLUMNS}, deleted, first_seen, last_seen, digest, run_id) \
             SELECT $1::bigint, {USER_COLUMNS}, FALSE, $2::bigint, $2::bigint, digest, $3::bigint FROM {} \
             ON CONFLICT DO NOTHING",
            unnest_columns()
        )
    };
    tx.execute(&sql, &params).await.map_err(&e)
}

/// A stored user row (digest, deleted, run id, then the columns) as the apply compares it.
fn stored(row: &tokio_postgres::Row) -> Stored {
    let fields = FIELDS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            if *name == "active" {
                Some(if row.get::<_, bool>(3 + i) { "1" } else { "0" }.to_owned())
            } else {
                row.get(3 + i)
            }
        })
        .collect();
    Stored { digest: row.get(0), deleted: row.get(1), run_id: row.get(2), fields }
}

/// Writes the run's records onto the connection's users, with their history, a staged batch at a time.
/// A user listed twice is kept as first listed, as the sync's listings are.
async fn write_records(tx: &Transaction<'_>, target: &Target, baseline: &Baseline) -> Result<Written> {
    let e = pg("applying the sync");
    let Target { connection_id, run_id, .. } = *target;
    // An account's first sync only inserts: no user to look up, no history (every user appears).
    let first: bool = !one::<bool>(
        tx,
        "applying the sync",
        "SELECT EXISTS (SELECT 1 FROM users WHERE connection_id = $1)",
        &[&connection_id],
    )
    .await?;
    let first_sync = target.synced_before.is_none();
    let batches: Vec<i64> = tx
        .query("SELECT seq FROM staged WHERE run_id = $1 ORDER BY seq", &[&run_id])
        .await
        .map_err(&e)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lookup = format!(
        "SELECT digest, deleted, run_id, {USER_COLUMNS} FROM users WHERE connection_id = $1 AND external_id = ANY($2)"
    );
    let mut tally = Tally::default();
    for seq in batches {
        let bytes: Vec<u8> =
            one(tx, "applying the sync", "SELECT records FROM staged WHERE run_id = $1 AND seq = $2", &[&run_id, &seq])
                .await?;
        let mut records = Vec::new();
        // Listed twice within the batch: the first listing stands.
        let mut seen = std::collections::HashSet::new();
        for record in staging::records(&bytes) {
            let record = record.map_err(|staging::Damaged(at)| {
                StoreError::failed(format!(
                    "the staged users of run {run_id} are damaged at byte {at} of batch {seq}; the sync is retried at the next"
                ))
            })?;
            if seen.insert(record.external_id()) {
                records.push(record);
            }
        }
        let (mut inserts, mut updates) = (Columns::default(), Columns::default());
        let mut history: Vec<(&str, &'static str, Option<String>)> = Vec::new();
        if first {
            records.iter().for_each(|r| inserts.push(r));
            tally.inserted(write_batch(tx, target, &inserts, false).await? as i64);
            continue;
        }
        let ids: Vec<&str> = records.iter().map(Record::external_id).collect();
        let olds: HashMap<String, Stored> = tx
            .query(&lookup, &[&connection_id, &ids])
            .await
            .map_err(&e)?
            .iter()
            .map(|row| (row.get::<_, String>(3), stored(row)))
            .collect();
        for record in &records {
            let decision = applying::decide(olds.get(record.external_id()), record, run_id, baseline);
            match decision {
                Decision::Insert => inserts.push(record),
                Decision::Update { .. } => updates.push(record),
                Decision::Leave => {}
            }
            for (event, detail) in applying::entries(&decision, record, first_sync)? {
                history.push((record.external_id(), event.as_str(), detail));
            }
            tally.count(&decision);
        }
        write_batch(tx, target, &inserts, false).await?;
        write_batch(tx, target, &updates, true).await?;
        if !history.is_empty() {
            let users: Vec<&str> = history.iter().map(|h| h.0).collect();
            let events: Vec<&str> = history.iter().map(|h| h.1).collect();
            let details: Vec<Option<&str>> = history.iter().map(|h| h.2.as_deref()).collect();
            tx.execute(
                "INSERT INTO user_history (connection_id, external_id, at, run_id, event, detail) \
                 SELECT $1::bigint, u, $2::bigint, $3::bigint, ev, d \
                 FROM UNNEST($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS h(u, ev, d, n) ORDER BY n",
                &[&connection_id, &target.now, &run_id, &users, &events, &details],
            )
            .await
            .map_err(pg("recording the history"))?;
        }
    }
    Ok(tally.written(baseline))
}

/// Marks deleted (or, for an account connected again, removes) the users
/// the run neither kept nor wrote; returns how many were marked deleted.
/// Whether the baseline kept a user ([`kept_table`]).
const IS_KEPT: &str = "EXISTS (SELECT 1 FROM tib_kept k WHERE k.digest = users.digest)";

/// The users a run neither kept nor wrote, which its apply marks deleted: the connection's id is
/// `$1`, the run's `$2`, and [`kept_table`] must be made.
const UNLISTED: &str = "connection_id = $1 AND run_id IS DISTINCT FROM $2 AND NOT deleted AND NOT \
                        EXISTS (SELECT 1 FROM tib_kept k WHERE k.digest = users.digest)";

/// The kept digests in a table of the transaction's own, for one anti-join over the account.
async fn kept_table(tx: &Transaction<'_>, baseline: &Baseline) -> Result<()> {
    let e = pg("applying the sync");
    tx.batch_execute("CREATE TEMPORARY TABLE tib_kept (digest BIGINT PRIMARY KEY) ON COMMIT DROP").await.map_err(&e)?;
    let kept: Vec<i64> = baseline.kept_digests().map(|d| d as i64).collect();
    for chunk in kept.chunks(100_000) {
        tx.execute("INSERT INTO tib_kept SELECT UNNEST($1::bigint[]) ON CONFLICT DO NOTHING", &[&chunk])
            .await
            .map_err(&e)?;
    }
    Ok(())
}

/// Who the connection's held sync would mark deleted if approved now: its approval done in a
/// transaction that is rolled back.
pub async fn held_deletions(
    mut client: Client,
    connection_id: i64,
    offset: i64,
    limit: i64,
    now: Time,
) -> Result<Option<crate::store::HeldDeletions>> {
    let e = pg("reading who the held sync would delete");
    let tx = client.transaction().await.map_err(&e)?;
    let Some(replayed) = replay_held(&tx, connection_id, now).await? else { return Ok(None) };
    kept_table(&tx, &replayed.baseline).await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&connection_id, &replayed.target.run_id, &limit, &offset];
    let total: i64 = one(
        &tx,
        "reading who the held sync would delete",
        &format!("SELECT COUNT(*) FROM users WHERE {UNLISTED}"),
        &params[..2],
    )
    .await?;
    let sql = format!(
        "SELECT {} FROM users WHERE {UNLISTED} ORDER BY external_id LIMIT $3 OFFSET $4",
        crate::store::rows::stored_user_columns("users", "$1")
    );
    let rows = tx.query(&sql, &params).await.map_err(&e)?;
    let users = super::all(&rows, "reading who the held sync would delete", crate::store::rows::stored_user)?;
    tx.rollback().await.map_err(&e)?;
    Ok(Some(crate::store::HeldDeletions { total, present: replayed.baseline.present() as i64, users }))
}

async fn delete_unlisted(tx: &Transaction<'_>, target: &Target, baseline: &Baseline) -> Result<i64> {
    let e = pg("applying the sync");
    let Target { connection_id, run_id, now, .. } = *target;
    kept_table(tx, baseline).await?;
    let is_kept = IS_KEPT;
    let unlisted = UNLISTED;
    if target.replace {
        // Connected again: the old listing's users go, with their history.
        let gone = format!("connection_id = $1 AND run_id IS DISTINCT FROM $2 AND NOT (NOT deleted AND {is_kept})");
        tx.execute(
            &format!(
                "DELETE FROM user_history WHERE connection_id = $1 AND external_id IN \
                 (SELECT external_id FROM users WHERE {gone})"
            ),
            &[&connection_id, &run_id],
        )
        .await
        .map_err(&e)?;
        tx.execute(&format!("DELETE FROM users WHERE {gone}"), &[&connection_id, &run_id]).await.map_err(&e)?;
        return Ok(0);
    }
    tx.execute(
        &format!(
            "INSERT INTO user_history (connection_id, external_id, at, run_id, event, detail) \
             SELECT connection_id, external_id, $3, $2, 'deleted', NULL FROM users WHERE {unlisted}"
        ),
        &[&connection_id, &run_id, &now],
    )
    .await
    .map_err(&e)?;
    tx.execute(
        &format!(
            "INSERT INTO user_history (connection_id, external_id, at, run_id, event, detail) \
             SELECT users.connection_id, users.external_id, $3, $2, 'license_lost', l \
             FROM users, jsonb_array_elements_text(users.licenses::jsonb) AS l WHERE {unlisted}"
        ),
        &[&connection_id, &run_id, &now],
    )
    .await
    .map_err(&e)?;
    // Last seen at the last sync that listed them.
    let deleted = tx
        .execute(
            &format!(
                "UPDATE users SET deleted = TRUE, active = FALSE, licenses = '[]', status = 'Deleted', last_seen = $3 \
                 WHERE {unlisted}"
            ),
            &[&connection_id, &run_id, &target.synced_before.unwrap_or(now)],
        )
        .await
        .map_err(&e)?;
    Ok(deleted as i64)
}
