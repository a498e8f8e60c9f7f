//! HTTP: one reqwest client (rustls, gzip, connection reuse, timeouts), and
//! sending a request with retries on 429 and 5xx that honour Retry-After.

use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};

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
        if status.is_redirection() {
            // The client's policy stopped here: another origin, or too many hops.
            let to = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("nowhere");
            let why = format!("a redirect to {to}, not followed: redirects are followed within the origin, 5 at most");
            return Err(SyncError::Status { status: status.as_u16(), url: shown_url(), body: creds.redact(&why) });
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

/// The API's error body as text: secrets redacted, then truncated (the other
/// way round, a secret across the cut would keep its first part).
fn error_body(body: &[u8], creds: &CredentialValues) -> String {
    let text = creds.redact(String::from_utf8_lossy(body).trim());
    match text.char_indices().nth(MAX_ERROR_BODY) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn error_bodies_are_redacted_before_they_are_cut() {
        let creds = CredentialValues::new(vec![(Secret::new("s3cret-token-value"), true)]);
        // The secret starts 5 characters before the cut.
        let body = format!("{} s3cret-token-value is not valid", "x".repeat(MAX_ERROR_BODY - 6));
        let shown = error_body(body.as_bytes(), &creds);
        assert!(!shown.contains("s3cre"), "no part of the secret is left: {shown}");
        assert_eq!(shown.chars().count(), MAX_ERROR_BODY + 1, "cut, with an ellipsis");
        assert!(shown.ends_with(" [reda…"), "{shown}");
        assert_eq!(error_body(b"  \xff not UTF-8 s3cret-token-value \n", &creds), "\u{FFFD} not UTF-8 [redacted]");
    }

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, value.parse().expect("a header value"));
            headers
        };
        assert_eq!(retry_after(&headers("120")), Some(Duration::from_secs(120)));
        let in_a_minute = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc2822();
        let wait = retry_after(&headers(&in_a_minute)).expect("a date");
        assert!((Duration::from_secs(58)..=Duration::from_secs(60)).contains(&wait), "{wait:?}");
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), Some(Duration::ZERO), "a past date");
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
