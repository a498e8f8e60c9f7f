//! The operators' side of PostgreSQL: named API tokens, the audit log, notifications read.

use super::*;
use crate::store::rows::{AUDIT_COLUMNS, TOKEN_COLUMNS};
use crate::store::{ApiToken, AuditEntry, Operators};

impl Operators for Postgres {
    fn add_token(&self, token: &ApiToken, hash: &str) -> Result<bool> {
        let role = token.role.as_str();
        self.with(async |client| {
            let added = client
                .execute(
                    "INSERT INTO api_tokens (name, hash, role, created_at, created_by) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (name) DO NOTHING",
                    &[&token.name, &hash, &role, &token.created_at, &token.created_by],
                )
                .await
                .map_err(pg("keeping the token"))?;
            Ok(added == 1)
        })
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        self.with(async |client| {
            let row = client
                .query_opt(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = $1"), &[&hash])
                .await
                .map_err(pg("reading a token"))?;
            row.map(|r| rows::api_token(&r).map_err(pg("reading a token"))).transpose()
        })
    }

    fn tokens(&self) -> Result<Vec<ApiToken>> {
        self.with(async |client| {
            let rows = client
                .query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY name"), &[])
                .await
                .map_err(pg("reading the tokens"))?;
            all(&rows, "reading the tokens", rows::api_token)
        })
    }

    fn remove_token(&self, name: &str) -> Result<bool> {
        self.with(async |client| {
            let removed = client
                .execute("DELETE FROM api_tokens WHERE name = $1", &[&name])
                .await
                .map_err(pg("removing a token"))?;
            Ok(removed == 1)
        })
    }

    fn record(&self, e: &AuditEntry) -> Result<()> {
        self.with(async |client| {
            client
                .execute(
                    "INSERT INTO audit (at, actor, via, address, action, target, outcome) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[&e.at, &e.actor, &e.via, &e.address, &e.action, &e.target, &e.outcome],
                )
                .await
                .map(drop)
                .map_err(pg("writing the audit log"))
        })
    }

    fn audit(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        self.with(async |client| {
            let rows = client
                .query(
                    &format!(
                        "SELECT {AUDIT_COLUMNS} FROM audit WHERE $1::BIGINT IS NULL OR id < $1 ORDER BY id DESC LIMIT $2"
                    ),
                    &[&before, &limit],
                )
                .await
                .map_err(pg("reading the audit log"))?;
            all(&rows, "reading the audit log", rows::audit_entry)
        })
    }

    fn mark_read(&self, operator: &str, up_to: i64) -> Result<()> {
        self.with(async |client| {
            client
                .execute(
                    "INSERT INTO notification_reads (operator, last_read) VALUES ($1, $2) ON CONFLICT (operator) \
                     DO UPDATE SET last_read = GREATEST(notification_reads.last_read, excluded.last_read)",
                    &[&operator, &up_to],
                )
                .await
                .map(drop)
                .map_err(pg("marking notifications read"))
        })
    }

    fn unread(&self, operator: &str) -> Result<i64> {
        self.with(async |client| {
            one(
                &client,
                "counting unread notifications",
                "SELECT COUNT(*) FROM notifications WHERE id > \
                 COALESCE((SELECT last_read FROM notification_reads WHERE operator = $1), 0)",
                &[&operator],
            )
            .await
        })
    }
}
