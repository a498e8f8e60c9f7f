//! The overview: the connected accounts with their state, syncs and last
//! error, and the integrations of this build available to connect.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, Render, html};

use super::layout::{self, Page, line, navigation};
use super::{Done, Operator, error_page};
use crate::api::views::{AuthKind, Integration};
use crate::operate::{ConnectionState, Summary};
use crate::web::Web;
use crate::web::{account_path, percent_encode, when};

/// A connection's state in words, with its reason (the API's message and its hint when the error
/// policy disabled it), and its style.
pub(super) fn state_text(summary: &Summary) -> (String, &'static str) {
    match summary.state() {
        ConnectionState::Enabled => ("enabled".to_owned(), "state-enabled"),
        ConnectionState::Disabled => {
            let reason = summary.connection.disabled_reason.as_deref().unwrap_or("");
            (format!("disabled: {reason}"), "state-disabled")
        }
        ConnectionState::WaitingForAuthorization => ("waiting for authorization".to_owned(), "state-waiting"),
        ConnectionState::Held => {
            let (would_delete, listed) = summary.last_run.as_ref().map_or((0, 0), |run| (run.deleted, run.users_seen));
            let words = format!(
                "held: its last sync listed {listed} users and would mark {would_delete} stored users deleted; \
                 it waits to be approved or discarded"
            );
            (words, "state-held")
        }
    }
}

/// When a connection last synced, and how that ended.
pub(super) fn last_sync(summary: &Summary) -> String {
    summary
        .last_run
        .as_ref()
        .map_or_else(|| "never".to_owned(), |r| format!("{} ({})", when(Some(r.started_at)), r.outcome.as_str()))
}

/// When a connection syncs next: `-` when disabled.
pub(super) fn next_sync(summary: &Summary) -> String {
    let c = &summary.connection;
    if c.enabled { when(Some(c.next_sync_at)) } else { "-".to_owned() }
}

pub(super) struct Overview {
    pub csrf: String,
    pub done: Option<String>,
    pub accounts: Vec<Summary>,
    pub integrations: Vec<Integration>,
    /// Specs a compiled connector of the same app stands in for.
    pub shadowed: Vec<(std::path::PathBuf, String)>,
}

impl Render for Overview {
    fn render(&self) -> Markup {
        html! {
            (navigation(&self.csrf))
            (layout::done(self.done.as_deref()))
            h1 { "Connected accounts" }
            @if self.accounts.is_empty() {
                p { "No account is connected yet: connect one below." }
            } @else {
                table #accounts {
                    thead { tr {
                        th { "Account" } th { "State" } th { "Last sync" } th { "Next sync" }
                        th { "Users with access / all" } th { "Last error" }
                    } }
                    tbody { @for summary in &self.accounts { (account_row(summary)) } }
                }
            }
            h2 { "Available to connect" }
            @for (path, id) in &self.shadowed {
                p.warning { (crate::integrations::shadowed_words(path, id)) }
            }
            table #integrations {
                thead { tr { th { "Integration" } th { "Auth" } th { "Asks for" } th {} } }
                tbody { @for integration in &self.integrations { (integration_row(integration)) } }
            }
        }
    }
}

fn account_row(summary: &Summary) -> Markup {
    let c = &summary.connection;
    let (state, class) = state_text(summary);
    let error = summary.last_run.as_ref().and_then(|r| r.error.as_deref()).unwrap_or_default();
    html! {
        tr {
            td data-label="Account" {
                a href=(account_path(&c.integration, &c.account)) { (c.name()) }
                @if summary.directory { " " small { "(directory)" } }
            }
            td data-label="State" class=(class) { (line(&state)) }
            td data-label="Last sync" { (last_sync(summary)) }
            td data-label="Next sync" { (next_sync(summary)) }
            td data-label="Users with access / all" { (summary.with_access) " / " (summary.users) }
            td.error data-label="Last error" { (line(error)) }
        }
    }
}

