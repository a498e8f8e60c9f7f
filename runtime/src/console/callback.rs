//! The page the provider's OAuth redirect lands on: the authorization
//! completed ([`crate::operate`]) and a link to the account, or the error
//! page saying why not.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, Render, html};

use super::error_page;
use super::layout::{self, Page};
use crate::web::Web;
use crate::web::account_path;

pub(super) struct Callback {
    message: String,
    /// Where to go on: the account's page.
    link: String,
}

impl Render for Callback {
    fn render(&self) -> Markup {
        html! {
            p { (self.message) }
            p { a href=(self.link) { "Open it in the console" } }
        }
    }
}

impl Page for Callback {
    fn title(&self) -> String {
        "Authorization".to_owned()
    }
}

pub(super) async fn redirected(
    State(web): State<Arc<Web>>,
    Path(integration): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match web.services.complete_authorization(&integration, &query).await {
        Ok(connection) => {
            let name = connection.name();
            tracing::info!(connection = name, "OAuth authorization completed");
            let message = format!("{name} is connected: its first sync starts now. You can close this page.");
            let link = account_path(&connection.integration, &connection.account);
            layout::respond(StatusCode::OK, &Callback { message, link })
        }
        Err(error) => {
            tracing::warn!(integration, kind = ?error.kind, "OAuth callback refused: {}", error.message);
            error_page(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_page_links_to_the_account() {
        let done = Callback { message: "acme/Prod is connected".to_owned(), link: account_path("acme", "Prod") };
        let html = layout::document(&done).into_string();
        assert!(html.contains("<a href=\"/connections/acme/Prod\">Open it in the console</a>"), "{html}");
    }
}
