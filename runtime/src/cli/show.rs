//! How the commands print: aligned tables, times, users as table cells and CSV.

use crate::store::{Change, StoredUser, UserRow};
use crate::web::when;

/// Columns padded to their widest cell; each cell on one line, control
/// characters escaped (cells hold what APIs sent).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|row| row.iter().map(|cell| tib_support::one_line(cell).into_owned()).collect()).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

/// The columns of a users table.
pub const USER_HEADER: [&str; 9] =
    ["ID", "EMAIL", "NAME", "ROLE", "ACTIVE", "STATUS", "LICENSES", "CUSTOM FIELDS", "DELETED"];

/// Every custom field as `name=value`, for one table cell.
fn custom_cell(user: &UserRow) -> String {
    let fields: Vec<String> =
        user.custom_fields.keys().map(|name| format!("{name}={}", user.custom_text(name))).collect();
    fields.join("; ")
}

pub fn user_cells(stored: &StoredUser) -> Vec<String> {
    let u = &stored.user;
    vec![
        u.external_id.clone(),
        u.email.clone(),
        u.name(),
        u.role.clone().unwrap_or_default(),
        if u.active { "yes" } else { "no" }.to_owned(),
        u.status.clone(),
        u.licenses.join(", "),
        custom_cell(u),
        if stored.deleted { "yes" } else { "" }.to_owned(),
    ]
}

/// The stored users as CSV (see [`crate::csv::rows`]).
pub fn csv(users: &[StoredUser]) -> String {
    let header = [
        "external_id",
        "email",
        "username",
        "name",
        "role",
        "created_at",
        "last_seen_at",
        "active",
        "status",
        "licenses",
        "custom_fields",
        "roles",
        "groups",
        "account_type",
        "last_activity_at",
        "deleted",
        "first_seen",
        "last_seen",
    ];
    let rows = users.iter().map(|stored| {
        let u = &stored.user;
        [
            u.external_id.clone(),
            u.email.clone(),
            u.username.clone().unwrap_or_default(),
            u.name(),
            u.role.clone().unwrap_or_default(),
            u.created_at.clone().unwrap_or_default(),
            u.last_seen_at.clone().unwrap_or_default(),
            u.active.to_string(),
            u.status.clone(),
            u.licenses.join("; "),
            serde_json::to_string(&u.custom_fields).unwrap_or_default(),
            u.roles.join("; "),
            u.groups.join("; "),
            u.account_type.clone().unwrap_or_default(),
            u.last_activity_at.clone().unwrap_or_default(),
            stored.deleted.to_string(),
            when(Some(stored.first_seen)),
            when(Some(stored.last_seen)),
        ]
    });
    crate::csv::rows(header, rows)
}

/// The columns of a history table.
pub const HISTORY_HEADER: [&str; 4] = ["AT", "USER", "EVENT", "WHAT"];

/// What an entry says beyond its event: the license, or each field as `field: old → new`.
fn history_what(change: &Change) -> String {
    if let Some(license) = &change.license {
        return license.clone();
    }
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let fields: Vec<String> =
        change.fields.iter().map(|f| format!("{}: {} → {}", f.field, shown(&f.old), shown(&f.new))).collect();
    fields.join("; ")
}

pub fn history_cells(change: &Change) -> Vec<String> {
    vec![when(Some(change.at)), change.external_id.clone(), change.event.as_str().to_owned(), history_what(change)]
}

pub fn history_csv(changes: &[Change]) -> String {
    let rows = changes.iter().map(|c| {
        let at = chrono::DateTime::from_timestamp(c.at, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
        [at, c.external_id.clone(), c.event.as_str().to_owned(), history_what(c), c.run_id.to_string()]
    });
    crate::csv::rows(["at", "external_id", "event", "what", "run"], rows)
}