fn integration_row(integration: &Integration) -> Markup {
    let asks: Vec<String> = integration
        .credentials
        .iter()
        .map(|c| format!("{}{}", c.name, if c.secret { " (secret)" } else { "" }))
        .collect();
    html! {
        tr {
            td data-label="Integration" { (integration.app) " " small { "(" (integration.id) @if integration.interpreted { " interpreted" } ")" } }
            td data-label="Auth" { (AuthKind::words(integration.auth)) }
            td data-label="Asks for" { (asks.join(", ")) }
            td { a href={ "/connect/" (percent_encode(&integration.id)) } { "Connect" } }
        }
    }
}

impl Page for Overview {
    fn title(&self) -> String {
        "Accounts".to_owned()
    }
}

pub(super) async fn overview(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Query(Done { done }): Query<Done>,
) -> Response {
    let accounts = match web.services.summaries().await {
        Ok(accounts) => accounts,
        Err(error) => return error_page(error),
    };
    let integrations = crate::integrations::all().into_iter().map(Integration::from).collect();
    let shadowed = crate::integrations::shadowed();
    layout::respond(StatusCode::OK, &Overview { csrf: operator.csrf, done, accounts, integrations, shadowed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Connection, Outcome, Run};

    fn summary(account: &str, enabled: bool, error: Option<&str>) -> Summary {
        let connection = Connection {
            id: 1,
            integration: "acme".to_owned(),
            account: account.to_owned(),
            enabled,
            disabled_reason: (!enabled).then(|| "HTTP 401 <Unauthorized>".to_owned()),
            next_sync_at: 86_400,
            interval_secs: 86_400,
            ..Connection::default()
        };
        let last_run = error.map(|e| Run {
            id: 1,
            connection_id: 1,
            started_at: 60,
            ended_at: Some(120),
            outcome: Outcome::Failed,
            pages: 1,
            users_seen: 0,
            users_dropped: 0,
            dropped_reasons: vec![],
            error: Some(e.to_owned()),
            added: 0,
            updated: 0,
            deleted: 0,
            warning: None,
            lookups: 0,
            lookup_ms: 0,
        });
        Summary { connection, last_run, with_access: 3, users: 4, directory: false }
    }

    #[test]
    fn the_overview_lists_accounts_escaped_with_their_state_and_links() {
        let page = Overview {
            csrf: "t0ken".to_owned(),
            done: Some("connected <b>".to_owned()),
            accounts: vec![summary("Dev <1>", false, Some("HTTP 500\n<html>"))],
            integrations: vec![],
            shadowed: vec![("specs/acme <x>.tib".into(), "acme".to_owned())],
        };
        let html = page.render().into_string();
        assert!(html.contains("<a href=\"/connections/acme/Dev%20%3C1%3E\">acme/Dev &lt;1&gt;</a>"), "{html}");
        assert!(html.contains("class=\"state-disabled\">disabled: HTTP 401 &lt;Unauthorized&gt;</td>"), "{html}");
        assert!(
            html.contains("<td class=\"error\" data-label=\"Last error\">HTTP 500\\u000a&lt;html&gt;</td>"),
            "{html}"
        );
        assert!(html.contains("<p role=\"status\">connected &lt;b&gt;</p>"), "{html}");
        assert!(html.contains("<td data-label=\"Users with access / all\">3 / 4</td>"), "{html}");
        assert!(!html.contains("<b>") && !html.contains("<html>"), "{html}");
        assert!(
            html.contains("the spec specs/acme &lt;x&gt;.tib is ignored: this build has `acme` compiled in"),
            "{html}"
        );
    }

    #[test]
    fn with_no_account_the_overview_says_so() {
        let page =
            Overview { csrf: String::new(), done: None, accounts: vec![], integrations: vec![], shadowed: vec![] };
        assert!(page.render().into_string().contains("No account is connected yet"));
    }
}
