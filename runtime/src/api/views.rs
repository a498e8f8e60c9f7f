//! What the API answers and takes, as types: each serializes to the JSON the
//! API sends and describes itself in the OpenAPI document, so the document is
//! the answers' own description and a client can be generated from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::operate::{self, ConnectionState, Summary};
use crate::store::{self, Outcome};

/// An integration of this build, and what connecting an account of it asks for.
#[derive(Serialize, ToSchema)]
pub struct Integration {
    /// Its id, as connection paths name it.
    pub id: String,
    /// The app it reads users from.
    pub app: String,
    pub auth: AuthKind,
    /// The credentials a `PUT` of a connection gives, by name.
    pub credentials: Vec<Credential>,
    /// Read from a spec in `--specs` at start, not compiled in.
    pub interpreted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Credential {
    pub name: String,
    /// Never shown again once given.
    pub secret: bool,
    pub description: String,
}

/// How an integration authenticates to its app.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    Bearer,
    Basic,
    Headers,
    Query,
    OauthClientCredentials,
    OauthAuthorizationCode,
    /// A sign-in request whose answer holds the token.
    Session,
}

impl AuthKind {
    pub fn of(auth: &tib_support::spec::Auth) -> AuthKind {
        use tib_support::spec::Auth;
        match auth {
            Auth::Bearer { .. } => AuthKind::Bearer,
            Auth::Basic { .. } => AuthKind::Basic,
            Auth::Headers(_) => AuthKind::Headers,
            Auth::QueryKey { .. } => AuthKind::Query,
            Auth::OAuthClientCredentials(_) => AuthKind::OauthClientCredentials,
            Auth::OAuthAuthorizationCode(_) => AuthKind::OauthAuthorizationCode,
            Auth::Session(_) => AuthKind::Session,
        }
    }

    /// In words, as a page shows it.
    pub fn words(self) -> &'static str {
        match self {
            AuthKind::Bearer => "bearer token",
            AuthKind::Basic => "basic auth",
            AuthKind::Headers => "custom headers",
            AuthKind::Query => "API key in the query string",
            AuthKind::OauthClientCredentials => "OAuth 2.0 client credentials",
            AuthKind::OauthAuthorizationCode => "OAuth 2.0 authorization code",
            AuthKind::Session => "a sign-in session",
        }
    }
}

