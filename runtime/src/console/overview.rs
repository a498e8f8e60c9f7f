//! The overview: the connected accounts with their state, syncs and last
//! error, and the integrations of this build available to connect.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Console, Operator, account_path, error_page, escape, navigation, page, shown, when};
use crate::api::ConnectionState;
use crate::store::{self, Connection, Run};

#[derive(Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

/// A connection's state in words, with its reason: the API's message and its hint when the error policy disabled it.
pub(super) fn state_text(connection: &Connection, last: Option<&Run>) -> (String, &'static str) {
    match ConnectionState::of(connection, last) {
        ConnectionState::Enabled => ("enabled".to_owned(), "state-enabled"),
        ConnectionState::Disabled => {
            (format!("disabled: {}", connection.disabled_reason.as_deref().unwrap_or("")), "state-disabled")
        }
        ConnectionState::WaitingForAuthorization => ("waiting for authorization".to_owned(), "state-waiting"),
        ConnectionState::Held => ("held: its last sync waits for approval".to_owned(), "state-held"),
    }
}

pub(super) async fn overview(
    State(console): State<Arc<Console>>,
    operator: Operator,
    Query(Done { done }): Query<Done>,
) -> Response {
    let read = store::off_workers(&console.api.store, |store| {
        store
            .connections()?
            .into_iter()
            .map(|c| Ok((store.last_run(c.id)?, store.user_counts(c.id)?, c)))
            .collect::<store::Result<Vec<_>>>()
    });
    let rows = match read.await {
        Ok(rows) => rows,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
    };
    let done = done.map(|d| format!("<p role=\"status\">{}</p>", escape(&d))).unwrap_or_default();
    let mut body = format!("{}{done}<h1>Connected accounts</h1>", navigation(&operator));
    if rows.is_empty() {
        body.push_str("<p>No account is connected yet: connect one below.</p>");
    } else {
        body.push_str(
            "<table id=\"accounts\"><thead><tr><th>Account</th><th>State</th><th>Last sync</th><th>Next sync</th>\
             <th>Users with access / all</th><th>Last error</th></tr></thead><tbody>",
        );
        for (last, (with_access, all), c) in &rows {
            let (state, class) = state_text(c, last.as_ref());
            let last_sync = last.as_ref().map_or_else(
                || "never".to_owned(),
                |r| format!("{} ({})", when(Some(r.started_at)), r.outcome.as_str()),
            );
            let next = if c.enabled { when(Some(c.next_sync_at)) } else { "-".to_owned() };
            let error = last.as_ref().and_then(|r| r.error.as_deref()).unwrap_or_default();
            body.push_str(&format!(
                "<tr><td><a href=\"{}\">{}</a></td><td class=\"{class}\">{}</td><td>{}</td><td>{next}</td>\
                 <td>{with_access} / {all}</td><td class=\"error\">{}</td></tr>",
                account_path(&c.integration, &c.account),
                escape(&c.name()),
                shown(&state),
                escape(&last_sync),
                shown(error),
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str(
        "<h2>Available to connect</h2><table id=\"integrations\"><thead><tr><th>Integration</th><th>Auth</th>\
         <th>Asks for</th><th></th></tr></thead><tbody>",
    );
    for crate::integrations::Integration { id, connector, origin } in crate::integrations::all() {
        let spec = connector.spec();
        let interpreted =
            if matches!(origin, crate::integrations::Origin::Interpreted(_)) { " interpreted" } else { "" };
        let asks: Vec<String> = spec
            .credentials
            .iter()
            .map(|c| format!("{}{}", escape(c.name), if c.secret { " (secret)" } else { "" }))
            .collect();
        body.push_str(&format!(
            "<tr><td>{} <small>({}{interpreted})</small></td><td>{}</td><td>{}</td><td><a href=\"/connect/{}\">Connect</a></td></tr>",
            escape(spec.app),
            escape(&id),
            crate::api::auth_kind(&spec.auth).1,
            asks.join(", "),
            crate::api::percent_encode(&id),
        ));
    }
    body.push_str("</tbody></table>");
    page(StatusCode::OK, "Accounts", &body)
}
