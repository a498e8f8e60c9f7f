//! The tables both stores hold, as a move between them sees them: each
//! table's columns with their types, and their values column by column.

/// A column's type, as both stores hold it.
#[derive(Clone, Copy)]
pub enum Kind {
    Int,
    Text,
    Blob,
    Bool,
}

/// One table's values, column by column.
pub enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Blob(Vec<Option<Vec<u8>>>),
    Bool(Vec<Option<bool>>),
}

/// A table to move: its name, its columns, and their values.
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    pub values: Vec<Column>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.values.first().map_or(0, Column::rows)
    }
}

impl Column {
    pub fn rows(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Blob(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }
}

/// The tables, parents first, with their columns: what is moved.
pub const TABLES: &[(&str, &[(&str, Kind)])] = {
    use Kind::{Blob, Bool, Int, Text};
    &[
        (
            "connections",
            &[
                ("id", Int),
                ("integration", Text),
                ("account", Text),
                ("credentials", Blob),
                ("base_url", Text),
                ("enabled", Bool),
                ("disabled_reason", Text),
                ("interval_secs", Int),
                ("next_sync_at", Int),
                ("replace_users", Bool),
                ("lease_owner", Text),
                ("lease_until", Int),
                ("created_at", Int),
                ("token_url", Text),
                ("authorize_url", Text),
                ("tokens", Blob),
                ("users_version", Int),
                ("users_synced_at", Int),
            ],
        ),
        (
            "runs",
            &[
                ("id", Int),
                ("connection_id", Int),
                ("started_at", Int),
                ("ended_at", Int),
                ("outcome", Text),
                ("pages", Int),
                ("users_seen", Int),
                ("users_dropped", Int),
                ("dropped_reasons", Text),
                ("error", Text),
                ("users_version", Int),
                ("added", Int),
                ("updated", Int),
                ("deleted", Int),
                ("warning", Text),
                ("lookups", Int),
                ("lookup_ms", Int),
                ("dropped_users", Text),
            ],
        ),
        (
            "users",
            &[
                ("connection_id", Int),
                ("external_id", Text),
                ("email", Text),
                ("username", Text),
                ("full_name", Text),
                ("first_name", Text),
                ("last_name", Text),
                ("role", Text),
                ("created_at", Text),
                ("last_seen_at", Text),
                ("active", Bool),
                ("status", Text),
                ("licenses", Text),
                ("custom_fields", Text),
                ("roles", Text),
                ("groups", Text),
                ("account_type", Text),
                ("last_activity_at", Text),
                ("deleted", Bool),
                ("first_seen", Int),
                ("last_seen", Int),
                ("digest", Int),
                ("run_id", Int),
            ],
        ),
        (
            "user_history",
            &[
                ("id", Int),
                ("connection_id", Int),
                ("external_id", Text),
                ("at", Int),
                ("run_id", Int),
                ("event", Text),
                ("detail", Text),
            ],
        ),
        ("notifications", &[("id", Int), ("connection", Text), ("created_at", Int), ("kind", Text), ("message", Text)]),
        (
            "authorizations",
            &[
                ("state", Text),
                ("integration", Text),
                ("account", Text),
                ("verifier", Blob),
                ("redirect_uri", Text),
                ("expires_at", Int),
            ],
        ),
    ]
};

/// A held run's staged records (in whole-record batches) and the digests it kept.
pub struct Held {
    pub run_id: i64,
    pub batches: Vec<Vec<u8>>,
    pub kept: Vec<u8>,
}
