//! `compiler import openapi`: a draft `.tib` from an OpenAPI document.
//!
//! The pipeline: the [document](document) (JSON or YAML, 3.x or Swagger 2.0,
//! `$ref`s followed) → the [operation](operation) that lists the users →
//! a [`Draft`](draft::Draft) whose every part is found in the document or
//! left as a gap (`auth`, `paging`, `users`, `mapping`) → its text. A gap is
//! written `todo "what belongs here"`, which the checker refuses with that
//! text, so a draft cannot be used before its author has filled it in.

mod auth;
mod document;
mod draft;
mod mapping;
mod operation;
mod paging;
mod users;

use serde_json::Value;

use document::{Document, Version};
use draft::{Draft, Piece, Slot, Template};
pub use operation::Choice;

/// What to draft.
pub struct Options<'a> {
    pub choice: Choice<'a>,
    /// The app's name; otherwise the document's title without "API".
    pub app: Option<&'a str>,
    /// The document's file name, for the draft's first comment.
    pub source: &'a str,
}

/// A draft and what its author must do with it.
#[derive(Debug)]
pub struct Imported {
    /// The spec's text.
    pub text: String,
    /// `GET /users (listUsers)`.
    pub operation: String,
    /// What each gap asks for, in the order the text holds them.
    pub gaps: Vec<String>,
}

#[derive(Debug)]
pub enum Error {
    /// Neither JSON nor YAML, or no `paths`.
    Unreadable(String),
    /// JSON or YAML, but no `openapi: 3.x` or `swagger: "2.0"`.
    NotOpenApi,
    /// No operation looks like a users listing; the operations there are.
    NoUsersOperation(Vec<String>),
    /// What was asked for is not in the document; the operations there are.
    NoSuchOperation(String, Vec<String>),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let listed = |ops: &[String]| {
            if ops.is_empty() {
                " (it has no GET or POST operation)".to_owned()
            } else {
                format!(":\n  {}", ops.join("\n  "))
            }
        };
        match self {
            Error::Unreadable(why) => write!(f, "the document cannot be read {why}"),
            Error::NotOpenApi => f.write_str(
                "this is not an OpenAPI document: it has no `openapi: 3.x` (or `swagger: \"2.0\"`) at its top",
            ),
            Error::NoUsersOperation(ops) => write!(
                f,
                "no operation looks like a users listing; name one with --operation ID or --path /users{}",
                listed(ops)
            ),
            Error::NoSuchOperation(wanted, ops) => {
                write!(f, "the document has no GET or POST {wanted}; its operations are{}", listed(ops))
            }
        }
    }
}

impl std::error::Error for Error {}

