//! The checked model of one app's users integration: the only input of code
//! generation and of preview.
//!
//! Everything here has passed the checker: required parts are present, "one
//! of" is an enum, names are valid Rust identifiers, URLs are well formed.
//! Lists keep spec order, so output built from the IR is deterministic.

use std::fmt;

/// One checked `.tib` spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// The spec's path relative to the workspace root, e.g. `specs/okta.tib`.
    pub source: String,
    /// The app's display name and the names derived from it.
    pub app: App,
    /// Values a connection supplies when it is connected, in declaration order.
    pub credentials: Vec<Credential>,
    /// How each request proves who is asking.
    pub auth: Auth,
    /// The base URL every request path is appended to; placeholders are non-secret credentials.
    pub base_url: Template,
    /// The request that lists users.
    pub endpoint: Endpoint,
    /// Requests asked per listed user, whose answers the user's values read under their names.
    pub lookups: Vec<Lookup>,
    /// Other listings, read whole before the users, whose items name the users they belong to; the
    /// users' values read what each gave them under its name, after the lookups' answers.
    pub listings: Vec<Listing>,
    /// The values of a user the lookups' paths are built from and the listings' items name, each
    /// once (`LookupPart::User` and `Listing::matches` index it).
    pub lookup_keys: Vec<Path>,
    /// How to get from one page of users to the next and when to stop.
    pub pagination: Pagination,
    /// The most users the API lists through this paging (`max_users`): PagerDuty refuses offsets
    /// past 10,000, Auth0 lists 1,000. A listing that reaches it with more remaining fails the sync
    /// instead of asking past it (a refusal that reads as bad credentials) or storing a part.
    pub max_users: Option<u64>,
    /// A rule that turns an HTTP 200 into an API error (`"ok": false`).
    pub api_error: Option<ApiError>,
    /// Where the users array is in each response body (empty: the body is the array).
    pub users_path: Path,
    /// `or none`: a page without the users key (or with null there) holds no
    /// users. Otherwise that is an error, so a wrong path never looks like an empty account.
    pub users_optional: bool,
    /// Where each user's attributes are.
    pub fields: Fields,
    /// Which users count as active (Calculated Status).
    pub active: Active,
    /// The status label shown for a user (Status in App).
    pub status: StatusInApp,
    /// Which licenses a user holds (License Status).
    pub licenses: Licenses,
    /// Organization-defined attributes mapped from the user, in spec order.
    pub custom_fields: Vec<CustomField>,
    /// The parts of each response the spec reads, as a tree: what code generation
    /// declares types for. Everything else in a response is skipped unread.
    pub shapes: Shapes,
}

/// What the spec reads of a response body and of a user object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shapes {
    /// The response body, down to the users array and the pagination and error values.
    pub body: Shape,
    /// One user object.
    pub user: Shape,
}

/// How a JSON value is read. Paths that share a prefix share the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Only tested for presence (`has value`): any JSON value.
    Any,
    /// A scalar or an array of scalars, compared or mapped.
    Leaf,
    /// An object with the keys that are read.
    Object(Object),
    /// An array whose items are read (by `some` or `[n]`).
    Array(Box<Shape>),
    /// The users array; each item is a user object ([`Shapes::user`]).
    Users,
}

/// An object the spec reads keys of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The generated type's name, unique in the spec, e.g. `UserProfile`.
    pub type_name: String,
    /// The keys read, in order of first use.
    pub fields: Vec<ObjectField>,
}

/// One key of an [`Object`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectField {
    /// The key exactly as the API spells it.
    pub key: String,
    /// A Rust field name for it, unique in its object.
    pub ident: String,
    pub shape: Shape,
    /// A lookup's answer, named by this key: set from the lookup, never read from the listing.
    pub joined: bool,
}

