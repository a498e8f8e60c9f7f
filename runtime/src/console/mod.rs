//! The operators' console: server-rendered pages in `tib serve`. An operator
//! logs in with the admin token ([`session`]); the overview shows the
//! integrations available to connect and the connected accounts with their
//! state, last sync and last error. Every page is self-contained (its style
//! inline, nothing fetched from elsewhere, as the Content-Security-Policy
//! says), and every text from a spec, an API or an operator is escaped.

pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::api::{Api, percent_encode};
use crate::listen::ClientAddress;
use crate::store;
use session::Sessions;

const COOKIE: &str = "tib_session";

pub struct Console {
    pub api: Arc<Api>,
    pub sessions: Sessions,
    /// `Secure` cookies when the public URL is https.
    pub secure: bool,
}

pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/connections/{integration}/{account}", get(account_page).post(act))
        .with_state(console)
}

/// Escapes text for HTML, in element content and in quoted attributes alike.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: the layout, its style, and the security headers.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · tib</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1c1e21}\
main{max-width:70rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.4rem .6rem;\
border-bottom:1px solid #e3e5e8;vertical-align:top}.state-disabled,.error{color:#b00020}\
form.inline{display:inline}input,button{font:inherit;padding:.4rem .6rem}\
@media (max-width:40rem){table,thead,tbody,tr,th,td{display:block}thead{display:none}td{border:0}tr{border-bottom:1px solid #e3e5e8}}";

/// A page that says only what went wrong.
fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(status, title, &format!("<p class=\"error\">{}</p>", escape(message)))
}

/// The session id the request's cookie names, if it is live, and its CSRF token.
fn session(console: &Console, headers: &HeaderMap) -> Option<(String, String)> {
    let cookies = headers.get_all(header::COOKIE).into_iter().filter_map(|v| v.to_str().ok());
    let id = cookies
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_owned))?;
    console.sessions.csrf(&id).map(|csrf| (id, csrf))
}

fn login_form(message: Option<&str>) -> String {
    let message = message.map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m))).unwrap_or_default();
    format!(
        "<h1>tib</h1>{message}<form method=\"post\" action=\"/login\">\
         <label>Admin token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required autofocus></label> \
         <button type=\"submit\">Log in</button></form>"
    )
}

async fn login_page() -> Response {
    page(StatusCode::OK, "Log in", &login_form(None))
}

#[derive(Deserialize)]
struct Login {
    token: String,
}

async fn login(
    State(console): State<Arc<Console>>,
    ConnectInfo(ClientAddress(client)): ConnectInfo<ClientAddress>,
    Form(Login { token }): Form<Login>,
) -> Response {
    let address = client.ip();
    if let Err(wait) = console.sessions.may_try(address) {
        let message = format!("too many failed logins: try again in {} s", wait.as_secs() + 1);
        let mut response = page(StatusCode::TOO_MANY_REQUESTS, "Log in", &login_form(Some(&message)));
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs() + 1));
        return response;
    }
    let Some(admin) = &console.api.admin else {
        let message = "the console is off: start `tib serve` with TIB_ADMIN_TOKEN or --admin-token-file";
        return page(StatusCode::SERVICE_UNAVAILABLE, "Log in", &login_form(Some(message)));
    };
    if !admin.accepts(&token) {
        console.sessions.failed(address);
        return page(StatusCode::UNAUTHORIZED, "Log in", &login_form(Some("that is not this server's admin token")));
    }
    console.sessions.succeeded(address);
    let (id, _) = console.sessions.open();
    let secure = if console.secure { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}");
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