impl From<crate::integrations::Integration> for Integration {
    fn from(integration: crate::integrations::Integration) -> Integration {
        let spec = integration.connector.spec();
        let credentials = spec
            .credentials
            .iter()
            .map(|c| Credential { name: c.name.to_owned(), secret: c.secret, description: c.description.to_owned() })
            .collect();
        Integration {
            app: spec.app.to_owned(),
            auth: AuthKind::of(&spec.auth),
            credentials,
            interpreted: matches!(integration.origin, crate::integrations::Origin::Interpreted(_)),
            id: integration.id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Integrations {
    pub integrations: Vec<Integration>,
}

/// A connected account: never its credentials or tokens.
#[derive(Serialize, ToSchema)]
pub struct Connection {
    pub integration: String,
    pub account: String,
    pub state: ConnectionState,
    pub disabled_reason: Option<String>,
    /// Unix time of its next scheduled sync.
    pub next_sync_at: i64,
    pub interval_secs: i64,
    pub users_with_access: i64,
    /// Every stored user, with access or not.
    pub users: i64,
    /// One of the company's directories, which the access review compares the other accounts with.
    pub directory: bool,
    pub last_run: Option<Run>,
}

impl From<Summary> for Connection {
    fn from(summary: Summary) -> Connection {
        let state = summary.state();
        let c = summary.connection;
        Connection {
            integration: c.integration,
            account: c.account,
            state,
            disabled_reason: c.disabled_reason,
            next_sync_at: c.next_sync_at,
            interval_secs: c.interval_secs,
            users_with_access: summary.with_access,
            users: summary.users,
            directory: summary.directory,
            last_run: summary.last_run.map(Run::from),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Connections {
    pub connections: Vec<Connection>,
}

/// A connection just connected; for an authorization code integration, where to authorize it.
#[derive(Serialize, ToSchema)]
pub struct Connected {
    #[serde(flatten)]
    pub connection: Connection,
    /// Open it to authorize tib at the provider: it works once, for ten minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// Whether the provider issues refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_tokens: Option<bool>,
}

/// A connection after an action, and what the action did.
#[derive(Serialize, ToSchema)]
pub struct Acted {
    #[serde(flatten)]
    pub connection: Connection,
    pub done: String,
}

/// A sync made due now.
#[derive(Serialize, ToSchema)]
pub struct Queued {
    pub queued: bool,
    /// Unix time it became due: the scheduler starts it as soon as a sync slot is free.
    pub due_at: i64,
    pub done: String,
}

/// A held sync applied.
#[derive(Serialize, ToSchema)]
pub struct Approved {
    pub applied: String,
}

/// One sync of a connection.
#[derive(Serialize, ToSchema)]
pub struct Run {
    pub id: i64,
    pub outcome: Outcome,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub pages: i64,
    pub users_seen: i64,
    pub users_dropped: i64,
    /// Each reason users were dropped for, with how many.
    pub dropped_reasons: Vec<Dropped>,
    /// The first 100 users dropped, each with why.
    pub dropped_users: Vec<DroppedUser>,
    /// Users new or back, changed, marked deleted.
    pub added: i64,
    pub updated: i64,
    pub deleted: i64,
    pub error: Option<String>,
    /// What deserves a look in a run that worked: only the first page read, say.
    pub warning: Option<String>,
    /// Requests asked per listed user (the spec's lookups).
    pub lookups: i64,
    /// Milliseconds the pages waited for their lookups, summed.
    pub lookup_ms: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Dropped {
    pub reason: String,
    pub users: i64,
}

/// A user a run dropped.
#[derive(Serialize, ToSchema)]
pub struct DroppedUser {
    /// Its id, when it had a usable one.
    pub external_id: Option<String>,
    pub reason: String,
}

impl From<store::Run> for Run {
    fn from(run: store::Run) -> Run {
        Run {
            id: run.id,
            outcome: run.outcome,
            started_at: run.started_at,
            ended_at: run.ended_at,
            pages: run.pages,
            users_seen: run.users_seen,
            users_dropped: run.users_dropped,
            dropped_reasons: run.dropped_reasons.into_iter().map(|(reason, users)| Dropped { reason, users }).collect(),
            dropped_users: (run.dropped_users.into_iter())
                .map(|d| DroppedUser { external_id: d.external_id, reason: d.reason })
                .collect(),
            added: run.added,
            updated: run.updated,
            deleted: run.deleted,
            error: run.error,
            warning: run.warning,
            lookups: run.lookups,
            lookup_ms: run.lookup_ms,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Runs {
    pub runs: Vec<Run>,
}

/// A stored user of a connection.
#[derive(Serialize, ToSchema)]
pub struct User {
    pub external_id: String,
    pub email: String,
    pub username: Option<String>,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    pub last_seen_at: Option<String>,
    /// Whether the app's conditions count it as active.
    pub active: bool,
    pub status: String,
    pub licenses: Vec<String>,
    /// The spec's custom fields by name: text, a number, or a list of text.
    pub custom_fields: BTreeMap<String, CustomValue>,
    /// The user's roles in the app, as it lists them.
    pub roles: Vec<String>,
    /// The groups or teams the user is a member of.
    pub groups: Vec<String>,
    /// What kind of account it is: a person's, a service's, a bot's, as the app or the spec says.
    pub account_type: Option<String>,
    /// When the user last did something in the app; RFC 3339, UTC.
    pub last_activity_at: Option<String>,
    /// No longer listed by the app: kept, without access.
    pub deleted: bool,
    /// Unix times of the first sync that listed it and of the last applied sync that did.
    pub first_seen: i64,
    pub last_seen: i64,
}

impl From<store::StoredUser> for User {
    fn from(stored: store::StoredUser) -> User {
        let u = stored.user;
        User {
            external_id: u.external_id,
            email: u.email,
            username: u.username,
            full_name: u.full_name,
            first_name: u.first_name,
            last_name: u.last_name,
            role: u.role,
            created_at: u.created_at,
            last_seen_at: u.last_seen_at,
            active: u.active,
            status: u.status,
            licenses: u.licenses,
            custom_fields: u.custom_fields.into_iter().map(|(name, value)| (name, value.into())).collect(),
            roles: u.roles,
            groups: u.groups,
            account_type: u.account_type,
            last_activity_at: u.last_activity_at,
            deleted: stored.deleted,
            first_seen: stored.first_seen,
            last_seen: stored.last_seen,
        }
    }
}

/// A custom field's value: text (an email, a date in RFC 3339 and a user's id are text too), a number,
/// or a list of text.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum CustomValue {
    Text(String),
    #[schema(value_type = f64)]
    Number(serde_json::Number),
    List(Vec<String>),
}

impl From<serde_json::Value> for CustomValue {
    fn from(value: serde_json::Value) -> CustomValue {
        use serde_json::Value;
        match value {
            Value::String(text) => CustomValue::Text(text),
            Value::Number(number) => CustomValue::Number(number),
            Value::Array(items) => CustomValue::List(
                items.into_iter().map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_owned)).collect(),
            ),
            // The store keeps only the three kinds above; anything else is shown as its JSON text.
            other => CustomValue::Text(other.to_string()),
        }
    }
}

/// A page of users, in the order of their external ids.
#[derive(Serialize, ToSchema)]
pub struct UsersPage {
    pub users: Vec<User>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

impl From<operate::UsersPage> for UsersPage {
    fn from(page: operate::UsersPage) -> UsersPage {
        UsersPage { users: page.users.into_iter().map(User::from).collect(), next_cursor: page.next_cursor }
    }
}

/// A person: every account that lists one email, without regard to case.
#[derive(Serialize, ToSchema)]
pub struct Person {
    /// The email in lower case.
    pub email: String,
    /// A name one of their accounts gives.
    pub name: Option<String>,
    /// The accounts that list them, those that no longer do included.
    pub accounts: i64,
    /// The accounts where they have access.
    pub with_access: i64,
    /// The latest time an app gives for them (last sign-in or activity); RFC 3339, UTC.
    pub last_seen_at: Option<String>,
}

impl From<store::Person> for Person {
    fn from(p: store::Person) -> Person {
        Person {
            email: p.email,
            name: p.name,
            accounts: p.accounts,
            with_access: p.with_access,
            last_seen_at: p.last_seen_at,
        }
    }
}

/// A page of people, by email.
#[derive(Serialize, ToSchema)]
pub struct PeoplePage {
    pub people: Vec<Person>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

impl From<operate::PeoplePage> for PeoplePage {
    fn from(page: operate::PeoplePage) -> PeoplePage {
        PeoplePage { people: page.people.into_iter().map(Person::from).collect(), next_cursor: page.next_cursor }
    }
}

/// One account of a person.
#[derive(Serialize, ToSchema)]
pub struct PersonAccount {
    pub integration: String,
    pub account: String,
    /// The user as the account lists them: status, access, licenses, role, when last seen.
    pub user: User,
}

/// Every account of one person.
#[derive(Serialize, ToSchema)]
pub struct PersonAccounts {
    pub email: String,
    pub accounts: Vec<PersonAccount>,
}

impl PersonAccounts {
    pub fn new(email: &str, accounts: Vec<operate::PersonAccount>) -> PersonAccounts {
        let accounts = accounts.into_iter().map(PersonAccount::from).collect();
        PersonAccounts { email: email.trim().to_lowercase(), accounts }
    }
}

/// A license of one account, and how many hold it.
#[derive(Serialize, ToSchema)]
pub struct LicenseUse {
    pub integration: String,
    pub account: String,
    pub license: String,
    /// Users with access who hold it.
    pub holders: i64,
    /// Of those, the ones the app has not seen since `unseen_since` (or gives no time for).
    pub unseen: i64,
}

/// The licenses in use across every account.
#[derive(Serialize, ToSchema)]
pub struct Licenses {
    /// The window's start: holders the app has not seen since then are counted in `unseen`; RFC 3339, UTC.
    pub unseen_since: String,
    pub licenses: Vec<LicenseUse>,
}

impl From<operate::Licenses> for Licenses {
    fn from(licenses: operate::Licenses) -> Licenses {
        let unseen_since = chrono::DateTime::from_timestamp(licenses.unseen_since, 0).unwrap_or_default().to_rfc3339();
        let licenses = licenses
            .licenses
            .into_iter()
            .map(|l| LicenseUse {
                integration: l.connection.integration,
                account: l.connection.account,
                license: l.license,
                holders: l.holders,
                unseen: l.unseen,
            })
            .collect();
        Licenses { unseen_since, licenses }
    }
}

/// An account with access whose person is active in no directory.
#[derive(Serialize, ToSchema)]
pub struct DepartedAccount {
    pub integration: String,
    pub account: String,
    /// A directory lists the person, no longer active: they left. Otherwise they were never in it
    /// (someone from outside, or an account under another email).
    pub in_directory: bool,
    pub user: User,
}

/// A connection, by name.
#[derive(Serialize, ToSchema)]
pub struct ConnectionName {
    pub integration: String,
    pub account: String,
}

/// Who left but still has access: the accounts compared with the company's directories.
#[derive(Serialize, ToSchema)]
pub struct AccessReview {
    /// The connections marked as directories; with none, the lists are empty.
    pub directories: Vec<ConnectionName>,
    /// Accounts with access whose person is active in no directory: how many in all.
    pub departed_total: i64,
    /// Those of the page asked for.
    pub departed: Vec<DepartedAccount>,
    /// The directories' active people with access in no other account: how many in all.
    pub unaccounted_total: i64,
    /// Those of the page asked for.
    pub unaccounted: Vec<PersonAccount>,
}

impl From<operate::PersonAccount> for PersonAccount {
    fn from(a: operate::PersonAccount) -> PersonAccount {
        PersonAccount { integration: a.connection.integration, account: a.connection.account, user: a.user.into() }
    }
}

impl From<operate::AccessReview> for AccessReview {
    fn from(review: operate::AccessReview) -> AccessReview {
        AccessReview {
            directories: review
                .directories
                .into_iter()
                .map(|c| ConnectionName { integration: c.integration, account: c.account })
                .collect(),
            departed_total: review.departed.0,
            departed: review
                .departed
                .1
                .into_iter()
                .map(|d| {
                    let PersonAccount { integration, account, user } = d.account.into();
                    DepartedAccount { integration, account, in_directory: d.in_directory, user }
                })
                .collect(),
            unaccounted_total: review.unaccounted.0,
            unaccounted: review.unaccounted.1.into_iter().map(PersonAccount::from).collect(),
        }
    }
}

/// Something admins were told.
#[derive(Serialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    /// The connection it is about, when it is about one.
    pub connection: Option<String>,
    pub created_at: i64,
    pub kind: String,
    pub message: String,
}

impl From<store::Notification> for Notification {
    fn from(n: store::Notification) -> Notification {
        Notification { id: n.id, connection: n.connection, created_at: n.created_at, kind: n.kind, message: n.message }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Notifications {
    pub notifications: Vec<Notification>,
}

/// A connection to make: its credentials (exactly those the integration declares), and optionally
/// where its requests go and how often it syncs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// Each credential the integration declares, by name.
    pub credentials: BTreeMap<String, String>,
    /// Where its requests go, when not where the spec says (a sandbox, a self-hosted instance).
    #[schema(value_type = Option<String>, format = "uri")]
    pub base_url: Option<url::Url>,
    #[schema(value_type = Option<String>, format = "uri")]
    pub token_url: Option<url::Url>,
    #[schema(value_type = Option<String>, format = "uri")]
    pub authorize_url: Option<url::Url>,
    /// Seconds between its syncs, an hour to 31 days (a day when absent).
    #[schema(value_type = Option<i64>, minimum = 3600, maximum = 2678400)]
    pub every_secs: Option<serde_json::Number>,
}

impl NewConnection {
    /// Seconds between its syncs: a whole number (written `3600` or `3600.0`, as JSON allows), in range.
    pub fn every(&self) -> Result<i64, String> {
        let Some(every) = &self.every_secs else { return Ok(crate::schedule::DAY) };
        let whole =
            every.as_i64().or_else(|| every.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64));
        whole
            .filter(|every| (3600..=31 * crate::schedule::DAY).contains(every))
            .ok_or_else(|| "every_secs must be whole seconds from 3600 (an hour) to 2678400 (31 days)".to_owned())
    }
}

/// An error, as RFC 9457 problem details (`application/problem+json`).
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of error it is.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
}

/// A named API token, as kept: never the token itself.
#[derive(Serialize, ToSchema)]
pub struct Token {
    pub name: String,
    /// `admin` (everything) or `viewer` (reads only).
    pub role: String,
    pub created_at: i64,
    /// The operator who made it.
    pub created_by: String,
}

impl From<store::ApiToken> for Token {
    fn from(t: store::ApiToken) -> Token {
        Token { name: t.name, role: t.role.as_str().to_owned(), created_at: t.created_at, created_by: t.created_by }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Tokens {
    pub tokens: Vec<Token>,
}

/// A token to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// 1 to 64 letters, digits, `-`, `_`, `.` or `@`.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._@-]+$")]
    pub name: String,
    /// `admin` (everything) or `viewer` (reads only).
    #[schema(pattern = "^(admin|viewer)$")]
    pub role: String,
}

/// A token just made: the token is in this answer only; keep it now.
#[derive(Serialize, ToSchema)]
pub struct MadeToken {
    pub token: String,
    #[serde(flatten)]
    pub made: Token,
}

/// One change an operator made or tried.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    /// Who: an email from the identity provider, a token's name, `admin` for the admin token.
    pub actor: String,
    /// How they proved it: `admin token`, `API token`, `single sign-on`, `command line`.
    pub via: String,
    /// From where: the client's address, or `this machine`.
    pub address: String,
    pub action: String,
    /// To what: a connection, a token; empty for a login.
    pub target: String,
    /// `done`, or why it was refused or failed.
    pub outcome: String,
}

impl From<store::AuditEntry> for AuditEntry {
    fn from(e: store::AuditEntry) -> AuditEntry {
        AuditEntry {
            id: e.id,
            at: e.at,
            actor: e.actor,
            via: e.via,
            address: e.address,
            action: e.action,
            target: e.target,
            outcome: e.outcome,
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
    /// Send as `before` for older entries; none when these are the oldest.
    pub next_cursor: Option<i64>,
}
