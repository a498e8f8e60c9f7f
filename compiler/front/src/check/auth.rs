//! Credentials and authentication: what a connection supplies, and how each
//! request carries it. Templates resolve `{name}` against the declared credentials.

use crate::ast::{self, AuthArg, Str};
use crate::diag::Diagnostic;
use crate::ir::{self, Template};
use crate::span::Span;
use crate::suggest;

use super::credentials::{self, Credentials, Use, header_name};
use super::settings::Settings;

/// `auth session { … }`: the sign-in request, where its answer holds the token, and the values
/// of the answer later requests use.
fn session(s: &Settings<'_>, creds: &mut Credentials, d: &mut Vec<Diagnostic>) -> Option<ir::Session> {
    let path =
        s.required_string("path", "path = \"/auth/signin\"", d).and_then(|p| super::endpoint::request_path(p, &[], d));
    let body = match s.required("body", "body = { \"credentials\" = { \"name\" = \"{token_name}\" } }", d) {
        Some(ast::Value::Block(block)) => super::endpoint::json_object(block, creds, d),
        Some(other) => {
            d.push(super::values::wrong_kind("body", "a block of JSON keys and values", other));
            None
        }
        None => None,
    };
    let token = s.required("token", "token = credentials.token", d).and_then(|value| keys("token", value, d));
    let header = match s.get("header") {
        None => Some(None),
        Some(_) => s.string("header", d).and_then(|name| {
            let key = ast::Key { text: super::values::plain(name, "a header name", d)?, quoted: true, span: name.span };
            header_name(&key, d).map(Some)
        }),
    };
    let values = match s.get("values") {
        None => Some(Vec::new()),
        Some(ast::Value::Block(block)) => {
            let read: Vec<Option<(String, Vec<String>)>> = block
                .entries
                .iter()
                .map(|entry| Some((entry.key.text.clone(), keys(&entry.key.text, &entry.value, d)?)))
                .collect();
            read.into_iter().collect()
        }
        Some(other) => {
            d.push(super::values::wrong_kind("values", "a block of names and paths of the answer", other));
            None
        }
    };
    Some(ir::Session { path: path?, body: body?, token: token?, header: header?, values: values? })
}

/// A path of the sign-in answer: its keys (an index would name one item of a list, which a
/// session's token is not).
fn keys(name: &str, value: &ast::Value, d: &mut Vec<Diagnostic>) -> Option<Vec<String>> {
    let path = super::values::path_value(name, value, d)?;
    let mut keys = Vec::new();
    for segment in path.segments {
        match segment {
            ir::Segment::Key(key) => keys.push(key),
            ir::Segment::Index(_) => {
                d.push(
                    Diagnostic::error(
                        "tib::session-path",
                        format!("`{name}` is read from the sign-in answer by its keys"),
                        value.span(),
                        "an index",
                    )
                    .with_help("name the value by the keys that lead to it, e.g. credentials.token"),
                );
                return None;
            }
        }
    }
    if keys.is_empty() {
        d.push(
            Diagnostic::error(
                "tib::session-path",
                format!("`{name}` cannot be the whole answer"),
                value.span(),
                "the whole answer",
            )
            .with_help("name the value by the keys that lead to it, e.g. credentials.token"),
        );
        return None;
    }
    Some(keys)
}

/// The auth kinds, as written after `auth`.
pub const KINDS: &[&str] =
    &["bearer", "basic", "headers", "query", "oauth_client_credentials", "oauth_authorization_code", "session"];

/// The settings of each auth kind that takes a block.
pub fn settings(kind: &str) -> &'static [&'static str] {
    match kind {
        "basic" => &["username", "password"],
        "query" => &["param", "value"],
        "oauth_client_credentials" => {
            &["token_url", "scopes", "token_params", "client_auth", "key_id", "grant_type", "subject", "base_url_from"]
        }
        "oauth_authorization_code" => &[
            "authorize_url",
            "token_url",
            "scopes",
            "refresh_tokens",
            "authorize_params",
            "token_params",
            "refresh_params",
            "client_auth",
            "key_id",
            "base_url_from",
        ],
        "session" => &["path", "body", "token", "header", "values"],
        _ => &[],
    }
}