/// The app's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// The name as written in the spec, e.g. `Microsoft Entra ID`.
    pub name: String,
    /// A lower-case identifier unique among specs, e.g. `microsoft_entra_id`, `pagerduty`;
    /// the connector crate is `connectors/<id>` and the registry key is this.
    pub id: String,
}

/// A value asked for at connect time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// The name placeholders use, e.g. `api_token`; a valid Rust identifier.
    pub name: String,
    /// Secrets are never logged, printed or put in a URL that is shown.
    pub secret: bool,
    /// The prompt shown when connecting.
    pub description: Option<String>,
}

/// Index of a credential in [`Spec::credentials`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CredentialId(pub usize);

/// Text with credential values substituted at request time, e.g. `SSWS {api_token}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The parts in order; adjacent text parts are merged.
    pub parts: Vec<TemplatePart>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    /// Fixed text.
    Text(String),
    /// The value of a credential.
    Credential(CredentialId),
}

impl Template {
    /// A template that is only fixed text.
    pub fn text(text: impl Into<String>) -> Self {
        Template { parts: vec![TemplatePart::Text(text.into())] }
    }

    /// The credentials this template reads, in order of appearance.
    pub fn credentials(&self) -> impl Iterator<Item = CredentialId> + '_ {
        self.parts.iter().filter_map(|part| match part {
            TemplatePart::Credential(id) => Some(*id),
            TemplatePart::Text(_) => None,
        })
    }
}

/// Authentication: exactly one kind per spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer { token: Template },
    /// HTTP basic auth.
    Basic { username: Template, password: Template },
    /// Custom headers, fixed or built from credentials, in spec order.
    Headers { headers: Vec<Param> },
    /// An API key sent as a query-string parameter on every request.
    QueryKey { param: String, value: Template },
    /// OAuth 2.0 client credentials grant; client id and secret are supplied at connect.
    OAuthClientCredentials(OAuthClientCredentials),
    /// OAuth 2.0 authorization code grant; client id and secret are supplied at connect.
    OAuthAuthorizationCode(OAuthAuthorizationCode),
    /// A sign-in request whose answer holds the session's token and values later requests use
    /// (Tableau's `auth/signin`); signed in again when the API answers 401.
    Session(Session),
}

/// Settings of `auth session`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The sign-in request's path after base_url: a POST of `body` as JSON.
    pub path: String,
    pub body: Json,
    /// The keys in the answer that lead to the session's token.
    pub token: Vec<String>,
    /// The header the token is sent in; none: `Authorization: Bearer`.
    pub header: Option<String>,
    /// Values of the answer, by name, that the request path uses as `{name}`; in spec order.
    pub values: Vec<(String, Vec<String>)>,
}

/// Settings of the OAuth 2.0 client credentials grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthClientCredentials {
    /// Where tokens are fetched; https (or loopback), may hold non-secret credentials.
    pub token_url: Template,
    /// Scopes requested, in spec order.
    pub scopes: Vec<String>,
    /// Extra form parameters of the token request; may hold credentials.
    pub token_params: Vec<Param>,
    /// How the client authenticates to the token endpoint.
    pub client_auth: ClientAuth,
    /// The `kid` of a `private_key_jwt` assertion's key (`key_id`), when the provider asks for it.
    pub key_id: Option<Template>,
    /// The grant type sent: `client_credentials`, a provider's variant such as
    /// Zoom's `account_credentials`, or the JWT bearer grant's URN (RFC 7523).
    pub grant_type: String,
    /// The JWT bearer grant's subject: the user a service account acts for.
    pub subject: Option<Template>,
    /// The token answer's field whose URL (or host) the API is at.
    pub base_url_from: Option<String>,
}

/// How the OAuth client authenticates to the token endpoint (RFC 6749 section 2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: an HTTP Basic header.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
    /// `private_key_jwt` (RFC 7523): an assertion signed with the client's private key,
    /// which the connection gives where a client secret would be.
    PrivateKeyJwt,
    /// None: the JWT bearer grant's signed assertion is the proof.
    None,
}

