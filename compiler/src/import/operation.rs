//! Which operation lists the users: the one asked for, or the likeliest.

use serde_json::Value;

use super::Error;
use super::document::{Document, Version};

/// The operation a draft is made of, its parameters merged with its path's.
pub struct Operation<'d> {
    pub method: &'static str,
    pub path: String,
    pub id: Option<&'d str>,
    pub parameters: Vec<Parameter<'d>>,
    /// The schema of its successful JSON answer.
    pub response: Option<&'d Value>,
    /// The headers its successful answer declares (`Link`, `X-Next-Cursor`), as written.
    pub response_headers: Vec<&'d str>,
    /// The operation object itself (its `security`).
    pub object: &'d Value,
}

pub struct Parameter<'d> {
    pub name: &'d str,
    pub location: &'d str,
    pub required: bool,
    /// The value's schema (Swagger 2.0 writes it on the parameter itself).
    pub schema: &'d Value,
    pub description: Option<&'d str>,
}

/// What to take from the document: `--operation ID` or `--path /users`.
pub enum Choice<'a> {
    Likeliest,
    Id(&'a str),
    Path(&'a str),
}

/// The methods a users listing is read with, in the order a path's are tried.
const METHODS: [(&str, &str); 2] = [("get", "GET"), ("post", "POST")];

pub fn choose<'d>(doc: &'d Document, choice: &Choice<'_>) -> Result<Operation<'d>, Error> {
    let all = operations(doc);
    let found = match choice {
        Choice::Id(id) => all.into_iter().find(|op| op.id == Some(*id)),
        Choice::Path(path) => {
            let path = path.trim_end_matches('/');
            all.into_iter().find(|op| op.path.trim_end_matches('/') == path)
        }
        Choice::Likeliest => {
            let mut scored: Vec<(i32, Operation<'d>)> = all.into_iter().map(|op| (score(doc, &op), op)).collect();
            // Stable: among equals, the first by path wins.
            scored.sort_by_key(|(score, _)| -score);
            scored.into_iter().next().filter(|(score, _)| *score > 0).map(|(_, op)| op)
        }
    };
    found.ok_or_else(|| {
        let listed = operations(doc)
            .iter()
            .map(|op| match op.id {
                Some(id) => format!("{} {} ({id})", op.method, op.path),
                None => format!("{} {}", op.method, op.path),
            })
            .collect();
        match choice {
            Choice::Likeliest => Error::NoUsersOperation(listed),
            Choice::Id(id) => Error::NoSuchOperation(format!("operation `{id}`"), listed),
            Choice::Path(path) => Error::NoSuchOperation(format!("path `{path}`"), listed),
        }
    })
}

/// Every GET and POST operation, by path.
fn operations(doc: &Document) -> Vec<Operation<'_>> {
    let mut found = Vec::new();
    let Some(paths) = doc.root.get("paths").and_then(Value::as_object) else { return found };
    for (path, item) in paths {
        let item = doc.resolve(item);
        for (key, method) in METHODS {
            let Some(object) = item.get(key) else { continue };
            let object = doc.resolve(object);
            let mut parameters: Vec<Parameter<'_>> = Vec::new();
            // The operation's own parameters override its path's of the same name and place.
            for list in [object.get("parameters"), item.get("parameters")].into_iter().flatten() {
                for parameter in list.as_array().into_iter().flatten().map(|p| doc.resolve(p)) {
                    let Some(parameter) = self::parameter(doc, parameter) else { continue };
                    if !parameters.iter().any(|p| p.name == parameter.name && p.location == parameter.location) {
                        parameters.push(parameter);
                    }
                }
            }
            let (response, response_headers) = response(doc, object);
            found.push(Operation {
                method,
                path: path.clone(),
                id: object.get("operationId").and_then(Value::as_str),
                parameters,
                response,
                response_headers,
                object,
            });
        }
    }
    found
}

fn parameter<'d>(doc: &'d Document, parameter: &'d Value) -> Option<Parameter<'d>> {
    let schema = match doc.version {
        Version::Swagger2 => parameter,
        Version::OpenApi3 => doc.get(parameter, "schema"),
    };
    Some(Parameter {
        name: parameter.get("name")?.as_str()?,
        location: parameter.get("in")?.as_str()?,
        required: parameter.get("required").and_then(Value::as_bool).unwrap_or(false),
        schema,
        description: parameter.get("description").and_then(Value::as_str),
    })
}

/// The successful answer's JSON schema and declared headers: `200`, else
/// another 2xx, else `default`.
fn response<'d>(doc: &'d Document, operation: &'d Value) -> (Option<&'d Value>, Vec<&'d str>) {
    let Some(responses) = operation.get("responses").and_then(Value::as_object) else { return (None, Vec::new()) };
    let chosen = responses
        .get("200")
        .or_else(|| responses.iter().find(|(code, _)| code.starts_with('2')).map(|(_, r)| r))
        .or_else(|| responses.get("default"))
        .map(|r| doc.resolve(r));
    let Some(chosen) = chosen else { return (None, Vec::new()) };
    let headers = chosen.get("headers").and_then(Value::as_object).map(|h| h.keys().map(String::as_str).collect());
    let schema = match doc.version {
        Version::Swagger2 => chosen.get("schema").map(|s| doc.resolve(s)),
        Version::OpenApi3 => chosen.get("content").and_then(Value::as_object).and_then(|content| {
            let json = content
                .iter()
                .find(|(media, _)| media.starts_with("application/json"))
                .or_else(|| content.iter().find(|(media, _)| media.contains("json")));
            json.and_then(|(_, media)| media.get("schema")).map(|s| doc.resolve(s))
        }),
    };
    (schema, headers.unwrap_or_default())
}

/// How much an operation looks like "list the users": its path's last word,
/// a GET, and an answer holding objects with an email.
fn score(doc: &Document, op: &Operation<'_>) -> i32 {
    let words: Vec<&str> = op.path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(last) = words.last() else { return 0 };
    if last.starts_with('{') {
        // One user, not the listing.
        return 0;
    }
    let last = last.to_ascii_lowercase();
    let mut score = match last.as_str() {
        "users" | "members" => 10,
        "accounts" | "people" | "employees" | "agents" | "seats" | "identities" => 7,
        _ if last.contains("user") || last.contains("member") => 5,
        _ => 0,
    };
    if op.method == "GET" {
        score += 2;
    }
    if let Some(schema) = op.response
        && super::users::users_array(doc, schema).is_some_and(|found| found.emails > 0)
    {
        score += 5;
    }
    score
}
