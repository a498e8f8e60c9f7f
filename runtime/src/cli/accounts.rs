//! The commands on connected accounts: connect one, act on one (enable,
//! approve, disconnect), list them, their health, and the integrations they
//! can be of.

use std::io::{BufRead, IsTerminal, Write};

use tib_support::spec::CredentialSpec;
use tib_support::{CredentialValues, env_name};

use super::{Context, Failure};
use crate::access::operator::Actor;
use crate::operate::{Action, Authorization, NewAccount, Overrides, Trial};
use crate::store::{Outcome, Upserted};
use crate::web::when;

impl Context {
    pub(super) async fn connect(
        &self,
        integration: &str,
        account: &str,
        flags: &[(String, String)],
        overrides: Overrides,
        every: i64,
        trial: Trial,
    ) -> Result<(), Failure> {
        let connector = self.services.connector(integration).map_err(|e| Failure(e.message, 2))?;
        let spec = connector.spec();
        let interactive = std::io::stdin().is_terminal();
        let values = CredentialValues::collect(spec.credentials, flags, |c| {
            std::env::var(env_name(c.name)).ok().or_else(|| if interactive { prompt(c) } else { None })
        })
        .map_err(|e| Failure(e.to_string(), 2))?;
        // The key first: a missing one is a setup error, said before anything is stored.
        self.vault()?;
        let new = NewAccount {
            integration: integration.to_owned(),
            account: account.to_owned(),
            values,
            overrides,
            every,
            // The same account name overwrites: the command says it did.
            replace: true,
        };
        let connected =
            self.services.connect(&Actor::command_line(), new, trial).await.map_err(|e| Failure(e.message, 2))?;
        let name = format!("{integration}/{account}");
        match connected.upserted {
            Upserted::Created => println!("connected {name}"),
            Upserted::Replaced => println!(
                "{name} was already connected: its credentials are replaced, and its next sync replaces its stored users"
            ),
        }
        if let Some(authorization) = connected.authorization {
            self.print_authorization(integration, spec, &authorization);
        }
        Ok(())
    }