/// Settings of the OAuth 2.0 authorization code grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthAuthorizationCode {
    /// Where the user is sent to grant access.
    pub authorize_url: Template,
    /// Where codes and refresh tokens are exchanged for access tokens.
    pub token_url: Template,
    /// Scopes requested, in spec order (some providers care about the order).
    pub scopes: Vec<String>,
    /// Whether the provider issues refresh tokens.
    pub refresh_tokens: bool,
    /// Extra query parameters of the authorize URL.
    pub authorize_params: Vec<Param>,
    /// Extra form parameters of the code exchange.
    pub token_params: Vec<Param>,
    /// Extra form parameters of a refresh.
    pub refresh_params: Vec<Param>,
    /// How the client authenticates to the token endpoint.
    pub client_auth: ClientAuth,
    /// The `kid` of a `private_key_jwt` assertion's key (`key_id`), when the provider asks for it.
    pub key_id: Option<Template>,
    /// The token answer's field whose URL (or host) the API is at.
    pub base_url_from: Option<String>,
}

/// A name and a value: a header, a query or form parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Template,
}

/// The users request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    /// Appended to the base URL's path; starts with `/`. `{name}` in it is a value of the
    /// session (`auth session`'s `values`), put in once signed in; it holds no other braces.
    pub path: String,
    /// Fixed query parameters, in spec order.
    pub query: Vec<Param>,
    /// Fixed headers, in spec order.
    pub headers: Vec<Param>,
    /// The JSON body of a POST, sent as `application/json`; GET has none.
    pub body: Option<Json>,
    /// Query variants listed one after another in one sync (Zoom's
    /// `status=inactive`); empty: the request is listed once as it is.
    pub listings: Vec<Vec<Param>>,
    /// The secret credential holding the certificate (and private key, PEM) every request of the
    /// sync presents to a server that asks for one (mTLS).
    pub client_certificate: Option<CredentialId>,
}

/// `lookup membership GET "/memberships/{login}"`: one request per listed user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The key the user's values read its answer under (`membership.role`).
    pub name: String,
    /// Appended to the base URL's path; starts with `/`. User values are sent percent-encoded.
    pub path: Vec<LookupPart>,
    /// Query parameters in spec order; values may hold values of the user, sent as given.
    pub query: Vec<LookupParam>,
    /// Fixed headers, in spec order.
    pub headers: Vec<Param>,
    /// What an HTTP 404 means.
    pub not_found: NotFound,
    /// Lookups of this kind in flight at once, across the sync.
    pub concurrency: u32,
    /// Asked for many users in one request, where the API allows it.
    pub batch: Option<Batch>,
}

/// `batch = { size = 50  at = values  match = accountId }`: a lookup asked for many users at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Users per request, at most.
    pub size: u32,
    /// The query parameter (by index in [`Lookup::query`]) that carries the users' values.
    pub param: usize,
    /// The user value it carries ([`Spec::lookup_keys`] index).
    pub user: usize,
    /// Joins the values into one parameter; none: the parameter is repeated, one per user.
    pub separator: Option<String>,
    /// The keys that lead to the answer's list of items.
    pub at: Vec<String>,
    /// The keys in an item that lead to the user's value, which names whose item it is.
    pub key: Vec<String>,
}

/// A query parameter of a lookup (Jira's `accountId={accountId}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupParam {
    pub name: String,
    pub value: Vec<LookupPart>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupPart {
    Text(String),
    Credential(CredentialId),
    /// The user's value at [`Spec::lookup_keys`]`[n]`.
    User(usize),
    /// The session's `n`th value (`auth session`'s `values`), as the sign-in gave it.
    Session(usize),
}

