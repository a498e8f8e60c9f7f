//! The base URL, the users request and the 200-with-error rule: where users are
//! asked for and how a failed answer is recognised.

use crate::ast::{self, Str};
use crate::diag::Diagnostic;
use crate::ir::{self, Template, TemplatePart};
use crate::span::Span;
use crate::suggest;

use super::credentials::{Credentials, Use, header_name};
use super::sections::Request;
use super::settings::Settings;

/// The settings of the `request` block.
pub const REQUEST_SETTINGS: &[&str] = &["query", "headers", "body", "listings", "client_certificate"];

pub fn base_url(s: &Str, creds: &mut Credentials, d: &mut Vec<Diagnostic>) -> Option<Template> {
    let mut template = super::credentials::url(s, creds, "base_url", d)?;
    let has_query = template.parts.iter().any(|p| matches!(p, TemplatePart::Text(t) if t.contains('?')));
    if has_query {
        d.push(
            Diagnostic::error("tib::base-url-query", "base_url has a query string", s.span, "query here").with_help(
                "put fixed query parameters in the request: request GET \"/users\" { query = { \"a\" = \"b\" } }",
            ),
        );
        return None;
    }
    // Request paths start with `/`; one trailing slash here would double it.
    if let Some(TemplatePart::Text(last)) = template.parts.last_mut() {
        while last.ends_with('/') && !last.ends_with("://") {
            last.pop();
        }
    }
    Some(template)
}

