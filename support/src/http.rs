//! HTTP: one reqwest client (rustls, gzip, connection reuse, timeouts, only
//! the addresses the network policy permits), and sending a request with
//! retries on 429 and 5xx that honour Retry-After, its answer read within a
//! size bound.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};

use crate::error::SyncError;
use crate::headers::retry_after;
use crate::network::{self, NetworkPolicy};
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

impl RetryPolicy {
    /// The wait before retry number `attempt` (0 for the first).
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.base_delay.saturating_mul(2u32.saturating_pow(attempt)).min(self.max_delay)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 4, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(60) }
    }
}

/// How the client behaves: what an operator sets.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Each request's bound, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// The most bytes one sync holds of the answers it reads at once (after
    /// decompression): a single page, or all the pages in flight together.
    /// Token endpoint answers are read within it too.
    pub max_answer_bytes: u64,
    /// Where requests may go.
    pub network: NetworkPolicy,
    /// Certificates of authorities trusted besides the public ones, PEM: an on-premise API signed
    /// by a company's own authority.
    pub trusted: Vec<Vec<u8>>,
}

/// 32 MiB: a page of thousands of users, far below what would hurt the other syncs of a process.
pub const DEFAULT_MAX_ANSWER_BYTES: u64 = 32 << 20;

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            timeout: Duration::from_secs(30),
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            network: NetworkPolicy::default(),
            trusted: Vec::new(),
        }
    }
}

/// The HTTP client every sync of a process shares.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// For OAuth token endpoints: it follows no redirects (RFC 9700 section 4.11).
    token_http: reqwest::Client,
    max_answer_bytes: u64,
    network: NetworkPolicy,
    /// What it was made with, to make one like it that presents a client certificate.
    settings: ClientSettings,
    resolver: Arc<dyn reqwest::dns::Resolve>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Longest API error body kept in an error.
const MAX_ERROR_BODY: usize = 512;
/// Most of an error answer read: enough for its message, never the whole of a hostile one.
const MAX_ERROR_READ: u64 = 64 << 10;

impl Client {
    /// A client that resolves names with the system's resolver.
    pub fn new(settings: ClientSettings) -> Result<Client, SyncError> {
        Client::with_resolver(settings, Arc::new(network::System))
    }

    /// A client that resolves names with `resolver` (a test's), the policy
    /// still judging every address it gives.
    pub fn with_resolver(
        settings: ClientSettings,
        resolver: Arc<dyn reqwest::dns::Resolve>,
    ) -> Result<Client, SyncError> {
        Client::build(settings, resolver, None)
    }

    /// A client like this one that presents `identity` (a certificate chain and its private key,
    /// PEM) to servers that ask for one: an API that authenticates its clients by certificate (mTLS).
    pub fn with_identity(&self, identity: &[u8]) -> Result<Client, SyncError> {
        let identity = reqwest::Identity::from_pem(identity).map_err(|_| {
            SyncError::Config(
                "the client certificate is not a PEM certificate with its private key (PKCS #8, RSA or EC)".to_owned(),
            )
        })?;
        Client::build(self.settings.clone(), self.resolver.clone(), Some(identity))
    }

