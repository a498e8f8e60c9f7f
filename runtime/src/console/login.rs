//! Logging in with the admin token into a session cookie, and out again.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, Render, html};
use serde::Deserialize;

use super::layout::{self, Page};
use super::{COOKIE, Operator};
use crate::web::Web;

/// The login form, with why the last try failed.
pub(super) struct LoginPage<'a> {
    message: Option<&'a str>,
}

impl Render for LoginPage<'_> {
    fn render(&self) -> Markup {
        html! {
            h1 { "tib" }
            @if let Some(message) = self.message { p.error role="alert" { (message) } }
            form method="post" action="/login" {
                label {
                    "Admin token "
                    input type="password" name="token" autocomplete="current-password" required autofocus;
                }
                " "
                button type="submit" { "Log in" }
            }
        }
    }
}

impl Page for LoginPage<'_> {
    fn title(&self) -> String {
        "Log in".to_owned()
    }
}

pub(super) async fn login_page() -> Response {
    layout::respond(StatusCode::OK, &LoginPage { message: None })
}

#[derive(Deserialize)]
pub(super) struct Login {
    token: String,
}

pub(super) async fn login(
    State(web): State<Arc<Web>>,
    request: axum::http::request::Parts,
    Form(Login { token }): Form<Login>,
) -> Response {
    let Some(admin) = &web.admin else {
        let message = "the console is off: start `tib serve` with TIB_ADMIN_TOKEN or --admin-token-file";
        return layout::respond(StatusCode::SERVICE_UNAVAILABLE, &LoginPage { message: Some(message) });
    };
    let client = web.client(&request);
    if !web.check_token(admin, client, &token).await {
        let failures = web.attempts.failures(client, std::time::Instant::now());
        let message = match failures {
            0..=4 => "that is not this server's admin token".to_owned(),
            n => format!("that is not this server's admin token ({n} failed attempts: each try now waits longer)"),
        };
        return layout::respond(StatusCode::UNAUTHORIZED, &LoginPage { message: Some(&message) });
    }
    let (id, _) = web.sessions.open();
    let secure = if web.secure() { "; Secure" } else { "" };
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
    State(web): State<Arc<Web>>,
    operator: Operator,
    Form(Csrf { csrf }): Form<Csrf>,
) -> Response {
    if let Some(refused) = operator.refuses(&csrf) {
        return refused;
    }
    web.sessions.close(&operator.session);
    // The drafts of the session end with it, and what their tests held.
    web.builder.forget_session(&operator.session);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tib_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_page_asks_for_the_token_and_says_why_a_try_failed() {
        let html = layout::document(&LoginPage { message: Some("not <this> token") }).into_string();
        assert!(html.contains("<title>Log in · tib</title>"), "{html}");
        assert!(html.contains("<p class=\"error\" role=\"alert\">not &lt;this&gt; token</p>"), "{html}");
        assert!(html.contains("type=\"password\" name=\"token\""), "{html}");
    }
}
