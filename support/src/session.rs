//! `auth session`: a sign-in request whose answer holds the token later requests carry (Tableau's
//! `auth/signin` answers `credentials.token` and the site's id). A sync signs in before its first
//! page, and again when the API answers 401 (the session expired); nothing of it outlives the sync.

use std::sync::Mutex;

use futures_util::future::BoxFuture;
use serde_json::Value;
use url::Url;

use crate::error::SyncError;
use crate::http::{self, Client, RetryPolicy};
use crate::oauth::TokenProvider;
use crate::secret::{CredentialValues, Secret};
use crate::spec::Session;

/// One sync's session: how to sign in, and what the last sign-in gave.
pub(crate) struct SignIn<'s> {
    client: &'s Client,
    session: &'static Session,
    credentials: &'s CredentialValues,
    url: Url,
    retry: RetryPolicy,
    signed_in: tokio::sync::Mutex<Option<Secret>>,
    values: Mutex<Vec<(&'static str, String)>>,
}

impl<'s> SignIn<'s> {
    /// `base` is the API's base URL, which the sign-in path follows.
    pub fn new(
        client: &'s Client,
        session: &'static Session,
        credentials: &'s CredentialValues,
        base: &Url,
        retry: RetryPolicy,
    ) -> Self {
        let mut url = base.clone();
        url.set_path(&format!("{}{}", base.path().trim_end_matches('/'), session.path));
        url.set_query(None);
        SignIn {
            client,
            session,
            credentials,
            url,
            retry,
            signed_in: tokio::sync::Mutex::new(None),
            values: Mutex::new(Vec::new()),
        }
    }

    /// Signs in: the token, with the values kept.
    async fn sign_in(&self) -> Result<Secret, SyncError> {
        let body = crate::request::json(&self.session.body, self.credentials);
        let body = serde_json::to_vec(&body).map_err(|e| SyncError::Config(format!("the sign-in body: {e}")))?;
        let request = self
            .client
            .http()
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .build()
            .map_err(|e| SyncError::Config(format!("cannot build the sign-in request: {}", e.without_url())))?;
        let answer =
            http::send(self.client, request, &self.retry, self.credentials, self.client.max_answer_bytes()).await?;
        let refused = |message: String| SyncError::Auth { message, permanent: true };
        let answer: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| refused(format!("the sign-in answer is not JSON: {e}")))?;
        let token = text_at(&answer, self.session.token).ok_or_else(|| {
            refused(format!("the sign-in answer holds no token at `{}`", self.session.token.join(".")))
        })?;
        let mut values = Vec::with_capacity(self.session.values.len());
        for (name, keys) in self.session.values {
            let value = text_at(&answer, keys)
                .ok_or_else(|| refused(format!("the sign-in answer holds no `{name}` at `{}`", keys.join("."))))?;
            values.push((*name, value));
        }
        if let Ok(mut kept) = self.values.lock() {
            *kept = values;
        }
        Ok(Secret::new(token))
    }
}

/// The text (or number) at `keys` in `answer`.
fn text_at(answer: &Value, keys: &[&str]) -> Option<String> {
    let value = keys.iter().try_fold(answer, |at, key| at.get(key))?;
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

impl TokenProvider for SignIn<'_> {
    fn values(&self) -> Vec<(&'static str, String)> {
        self.values.lock().map(|values| values.clone()).unwrap_or_default()
    }

    fn token(&self) -> BoxFuture<'_, Result<Secret, SyncError>> {
        Box::pin(async {
            let mut signed_in = self.signed_in.lock().await;
            if let Some(token) = signed_in.as_ref() {
                return Ok(token.clone());
            }
            let token = self.sign_in().await?;
            *signed_in = Some(token.clone());
            Ok(token)
        })
    }

    /// Signs in again, once for every request the expired session refused: the first of them signs
    /// in, the others take its token.
    fn renew<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Option<Secret>, SyncError>> {
        Box::pin(async move {
            let mut signed_in = self.signed_in.lock().await;
            if let Some(current) = signed_in.as_ref()
                && current.expose() != rejected.expose()
            {
                return Ok(Some(current.clone()));
            }
            let token = self.sign_in().await?;
            *signed_in = Some(token.clone());
            Ok(Some(token))
        })
    }
}
