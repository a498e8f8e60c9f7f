//! The operators' page: who is logged in and with what role, the named API tokens machines use
//! (made here, shown once, removed here), and the audit log of every change, newest first.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, Render, html};
use serde::Deserialize;

use super::layout::{self, Nav, Page, ago, csrf_field, line, navigation, viewer_note};
use super::{Operator, done, error_page};
use crate::access::operator::Role;
use crate::operate::{AuditPage, MadeToken};
use crate::store::ApiToken;
use crate::web::{Web, percent_encode};

/// Audit entries a page shows.
const AUDIT_PAGE: i64 = 100;

pub(super) struct OperatorsPage {
    nav: Nav,
    done: Option<String>,
    tokens: Vec<ApiToken>,
    audit: AuditPage,
    /// A token just made: shown this once.
    made: Option<MadeToken>,
}

impl Render for OperatorsPage {
    fn render(&self) -> Markup {
        html! {
            (navigation(&self.nav))
            h1 { "Operators" }
            (layout::done(self.done.as_deref()))
            p {
                "You are " strong { (self.nav.who) }
                @match self.nav.role {
                    Some(Role::Admin) => { ", an admin: you can change everything." }
                    Some(Role::Viewer) => { ", a viewer: you can read everything and change nothing." }
                    None => { "." }
                }
            }
            @if let Some(made) = &self.made {
                div.warning role="status" {
                    p { "The token " strong { (made.made.name) } " (" (made.made.role) ") is made. Copy it now: it is not shown again." }
                    p { code #made-token { (made.token) } }
                }
            }
            h2 { "API tokens" }
            p { "Machines reach the API and SCIM with a token of their own, sent as " code { "Authorization: Bearer …" } ". A viewer's token reads only." }
            @if self.tokens.is_empty() {
                p { "No tokens yet." }
            } @else {
                table #tokens {
                    thead { tr { th { "Name" } th { "Role" } th { "Made" } th { "By" } th { "Action" } } }
                    tbody { @for token in &self.tokens {
                        tr {
                            td data-label="Name" { (token.name) }
                            td data-label="Role" { (token.role) }
                            td data-label="Made" { (ago(Some(token.created_at), self.nav.now)) }
                            td data-label="By" { (token.created_by) }
                            td data-label="Action" {
                                @if self.nav.may_change() { form.inline method="post" action=(format!("/operators/tokens/{}/remove", percent_encode(&token.name))) {
                                    (csrf_field(&self.nav))
                                    button type="submit" { "Remove" }
                                } }
                            }
                        }
                    } }
                }
            }
            @if !self.nav.may_change() {
                (viewer_note("make and remove tokens"))
            } @else { form.dialog method="post" action="/operators/tokens" {
                (csrf_field(&self.nav))
                label for="token-name" { "New token's name" }
                input #token-name type="text" name="name" required maxlength="64" pattern="[A-Za-z0-9._@\\-]+" placeholder="scim-reader";
                small { "What it is for: letters, digits, - _ . @" }
                label for="token-role" { "Role" }
                select #token-role name="role" {
                    option value="viewer" selected { "viewer: reads only" }
                    option value="admin" { "admin: everything" }
                }
                p { button type="submit" { "Make a token" } }
            } }
            h2 { "Audit log" }
            @if self.audit.entries.is_empty() {
                p { "Nothing has been changed yet." }
            } @else {
                table #audit {
                    thead { tr { th { "When" } th { "Who" } th { "From" } th { "Action" } th { "Target" } th { "Outcome" } } }
                    tbody { @for e in &self.audit.entries {
                        tr {
                            td data-label="When" { (ago(Some(e.at), self.nav.now)) }
                            td data-label="Who" { (line(&e.actor)) " " small { "(" (e.via) ")" } }
                            td data-label="From" { (e.address) }
                            td data-label="Action" { (e.action) }
                            td data-label="Target" { (line(&e.target)) }
                            td data-label="Outcome" { (line(&e.outcome)) }
                        }
                    } }
                }
                @if let Some(older) = self.audit.older {
                    p { a href=(format!("/operators?before={older}")) { "Older entries" } }
                }
            }
        }
    }
}

