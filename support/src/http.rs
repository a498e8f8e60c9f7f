//! HTTP: one reqwest client (rustls, gzip, connection reuse, timeouts), and
//! sending a request with retries on 429 and 5xx that honour Retry-After.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::error::SyncError;
use crate::secret::CredentialValues;

/// How often and how long a request is retried within a sync.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first wait; it doubles after each retry.
    pub base_delay: Duration,
    /// The longest wait; a Retry-After beyond it fails the sync instead.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 4, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(60) }
    }
}

/// The HTTP client every sync of a process shares.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
}

/// Longest API error body kept in an error.
const MAX_ERROR_BODY: usize = 512;

impl Client {
    /// A client with a per-request timeout. Redirects are followed only within
    /// one origin, so credentials never travel to another host.
    pub fn new(timeout: Duration) -> Result<Client, SyncError> {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt.previous().first().is_some_and(|first| first.origin() == attempt.url().origin());
            if same_origin && attempt.previous().len() < 5 { attempt.follow() } else { attempt.stop() }
        });
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .gzip(true)
            .redirect(policy)
            .user_agent(concat!("tib/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Config(format!("cannot start the HTTP client: {e}")))?;
        Ok(Client { http })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// A successful answer.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// Sends `request`, retrying 429 and 5xx answers with backoff.
pub(crate) async fn send(
    client: &Client,
    request: reqwest::Request,
    retry: &RetryPolicy,
    creds: &CredentialValues,
) -> Result<Answer, SyncError> {
    // Redacted only when an error shows it: most requests succeed.
    let shown_url = || creds.redact(request.url().as_str());
    let mut attempt = 0;
    loop {
        let this_try = request.try_clone().ok_or_else(|| SyncError::Config("the request cannot be repeated".into()))?;
        let response = client.http.execute(this_try).await;
        let response = match response {
            Ok(response) => response,
            Err(e) => {
                return Err(SyncError::Transport { url: shown_url(), message: creds.redact(&describe(e)) });
            }
        };
        let status = response.status();
        if status.is_success() {
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|e| SyncError::Transport { url: shown_url(), message: creds.redact(&describe(e)) })?;
            return Ok(Answer { status: status.as_u16(), headers, body });
        }
        let retryable = status.as_u16() == 429 || status.is_server_error();
        if retryable && attempt < retry.max_retries {
            let backoff = retry.base_delay.saturating_mul(2u32.saturating_pow(attempt)).min(retry.max_delay);
            let wait = match retry_after(response.headers()) {
                Some(asked) if asked > retry.max_delay => {
                    return Err(SyncError::RateLimited { url: shown_url(), retry_after: asked });
                }
                Some(asked) => asked,
                None => backoff,
            };
            attempt += 1;
            tokio::time::sleep(wait).await;
            continue;
        }
        let body = response.bytes().await.unwrap_or_default();
        return Err(SyncError::Status { status: status.as_u16(), url: shown_url(), body: error_body(&body, creds) });
    }
}

/// What went wrong, with its causes, without the URL (which can hold a key).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Retry-After in seconds or as an HTTP date (RFC 9110 section 10.2.3).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The API's error body as text: truncated, secrets redacted.
fn error_body(body: &[u8], creds: &CredentialValues) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let cut = match text.char_indices().nth(MAX_ERROR_BODY) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    };
    creds.redact(&cut)
}
