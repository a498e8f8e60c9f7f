//! Which process syncs which connection, in PostgreSQL: due connections claimed under the caps,
//! leases renewed, taken and released, and those of processes that are gone recovered.

use super::*;
use crate::store::Leases;

impl Leases for Postgres {
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
            let slow = crate::store::slow_sql("$1", "$2");
            let sql = format!(
                "SELECT {CONNECTION_COLUMNS}, {slow} FROM connections c \
                 WHERE enabled AND next_sync_at <= $1 AND lease_owner IS NULL AND NOT (integration = ANY($3)) \
                 AND ($4 OR NOT {slow}) ORDER BY next_sync_at, id LIMIT $5 FOR UPDATE OF c SKIP LOCKED"
            );
            let passed_over = crate::store::at_cap(claim, &leased);
            let slow_allowed = claim.slow_limit > 0;
            let rows = tx
                .query(
                    &sql,
                    &[&claim.now, &claim.slow_after, &passed_over, &slow_allowed, &crate::store::candidates(claim)],
                )
                .await
                .map_err(&e)?;
            let candidates =
                all(&rows, "claiming due connections", |row| Ok((rows::connection(row)?, row.try_get(13)?)))?;
            let chosen = crate::store::choose(claim, candidates, leased);
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

    fn recover_interrupted(&self, is_alive: &dyn Fn(&str) -> bool, now: Time) -> Result<usize> {
        self.with(async |mut client| {
            let e = pg("recovering interrupted syncs");
            let tx = client.transaction().await.map_err(&e)?;
            tx.batch_execute(HOLDS_LOCKS_BRIEFLY).await.map_err(&e)?;
            // A connection an apply has locked is live: looked at again at the next tick.
            let sql = format!("{} FOR UPDATE OF c SKIP LOCKED", crate::store::LEASES_AND_RUNS);
            let rows = tx.query(&sql, &[]).await.map_err(&e)?;
            let rows = rows
                .iter()
                .map(|r| crate::store::LeaseAndRun {
                    connection_id: r.get(0),
                    owner: r.get(1),
                    until: r.get(2),
                    run: r.get(3),
                    run_before_interrupted: r.get(4),
                })
                .collect();
            let mut freed = 0;
            for lease in crate::store::lapsed(rows, is_alive, now) {
                // A row locked after this statement's snapshot is read again as it is now, joined to the
                // run as it was: a run that ended meanwhile is left as it ended, a lease taken since kept.
                if let Some(run) = lease.run {
                    let interrupted = tx
                        .execute(
                            "UPDATE runs SET outcome = 'interrupted', ended_at = $2, error = $3 \
                             WHERE id = $1 AND outcome = 'running'",
                            &[&run, &now, &crate::store::INTERRUPTED],
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
}
