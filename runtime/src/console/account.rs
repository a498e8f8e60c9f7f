//! One account: its state and the actions on it, the sync under way (live),
//! its runs, its licenses with counts, and its users with and without access
//! (search by email or name, sort, pages), custom fields included.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, Render, html};
use serde::Deserialize;

use super::layout::{self, ErrorWords, Nav, Page, ago, app_time, csrf_field, line, navigation, viewer_note};
use super::overview::{last_sync, next_sync, state_text};
use super::{Operator, done, error_page};
use crate::operate::{Account, AccountQuery, Action, ConnectionState};
use crate::store::{Run, StoredUser, Time, UserOrder, UserQuery};
use crate::web::Web;
use crate::web::{account_path, percent_encode};

#[derive(Deserialize)]
pub(super) struct UserView {
    q: Option<String>,
    /// `true`, `false`, or empty for all (the select's first option).
    access: Option<String>,
    #[serde(default)]
    sort: Option<UserOrder>,
    /// Users skipped: the page shown.
    #[serde(default)]
    from: i64,
    /// What an action did, shown once after its redirect.
    done: Option<String>,
    /// After sync now: the syncs started before it, so that the page follows the one it asked for.
    since: Option<u64>,
    /// The users a held sync would delete skipped: the page of them shown.
    #[serde(default)]
    held_from: i64,
}

/// Users shown on one page.
const USERS_PER_PAGE: i64 = 50;

/// Users a held sync would delete, shown on one page.
const HELD_PER_PAGE: i64 = 50;

/// A page of the users a held sync would mark deleted, and where it starts.
struct HeldPage {
    deletions: crate::store::HeldDeletions,
    from: i64,
}

const SORTS: [(UserOrder, &str); 5] = [
    (UserOrder::Email, "email"),
    (UserOrder::Name, "name"),
    (UserOrder::LastSeen, "last seen"),
    (UserOrder::Created, "created"),
    (UserOrder::ExternalId, "external id"),
];

fn sort_value(order: UserOrder) -> &'static str {
    match order {
        UserOrder::ExternalId => "external_id",
        UserOrder::Email => "email",
        UserOrder::Name => "name",
        UserOrder::LastSeen => "last_seen",
        UserOrder::Created => "created",
        UserOrder::UserName => "user_name",
        UserOrder::Modified => "modified",
    }
}

/// How long a run took, in words.
fn duration(run: &Run) -> String {
    match run.ended_at {
        Some(ended) => {
            let seconds = ended.saturating_sub(run.started_at);
            if seconds < 120 { format!("{seconds} s") } else { format!("{} min", seconds / 60) }
        }
        None => "running".to_owned(),
    }
}

/// The users the page shows: searched, filtered by access, sorted, from an offset.
struct Selection {
    q: String,
    access: Option<bool>,
    order: UserOrder,
    from: i64,
}

impl Selection {
    /// The link to the page of users starting at `from`, with the same search.
    fn link(&self, path: &str, from: i64) -> String {
        let mut href = format!("{path}?sort={}&from={from}", sort_value(self.order));
        if !self.q.is_empty() {
            href.push_str(&format!("&q={}", percent_encode(&self.q)));
        }
        if let Some(access) = self.access {
            href.push_str(&format!("&access={access}"));
        }
        href
    }
}

pub(super) struct AccountPage {
    nav: Nav,
    done: Option<String>,
    account: Account,
    selection: Selection,
    /// Whether the integration authorizes with an OAuth authorization code.
    authorization_code: bool,
    /// After sync now: the syncs started before it ([`UserView::since`]).
    since: Option<u64>,
    /// Who a held sync would mark deleted: a page of them.
    held: Option<HeldPage>,
}