pub fn openapi(text: &str, options: &Options<'_>) -> Result<Imported, Error> {
    let doc = Document::read(text)?;
    let op = operation::choose(&doc, &options.choice)?;
    let users = op.response.and_then(|schema| users::users_array(&doc, schema));
    let paging = paging::paging(&doc, &op, users.as_ref().map(|u| &u.path));
    let auth = auth::auth(&doc, &op);
    let mapped = mapping::mapping(&doc, users.as_ref().map(|u| u.item));
    let mut notes = auth.notes;
    let mut credentials = Vec::new();

    // The path's parameters up to its last one go into the base URL as
    // credentials: a request path holds none, a base URL may hold text ones.
    let segments: Vec<&str> = op.path.split('/').filter(|s| !s.is_empty()).collect();
    let split = segments.iter().rposition(|s| s.contains('{')).map_or(0, |last| last + 1);
    let mut prefix = Template::default();
    for segment in &segments[..split] {
        prefix.0.push(Piece::Text("/".to_owned()));
        for piece in Template::parse(segment).0 {
            if let Piece::Credential(name) = &piece {
                let parameter = op.parameters.iter().find(|p| p.location == "path" && p.name == name);
                let name = unique(&mut credentials, name, parameter.and_then(|p| p.description), "the path");
                prefix.0.push(Piece::Credential(name));
            } else {
                prefix.0.push(piece);
            }
        }
    }
    let path = format!("/{}", segments[split..].join("/"));
    let base_url = match base_url(&doc, &op, &mut credentials, &mut notes) {
        Slot::Known(mut url) => {
            url.0.extend(prefix.0);
            Slot::Known(url)
        }
        Slot::Gap(what) => Slot::Gap(what),
    };
    credentials.extend(auth.credentials);

    // A required parameter is sent with its default; one without is the account's own
    // (Harvest's account id, Asana's workspace), asked at connect as a text credential.
    let (mut query, mut headers) = (Vec::new(), Vec::new());
    for p in op.parameters.iter().filter(|p| p.required && !paging.used.iter().any(|u| u == p.name)) {
        let list = match p.location {
            "query" => &mut query,
            "header" => &mut headers,
            _ => continue,
        };
        let value = match fixed(p.schema) {
            Some(value) => Template::text(&value),
            None => Template::credential(&unique(&mut credentials, p.name, p.description, "the request")),
        };
        list.push((p.name.to_owned(), value));
    }
    query.extend(paging.query.iter().map(|(name, value)| (name.clone(), Template::text(value))));
    let body = (op.method == "POST").then(|| request_body(&doc, op.object));

    let title = doc.root.pointer("/info/title").and_then(Value::as_str).unwrap_or_default();
    let version = doc.root.pointer("/info/version").and_then(Value::as_str).unwrap_or_default();
    let operation = match op.id {
        Some(id) => format!("{} {} ({id})", op.method, op.path),
        None => format!("{} {}", op.method, op.path),
    };
    let mut header = vec![format!(
        "Drafted by `compiler import openapi` from {} ({}): {operation}.",
        options.source,
        format!("{title} {version}").trim()
    )];
    for reference in doc.unresolved() {
        notes.push(format!("The document's `{reference}` is outside it and was not read."));
    }
    header.extend(notes);

    let draft = Draft {
        header,
        app: options.app.map_or_else(|| app_name(title, options.source), str::to_owned),
        base_url,
        credentials,
        auth: auth.auth,
        method: op.method,
        path,
        query,
        headers,
        body,
        paging: paging.paging,
        paging_reason: Some(paging.reason),
        users_at: users.as_ref().map_or_else(
            || Slot::Gap("where the users array is in each answer (`.` when the answer is the array)".to_owned()),
            |u| Slot::Known(u.path.clone()),
        ),
        fields: mapped.fields,
        active: mapped.active,
        status: mapped.status,
        unmapped: mapped.unmapped,
    };
    let gaps = draft.gaps().into_iter().map(str::to_owned).collect();
    Ok(Imported { text: draft.write(), operation, gaps })
}

/// The base URL: the operation's or the document's first server (3.x), or
/// `schemes`, `host` and `basePath` (2.0). A server variable is fixed at its
/// default when it has a list of values, and asked at connect otherwise.
fn base_url(
    doc: &Document,
    op: &operation::Operation<'_>,
    credentials: &mut Vec<draft::Credential>,
    notes: &mut Vec<String>,
) -> Slot<Template> {
    let (url, variables) = match doc.version {
        Version::OpenApi3 => {
            let servers = op.object.get("servers").or_else(|| doc.root.get("servers")).and_then(Value::as_array);
            let Some(server) = servers.and_then(|s| s.first()) else {
                return Slot::Gap("the API's base URL: the document names no server".to_owned());
            };
            let url = server.get("url").and_then(Value::as_str).unwrap_or_default().to_owned();
            (url, server.get("variables"))
        }
        Version::Swagger2 => {
            let Some(host) = doc.root.get("host").and_then(Value::as_str) else {
                return Slot::Gap("the API's base URL: the document names no host".to_owned());
            };
            let base_path = doc.root.get("basePath").and_then(Value::as_str).unwrap_or_default();
            (format!("https://{host}{base_path}"), None)
        }
    };
    let url = url.trim_end_matches('/');
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return Slot::Gap(format!(
            "the API's base URL: the document's server `{url}` is relative; write https://HOST{}",
            if url.starts_with('/') { url } else { "" }
        ));
    };
    if url.starts_with("http://") {
        notes.push(format!("The document's server is `{url}`; the draft asks for https, as tib requires."));
    }
    let mut template = Template::text("https://");
    for piece in Template::parse(rest).0 {
        let Piece::Credential(name) = piece else {
            template.0.push(piece);
            continue;
        };
        let variable = variables.and_then(|v| v.get(&name));
        let default = variable.and_then(|v| v.get("default")).and_then(Value::as_str);
        let listed = variable.is_some_and(|v| v.get("enum").is_some());
        match default {
            Some(default) if listed || !names_a_tenant(&name) => template.0.push(Piece::Text(default.to_owned())),
            _ => {
                let description = variable.and_then(|v| v.get("description")).and_then(Value::as_str);
                let example = default.map(|d| format!("Your {name}, e.g. {d}"));
                let name = unique(credentials, &name, description.or(example.as_deref()), "the base URL");
                template.0.push(Piece::Credential(name));
            }
        }
    }
    Slot::Known(template)
}

