//! What `test` and `preview` print: a readable sample of a body, the arrays
//! of objects a body holds (to suggest a response path), and users as an
//! aligned table or JSON.

use serde_json::{Value, json};
use tib_support::User;
use tib_support::record::UserRow;

use tib_front::ir;

/// The body pretty-printed when it is JSON, cut to `max_lines` lines.
pub fn sample(body: &[u8], max_lines: usize) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = lines.iter().take(max_lines).map(|l| truncate(l, 120)).collect();
    if lines.len() > max_lines {
        out.push(format!("… {} more lines", lines.len() - max_lines));
    }
    out.join("\n")
}

/// A byte count for people: `512 B`, `4.2 KiB`, `1.3 MiB`.
pub fn size(bytes: usize) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

fn truncate(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_owned(),
    }
}

/// Every array of objects in a body, by the path a spec would write, with its length.
pub fn arrays_of_objects(body: &Value) -> Vec<(ir::Path, usize)> {
    let mut found = Vec::new();
    walk(body, &mut ir::Path::default(), &mut found);
    found
}

fn walk(value: &Value, path: &mut ir::Path, found: &mut Vec<(ir::Path, usize)>) {
    match value {
        Value::Array(items) if items.iter().any(Value::is_object) => found.push((path.clone(), items.len())),
        Value::Object(map) => {
            for (key, child) in map {
                path.segments.push(ir::Segment::Key(key.clone()));
                walk(child, path, found);
                path.segments.pop();
            }
        }
        _ => {}
    }
}

/// Every path of the items' values (nested objects followed, lists of
/// objects as `list[].key`), in first-seen order.
pub fn field_paths(items: &[Value]) -> Vec<FieldPath> {
    let mut found: Vec<FieldPath> = Vec::new();
    for item in items {
        walk_fields(item, &mut String::new(), &mut found, 0);
    }
    found
}

/// A path into the users' objects, as a spec writes it; inside a list of
/// objects `list[].key` (what a `some` rule reads), with how many of the
/// users have a value there and the first value seen.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldPath {
    pub path: String,
    pub count: usize,
    pub example: String,
}

/// Nesting followed this deep at most: user objects are shallow.
const FIELD_DEPTH: usize = 8;

fn walk_fields(value: &Value, path: &mut String, found: &mut Vec<FieldPath>, depth: usize) {
    if depth > FIELD_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let before = path.len();
                let segment = ir::Path { segments: vec![ir::Segment::Key(key.clone())] }.to_string();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&segment);
                walk_fields(child, path, found, depth + 1);
                path.truncate(before);
            }
        }
        Value::Null => {}
        value => {
            if let Value::Array(items) = value
                && items.iter().any(Value::is_object)
            {
                let before = path.len();
                path.push_str("[]");
                for item in items {
                    walk_fields(item, path, found, depth + 1);
                }
                path.truncate(before);
            }
            if path.is_empty() {
                return;
            }
            match found.iter_mut().find(|f| f.path == *path) {
                Some(field) => field.count += 1,
                None => found.push(FieldPath { path: path.clone(), count: 1, example: example(value) }),
            }
        }
    }
}

/// A value as a person reads it, cut to 60 characters.
fn example(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    truncate(&text, 60)
}

/// Users as an aligned table, one column per custom field.
pub fn table(users: &[User], custom_fields: &[ir::CustomField]) -> String {
    let mut header: Vec<String> =
        ["id", "email", "name", "role", "created", "last seen", "active", "status", "licenses"]
            .map(String::from)
            .to_vec();
    header.extend(custom_fields.iter().map(|f| f.name.clone()));
    let time = |t: &Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            let stored = UserRow::from(u);
            let mut row = vec![
                u.external_id.to_string(),
                u.email.to_string(),
                stored.name(),
                u.role.as_deref().unwrap_or_default().to_owned(),
                time(&u.created_at),
                time(&u.last_seen_at),
                if u.active { "yes" } else { "no" }.to_owned(),
                u.status.to_string(),
                u.licenses.join(", "),
            ];
            row.extend(custom_fields.iter().map(|f| stored.custom_text(&f.name)));
            row.into_iter().map(|cell| truncate(&cell, 40)).collect()
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(&header), line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>())];
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n")
}

/// Users as JSON, each as the runtime stores it, with what was left out of it.
pub fn json(users: &[User]) -> Value {
    Value::Array(
        users
            .iter()
            .map(|u| {
                let mut value = serde_json::to_value(UserRow::from(u)).unwrap_or_default();
                value["left_out"] =
                    u.issues.iter().map(|i| json!({"field": i.field, "reason": i.reason})).collect::<Vec<_>>().into();
                value
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_arrays_of_objects_with_their_paths() {
        let body = json!({"ok": true, "data": {"items": [{"id": 1}], "tags": ["a"]}, "@odata.x": [{"a": 1}, {"b": 2}]});
        let found: Vec<(String, usize)> =
            arrays_of_objects(&body).into_iter().map(|(p, n)| (p.to_string(), n)).collect();
        assert_eq!(found, [("\"@odata.x\"".to_owned(), 2), ("data.items".to_owned(), 1)]);
        assert_eq!(arrays_of_objects(&json!([{"id": 1}]))[0].0.to_string(), ".");
        let users = [
            json!({"id": 1, "profile": {"e-mail": "a@x.example", "dept": null}, "roles": [{"name": "admin"}], "tags": ["x"]}),
            json!({"id": 2, "profile": {"e-mail": "b@x.example", "my key": 1}, "roles": []}),
        ];
        let fields = field_paths(&users);
        let field = |path: &str| fields.iter().find(|f| f.path == path).cloned();
        assert_eq!(field("id"), Some(FieldPath { path: "id".into(), count: 2, example: "1".into() }));
        assert_eq!(field("profile.e-mail").map(|f| f.count), Some(2), "a dash is part of a name");
        assert_eq!(field("profile.\"my key\"").map(|f| f.count), Some(1), "quoted where a spec quotes it");
        assert_eq!(field("profile.dept"), None, "null is no value");
        assert_eq!(field("roles[].name").map(|f| f.example), Some("admin".into()));
        assert_eq!(field("roles").map(|f| f.count), Some(2));
        assert_eq!(field("tags").map(|f| f.example), Some("[\"x\"]".into()));
    }

    #[test]
    fn samples_are_cut() {
        let body = serde_json::to_vec(&json!({"a": [1, 2, 3, 4, 5]})).expect("json");
        let s = sample(&body, 3);
        assert_eq!(s.lines().count(), 4);
        assert!(s.ends_with("more lines"), "{s}");
        assert_eq!(sample(b"not json", 5), "not json");
        assert_eq!([size(512), size(4300), size(3 << 20)], ["512 B", "4.2 KiB", "3.0 MiB"]);
    }
}
