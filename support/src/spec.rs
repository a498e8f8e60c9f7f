//! The static description of a connector, written by generated code as
//! constants: where the API is, how to authenticate, how pages follow.
//! Paths into responses are not here: generated code reads them typed.

/// One connector's request side.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The app's display name.
    pub app: &'static str,
    /// The connector's id (`connectors/<id>`).
    pub id: &'static str,
    /// The spec file it was generated from, workspace-relative.
    pub source: &'static str,
    /// Values asked for at connect time, in index order.
    pub credentials: &'static [CredentialSpec],
    pub base_url: Template,
    pub auth: Auth,
    pub endpoint: Endpoint,
    /// Requests asked per listed user; their answers go to [`crate::Connector::parse_joined`].
    pub lookups: &'static [Lookup],
    /// Other listings, read whole before the users; what their items give each user is joined
    /// after the lookups' answers.
    pub listings: &'static [Listing],
    pub pagination: Pagination,
    /// The most users the API lists through this paging: reaching it with more remaining
    /// fails the sync ([`crate::SyncError::Capped`]), and no request asks past it.
    pub max_users: Option<u64>,
}

/// `lookup membership GET "/memberships/{login}"`: a GET per listed user.
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The name the spec reads its answer under.
    pub name: &'static str,
    /// Appended to the base URL's path.
    pub path: &'static [LookupPart],
    pub query: &'static [LookupParam],
    /// Sent after the users request's own headers, replacing any of the same name.
    pub headers: &'static [Param],
    /// A 404 means the user has nothing there (`not_found = "none"`); otherwise it fails the sync.
    pub not_found_is_nothing: bool,
    /// Requests of this lookup in flight at once, across the sync.
    pub concurrency: u32,
    /// Asked for many users at once, where the API allows it.
    pub batch: Option<Batch>,
}

/// A lookup asked for many users in one request (Jira's `user/bulk?accountId=a&accountId=b`).
#[derive(Clone, Debug)]
pub struct Batch {
    /// Users per request, at most.
    pub size: u32,
    /// The query parameter (by index in [`Lookup::query`]) that carries the users' values.
    pub param: usize,
    /// The user value it carries ([`LookupPart::User`]'s index).
    pub user: usize,
    /// Joins the values into one parameter; none: the parameter is repeated, one per user.
    pub separator: Option<&'static str>,
    /// The keys that lead to the answer's list of items, one per user found.
    pub at: &'static [&'static str],
    /// The keys in an item that lead to the user's value, which names whose it is.
    pub key: &'static [&'static str],
}

/// `listing access GET "/team.accessLogs"`: another listing, read whole before the users, whose
/// items name the users they belong to ([`crate::listing`]).
#[derive(Clone, Debug)]
pub struct Listing {
    /// The name the spec reads what it gave a user under.
    pub name: &'static str,
    pub request: ListingRequest,
    pub kind: ListingKind,
    /// The listed user's value its items name, by index in what [`crate::Connector::lookup_keys`] gives.
    pub matches: usize,
    /// The keys of an item kept for its user; none: the whole item.
    pub keep: Option<&'static [&'static str]>,
}

/// The paged GET of a listing, or of a group's members.
#[derive(Clone, Debug)]
pub struct ListingRequest {
    /// Appended to the base URL's path; in a members request [`LookupPart::User`] is the group's value.
    pub path: &'static [LookupPart],
    pub query: &'static [LookupParam],
    /// Sent after the users request's own headers, replacing any of the same name.
    pub headers: &'static [Param],
    pub pagination: Pagination,
    /// Where each answer holds the items (empty: the answer is the list).
    pub items: &'static [Step],
    /// Where each answer holds the next URL or token, the has-more flag and the total, where the
    /// pagination reads them from the body.
    pub next: Option<&'static [Step]>,
    pub more: Option<&'static [Step]>,
    pub total: Option<&'static [Step]>,
}

