//! Where the users are in the answer, and what each user's properties are.

use serde_json::Value;
use tib_front::ir::{Path, Segment};

use super::document::Document;

/// The array of users in an answer's schema.
pub struct UsersArray<'d> {
    pub path: Path,
    pub item: &'d Value,
    /// How many of the item's properties look like an email: how sure the guess is.
    pub emails: usize,
}

/// How deep in the answer the users array is looked for.
const ARRAY_DEPTH: usize = 3;

/// Names an API gives its users array, likeliest first.
const ARRAY_NAMES: &[&str] =
    &["users", "members", "data", "items", "results", "records", "value", "resources", "entries", "people", "accounts"];

/// The likeliest array of objects: its name, and whether its items have an email and an id.
pub fn users_array<'d>(doc: &'d Document, schema: &'d Value) -> Option<UsersArray<'d>> {
    let mut candidates: Vec<(Path, &'d Value)> = Vec::new();
    arrays(doc, schema, &mut Path::default(), &mut candidates, 0);
    candidates
        .into_iter()
        .map(|(path, item)| {
            let leaves = leaves(doc, item);
            let emails = leaves.iter().filter(|leaf| is_email(leaf)).count();
            let name = match path.segments.last() {
                Some(Segment::Key(key)) => ARRAY_NAMES.iter().position(|n| n.eq_ignore_ascii_case(key)),
                _ => Some(0),
            };
            let score = 4 * usize::from(emails > 0)
                + 2 * usize::from(leaves.iter().any(|l| l.key.eq_ignore_ascii_case("id")))
                + name.map_or(0, |position| ARRAY_NAMES.len() - position);
            (score, UsersArray { path, item, emails })
        })
        // The first by name wins a tie.
        .fold(None, |best: Option<(usize, UsersArray<'d>)>, (score, found)| match best {
            Some((top, _)) if top >= score => best,
            _ => Some((score, found)),
        })
        .map(|(_, found)| found)
}

fn arrays<'d>(doc: &'d Document, schema: &'d Value, path: &mut Path, found: &mut Vec<(Path, &'d Value)>, depth: usize) {
    if let Some(item) = doc.items(schema) {
        if doc.schema_type(item) == Some("object") {
            found.push((path.clone(), item));
        }
        return;
    }
    if depth >= ARRAY_DEPTH {
        return;
    }
    for (name, property) in doc.properties(schema) {
        path.segments.push(Segment::Key(name.to_owned()));
        arrays(doc, property, path, found, depth + 1);
        path.segments.pop();
    }
}

/// A user's property with a value of its own (not an object), by its path in the user.
pub struct Leaf<'d> {
    pub path: Path,
    /// The last key: what the property is called.
    pub key: &'d str,
    pub schema: &'d Value,
    pub kind: Option<&'d str>,
    pub format: Option<&'d str>,
}

/// How deep nested objects in a user are followed (`profile.email` is 2).
const LEAF_DEPTH: usize = 3;

/// Every property of a user: nested objects followed, and in an array of
/// objects (`emails`) the first item's.
pub fn leaves<'d>(doc: &'d Document, item: &'d Value) -> Vec<Leaf<'d>> {
    let mut found = Vec::new();
    collect(doc, item, &mut Path::default(), &mut found, 0);
    found
}

fn collect<'d>(doc: &'d Document, schema: &'d Value, path: &mut Path, found: &mut Vec<Leaf<'d>>, depth: usize) {
    for (key, property) in doc.properties(schema) {
        path.segments.push(Segment::Key(key.to_owned()));
        match doc.schema_type(property) {
            Some("object") if depth + 1 < LEAF_DEPTH => collect(doc, property, path, found, depth + 1),
            Some("array")
                if depth + 1 < LEAF_DEPTH
                    && doc.items(property).is_some_and(|i| doc.schema_type(i) == Some("object")) =>
            {
                path.segments.push(Segment::Index(0));
                if let Some(item) = doc.items(property) {
                    collect(doc, item, path, found, depth + 1);
                }
                path.segments.pop();
            }
            kind => found.push(Leaf {
                path: path.clone(),
                key,
                schema: property,
                kind,
                format: property.get("format").and_then(Value::as_str),
            }),
        }
        path.segments.pop();
    }
}

/// A name as compared: lower case, without `_`, `-`, `$`, `@` or `.`.
pub fn normal(name: &str) -> String {
    name.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

pub fn is_email(leaf: &Leaf<'_>) -> bool {
    leaf.format == Some("email")
        || matches!(normal(leaf.key).as_str(), "email" | "emailaddress" | "mail" | "primaryemail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_array_whose_items_have_an_email_is_the_users() {
        let doc = Document::read(
            r#"{"openapi": "3.1.0", "paths": {}, "x": {"type": "object", "properties": {
                "errors": {"type": "array", "items": {"type": "object", "properties": {"code": {"type": "string"}}}},
                "data": {"type": "object", "properties": {"list": {"type": "array", "items": {"type": "object",
                    "properties": {"id": {"type": "integer"}, "profile": {"type": "object", "properties": {
                        "work_email": {"type": "string", "format": "email"}}}}}}}}}}}"#,
        )
        .expect("a document");
        let found = users_array(&doc, &doc.root["x"]).expect("an array");
        assert_eq!(found.path.to_string(), "data.list");
        let paths: Vec<String> = leaves(&doc, found.item).iter().map(|l| l.path.to_string()).collect();
        assert_eq!(paths, ["id", "profile.work_email"]);
    }
}
