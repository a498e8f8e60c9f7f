//! The connected accounts in the SQLite file: saved (the same account name replaces its
//! credentials), read, enabled or disabled, rescheduled and removed.

use super::*;
use crate::store::Connections;

impl Connections for Sqlite {
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
        self.read()
            .query_row(
                &format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE integration = ?1 AND account = ?2"),
                [integration, account],
                |r| rows::connection(r),
            )
            .optional()
            .map_err(err("reading the connection"))
    }

    fn connections(&self) -> Result<Vec<Connection>> {
        let db = self.read();
        let mut statement = db
            .prepare(&format!("SELECT {CONNECTION_COLUMNS} FROM connections ORDER BY integration, account"))
            .map_err(err("reading connections"))?;
        let rows = statement.query_map([], |r| rows::connection(r)).map_err(err("reading connections"))?;
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
}
