//! A sync under way, live: its progress as server-sent events, which the
//! console's script ([`SCRIPT`]) shows on the account page.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::{Operator, error_page};
use crate::web::Web;

const SCRIPT: &str = include_str!("console.js");

/// Changes are sent at most this often; a watcher sees the latest count.
const EVERY: Duration = Duration::from_millis(250);

/// The account page's script, behind the login like every page that uses it.
pub(super) async fn script(_operator: Operator) -> Response {
    super::layout::script(SCRIPT)
}

/// The connection's progress now, then each change, as `progress` events.
pub(super) async fn events(
    State(web): State<Arc<Web>>,
    _operator: Operator,
    Path((integration, account)): Path<(String, String)>,
) -> Response {
    let connection = match web.services.find(&integration, &account).await {
        Ok(connection) => connection,
        Err(error) => return error_page(error),
    };
    let mut watcher = web.services.live.watch(connection.id);
    // The first event is the progress now.
    watcher.mark_changed();
    let events = stream::unfold((watcher, true), |(mut watcher, first)| async move {
        if !first {
            tokio::time::sleep(EVERY).await;
        }
        // The scheduler's end of the channel lives as long as the server: an error means it stops.
        watcher.changed().await.ok()?;
        let progress = watcher.borrow_and_update().clone();
        let event = Event::default().event("progress").json_data(&progress).ok()?;
        Some((Ok::<_, std::convert::Infallible>(event), (watcher, false)))
    });
    let mut response = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
