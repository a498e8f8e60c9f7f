//! Logging in, at the company's identity provider or with the admin token, into a session cookie;
//! and out again. Each login and logout is in the audit log.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, Render, html};
use serde::Deserialize;

use super::layout::{self, Page};
use super::{COOKIE, Operator};
use crate::access::operator::{Actor, Via};
use crate::web::Web;

/// The login form, with why the last try failed.
pub(super) struct LoginPage<'a> {
    message: Option<&'a str>,
    /// The identity provider operators log in at, when one is set up.
    provider: Option<String>,
}

impl LoginPage<'_> {
    fn of<'a>(web: &Web, message: Option<&'a str>) -> LoginPage<'a> {
        LoginPage { message, provider: web.oidc.as_ref().map(|o| o.provider_name()) }
    }
}

impl Render for LoginPage<'_> {
    fn render(&self) -> Markup {
        html! {
            h1 { "tib" }
            @if let Some(message) = self.message { p.error role="alert" { (message) } }
            @if let Some(provider) = &self.provider {
                p { a.button href="/login/sso" { "Log in with single sign-on" } " at " (provider) }
                p { "Or, to set tib up, with the admin token:" }
            }
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

pub(super) async fn login_page(State(web): State<Arc<Web>>) -> Response {
    layout::respond(StatusCode::OK, &LoginPage::of(&web, None))
}

/// Where the identity provider sends operators back.
fn sso_redirect(web: &Web) -> Option<url::Url> {
    web.services.public_url.join("/login/sso/callback").ok()
}

/// `GET /login/sso`: off to the identity provider.
pub(super) async fn single_sign_on(State(web): State<Arc<Web>>) -> Response {
    let (Some(oidc), Some(redirect)) = (&web.oidc, sso_redirect(&web)) else {
        let message = "single sign-on is not set up on this server";
        return layout::respond(StatusCode::NOT_FOUND, &LoginPage::of(&web, Some(message)));
    };
    match oidc.start(&redirect).await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(message) => layout::respond(StatusCode::BAD_GATEWAY, &LoginPage::of(&web, Some(&message))),
    }
}

/// What the identity provider sends back: a code and the login's state, or why it refused.
#[derive(Deserialize)]
pub(super) struct Returned {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /login/sso/callback`: the login completed, a session opened.
pub(super) async fn signed_on(
    State(web): State<Arc<Web>>,
    request: axum::http::request::Parts,
    Query(returned): Query<Returned>,
) -> Response {
    let Some(oidc) = &web.oidc else { return Redirect::to("/login").into_response() };
    let (Some(code), Some(state)) = (&returned.code, &returned.state) else {
        let why = [returned.error.as_deref(), returned.error_description.as_deref()].into_iter().flatten();
        let message = format!("the identity provider did not log you in: {}", why.collect::<Vec<_>>().join(": "));
        return layout::respond(StatusCode::UNAUTHORIZED, &LoginPage::of(&web, Some(&message)));
    };
    let logged_in = match oidc.finish(state, code, web.services.clock.now()).await {
        Ok(logged_in) => logged_in,
        Err(message) => return layout::respond(StatusCode::UNAUTHORIZED, &LoginPage::of(&web, Some(&message))),
    };
    let who = Actor {
        name: logged_in.name,
        role: logged_in.role,
        via: Via::SingleSignOn,
        address: Some(web.client(&request)),
    };
    session_for(&web, who).await
}

/// A session for `who`, logged, and the overview.
async fn session_for(web: &Web, who: Actor) -> Response {
    web.services.note(&who, "log in").await;
    let (id, _) = web.sessions.open(who);
    let secure = if web.secure() { "; Secure" } else { "" };
    // Lax, not Strict: the provider's redirect back is a navigation from another site, and the
    // overview it leads to must see the new cookie. Forms carry their CSRF token either way.
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/{secure}");
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
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
        return layout::respond(StatusCode::SERVICE_UNAVAILABLE, &LoginPage::of(&web, Some(message)));
    };
    let client = web.client(&request);
    if !web.check_token(admin, client, &token).await {
        let failures = web.attempts.failures(client, std::time::Instant::now());
        let message = match failures {
            0..=4 => "that is not this server's admin token".to_owned(),
            n => format!("that is not this server's admin token ({n} failed attempts: each try now waits longer)"),
        };
        return layout::respond(StatusCode::UNAUTHORIZED, &LoginPage::of(&web, Some(&message)));
    }
    session_for(&web, Actor::admin_token(client)).await
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
    web.services.note(&operator.who, "log out").await;
    // The drafts of the session end with it, and what their tests held.
    web.builder.forget_session(&operator.session);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tib_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_page_asks_for_the_token_and_says_why_a_try_failed() {
        let html = layout::document(&LoginPage { message: Some("not <this> token"), provider: None }).into_string();
        assert!(html.contains("<title>Log in · tib</title>"), "{html}");
        assert!(html.contains("<p class=\"error\" role=\"alert\">not &lt;this&gt; token</p>"), "{html}");
        assert!(html.contains("type=\"password\" name=\"token\""), "{html}");
    }
}