pub fn auth(
    kind: &ast::Word,
    arg: Option<&AuthArg>,
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) -> Option<ir::Auth> {
    let owner = format!("`auth {}`", kind.text);
    let block = |d: &mut Vec<Diagnostic>, example: &str| -> Option<&ast::Block> {
        match arg {
            Some(AuthArg::Block(block)) => Some(block),
            _ => {
                d.push(
                    Diagnostic::error(
                        "tib::incomplete-auth",
                        format!("{owner} needs a block of settings"),
                        arg.map_or(kind.span, |a| match a {
                            AuthArg::Str(s) => s.span,
                            AuthArg::Block(b) => b.span,
                        }),
                        "settings go here",
                    )
                    .with_help(format!("write auth {} {example}", kind.text)),
                );
                None
            }
        }
    };
    match kind.text.as_str() {
        "bearer" => match arg {
            Some(AuthArg::Str(token)) => {
                let token = creds.template(token, Use::Secret, "the bearer token", d)?;
                warn_fixed(&token, "bearer token", kind.span, d);
                Some(ir::Auth::Bearer { token })
            }
            _ => {
                d.push(
                    Diagnostic::error(
                        "tib::incomplete-auth",
                        "`auth bearer` needs the token",
                        kind.span,
                        "which token?",
                    )
                    .with_help("write auth bearer \"{api_token}\" and declare api_token in credentials"),
                );
                None
            }
        },
        "basic" => {
            let block = block(d, "{ username = \"{email}\"  password = \"{api_token}\" }")?;
            let s = Settings::block_among(block, settings("basic"), &owner, &siblings(kind), d);
            let username = s.required_string("username", "username = \"{email}\"", d);
            let password = s.required_string("password", "password = \"{api_token}\"", d);
            let username = creds.template(username?, Use::Secret, "the username", d);
            let password = creds.template(password?, Use::Secret, "the password", d)?;
            warn_fixed(&password, "password", s.span(), d);
            Some(ir::Auth::Basic { username: username?, password })
        }
        "headers" => {
            let block = block(d, "{ \"Authorization\" = \"SSWS {api_token}\" }")?;
            let entries = super::settings::string_map(block, "auth headers", d)?;
            if entries.is_empty() {
                d.push(Diagnostic::error("tib::incomplete-auth", "`auth headers` sets no header", block.span, "empty").with_help(
                    "add at least one header built from a credential, e.g. \"Authorization\" = \"Token token={api_key}\"",
                ));
                return None;
            }
            let mut headers = Vec::new();
            for (entry, value) in entries {
                let value = creds.template(value, Use::Secret, "a header", d);
                headers.push(ir::Param { name: header_name(&entry.key, d)?, value: value? });
            }
            if headers.iter().all(|h| h.value.credentials().next().is_none()) {
                d.push(
                    Diagnostic::error("tib::incomplete-auth", "no header carries a credential", block.span, "only fixed values")
                        .with_help("at least one header must be built from a credential, e.g. \"Authorization\" = \"Token token={api_key}\""),
                );
                return None;
            }
            Some(ir::Auth::Headers { headers })
        }
        "query" => {
            let block = block(d, "{ param = \"api_key\"  value = \"{api_key}\" }")?;
            let s = Settings::block_among(block, settings("query"), &owner, &siblings(kind), d);
            let param = s.required_string("param", "param = \"api_key\"", d);
            let value = s.required_string("value", "value = \"{api_key}\"", d);
            let param = super::values::plain(param?, "a query parameter name", d);
            let value = creds.template(value?, Use::Secret, "the query value", d)?;
            warn_fixed(&value, "query key", s.span(), d);
            Some(ir::Auth::QueryKey { param: param?, value })
        }
        "session" => {
            let block = block(d, "{ path = \"/auth/signin\"  body = { ... }  token = credentials.token }")?;
            let s = Settings::block_among(block, settings("session"), &owner, &siblings(kind), d);
            session(&s, creds, d).map(ir::Auth::Session)
        }
        "oauth_client_credentials" => {
            let block = block(d, "{ token_url = \"https://...\"  scopes = [\"users.read\"] }")?;
            let s = Settings::block_among(block, settings("oauth_client_credentials"), &owner, &siblings(kind), d);
            let grant_type = match s.get("grant_type") {
                None => Some("client_credentials".to_owned()),
                Some(_) => s.string("grant_type", d).and_then(|g| grant_type(g, d)),
            };
            let bearer = grant_type.as_deref() == Some(JWT_BEARER);
            // The JWT bearer grant's signed assertion is the client's proof: no other is sent.
            let client_auth = match (bearer, s.get("client_auth")) {
                (true, Some(value)) => {
                    d.push(
                        Diagnostic::error(
                            "tib::client-auth",
                            "the JWT bearer grant authenticates by its signed assertion",
                            value.span(),
                            "no other client authentication",
                        )
                        .with_help("remove client_auth: the service account's key signs the grant itself"),
                    );
                    None
                }
                (true, None) => Some(ir::ClientAuth::None),
                (false, _) => client_auth(&s, d),
            };
            imply_client(client_auth, bearer, kind.span, creds, d);
            let key_id = key_id(&s, client_auth, creds, d);
            let subject = subject(&s, bearer, creds, d);
            let token_url = s.required_string("token_url", "token_url = \"https://login.example.com/oauth/token\"", d);
            let token_url = token_url.and_then(|url| credentials::url(url, creds, "token_url", d));
            let scopes = s.strings("scopes", d);
            let token_params = params(&s, "token_params", Use::Secret, creds, d);
            let base_url_from = base_url_from(&s, d);
            if let (Some(url), Some(params), Some(grant)) = (s.get("token_url"), &token_params, &grant_type) {
                let scope = scopes.as_ref().is_some_and(|s| !s.is_empty());
                let sent = Sent { grant, scope, exchange: false, params };
                token_query_clash(url, &sent, d);
            }
            Some(ir::Auth::OAuthClientCredentials(ir::OAuthClientCredentials {
                token_url: token_url?,
                scopes: scopes.unwrap_or_default(),
                token_params: token_params?,
                client_auth: client_auth?,
                key_id: key_id?,
                grant_type: grant_type?,
                subject: subject?,
                base_url_from: base_url_from?,
            }))
        }
        "oauth_authorization_code" => {
            let block =
                block(d, "{ authorize_url = \"https://...\"  token_url = \"https://...\"  refresh_tokens = true }")?;
            let s = Settings::block_among(block, settings("oauth_authorization_code"), &owner, &siblings(kind), d);
            let client_auth = client_auth(&s, d);
            imply_client(client_auth, false, kind.span, creds, d);
            let key_id = key_id(&s, client_auth, creds, d);
            let authorize_url =
                s.required_string("authorize_url", "authorize_url = \"https://app.example.com/oauth/authorize\"", d);
            let authorize_url = authorize_url.and_then(|url| credentials::url(url, creds, "authorize_url", d));
            let token_url = s.required_string("token_url", "token_url = \"https://app.example.com/oauth/token\"", d);
            let token_url = token_url.and_then(|url| credentials::url(url, creds, "token_url", d));
            let refresh_tokens = match s.required("refresh_tokens", "refresh_tokens = true", d) {
                Some(_) => s.boolean("refresh_tokens", d),
                None => None,
            };
            let scopes = s.strings("scopes", d);
            let authorize_params = params(&s, "authorize_params", Use::Shown, creds, d);
            let token_params = params(&s, "token_params", Use::Secret, creds, d);
            let refresh_params = params(&s, "refresh_params", Use::Secret, creds, d);
            let base_url_from = base_url_from(&s, d);
            if let (Some(url), Some(params)) = (s.get("token_url"), &token_params) {
                let sent = Sent { grant: "authorization_code", scope: false, exchange: true, params };
                token_query_clash(url, &sent, d);
            }
            Some(ir::Auth::OAuthAuthorizationCode(ir::OAuthAuthorizationCode {
                client_auth: client_auth?,
                key_id: key_id?,
                base_url_from: base_url_from?,
                authorize_url: authorize_url?,
                token_url: token_url?,
                scopes: scopes.unwrap_or_default(),
                refresh_tokens: refresh_tokens?,
                authorize_params: authorize_params?,
                token_params: token_params?,
                refresh_params: refresh_params?,
            }))
        }
        other => {
            d.push(
                Diagnostic::error(
                    "tib::unknown-auth",
                    format!("`{other}` is not an auth kind"),
                    kind.span,
                    "unknown auth kind",
                )
                .did_you_mean(other, KINDS, "auth kinds are"),
            );
            None
        }
    }
}

