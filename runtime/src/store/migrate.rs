//! `tib store migrate`: a deployment moved from its SQLite file to
//! PostgreSQL, nothing lost. Every table is copied as it is (ids kept, so runs,
//! users and their history still point at their connections), held runs with
//! their staged records and baselines, in one PostgreSQL transaction: a move
//! that fails leaves the database empty. The database must be empty; the
//! SQLite file is only read.

use std::path::Path;

use super::postgres::Postgres;
use super::sqlite::Sqlite;
use super::{Result, Store, StoreError, Time};

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

/// What was moved: each table with its rows.
pub struct Moved {
    pub tables: Vec<(&'static str, usize)>,
    pub held: usize,
}

/// Moves the SQLite store at `from` into the empty PostgreSQL database at `to`.
pub fn sqlite_to_postgres(from: &Path, to: &str, is_alive: &dyn Fn(&str) -> bool, now: Time) -> Result<Moved> {
    if !from.exists() {
        return Err(StoreError::failed(format!("there is no SQLite store at {}", from.display())));
    }
    let source = Sqlite::open_to_move(from)?;
    // A sync under way stops the move; one of a process that is gone moves, and is recorded as
    // interrupted in PostgreSQL (the source is only read).
    let leases = source.dump("connections", &[("lease_owner", Kind::Text), ("lease_until", Kind::Int)], None)?;
    if let [Column::Text(owners), Column::Int(until)] = leases.as_slice() {
        let live = owners
            .iter()
            .zip(until)
            .any(|(owner, until)| owner.as_deref().is_some_and(is_alive) && until.is_some_and(|until| until >= now));
        if live {
            return Err(StoreError::failed(format!(
                "a sync is under way in {}: stop every tib using it, then move it",
                from.display()
            )));
        }
    }
    let target = Postgres::open(to)?;
    let there = target.connections()?.len();
    if there > 0 {
        return Err(StoreError::failed(format!(
            "the PostgreSQL database already holds {there} connections: move into an empty one"
        )));
    }
    let mut tables = Vec::new();
    for (name, columns) in TABLES {
        tables.push(Table { name, columns, values: source.dump(name, columns, None)? });
    }
    let held = source.held_runs()?;
    let moved = Moved { tables: tables.iter().map(|table| (table.name, table.rows())).collect(), held: held.len() };
    target.import(tables, held)?;
    target.recover_interrupted(is_alive, now)?;
    Ok(moved)
}