/// `listing access GET "/team.accessLogs" { … }`: another listing, read whole before the users,
/// whose items name the users they belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The key the user's values read what it gave them under (`access.date_last`).
    pub name: String,
    pub request: ListingRequest,
    /// What each user gets of it.
    pub kind: ListingKind,
    /// The listed user's value its items name ([`Spec::lookup_keys`] index): `match = id`.
    pub matches: usize,
    /// The keys of an item the spec reads: all that is kept of an item for its user. None: the
    /// whole item (the spec only tests that something is there).
    pub keep: Option<Vec<String>>,
}

/// The request of a listing, or of a group's members: a paged GET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListingRequest {
    /// Appended to the base URL's path: text, credentials, the session's values and, for members,
    /// the group's (`LookupPart::User` then indexes [`ListingKind::Members`]'s `group_keys`).
    pub path: Vec<LookupPart>,
    pub query: Vec<LookupParam>,
    /// Sent after the users request's own headers, replacing any of the same name.
    pub headers: Vec<Param>,
    pub pagination: Pagination,
    /// Where the items are in each answer (empty: the answer is the list).
    pub items: Path,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListingKind {
    /// Each user gets the list of the items that name them at `user`.
    Items { user: Path },
    /// Each item is an event naming its user at `user` and its time at `at`: each user gets their
    /// latest event within the window, one kept per user whatever the number of events.
    Latest { user: Path, at: Path, window: Window },
    /// Each item is a group, whose members `members` lists, one listing per group; each member
    /// names its user at `user`. Each user gets the list of groups they are a member of.
    Members { members: Box<ListingRequest>, group_keys: Vec<Path>, user: Path },
}

/// `window = 90`: how far back events count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub days: u32,
    /// The query parameter that asks the API for events since the window's start, and how it is
    /// written; none: the API sends what it has and older events are skipped.
    pub since: Option<(String, TimeFormat)>,
}

/// How a time is written in a query value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// Seconds since 1970 (`1733529600`).
    Unix,
    /// A day (`2024-12-07`).
    Date,
    /// RFC 3339 (`2024-12-07T00:00:00Z`).
    Iso,
}

/// What a lookup's 404 means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotFound {
    /// The sync fails (and HTTP 404 disables the connection, as the error policy says).
    Error,
    /// The user has nothing there (`not_found = "none"`): their answer is empty.
    Nothing,
}

/// A JSON body template: fixed values, and text with credential values put in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    Bool(bool),
    /// A number, as written.
    Number(String),
    Text(Template),
    Array(Vec<Json>),
    /// Keys in spec order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Every text template in it, in order.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Json::Bool(_) | Json::Number(_) => Vec::new(),
            Json::Text(text) => vec![text],
            Json::Array(items) => items.iter().flat_map(Json::templates).collect(),
            Json::Object(entries) => entries.iter().flat_map(|(_, value)| value.templates()).collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// How pages follow each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pagination {
    /// One request returns every user.
    None,
    /// `?offset=N&limit=M`, with N advancing by the number of users received.
    Offset(Offset),
    /// `?page=N&per_page=M`, with N advancing by one.
    PageNumber(PageNumber),
    /// The next page's full URL, from the body or the `Link` header.
    NextUrl(NextUrl),
    /// An opaque token sent back as a query parameter.
    Token(Token),
}

/// The values of an answer that pagination reads from its body.
#[derive(Clone, Copy, Debug, Default)]
pub struct PagingPaths<'p> {
    /// The next URL or token.
    pub next: Option<&'p Path>,
    /// The has-more flag.
    pub more: Option<&'p Path>,
    /// The total count.
    pub total: Option<&'p Path>,
}

