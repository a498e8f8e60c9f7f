//! The syncs of a connection in PostgreSQL: a run started against its baseline, its users staged,
//! then applied or held under the policy, failed, or approved; and the runs listed.

use super::*;
use crate::store::Runs;

impl Runs for Postgres {
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
            let run_id: i64 = inserted.ok_or_else(|| crate::store::not_leased(owner))?.get(0);
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

    fn held_deletions(
        &self,
        connection_id: i64,
        offset: i64,
        limit: i64,
        now: Time,
    ) -> Result<Option<crate::store::HeldDeletions>> {
        self.with(async |client| apply::held_deletions(client, connection_id, offset, limit, now).await)
    }

    fn discard_held(&self, connection_id: i64) -> Result<bool> {
        self.with(async |client| apply::discard(client, connection_id).await)
    }

    fn last_runs(&self) -> Result<Vec<Run>> {
        self.with(async |client| {
            let sql =
                format!("SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY connection_id)");
            let rows = client.query(&sql, &[]).await.map_err(pg("reading runs"))?;
            all(&rows, "reading runs", rows::run)
        })
    }

    fn runs(&self, connection_id: i64, limit: i64) -> Result<Vec<Run>> {
        self.with(async |client| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE connection_id = $1 ORDER BY id DESC LIMIT $2");
            let rows = client.query(&sql, &[&connection_id, &limit]).await.map_err(pg("reading runs"))?;
            all(&rows, "reading runs", rows::run)
        })
    }
}