impl Render for AccountPage {
    fn render(&self) -> Markup {
        let summary = &self.account.summary;
        let c = &summary.connection;
        let path = account_path(&c.integration, &c.account);
        let (state, class) = state_text(summary);
        let last_error = summary.last_run.as_ref().and_then(|r| r.error.as_deref());
        let retried = summary.state() == ConnectionState::Enabled;
        let progress = &self.account.progress;
        html! {
            (navigation(&self.nav))
            (layout::done(self.done.as_deref()))
            h1 { (c.name()) }
            @let reason = c.disabled_reason.as_deref().filter(|_| summary.state() == ConnectionState::Disabled).map(ErrorWords::of);
            p {
                "State: "
                strong #state class=(class) {
                    @match &reason { Some(reason) => { "disabled: " (reason.line()) } None => { (line(&state)) } }
                }
            }
            @if let Some(reason) = &reason { (reason.detail()) }
            p {
                "Last sync " (last_sync(summary, self.nav.now)) " · next sync " (next_sync(summary, self.nav.now))
                " · users with access " (summary.with_access) " of " (summary.users) " stored (those gone from the app included)"
            }
            @if let Some(error) = last_error.map(ErrorWords::of) {
                p.error #last-error {
                    "Last error: " (error.line()) "."
                    @if retried { " It is retried at the next scheduled sync." }
                }
                (error.detail())
            }
            p #live .live data-events={ (path) "/live" } data-sync=(progress.sync) data-since=[self.since] hidden[!progress.running] {
                @if progress.running {
                    // As console.js writes it from each event after this.
                    "Syncing now: " (layout::counted(progress.pages.into(), "page")) ", "
                    (layout::counted(progress.users, "user")) " so far"
                }
            }
            script src="/console.js" defer {}
            (self.actions(&path))
            @if let Some(held) = &self.held { (self.held_section(&path, held)) }
            (runs_table(&self.account.runs, self.nav.now))
            (licenses_table(&self.account.licenses))
            (self.users_section(&path))
        }
    }
}

impl AccountPage {
    /// Who the held sync would mark deleted, a page at a time, beside Approve and Discard.
    fn held_section(&self, path: &str, held: &HeldPage) -> Markup {
        let HeldPage { deletions, from } = held;
        let shown = deletions.users.len() as i64;
        html! {
            h2 { "Who the held sync would mark deleted" }
            p #held-count {
                (deletions.total) " of the " (deletions.present) " users stored now would be marked deleted if it is approved"
                @if shown > 0 { "; " (from + 1) "–" (from + shown) " shown" } "."
            }
            @if shown > 0 {
                table #held-deletions {
                    thead { tr { th { "Email" } th { "Name" } th { "Status" } th { "Licenses" } th { "Last seen" } } }
                    tbody { @for stored in &deletions.users {
                        @let u = &stored.user;
                        tr {
                            td data-label="Email" { (line(&u.email)) }
                            td data-label="Name" { (line(&u.name())) }
                            td data-label="Status" { (line(&u.status)) }
                            td data-label="Licenses" { (line(&u.licenses.join(", "))) }
                            td data-label="Last seen" { (app_time(u.last_seen_at.as_deref(), self.nav.now)) }
                        }
                    } }
                }
                p {
                    @if *from > 0 { a href={ (path) "?held_from=" ((from - HELD_PER_PAGE).max(0)) } { "Previous" } " " }
                    @if from + shown < deletions.total { a href={ (path) "?held_from=" (from + shown) } { "Next" } }
                }
            }
        }
    }

    /// The actions that apply to the connection as it stands.
    fn actions(&self, path: &str) -> Markup {
        let c = &self.account.summary.connection;
        let state = self.account.summary.state();
        let form = |action: &str, label: &str| {
            html! {
                form.inline method="post" action=(path) {
                    (csrf_field(&self.nav))
                    input type="hidden" name="action" value=(action);
                    @if action == "disconnect" {
                        label { input type="checkbox" name="confirm" value="yes" required; " remove its users and runs" } " "
                    }
                    button type="submit" { (label) }
                }
                " "
            }
        };
        if !self.nav.may_change() {
            return viewer_note("sync, approve, disable or connect this account again");
        }
        html! {
            p #actions {
                @match state {
                    ConnectionState::Enabled | ConnectionState::Held => {
                        // Pressed already, or running: not a second time.
                        @if self.account.progress.running {
                            button #sync type="button" disabled { "Syncing…" } " "
                        } @else if c.enabled && c.next_sync_at <= self.nav.now {
                            button #sync type="button" disabled { "Sync due now" } " "
                        } @else {
                            (form("sync", "Sync now"))
                        }
                        (form("disable", "Disable"))
                    }
                    ConnectionState::Disabled => { (form("enable", "Enable")) }
                    ConnectionState::WaitingForAuthorization => {}
                }
                @if state == ConnectionState::Held {
                    (form("approve", "Approve the held sync")) (form("discard", "Discard the held sync"))
                }
                @if self.authorization_code {
                    form.inline method="post" action={ (path) "/authorize" } {
                        (csrf_field(&self.nav))
                        button type="submit" { "Authorize" }
                    }
                    " "
                }
                @if self.account.summary.directory {
                    (form("unmark_directory", "No longer the directory"))
                } @else {
                    (form("mark_directory", "Use as the company's directory"))
                }
                (form("disconnect", "Disconnect"))
                a href={ "/connect/" (percent_encode(&c.integration)) "?account=" (percent_encode(&c.account)) } { "Connect again" }
            }
            @if self.account.summary.directory {
                p #directory { "The company's directory: " a href="/access-review" { "the access review" } " compares every other account with it." }
            }
        }
    }

    /// The users: search, access, sort, one page, and links to the pages around it.
    fn users_section(&self, path: &str) -> Markup {
        let s = &self.selection;
        let (users, selected) = (&self.account.users, self.account.selected);
        let shown_to = s.from + users.len() as i64;
        html! {
            h2 { "Users" }
            form #users-search method="get" action=(path) {
                input type="search" name="q" value=(s.q) placeholder="email or name" aria-label="email or name";
                " "
                select name="access" aria-label="access" {
                    option value="" selected[s.access.is_none()] { "all, gone from the app included" }
                    option value="true" selected[s.access == Some(true)] { "with access" }
                    option value="false" selected[s.access == Some(false)] { "without access" }
                }
                " "
                label { "sort by " select name="sort" {
                    @for (order, label) in SORTS {
                        option value=(sort_value(order)) selected[order == s.order] { (label) }
                    }
                } }
                " " button type="submit" { "Search" }
            }
            p {
                @if users.is_empty() { "none" } @else { (s.from + 1) "–" (shown_to) }
                " of " (selected) " users"
            }
            table #users {
                thead { tr {
                    th { "Email" } th { "Name" } th { "Status" } th { "Role" } th { "Groups" } th { "Licenses" }
                    th { "Last seen" } th { "Custom fields" } th { "Access" }
                } }
                tbody { @for user in users { (user_row(user, self.nav.now)) } }
            }
            @if s.from > 0 || shown_to < selected {
                p {
                    @if s.from > 0 { a href=(s.link(path, (s.from - USERS_PER_PAGE).max(0))) { "Previous users" } " " }
                    @if shown_to < selected { a href=(s.link(path, shown_to)) { "Next users" } " " }
                }
            }
        }
    }
}

