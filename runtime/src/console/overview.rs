//! The overview: the connected accounts with their state, syncs and last
//! error, and the integrations of this build available to connect.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, Render, html};

use super::layout::{self, Nav, Page, ago, error_words, line, navigation};
use super::{Operator, error_page};
use crate::api::views::{AuthKind, Integration};
use crate::operate::{ConnectionState, Summary};
use crate::store::{Outcome, Time};
use crate::web::Web;
use crate::web::{account_path, percent_encode};

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
pub(super) fn last_sync(summary: &Summary, now: Time) -> Markup {
    match &summary.last_run {
        None => html! { "never" },
        Some(run) => html! { (ago(Some(run.started_at), now)) " (" (run.outcome.as_str()) ")" },
    }
}

/// When a connection syncs next: `-` when disabled.
pub(super) fn next_sync(summary: &Summary, now: Time) -> Markup {
    let c = &summary.connection;
    ago(c.enabled.then_some(c.next_sync_at), now)
}

/// Accounts shown on one page of the overview.
const ACCOUNTS_PER_PAGE: usize = 100;

/// The overview's query: what an action did, and which accounts to show.
#[derive(serde::Deserialize, Default)]
pub(super) struct OverviewView {
    done: Option<String>,
    /// Accounts whose name (integration or account) contains this, in any case.
    q: Option<String>,
    /// `failing`, `held`, `waiting`, `disabled`, `enabled`, or empty for all.
    state: Option<String>,
    /// Accounts of this integration only.
    integration: Option<String>,
    /// The order: one of [`SORTS`]; by name when empty.
    sort: Option<String>,
    /// Accounts skipped: the page shown.
    #[serde(default)]
    from: usize,
}

/// The states the overview filters by, with their words.
const STATES: [(&str, &str); 5] = [
    ("failing", "last sync failed"),
    ("held", "held"),
    ("waiting", "waiting for authorization"),
    ("disabled", "disabled"),
    ("enabled", "enabled"),
];

/// The orders the overview sorts by, with their words: the first is the default.
const SORTS: [(&str, &str); 4] = [
    ("name", "by name"),
    ("attention", "needing attention first"),
    ("last-sync", "longest since a sync first"),
    ("users", "most users with access first"),
];

/// How urgently an account needs an operator: failing first, then held, waiting, disabled, fine.
fn attention(summary: &Summary) -> u8 {
    ["failing", "held", "waiting", "disabled"].iter().position(|state| in_state(summary, state)).unwrap_or(4) as u8
}

/// Sorts accounts in the order `sort` names (a stable sort: ties stay by name).
fn sort_accounts(accounts: &mut [Summary], sort: &str) {
    accounts.sort_by_key(|s| s.connection.name().to_lowercase());
    match sort {
        "attention" => accounts.sort_by_key(attention),
        // Never synced sorts first (None < Some).
        "last-sync" => accounts.sort_by_key(|s| s.last_run.as_ref().map(|run| run.started_at)),
        "users" => accounts.sort_by_key(|s| std::cmp::Reverse(s.with_access)),
        _ => {}
    }
}

/// Whether an account is in the state a filter names.
fn in_state(summary: &Summary, state: &str) -> bool {
    let failed =
        summary.last_run.as_ref().is_some_and(|run| matches!(run.outcome, Outcome::Failed | Outcome::Interrupted));
    match state {
        "failing" => failed,
        "held" => summary.state() == ConnectionState::Held,
        "waiting" => summary.state() == ConnectionState::WaitingForAuthorization,
        "disabled" => summary.state() == ConnectionState::Disabled,
        "enabled" => summary.state() == ConnectionState::Enabled,
        _ => true,
    }
}

/// What the company's accounts add up to, over all of them: what needs an operator, and the users.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Totals {
    accounts: usize,
    failing: usize,
    held: usize,
    waiting: usize,
    disabled: usize,
    with_access: i64,
}