impl Pagination {
    /// Where in an answer's body it reads the next URL or token, the has-more flag and the total.
    pub fn body_paths(&self) -> PagingPaths<'_> {
        fn count_stop(stops: &[CountStop], total: bool) -> Option<&Path> {
            stops.iter().find_map(|stop| match stop {
                CountStop::NoMore(path) if !total => Some(path),
                CountStop::Total(path) if total => Some(path),
                _ => None,
            })
        }
        fn token_more(stops: &[TokenStop]) -> Option<&Path> {
            stops.iter().find_map(|stop| match stop {
                TokenStop::NoMore(path) => Some(path),
                _ => None,
            })
        }
        match self {
            Pagination::None => PagingPaths::default(),
            Pagination::Offset(Offset { stop, .. }) | Pagination::PageNumber(PageNumber { stop, .. }) => {
                PagingPaths { next: None, more: count_stop(stop, false), total: count_stop(stop, true) }
            }
            Pagination::NextUrl(NextUrl { source, stop }) => PagingPaths {
                next: match source {
                    NextUrlSource::Body(path) => Some(path),
                    NextUrlSource::LinkHeader => None,
                },
                more: token_more(stop),
                total: None,
            },
            Pagination::Token(Token { source, stop, .. }) => PagingPaths {
                next: match source {
                    TokenSource::Body(path) => Some(path),
                    TokenSource::Header(_) => None,
                },
                more: token_more(stop),
                total: None,
            },
        }
    }
}

/// Offset/limit pagination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offset {
    /// The query parameter that carries the offset.
    pub offset_param: String,
    /// The query parameter that carries the page size.
    pub limit_param: String,
    /// Users asked for per page.
    pub page_size: u32,
    /// The first offset (usually 0).
    pub start: u64,
    /// Pages fetched at once (1: strictly one after another).
    pub concurrency: u32,
    /// When to stop; never empty, any one of them stops.
    pub stop: Vec<CountStop>,
}

/// Page-number pagination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageNumber {
    /// The query parameter that carries the page number.
    pub page_param: String,
    /// The query parameter that carries the page size.
    pub size_param: String,
    /// Users asked for per page.
    pub page_size: u32,
    /// The number of the first page (0 or 1).
    pub first_page: u64,
    /// Pages fetched at once (1: strictly one after another).
    pub concurrency: u32,
    /// When to stop; never empty, any one of them stops.
    pub stop: Vec<CountStop>,
}

/// Stop conditions of counted pagination (offset, page number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CountStop {
    /// A page with no users.
    EmptyPage,
    /// A page with fewer users than the page size.
    ShortPage,
    /// The flag at this path is false or missing.
    NoMore(Path),
    /// As many users as the number at this path have been received.
    Total(Path),
}

/// Next-URL pagination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextUrl {
    /// Where the next URL is read.
    pub source: NextUrlSource,
    /// When to stop; never empty, any one of them stops.
    pub stop: Vec<TokenStop>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextUrlSource {
    /// A string at this body path.
    Body(Path),
    /// The `Link` response header's `rel="next"` entry (RFC 8288).
    LinkHeader,
}

/// Token pagination: the next page's request carries the token the last gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Where the token is sent back.
    pub param: TokenTarget,
    /// For APIs with a separate continuation request (Dropbox's
    /// `/list/continue_v2`): the path every page after the first is asked at,
    /// with a body that holds only the token.
    pub continue_path: Option<String>,
    /// Where the next token is read.
    pub source: TokenSource,
    /// When to stop; never empty, any one of them stops.
    pub stop: Vec<TokenStop>,
}

/// Where a token is sent back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenTarget {
    /// This query parameter.
    Query(String),
    /// This key path of the JSON body (`cursor`, `variables.after`); objects
    /// on the way are made when missing.
    Body(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// A string at this body path.
    Body(Path),
    /// A response header (compared case-insensitively).
    Header(String),
}

/// Stop conditions of token and next-URL pagination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenStop {
    /// The token or URL is missing, null or empty.
    MissingToken,
    /// A page with no users.
    EmptyPage,
    /// The flag at this path is false or missing.
    NoMore(Path),
}

