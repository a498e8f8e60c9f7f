//! How tib reads the values APIs send as text, written once for the
//! connectors (through `tib-support`) and for the checker, which holds a
//! spec's literal fallbacks to the same reading: a timestamp (ISO 8601 /
//! RFC 3339 with `Z`, `+00:00` or `+0000`, RFC 2822, a bare date, Unix
//! seconds or milliseconds) and an email address.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Unix times above this are milliseconds: 10^11 seconds is the year 5138.
const MILLIS_THRESHOLD: f64 = 1e11;

/// A timestamp written as text (a number in it is Unix time), or why it is not one.
pub fn timestamp_text(text: &str) -> Result<DateTime<Utc>, String> {
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

/// Unix seconds, or milliseconds when larger than [`MILLIS_THRESHOLD`].
pub fn unix(n: f64) -> Result<DateTime<Utc>, String> {
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

/// Whether `email` is an address mail can go to (one `@`, a local part, a
/// dotted domain, no spaces, at most 254 bytes), or why not.
pub fn validate_email(email: &str) -> Result<(), &'static str> {
    let bytes = email.as_bytes();
    let (mut ats, mut last_at, mut spaced, mut high) = (0, 0, false, 0u8);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'@' {
            ats += 1;
            last_at = i;
        }
        spaced |= b <= b' ' || b == 0x7f;
        high |= b;
    }
    if ats == 0 {
        return Err("has no @");
    }
    if last_at == 0 || ats > 1 {
        return Err("has no single local part before @");
    }
    // UTF-8 never encodes an ASCII byte inside another character, so the
    // byte pass is right for every ASCII character; the others are checked here.
    spaced |= high >= 0x80 && email.chars().any(|c| c.is_whitespace() || c.is_control());
    if email.len() > 254 || spaced {
        return Err("is too long or holds spaces");
    }
    if !valid_domain(&bytes[last_at + 1..]) {
        return Err("has no valid domain");
    }
    Ok(())
}

/// Dotted labels, none empty, none starting or ending with `-`.
fn valid_domain(domain: &[u8]) -> bool {
    let mut dots = 0;
    let mut label_start = 0;
    for (i, &b) in domain.iter().enumerate() {
        if b == b'.' {
            if !valid_label(&domain[label_start..i]) {
                return false;
            }
            dots += 1;
            label_start = i + 1;
        }
    }
    dots > 0 && valid_label(&domain[label_start..])
}

fn valid_label(label: &[u8]) -> bool {
    !label.is_empty() && label[0] != b'-' && label[label.len() - 1] != b'-'
}