/// The auth kinds besides `kind` that take a block, for naming a setting of another kind.
fn siblings(kind: &ast::Word) -> Vec<(String, &'static [&'static str])> {
    KINDS
        .iter()
        .filter(|k| **k != kind.text && !settings(k).is_empty())
        .map(|k| (format!("`auth {k}`"), settings(k)))
        .collect()
}

/// The JWT bearer grant's type (RFC 7523 section 2.1); `jwt_bearer` says it for short.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The client's id and, where a secret would be, its private key for `private_key_jwt`
/// or a service account's for the JWT bearer grant: both asked at connect, never
/// declared by the spec.
fn imply_client(
    client_auth: Option<ir::ClientAuth>,
    bearer: bool,
    at: Span,
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) {
    let (id, secret) = match client_auth {
        _ if bearer => (
            "The service account's email (client_email in its key file)",
            "The service account's private key (private_key in its key file)",
        ),
        Some(ir::ClientAuth::PrivateKeyJwt) => {
            ("OAuth client id", "The OAuth client's private key (PEM, PKCS#8; RSA or P-256)")
        }
        _ => ("OAuth client id", "OAuth client secret"),
    };
    creds.imply("client_id", false, id, at, d);
    creds.imply("client_secret", true, secret, at, d);
}

/// `subject = "{admin_email}"`: the user a service account acts for in the JWT bearer grant.
fn subject(
    s: &Settings<'_>,
    bearer: bool,
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) -> Option<Option<Template>> {
    let Some(value) = s.get("subject") else { return Some(None) };
    if !bearer {
        d.push(
            Diagnostic::error(
                "tib::subject",
                "`subject` is the user a JWT bearer grant acts for",
                value.span(),
                "no such grant",
            )
            .with_help(
                "`subject` goes with grant_type = \"jwt_bearer\" (a service account acting for a user); remove it",
            ),
        );
        return None;
    }
    let subject = s.string("subject", d)?;
    creds.template(subject, Use::Secret, "subject", d).map(Some)
}

