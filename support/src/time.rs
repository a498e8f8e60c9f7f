//! Timestamps as APIs send them: ISO 8601 / RFC 3339 (`Z`, `+00:00`, `+0000`),
//! RFC 2822, a bare date, and Unix seconds or milliseconds.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::value::Leaf;

/// Unix times above this are milliseconds: 10^11 seconds is the year 5138.
const MILLIS_THRESHOLD: f64 = 1e11;

/// Reads a timestamp, or says why it is not one.
pub fn timestamp(value: &Leaf<'_>) -> Result<DateTime<Utc>, String> {
    match value {
        Leaf::Number(_) => unix(value.number().unwrap_or(f64::NAN)),
        Leaf::Text(text) => parse_text(text.trim()),
        other => Err(format!("expected a timestamp, found {}", other.kind())),
    }
}

fn parse_text(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(n) = text.parse::<f64>() {
        return unix(n);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    // ISO 8601 with a `+0000` offset, which RFC 3339 does not allow.
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(text) {
        return Ok(t.with_timezone(&Utc));
    }
    // Without an offset, UTC is the only reading an API can mean consistently.
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default());
    }
    Err(format!("`{}` is not a timestamp", truncate(text, 40)))
}

fn unix(n: f64) -> Result<DateTime<Utc>, String> {
    if !n.is_finite() || n < 0.0 {
        return Err(format!("{n} is not a Unix time"));
    }
    let millis = if n >= MILLIS_THRESHOLD { n } else { n * 1000.0 };
    DateTime::from_timestamp_millis(millis as i64).ok_or_else(|| format!("{n} is out of range"))
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
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
