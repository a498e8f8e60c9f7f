//! The operators' console: server-rendered pages in `tib serve`. An operator
//! logs in at the company's identity provider or with the admin token (`login`,
//! [`crate::access::sessions`]) and acts under their name and role; the overview shows
//! the integrations available to connect and the connected accounts
//! (`overview`); the connect dialog connects one (`connect`); an
//! account's page shows its runs, licenses and users and follows a sync live
//! (`account`, `live`); the notifications page shows what admins were
//! told (`notifications`); the company's views show one person across every account and the
//! licenses in use with their holders (`company`); the operators' page shows the API tokens and
//! the audit log (`operators`); the OAuth callback page ends an authorization
//! (`callback`). Each page is a struct rendered by its template (maud, which
//! escapes every value by construction) inside one layout (`layout`). Every
//! page is self-contained (its style inline, nothing fetched from elsewhere,
//! as the Content-Security-Policy says; the account page's one small script
//! is served here, to operators only). Handlers call operations
//! ([`crate::operate`]); an operation's error becomes a page here, by its
//! kind, and nowhere else.

mod account;
mod builder;
mod callback;
mod company;
mod connect;
mod layout;
mod live;
mod login;
mod notifications;
mod operators;
mod overview;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::operate::{self, ErrorKind};
use crate::web::Web;
use crate::web::percent_encode;

const COOKIE: &str = "tib_session";

pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(overview::overview))
        .route("/login", get(login::login_page).post(login::login))
        .route("/login/sso", get(login::single_sign_on))
        .route("/login/sso/callback", get(login::signed_on))
        .route("/logout", post(login::logout))
        .route("/connect/{integration}", get(connect::dialog).post(connect::submit))
        .route("/connections/{integration}/{account}", get(account::account_page).post(account::act))
        .route("/connections/{integration}/{account}/authorize", post(connect::authorize_again))
        .route("/connections/{integration}/{account}/live", get(live::events))
        .route("/notifications", get(notifications::notifications))
        .route("/people", get(company::people))
        .route("/people/{email}", get(company::person))
        .route("/licenses", get(company::licenses))
        .route("/licenses/{integration}/{account}", get(company::holders))
        .route("/access-review", get(company::access_review))
        .route("/operators", get(operators::operators))
        .route("/operators/tokens", post(operators::add_token))
        .route("/operators/tokens/{name}/remove", post(operators::remove_token))
        .route("/console.js", get(live::script))
        .route("/builder", get(builder::list))
        .route("/builder/new", post(builder::new))
        .route("/builder/open/{integration}", post(builder::open))
        .route("/builder/callback", get(builder::callback))
        .route("/builder.js", get(builder::script))
        .route("/builder/{draft}/run", post(builder::test))
        .route("/builder/{draft}/authorize", post(builder::authorize))
        .route("/builder/{draft}/clear", post(builder::clear))
        .route("/builder/{draft}/preview", post(builder::preview))
        .route("/builder/{draft}/check", post(builder::check))
        .route("/builder/{draft}/text", post(builder::edit_text))
        .route("/builder/{draft}/save", post(builder::save))
        .route("/builder/{draft}/{step}", get(builder::show).post(builder::apply))
        .route("/oauth/callback/{integration}", get(callback::redirected))
        .with_state(web)
}

/// A logged-in operator: the request's session cookie names a live session.
/// Without one, the request is sent to the login page.
struct Operator {
    /// The session as its pages show it: the CSRF token every form carries, who, what is unread.
    nav: layout::Nav,
    session: String,
    /// Who they are, from this request's address.
    who: crate::access::operator::Actor,
}

impl FromRequestParts<Arc<Web>> for Operator {
    type Rejection = Redirect;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Redirect> {
        let cookies = parts.headers.get_all(header::COOKIE).into_iter().filter_map(|v| v.to_str().ok());
        let session = cookies
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_owned))
            .ok_or_else(|| Redirect::to("/login"))?;
        let (csrf, mut who) = web.sessions.find(&session).ok_or_else(|| Redirect::to("/login"))?;
        who.address = Some(web.client(parts));
        // A count that cannot be read is no reason to refuse the page.
        let unread = web.services.unread(&who.name).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "the unread notifications cannot be counted");
            0
        });
        let nav =
            layout::Nav { csrf, who: who.name.clone(), role: Some(who.role), unread, now: web.services.clock.now() };
        Ok(Operator { nav, session, who })
    }
}

impl Operator {
    /// The refusal of a form whose CSRF token is not this session's; `None` for one whose token is.
    fn refuses(&self, presented: &str) -> Option<Response> {
        let forged = !crate::access::sessions::same(presented, &self.nav.csrf);
        forged.then(|| {
            let page = layout::Problem { title: "Refused", message: "The form's CSRF token is missing or wrong." };
            layout::respond(StatusCode::FORBIDDEN, &page)
        })
    }
}

/// An operation's error as a page: its status and title by its kind. A failure's own words stay in
/// the server's log.
fn error_page(error: operate::Error) -> Response {
    let (status, title) = match error.kind {
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "Not found"),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "Conflict"),
        ErrorKind::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "Refused"),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "Not allowed"),
        ErrorKind::Failed => {
            tracing::error!(error = %error.message, "a page failed");
            let page = layout::Problem { title: "Error", message: "The server could not do it; its log says why." };
            return layout::respond(StatusCode::INTERNAL_SERVER_ERROR, &page);
        }
    };
    layout::respond(status, &layout::Problem { title, message: &error.message })
}

/// A page's query: what an action did, shown once at its top ([`done`]).
#[derive(serde::Deserialize)]
struct Done {
    done: Option<String>,
}

/// Back to `path`, with what was done shown once at its top.
fn done(path: &str, message: &str) -> Response {
    let separator = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{separator}done={}", percent_encode(message))).into_response()
}
