//! The operators' console: server-rendered pages in `tib serve`. An operator
//! logs in with the admin token ([`login`], [`session`]); the overview shows
//! the integrations available to connect and the connected accounts
//! ([`overview`]); the connect dialog connects one ([`connect`]); an
//! account's page shows its runs, licenses and users and follows a sync live
//! ([`account`], [`live`]); the notifications page shows what admins were
//! told ([`notifications`]). Every page is self-contained (its style inline,
//! nothing fetched from elsewhere, as the Content-Security-Policy says; the
//! account page's one small script is served here, to operators only), and
//! every text from a spec, an API or an operator is escaped.

mod account;
mod connect;
mod live;
mod login;
mod notifications;
mod overview;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::api::{Api, percent_encode};
use session::Sessions;

const COOKIE: &str = "tib_session";

pub struct Console {
    pub api: Arc<Api>,
    pub sessions: Sessions,
    /// Where the scheduler's syncs report their progress.
    pub live: Arc<crate::live::Syncs>,
    /// `Secure` cookies when the public URL is https.
    pub secure: bool,
}

pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(overview::overview))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/connect/{integration}", get(connect::dialog).post(connect::submit))
        .route("/connections/{integration}/{account}", get(account::account_page).post(account::act))
        .route("/connections/{integration}/{account}/authorize", post(connect::authorize_again))
        .route("/connections/{integration}/{account}/live", get(live::events))
        .route("/notifications", get(notifications::notifications))
        .route("/console.js", get(live::script))
        .with_state(console)
}

/// A logged-in operator: the request's session cookie names a live session.
/// Without one, the request is sent to the login page.
struct Operator {
    /// The session's CSRF token, which every form of the page carries.
    csrf: String,
    session: String,
}

impl FromRequestParts<Arc<Console>> for Operator {
    type Rejection = Redirect;

    async fn from_request_parts(parts: &mut Parts, console: &Arc<Console>) -> Result<Self, Redirect> {
        let cookies = parts.headers.get_all(header::COOKIE).into_iter().filter_map(|v| v.to_str().ok());
        let session = cookies
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_owned))
            .ok_or_else(|| Redirect::to("/login"))?;
        let csrf = console.sessions.csrf(&session).ok_or_else(|| Redirect::to("/login"))?;
        Ok(Operator { csrf, session })
    }
}

impl Operator {
    /// The refusal of a form whose CSRF token is not this session's; `None` for one whose token is.
    fn refuses(&self, presented: &str) -> Option<Response> {
        let forged = !session::same(presented, &self.csrf);
        forged.then(|| error_page(StatusCode::FORBIDDEN, "Refused", "The form's CSRF token is missing or wrong."))
    }

    /// The hidden field that carries the CSRF token in a form.
    fn csrf_field(&self) -> String {
        format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(&self.csrf))
    }
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

/// Text from an API or a store, on one line (control characters shown escaped) and escaped for HTML.
fn shown(text: &str) -> String {
    escape(&tib_support::one_line(text))
}

/// A time as the console shows it (UTC, to the minute).
fn when(at: Option<crate::store::Time>) -> String {
    crate::cli::show::when(at)
}

/// The header of every page behind the login: where to go, and logging out.
fn navigation(operator: &Operator) -> String {
    format!(
        "<nav><a href=\"/\"><strong>tib</strong></a> <a href=\"/\">Accounts</a> <a href=\"/notifications\">Notifications</a> \
         <form class=\"inline\" method=\"post\" action=\"/logout\">{}<button type=\"submit\">Log out</button></form></nav>",
        operator.csrf_field()
    )
}

/// A whole page: the layout and its style.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · tib</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        escape(title)
    );
    // The security headers are the server's one layer ([`crate::security`]).
    (status, Html(html)).into_response()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1c1e21}\
main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
nav{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;border-bottom:1px solid #e3e5e8;padding-bottom:.5rem}\
nav form{margin-left:auto}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.4rem .6rem;\
border-bottom:1px solid #e3e5e8;vertical-align:top}.state-disabled,.error{color:#b00020}.state-held,.state-waiting{color:#8a5300}\
.warning{background:#fff4e5;border:1px solid #f0b45a;padding:.6rem}.live{background:#e8f1fd;padding:.6rem}\
form.inline{display:inline}input,button,select{font:inherit;padding:.4rem .6rem}\
form.dialog label{display:block;margin:.8rem 0 .2rem;font-weight:600}form.dialog small{display:block;color:#555}\
form.dialog input[type=text],form.dialog input[type=password],form.dialog input[type=url]{width:100%;max-width:32rem;box-sizing:border-box}\
a.button{display:inline-block;background:#1a56db;color:#fff;padding:.5rem 1rem;text-decoration:none;border-radius:.3rem}\
code{background:#eef0f3;padding:0 .2rem;word-break:break-all}dl.fields{margin:0}dl.fields dt{font-weight:600;display:inline}\
dl.fields dd{display:inline;margin:0 .6rem 0 .2rem}\
@media (max-width:40rem){table,thead,tbody,tr,th,td{display:block}thead{display:none}td{border:0}tr{border-bottom:1px solid #e3e5e8}}";

/// A page that says only what went wrong.
fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(status, title, &format!("<p><a href=\"/\">All accounts</a></p><p class=\"error\">{}</p>", escape(message)))
}

/// The account page's path, its segments percent-encoded.
fn account_path(integration: &str, account: &str) -> String {
    format!("/connections/{}/{}", percent_encode(integration), percent_encode(account))
}

/// Back to `path`, with what was done shown once at its top.
fn done(path: &str, message: &str) -> Response {
    let separator = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{separator}done={}", percent_encode(message))).into_response()
}
