//! One account: its state and the actions on it, the sync under way (live),
//! its runs, its licenses with counts, and its users with and without access
//! (search by email or name, sort, pages), custom fields included.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::overview::state_text;
use super::{Console, Operator, account_path, done, error_page, escape, navigation, page, shown, when};
use crate::api::{Action, ConnectionState, percent_encode};
use crate::store::{self, Run, StoredUser, UserOrder, UserQuery};

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
}

/// Users shown on one page.
const USERS_PER_PAGE: i64 = 50;

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

fn runs_table(runs: &[Run]) -> String {
    if runs.is_empty() {
        return "<h2>Runs</h2><p>It has not synced yet.</p>".to_owned();
    }
    let mut out = String::from(
        "<h2>Runs</h2><table id=\"runs\"><thead><tr><th>Started</th><th>Outcome</th><th>Took</th><th>Pages</th>\
         <th>Users seen</th><th>Dropped</th><th>Added / updated / deleted</th><th>Error</th></tr></thead><tbody>",
    );
    for run in runs {
        let dropped: Vec<String> = run.dropped_reasons.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{} / {} / {}</td><td class=\"error\">{}</td></tr>",
            when(Some(run.started_at)),
            run.outcome.as_str(),
            duration(run),
            run.pages,
            run.users_seen,
            run.users_dropped,
            if dropped.is_empty() { String::new() } else { format!(" ({})", escape(&dropped.join(", "))) },
            run.added,
            run.updated,
            run.deleted,
            shown(run.error.as_deref().unwrap_or("")),
        ));
    }
    out.push_str("</tbody></table>");
    out
}

fn licenses_table(licenses: &[(String, i64)]) -> String {
    if licenses.is_empty() {
        return "<h2>Licenses</h2><p>No user with access holds a license.</p>".to_owned();
    }
    let mut out = String::from(
        "<h2>Licenses</h2><table id=\"licenses\"><thead><tr><th>License</th><th>Users with access holding it</th></tr></thead><tbody>",
    );
    for (license, count) in licenses {
        out.push_str(&format!("<tr><td>{}</td><td>{count}</td></tr>", escape(license)));
    }
    out.push_str("</tbody></table>");
    out
}

/// An RFC 3339 time as the console shows times; as stored when it is not one.
fn to_the_minute(time: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(time).map_or_else(|_| time.to_owned(), |t| when(Some(t.timestamp())))
}

fn user_row(stored: &StoredUser) -> String {
    let u = &stored.user;
    let access = if stored.deleted {
        "no (deleted)"
    } else if u.active {
        "yes"
    } else {
        "no"
    };
    let custom: String = u
        .custom_fields
        .keys()
        .map(|name| format!("<dt>{}</dt><dd>{}</dd>", escape(name), shown(&u.custom_text(name))))
        .collect();
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><dl class=\"fields\">{custom}</dl></td><td>{access}</td></tr>",
        shown(&u.email),
        shown(&u.name()),
        shown(&u.status),
        shown(u.role.as_deref().unwrap_or("")),
        shown(&u.licenses.join(", ")),
        escape(&u.last_seen_at.as_deref().map(to_the_minute).unwrap_or_default()),
    )
}

/// One account's page.
pub(super) async fn account_page(
    State(console): State<Arc<Console>>,
    operator: Operator,
    Path((integration, account)): Path<(String, String)>,
    Query(view): Query<UserView>,
) -> Response {
    let connection = match crate::api::find(&console.api, integration.clone(), account.clone()).await {
        Ok(connection) => connection,
        Err(problem) => return error_page(problem.status, "Not found", &problem.detail),
    };
    let access = match view.access.as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let order = view.sort.unwrap_or(UserOrder::Email);
    let from = view.from.max(0);
    let query = UserQuery {
        access,
        search: view.q.clone().filter(|q| !q.trim().is_empty()),
        order,
        offset: Some(from),
        limit: Some(USERS_PER_PAGE),
        ..UserQuery::default()
    };
    let id = connection.id;
    let read = store::off_workers(&console.api.store, move |store| {
        let users = store.find_users(id, &query)?;
        let selected = store.count_users(id, &query)?;
        Ok((store.runs(id, 20)?, users, selected, store.user_counts(id)?, store.license_counts(id)?))
    });
    let (runs, users, selected, (with_access, all), licenses) = match read.await {
        Ok(read) => read,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
    };
    let progress = console.live.watch(id).borrow().clone();
    let path = account_path(&integration, &account);
    let last = runs.first();
    let (state, class) = state_text(&connection, last);
    let done = view.done.map(|d| format!("<p role=\"status\">{}</p>", shown(&d))).unwrap_or_default();
    let next = if connection.enabled { when(Some(connection.next_sync_at)) } else { "-".to_owned() };
    let mut body = format!(
        "{}{done}<h1>{}</h1><p>State: <strong id=\"state\" class=\"{class}\">{}</strong></p>\
         <p>Last sync {} · next sync {next} · users with access {with_access} of {all}</p>",
        navigation(&operator),
        escape(&connection.name()),
        shown(&state),
        last.map_or_else(|| "never".to_owned(), |r| format!("{} ({})", when(Some(r.started_at)), r.outcome.as_str())),
    );
    if let Some(error) = last.and_then(|r| r.error.as_deref()) {
        let after = match ConnectionState::of(&connection, last) {
            ConnectionState::Enabled => " It is retried at the next scheduled sync.",
            _ => "",
        };
        body.push_str(&format!("<p class=\"error\" id=\"last-error\">Last error: {}.{after}</p>", shown(error)));
    }
    let live_text = if progress.running {
        format!("Syncing now: {} pages, {} users so far", progress.pages, progress.users)
    } else {
        String::new()
    };
    body.push_str(&format!(
        "<p id=\"live\" class=\"live\" data-events=\"{path}/live\" data-sync=\"{}\"{}>{live_text}</p>\
         <script src=\"/console.js\" defer></script>",
        progress.sync,
        if progress.running { "" } else { " hidden" },
    ));
    body.push_str(&actions(&operator, &connection, last, &path));
    body.push_str(&runs_table(&runs));
    body.push_str(&licenses_table(&licenses));
    body.push_str(&users_section(&path, &view.q.unwrap_or_default(), access, order, from, selected, &users));
    page(StatusCode::OK, &connection.name(), &body)
}