async fn logout(State(console): State<Arc<Console>>, headers: HeaderMap, Form(Csrf { csrf }): Form<Csrf>) -> Response {
    let Some((id, expected)) = session(&console, &headers) else { return Redirect::to("/login").into_response() };
    if !session::same(&csrf, &expected) {
        return error_page(StatusCode::FORBIDDEN, "Refused", "The form's CSRF token is missing or wrong.");
    }
    console.sessions.close(&id);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tib_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

async fn overview(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let Some((_, csrf)) = session(&console, &headers) else { return Redirect::to("/login").into_response() };
    let read = store::off_workers(&console.api.store, |store| {
        store
            .connections()?
            .into_iter()
            .map(|c| Ok((store.last_run(c.id)?, store.user_counts(c.id)?, c)))
            .collect::<store::Result<Vec<_>>>()
    });
    let rows = match read.await {
        Ok(rows) => rows,
        Err(e) => {
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string());
        }
    };
    let mut body = format!(
        "<h1>tib</h1><form class=\"inline\" method=\"post\" action=\"/logout\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Log out</button></form>\
         <h2>Connected accounts</h2>",
        escape(&csrf)
    );
    if rows.is_empty() {
        body.push_str("<p>No account is connected yet.</p>");
    } else {
        body.push_str("<table><thead><tr><th>Account</th><th>State</th><th>Last sync</th><th>Users with access / all</th><th>Last error</th></tr></thead><tbody>");
        for (last, (with_access, all), c) in &rows {
            let state = if c.enabled {
                "enabled".to_owned()
            } else {
                format!("disabled: {}", c.disabled_reason.as_deref().unwrap_or(""))
            };
            let class = if c.enabled { "state-enabled" } else { "state-disabled" };
            let last_sync = last.as_ref().map_or_else(
                || "never".to_owned(),
                |r| format!("{} ({})", crate::cli::show::when(Some(r.started_at)), r.outcome.as_str()),
            );
            let error = last.as_ref().and_then(|r| r.error.clone()).unwrap_or_default();
            body.push_str(&format!(
                "<tr><td><a href=\"{}\">{}</a></td><td class=\"{class}\">{}</td><td>{}</td><td>{with_access} / {all}</td><td class=\"error\">{}</td></tr>",
                account_path(&c.integration, &c.account),
                escape(&c.name()),
                escape(&state),
                escape(&last_sync),
                escape(&tib_support::one_line(&error)),
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<h2>Available to connect</h2><table><thead><tr><th>Integration</th><th>Auth</th><th>Asks for</th></tr></thead><tbody>");
    for (id, connector) in tib_connectors::CONNECTORS {
        let spec = connector.spec();
        let asks: Vec<String> = spec
            .credentials
            .iter()
            .map(|c| format!("{}{}", escape(c.name), if c.secret { " (secret)" } else { "" }))
            .collect();
        body.push_str(&format!(
            "<tr><td>{} <small>({})</small></td><td>{}</td><td>{}</td></tr>",
            escape(spec.app),
            escape(id),
            crate::api::auth_kind(&spec.auth),
            asks.join(", ")
        ));
    }
    body.push_str("</tbody></table>");
    page(StatusCode::OK, "Console", &body)
}

/// The account page's path, its segments percent-encoded.
fn account_path(integration: &str, account: &str) -> String {
    format!("/connections/{}/{}", percent_encode(integration), percent_encode(account))
}

#[derive(Deserialize)]
struct UserView {
    q: Option<String>,
    /// `true`, `false`, or empty for all (the select's first option).
    access: Option<String>,
    cursor: Option<String>,
    /// What an action did, shown once after its redirect.
    done: Option<String>,
}

/// Users shown on one page of the account page.
const USERS_PER_PAGE: i64 = 50;

/// One account: its state, the actions, its runs, and its users (search, with or without access, pages).
async fn account_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path((integration, account)): Path<(String, String)>,
    Query(view): Query<UserView>,
) -> Response {
    let Some((_, csrf)) = session(&console, &headers) else { return Redirect::to("/login").into_response() };
    let connection = match crate::api::find(&console.api, integration.clone(), account.clone()).await {
        Ok(connection) => connection,
        Err(problem) => {
            return error_page(problem.status, "Not found", &problem.detail);
        }
    };
    let access = match view.access.as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let query = store::UserQuery {
        access,
        search: view.q.clone().filter(|q| !q.trim().is_empty()),
        after: view.cursor.clone(),
        limit: Some(USERS_PER_PAGE + 1),
        ..store::UserQuery::default()
    };
    let id = connection.id;
    let read = store::off_workers(&console.api.store, move |store| {
        Ok((store.runs(id, 20)?, store.find_users(id, &query)?, store.user_counts(id)?, store.license_counts(id)?))
    });
    let (runs, mut users, (with_access, all), licenses) = match read.await {
        Ok(read) => read,
        Err(e) => {
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string());
        }
    };
    let more = users.len() as i64 > USERS_PER_PAGE;
    users.truncate(USERS_PER_PAGE as usize);
    let path = account_path(&integration, &account);
    let name = escape(&connection.name());
    let state = if connection.enabled {
        "enabled".to_owned()
    } else {
        format!("disabled: {}", connection.disabled_reason.as_deref().unwrap_or(""))
    };
    let done = view.done.map(|d| format!("<p role=\"status\">{}</p>", escape(&d))).unwrap_or_default();
    let action = |value: &str, label: &str, extra: &str| {
        format!(
            "<form class=\"inline\" method=\"post\" action=\"{path}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"action\" value=\"{value}\">{extra}<button type=\"submit\">{label}</button></form> ",
            escape(&csrf)
        )
    };
    let mut body = format!(
        "<p><a href=\"/\">All accounts</a></p><h1>{name}</h1>{done}<p>State: <strong>{}</strong> · users with access {with_access} of {all}</p><p>{}{}{}{}{}</p>",
        escape(&state),
        action("enable", "Enable", ""),
        action("disable", "Disable", ""),
        action("sync", "Sync now", ""),
        action("approve", "Approve the held sync", ""),
        action(
            "disconnect",
            "Disconnect",
            "<label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> its users and runs are removed</label> "
        ),
    );
    body.push_str("<h2>Runs</h2><table><thead><tr><th>Started</th><th>Outcome</th><th>Pages</th><th>Seen</th><th>Dropped</th><th>Added / updated / deleted</th><th>Error</th></tr></thead><tbody>");
    for run in &runs {
        let dropped: Vec<String> = run.dropped_reasons.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{} / {} / {}</td><td class=\"error\">{}</td></tr>",
            escape(&crate::cli::show::when(Some(run.started_at))),
            run.outcome.as_str(),
            run.pages,
            run.users_seen,
            run.users_dropped,
            if dropped.is_empty() { String::new() } else { format!(" ({})", escape(&dropped.join(", "))) },
            run.added,
            run.updated,
            run.deleted,
            escape(&tib_support::one_line(run.error.as_deref().unwrap_or(""))),
        ));
    }
    body.push_str("</tbody></table>");
    body.push_str("<h2>Licenses</h2>");
    if licenses.is_empty() {
        body.push_str("<p>No user with access holds a license.</p>");
    } else {
        body.push_str("<table><thead><tr><th>License</th><th>Users with access holding it</th></tr></thead><tbody>");
        for (license, count) in &licenses {
            body.push_str(&format!("<tr><td>{}</td><td>{count}</td></tr>", escape(license)));
        }
        body.push_str("</tbody></table>");
    }
    let q = view.q.unwrap_or_default();
    let selected = |value: Option<bool>| if access == value { " selected" } else { "" };
    body.push_str(&format!(
        "<h2>Users</h2><form method=\"get\" action=\"{path}\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"email or name\"> \
         <select name=\"access\"><option value=\"\"{}>all</option><option value=\"true\"{}>with access</option><option value=\"false\"{}>without access</option></select> \
         <button type=\"submit\">Search</button></form>",
        escape(&q),
        selected(None),
        selected(Some(true)),
        selected(Some(false)),
    ));
    body.push_str("<table><thead><tr><th>Email</th><th>Name</th><th>Status</th><th>Role</th><th>Licenses</th><th>Access</th></tr></thead><tbody>");
    for stored in &users {
        let u = &stored.user;
        let name = u.full_name.clone().unwrap_or_else(|| {
            format!("{} {}", u.first_name.as_deref().unwrap_or(""), u.last_name.as_deref().unwrap_or(""))
                .trim()
                .to_owned()
        });
        let access = if stored.deleted {
            "deleted"
        } else if u.active {
            "yes"
        } else {
            "no"
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{access}</td></tr>",
            escape(&u.email),
            escape(&name),
            escape(&u.status),
            escape(u.role.as_deref().unwrap_or("")),
            escape(&u.licenses.join(", ")),
        ));
    }
    body.push_str("</tbody></table>");
    if let (true, Some(last)) = (more, users.last()) {
        let mut next = format!("{path}?cursor={}", percent_encode(&last.user.external_id));
        if !q.is_empty() {
            next.push_str(&format!("&q={}", percent_encode(&q)));
        }
        if let Some(access) = access {
            next.push_str(&format!("&access={access}"));
        }
        body.push_str(&format!("<p><a href=\"{}\">Next users</a></p>", escape(&next)));
    }
    page(StatusCode::OK, &connection.name(), &body)
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    action: crate::api::Action,
    confirm: Option<String>,
}

/// An action's form: checked against the session's CSRF token, done, and back to the page with what it did.
async fn act(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path((integration, account)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let Some((_, expected)) = session(&console, &headers) else { return Redirect::to("/login").into_response() };
    if !session::same(&form.csrf, &expected) {
        return error_page(StatusCode::FORBIDDEN, "Refused", "The form's CSRF token is missing or wrong.");
    }
    let path = account_path(&integration, &account);
    if form.action == crate::api::Action::Disconnect && form.confirm.as_deref() != Some("yes") {
        return Redirect::to(&format!("{path}?done={}", percent_encode("tick the box to confirm the disconnection")))
            .into_response();
    }
    let connection = match crate::api::find(&console.api, integration, account).await {
        Ok(connection) => connection,
        Err(problem) => {
            return error_page(problem.status, "Not found", &problem.detail);
        }
    };
    let (done, back) = match crate::api::perform(&console.api, connection, form.action).await {
        Ok(done) if form.action == crate::api::Action::Disconnect => (done, "/".to_owned()),
        Ok(done) => (done, path),
        Err(problem) => (problem.detail, path),
    };
    let separator = if back.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{back}{separator}done={}", percent_encode(&done))).into_response()
}
