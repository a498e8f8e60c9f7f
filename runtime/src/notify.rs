//! Admin notifications: stored, logged, and POSTed as JSON to a webhook when
//! one is configured. Delivery happens off the sync path: a notification is
//! queued and its sync goes on at once, while the queue delivers it in the
//! background, a few at a time, and retries a webhook that fails or never
//! answers over most of an hour. A sync never waits for the webhook, and a
//! delivery that fails for good is logged (the notification stays stored).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use crate::store::{Store, Time, off_workers};

pub struct Notifier {
    webhook: Option<Arc<Webhook>>,
}

/// Where notifications are delivered, and the deliveries under way.
struct Webhook {
    url: url::Url,
    http: reqwest::Client,
    /// How long to wait before each retry; one attempt more than there are delays.
    retries: Vec<Duration>,
    /// Deliveries at once: a webhook that never answers holds these, and nothing else.
    sending: Semaphore,
    /// Notifications queued and not yet delivered or given up.
    pending: AtomicUsize,
    settled: Notify,
}

/// Deliveries at once.
const SENDING: usize = 4;
/// Notifications waiting at most: beyond, a new one is stored but not sent (a webhook down for days).
const MAX_PENDING: usize = 10_000;
/// One attempt's bound: a webhook that never answers costs this per attempt.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The waits between attempts: 5 s, 30 s, 2 min, 10 min, 30 min.
pub fn default_retries() -> Vec<Duration> {
    [5, 30, 120, 600, 1800].map(Duration::from_secs).to_vec()
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
    /// The provider refused an authorization, or its code could not be exchanged: the connection still waits.
    AuthorizationFailed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Disabled => "connection_disabled",
            Kind::Held => "sync_held",
            Kind::Failing => "sync_failing",
            Kind::AuthorizationFailed => "authorization_failed",
        }
    }
}

impl Notifier {
    /// Notifications to `webhook`, when there is one, retried after each of `retries`.
    pub fn new(webhook: Option<url::Url>, retries: Vec<Duration>) -> Result<Notifier, String> {
        let Some(url) = webhook else { return Ok(Notifier { webhook: None }) };
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot start the webhook client: {e}"))?;
        let webhook = Webhook {
            url,
            http,
            retries,
            sending: Semaphore::new(SENDING),
            pending: AtomicUsize::new(0),
            settled: Notify::new(),
        };
        Ok(Notifier { webhook: Some(Arc::new(webhook)) })
    }

    /// Stores the notification, logs it, and queues it for the webhook.
    pub async fn notify(&self, store: &Arc<dyn Store>, connection: &str, kind: Kind, message: &str, now: Time) {
        let (name, text) = (connection.to_owned(), message.to_owned());
        let stored = off_workers(store, move |s| s.add_notification(Some(&name), kind.as_str(), &text, now)).await;
        if let Err(error) = stored {
            tracing::error!(%error, connection, "cannot store the notification");
        }
        tracing::warn!(connection, kind = kind.as_str(), "{message}");
        let Some(webhook) = &self.webhook else { return };
        if webhook.pending.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING {
            webhook.done();
            tracing::error!(connection, "the webhook has too many notifications waiting; this one is only stored");
            return;
        }
        let body = json!({"kind": kind.as_str(), "connection": connection, "message": message, "at": now}).to_string();
        tokio::spawn(webhook.clone().deliver(body));
    }

    /// Notifications not yet delivered to the webhook (nor given up).
    pub fn pending(&self) -> usize {
        self.webhook.as_ref().map_or(0, |w| w.pending.load(Ordering::SeqCst))
    }

    /// Waits until every queued notification is delivered or given up, or
    /// `grace` has passed: a command that exits gives its notifications that
    /// long.
    pub async fn settle(&self, grace: Duration) {
        let Some(webhook) = &self.webhook else { return };
        let settled = async {
            loop {
                let notified = webhook.settled.notified();
                if webhook.pending.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(grace, settled).await.is_err() {
            let host = webhook.url.host_str().unwrap_or_default();
            tracing::error!(
                host,
                pending = self.pending(),
                "notifications were not delivered to the webhook before exiting; they are stored (`tib status`)"
            );
        }
    }
}

impl Webhook {
    /// Delivers one notification, retrying on failure; a few deliveries send at once.
    async fn deliver(self: Arc<Self>, body: String) {
        // The webhook URL may carry a token: log its host only.
        let host = self.url.host_str().unwrap_or_default().to_owned();
        for attempt in 0..=self.retries.len() {
            let failure = {
                // The semaphore is never closed.
                let _sending = self.sending.acquire().await.ok();
                let request = self
                    .http
                    .post(self.url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
                match request.send().await {
                    Ok(response) if response.status().is_success() => None,
                    Ok(response) => Some(format!("it answered {}", response.status().as_u16())),
                    Err(error) => Some(error.without_url().to_string()),
                }
            };
            let Some(failure) = failure else { break };
            match self.retries.get(attempt) {
                Some(wait) => {
                    tracing::warn!(host, attempt = attempt + 1, failure, retry_in = ?wait, "cannot deliver a notification to the webhook");
                    tokio::time::sleep(*wait).await;
                }
                None => tracing::error!(
                    host,
                    attempts = attempt + 1,
                    failure,
                    "gave up delivering a notification to the webhook; it is stored"
                ),
            }
        }
        self.done();
    }

    fn done(&self) {
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.settled.notify_waiters();
        }
    }
}
