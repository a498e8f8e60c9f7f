//! What admins were told (a connection disabled, syncs failing), newest first.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, Render, html};

use super::layout::{self, Page, line, navigation};
use super::{Operator, error_page};
use crate::store::Notification;
use crate::web::Web;
use crate::web::when;

/// Notifications the page lists: the newest.
const SHOWN: i64 = 200;

pub(super) struct Notifications {
    csrf: String,
    list: Vec<Notification>,
}

impl Render for Notifications {
    fn render(&self) -> Markup {
        html! {
            (navigation(&self.csrf))
            h1 { "Notifications" }
            @if self.list.is_empty() {
                p { "Admins have not been told anything yet." }
            } @else {
                table #notifications {
                    thead { tr { th { "When" } th { "Connection" } th { "Kind" } th { "Message" } } }
                    tbody { @for n in &self.list {
                        tr {
                            td data-label="When" { (when(Some(n.created_at))) }
                            td data-label="Connection" { (n.connection.as_deref().unwrap_or("")) }
                            td data-label="Kind" { (n.kind) }
                            td data-label="Message" { (line(&n.message)) }
                        }
                    } }
                }
            }
        }
    }
}

impl Page for Notifications {
    fn title(&self) -> String {
        "Notifications".to_owned()
    }
}

pub(super) async fn notifications(State(web): State<Arc<Web>>, operator: Operator) -> Response {
    match web.services.notifications(SHOWN).await {
        Ok(list) => layout::respond(StatusCode::OK, &Notifications { csrf: operator.csrf, list }),
        Err(error) => error_page(error),
    }
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
            kind: "disabled".to_owned(),
            message: "HTTP 401\n<b>no</b>".to_owned(),
        };
        let html = Notifications { csrf: String::new(), list: vec![n] }.render().into_string();
        assert!(
            html.contains(
                "<td data-label=\"Connection\">acme/&lt;Prod&gt;</td><td data-label=\"Kind\">disabled</td>\
                 <td data-label=\"Message\">HTTP 401\\u000a&lt;b&gt;no&lt;/b&gt;</td>"
            ),
            "{html}"
        );
        let empty = Notifications { csrf: String::new(), list: vec![] }.render().into_string();
        assert!(empty.contains("Admins have not been told anything yet."), "{empty}");
    }
}