/// `key_id = "…"`: the `kid` of a `private_key_jwt` assertion, which only that way sends.
fn key_id(
    s: &Settings<'_>,
    client_auth: Option<ir::ClientAuth>,
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) -> Option<Option<ir::Template>> {
    let Some(value) = s.get("key_id") else { return Some(None) };
    if client_auth.is_some_and(|auth| !matches!(auth, ir::ClientAuth::PrivateKeyJwt | ir::ClientAuth::None)) {
        d.push(
            Diagnostic::error(
                "tib::key-id",
                "`key_id` names the key of a signed assertion",
                value.span(),
                "no key is signed with",
            )
            .with_help("`key_id` goes with client_auth = \"private_key_jwt\"; with a client secret, remove it"),
        );
        return None;
    }
    let kid = s.string("key_id", d)?;
    creds.template(kid, Use::Secret, "key_id", d).map(Some)
}

/// `client_auth = "basic" | "post" | "private_key_jwt"`; Basic unless said, as RFC 6749
/// has every server accept it.
fn client_auth(s: &Settings<'_>, d: &mut Vec<Diagnostic>) -> Option<ir::ClientAuth> {
    let Some(value) = s.get("client_auth") else { return Some(ir::ClientAuth::Basic) };
    let text = s.string("client_auth", d)?;
    let written = text.plain();
    match written.as_deref() {
        Some("basic") => Some(ir::ClientAuth::Basic),
        Some("post") => Some(ir::ClientAuth::Post),
        Some("private_key_jwt") => Some(ir::ClientAuth::PrivateKeyJwt),
        other => {
            let other = other.unwrap_or_default();
            let meant = match other {
                "client_secret_basic" | "header" => Some("basic"),
                "client_secret_post" | "body" | "form" => Some("post"),
                "jwt" | "private_key" => Some("private_key_jwt"),
                _ => suggest::closest(other, ["basic", "post", "private_key_jwt"]),
            };
            let refused = Diagnostic::error(
                "tib::client-auth",
                format!("`{other}` is not a way for the client to authenticate"),
                value.span(),
                "expected \"basic\", \"post\" or \"private_key_jwt\"",
            );
            d.push(match meant {
                // The whole string is replaced, quotes and all.
                Some(meant) => {
                    refused.with_help(format!("did you mean `\"{meant}\"`?")).with_replacement(format!("\"{meant}\""))
                }
                None => refused.with_help(suggest::help(other, &["basic", "post", "private_key_jwt"], "the ways are")),
            });
            None
        }
    }
}

