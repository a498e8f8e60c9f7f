//! OAuth in PostgreSQL: the authorizations under way (each state single use) and a connection's
//! sealed tokens.

use super::*;
use crate::store::Authorizations;

impl Authorizations for Postgres {
    fn save_tokens(&self, id: i64, sealed: &[u8]) -> Result<()> {
        self.with(async |client| {
            client
                .execute("UPDATE connections SET tokens = $2 WHERE id = $1", &[&id, &sealed])
                .await
                .map_err(pg("storing the tokens"))?;
            Ok(())
        })
    }

    fn add_authorization(&self, pending: &PendingAuthorization) -> Result<()> {
        self.with(async |client| {
            client
                .execute(
                    "INSERT INTO authorizations (state, integration, account, verifier, redirect_uri, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &pending.state,
                        &pending.integration,
                        &pending.account,
                        &pending.sealed_verifier,
                        &pending.redirect_uri,
                        &pending.expires_at,
                    ],
                )
                .await
                .map_err(pg("storing the authorization"))?;
            Ok(())
        })
    }

    fn take_authorization(&self, state: &str, now: Time) -> Result<Option<PendingAuthorization>> {
        self.with(async |mut client| {
            let e = pg("reading the authorization");
            let tx = client.transaction().await.map_err(&e)?;
            tx.execute("DELETE FROM authorizations WHERE expires_at < $1 AND state <> $2", &[&now, &state])
                .await
                .map_err(&e)?;
            // Single use: whatever comes of it, a state is never accepted twice.
            let row = tx
                .query_opt(
                    "DELETE FROM authorizations WHERE state = $1 \
                     RETURNING state, integration, account, verifier, redirect_uri, expires_at",
                    &[&state],
                )
                .await
                .map_err(&e)?;
            tx.commit().await.map_err(&e)?;
            Ok(row.map(|r| PendingAuthorization {
                state: r.get(0),
                integration: r.get(1),
                account: r.get(2),
                sealed_verifier: r.get(3),
                redirect_uri: r.get(4),
                expires_at: r.get(5),
            }))
        })
    }
}