/// A rule that marks a 200 response as an API error.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// When these rules all hold on the response body, the response is an error.
    pub when: Vec<Rule>,
    /// Where the API's error message is in the body.
    pub message: Path,
    /// An error these rules also match is the credentials or configuration
    /// refused: the connection is disabled, as on HTTP 400–404.
    pub refused: Option<Vec<Rule>>,
    /// An error these rules match (and `refused` does not) is rate limiting:
    /// the page is asked again with backoff within the sync.
    pub rate_limited: Option<Vec<Rule>>,
}

/// A path into JSON, from the response body, a user object or an array item.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path {
    /// The steps; empty means the value itself.
    pub segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// An object key, exactly as the API spells it.
    Key(String),
    /// An array position.
    Index(usize),
}

impl fmt::Display for Path {
    /// Writes the path the way a spec spells it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str(".");
        }
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || "_$@".contains(c))
                        && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-$@".contains(c));
                    if plain { f.write_str(key)? } else { write!(f, "{key:?}")? }
                }
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Where each user attribute is read from a user object.
#[derive(Clone, Debug, PartialEq)]
pub struct Fields {
    /// The user's id in the app; required, never with a fallback literal.
    pub id: Mapped,
    /// The user's email; required, never with a fallback literal.
    pub email: Mapped,
    pub username: Option<Mapped>,
    pub name: Option<Name>,
    pub role: Option<Labelled>,
    /// When the account was created.
    pub created_at: Option<Mapped>,
    /// When the user was last seen.
    pub last_seen_at: Option<Mapped>,
    /// The user's roles: a list of text (or one text, a list of one).
    pub roles: Option<Mapped>,
    /// The groups or teams the user is a member of, as `roles`.
    pub groups: Option<Mapped>,
    /// What kind of account it is (GitHub's `type`, Jira's `accountType`): a person's, a service's, a bot's.
    pub account_type: Option<Labelled>,
    /// When the user last did something in the app.
    pub last_activity_at: Option<Mapped>,
}

/// A mapped user value: the first source that has a value, else the fallback.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapped {
    /// Tried in order; never empty.
    pub sources: Vec<Source>,
    /// The value when no source has one (`else "member"`).
    pub fallback: Option<Literal>,
}

/// One source of a [`Mapped`] value.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub origin: Origin,
    /// Values that mean "no value" here (`except "1970-01-01T00:00:00.000Z"`),
    /// compared as `any of` compares.
    pub except: Vec<Literal>,
}

/// Where a source's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    Path(Path),
    /// Text built from the user's values (GitHub's no-reply address
    /// `{id}+{login}@users.noreply.github.com`). It has a value when every path
    /// in it holds text, a number or true/false.
    Format {
        parts: Vec<FormatPart>,
        /// Its place among the values the spec builds: generated code builds each once per user.
        slot: usize,
    },
    /// A value of each item of a list (`groups[].name`): a list of the items' values that have one.
    Each {
        list: Path,
        /// Within each item; empty for the item itself (`tags[]`).
        item: Path,
        /// Its place among the values the spec builds, as a format's.
        slot: usize,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum FormatPart {
    Text(String),
    Path(Path),
}

impl Source {
    /// Every path it reads, in order.
    pub fn paths(&self) -> Vec<&Path> {
        match &self.origin {
            Origin::Path(path) => vec![path],
            Origin::Each { list, .. } => vec![list],
            Origin::Format { parts, .. } => parts
                .iter()
                .filter_map(|part| match part {
                    FormatPart::Path(path) => Some(path),
                    FormatPart::Text(_) => None,
                })
                .collect(),
        }
    }
}

impl Mapped {
    /// A lone path.
    pub fn path(path: Path) -> Self {
        Mapped { sources: vec![Source { origin: Origin::Path(path), except: Vec::new() }], fallback: None }
    }

    /// The lone path, when the value is nothing more.
    pub fn lone_path(&self) -> Option<&Path> {
        match (self.sources.as_slice(), &self.fallback) {
            ([Source { origin: Origin::Path(path), except }], None) if except.is_empty() => Some(path),
            _ => None,
        }
    }

    /// Every path it reads, in order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.sources.iter().flat_map(Source::paths)
    }

    /// The slots of the values it builds (formats, lists of items' values), to number them.
    pub fn built_mut(&mut self) -> impl Iterator<Item = &mut usize> {
        self.sources.iter_mut().filter_map(|source| match &mut source.origin {
            Origin::Format { slot, .. } | Origin::Each { slot, .. } => Some(slot),
            Origin::Path(_) => None,
        })
    }
}