/// The actions that apply to the connection as it stands.
fn actions(operator: &Operator, connection: &store::Connection, last: Option<&Run>, path: &str) -> String {
    let form = |action: &str, label: &str, extra: &str| {
        format!(
            "<form class=\"inline\" method=\"post\" action=\"{path}\">{}<input type=\"hidden\" name=\"action\" value=\"{action}\">\
             {extra}<button type=\"submit\">{label}</button></form> ",
            operator.csrf_field()
        )
    };
    let state = ConnectionState::of(connection, last);
    let mut out = String::from("<p id=\"actions\">");
    match state {
        ConnectionState::Enabled | ConnectionState::Held => {
            out.push_str(&form("sync", "Sync now", ""));
            out.push_str(&form("disable", "Disable", ""));
        }
        ConnectionState::Disabled => out.push_str(&form("enable", "Enable", "")),
        ConnectionState::WaitingForAuthorization => {}
    }
    if state == ConnectionState::Held {
        out.push_str(&form("approve", "Approve the held sync", ""));
    }
    let authorization_code = crate::integrations::connector(&connection.integration)
        .is_some_and(|c| matches!(c.spec().auth, tib_support::spec::Auth::OAuthAuthorizationCode(_)));
    if authorization_code {
        out.push_str(&format!(
            "<form class=\"inline\" method=\"post\" action=\"{path}/authorize\">{}<button type=\"submit\">Authorize</button></form> ",
            operator.csrf_field()
        ));
    }
    out.push_str(&form(
        "disconnect",
        "Disconnect",
        "<label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> remove its users and runs</label> ",
    ));
    out.push_str(&format!("<a href=\"/connect/{}\">Connect again</a></p>", percent_encode(&connection.integration)));
    out
}

/// The users: search, access, sort, one page, and links to the pages around it.
fn users_section(
    path: &str,
    q: &str,
    access: Option<bool>,
    order: UserOrder,
    from: i64,
    selected: i64,
    users: &[StoredUser],
) -> String {
    let selected_if = |yes: bool| if yes { " selected" } else { "" };
    let sorts: String = SORTS
        .iter()
        .map(|(o, label)| format!("<option value=\"{}\"{}>{label}</option>", sort_value(*o), selected_if(*o == order)))
        .collect();
    let mut out = format!(
        "<h2>Users</h2><form id=\"users-search\" method=\"get\" action=\"{path}\"><input type=\"search\" name=\"q\" value=\"{}\" \
         placeholder=\"email or name\" aria-label=\"email or name\"> \
         <select name=\"access\" aria-label=\"access\"><option value=\"\"{}>all</option><option value=\"true\"{}>with access</option>\
         <option value=\"false\"{}>without access</option></select> \
         <label>sort by <select name=\"sort\">{sorts}</select></label> <button type=\"submit\">Search</button></form>",
        escape(q),
        selected_if(access.is_none()),
        selected_if(access == Some(true)),
        selected_if(access == Some(false)),
    );
    let shown_to = from + users.len() as i64;
    out.push_str(&format!(
        "<p>{} of {selected} users</p>",
        if users.is_empty() { "none".to_owned() } else { format!("{}–{shown_to}", from + 1) }
    ));
    out.push_str(
        "<table id=\"users\"><thead><tr><th>Email</th><th>Name</th><th>Status</th><th>Role</th><th>Licenses</th>\
         <th>Last seen</th><th>Custom fields</th><th>Access</th></tr></thead><tbody>",
    );
    for user in users {
        out.push_str(&user_row(user));
    }
    out.push_str("</tbody></table>");
    let link = |from: i64, label: &str| {
        let mut href = format!("{path}?sort={}&from={from}", sort_value(order));
        if !q.is_empty() {
            href.push_str(&format!("&q={}", percent_encode(q)));
        }
        if let Some(access) = access {
            href.push_str(&format!("&access={access}"));
        }
        format!("<a href=\"{}\">{label}</a> ", escape(&href))
    };
    let mut pages = String::new();
    if from > 0 {
        pages.push_str(&link((from - USERS_PER_PAGE).max(0), "Previous users"));
    }
    if shown_to < selected {
        pages.push_str(&link(shown_to, "Next users"));
    }
    if !pages.is_empty() {
        out.push_str(&format!("<p>{pages}</p>"));
    }
    out
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
    State(console): State<Arc<Console>>,
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
    let connection = match crate::api::find(&console.api, integration, account).await {
        Ok(connection) => connection,
        Err(problem) => return error_page(problem.status, "Not found", &problem.detail),
    };
    match crate::api::perform(&console.api, connection, form.action).await {
        Ok(message) if form.action == Action::Disconnect => done("/", &message),
        Ok(message) => done(&path, &message),
        Err(problem) => done(&path, &problem.detail),
    }
}