/// The request settings, checked against what auth and pagination also put in the request.
pub fn endpoint(
    request: Request<'_>,
    pagination: Option<&ir::Pagination>,
    auth: Option<&ir::Auth>,
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) -> Option<ir::Endpoint> {
    let method = match request.method.text.as_str() {
        "GET" => Some(ir::Method::Get),
        "POST" => Some(ir::Method::Post),
        other => {
            let help = match other.to_ascii_uppercase().as_str() {
                upper @ ("GET" | "POST") => format!("methods are upper case: `{upper}`"),
                _ => suggest::help(other, &["GET", "POST"], "users are listed with"),
            };
            d.push(
                Diagnostic::error(
                    "tib::method",
                    format!("`{other}` is not a method for listing users"),
                    request.method.span,
                    "unknown method",
                )
                .with_help(help),
            );
            None
        }
    };
    let session: Vec<String> = match auth {
        Some(ir::Auth::Session(session)) => session.values.iter().map(|(name, _)| name.clone()).collect(),
        _ => Vec::new(),
    };
    let path = request_path(request.path, &session, d);
    let mut client_certificate = Some(None);
    let (query, headers, body, listings) = match request.settings {
        Some(block) => {
            let s = Settings::block(block, REQUEST_SETTINGS, "`request`", d);
            if s.get("client_certificate").is_some() {
                client_certificate =
                    s.string("client_certificate", d).and_then(|value| certificate(value, creds, d)).map(Some);
            }
            let body = match s.get("body") {
                None => Some(None),
                Some(ast::Value::Block(block)) => json_object(block, creds, d).map(Some),
                Some(other) => {
                    d.push(super::values::wrong_kind("body", "a block of JSON keys and values", other));
                    None
                }
            };
            let query = fixed_params(&s, "query", Use::Shown, creds, d);
            (query, fixed_params(&s, "headers", Use::Secret, creds, d), body, listings(&s, d))
        }
        None => (Some(Vec::new()), Some(Vec::new()), Some(None), Some(Vec::new())),
    };
    let (query, headers, body, listings) = (query?, headers?, body?, listings?);
    let mut ok = body_fits(request, method, &body, pagination, d);
    for listing in &listings {
        for (param, span) in listing {
            if query.iter().any(|(q, _)| q.name == param.name) {
                d.push(
                    Diagnostic::error(
                        "tib::param-conflict",
                        format!("query parameter `{}` is set by the request and by a listing", param.name),
                        *span,
                        "set by this listing",
                    )
                    .with_help("set it in each listing only"),
                );
                ok = false;
            }
        }
    }
    for (param, span) in query.iter().chain(listings.iter().flatten()) {
        if pagination.is_some_and(|p| set_by_pagination(p, &param.name)) {
            d.push(
                Diagnostic::error(
                    "tib::param-conflict",
                    format!("query parameter `{}` is set by pagination", param.name),
                    *span,
                    "set here too",
                )
                .with_help("remove it; pagination sets it on every page"),
            );
            ok = false;
        }
        if let Some(ir::Auth::QueryKey { param: key, .. }) = auth
            && key == &param.name
        {
            d.push(
                Diagnostic::error(
                    "tib::param-conflict",
                    format!("query parameter `{key}` is the API key"),
                    *span,
                    "set here too",
                )
                .with_help("remove it; auth query adds it to every request"),
            );
            ok = false;
        }
    }
    for (header, span) in &headers {
        let by_auth = match auth {
            Some(ir::Auth::Headers { headers }) => headers.iter().any(|h| h.name.eq_ignore_ascii_case(&header.name)),
            Some(ir::Auth::QueryKey { .. }) | None => false,
            Some(_) => header.name.eq_ignore_ascii_case("authorization"),
        };
        if by_auth {
            d.push(
                Diagnostic::error(
                    "tib::header-conflict",
                    format!("header `{}` is set by auth", header.name),
                    *span,
                    "set here too",
                )
                .with_help("remove it from the request; auth sets it with the connection's credentials"),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let listings = listings.into_iter().map(|listing| listing.into_iter().map(|(p, _)| p).collect()).collect();
    Some(ir::Endpoint {
        method: method?,
        path: path?,
        query: query.into_iter().map(|(p, _)| p).collect(),
        headers: headers.into_iter().map(|(p, _)| p).collect(),
        body,
        listings,
        client_certificate: client_certificate?,
    })
}

/// `client_certificate = "{certificate}"`: one secret credential, whose value is a PEM
/// certificate (or chain) with its private key.
fn certificate(value: &Str, creds: &mut Credentials, d: &mut Vec<Diagnostic>) -> Option<ir::CredentialId> {
    let template = creds.template(value, Use::Secret, "the client certificate", d)?;
    match template.parts.as_slice() {
        [ir::TemplatePart::Credential(id)] if creds.is_secret(*id) => Some(*id),
        _ => {
            d.push(
                Diagnostic::error(
                    "tib::client-certificate",
                    "the client certificate is one secret credential",
                    value.span,
                    "not one secret credential",
                )
                .with_help(
                    "declare it secret and name it alone: credentials { certificate secret \"The client certificate \
                     and its private key, PEM\" } and client_certificate = \"{certificate}\"",
                ),
            );
            None
        }
    }
}

/// `listings = [ { "status" = "inactive" }, ... ]`: two at least, each with its parameters.
fn listings(s: &Settings<'_>, d: &mut Vec<Diagnostic>) -> Option<Vec<Vec<(ir::Param, Span)>>> {
    let Some(value) = s.get("listings") else { return Some(Vec::new()) };
    let ast::Value::List(items, span) = value else {
        d.push(super::values::wrong_kind("listings", "a list of query blocks", value));
        return None;
    };
    if items.len() < 2 {
        d.push(
            Diagnostic::error("tib::listings", "`listings` needs two listings at least", *span, "one listing or none")
                .with_help("one listing is the request itself: put its parameters in `query`"),
        );
        return None;
    }
    let mut out = Vec::new();
    // Each listing's parameters, in order, to find one written twice.
    let mut seen: Vec<(Vec<(String, String)>, Span)> = Vec::new();
    for item in items {
        let ast::Value::Block(block) = item else {
            d.push(super::values::wrong_kind("a listing", "a block of query parameters", item));
            return None;
        };
        let mut listing = Vec::new();
        let mut params = Vec::new();
        for (entry, value) in super::settings::string_map(block, "a listing", d)? {
            let text = super::values::plain(value, "a listing's value", d)?;
            params.push((entry.key.text.clone(), text.clone()));
            listing.push((ir::Param { name: entry.key.text.clone(), value: Template::text(text) }, entry.key.span));
        }
        params.sort();
        if let Some((_, first)) = seen.iter().find(|(other, _)| *other == params) {
            d.push(
                Diagnostic::error("tib::listings", "this listing is written twice", block.span, "the same again")
                    .with_label(*first, "first written here")
                    .with_help("each listing is read once per sync: its users would be read twice; remove one"),
            );
            return None;
        }
        seen.push((params, block.span));
        out.push(listing);
    }
    Some(out)
}

/// A POST carries a JSON body and a GET none; the token goes into a body only where there is one.
fn body_fits(
    request: Request<'_>,
    method: Option<ir::Method>,
    body: &Option<ir::Json>,
    pagination: Option<&ir::Pagination>,
    d: &mut Vec<Diagnostic>,
) -> bool {
    match (method, body) {
        (Some(ir::Method::Post), None) => {
            d.push(
                Diagnostic::error("tib::post-without-body", "a POST request needs a `body`", request.method.span, "POST")
                    .with_help("APIs that list users by POST read a JSON body: give it, e.g. body = { \"limit\" = 100 }; an empty one is body = {}"),
            );
            return false;
        }
        (Some(ir::Method::Get), Some(_)) => {
            d.push(
                Diagnostic::error("tib::get-with-body", "a GET request carries no body", request.method.span, "GET")
                    .with_help("use POST for an API that reads a JSON body, or move the values to `query`"),
            );
            return false;
        }
        _ => {}
    }
    if let (Some(ir::Pagination::Token(ir::Token { param: ir::TokenTarget::Body(_), .. })), None) = (pagination, body) {
        d.push(
            Diagnostic::error(
                "tib::token-target",
                "the token goes into the body, and the request has none",
                request.method.span,
                "no body",
            )
            .with_help("list with POST and a JSON body, or send the token in the query with `param`"),
        );
        return false;
    }
    true
}

/// A JSON object template: strings may hold credential placeholders.
pub(super) fn json_object(block: &ast::Block, creds: &mut Credentials, d: &mut Vec<Diagnostic>) -> Option<ir::Json> {
    // A map keeps a long body linear.
    let mut seen: std::collections::HashMap<&str, &ast::Entry> = std::collections::HashMap::new();
    let mut entries = Vec::new();
    let mut ok = true;
    for entry in &block.entries {
        if let Some(first) = seen.get(entry.key.text.as_str()) {
            d.push(
                Diagnostic::error(
                    "tib::duplicate-setting",
                    format!("key `{}` is given twice in the body", entry.key.text),
                    entry.key.span,
                    "given again here",
                )
                .with_label(first.key.span, "first given here")
                .with_help("a JSON object holds each key once: keep one"),
            );
            ok = false;
            continue;
        }
        seen.insert(&entry.key.text, entry);
        match json(&entry.value, creds, d) {
            Some(value) => entries.push((entry.key.text.clone(), value)),
            None => ok = false,
        }
    }
    ok.then_some(ir::Json::Object(entries))
}

fn json(value: &ast::Value, creds: &mut Credentials, d: &mut Vec<Diagnostic>) -> Option<ir::Json> {
    match value {
        ast::Value::Bool(b, _) => Some(ir::Json::Bool(*b)),
        ast::Value::Number(n) => super::values::number(n, d).map(|_| ir::Json::Number(n.text.clone())),
        ast::Value::Str(s) => creds.template(s, Use::Secret, "the request body", d).map(ir::Json::Text),
        ast::Value::List(items, _) => {
            let items: Vec<Option<ir::Json>> = items.iter().map(|item| json(item, creds, d)).collect();
            items.into_iter().collect::<Option<_>>().map(ir::Json::Array)
        }
        ast::Value::Block(block) => json_object(block, creds, d),
        ast::Value::Todo(gap) => {
            d.push(super::values::todo(gap, "a string, number, true/false, list or block"));
            None
        }
        other => {
            d.push(
                Diagnostic::error(
                    "tib::body-value",
                    format!("a body value is a string, number, true/false, list or block, not {}", other.kind_name()),
                    other.span(),
                    "not JSON",
                )
                .with_help("write text in quotes, e.g. \"query\" = \"{ users { nodes { id } } }\""),
            );
            None
        }
    }
}

/// The request path is relative to base_url and starts with `/`.
/// A request path; `{name}` may stand in it for each of `session` (the session's values), and
/// is kept as written.
pub fn request_path(s: &Str, session: &[String], d: &mut Vec<Diagnostic>) -> Option<String> {
    let unknown = s.parts.iter().find_map(|part| match part {
        ast::StrPart::Placeholder(word) if !session.contains(&word.text) => Some(word),
        _ => None,
    });
    let path = match unknown {
        // A session's values are what a path may name: one it does not give is named as such.
        Some(word) if !session.is_empty() => {
            let names: Vec<&str> = session.iter().map(String::as_str).collect();
            let unknown = Diagnostic::error(
                "tib::session-value",
                format!("`{{{}}}` is no value the session gives", word.text),
                word.span,
                "not a value of the session",
            );
            d.push(match suggest::closest(&word.text, names.iter().copied()) {
                Some(best) => unknown
                    .with_help(format!("did you mean `{best}`? The session's values are named in its `values`"))
                    .with_replacement(best),
                None => unknown.with_help(format!(
                    "the path may name the session's values ({}); add this one to `values` in `auth session`",
                    names.join(", ")
                )),
            });
            return None;
        }
        Some(_) => super::values::plain(s, "the request path", d)?,
        None => crate::parse::string_text(s),
    };
    if path.starts_with("http://") || path.starts_with("https://") {
        d.push(
            Diagnostic::error("tib::absolute-request-path", "the request path is a full URL", s.span, "absolute URL")
                .with_help("put scheme and host in base_url and write only the path here, e.g. \"/users\""),
        );
        return None;
    }
    if !path.starts_with('/') {
        d.push(
            Diagnostic::error(
                "tib::relative-request-path",
                "the request path must start with `/`",
                s.span,
                "no leading /",
            )
            .with_help(format!("write \"/{path}\"; it is appended to base_url's path")),
        );
        return None;
    }
    if path.contains('?') {
        d.push(
            Diagnostic::error("tib::query-in-path", "the request path has a query string", s.span, "query here")
                .with_help("move the parameters to: request GET \"/users\" { query = { \"name\" = \"value\" } }"),
        );
        return None;
    }
    Some(path)
}

/// The request's own query parameters or headers. Their values may hold
/// credentials (Asana's `workspace`, Harvest's account id): in a query only
/// text ones, since URLs are logged and shown.
pub(super) fn fixed_params(
    s: &Settings<'_>,
    name: &str,
    usage: Use,
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) -> Option<Vec<(ir::Param, Span)>> {
    if s.get(name).is_none() {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (entry, value) in s.map(name, d)? {
        let param_name = if name == "headers" { header_name(&entry.key, d) } else { Some(entry.key.text.clone()) };
        match (param_name, creds.template(value, usage, &format!("a request {name} value"), d)) {
            (Some(name), Some(value)) => out.push((ir::Param { name, value }, entry.key.span)),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// Whether pagination sets this query parameter on every page.
fn set_by_pagination(pagination: &ir::Pagination, name: &str) -> bool {
    match pagination {
        ir::Pagination::Offset(o) => name == o.offset_param || name == o.limit_param,
        ir::Pagination::PageNumber(p) => name == p.page_param || name == p.size_param,
        ir::Pagination::Token(ir::Token { param: ir::TokenTarget::Query(param), .. }) => name == param,
        ir::Pagination::Token(_) => false,
        ir::Pagination::None | ir::Pagination::NextUrl(_) => false,
    }
}

pub fn api_error(
    when: &ast::RuleGroup,
    message: Option<&ast::Path>,
    classes: &[ast::ApiClass],
    d: &mut Vec<Diagnostic>,
) -> Option<ir::ApiError> {
    let rules = super::rules::group(when, "`api_error when`", d);
    let (mut refused, mut rate_limited, mut classes_ok) = (None, None, true);
    let mut first: Vec<&ast::ApiClass> = Vec::new();
    for class in classes {
        let kind = class.kind.text.as_str();
        if let Some(earlier) = first.iter().find(|c| c.kind.text == kind) {
            d.push(
                Diagnostic::error(
                    "tib::duplicate-setting",
                    format!("`{kind} when` is given twice"),
                    class.kind.span,
                    "given again here",
                )
                .with_label(earlier.kind.span, "first given here")
                .with_help("put the alternatives in one rule with `any of`, or in an `any` group"),
            );
            continue;
        }
        first.push(class);
        let Some(checked) = super::rules::group(&class.when, &format!("`{kind} when`"), d) else {
            classes_ok = false;
            continue;
        };
        if kind == "refused" { refused = Some(checked) } else { rate_limited = Some(checked) }
    }
    let message = match message {
        Some(path) => super::values::path(path, d),
        None => {
            d.push(
                Diagnostic::error(
                    "tib::api-error-message",
                    "`api_error` does not say where the error message is",
                    when.span,
                    "after these rules",
                )
                .with_help("add `message <path>`, e.g. api_error when { ok is false } message error"),
            );
            None
        }
    };
    if !classes_ok {
        return None;
    }
    // `refused` is tried first: when every answer `rate_limited` matches passes it too, a rate
    // limit disables the connection as if its credentials were wrong.
    if let (Some(refused_rules), Some(limited_rules)) = (&refused, &rate_limited)
        && refused_rules.iter().all(|a| limited_rules.iter().any(|b| super::status::implies(b, a)))
    {
        let span = |kind: &str| classes.iter().find(|c| c.kind.text == kind).map(|c| c.when.span);
        if let (Some(refused_at), Some(limited_at)) = (span("refused"), span("rate_limited")) {
            d.push(
                Diagnostic::error(
                    "tib::shadowed-class",
                    "every answer `rate_limited` matches is also `refused`, which is tried first",
                    limited_at,
                    "never reached",
                )
                .with_label(refused_at, "this matches those answers too")
                .with_help(
                    "narrow `refused` so that it leaves rate limits out, e.g. add `error.code is not \"rate_limited\"`",
                ),
            );
            return None;
        }
    }
    Some(ir::ApiError { when: rules?, message: message?, refused, rate_limited })
}
