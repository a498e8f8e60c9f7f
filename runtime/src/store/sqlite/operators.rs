//! The operators' side of the SQLite file: named API tokens, the audit log, notifications read.

use super::*;
use crate::store::rows::{AUDIT_COLUMNS, TOKEN_COLUMNS};
use crate::store::{ApiToken, AuditEntry, Operators};

impl Operators for Sqlite {
    fn add_token(&self, token: &ApiToken, hash: &str) -> Result<bool> {
        let db = self.lock();
        let added = db
            .execute(
                "INSERT INTO api_tokens (name, hash, role, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (name) DO NOTHING",
                params![token.name, hash, token.role.as_str(), token.created_at, token.created_by],
            )
            .map_err(err("keeping the token"))?;
        Ok(added == 1)
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        let db = self.read();
        let mut statement = db
            .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = ?1"))
            .map_err(err("reading a token"))?;
        statement.query_row([hash], |r| rows::api_token(r)).optional().map_err(err("reading a token"))
    }

    fn tokens(&self) -> Result<Vec<ApiToken>> {
        let db = self.read();
        let mut statement = db
            .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY name"))
            .map_err(err("reading the tokens"))?;
        let rows = statement.query_map([], |r| rows::api_token(r)).map_err(err("reading the tokens"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading the tokens"))
    }

    fn remove_token(&self, name: &str) -> Result<bool> {
        let db = self.lock();
        let removed = db.execute("DELETE FROM api_tokens WHERE name = ?1", [name]).map_err(err("removing a token"))?;
        Ok(removed == 1)
    }

    fn record(&self, e: &AuditEntry) -> Result<()> {
        let db = self.lock();
        db.execute(
            "INSERT INTO audit (at, actor, via, address, action, target, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![e.at, e.actor, e.via, e.address, e.action, e.target, e.outcome],
        )
        .map(drop)
        .map_err(err("writing the audit log"))
    }

    fn audit(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        let db = self.read();
        let mut statement = db
            .prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2"
            ))
            .map_err(err("reading the audit log"))?;
        let rows = statement
            .query_map(params![before, limit], |r| rows::audit_entry(r))
            .map_err(err("reading the audit log"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading the audit log"))
    }

    fn mark_read(&self, operator: &str, up_to: i64) -> Result<()> {
        let db = self.lock();
        db.execute(
            "INSERT INTO notification_reads (operator, last_read) VALUES (?1, ?2) \
             ON CONFLICT (operator) DO UPDATE SET last_read = MAX(last_read, excluded.last_read)",
            params![operator, up_to],
        )
        .map(drop)
        .map_err(err("marking notifications read"))
    }

    fn unread(&self, operator: &str) -> Result<i64> {
        let db = self.read();
        db.query_row(
            "SELECT COUNT(*) FROM notifications WHERE id > \
             COALESCE((SELECT last_read FROM notification_reads WHERE operator = ?1), 0)",
            [operator],
            |r| r.get(0),
        )
        .map_err(err("counting unread notifications"))
    }
}
