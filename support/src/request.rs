//! Requests: the base URL with the connection's values put in, the users
//! endpoint, every auth kind applied, and next pages kept on the base origin.

use reqwest::header::{HeaderName, HeaderValue};
use url::{Origin, Url};

use crate::error::SyncError;
use crate::oauth::TokenProvider;
use crate::secret::{CredentialValues, Secret};
use crate::spec::{
    Auth, Counted, Json, ListingRequest, Lookup, LookupParam, LookupPart, Method, Pagination, Param, Session, Spec,
};
use crate::template::{render, render_url};

/// What a connection brings to a sync.
pub struct Connection<'a> {
    pub credentials: &'a CredentialValues,
    /// For OAuth specs: where the bearer token comes from.
    pub tokens: Option<&'a dyn TokenProvider>,
    /// Replaces the spec's base URL, e.g. with a sandbox or a local test
    /// server. Next pages must then stay on this URL's origin.
    pub base_url: Option<&'a Url>,
}

/// Builds every request of one sync.
#[derive(Clone)]
pub(crate) struct Requests<'s> {
    spec: &'static Spec,
    creds: &'s CredentialValues,
    /// What is redacted from anything shown about these requests.
    secrets: CredentialValues,
    /// Where OAuth's bearer token comes from.
    tokens: Option<&'s dyn TokenProvider>,
    /// The base URL with a trailing `/`, so relative next URLs land under it.
    base: Url,
    /// The first page's URL, built once: every counted page starts from it.
    first: Url,
    /// A POST's JSON body with the connection's values put in.
    body: Option<serde_json::Value>,
    /// The session's values, in the spec's order, as the sign-in gave them.
    session: Vec<String>,
    /// The listing these requests page through, when not the users.
    listing: Option<&'static ListingRequest>,
}

impl<'s> Requests<'s> {
    /// The requests of one sync. `token_origin` is the API's origin from the
    /// token answer, for specs that take it from there; an operator's base URL
    /// (`connection.base_url`) still comes first.
    /// The requests of a connection; `session` holds the values a sign-in gave, which the
    /// request path names.
    pub fn new(
        spec: &'static Spec,
        connection: &Connection<'s>,
        token_origin: Option<&str>,
        session: &[(&str, String)],
    ) -> Result<Self, SyncError> {
        let (creds, tokens) = (connection.credentials, connection.tokens);
        let tokened =
            matches!(spec.auth, Auth::OAuthClientCredentials(_) | Auth::OAuthAuthorizationCode(_) | Auth::Session(_));
        if tokened && tokens.is_none() {
            let how = if matches!(spec.auth, Auth::Session(_)) { "a session" } else { "OAuth 2.0" };
            return Err(SyncError::Config(format!("{} authenticates with {how} and no token was given", spec.app)));
        }
        let base = base(spec, connection, token_origin)?;
        let first = first_url(spec, &base, creds, session);
        let body = spec.endpoint.body.as_ref().map(|body| json(body, creds));
        let session = session.iter().map(|(_, value)| value.clone()).collect();
        Ok(Requests { spec, creds, secrets: secrets(spec, creds), tokens, base, first, body, session, listing: None })
    }

