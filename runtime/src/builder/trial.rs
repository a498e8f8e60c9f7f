//! A draft tried against the live API: the test of its first request (what
//! was sent, what came back, where the users are), and the preview of the
//! users its mapping makes of that answer, with what deserves a look.
//!
//! The request side is what the runtime's syncs use (the support crate's
//! probe, through the server's HTTP client and network policy); the mapping
//! is the interpreter's. What the test brought is kept with the draft, in
//! memory: the credentials as typed (never shown again), an OAuth token, and
//! the answer with every secret redacted, from which the field picker and
//! the preview are made.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tib_front::catalog::Catalog;
use tib_front::diag::Diagnostic;
use tib_front::ir;
use tib_interpret::Interpreted;
use tib_support::oauth::{
    Authorization, ClientCredentials, Endpoints, OAuthClient, StaticToken, TokenProvider, TokenSet,
};
use tib_support::record::UserRow;
use tib_support::{Connection, Connector, CredentialValues, RetryPolicy, Secret};

use super::text::{self, Part};
use crate::operate::Error;

/// Lines of the answer's body shown.
const BODY_LINES: usize = 60;
/// Sample users shown in the preview.
const PREVIEW_USERS: usize = 50;
/// Sample users whose lookups a test asks: a person waits for them.
const LOOKED_UP: usize = 100;

/// What a draft's test holds, in memory only.
#[derive(Default)]
pub struct Trial {
    /// The test credentials, by name, as typed.
    credentials: BTreeMap<String, Secret>,
    /// Authorization code: an authorization under way, and the tokens it gave.
    pub pending: Option<Authorization>,
    pub tokens: Option<TokenSet>,
    /// The last test's report.
    pub report: Option<Report>,
}

impl Trial {
    /// Keeps what was typed; a field left empty keeps the value typed before.
    pub fn remember(&mut self, typed: impl IntoIterator<Item = (String, String)>) {
        for (name, value) in typed {
            if !value.is_empty() {
                self.credentials.insert(name, Secret::new(value));
            }
        }
    }

    /// The names of the credentials typed so far.
    pub fn typed(&self) -> impl Iterator<Item = &str> {
        self.credentials.keys().map(String::as_str)
    }

    /// What a test sends with, to use while the draft is not held: the credentials and the token.
    pub fn snapshot(&self) -> Trial {
        Trial { credentials: self.credentials.clone(), tokens: self.tokens.clone(), ..Trial::default() }
    }

    /// Forgets the credentials, the tokens and the answer.
    pub fn clear(&mut self) {
        *self = Trial::default();
    }
}

/// A test's request and the answer to it, secrets redacted.
#[derive(Clone, Debug)]
pub struct Report {
    pub method: &'static str,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub answer: Result<Answer, String>,
}

#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub elapsed: Duration,
    pub headers: Vec<(String, String)>,
    /// The whole body, as text, secrets redacted: the sample the picker and the preview read.
    pub body: String,
    /// The body pretty-printed and cut, for showing.
    pub shown: String,
    pub size: String,
    /// The lookups of the sample's first users, as the draft asks them, secrets redacted.
    pub joined: tib_support::Joined,
    /// Why the lookups could not be asked, when they could not.
    pub lookups_failed: Option<String>,
}

/// Where the users are in the answer.
#[derive(Clone, Debug)]
pub enum Found {
    /// At the spec's path: how many.
    At { path: String, count: usize },
    /// Not at the spec's path (or the spec has none yet): the arrays of objects the body holds, longest first.
    Elsewhere { why: String, arrays: Vec<(String, usize)> },
}

/// The draft's request side with stand-ins for what the test does not need:
/// the mapping and rules sections are left out, and `users at .` stands in
/// for a missing users path, so a test runs before the fields are mapped.
fn request_side(draft: &str) -> Result<String, Error> {
    let mut text = draft.to_owned();
    for part in [Part::Fields, Part::Active, Part::Status, Part::Licenses, Part::CustomFields] {
        text = text::replace(&text, part, None).map_err(|e| Error::invalid(e.to_string()))?;
    }
    text = text::replace(&text, Part::Fields, Some("fields {\n  id = id\n  email = email\n}"))
        .map_err(|e| Error::invalid(e.to_string()))?;
    if !text::parse(&text).is_ok_and(|p| p.section(Part::Users).is_some()) {
        text = text::replace(&text, Part::Users, Some("users at .")).map_err(|e| Error::invalid(e.to_string()))?;
    }
    Ok(text)
}

/// The request side checked: its connector, or the errors that stop a test.
pub fn connector(draft: &str, catalog: &Catalog) -> Result<Result<Interpreted, Vec<Diagnostic>>, Error> {
    let text = request_side(draft)?;
    let compiled = tib_front::compile("draft.tib", &text, catalog);
    Ok(match compiled.spec {
        Some(spec) => Ok(Interpreted::new(spec)),
        None => Err(compiled.diagnostics.into_iter().filter(Diagnostic::is_error).collect()),
    })
}