    fn build(
        settings: ClientSettings,
        resolver: Arc<dyn reqwest::dns::Resolve>,
        identity: Option<reqwest::Identity>,
    ) -> Result<Client, SyncError> {
        let guarded = Arc::new(network::Guarded { policy: settings.network.clone(), inner: resolver.clone() });
        let mut roots = Vec::new();
        for pem in &settings.trusted {
            roots.push(
                reqwest::Certificate::from_pem(pem)
                    .map_err(|e| SyncError::Config(format!("a trusted authority's certificate is not PEM: {e}")))?,
            );
        }
        let same_origin = reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt.previous().first().is_some_and(|first| first.origin() == attempt.url().origin());
            if same_origin && attempt.previous().len() < 5 { attempt.follow() } else { attempt.stop() }
        });
        let build = |redirects: reqwest::redirect::Policy| {
            let mut builder = reqwest::Client::builder()
                .timeout(settings.timeout)
                .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
                .gzip(true)
                .redirect(redirects)
                .dns_resolver(guarded.clone())
                .user_agent(concat!("tib/", env!("CARGO_PKG_VERSION")));
            for root in &roots {
                builder = builder.add_root_certificate(root.clone());
            }
            if let Some(identity) = &identity {
                builder = builder.identity(identity.clone());
            }
            builder.build().map_err(|e| SyncError::Config(format!("cannot start the HTTP client: {e}")))
        };
        Ok(Client {
            http: build(same_origin)?,
            token_http: build(reqwest::redirect::Policy::none())?,
            max_answer_bytes: settings.max_answer_bytes,
            network: settings.network.clone(),
            settings,
            resolver,
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn token_http(&self) -> &reqwest::Client {
        &self.token_http
    }

    pub(crate) fn max_answer_bytes(&self) -> u64 {
        self.max_answer_bytes
    }

    /// Whether a request may go to `url`'s host when it is an address
    /// written out (names are checked as they resolve).
    pub(crate) fn check_address(&self, url: &url::Url) -> Result<(), network::Refused> {
        self.network.check_url(url)
    }
}

/// A successful answer.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// Sends `request`, retrying 429 and 5xx answers with backoff; a successful
/// answer's body is read up to `max_bytes`, an error's up to what its message needs.
pub(crate) async fn send(
    client: &Client,
    request: reqwest::Request,
    retry: &RetryPolicy,
    creds: &CredentialValues,
    max_bytes: u64,
) -> Result<Answer, SyncError> {
    // Redacted only when an error shows it: most requests succeed.
    let shown_url = || creds.redact(request.url().as_str());
    if let Err(refused) = client.check_address(request.url()) {
        return Err(SyncError::Transport { url: shown_url(), message: refused.to_string() });
    }
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
            let body = match read_body(response, max_bytes).await {
                Ok(body) => body,
                Err(Unread::TooLarge) => return Err(SyncError::TooLarge { url: shown_url(), limit: max_bytes }),
                Err(Unread::Failed(e)) => {
                    return Err(SyncError::Transport { url: shown_url(), message: creds.redact(&describe(e)) });
                }
            };
            return Ok(Answer { status: status.as_u16(), headers, body });
        }
        let retryable = status.as_u16() == 429 || status.is_server_error();
        if retryable && attempt < retry.max_retries {
            let backoff = retry.backoff(attempt);
            let asked = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
            let wait = match asked {
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
        let body = match read_body(response, MAX_ERROR_READ).await {
            Ok(body) => error_body(&body, creds),
            Err(Unread::TooLarge) => format!("(an error body of more than {MAX_ERROR_READ} bytes, not shown)"),
            Err(Unread::Failed(_)) => String::new(),
        };
        return Err(SyncError::Status { status: status.as_u16(), url: shown_url(), body });
    }
}

/// Why an answer's body was not read whole.
pub(crate) enum Unread {
    /// More than the bound: reading stopped there.
    TooLarge,
    Failed(reqwest::Error),
}

/// Reads an answer's body, decompressed, stopping as soon as it passes
/// `max_bytes`: a body that never ends, or a small gzip that inflates to
/// gigabytes, costs no more than the bound.
pub(crate) async fn read_body(mut response: reqwest::Response, max_bytes: u64) -> Result<bytes::Bytes, Unread> {
    if response.content_length().is_some_and(|length| length > max_bytes) {
        return Err(Unread::TooLarge);
    }
    // Most answers arrive as one chunk: it is kept as it is, without a copy.
    let mut first: Option<bytes::Bytes> = None;
    let mut more = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(Unread::Failed)? {
        // Once a second chunk came, `more` holds the first one too.
        let held = if more.is_empty() { first.as_ref().map_or(0, bytes::Bytes::len) } else { more.len() };
        if (held + chunk.len()) as u64 > max_bytes {
            return Err(Unread::TooLarge);
        }
        match &first {
            None => first = Some(chunk),
            Some(kept) => {
                if more.is_empty() {
                    more.extend_from_slice(kept);
                }
                more.extend_from_slice(&chunk);
            }
        }
    }
    Ok(if more.is_empty() { first.unwrap_or_default() } else { more.freeze() })
}

/// What went wrong, with its causes, without the URL (which can hold a key).
pub(crate) fn describe(error: reqwest::Error) -> String {
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
}
