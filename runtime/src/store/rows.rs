//! What both backends read alike, written once: the column lists of their
//! SELECTs, and a row's cells made into the store's types (a connection, a
//! run, a stored user, a history entry). Each backend says how a cell of its
//! rows is read ([`Cells`]); the rest is here.

use super::history::{Change, Event};
use super::{ApiToken, AuditEntry, Connection, Departed, LicenseHeld, Outcome, Person, Run, StoredUser, Time, UserRow};

/// The columns a user row and a staged record share, in this order.
pub(super) const USER_COLUMNS: &str = "external_id, email, username, full_name, first_name, last_name, role, \
                                       created_at, last_seen_at, active, status, licenses, custom_fields, roles, \
                                       groups, account_type, last_activity_at";

/// A stored user: [`USER_COLUMNS`], whether it is deleted, when it was first and last seen (a present
/// user was seen by the last applied sync), and when it last changed ([`modified_at`]). `table` is
/// the users table's name or alias in the query; `connection_id` the placeholder of the connection's id.
pub(super) fn stored_user_columns(table: &str, connection_id: &str) -> String {
    format!(
        "{USER_COLUMNS}, deleted, first_seen, CASE WHEN deleted THEN last_seen \
         ELSE COALESCE((SELECT users_synced_at FROM connections WHERE id = {connection_id}), last_seen) END, {}",
        modified_at(table)
    )
}

/// How many cells [`stored_user_columns`] makes: what a query selects after them starts here.
pub(super) const STORED_USER_CELLS: usize = 21;

/// When a stored user last changed (appeared, changed, gained or lost a license, was marked
/// deleted or came back): its latest history entry, or when it was first seen once its history has
/// been pruned past every change.
pub(super) fn modified_at(table: &str) -> String {
    format!(
        "COALESCE((SELECT MAX(h.at) FROM user_history h WHERE h.connection_id = {table}.connection_id \
         AND h.external_id = {table}.external_id), {table}.first_seen)"
    )
}

pub(super) const CONNECTION_COLUMNS: &str = "id, integration, account, credentials, base_url, enabled, \
                                             disabled_reason, interval_secs, next_sync_at, replace_users, token_url, \
                                             authorize_url, tokens";

pub(super) const RUN_COLUMNS: &str = "id, connection_id, started_at, ended_at, outcome, pages, users_seen, \
                                      users_dropped, dropped_reasons, error, added, updated, deleted, warning, \
                                      lookups, lookup_ms, dropped_users";

/// A history entry: whose, when, by which run, what happened and its detail.
pub(super) const HISTORY_COLUMNS: &str = "h.external_id, h.at, h.run_id, h.event, h.detail";

