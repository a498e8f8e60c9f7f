//! Test and preview for spec authors: a spec tried against the live API
//! without a cargo build, through the same support crate the generated
//! connectors use.
//!
//! `test` ([`probe`]) shows the first page's request and answer; `preview`
//! ([`listing`]) follows the pages and shows the users as they would be stored.

pub mod connect;
mod hint;
mod listing;
mod loopback;
mod probe;
pub mod report;

use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tib_support::oauth::{ClientCredentials, OAuthClient, Refreshing, StaticToken, TokenProvider, TokenSet};
use tib_support::{Client, ClientSettings, Connection, RetryPolicy, SyncError};

use connect::{Given, Prepared};
use tib_front::ir;
use tib_interpret::Interpreted;

/// A spec and what it connects with, for one command.
pub struct Session {
    /// Shared with the sync, which reads concurrent pages on worker threads.
    interpreted: Arc<Interpreted>,
    prepared: Prepared,
    client: Client,
    retry: RetryPolicy,
    /// OAuth: where the bearer token comes from.
    tokens: Option<Arc<dyn TokenProvider>>,
    /// Authorization code: the tokens of this session, in memory only.
    held: Option<Arc<Mutex<TokenSet>>>,
}

/// What a command prints, and whether it worked.
pub struct Outcome {
    pub text: String,
    pub ok: bool,
}

impl Session {
    /// Fails with a message when the credentials do not fit the spec.
    pub fn new(spec: ir::Spec, given: Given, env: impl Fn(&str) -> Option<String>) -> Result<Session, String> {
        let interpreted = Arc::new(Interpreted::new(spec).count_presence());
        let prepared = connect::prepare(
            interpreted.ir(),
            tib_support::Connector::spec(interpreted.as_ref()).credentials,
            given,
            env,
        )?;
        let settings = ClientSettings { network: prepared.network.clone(), ..ClientSettings::default() };
        let client = Client::new(settings).map_err(|e| e.to_string())?;
        // An author waits at the terminal: retry less and sooner than a scheduled sync.
        let retry =
            RetryPolicy { max_retries: 2, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(10) };
        let mut session = Session { interpreted, prepared, client, retry, tokens: None, held: None };
        session.tokens = match (&session.prepared.access_token, &session.interpreted.ir().auth) {
            (Some(token), _) => Some(Arc::new(StaticToken(token.clone()))),
            (None, ir::Auth::OAuthClientCredentials(_)) => Some(Arc::new(ClientCredentials::new(session.oauth()?))),
            _ => None,
        };
        Ok(session)
    }

    fn oauth(&self) -> Result<OAuthClient, String> {
        let spec = tib_support::Connector::spec(self.interpreted.as_ref());
        OAuthClient::new(spec, &self.prepared.credentials, &self.prepared.endpoints, &self.client)
            .map_err(|e| e.to_string())
    }

    fn connection(&self) -> Connection<'_> {
        Connection {
            credentials: &self.prepared.credentials,
            tokens: self.tokens.as_deref(),
            base_url: self.prepared.base_url.as_ref(),
        }
    }

    /// An authorization-code spec with no token yet: `session` authorizes it.
    fn unauthorized(&self) -> Option<Outcome> {
        let code = matches!(self.interpreted.ir().auth, ir::Auth::OAuthAuthorizationCode(_));
        (code && self.tokens.is_none()).then(|| Outcome {
            text: "this spec uses the OAuth authorization code grant: authorize first (`authorize` in \
                   `compiler session`), or give --access-token\n"
                .to_owned(),
            ok: false,
        })
    }

    /// `compiler test`.
    pub async fn test(&self) -> Outcome {
        match self.unauthorized() {
            Some(outcome) => outcome,
            None => probe::run(self).await,
        }
    }

    /// `compiler preview`: at most `max_pages` pages, as a table or JSON.
    /// The users are handed to `out` page by page as they arrive; the
    /// outcome's text is what follows them.
    pub async fn preview(&self, max_pages: u32, json: bool, out: &mut (dyn FnMut(&str) + Send)) -> Outcome {
        match self.unauthorized() {
            Some(outcome) => outcome,
            None => listing::run(self, max_pages, json, out).await,
        }
    }

    /// Authorizes the spec's test client in the browser through the loopback
    /// redirect on `port`; `show` gets the link. The tokens stay in memory.
    pub async fn authorize(&mut self, port: u16, show: impl FnOnce(&url::Url)) -> Result<(), String> {
        let client = self.oauth()?;
        let tokens = loopback::authorize(&client, port, show).await?;
        let held = Arc::new(Mutex::new(tokens.clone()));
        let kept = held.clone();
        // A refreshed set replaces the one in memory; it is written nowhere.
        let persist = Box::new(move |set: &TokenSet| {
            *kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = set.clone();
            Ok(())
        });
        self.tokens = Some(Arc::new(Refreshing::new(client, tokens, persist)));
        self.held = Some(held);
        Ok(())
    }

    /// Forgets the session's tokens.
    pub fn clear(&mut self) {
        self.held = None;
        if matches!(self.interpreted.ir().auth, ir::Auth::OAuthAuthorizationCode(_)) {
            self.tokens = None;
        }
    }

    /// What the session holds, for the author: the token's remaining lifetime.
    pub fn token_status(&self, now: i64) -> String {
        let Some(held) = &self.held else {
            return match (&self.tokens, &self.interpreted.ir().auth) {
                (_, ir::Auth::OAuthClientCredentials(_)) if self.prepared.access_token.is_none() => {
                    "client credentials: a token is fetched when needed and kept until shortly before it expires"
                        .to_owned()
                }
                (Some(_), _) => "a token given with --access-token".to_owned(),
                (None, _) => "no token: `authorize` to get one".to_owned(),
            };
        };
        let tokens = held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let refresh = if tokens.refresh_token.is_some() { "with a refresh token" } else { "without a refresh token" };
        match tokens.expires_at {
            Some(at) if at > now => format!("an access token, valid for about {}s more, {refresh}", at - now),
            Some(_) => format!("an expired access token, {refresh}"),
            None => format!("an access token with no stated expiry, {refresh}"),
        }
    }
}

/// A failed request: what happened, the API's own message, and what to check.
fn failure(out: &mut String, error: &SyncError, spec: &ir::Spec) {
    let _ = writeln!(out, "error: {error}");
    if let SyncError::Status { body, .. } = error
        && let Some(message) = hint::api_message(body)
    {
        let _ = writeln!(out, "the API says: {message}");
    }
    let _ = writeln!(out, "hint: {}", hint::hint(error, spec));
}
