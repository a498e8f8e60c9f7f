//! OAuth in the SQLite file: the authorizations under way (each state single use) and a
//! connection's sealed tokens.

use super::*;
use crate::store::Authorizations;

impl Authorizations for Sqlite {
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
}
