//! Admin notifications: stored, logged, and POSTed as JSON to a webhook when
//! one is configured. Delivery failures are logged; they never fail a sync.

use std::time::Duration;

use serde_json::json;

use std::sync::Arc;

use crate::store::{Store, Time, off_workers};

pub struct Notifier {
    webhook: Option<url::Url>,
    http: reqwest::Client,
}

/// What happened, for the admins and the webhook's consumers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The API refused the credentials or the configuration; the connection is disabled.
    Disabled,
    /// A complete sync would delete too many users; it waits for approval.
    Held,
    /// The connection's syncs have failed many times in a row.
    Failing,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Disabled => "connection_disabled",
            Kind::Held => "sync_held",
            Kind::Failing => "sync_failing",
        }
    }
}

impl Notifier {
    pub fn new(webhook: Option<url::Url>) -> Result<Notifier, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot start the webhook client: {e}"))?;
        Ok(Notifier { webhook, http })
    }

    /// Stores the notification, logs it and delivers it to the webhook.
    pub async fn notify(&self, store: &Arc<dyn Store>, connection: &str, kind: Kind, message: &str, now: Time) {
        let (name, text) = (connection.to_owned(), message.to_owned());
        let stored = off_workers(store, move |s| s.add_notification(Some(&name), kind.as_str(), &text, now)).await;
        if let Err(error) = stored {
            tracing::error!(%error, connection, "cannot store the notification");
        }
        tracing::warn!(connection, kind = kind.as_str(), "{message}");
        let Some(webhook) = &self.webhook else { return };
        let body = json!({"kind": kind.as_str(), "connection": connection, "message": message, "at": now});
        // The webhook URL may carry a token: log its host only.
        let host = webhook.host_str().unwrap_or_default().to_owned();
        let request = self
            .http
            .post(webhook.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        match request.send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                tracing::error!(host, status = response.status().as_u16(), "the webhook refused the notification")
            }
            Err(error) => {
                tracing::error!(host, error = %error.without_url(), "cannot deliver the notification to the webhook")
            }
        }
    }
}