impl Page for OperatorsPage {
    fn title(&self) -> String {
        "Operators".to_owned()
    }
}

#[derive(Deserialize)]
pub(super) struct OperatorsView {
    before: Option<i64>,
    done: Option<String>,
}

/// `GET /operators`.
pub(super) async fn operators(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Query(view): Query<OperatorsView>,
) -> Response {
    page(&web, operator, view.before, view.done, None).await
}

async fn page(
    web: &Web,
    operator: Operator,
    before: Option<i64>,
    done: Option<String>,
    made: Option<MadeToken>,
) -> Response {
    let read = async {
        Ok::<_, crate::operate::Error>((web.services.tokens().await?, web.services.audit(before, AUDIT_PAGE).await?))
    };
    match read.await {
        Ok((tokens, audit)) => {
            let status = if made.is_some() { StatusCode::CREATED } else { StatusCode::OK };
            layout::respond(status, &OperatorsPage { nav: operator.nav, done, tokens, audit, made })
        }
        Err(error) => error_page(error),
    }
}

#[derive(Deserialize)]
pub(super) struct NewToken {
    #[serde(default)]
    csrf: String,
    name: String,
    role: String,
}

/// `POST /operators/tokens`: a token made, and shown on the page this once.
pub(super) async fn add_token(State(web): State<Arc<Web>>, operator: Operator, Form(form): Form<NewToken>) -> Response {
    if let Some(refused) = operator.refuses(&form.csrf) {
        return refused;
    }
    let role = match Role::parse(&form.role) {
        Ok(role) => role,
        Err(message) => return done("/operators", &message),
    };
    match web.services.add_token(&operator.who, form.name.trim(), role).await {
        Ok(made) => page(&web, operator, None, None, Some(made)).await,
        Err(error)
            if matches!(error.kind, crate::operate::ErrorKind::Conflict | crate::operate::ErrorKind::Invalid) =>
        {
            done("/operators", &error.message)
        }
        Err(error) => error_page(error),
    }
}

#[derive(Deserialize)]
pub(super) struct Csrf {
    #[serde(default)]
    csrf: String,
}

/// `POST /operators/tokens/{name}/remove`.
pub(super) async fn remove_token(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Path(name): Path<String>,
    Form(Csrf { csrf }): Form<Csrf>,
) -> Response {
    if let Some(refused) = operator.refuses(&csrf) {
        return refused;
    }
    match web.services.remove_token(&operator.who, &name).await {
        Ok(()) => {
            done("/operators", &format!("removed the token {name}: requests presenting it are refused from now on"))
        }
        Err(error) if error.kind == crate::operate::ErrorKind::NotFound => done("/operators", &error.message),
        Err(error) => error_page(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditEntry;

    #[test]
    fn the_page_shows_a_made_token_once_and_the_log_escaped() {
        let entry = AuditEntry {
            id: 7,
            at: 0,
            actor: "ann@example.com".into(),
            via: "single sign-on".into(),
            address: "127.0.0.1".into(),
            action: "sync now".into(),
            target: "acme/<Prod>".into(),
            outcome: "done".into(),
        };
        let token = ApiToken { name: "scim".into(), role: Role::Viewer, created_at: 0, created_by: "admin".into() };
        let page = OperatorsPage {
            nav: Nav { who: "ann@example.com".into(), role: Some(Role::Admin), ..Nav::token("t") },
            done: None,
            tokens: vec![token.clone()],
            audit: AuditPage { entries: vec![entry], older: Some(7) },
            made: Some(MadeToken { token: "tib_abc".into(), made: token }),
        };
        let html = page.render().into_string();
        assert!(html.contains("<code id=\"made-token\">tib_abc</code>"), "{html}");
        assert!(html.contains("<td data-label=\"Target\">acme/&lt;Prod&gt;</td>"), "{html}");
        assert!(html.contains("href=\"/operators?before=7\""), "{html}");
        assert!(html.contains(", an admin: you can change everything."), "{html}");
    }
}