#[derive(Clone, Debug)]
pub enum ListingKind {
    /// Each user gets the list of the items that name them at `user`.
    Items { user: &'static [Step] },
    /// Each user gets their latest event (time at `at`) within the last `days` days.
    Latest {
        user: &'static [Step],
        at: &'static [Step],
        days: u32,
        /// The query parameter that asks for events since the window's start, and how it is written.
        since: Option<(&'static str, TimeFormat)>,
    },
    /// The items are groups; `members` lists each group's members (its [`LookupPart::User`] the
    /// group's values at `group_keys`), who name their user at `user`. Each user gets their groups.
    Members { members: &'static ListingRequest, group_keys: &'static [&'static [Step]], user: &'static [Step] },
}

/// A step into JSON: an object's key or an array's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Key(&'static str),
    Index(usize),
}

/// How a time is written in a query value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// Seconds since 1970.
    Unix,
    /// `2024-12-07`.
    Date,
    /// RFC 3339.
    Iso,
}

/// A query parameter of a lookup; its value may hold the user's values.
#[derive(Clone, Debug)]
pub struct LookupParam {
    pub name: &'static str,
    pub value: &'static [LookupPart],
}

#[derive(Clone, Debug)]
pub enum LookupPart {
    Text(&'static str),
    /// The credential at this index.
    Credential(usize),
    /// The listed user's value at this index of what [`crate::Connector::lookup_keys`] gives.
    User(usize),
    /// The session's value at this index of [`Session::values`].
    Session(usize),
}

#[derive(Clone, Debug)]
pub struct CredentialSpec {
    pub name: &'static str,
    pub secret: bool,
    pub description: &'static str,
}

/// Text with credential values put in at request time.
#[derive(Clone, Debug)]
pub struct Template(pub &'static [Part]);

#[derive(Clone, Debug)]
pub enum Part {
    Text(&'static str),
    /// The credential at this index.
    Credential(usize),
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: &'static str,
    pub value: Template,
}

#[derive(Clone, Debug)]
pub enum Auth {
    Bearer {
        token: Template,
    },
    Basic {
        username: Template,
        password: Template,
    },
    Headers(&'static [Param]),
    QueryKey {
        param: &'static str,
        value: Template,
    },
    OAuthClientCredentials(OAuthClientCredentials),
    OAuthAuthorizationCode(OAuthAuthorizationCode),
    /// A sign-in request whose answer holds the token ([`crate::session`]).
    Session(Session),
}

/// `auth session`: the sign-in request, and what of its answer later requests use.
#[derive(Clone, Debug)]
pub struct Session {
    /// After the base URL: a POST of `body` as JSON.
    pub path: &'static str,
    pub body: Json,
    /// The keys in the answer that lead to the token.
    pub token: &'static [&'static str],
    /// The header the token is sent in; none: `Authorization: Bearer`.
    pub header: Option<&'static str>,
    /// Values of the answer, by name, that the request path holds as `{name}`.
    pub values: &'static [(&'static str, &'static [&'static str])],
}

#[derive(Clone, Debug)]
pub struct OAuthClientCredentials {
    pub token_url: Template,
    pub scopes: &'static [&'static str],
    pub token_params: &'static [Param],
    pub client_auth: ClientAuth,
    /// The `kid` of a `private_key_jwt` assertion's key, when the provider asks for it.
    pub key_id: Option<Template>,
    /// `client_credentials`, a provider's variant (`account_credentials`), or the
    /// JWT bearer grant ([`crate::oauth::JWT_BEARER`]).
    pub grant_type: &'static str,
    /// The JWT bearer grant's subject: the user a service account acts for.
    pub subject: Option<Template>,
    /// The token answer's field that gives the API's base URL.
    pub base_url_from: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct OAuthAuthorizationCode {
    pub authorize_url: Template,
    pub token_url: Template,
    pub scopes: &'static [&'static str],
    pub refresh_tokens: bool,
    pub authorize_params: &'static [Param],
    pub token_params: &'static [Param],
    pub refresh_params: &'static [Param],
    pub client_auth: ClientAuth,
    /// The `kid` of a `private_key_jwt` assertion's key, when the provider asks for it.
    pub key_id: Option<Template>,
    /// The token answer's field that gives the API's base URL.
    pub base_url_from: Option<&'static str>,
}

impl Auth {
    /// The token answer's field that gives the API's base URL, for OAuth specs that say so.
    pub fn base_url_from(&self) -> Option<&'static str> {
        match self {
            Auth::OAuthClientCredentials(cc) => cc.base_url_from,
            Auth::OAuthAuthorizationCode(ac) => ac.base_url_from,
            _ => None,
        }
    }
}

/// How the OAuth client authenticates to the token endpoint (RFC 6749 section 2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: an HTTP Basic header.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
    /// `private_key_jwt` (RFC 7523): an assertion signed with the client's private
    /// key, which the connection holds where a client secret would be.
    PrivateKeyJwt,
    /// No client authentication: the JWT bearer grant's signed assertion is the proof.
    None,
}

#[derive(Clone, Debug)]
pub struct Endpoint {
    pub method: Method,
    /// Appended to the base URL's path.
    pub path: &'static str,
    pub query: &'static [Param],
    pub headers: &'static [Param],
    /// A POST's JSON body.
    pub body: Option<Json>,
    /// Query variants listed one after another in one sync; empty: one listing.
    pub listings: &'static [&'static [Param]],
    /// The credential (by index) holding the client certificate and its key, PEM, for an API that
    /// authenticates its clients by certificate (mTLS).
    pub client_certificate: Option<usize>,
}

/// A JSON body template.
#[derive(Clone, Debug)]
pub enum Json {
    Bool(bool),
    /// A number as written.
    Number(&'static str),
    Text(Template),
    Array(&'static [Json]),
    Object(&'static [(&'static str, Json)]),
}

/// Where a token is sent back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenTarget {
    Query(&'static str),
    /// Keys into the JSON body.
    Body(&'static [&'static str]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

#[derive(Clone, Debug)]
pub enum Pagination {
    None,
    Offset(Counted),
    PageNumber(Counted),
    NextUrl {
        source: NextUrlSource,
        stop: &'static [TokenStop],
    },
    Token {
        param: TokenTarget,
        /// The path of every request after the first, whose body holds only the token.
        continue_path: Option<&'static str>,
        source: TokenSource,
        stop: &'static [TokenStop],
    },
}

/// Offset/limit or page-number pagination.
#[derive(Clone, Debug)]
pub struct Counted {
    /// The offset or page-number parameter.
    pub position_param: &'static str,
    /// The page-size parameter.
    pub size_param: &'static str,
    pub page_size: u32,
    /// The first offset or page number.
    pub first: u64,
    /// Pages fetched at once.
    pub concurrency: u32,
    pub stop: &'static [CountStop],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountStop {
    EmptyPage,
    ShortPage,
    /// The page's has-more flag ([`crate::PageInfo::more`]) is not true.
    NoMore,
    /// As many users as [`crate::PageInfo::total`] have been received.
    Total,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextUrlSource {
    /// [`crate::PageInfo::next`], read from the body by generated code.
    Body,
    LinkHeader,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Body,
    Header(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStop {
    MissingToken,
    EmptyPage,
    NoMore,
}