fn runs_table(runs: &[Run], now: Time) -> Markup {
    html! {
        h2 { "Runs" }
        @if runs.is_empty() {
            p { "It has not synced yet." }
        } @else {
            table #runs {
                thead { tr {
                    th { "Started" } th { "Outcome" } th { "Took" } th { "Pages" } th { "Users seen" } th { "Dropped" }
                    th { "Added / updated / deleted" } th { "Error or warning" }
                } }
                tbody { @for run in runs {
                    @let dropped: Vec<String> = run.dropped_reasons.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
                    tr {
                        td data-label="Started" { (ago(Some(run.started_at), now)) }
                        td data-label="Outcome" { (run.outcome.as_str()) }
                        td data-label="Took" { (duration(run)) }
                        td data-label="Pages" {
                            (run.pages)
                            @if run.lookups > 0 { br; small { (run.lookups) " lookups, " (run.lookup_ms / 1000) " s" } }
                        }
                        td data-label="Users seen" { (run.users_seen) }
                        td data-label="Dropped" {
                            (run.users_dropped) @if !dropped.is_empty() { " (" (dropped.join(", ")) ")" }
                            @if !run.dropped_users.is_empty() {
                                details.dropped {
                                    summary { "who" }
                                    ul { @for d in &run.dropped_users {
                                        li { (line(d.external_id.as_deref().unwrap_or("(no id)"))) ": " (line(&d.reason)) }
                                    } }
                                    @if run.users_dropped > run.dropped_users.len() as i64 {
                                        small { "the first " (run.dropped_users.len()) " of " (run.users_dropped) }
                                    }
                                }
                            }
                        }
                        td data-label="Added / updated / deleted" { (run.added) " / " (run.updated) " / " (run.deleted) }
                        @match (&run.error, &run.warning) {
                            (Some(error), _) => td.error data-label="Error" { (line(error)) },
                            (None, Some(warning)) => td.warning-text data-label="Warning" { (line(warning)) },
                            (None, None) => td {},
                        }
                    }
                } }
            }
        }
    }
}

fn licenses_table(licenses: &[(String, i64)]) -> Markup {
    html! {
        h2 { "Licenses" }
        @if licenses.is_empty() {
            p { "No user with access holds a license." }
        } @else {
            table #licenses {
                thead { tr { th { "License" } th { "Users with access holding it" } } }
                tbody { @for (license, count) in licenses {
                    tr { td data-label="License" { (license) } td data-label="Users with access holding it" { (count) } }
                } }
            }
        }
    }
}

