//! The commands that read a connection's users: `tib users` and `tib history`,
//! as a table, JSON or CSV.

use std::io::Write;

use super::show::{self, USER_HEADER, csv, table, user_cells};
use super::{Context, Failure, Format, about_connection};

impl Context {
    pub(super) async fn history(
        &self,
        integration: &str,
        account: &str,
        query: crate::store::HistoryQuery,
        format: Format,
    ) -> Result<(), Failure> {
        let changes = self.services.history(integration, account, query).await.map_err(about_connection)?;
        let mut out = std::io::stdout().lock();
        let written = match format {
            Format::Json => serde_json::to_string_pretty(&changes)
                .map_err(std::io::Error::other)
                .and_then(|json| writeln!(out, "{}", tib_support::printable(&json))),
            Format::Csv => write!(out, "{}", show::history_csv(&changes)),
            Format::Table if changes.is_empty() => writeln!(out, "no changes recorded for {integration}/{account}"),
            Format::Table => {
                let rows: Vec<Vec<String>> = changes.iter().map(show::history_cells).collect();
                write!(out, "{}", table(&show::HISTORY_HEADER, &rows))
            }
        };
        written.map_err(|e| Failure(format!("cannot write the history: {e}"), 2))
    }

    pub(super) async fn users(
        &self,
        integration: &str,
        account: &str,
        all: bool,
        format: Format,
    ) -> Result<(), Failure> {
        let users = self.services.all_users(integration, account, all).await.map_err(about_connection)?;
        let mut out = std::io::stdout().lock();
        let written = match format {
            Format::Json => serde_json::to_string_pretty(&users)
                .map_err(std::io::Error::other)
                .and_then(|json| writeln!(out, "{}", tib_support::printable(&json))),
            Format::Csv => write!(out, "{}", csv(&users)),
            Format::Table => {
                let rows: Vec<Vec<String>> = users.iter().map(user_cells).collect();
                write!(out, "{}", table(&USER_HEADER, &rows))
            }
        };
        written.map_err(|e| Failure(format!("cannot write the users: {e}"), 2))
    }
}
