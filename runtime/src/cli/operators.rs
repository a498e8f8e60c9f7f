//! `tib token` and `tib audit`: named API tokens made, listed and removed at the shell, and the
//! audit log read there. The shell's user acts as an admin ([`Actor::command_line`]): they hold
//! the store itself.

use std::io::Write;

use super::show::table;
use super::{Context, Failure, Format, TokenAction};
use crate::access::operator::{Actor, Role};
use crate::api::views;
use crate::web::when;

/// The columns of the audit log's table.
const AUDIT_HEADER: [&str; 7] = ["WHEN (UTC)", "WHO", "VIA", "FROM", "ACTION", "TARGET", "OUTCOME"];

impl Context {
    pub(super) async fn token(&self, action: TokenAction) -> Result<(), Failure> {
        let by = Actor::command_line();
        match action {
            TokenAction::Add { name, role } => {
                let role = Role::parse(&role).map_err(|e| Failure(e, 2))?;
                let made = self.services.add_token(&by, &name, role).await?;
                eprintln!("made the {role} token `{name}`: it is shown this once; keep it now");
                println!("{}", made.token);
            }
            TokenAction::List => {
                let rows: Vec<Vec<String>> = (self.services.tokens().await?.into_iter())
                    .map(|t| vec![t.name, t.role.to_string(), when(Some(t.created_at)), t.created_by])
                    .collect();
                print!("{}", table(&["NAME", "ROLE", "MADE (UTC)", "BY"], &rows));
            }
            TokenAction::Remove { name } => {
                self.services.remove_token(&by, &name).await?;
                println!("removed the token `{name}`: requests presenting it are refused from now on");
            }
        }
        Ok(())
    }

    pub(super) async fn audit(&self, limit: i64, format: Format) -> Result<(), Failure> {
        let entries = self.services.audit(None, limit).await?.entries;
        let mut out = std::io::stdout().lock();
        let written = match format {
            Format::Json => {
                let entries: Vec<views::AuditEntry> = entries.into_iter().map(views::AuditEntry::from).collect();
                serde_json::to_string_pretty(&entries)
                    .map_err(std::io::Error::other)
                    .and_then(|json| writeln!(out, "{}", tib_support::printable(&json)))
            }
            Format::Csv => {
                let rows = entries
                    .into_iter()
                    .map(|e| [when(Some(e.at)), e.actor, e.via, e.address, e.action, e.target, e.outcome]);
                write!(out, "{}", crate::csv::rows(["at", "actor", "via", "from", "action", "target", "outcome"], rows))
            }
            Format::Table => {
                let rows: Vec<Vec<String>> = (entries.into_iter())
                    .map(|e| vec![when(Some(e.at)), e.actor, e.via, e.address, e.action, e.target, e.outcome])
                    .collect();
                write!(out, "{}", table(&AUDIT_HEADER, &rows))
            }
        };
        written.map_err(|e| Failure(format!("cannot write the audit log: {e}"), 2))
    }
}
