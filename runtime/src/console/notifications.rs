//! What admins were told (a connection disabled, syncs failing), newest first.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Console, Operator, error_page, escape, navigation, page, shown, when};

/// Notifications the page lists: the newest.
const SHOWN: i64 = 200;

pub(super) async fn notifications(State(console): State<Arc<Console>>, operator: Operator) -> Response {
    let list = match crate::store::off_workers(&console.api.store, |store| store.notifications(SHOWN)).await {
        Ok(list) => list,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
    };
    let mut body = format!("{}<h1>Notifications</h1>", navigation(&operator));
    if list.is_empty() {
        body.push_str("<p>Admins have not been told anything yet.</p>");
    } else {
        body.push_str(
            "<table id=\"notifications\"><thead><tr><th>When</th><th>Connection</th><th>Kind</th><th>Message</th></tr></thead><tbody>",
        );
        for n in &list {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                when(Some(n.created_at)),
                escape(n.connection.as_deref().unwrap_or("")),
                escape(&n.kind),
                shown(&n.message),
            ));
        }
        body.push_str("</tbody></table>");
    }
    page(StatusCode::OK, "Notifications", &body)
}
