//! `tib store migrate`: an SQLite store moved into PostgreSQL, and what moved.

use super::Failure;
use crate::clock::{Clock, SystemClock};

pub(super) fn migrate(from: &std::path::Path, to: &str) -> Result<(), Failure> {
    if !crate::store::postgres::is_url(to) {
        return Err(Failure(format!("--to must be a PostgreSQL URL (postgres://…), not `{to}`"), 2));
    }
    let moved = crate::store::migrate::sqlite_to_postgres(from, to, &crate::owner::alive, SystemClock.now())?;
    let tables: Vec<String> = moved.tables.iter().map(|(table, rows)| format!("{rows} {table}")).collect();
    println!(
        "moved {} into {}: {}, {} held syncs",
        from.display(),
        crate::store::shown(to),
        tables.join(", "),
        moved.held
    );
    println!("serve it with: tib --store {} --key-file KEY serve", crate::store::shown(to));
    Ok(())
}