fn user_row(stored: &StoredUser, now: Time) -> Markup {
    let u = &stored.user;
    let access = layout::access(stored);
    // The role the spec maps, then the roles the app lists besides it.
    let roles: Vec<&str> =
        u.role.iter().chain(u.roles.iter().filter(|r| u.role.as_ref() != Some(*r))).map(String::as_str).collect();
    // The later of the last sign-in and the last activity the app reports.
    let seen = u.last_seen_at.as_deref().max(u.last_activity_at.as_deref());
    html! {
        tr {
            td data-label="Email" { (line(&u.email)) }
            td data-label="Name" {
                (line(&u.name()))
                @if let Some(kind) = &u.account_type { br; small { "account: " (line(kind)) } }
            }
            td data-label="Status" { (line(&u.status)) }
            td data-label="Role" { (line(&roles.join(", "))) }
            td data-label="Groups" { (line(&u.groups.join(", "))) }
            td data-label="Licenses" { (line(&u.licenses.join(", "))) }
            td data-label="Last seen" { (app_time(seen, now)) }
            td data-label="Custom fields" { dl.fields { @for name in u.custom_fields.keys() { dt { (name) } dd { (line(&u.custom_text(name))) } } } }
            td data-label="Access" { (access) }
        }
    }
}

impl Page for AccountPage {
    fn title(&self) -> String {
        self.account.summary.connection.name()
    }
}