    /// The requests of one listing: the first URL with its query parameters too.
    pub fn listing(&self, listing: &[Param]) -> Requests<'s> {
        let mut requests = self.clone();
        let mut query = requests.first.query_pairs_mut();
        for param in listing {
            query.append_pair(param.name, &render(&param.value, self.creds));
        }
        drop(query);
        requests
    }

    /// The listing these requests page through, when not the users.
    pub fn listing_request(&self) -> Option<&'static ListingRequest> {
        self.listing
    }

    /// The body every page of a POST carries, unless pagination puts a token in it.
    pub fn body(&self) -> Option<&serde_json::Value> {
        self.body.as_ref()
    }

    /// The body of a page after the first for pagination that sends the token
    /// in the body: the first body with the token at `keys`, or, for a
    /// continuation request, a body of the token alone.
    pub fn token_body(&self, keys: &[&str], token: &str, continued: bool) -> serde_json::Value {
        let mut body = match (&self.body, continued) {
            (Some(body), false) => body.clone(),
            _ => serde_json::Value::Object(serde_json::Map::new()),
        };
        let mut at = &mut body;
        for (i, key) in keys.iter().enumerate() {
            if !at.is_object() {
                *at = serde_json::Value::Object(serde_json::Map::new());
            }
            let serde_json::Value::Object(object) = at else { unreachable!("made an object just above") };
            let last = i + 1 == keys.len();
            let slot = object.entry(*key).or_insert(serde_json::Value::Null);
            if last {
                *slot = serde_json::Value::String(token.to_owned());
            }
            at = slot;
        }
        body
    }

    /// The URL of every page after the first of a continuation request.
    pub fn continued(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{}", self.base.path().trim_end_matches('/'), path));
        url.set_query(None);
        url
    }

    /// The secret credentials, as they are and as the requests carry them:
    /// what is redacted from anything shown about these requests.
    pub fn secrets(&self) -> &CredentialValues {
        &self.secrets
    }

    /// The first page's URL, built when the sync began.
    pub fn first(&self) -> Url {
        self.first.clone()
    }

    /// A counted page's URL: the first URL with the offset or page number and the page size.
    pub fn counted(&self, counted: &Counted, position: u64) -> Url {
        let mut url = self.first();
        url.query_pairs_mut()
            .append_pair(counted.position_param, &position.to_string())
            .append_pair(counted.size_param, &counted.page_size.to_string());
        url
    }

    /// The first page's URL, whatever the pagination style.
    pub fn first_page(&self) -> Url {
        match &self.spec.pagination {
            Pagination::Offset(counted) | Pagination::PageNumber(counted) => self.counted(counted, counted.first),
            Pagination::None | Pagination::NextUrl { .. } | Pagination::Token { .. } => self.first(),
        }
    }

    /// A next URL from the API, resolved against the base URL; it must stay on the base origin.
    pub fn next(&self, next: &str) -> Result<Url, SyncError> {
        let url =
            self.base.join(next).map_err(|e| SyncError::Config(format!("the next URL `{next}` is not valid: {e}")))?;
        if url.origin() != self.origin() {
            return Err(SyncError::ForeignOrigin {
                url: self.secrets.redact(url.as_str()),
                expected: self.origin().ascii_serialization(),
            });
        }
        Ok(url)
    }

    pub fn origin(&self) -> Origin {
        self.base.origin()
    }

    /// Where OAuth's bearer token comes from, for OAuth specs.
    pub fn tokens(&self) -> Option<&'s dyn TokenProvider> {
        self.tokens
    }

    /// The request for `url`, with the endpoint's headers and the auth
    /// applied; `bearer` is OAuth's access token, for OAuth specs.
    /// The URL of a lookup for one user, from the user's values `keys`; none when a value its
    /// path names is missing, as the lookup cannot be asked.
    pub fn lookup_url(&self, lookup: &Lookup, keys: &[Option<compact_str::CompactString>]) -> Option<Url> {
        self.templated_url(lookup.path, lookup.query, keys)
    }

    /// The URL of a path and query templated from `keys`; none when a value they name is missing.
    fn templated_url(
        &self,
        path: &[LookupPart],
        query: &[LookupParam],
        keys: &[Option<compact_str::CompactString>],
    ) -> Option<Url> {
        // In the path each value is one segment, encoded here; the query encodes its own values.
        let path = self.lookup_text(path, keys, segment)?;
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base.path().trim_end_matches('/')));
        url.set_query(None);
        if !query.is_empty() {
            let query: Vec<(&str, String)> = query
                .iter()
                .map(|param| Some((param.name, self.lookup_text(param.value, keys, str::to_owned)?)))
                .collect::<Option<_>>()?;
            url.query_pairs_mut().extend_pairs(query);
        }
        Some(url)
    }

    /// The requests that page through a listing (or a group's members, the group's values `keys`),
    /// `since` a query parameter more; none when a value of the group its request names is missing.
    pub fn for_listing(
        &self,
        listing: &'static ListingRequest,
        keys: &[Option<compact_str::CompactString>],
        since: Option<(&str, &str)>,
    ) -> Option<Requests<'s>> {
        let mut first = self.templated_url(listing.path, listing.query, keys)?;
        if let Some((param, value)) = since {
            first.query_pairs_mut().append_pair(param, value);
        }
        if first.query() == Some("") {
            first.set_query(None);
        }
        Some(Requests { first, body: None, listing: Some(listing), ..self.clone() })
    }

    /// A lookup's path or query value with its values put in, each through `encode`; none when a
    /// value of the user it names is not in `keys`.
    fn lookup_text(
        &self,
        parts: &[LookupPart],
        keys: &[Option<compact_str::CompactString>],
        encode: fn(&str) -> String,
    ) -> Option<String> {
        let mut out = String::new();
        for part in parts {
            match part {
                LookupPart::Text(text) => out.push_str(text),
                LookupPart::Credential(index) => out.push_str(&encode(self.creds.get(*index))),
                LookupPart::User(index) => out.push_str(&encode(keys.get(*index)?.as_deref()?)),
                LookupPart::Session(index) => out.push_str(&encode(self.session.get(*index)?)),
            }
        }
        Some(out)
    }

    /// The URL of a batched lookup for the users whose values are `values` (its batch's user value).
    pub fn batch_url(&self, lookup: &Lookup, batch: &crate::spec::Batch, values: &[&str]) -> Option<Url> {
        // The batched value is put in below; the rest of the lookup holds no user value.
        let mut url = self.lookup_url(&Lookup { query: &[], ..lookup.clone() }, &[])?;
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for (index, param) in lookup.query.iter().enumerate() {
            if index != batch.param {
                pairs.push((param.name, self.lookup_text(param.value, &[], str::to_owned)?));
                continue;
            }
            match batch.separator {
                Some(separator) => pairs.push((param.name, values.join(separator))),
                None => pairs.extend(values.iter().map(|value| (param.name, (*value).to_owned()))),
            }
        }
        url.query_pairs_mut().extend_pairs(pairs);
        Some(url)
    }

    /// A lookup's GET: the users request's headers and auth, then the lookup's own headers.
    pub fn build_lookup(
        &self,
        client: &reqwest::Client,
        lookup: &Lookup,
        url: Url,
        bearer: Option<&Secret>,
    ) -> Result<reqwest::Request, SyncError> {
        let mut request = self.build_as(client, reqwest::Method::GET, url, None, bearer)?;
        for header in lookup.headers {
            request.headers_mut().insert(header_name(header)?, header_value(header, self.creds)?);
        }
        Ok(request)
    }

    pub fn build(
        &self,
        client: &reqwest::Client,
        url: Url,
        body: Option<&serde_json::Value>,
        bearer: Option<&Secret>,
    ) -> Result<reqwest::Request, SyncError> {
        let method = match (self.listing, self.spec.endpoint.method) {
            (Some(_), _) | (None, Method::Get) => reqwest::Method::GET,
            (None, Method::Post) => reqwest::Method::POST,
        };
        let mut request = self.build_as(client, method, url, body, bearer)?;
        for header in self.listing.map_or(&[][..], |listing| listing.headers) {
            request.headers_mut().insert(header_name(header)?, header_value(header, self.creds)?);
        }
        Ok(request)
    }

    fn build_as(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        mut url: Url,
        body: Option<&serde_json::Value>,
        bearer: Option<&Secret>,
    ) -> Result<reqwest::Request, SyncError> {
        if let Auth::QueryKey { param, value } = &self.spec.auth {
            // Next URLs of the same origin may lack the key; they never hold it twice.
            if !url.query_pairs().any(|(name, _)| name == *param) {
                url.query_pairs_mut().append_pair(param, &render(value, self.creds));
            }
        }
        let builder = client.request(method, url);
        let builder = match body {
            Some(body) => builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(body).map_err(|e| SyncError::Config(format!("the body is not JSON: {e}")))?),
            None => builder,
        };
        let builder = match &self.spec.auth {
            Auth::Bearer { token } => builder.bearer_auth(render(token, self.creds)),
            Auth::Basic { username, password } => {
                builder.basic_auth(render(username, self.creds), Some(render(password, self.creds)))
            }
            Auth::OAuthClientCredentials(_)
            | Auth::OAuthAuthorizationCode(_)
            | Auth::Session(Session { header: None, .. }) => builder.bearer_auth(bearer.map_or("", Secret::expose)),
            Auth::Session(Session { header: Some(name), .. }) => {
                let mut value =
                    HeaderValue::from_str(bearer.map_or("", Secret::expose)).map_err(|_| SyncError::Auth {
                        message: "the session's token holds characters a header cannot".to_owned(),
                        permanent: true,
                    })?;
                value.set_sensitive(true);
                builder.header(*name, value)
            }
            Auth::Headers(_) | Auth::QueryKey { .. } => builder,
        };
        let mut request =
            builder.build().map_err(|e| SyncError::Config(format!("cannot build the request: {}", e.without_url())))?;
        // Later headers replace earlier ones: a spec's Accept replaces the default.
        let headers = request.headers_mut();
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("application/json"));
        for header in self.spec.endpoint.headers {
            headers.insert(header_name(header)?, header_value(header, self.creds)?);
        }
        if let Auth::Headers(auth_headers) = &self.spec.auth {
            for header in *auth_headers {
                let mut value = header_value(header, self.creds)?;
                value.set_sensitive(true);
                headers.insert(header_name(header)?, value);
            }
        }
        Ok(request)
    }
}