/// A server variable that differs per customer: their domain, tenant, site.
fn names_a_tenant(name: &str) -> bool {
    let name = users::normal(name);
    ["domain", "tenant", "instance", "org", "account", "company", "site", "host", "server", "workspace", "your"]
        .iter()
        .any(|w| name.contains(w))
}

/// Declares a text credential for a placeholder of the document's, named as the
/// language names them, and returns its name.
fn unique(credentials: &mut Vec<draft::Credential>, name: &str, description: Option<&str>, place: &str) -> String {
    let name = tib_front::ident::snake_case(name);
    if !credentials.iter().any(|c| c.name == name) {
        let fallback = format!("The {} in {place}", name.replace('_', " "));
        credentials.push(draft::Credential {
            name: name.clone(),
            secret: false,
            prompt: prompt(description, &fallback),
        });
    }
    name
}

/// A parameter's fixed value: its default, example, or only allowed value.
fn fixed(schema: &Value) -> Option<String> {
    let text = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    schema
        .get("default")
        .and_then(text)
        .or_else(|| schema.get("example").and_then(text))
        .or_else(|| schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()).and_then(text))
}

/// A POST's body: the document's example, or a gap.
fn request_body(doc: &Document, operation: &Value) -> Slot<String> {
    let content = doc.get(operation, "requestBody").get("content").and_then(Value::as_object);
    let example = content.into_iter().flatten().find(|(media, _)| media.contains("json")).and_then(|(_, media)| {
        media.get("example").or_else(|| {
            media
                .get("examples")
                .and_then(Value::as_object)
                .and_then(|e| e.values().next())
                .and_then(|e| e.get("value"))
        })
    });
    match example.and_then(tib_json) {
        Some(body) => Slot::Known(body),
        None => Slot::Gap("the JSON body the listing takes, as a block: `{}` when it takes none".to_owned()),
    }
}

/// A JSON value as the language writes it; null has no form.
fn tib_json(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => tib_front::format::literal(s),
        Value::Array(items) => format!("[{}]", items.iter().map(tib_json).collect::<Option<Vec<_>>>()?.join(", ")),
        Value::Object(map) => {
            let entries: Option<Vec<String>> = map
                .iter()
                .map(|(k, v)| tib_json(v).map(|v| format!("{} = {v}", tib_front::format::literal(k))))
                .collect();
            format!("{{ {} }}", entries?.join(" "))
        }
    })
}

/// The app's name from the document's title: "PagerDuty API" is "PagerDuty".
fn app_name(title: &str, source: &str) -> String {
    let mut name = title.trim().to_owned();
    for suffix in [" API Reference", " REST API", " Web API", " Public API", " OpenAPI", " Open API", " API", " Api"] {
        if let Some(stripped) = name.strip_suffix(suffix) {
            name = stripped.trim().to_owned();
        }
    }
    // "GitHub v3": the version is not the app's name.
    if let Some((rest, last)) = name.rsplit_once(' ')
        && last
            .strip_prefix(['v', 'V'])
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
    {
        name = rest.to_owned();
    }
    if name.chars().any(|c| c.is_ascii_alphanumeric()) {
        return name;
    }
    let stem = std::path::Path::new(source).file_stem().and_then(|s| s.to_str()).unwrap_or("App");
    stem.to_owned()
}

/// A prompt from a description: its first sentence, on one line, when it is at most 100 characters.
fn prompt(description: Option<&str>, fallback: &str) -> String {
    let Some(description) = description.map(str::trim).filter(|d| !d.is_empty()) else { return fallback.to_owned() };
    let line = description.split_whitespace().collect::<Vec<_>>().join(" ");
    let sentence = line.split_once(". ").map_or(line.as_str(), |(first, _)| first).trim_end_matches('.');
    // A longer one is documentation, not a prompt.
    if sentence.chars().count() <= 100 { sentence.to_owned() } else { fallback.to_owned() }
}
