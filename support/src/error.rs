//! Why a sync failed, classified for the runtime's error policy. Every URL and
//! body in here has had the connection's secrets redacted.

use std::fmt;
use std::time::Duration;

use crate::page::{ApiErrorKind, PageError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncError {
    /// The spec and credentials do not make a usable request (e.g. a base URL
    /// that is invalid once the credentials are put in).
    Config(String),
    /// The API answered with an error status (after retries, for 429 and 5xx).
    Status { status: u16, url: String, body: String },
    /// No answer: refused, reset, timed out.
    Transport { url: String, message: String },
    /// 429 with a Retry-After beyond the bound this sync waits.
    RateLimited { url: String, retry_after: Duration },
    /// An answer larger than the bound the sync reads (after decompression).
    TooLarge { url: String, limit: u64 },
    /// The whole sync took longer than its deadline.
    Deadline { after: Duration },
    /// A page that could not be read.
    Page { page: u32, url: String, error: PageError },
    /// A next URL on another origin: credentials are never sent there.
    ForeignOrigin { url: String, expected: String },
    /// A next token, URL or offset seen before: the API would loop.
    Repeated { page: u32, what: &'static str },
    /// More pages than the sync may fetch.
    PageCap { max_pages: u32 },
    /// The API lists at most this many users through the spec's paging (`max_users`), and
    /// more remain: the sync stops rather than ask past it or store a part.
    Capped { max_users: u64 },
    /// The pages disagree with the total they give: the sync stops rather
    /// than mark the users it never saw deleted.
    Total { page: u32, detail: String },
    /// The stop conditions say more pages remain, but the page gives no way to them.
    NoNextPage { page: u32 },
    /// OAuth could not give a token. Permanent when the provider refused the
    /// client, the grant or the refresh token (the connection must be
    /// authorized or configured again); otherwise retried at the next sync.
    Auth { message: String, permanent: bool },
}

impl SyncError {
    /// HTTP 400, 401, 403 or 404, or an API error the spec classes as
    /// `refused`: the credentials or the configuration are wrong, and retrying
    /// will not help (the runtime disables the connection).
    pub fn is_auth_or_config_failure(&self) -> bool {
        matches!(
            self,
            SyncError::Status { status: 400..=404, .. }
                | SyncError::Auth { permanent: true, .. }
                | SyncError::Page { error: PageError::Api { kind: ApiErrorKind::Refused, .. }, .. }
        )
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::Config(message) => write!(f, "cannot build the request: {message}"),
            SyncError::Status { status, url, body } => {
                write!(f, "{url} answered HTTP {status}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            SyncError::Transport { url, message } => write!(f, "no answer from {url}: {message}"),
            SyncError::RateLimited { url, retry_after } => {
                write!(f, "{url} is rate limited and asks to wait {}s, longer than a sync waits", retry_after.as_secs())
            }
            SyncError::TooLarge { url, limit } => write!(
                f,
                "{url} answered more than {limit} bytes, the most a sync reads of one answer (--max-answer-bytes); \
                 the sync stops rather than hold it"
            ),
            SyncError::Deadline { after } => write!(
                f,
                "the sync did not end within its deadline of {}s (--sync-deadline); it stopped there, and the \
                 stored users are unchanged",
                after.as_secs()
            ),
            SyncError::Page { page, url, error } => write!(f, "page {page} ({url}): {error}"),
            SyncError::ForeignOrigin { url, expected } => write!(
                f,
                "the next page is on another origin ({url}, expected {expected}); credentials are not sent there"
            ),
            SyncError::Repeated { page, what } => {
                write!(f, "page {page} repeats a {what} seen before; stopping instead of looping")
            }
            SyncError::PageCap { max_pages } => {
                write!(f, "more than {max_pages} pages; the sync stops at the page cap")
            }
            SyncError::Capped { max_users } => write!(
                f,
                "the API lists at most {max_users} users through this paging (`max_users` in the spec), and this \
                 account has more: the sync stops rather than store a part of them. Page it another way: with \
                 the API's cursor or next link if it has one, or one listing per filter (`listings`)"
            ),
            SyncError::Total { page, detail } => {
                write!(f, "page {page}: {detail}; the sync stops rather than mark the users it did not see deleted")
            }
            SyncError::NoNextPage { page } => {
                write!(f, "page {page} says more users remain but gives no next page")
            }
            SyncError::Auth { message, .. } => write!(f, "OAuth 2.0: {message}"),
        }
    }
}

impl std::error::Error for SyncError {}
