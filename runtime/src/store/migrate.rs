//! `tib store migrate`: a deployment moved from its SQLite file to
//! PostgreSQL, nothing lost. Every table is copied as it is (ids kept, so runs,
//! users and their history still point at their connections), held runs with
//! their staged records and baselines, in one PostgreSQL transaction: a move
//! that fails leaves the database empty. The database must be empty; the
//! SQLite file is only read.

use std::path::Path;

use super::postgres::Postgres;
use super::sqlite::Sqlite;
use super::tables::{Column, Kind, TABLES, Table};
use super::{Connections, Leases, Result, StoreError, Time};

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