impl Totals {
    fn of(accounts: &[Summary]) -> Totals {
        let count = |state: &str| accounts.iter().filter(|s| in_state(s, state)).count();
        Totals {
            accounts: accounts.len(),
            failing: count("failing"),
            held: count("held"),
            waiting: count("waiting"),
            disabled: count("disabled"),
            with_access: accounts.iter().map(|s| s.with_access).sum(),
        }
    }
}

pub(super) struct Overview {
    pub nav: Nav,
    pub done: Option<String>,
    /// Over every account, whatever is shown.
    pub totals: Totals,
    /// The accounts the search and filters select; those of the page shown.
    pub selected: usize,
    pub from: usize,
    pub q: String,
    pub state: String,
    pub integration: String,
    pub sort: String,
    pub accounts: Vec<Summary>,
    pub integrations: Vec<Integration>,
    /// Specs a compiled connector of the same app stands in for.
    pub shadowed: Vec<(std::path::PathBuf, String)>,
}

impl Render for Overview {
    fn render(&self) -> Markup {
        html! {
            (navigation(&self.nav))
            (layout::done(self.done.as_deref()))
            h1 { "Connected accounts" }
            @let t = &self.totals;
            p #totals {
                (t.accounts) " accounts: "
                a href="/?state=failing" { (t.failing) " failing" } ", "
                a href="/?state=held" { (t.held) " held" } ", "
                a href="/?state=waiting" { (t.waiting) " waiting for authorization" } ", "
                a href="/?state=disabled" { (t.disabled) " disabled" } ". "
                (t.with_access) " users with access; " a href="/licenses" { "licenses" } ", " a href="/people" { "people" } "."
            }
            form #accounts-search method="get" action="/" {
                input type="search" name="q" value=(self.q) placeholder="integration or account" aria-label="integration or account";
                " "
                select name="state" aria-label="state" {
                    option value="" selected[self.state.is_empty()] { "every state" }
                    @for (value, words) in STATES { option value=(value) selected[self.state == value] { (words) } }
                }
                " "
                select name="integration" aria-label="integration" {
                    option value="" selected[self.integration.is_empty()] { "every integration" }
                    @for integration in &self.integrations {
                        option value=(integration.id) selected[self.integration == integration.id] { (integration.app) }
                    }
                }
                " "
                select name="sort" aria-label="order" {
                    @for (value, words) in SORTS { option value=(value) selected[self.sort == value] { (words) } }
                }
                " " button type="submit" { "Show" }
            }
            @if t.accounts == 0 {
                p { "No account is connected yet: connect one below." }
            } @else if self.accounts.is_empty() {
                p { "No account matches." }
            } @else {
                p { (self.from + 1) "–" (self.from + self.accounts.len()) " of " (self.selected) " accounts" }
                table #accounts {
                    thead { tr {
                        th { "Account" } th { "State" } th { "Last sync" } th { "Next sync" }
                        th { "Users with access / stored" } th { "Last error" }
                    } }
                    tbody { @for summary in &self.accounts { (account_row(summary, self.nav.now)) } }
                }
                @if self.from > 0 || self.from + self.accounts.len() < self.selected {
                    p {
                        @if self.from > 0 { a href=(self.link(self.from.saturating_sub(ACCOUNTS_PER_PAGE))) { "Previous accounts" } " " }
                        @if self.from + self.accounts.len() < self.selected {
                            a href=(self.link(self.from + self.accounts.len())) { "Next accounts" }
                        }
                    }
                }
            }
            h2 { "Available to connect" }
            @for (path, id) in &self.shadowed {
                p.warning { (crate::integrations::shadowed_words(path, id)) }
            }
            table #integrations {
                thead { tr { th { "Integration" } th { "Auth" } th { "Asks for" } th {} } }
                tbody { @for integration in &self.integrations { (integration_row(integration, self.nav.may_change())) } }
            }
        }
    }
}