/// The request side checked, for an action that needs it to work: its errors
/// are shown on the test's page ([`connector`]).
pub fn ready(draft: &str, catalog: &Catalog) -> Result<Interpreted, Error> {
    connector(draft, catalog)?
        .map_err(|_| Error::invalid("the spec's request side has errors: the test's page shows them"))
}

/// The credentials a test asks for: the spec's, in its order, with whether each is secret.
pub fn asked(connector: &Interpreted) -> Vec<(&'static str, bool, &'static str)> {
    connector.spec().credentials.iter().map(|c| (c.name, c.secret, c.description)).collect()
}

/// What a test sends with: the values typed, in the spec's order.
fn values(connector: &Interpreted, trial: &Trial) -> Result<CredentialValues, Error> {
    let declared = connector.spec().credentials;
    let missing: Vec<&str> =
        declared.iter().filter(|c| !trial.credentials.contains_key(c.name)).map(|c| c.name).collect();
    let oauth_code = matches!(connector.ir().auth, ir::Auth::OAuthAuthorizationCode(_));
    // With a token from the authorization, the client's own credentials are not sent.
    let authorized = oauth_code && trial.tokens.is_some();
    if !missing.is_empty() && !authorized {
        return Err(Error::invalid(format!("type a test value for: {}", missing.join(", "))));
    }
    Ok(CredentialValues::new(
        declared
            .iter()
            .map(|c| (trial.credentials.get(c.name).cloned().unwrap_or_else(|| Secret::new("")), c.secret))
            .collect(),
    ))
}

/// The OAuth client of a test: its credentials as typed.
pub fn oauth_client(connector: &Interpreted, trial: &Trial, http: &tib_support::Client) -> Result<OAuthClient, Error> {
    let values = values(connector, trial)?;
    OAuthClient::new(connector.spec(), &values, &Endpoints::default(), http).map_err(|e| Error::invalid(e.to_string()))
}

/// Sends the draft's first request with the test's credentials and reads the answer.
pub async fn test(connector: Arc<Interpreted>, trial: &Trial, http: &tib_support::Client) -> Result<Report, Error> {
    let values = values(&connector, trial)?;
    let tokens: Option<Arc<dyn TokenProvider>> = match (&connector.ir().auth, &trial.tokens) {
        (ir::Auth::OAuthAuthorizationCode(_), Some(tokens)) => {
            Some(Arc::new(StaticToken(Secret::new(tokens.access_token.clone()))))
        }
        (ir::Auth::OAuthAuthorizationCode(_), None) => {
            return Err(Error::invalid("authorize first: this API's OAuth needs a person to grant access"));
        }
        (ir::Auth::OAuthClientCredentials(_), _) => Some(Arc::new(ClientCredentials::new(
            OAuthClient::new(connector.spec(), &values, &Endpoints::default(), http)
                .map_err(|e| Error::invalid(e.to_string()))?,
        ))),
        _ => None,
    };
    let connection = Connection { credentials: &values, tokens: tokens.as_deref(), base_url: None };
    // A person waits for the answer: retry less and sooner than a scheduled sync.
    let retry =
        RetryPolicy { max_retries: 1, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(5) };
    let probe = tib_support::probe(http, connector.as_ref(), &connection, &retry)
        .await
        .map_err(|e| Error::invalid(values.redact(&format!("the request could not be made: {e}"))))?;
    let secrets = &probe.secrets;
    let answer = match probe.answer {
        Err(error) => Err(secrets.redact(&error.to_string())),
        Ok(answer) => {
            let body = secrets.redact(&String::from_utf8_lossy(&answer.body));
            let asked =
                tib_support::lookups(http, connector.clone(), &connection, &answer.body, &retry, LOOKED_UP).await;
            let (joined, lookups_failed) = match asked {
                Ok(joined) => (redacted(&joined, secrets), None),
                Err(error) => (tib_support::Joined::default(), Some(secrets.redact(&error.to_string()))),
            };
            Ok(Answer {
                joined,
                lookups_failed,
                status: answer.status,
                elapsed: answer.elapsed,
                headers: answer.headers.iter().map(|(n, v)| (n.clone(), secrets.redact(v))).collect(),
                shown: compiler::preview::report::sample(body.as_bytes(), BODY_LINES),
                size: compiler::preview::report::size(answer.body.len()),
                body,
            })
        }
    };
    Ok(Report { method: probe.method, url: probe.url, request_headers: probe.headers, answer })
}

/// The lookups' answers with every secret taken out, as the answer's body is.
fn redacted(joined: &tib_support::Joined, secrets: &CredentialValues) -> tib_support::Joined {
    let mut out = tib_support::Joined::new(joined.items(), joined.lookups());
    for item in 0..joined.items() {
        for lookup in 0..joined.lookups() {
            if let Some(answer) = joined.answer(item, lookup) {
                out.set(item, lookup, secrets.redact(&String::from_utf8_lossy(answer)).into_bytes().into());
            }
        }
    }
    out
}

