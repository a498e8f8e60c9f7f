//! Logging in with the admin token into a session cookie, and out again.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{COOKIE, Console, Operator, escape, page};

fn login_form(message: Option<&str>) -> String {
    let message = message.map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m))).unwrap_or_default();
    format!(
        "<h1>tib</h1>{message}<form method=\"post\" action=\"/login\">\
         <label>Admin token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required autofocus></label> \
         <button type=\"submit\">Log in</button></form>"
    )
}

pub(super) async fn login_page() -> Response {
    page(StatusCode::OK, "Log in", &login_form(None))
}

#[derive(Deserialize)]
pub(super) struct Login {
    token: String,
}

pub(super) async fn login(
    State(console): State<Arc<Console>>,
    request: axum::http::request::Parts,
    Form(Login { token }): Form<Login>,
) -> Response {
    let Some(admin) = &console.api.admin else {
        let message = "the console is off: start `tib serve` with TIB_ADMIN_TOKEN or --admin-token-file";
        return page(StatusCode::SERVICE_UNAVAILABLE, "Log in", &login_form(Some(message)));
    };
    let client = console.api.client(&request);
    if !console.api.check_token(admin, client, &token).await {
        let failures = console.api.attempts.failures(client, std::time::Instant::now());
        let message = match failures {
            0..=4 => "that is not this server's admin token".to_owned(),
            n => format!("that is not this server's admin token ({n} failed attempts: each try now waits longer)"),
        };
        return page(StatusCode::UNAUTHORIZED, "Log in", &login_form(Some(&message)));
    }
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
pub(super) struct Csrf {
    /// Missing, it is empty and refused like a wrong one.
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(
    State(console): State<Arc<Console>>,
    operator: Operator,
    Form(Csrf { csrf }): Form<Csrf>,
) -> Response {
    if let Some(refused) = operator.refuses(&csrf) {
        return refused;
    }
    console.sessions.close(&operator.session);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tib_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}
