//! The connected accounts in PostgreSQL: saved (the same account name replaces its credentials),
//! read, enabled or disabled, rescheduled and removed.

use super::*;
use crate::store::Connections;

impl Connections for Postgres {
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
            row.as_ref().map(rows::connection).transpose().map_err(pg("reading the connection"))
        })
    }

    fn connections(&self) -> Result<Vec<Connection>> {
        self.with(async |client| {
            let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections ORDER BY integration, account");
            let rows = client.query(&sql, &[]).await.map_err(pg("reading connections"))?;
            all(&rows, "reading connections", rows::connection)
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
}