/// A grant type is a word of RFC 6749's grammar, e.g. `account_credentials`.
fn grant_type(s: &Str, d: &mut Vec<Diagnostic>) -> Option<String> {
    let text = super::values::plain(s, "the grant type", d)?;
    if text == "jwt_bearer" {
        return Some(JWT_BEARER.to_owned());
    }
    let valid = !text.is_empty() && text.chars().all(|c| c.is_ascii_graphic());
    if !valid {
        d.push(
            Diagnostic::error("tib::grant-type", "the grant type is empty or holds spaces", s.span, "not a grant type")
                .with_help("a grant type is one word, e.g. grant_type = \"account_credentials\""),
        );
        return None;
    }
    Some(text)
}

/// `base_url_from = instance_url`: one key of the token answer.
fn base_url_from(s: &Settings<'_>, d: &mut Vec<Diagnostic>) -> Option<Option<String>> {
    let Some(value) = s.get("base_url_from") else { return Some(None) };
    let path = super::values::path_value("base_url_from", value, d)?;
    match path.segments.as_slice() {
        [ir::Segment::Key(key)] => Some(Some(key.clone())),
        _ => {
            d.push(
                Diagnostic::error(
                    "tib::base-url-from",
                    "`base_url_from` names one field of the token answer",
                    value.span(),
                    "not one key",
                )
                .with_help("e.g. base_url_from = instance_url"),
            );
            None
        }
    }
}

/// Extra OAuth parameters: `{ "audience" = "https://api.example.com" }`.
fn params(
    s: &Settings<'_>,
    name: &str,
    usage: Use,
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) -> Option<Vec<ir::Param>> {
    if s.get(name).is_none() {
        return Some(Vec::new());
    }
    let entries = s.map(name, d)?;
    let mut out = Vec::new();
    for (entry, value) in entries {
        let value = creds.template(value, usage, &format!("`{name}`"), d)?;
        out.push(ir::Param { name: entry.key.text.clone(), value });
    }
    Some(out)
}

/// What a token request sends besides the client's own credentials.
struct Sent<'a> {
    grant: &'a str,
    /// The scopes, as `scope`.
    scope: bool,
    /// The authorization code's exchange: `code`, `redirect_uri`, `code_verifier`.
    exchange: bool,
    params: &'a [ir::Param],
}

/// A parameter in the token URL's own query that the token request also
/// sends: the server sees two that disagree (a URL copied with
/// `?grant_type=account_credentials` beside the `client_credentials` tib sends).
fn token_query_clash(url: &ast::Value, sent: &Sent<'_>, d: &mut Vec<Diagnostic>) {
    let ast::Value::Str(url) = url else { return };
    let text = crate::parse::string_text(url);
    let Some((_, query)) = text.split_once('?') else { return };
    let query = query.split('#').next().unwrap_or_default();
    for name in query.split('&').map(|pair| pair.split('=').next().unwrap_or_default()) {
        let help = match name {
            "grant_type" if sent.grant == "authorization_code" => {
                "the code's exchange sends grant_type = authorization_code itself: remove it from the URL".to_owned()
            }
            "grant_type" => format!(
                "the token request sends grant_type = \"{}\" itself: remove it from the URL, and say the grant with \
                 grant_type = \"…\" (e.g. grant_type = \"account_credentials\")",
                sent.grant
            ),
            "scope" if sent.scope => {
                "the token request sends the scopes itself: remove `scope` from the URL".to_owned()
            }
            "code" | "redirect_uri" | "code_verifier" if sent.exchange => {
                format!("the code's exchange sends `{name}` itself: remove it from the URL")
            }
            other if sent.params.iter().any(|p| p.name == other) => {
                format!("`{other}` is in token_params too: keep it there, and remove it from the URL")
            }
            _ => continue,
        };
        d.push(
            Diagnostic::error(
                "tib::token-url-query",
                format!("`{name}` is in the token URL's query and the token request sends it too"),
                url.span,
                "in this URL's query",
            )
            .with_help(help),
        );
    }
}

/// A secret fixed in the spec would be shared by every connection and
/// committed with the spec: almost always a mistake.
fn warn_fixed(template: &Template, what: &str, span: Span, d: &mut Vec<Diagnostic>) {
    if template.credentials().next().is_none() {
        d.push(
            Diagnostic::warning(
                "tib::fixed-secret",
                format!("the {what} is fixed in the spec"),
                span,
                "no credential placeholder",
            )
            .with_help("every connection would share it and it would be committed with the spec; use a {placeholder}"),
        );
    }
}