/// The connection's secrets, and Basic auth's base64 pair, which an API that
/// echoes the Authorization header shows in its error.
/// A value as one segment of a URL path: every byte but the unreserved ones (RFC 3986 section
/// 2.3) percent-encoded, so a `/` or `?` in a user's value cannot change which resource is asked.
fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn secrets(spec: &Spec, creds: &CredentialValues) -> CredentialValues {
    match &spec.auth {
        Auth::Basic { username, password } => {
            let pair = format!("{}:{}", render(username, creds), render(password, creds));
            creds.with_secret(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pair))
        }
        _ => creds.clone(),
    }
}

/// A body template with the connection's values put in.
/// The API's base URL for a connection: the connection's own, or the spec's with its values put in,
/// on the origin a token answer gave (`base_url_from`).
pub(crate) fn base(spec: &Spec, connection: &Connection<'_>, token_origin: Option<&str>) -> Result<Url, SyncError> {
    let creds = connection.credentials;
    let base = match (connection.base_url, token_origin) {
        (Some(url), _) => url.as_str().to_owned(),
        (None, Some(origin)) => {
            // The spec's path stays; the token answer gives the scheme, host and port.
            let spec_base = Url::parse(&render_url(&spec.base_url, creds)?)
                .map_err(|e| SyncError::Config(format!("the base URL is not valid with these credentials: {e}")))?;
            format!("{}{}", origin.trim_end_matches('/'), spec_base.path())
        }
        (None, None) => render_url(&spec.base_url, creds)?,
    };
    Url::parse(&format!("{}/", base.trim_end_matches('/')))
        .map_err(|e| SyncError::Config(format!("the base URL is not valid with these credentials: {e}")))
}