/// How a backend reads one cell of a row, by its index, as the type the column holds.
pub(super) trait Cells {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>, Self::Error>;
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// A row of [`CONNECTION_COLUMNS`].
pub(super) fn connection<R: Cells>(row: &R) -> Result<Connection, R::Error> {
    Ok(Connection {
        id: row.int(0)?,
        integration: row.text(1)?,
        account: row.text(2)?,
        sealed_credentials: row.bytes(3)?,
        base_url: row.opt_text(4)?,
        enabled: row.flag(5)?,
        disabled_reason: row.opt_text(6)?,
        interval_secs: row.int(7)?,
        next_sync_at: row.int(8)?,
        replace_users: row.flag(9)?,
        token_url: row.opt_text(10)?,
        authorize_url: row.opt_text(11)?,
        sealed_tokens: row.opt_bytes(12)?,
    })
}

/// A row of [`RUN_COLUMNS`].
pub(super) fn run<R: Cells>(row: &R) -> Result<Run, R::Error> {
    Ok(Run {
        id: row.int(0)?,
        connection_id: row.int(1)?,
        started_at: row.int(2)?,
        ended_at: row.opt_int(3)?,
        outcome: Outcome::parse(&row.text(4)?),
        pages: row.int(5)?,
        users_seen: row.int(6)?,
        users_dropped: row.int(7)?,
        dropped_reasons: serde_json::from_str(&row.text(8)?).unwrap_or_default(),
        error: row.opt_text(9)?,
        added: row.int(10)?,
        updated: row.int(11)?,
        deleted: row.int(12)?,
        warning: row.opt_text(13)?,
        lookups: row.int(14)?,
        lookup_ms: row.int(15)?,
        dropped_users: serde_json::from_str(&row.text(16)?).unwrap_or_default(),
    })
}

/// A row of [`stored_user_columns`].
pub(super) fn stored_user<R: Cells>(row: &R) -> Result<StoredUser, R::Error> {
    Ok(StoredUser {
        user: UserRow {
            external_id: row.text(0)?,
            email: row.text(1)?,
            username: row.opt_text(2)?,
            full_name: row.opt_text(3)?,
            first_name: row.opt_text(4)?,
            last_name: row.opt_text(5)?,
            role: row.opt_text(6)?,
            created_at: row.opt_text(7)?,
            last_seen_at: row.opt_text(8)?,
            active: row.flag(9)?,
            status: row.text(10)?,
            licenses: serde_json::from_str(&row.text(11)?).unwrap_or_default(),
            custom_fields: serde_json::from_str(&row.text(12)?).unwrap_or_default(),
            roles: row.opt_text(13)?.and_then(|roles| serde_json::from_str(&roles).ok()).unwrap_or_default(),
            groups: row.opt_text(14)?.and_then(|groups| serde_json::from_str(&groups).ok()).unwrap_or_default(),
            account_type: row.opt_text(15)?,
            last_activity_at: row.opt_text(16)?,
        },
        deleted: row.flag(17)?,
        first_seen: row.int(18)?,
        last_seen: row.int(19)?,
        modified_at: row.int(20)?,
    })
}

/// A row of [`super::filter::people`].
pub(super) fn person<R: Cells>(row: &R) -> Result<Person, R::Error> {
    // RFC 3339 times in UTC sort as text; the later of the two is when the app last saw them.
    let last_seen_at = row.opt_text(4)?.into_iter().chain(row.opt_text(5)?).max();
    Ok(Person {
        email: row.text(0)?,
        name: row.opt_text(1)?,
        accounts: row.int(2)?,
        with_access: row.int(3)?,
        last_seen_at,
    })
}

/// A row of [`super::filter::person`]: the connection's id and the stored user.
pub(super) fn persons_user<R: Cells>(row: &R) -> Result<(i64, StoredUser), R::Error> {
    Ok((row.int(STORED_USER_CELLS)?, stored_user(row)?))
}

/// A row of [`super::filter::departed`], and how many there are in all.
pub(super) fn departed<R: Cells>(row: &R) -> Result<(i64, Departed), R::Error> {
    let (connection_id, in_directory) = (row.int(STORED_USER_CELLS)?, row.flag(STORED_USER_CELLS + 1)?);
    Ok((row.int(STORED_USER_CELLS + 2)?, Departed { connection_id, user: stored_user(row)?, in_directory }))
}

/// A row of [`super::filter::unaccounted`], and how many there are in all.
pub(super) fn unaccounted<R: Cells>(row: &R) -> Result<(i64, (i64, StoredUser)), R::Error> {
    Ok((row.int(STORED_USER_CELLS + 2)?, persons_user(row)?))
}

/// The rows of a page each with the count of all ([`super::filter`]'s paged lists): the count and the rows.
pub(super) fn counted<T>(rows: Vec<(i64, T)>) -> (i64, Vec<T>) {
    let total = rows.first().map_or(0, |(total, _)| *total);
    (total, rows.into_iter().map(|(_, row)| row).collect())
}

/// The parameters of a page of a paged list: the offset, and the limit (every row without one).
pub(super) fn page_window(page: Option<(i64, i64)>) -> (i64, i64) {
    page.unwrap_or((0, i64::MAX))
}

/// A row of [`super::filter::licenses_held`].
pub(super) fn license_held<R: Cells>(row: &R) -> Result<LicenseHeld, R::Error> {
    Ok(LicenseHeld { connection_id: row.int(0)?, license: row.text(1)?, holders: row.int(2)?, unseen: row.int(3)? })
}

/// The columns of a named API token.
pub(super) const TOKEN_COLUMNS: &str = "name, role, created_at, created_by";

/// A row of [`TOKEN_COLUMNS`]. A role this build does not know reads as a viewer: the least a
/// token of a newer tib could be.
pub(super) fn api_token<R: Cells>(row: &R) -> Result<ApiToken, R::Error> {
    let role = crate::access::operator::Role::parse(&row.text(1)?).unwrap_or(crate::access::operator::Role::Viewer);
    Ok(ApiToken { name: row.text(0)?, role, created_at: row.int(2)?, created_by: row.text(3)? })
}

/// The columns of an audit entry.
pub(super) const AUDIT_COLUMNS: &str = "id, at, actor, via, address, action, target, outcome";

/// A row of [`AUDIT_COLUMNS`].
pub(super) fn audit_entry<R: Cells>(row: &R) -> Result<AuditEntry, R::Error> {
    Ok(AuditEntry {
        id: row.int(0)?,
        at: row.int(1)?,
        actor: row.text(2)?,
        via: row.text(3)?,
        address: row.text(4)?,
        action: row.text(5)?,
        target: row.text(6)?,
        outcome: row.text(7)?,
    })
}

/// A row of [`HISTORY_COLUMNS`]; `None` for an event this build does not know.
pub(super) fn change<R: Cells>(row: &R) -> Result<Option<Change>, R::Error> {
    let Some(event) = Event::parse(&row.text(3)?) else { return Ok(None) };
    let detail = row.opt_text(4)?;
    let (fields, license) = match event {
        Event::Changed => (detail.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_default(), None),
        Event::LicenseGained | Event::LicenseLost => (Vec::new(), detail),
        _ => (Vec::new(), None),
    };
    let at: Time = row.int(1)?;
    Ok(Some(Change { external_id: row.text(0)?, at, run_id: row.int(2)?, event, fields, license }))
}