/// One account's page.
pub(super) async fn account_page(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Path((integration, account)): Path<(String, String)>,
    Query(view): Query<UserView>,
) -> Response {
    let access = match view.access.as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let selection = Selection {
        q: view.q.unwrap_or_default(),
        access,
        order: view.sort.unwrap_or(UserOrder::Email),
        from: view.from.max(0),
    };
    let users = UserQuery {
        access,
        search: Some(selection.q.clone()).filter(|q| !q.trim().is_empty()),
        order: selection.order,
        offset: Some(selection.from),
        limit: Some(USERS_PER_PAGE),
        ..UserQuery::default()
    };
    let read = web.services.account(&integration, &account, AccountQuery { users, runs: 20 }).await;
    let account_name = account;
    let account = match read {
        Ok(account) => account,
        Err(error) => return error_page(error),
    };
    let authorization_code = crate::integrations::connector(&integration)
        .is_some_and(|c| matches!(c.spec().auth, tib_support::spec::Auth::OAuthAuthorizationCode(_)));
    let held = match account.summary.state() {
        ConnectionState::Held => {
            match web.services.held_deletions(&integration, &account_name, view.held_from, HELD_PER_PAGE).await {
                Ok(deletions) => deletions.map(|deletions| HeldPage { deletions, from: view.held_from.max(0) }),
                Err(error) => return error_page(error),
            }
        }
        _ => None,
    };
    let page = AccountPage {
        nav: operator.nav,
        done: view.done,
        account,
        selection,
        authorization_code,
        since: view.since,
        held,
    };
    layout::respond(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub(super) struct ActionForm {
    /// Missing, it is empty and refused like a wrong one.
    #[serde(default)]
    csrf: String,
    action: Action,
    confirm: Option<String>,
}

/// An action's form: checked against the session's CSRF token, done, and back to the page with what it did.
pub(super) async fn act(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Path((integration, account)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Some(refused) = operator.refuses(&form.csrf) {
        return refused;
    }
    let path = account_path(&integration, &account);
    if form.action == Action::Disconnect && form.confirm.as_deref() != Some("yes") {
        return done(&path, "tick the box to confirm the disconnection");
    }
    // The syncs this process had started when sync now was pressed: the page that follows the press
    // tells the sync it asked for by a greater count, even one that ended before the page was made.
    let since = match (form.action, web.services.find(&integration, &account).await) {
        (Action::Sync | Action::Enable, Ok(connection)) => Some(web.services.live.watch(connection.id).borrow().sync),
        _ => None,
    };
    match web.services.act(&operator.who, &integration, &account, form.action).await {
        Ok(message) if form.action == Action::Disconnect => done("/", &message),
        Ok(message) if since.is_some() => done(&format!("{path}?since={}", since.unwrap_or_default()), &message),
        Ok(message) => done(&path, &message),
        // A refusal (disabled, nothing held) is shown on the page the operator acted from.
        Err(error) if matches!(error.kind, crate::operate::ErrorKind::Conflict) => done(&path, &error.message),
        Err(error) => error_page(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operate::Summary;
    use crate::store::{Connection, Outcome};

    fn page(users: Vec<StoredUser>, selected: i64, from: i64, held: bool) -> AccountPage {
        let connection = Connection {
            id: 7,
            integration: "acme".to_owned(),
            account: "Prod <EU>".to_owned(),
            enabled: true,
            interval_secs: 86_400,
            ..Connection::default()
        };
        let run = Run {
            id: 3,
            connection_id: 7,
            started_at: 0,
            ended_at: Some(30),
            outcome: if held { Outcome::Held } else { Outcome::Applied },
            pages: 2,
            users_seen: 5,
            users_dropped: 1,
            dropped_reasons: vec![("no email <x>".to_owned(), 1)],
            dropped_users: vec![crate::store::DroppedUser {
                external_id: Some("u<7>".into()),
                reason: "no email".into(),
            }],
            error: None,
            added: 5,
            updated: 0,
            deleted: 0,
            warning: Some("only the first page was read <b>".to_owned()),
            lookups: 5,
            lookup_ms: 2_400,
        };
        let summary = Summary { connection, last_run: Some(run.clone()), with_access: 4, users: 5, directory: false };
        AccountPage {
            nav: Nav::token("c\"srf"),
            done: None,
            account: Account {
                summary,
                runs: vec![run],
                users,
                selected,
                licenses: vec![("Pro <max>".to_owned(), 4)],
                progress: crate::live::Progress::default(),
            },
            selection: Selection { q: "a&b".to_owned(), access: Some(true), order: UserOrder::Name, from },
            authorization_code: false,
            since: None,
            held: None,
        }
    }

    fn user(email: &str) -> StoredUser {
        let mut custom = serde_json::Map::new();
        custom.insert("team<>".to_owned(), serde_json::json!("<Ops>"));
        StoredUser {
            user: tib_support::record::UserRow {
                external_id: "1".to_owned(),
                email: email.to_owned(),
                username: None,
                full_name: Some("Ada <Admin>".to_owned()),
                first_name: None,
                last_name: None,
                role: None,
                created_at: None,
                last_seen_at: Some("2026-01-02T03:04:05+00:00".to_owned()),
                active: true,
                status: "Active".to_owned(),
                licenses: vec!["Pro".to_owned()],
                custom_fields: custom,
                roles: vec![],
                groups: vec!["<ops>".to_owned()],
                account_type: Some("bot <1>".to_owned()),
                last_activity_at: None,
            },
            deleted: false,
            first_seen: 0,
            last_seen: 0,
            modified_at: 0,
        }
    }

    #[test]
    fn the_account_page_escapes_what_the_api_sent_and_pages_its_users() {
        let html = page(vec![user("<img src=x>@example.com")], 120, 50, false).render().into_string();
        assert!(html.contains("<h1>acme/Prod &lt;EU&gt;</h1>"), "{html}");
        assert!(html.contains("<td data-label=\"Email\">&lt;img src=x&gt;@example.com</td>"), "{html}");
        assert!(html.contains("<dt>team&lt;&gt;</dt><dd>&lt;Ops&gt;</dd>"), "{html}");
        assert!(
            html.contains(
                "<td data-label=\"License\">Pro &lt;max&gt;</td><td data-label=\"Users with access holding it\">4</td>"
            ),
            "{html}"
        );
        assert!(html.contains("1 (1 no email &lt;x&gt;)"), "{html}");
        assert!(html.contains("<li>u&lt;7&gt;: no email</li>"), "who was dropped, and why: {html}");
        assert!(
            html.contains(
                "<td class=\"warning-text\" data-label=\"Warning\">only the first page was read &lt;b&gt;</td>"
            ),
            "{html}"
        );
        let seen = "<time datetime=\"2026-01-02T03:04:05Z\" title=\"2026-01-02 03:04 UTC\">2026-01-02</time>";
        assert!(html.contains(&format!("<td data-label=\"Last seen\">{seen}</td>")), "{html}");
        assert!(html.contains("51–51 of 120 users"), "{html}");
        let previous = "href=\"/connections/acme/Prod%20%3CEU%3E?sort=name&amp;from=0&amp;q=a%26b&amp;access=true\"";
        assert!(html.contains(previous), "{html}");
        assert!(html.contains("from=51"), "a next page: {html}");
        assert!(html.contains("value=\"c&quot;srf\""), "{html}");
        assert!(!html.contains("<img") && !html.contains("<Ops>"), "{html}");
    }

    #[test]
    fn a_held_sync_offers_its_approval_and_the_live_line_hides_while_idle() {
        let html = page(vec![], 0, 0, true).render().into_string();
        assert!(html.contains("value=\"approve\""), "{html}");
        assert!(html.contains("class=\"state-held\""), "{html}");
        assert!(html.contains("data-sync=\"0\" hidden"), "{html}");
        assert!(html.contains("none of 0 users"), "{html}");
    }
}
