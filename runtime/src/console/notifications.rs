//! What admins were told (a connection disabled, syncs failing), newest first.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, Render, html};

use super::layout::{self, Nav, Page, ago, csrf_field, line, navigation};
use super::{Operator, error_page};
use crate::store::Notification;
use crate::web::Web;
use crate::web::account_path;

/// Notifications the page lists: the newest.
const SHOWN: i64 = 200;

pub(super) struct Notifications {
    nav: Nav,
    list: Vec<Notification>,
    /// How many of the newest the operator had not seen before this page.
    new: i64,
}

impl Render for Notifications {
    fn render(&self) -> Markup {
        html! {
            (navigation(&self.nav))
            h1 { "Notifications" }
            @if self.list.is_empty() {
                p { "Admins have not been told anything yet." }
            } @else {
                table #notifications {
                    thead { tr { th { "When" } th { "Connection" } th { "Kind" } th { "Message" } th { "Action" } } }
                    tbody { @for (i, n) in self.list.iter().enumerate() {
                        @let account = n.connection.as_deref().and_then(|name| name.split_once('/'));
                        @let new = (i as i64) < self.new;
                        tr {
                            td data-label="When" { (ago(Some(n.created_at), self.nav.now)) @if new { " " span.badge { "new" } } }
                            td data-label="Connection" {
                                @match account {
                                    Some((integration, account)) => {
                                        a href=(account_path(integration, account)) { (n.connection.as_deref().unwrap_or("")) }
                                    }
                                    None => { (n.connection.as_deref().unwrap_or("")) }
                                }
                            }
                            td data-label="Kind" { (kind_words(&n.kind)) }
                            td data-label="Message" { (line(&n.message)) }
                            td data-label="Action" {
                                @if let (Some((integration, account)), true) = (account, self.nav.may_change()) {
                                    @for (action, label) in actions(&n.kind) {
                                        form.inline method="post" action=(account_path(integration, account)) {
                                            (csrf_field(&self.nav))
                                            input type="hidden" name="action" value=(action);
                                            button type="submit" { (label) }
                                        }
                                        " "
                                    }
                                }
                            }
                        }
                    } }
                }
            }
        }
    }
}

/// What a notification's kind means, in words.
fn kind_words(kind: &str) -> &str {
    match kind {
        "connection_disabled" => "disabled",
        "sync_held" => "sync held",
        "sync_failing" => "syncs failing",
        "authorization_failed" => "authorization failed",
        other => other,
    }
}

/// What an operator can do about a notification of `kind`, from the notifications page: the
/// account's own actions. Whether it still applies, the action itself says.
fn actions(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind {
        "connection_disabled" => &[("enable", "Enable")],
        "sync_held" => &[("approve", "Approve"), ("discard", "Discard")],
        "sync_failing" => &[("sync", "Sync now")],
        _ => &[],
    }
}

impl Page for Notifications {
    fn title(&self) -> String {
        "Notifications".to_owned()
    }
}

/// The page, the unread ones marked new; once shown, they are read.
pub(super) async fn notifications(State(web): State<Arc<Web>>, mut operator: Operator) -> Response {
    let list = match web.services.notifications(SHOWN).await {
        Ok(list) => list,
        Err(error) => return error_page(error),
    };
    if let Some(newest) = list.first()
        && let Err(error) = web.services.mark_read(&operator.who.name, newest.id).await
    {
        tracing::warn!(%error, "the notifications cannot be marked read");
    }
    // Shown now: none is unread any more.
    let new = std::mem::take(&mut operator.nav.unread);
    layout::respond(StatusCode::OK, &Notifications { nav: operator.nav, list, new })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_listed_escaped_on_one_line_each() {
        let n = Notification {
            id: 1,
            connection: Some("acme/<Prod>".to_owned()),
            created_at: 0,
            kind: "connection_disabled".to_owned(),
            message: "HTTP 401\n<b>no</b>".to_owned(),
        };
        let html = Notifications { nav: Nav::token("t0k"), list: vec![n], new: 1 }.render().into_string();
        assert!(
            html.contains(
                "<td data-label=\"Connection\"><a href=\"/connections/acme/%3CProd%3E\">acme/&lt;Prod&gt;</a></td>\
                 <td data-label=\"Kind\">disabled</td><td data-label=\"Message\">HTTP 401\\u000a&lt;b&gt;no&lt;/b&gt;</td>"
            ),
            "{html}"
        );
        // Its action, as a button posting the account's own form with the session's token.
        assert!(
            html.contains(
                "<form class=\"inline\" method=\"post\" action=\"/connections/acme/%3CProd%3E\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"t0k\"><input type=\"hidden\" name=\"action\" value=\"enable\">\
                 <button type=\"submit\">Enable</button></form>"
            ),
            "{html}"
        );
        let empty = Notifications { nav: Nav::default(), list: vec![], new: 0 }.render().into_string();
        assert!(empty.contains("Admins have not been told anything yet."), "{empty}");
    }
}