    /// Prints an authorization-code connection's link (and opens it where it can) and the redirect URLs.
    fn print_authorization(&self, integration: &str, spec: &'static tib_support::Spec, authorization: &Authorization) {
        if !authorization.refresh_tokens {
            println!(
                "warning: {} gives no refresh tokens; when the access token expires, the connection is disabled until it is authorized again",
                spec.app
            );
        }
        let url = &authorization.url;
        println!("authorize tib at {} (the link works once, for 10 minutes):\n  {url}", spec.app);
        println!("the provider must allow the redirect URLs:");
        for line in redirect_urls(&self.settings.public_url, integration) {
            println!("  {line}");
        }
        println!("`tib serve` must be running at {} to receive the redirect", self.settings.public_url);
        if std::io::stdout().is_terminal() && std::env::var_os("TIB_NO_BROWSER").is_none() {
            // Best effort: where no browser can be opened, the printed link is enough.
            let _ = std::process::Command::new("xdg-open")
                .arg(url.as_str())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
    }

    /// Does `action` to a connection and says what it did.
    pub(super) async fn act(&self, integration: &str, account: &str, action: Action) -> Result<(), Failure> {
        let done = self
            .services
            .act(&Actor::command_line(), integration, account, action)
            .await
            .map_err(super::about_connection)?;
        match action {
            Action::Enable => println!("{done} of `tib serve` (or run `tib sync`)"),
            _ => println!("{done}"),
        }
        Ok(())
    }

    pub(super) async fn list(&self) -> Result<(), Failure> {
        let mut rows = Vec::new();
        for summary in self.services.summaries().await? {
            let c = &summary.connection;
            let state = if c.enabled { "enabled" } else { "disabled" };
            let last_sync = summary
                .last_run
                .as_ref()
                .map_or_else(|| "never".to_owned(), |r| format!("{} {}", when(Some(r.started_at)), r.outcome.as_str()));
            let error = summary.last_run.as_ref().and_then(|r| r.error.clone()).or(c.disabled_reason.clone());
            let error: String = error.unwrap_or_default().chars().take(100).collect();
            let next = if c.enabled { when(Some(c.next_sync_at)) } else { "-".to_owned() };
            let users = format!("{}/{}", summary.with_access, summary.users);
            rows.push(vec![c.name(), state.to_owned(), last_sync, next, users, error]);
        }
        if rows.is_empty() {
            println!("no connections; add one with `tib connect INTEGRATION ACCOUNT`");
        } else {
            let header = ["CONNECTION", "STATE", "LAST SYNC", "NEXT SYNC", "USERS (ACTIVE/ALL)", "LAST ERROR"];
            print!("{}", super::show::table(&header, &rows));
        }
        Ok(())
    }

    pub(super) async fn status(&self) -> Result<(), Failure> {
        println!("store: {}", self.services.health().await?);
        let now = self.services.clock.now();
        for summary in self.services.summaries().await? {
            let c = &summary.connection;
            let health = match (&summary.last_run, c.enabled) {
                (_, false) => format!("disabled: {}", c.disabled_reason.clone().unwrap_or_default()),
                (None, true) => "not synced yet".to_owned(),
                (Some(run), true) => match run.outcome {
                    Outcome::Applied | Outcome::Approved => match &run.warning {
                        Some(warning) => format!("ok, last synced {}; warning: {warning}", when(run.ended_at)),
                        None => format!("ok, last synced {}", when(run.ended_at)),
                    },
                    Outcome::Held => "held: waiting for `tib approve`".to_owned(),
                    outcome => format!("{}: {}", outcome.as_str(), run.error.clone().unwrap_or_default()),
                },
            };
            let overdue = if c.enabled && c.next_sync_at < now - 3600 { " (overdue)" } else { "" };
            println!("{}: {}{overdue}", c.name(), tib_support::one_line(&health));
        }
        let notifications = self.services.notifications(5).await?;
        if !notifications.is_empty() {
            println!("recent notifications:");
            for n in notifications {
                println!("  {} {} {}", when(Some(n.created_at)), n.kind, tib_support::one_line(&n.message));
            }
        }
        Ok(())
    }
}

/// `tib integrations`: each with the credentials it asks for, and for OAuth the redirect URLs.
pub(super) fn integrations(public_url: &url::Url) {
    for crate::integrations::Integration { id, connector, origin } in crate::integrations::all() {
        let spec = connector.spec();
        let credentials: Vec<String> =
            spec.credentials.iter().map(|c| format!("{}{}", c.name, if c.secret { " (secret)" } else { "" })).collect();
        println!("{id:<20} {:<24} credentials: {}", spec.app, credentials.join(", "));
        if let crate::integrations::Origin::Interpreted(path) = origin {
            println!("{:<20} interpreted from {}", "", path.display());
        }
        for (path, _) in crate::integrations::shadowed().iter().filter(|(_, shadowed)| *shadowed == id) {
            println!("{:<20} {}", "", crate::integrations::shadowed_words(path, &id));
        }
        if let tib_support::spec::Auth::OAuthAuthorizationCode(_) = spec.auth {
            println!("{:<20} redirect URLs the provider must allow:", "");
            println!("{:<20}   {}", "", redirect_urls(public_url, &id).join(&format!("\n{:<20}   ", "")));
        }
    }
}

/// The production redirect URL of an integration, and the loopback one spec authors test with.
fn redirect_urls(public_url: &url::Url, integration: &str) -> [String; 2] {
    let production = tib_support::oauth::production_redirect_url(public_url, integration);
    let test = tib_support::oauth::test_redirect_url(tib_support::oauth::TEST_REDIRECT_PORT);
    [format!("{production} (production: tib serve)"), format!("{test} (test: compiler session)")]
}

/// Asks for a credential at the terminal; secrets are not echoed.
fn prompt(credential: &CredentialSpec) -> Option<String> {
    let label = if credential.description.is_empty() {
        format!("{}: ", credential.name)
    } else {
        format!("{} ({}): ", credential.name, credential.description)
    };
    if credential.secret {
        return rpassword::prompt_password(label).ok();
    }
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_owned())
}