/// Where the users are in a test's answer, by the draft's users path as it is now.
pub fn found(connector: &Interpreted, body: &str) -> Found {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return Found::Elsewhere { why: "the answer is not JSON".to_owned(), arrays: Vec::new() };
    };
    let path = connector.ir().users_path.to_string();
    match connector.users(&value) {
        Some(items) if items.iter().any(Value::is_object) || path != "." => Found::At { path, count: items.len() },
        _ => {
            let mut arrays: Vec<(String, usize)> = compiler::preview::report::arrays_of_objects(&value)
                .into_iter()
                .map(|(path, len)| (path.to_string(), len))
                .collect();
            arrays.sort_by_key(|(path, len)| (std::cmp::Reverse(*len), path.len()));
            let why = if path == "." {
                "no users path yet: pick the array that holds the users".to_owned()
            } else {
                format!("nothing is at `{path}`")
            };
            Found::Elsewhere { why, arrays }
        }
    }
}

/// The sample's users, as the draft's users path finds them.
pub fn sample_users(connector: &Interpreted, body: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| connector.users(&value).map(<[Value]>::to_vec))
        .unwrap_or_default()
}

/// The users a draft's mapping makes of the sample, and what deserves a look.
#[derive(Debug, Default)]
pub struct Preview {
    /// The first users, as they would be stored.
    pub users: Vec<UserRow>,
    pub total: usize,
    /// Users dropped: their id when they had one, and why.
    pub dropped: Vec<(Option<String>, String)>,
    /// Values left out of a kept user: id, field, why.
    pub left_out: Vec<(String, String, String)>,
    /// Mapped paths no sample user has.
    pub absent: Vec<String>,
    /// Users whose status label is "Active" while the active rules say inactive.
    pub active_but_inactive: Vec<String>,
    /// Each license the spec can give, with the ids of the sample users who hold it.
    pub licenses: Vec<(String, Vec<String>)>,
    /// Each status label given, with the ids of its users.
    pub labels: Vec<(String, Vec<String>)>,
    /// The ids of the users the active rules make active.
    pub active: Vec<String>,
}

/// Maps the sample answer with the draft's checked spec, its users joined to the answers their
/// lookups gave at the test.
pub fn preview(spec: ir::Spec, body: &str, joined: &tib_support::Joined) -> Result<Preview, String> {
    let names: Vec<String> = match &spec.licenses {
        ir::Licenses::Auto { name } => vec![name.clone()],
        ir::Licenses::None => Vec::new(),
        ir::Licenses::Conditions { licenses, catch_all } => {
            licenses.iter().map(|l| l.name.clone()).chain(catch_all.clone()).collect()
        }
    };
    let connector = Interpreted::new(spec).count_presence();
    let mut preview = Preview { licenses: names.into_iter().map(|n| (n, Vec::new())).collect(), ..Preview::default() };
    let read = connector.parse_joined(body.as_bytes(), joined, &mut |user| match user {
        Ok(user) => {
            preview.total += 1;
            let id = user.external_id.to_string();
            for issue in &user.issues {
                preview.left_out.push((id.clone(), issue.field.to_owned(), issue.reason.clone()));
            }
            if user.status == "Active" && !user.active {
                preview.active_but_inactive.push(id.clone());
            }
            if user.active {
                preview.active.push(id.clone());
            }
            for license in user.licenses.iter() {
                match preview.licenses.iter_mut().find(|(name, _)| name == license) {
                    Some((_, holders)) => holders.push(id.clone()),
                    None => preview.licenses.push(((*license).to_owned(), vec![id.clone()])),
                }
            }
            match preview.labels.iter_mut().find(|(label, _)| label == user.status.as_str()) {
                Some((_, ids)) => ids.push(id.clone()),
                None => preview.labels.push((user.status.to_string(), vec![id.clone()])),
            }
            if preview.users.len() < PREVIEW_USERS {
                preview.users.push(UserRow::from(&user));
            }
        }
        Err(dropped) => preview.dropped.push((dropped.external_id, dropped.reason.to_string())),
    });
    if let Err(error) = read {
        return Err(error.to_string());
    }
    if preview.total + preview.dropped.len() > 0 {
        preview.absent = connector.presence().into_iter().filter(|(_, n)| *n == 0).map(|(p, _)| p).collect();
    }
    Ok(preview)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_needs_only_the_request_side() {
        let draft = "app \"A\"\nbase_url \"https://a.example\"\nauth bearer \"{t}\"\n\
                     credentials {\n  t secret \"token\"\n}\nrequest GET \"/u\"\n\
                     paginate none\nfields {\n  id = id\n}\nlicenses auto \"X\"\n";
        // The incomplete fields are not the test's concern; the users path stands in as the whole body.
        let checked = connector(draft, &Catalog::missing()).expect("parses").expect("checks");
        assert_eq!(checked.ir().users_path.to_string(), ".");
        let broken =
            "app \"A\"\nbase_url \"https://a.example\"\nauth bearer \"{t}\"\nrequest GET \"/u\"\npaginate none\n";
        let Err(errors) = connector(broken, &Catalog::missing()).expect("parses") else {
            panic!("`t` is not declared")
        };
        assert!(errors.iter().any(|d| d.message.contains('t')), "{errors:?}");
    }
}