/// Every mapped value of a user in a spec, in the order the record lists them;
/// written once for shared and for unique references.
macro_rules! user_values {
    ($spec:expr, $($mut:ident)?) => {{
        let spec = $spec;
        let fields = &$($mut)? spec.fields;
        let mut values: Vec<&$($mut)? Mapped> = vec![&$($mut)? fields.id, &$($mut)? fields.email];
        values.extend(
            [
                &$($mut)? fields.username,
                &$($mut)? fields.created_at,
                &$($mut)? fields.last_seen_at,
                &$($mut)? fields.roles,
                &$($mut)? fields.groups,
                &$($mut)? fields.last_activity_at,
            ]
                .into_iter()
                .flatten(),
        );
        match &$($mut)? fields.name {
            Some(Name::Full(full)) => values.push(full),
            Some(Name::Split { first, last }) => values.extend([first, last]),
            None => {}
        }
        for labelled in [&$($mut)? fields.role, &$($mut)? fields.account_type] {
            if let Some(Labelled::Field(value) | Labelled::Decided { otherwise: value, .. }) = labelled {
                values.push(value);
            }
        }
        if let StatusInApp::Field(status) = &$($mut)? spec.status {
            values.push(status);
        }
        values.extend((&$($mut)? spec.custom_fields).into_iter().map(|field| &$($mut)? field.value));
        values
    }};
}

impl Spec {
    /// Whether a user's values read answers joined to them: a lookup's or a listing's.
    pub fn joins(&self) -> bool {
        !self.lookups.is_empty() || !self.listings.is_empty()
    }

    /// The names the users' values read joined answers under, in the order they are joined: the
    /// lookups', then the listings'.
    pub fn joined_names(&self) -> impl Iterator<Item = &str> {
        self.lookups.iter().map(|lookup| lookup.name.as_str()).chain(self.listings.iter().map(|l| l.name.as_str()))
    }

    /// Every mapped value of a user, in the order the record lists them.
    pub fn mapped(&self) -> Vec<&Mapped> {
        user_values!(self,)
    }

    /// The same, to change them.
    pub fn mapped_mut(&mut self) -> Vec<&mut Mapped> {
        user_values!(self, mut)
    }

    /// Every value the spec builds from a user's values (formats, lists of items' values), by slot.
    pub fn built(&self) -> Vec<&Origin> {
        let mut built: Vec<(usize, &Origin)> = self
            .mapped()
            .into_iter()
            .flat_map(|value| &value.sources)
            .filter_map(|source| match &source.origin {
                Origin::Format { slot, .. } | Origin::Each { slot, .. } => Some((*slot, &source.origin)),
                Origin::Path(_) => None,
            })
            .collect();
        built.sort_by_key(|(slot, _)| *slot);
        built.into_iter().map(|(_, origin)| origin).collect()
    }
}

/// A full name, or first and last name; never both.
#[derive(Clone, Debug, PartialEq)]
pub enum Name {
    Full(Mapped),
    Split { first: Mapped, last: Mapped },
}

