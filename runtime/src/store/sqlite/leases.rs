//! Which process syncs which connection, in the SQLite file: due connections claimed under the
//! caps, leases renewed, taken and released, and those of processes that are gone recovered.

use super::*;
use crate::store::Leases;

impl Leases for Sqlite {
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
                let slow = crate::store::slow_sql("?1", "?2");
                let mut statement = tx
                    .prepare_cached(&format!(
                        "SELECT {CONNECTION_COLUMNS}, {slow} FROM connections c \
                         WHERE enabled = 1 AND next_sync_at <= ?1 AND lease_owner IS NULL \
                         AND integration NOT IN (SELECT value FROM json_each(?3)) AND (?4 OR NOT {slow}) \
                         ORDER BY next_sync_at, id LIMIT ?5"
                    ))
                    .map_err(&e)?;
                let passed_over = json_text(&crate::store::at_cap(claim, &leased));
                let rows = statement
                    .query_map(
                        params![claim.now, claim.slow_after, passed_over, claim.slow_limit > 0, crate::store::candidates(claim)],
                        |r| Ok((rows::connection(r)?, r.get(13)?)),
                    )
                    .map_err(&e)?;
                rows.collect::<rusqlite::Result<_>>().map_err(&e)?
            };
            let chosen = crate::store::choose(claim, candidates, leased);
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

    fn recover_interrupted(&self, is_alive: &dyn Fn(&str) -> bool, now: Time) -> Result<usize> {
        let lapsed = self.in_transaction("recovering interrupted syncs", |tx| {
            let e = err("recovering interrupted syncs");
            let rows = {
                let mut statement = tx.prepare(crate::store::LEASES_AND_RUNS).map_err(&e)?;
                let rows = statement
                    .query_map([], |r| {
                        Ok(crate::store::LeaseAndRun {
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
            for lease in crate::store::lapsed(rows, is_alive, now) {
                // Each change only if what was read still holds, as in the PostgreSQL store.
                if let Some(run) = lease.run {
                    let interrupted = tx
                        .execute(
                            "UPDATE runs SET outcome = 'interrupted', ended_at = ?2, error = ?3 \
                             WHERE id = ?1 AND outcome = 'running'",
                            params![run, now, crate::store::INTERRUPTED],
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
}
