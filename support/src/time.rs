//! Timestamps as APIs send them: ISO 8601 / RFC 3339 (`Z`, `+00:00`, `+0000`),
//! RFC 2822, a bare date, and Unix seconds or milliseconds.

use chrono::{DateTime, Utc};

use crate::value::Leaf;

/// Reads a timestamp, or says why it is not one.
pub fn timestamp(value: &Leaf<'_>) -> Result<DateTime<Utc>, String> {
    match value {
        Leaf::Number(_) => tib_values::unix(value.number().unwrap_or(f64::NAN)),
        Leaf::Text(text) => tib_values::timestamp_text(text.trim()),
        other => Err(format!("expected a timestamp, found {}", other.kind())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_table() {
        let noon = "2024-03-05T12:00:00Z";
        let cases = [
            (Leaf::Text("2024-03-05T12:00:00Z".into()), noon),
            (Leaf::Text("2024-03-05T12:00:00.000Z".into()), noon),
            (Leaf::Text("2024-03-05T13:00:00+01:00".into()), noon),
            (Leaf::Text("2024-03-05T12:00:00+0000".into()), noon),
            (Leaf::Text("2024-03-05T07:00:00-0500".into()), noon),
            (Leaf::Text("Tue, 05 Mar 2024 12:00:00 +0000".into()), noon),
            (Leaf::Text("2024-03-05 12:00:00".into()), noon),
            (Leaf::Text("2024-03-05".into()), "2024-03-05T00:00:00Z"),
            (Leaf::Number("1709640000".into()), noon),
            (Leaf::Number("1709640000000".into()), noon),
            (Leaf::Text("1709640000".into()), noon),
        ];
        for (leaf, expected) in cases {
            let parsed = timestamp(&leaf).unwrap_or_else(|e| panic!("{leaf:?}: {e}"));
            assert_eq!(parsed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), expected, "{leaf:?}");
        }
    }

    #[test]
    fn non_timestamps_say_why() {
        assert_eq!(timestamp(&Leaf::Text("yesterday".into())), Err("`yesterday` is not a timestamp".into()));
        assert_eq!(timestamp(&Leaf::Bool(true)), Err("expected a timestamp, found a boolean".into()));
        assert!(timestamp(&Leaf::Number("-5".into())).is_err());
    }
}