fn account_row(summary: &Summary, now: Time) -> Markup {
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
            td data-label="Last sync" { (last_sync(summary, now)) }
            td data-label="Next sync" { (next_sync(summary, now)) }
            td data-label="Users with access / stored" { (summary.with_access) " / " (summary.users) }
            td.error data-label="Last error" { (error_words(error)) }
        }
    }
}

/// An integration that can be connected; with its Connect link for those who may connect.
fn integration_row(integration: &Integration, may_connect: bool) -> Markup {
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
            td { @if may_connect { a href={ "/connect/" (percent_encode(&integration.id)) } { "Connect" } } }
        }
    }
}

impl Overview {
    /// The overview from `from`, with the same search and filters.
    fn link(&self, from: usize) -> String {
        format!(
            "/?q={}&state={}&integration={}&sort={}&from={from}",
            percent_encode(&self.q),
            percent_encode(&self.state),
            percent_encode(&self.integration),
            percent_encode(&self.sort)
        )
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
    Query(view): Query<OverviewView>,
) -> Response {
    let all = match web.services.summaries().await {
        Ok(accounts) => accounts,
        Err(error) => return error_page(error),
    };
    let integrations = crate::integrations::all().into_iter().map(Integration::from).collect();
    let shadowed = crate::integrations::shadowed();
    let page = select(operator.nav, view, all, integrations, shadowed);
    layout::respond(StatusCode::OK, &page)
}

/// The overview of `all` the accounts, as `view` searches, filters and pages them.
fn select(
    nav: Nav,
    view: OverviewView,
    all: Vec<Summary>,
    integrations: Vec<Integration>,
    shadowed: Vec<(std::path::PathBuf, String)>,
) -> Overview {
    let totals = Totals::of(&all);
    let (q, state, integration) =
        (view.q.unwrap_or_default(), view.state.unwrap_or_default(), view.integration.unwrap_or_default());
    let sort = view.sort.filter(|s| SORTS.iter().any(|(value, _)| value == s)).unwrap_or_else(|| SORTS[0].0.to_owned());
    let needle = q.trim().to_lowercase();
    let mut selected: Vec<Summary> = all
        .into_iter()
        .filter(|s| needle.is_empty() || s.connection.name().to_lowercase().contains(&needle))
        .filter(|s| in_state(s, &state))
        .filter(|s| integration.is_empty() || s.connection.integration == integration)
        .collect();
    sort_accounts(&mut selected, &sort);
    let from = view.from.min(selected.len());
    let count = selected.len();
    let accounts = selected.into_iter().skip(from).take(ACCOUNTS_PER_PAGE).collect();
    Overview {
        nav,
        done: view.done,
        totals,
        selected: count,
        from,
        q,
        state,
        integration,
        sort,
        accounts,
        integrations,
        shadowed,
    }
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
            dropped_users: vec![],
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

    /// The view of the overview's query string.
    fn view(query: &str) -> OverviewView {
        let uri: axum::http::Uri = format!("/?{query}").parse().expect("a URI");
        Query::<OverviewView>::try_from_uri(&uri).expect("a query").0
    }

    #[test]
    fn the_overview_lists_accounts_escaped_with_their_state_and_links() {
        let view = OverviewView { done: Some("connected <b>".to_owned()), ..OverviewView::default() };
        let accounts = vec![summary("Dev <1>", false, Some("HTTP 500\n<html>"))];
        let page =
            select(Nav::token("t0ken"), view, accounts, vec![], vec![("specs/acme <x>.tib".into(), "acme".to_owned())]);
        let html = page.render().into_string();
        assert!(html.contains("<a href=\"/connections/acme/Dev%20%3C1%3E\">acme/Dev &lt;1&gt;</a>"), "{html}");
        assert!(html.contains("class=\"state-disabled\">disabled: HTTP 401 &lt;Unauthorized&gt;</td>"), "{html}");
        assert!(
            html.contains("<td class=\"error\" data-label=\"Last error\">HTTP 500\\u000a&lt;html&gt;</td>"),
            "{html}"
        );
        assert!(html.contains("<p role=\"status\">connected &lt;b&gt;</p>"), "{html}");
        assert!(html.contains("<td data-label=\"Users with access / stored\">3 / 4</td>"), "{html}");
        assert!(!html.contains("<b>") && !html.contains("<html>"), "{html}");
        assert!(
            html.contains("the spec specs/acme &lt;x&gt;.tib is ignored: this build has `acme` compiled in"),
            "{html}"
        );
    }

    #[test]
    fn with_no_account_the_overview_says_so() {
        let page = select(Nav::default(), OverviewView::default(), vec![], vec![], vec![]);
        assert!(page.render().into_string().contains("No account is connected yet"));
    }

    #[test]
    fn totals_count_every_account_and_the_search_filters_and_pages_select_some() {
        let mut accounts: Vec<Summary> = (0..250).map(|i| summary(&format!("Team {i:03}"), true, None)).collect();
        accounts.push(summary("Broken", true, Some("HTTP 500")));
        accounts.push(summary("Off", false, None));
        let page = select(Nav::default(), view(""), accounts.clone(), vec![], vec![]);
        let expected = Totals { accounts: 252, failing: 1, held: 0, waiting: 0, disabled: 1, with_access: 3 * 252 };
        assert_eq!(page.totals, expected);
        assert_eq!((page.selected, page.accounts.len()), (252, 100), "a page of 100");
        let html = page.render().into_string();
        assert!(html.contains("1–100 of 252 accounts") && html.contains("from=100\">Next accounts"), "{html}");

        let page = select(Nav::default(), view("q=TEAM%2012&from=0"), accounts.clone(), vec![], vec![]);
        let names: Vec<String> = page.accounts.iter().map(|s| s.connection.account.clone()).collect();
        assert_eq!(names.len(), 10, "Team 120 to Team 129, in any case: {names:?}");
        assert_eq!(page.totals, expected, "the totals stay over every account");

        let failing = select(Nav::default(), view("state=failing"), accounts.clone(), vec![], vec![]);
        assert_eq!(failing.accounts.iter().map(|s| s.connection.account.as_str()).collect::<Vec<_>>(), ["Broken"]);
        let other = select(Nav::default(), view("integration=okta"), accounts.clone(), vec![], vec![]);
        assert!(other.accounts.is_empty() && other.render().into_string().contains("No account matches."));
        let last = select(Nav::default(), view("from=200"), accounts, vec![], vec![]);
        assert_eq!((last.from, last.accounts.len()), (200, 52));
        assert!(last.render().into_string().contains("from=100\">Previous accounts"));
    }

    #[test]
    fn the_accounts_sort_by_name_by_attention_by_last_sync_and_by_users_and_pages_keep_the_order() {
        let mut accounts = vec![
            summary("Fine", true, None),
            summary("Broken", true, Some("HTTP 500")),
            summary("Off", false, None),
            summary("Big", true, None),
        ];
        accounts[3].with_access = 900;
        accounts[1].last_run.as_mut().expect("a run").started_at = 30;
        let order = |query: &str| -> Vec<String> {
            let page = select(Nav::default(), view(query), accounts.clone(), vec![], vec![]);
            page.accounts.iter().map(|s| s.connection.account.clone()).collect()
        };
        assert_eq!(order(""), ["Big", "Broken", "Fine", "Off"]);
        assert_eq!(order("sort=attention"), ["Broken", "Off", "Big", "Fine"]);
        assert_eq!(order("sort=users"), ["Big", "Broken", "Fine", "Off"]);
        // Never synced first (by name), then the oldest sync.
        assert_eq!(order("sort=last-sync"), ["Big", "Fine", "Off", "Broken"]);
        assert_eq!(order("sort=nonsense"), order(""), "an unknown order is the default");
        let page = select(Nav::default(), view("sort=users"), accounts, vec![], vec![]);
        assert!(page.link(100).contains("&sort=users&from=100"), "the next page keeps the order");
    }
}
