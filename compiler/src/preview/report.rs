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

/// The keys the objects of an array carry, in first-seen order.
pub fn field_names(items: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for item in items.iter().filter_map(Value::as_object) {
        for key in item.keys() {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
    }
    names
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
        assert_eq!(field_names(&[json!({"id": 1, "b": 2}), json!({"c": 3, "id": 4})]), ["b", "id", "c"]);
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
