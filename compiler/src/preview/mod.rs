//! Test and preview for spec authors: a spec tried against the live API
//! without a cargo build, through the same support crate the generated
//! connectors use.
//!
//! `test` ([`probe`]) shows the first page's request and answer; `preview`
//! ([`listing`]) follows the pages and shows the users as they would be stored.

pub mod connect;
mod hint;
pub mod interpret;
mod listing;
mod probe;
pub mod report;
pub(crate) mod spec;

use std::fmt::Write;
use std::time::Duration;

use tib_support::{Client, Connection, RetryPolicy, SyncError};

use crate::ir;
use connect::{Given, Prepared};
use interpret::Interpreted;

/// A spec and what it connects with, for one command.
pub struct Session {
    interpreted: Interpreted,
    prepared: Prepared,
    client: Client,
    retry: RetryPolicy,
}

/// What a command prints, and whether it worked.
pub struct Outcome {
    pub text: String,
    pub ok: bool,
}

impl Session {
    /// Fails with a message when the credentials do not fit the spec.
    pub fn new(spec: ir::Spec, given: Given, env: impl Fn(&str) -> Option<String>) -> Result<Session, String> {
        let interpreted = Interpreted::new(spec).count_presence();
        let prepared =
            connect::prepare(interpreted.ir(), tib_support::Connector::spec(&interpreted).credentials, given, env)?;
        let client = Client::new(Duration::from_secs(30)).map_err(|e| e.to_string())?;
        // An author waits at the terminal: retry less and sooner than a scheduled sync.
        let retry =
            RetryPolicy { max_retries: 2, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(10) };
        Ok(Session { interpreted, prepared, client, retry })
    }

    fn connection(&self) -> Connection<'_> {
        Connection {
            credentials: &self.prepared.credentials,
            tokens: self.prepared.access_token.as_ref().map(|t| t as &dyn tib_support::oauth::TokenProvider),
            base_url: self.prepared.base_url.as_ref(),
        }
    }

    /// `compiler test`.
    pub async fn test(&self) -> Outcome {
        probe::run(self).await
    }

    /// `compiler preview`: at most `max_pages` pages, as a table or JSON.
    pub async fn preview(&self, max_pages: u32, json: bool) -> Outcome {
        listing::run(self, max_pages, json).await
    }
}

/// A failed request: what happened, the API's own message, and what to check.
fn failure(out: &mut String, error: &SyncError, spec: &ir::Spec) {
    let _ = writeln!(out, "error: {error}");
    if let SyncError::Status { body, .. } = error
        && let Some(message) = hint::api_message(body)
    {
        let _ = writeln!(out, "the API says: {message}");
    }
    let _ = writeln!(out, "hint: {}", hint::hint(error, spec));
}