/// A text of the user (the role, the account type): its own value, labels chosen by conditions
/// (for APIs with flags such as `is_admin`), or both.
#[derive(Clone, Debug, PartialEq)]
pub enum Labelled {
    Field(Mapped),
    Conditions(Branches),
    /// Labels by rules, else the user's own value: HubSpot's "Super Admin" when
    /// `superAdmin` is true, else its `roleId`.
    Decided {
        branches: Vec<Branch>,
        otherwise: Mapped,
    },
}

/// Calculated Status.
#[derive(Clone, Debug, PartialEq)]
pub enum Active {
    /// Every user the API returns is active.
    Everyone,
    /// A user is active when all these rules hold; never empty.
    When(Vec<Rule>),
}

/// Status in App: the label shown for a user.
#[derive(Clone, Debug, PartialEq)]
pub enum StatusInApp {
    /// "Active" for active users, "Deleted" for the rest.
    Auto,
    /// One label for every user: for APIs that list only active users.
    Fixed(String),
    /// The text of this field.
    Field(Mapped),
    /// The label of the first branch whose rules hold.
    Conditions(Branches),
}

/// `if / else if / else` labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Branches {
    /// Tried in order; the first whose rules all hold gives the label.
    pub branches: Vec<Branch>,
    /// The label when no branch holds.
    pub otherwise: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    /// All must hold; never empty.
    pub when: Vec<Rule>,
    pub label: String,
}

/// License Status.
#[derive(Clone, Debug, PartialEq)]
pub enum Licenses {
    /// Every active user holds one license of this name (the app's name unless given).
    Auto { name: String },
    /// No user holds a license: the app has no tiers to tell apart.
    None,
    /// Named licenses with rules; a user holds every license whose rules hold.
    Conditions {
        /// In spec order, names unique.
        licenses: Vec<License>,
        /// Held by users who match no license above, if given.
        catch_all: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct License {
    pub name: String,
    /// All must hold; never empty.
    pub when: Vec<Rule>,
}

/// One condition on a JSON value.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Where the tested value is, relative to the user (or array item, inside `some`).
    pub path: Path,
    pub test: Test,
}

/// What a rule tests. Operands were checked to be of the right kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// Equal to the literal (strings compare exactly; `"true"` matches `true`).
    Is(Literal),
    /// Not equal to the literal; a missing value is "not equal".
    IsNot(Literal),
    /// Equal to one of the literals; never empty.
    AnyOf(Vec<Literal>),
    /// A string containing the text, or an array containing the element.
    Contains(Literal),
    /// The negation of [`Test::Contains`]; a missing value does not contain anything.
    NotContains(Literal),
    /// A number (or numeric string) greater than or equal to this.
    AtLeast(f64),
    /// Present, not null, not an empty string or array.
    HasValue,
    /// An array with at least one item for which all these rules hold; never empty.
    Some(Vec<Rule>),
    /// One of these groups holds on the value (the rule's path is `.`, the
    /// user or array item); never empty, nor is any group.
    Any(Vec<Vec<Rule>>),
}

/// A constant in a rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Text(String),
    /// A number, with the text it was written as.
    Number {
        value: f64,
        text: String,
    },
    Bool(bool),
}

/// An organization-defined attribute mapped from the user.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomField {
    /// The attribute's name in the catalog, e.g. `Cost center`.
    pub name: String,
    /// A Rust identifier for it, unique in this spec, e.g. `cost_center`.
    pub ident: String,
    /// The type the catalog gives it.
    pub kind: FieldType,
    /// Where its value is in the user object.
    pub value: Mapped,
}

/// The types a custom attribute can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldType {
    Text,
    Number,
    Email,
    Date,
    MultiValue,
    User,
}

impl FieldType {
    /// Every type with its name in the catalog.
    pub const ALL: [(FieldType, &'static str); 6] = [
        (FieldType::Text, "Text"),
        (FieldType::Number, "Number"),
        (FieldType::Email, "Email"),
        (FieldType::Date, "Date"),
        (FieldType::MultiValue, "Multi-value string"),
        (FieldType::User, "User"),
    ];
}