pub(crate) fn json(template: &Json, creds: &CredentialValues) -> serde_json::Value {
    use serde_json::Value;
    match template {
        Json::Bool(b) => Value::Bool(*b),
        // The checker made sure it is a number; serde_json keeps its digits.
        Json::Number(n) => serde_json::from_str(n).unwrap_or(Value::Null),
        Json::Text(text) => Value::String(render(text, creds)),
        Json::Array(items) => Value::Array(items.iter().map(|item| json(item, creds)).collect()),
        Json::Object(entries) => {
            Value::Object(entries.iter().map(|(key, value)| ((*key).to_owned(), json(value, creds))).collect())
        }
    }
}

/// The first page's URL: base URL, endpoint path, fixed query parameters.
fn first_url(spec: &Spec, base: &Url, creds: &CredentialValues, session: &[(&str, String)]) -> Url {
    let mut url = base.clone();
    // The checker lets `{name}` stand in the path only for the session's values.
    let mut path = spec.endpoint.path.to_owned();
    for (name, value) in session {
        path = path.replace(&format!("{{{name}}}"), &segment(value));
    }
    let path = format!("{}{}", base.path().trim_end_matches('/'), path);
    url.set_path(&path);
    {
        let mut query = url.query_pairs_mut();
        for param in spec.endpoint.query {
            query.append_pair(param.name, &render(&param.value, creds));
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    url
}

fn header_name(param: &Param) -> Result<HeaderName, SyncError> {
    HeaderName::from_bytes(param.name.as_bytes())
        .map_err(|_| SyncError::Config(format!("`{}` is not a header name", param.name)))
}

fn header_value(param: &Param, creds: &CredentialValues) -> Result<HeaderValue, SyncError> {
    let mut value = HeaderValue::from_str(&render(&param.value, creds)).map_err(|_| {
        SyncError::Config(format!("the value of header `{}` holds characters a header cannot", param.name))
    })?;
    // A header that carries a credential is kept out of HTTP/2's header tables and debug output.
    value.set_sensitive(param.value.0.iter().any(|part| matches!(part, crate::spec::Part::Credential(_))));
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Endpoint, Pagination, Part, Template};

    static KEYED: Spec = Spec {
        app: "Keyed",
        id: "keyed",
        source: "test",
        credentials: &[],
        base_url: Template(&[Part::Text("https://api.example.com/v1")]),
        auth: Auth::QueryKey { param: "api_key", value: Template(&[Part::Credential(0)]) },
        endpoint: Endpoint {
            method: Method::Get,
            path: "/users",
            query: &[],
            headers: &[],
            body: None,
            listings: &[],
            client_certificate: None,
        },
        lookups: &[],
        listings: &[],
        pagination: Pagination::None,
        max_users: None,
    };

    #[test]
    fn the_query_key_goes_on_every_same_origin_url_once() {
        let creds = CredentialValues::new(vec![(Secret::new("k-123"), true)]);
        let connection = Connection { credentials: &creds, tokens: None, base_url: None };
        let requests = Requests::new(&KEYED, &connection, None, &[]).expect("valid");
        let client = reqwest::Client::new();
        let first = requests.build(&client, requests.first(), None, None).expect("built");
        assert_eq!(first.url().as_str(), "https://api.example.com/v1/users?api_key=k-123");
        let next = requests.next("users?page=2").expect("same origin");
        let next = requests.build(&client, next, None, None).expect("built");
        assert_eq!(next.url().as_str(), "https://api.example.com/v1/users?page=2&api_key=k-123");
        let keyed = requests.next("/v1/users?api_key=k-123&page=3").expect("same origin");
        assert_eq!(
            requests.build(&client, keyed, None, None).expect("built").url().query(),
            Some("api_key=k-123&page=3")
        );
        let foreign = requests.next("https://api.example.com.evil.io/v1/users").expect_err("another origin");
        assert!(matches!(foreign, SyncError::ForeignOrigin { .. }));
        let other_scheme = requests.next("http://api.example.com/v1/users").expect_err("another origin");
        assert!(matches!(other_scheme, SyncError::ForeignOrigin { .. }));
    }

    #[test]
    fn values_put_into_the_base_url_cannot_move_it() {
        static TENANT: Spec = Spec {
            base_url: Template(&[Part::Text("https://"), Part::Credential(0), Part::Text(".example.com")]),
            auth: Auth::Bearer { token: Template(&[Part::Credential(1)]) },
            ..TENANT_BASE
        };
        const TENANT_BASE: Spec = Spec {
            app: "Tenant",
            id: "tenant",
            source: "test",
            credentials: &[],
            base_url: Template(&[]),
            auth: Auth::Headers(&[]),
            endpoint: Endpoint {
                method: Method::Get,
                path: "/users",
                query: &[],
                headers: &[],
                body: None,
                listings: &[],
                client_certificate: None,
            },
            lookups: &[],
            listings: &[],
            pagination: Pagination::None,
            max_users: None,
        };
        for (tenant, ok) in [("acme", true), ("evil.io/x?", false), ("a@b", false), ("", false)] {
            let creds = CredentialValues::new(vec![(Secret::new(tenant), false), (Secret::new("t"), true)]);
            let connection = Connection { credentials: &creds, tokens: None, base_url: None };
            assert_eq!(Requests::new(&TENANT, &connection, None, &[]).is_ok(), ok, "{tenant}");
        }
        let creds = CredentialValues::new(vec![(Secret::new("s3cret/slug"), true), (Secret::new("t"), true)]);
        let connection = Connection { credentials: &creds, tokens: None, base_url: None };
        let refused = Requests::new(&TENANT, &connection, None, &[]).err().expect("refused").to_string();
        assert!(refused.ends_with("got `[redacted]`"), "a secret value is not shown: {refused}");
    }
}
