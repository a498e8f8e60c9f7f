//! Operators by name: every change goes through [`Services::change`], which refuses a viewer and
//! writes what was done or tried, by whom, from where, to the audit log; named API tokens for
//! machines (made, listed, removed, and found by what a request presents); and how far each
//! operator has read the notifications.

use std::future::Future;

use sha2::{Digest, Sha256};

use super::{Error, Result, Services};
use crate::access::operator::{Actor, Role, Via};
use crate::store::{ApiToken, AuditEntry};

/// What every named API token starts with, so a leaked one is recognised for what it is.
const TOKEN_PREFIX: &str = "tib_";

/// The longest token name: a name, not a document.
const MAX_TOKEN_NAME: usize = 64;

/// A token just made: shown once, never kept.
pub struct MadeToken {
    pub token: String,
    pub made: ApiToken,
}

/// A page of the audit log, newest first, and the id to read older entries before.
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub older: Option<i64>,
}

/// The hex SHA-256 a token is kept and found by.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A token's name: a few letters, digits and `-_.@`, so it reads plainly in the audit log.
fn check_token_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.@".contains(c);
    if name.is_empty() || name.len() > MAX_TOKEN_NAME || !name.chars().all(allowed) {
        return Err(Error::invalid(format!(
            "a token's name is 1 to {MAX_TOKEN_NAME} letters, digits, `-`, `_`, `.` or `@` (`scim-reader`, say)"
        )));
    }
    Ok(())
}

impl Services {
    /// Does `work`, a change to `target`, for `by`: refused unless they are an admin; what came of
    /// it (done, refused, failed) is written to the audit log either way. A log that cannot be
    /// written is the server's log's to say: the change itself stands.
    pub async fn change<T>(
        &self,
        by: &Actor,
        action: &str,
        target: &str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let outcome = match by.may_change() {
            Ok(()) => work.await,
            Err(refused) => Err(Error::forbidden(refused)),
        };
        let said = match &outcome {
            Ok(_) => "done".to_owned(),
            Err(error) => error.message.clone(),
        };
        self.log(by, action, target, said).await;
        outcome
    }

    /// Something an operator did that changes nothing but belongs in the log: a login, a logout.
    pub async fn note(&self, by: &Actor, action: &str) {
        self.log(by, action, "", "done".to_owned()).await;
    }

    /// Writes one entry of the audit log.
    async fn log(&self, by: &Actor, action: &str, target: &str, outcome: String) {
        let entry = AuditEntry {
            id: 0,
            at: self.clock.now(),
            actor: by.name.clone(),
            via: by.via.as_str().to_owned(),
            address: by.from(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome,
        };
        if let Err(error) = self.in_store(move |store| store.record(&entry)).await {
            tracing::error!(%error, action, target, "the audit log could not be written");
        }
    }

    /// A new API token named `name` with `role`; the token is in the answer only.
    pub async fn add_token(&self, by: &Actor, name: &str, role: Role) -> Result<MadeToken> {
        self.change(by, &format!("add {role} token"), name, async {
            check_token_name(name)?;
            let token = format!("{TOKEN_PREFIX}{}", crate::access::sessions::random_id());
            let made =
                ApiToken { name: name.to_owned(), role, created_at: self.clock.now(), created_by: by.name.clone() };
            let (hash, kept) = (token_hash(&token), made.clone());
            if !self.in_store(move |store| store.add_token(&kept, &hash)).await? {
                return Err(Error::conflict(format!(
                    "a token named `{name}` exists: remove it first, or pick another name"
                )));
            }
            Ok(MadeToken { token, made })
        })
        .await
    }

    pub async fn remove_token(&self, by: &Actor, name: &str) -> Result<()> {
        self.change(by, "remove token", name, async {
            let owned = name.to_owned();
            match self.in_store(move |store| store.remove_token(&owned)).await? {
                true => Ok(()),
                false => Err(Error::not_found(format!("no token named `{name}`"))),
            }
        })
        .await
    }

    pub async fn tokens(&self) -> Result<Vec<ApiToken>> {
        self.in_store(|store| store.tokens()).await
    }

    /// Who presents `token`, when it is a named API token.
    pub async fn token_holder(&self, token: &str, address: std::net::IpAddr) -> Result<Option<Actor>> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = token_hash(token);
        let kept = self.in_store(move |store| store.token_by_hash(&hash)).await?;
        Ok(kept.map(|t| Actor { name: t.name, role: t.role, via: Via::ApiToken, address: Some(address) }))
    }

    /// The audit log, newest first: `limit` entries older than `before`.
    pub async fn audit(&self, before: Option<i64>, limit: i64) -> Result<AuditPage> {
        // One more than asked tells whether there are older ones.
        let mut entries = self.in_store(move |store| store.audit(before, limit + 1)).await?;
        let more = entries.len() as i64 > limit;
        entries.truncate(usize::try_from(limit).unwrap_or(0));
        let older = if more { entries.last().map(|e| e.id) } else { None };
        Ok(AuditPage { entries, older })
    }

    /// How many notifications `operator` has not seen.
    pub async fn unread(&self, operator: &str) -> Result<i64> {
        let operator = operator.to_owned();
        self.in_store(move |store| store.unread(&operator)).await
    }

    /// `operator` has seen every notification up to `up_to`.
    pub async fn mark_read(&self, operator: &str, up_to: i64) -> Result<()> {
        let operator = operator.to_owned();
        self.in_store(move |store| store.mark_read(&operator, up_to)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_read_plainly() {
        for good in ["scim-reader", "okta.sync@acme", "A_1"] {
            assert!(check_token_name(good).is_ok(), "{good}");
        }
        for bad in ["", "has space", "new\nline", &"x".repeat(65), "é"] {
            assert_eq!(check_token_name(bad).expect_err("refused").kind, super::super::ErrorKind::Invalid, "{bad:?}");
        }
        assert_eq!(token_hash("tib_x").len(), 64);
    }
}
