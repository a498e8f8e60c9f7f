//! How other systems write a secret they echo, each as its own code does
//! (never through tib's decoder): the forms redaction must find, for its
//! tests and the runtime's. Built for tests only (the `encoders` feature).

/// An encoder: a secret as it writes it.
pub type Encoder = fn(&str) -> String;

/// Every encoder, with a name for messages.
pub const ALL: [(&str, Encoder); 9] = [
    ("as written", |s| s.to_owned()),
    (".NET's JSON", dotnet_json),
    ("Go's JSON", go_json),
    ("PHP's JSON with HEX flags", php_json),
    ("OWASP's HTML encoder", owasp_html),
    ("Python's quote()", python_quote),
    ("lower-case percent-encoding", percent_lower),
    ("HTML", html),
    ("Python's quote() of .NET's JSON", |s| python_quote(&dotnet_json(s))),
];

fn each(secret: &str, encode: impl Fn(char) -> Option<String>) -> String {
    secret.chars().map(|c| encode(c).unwrap_or_else(|| c.to_string())).collect()
}

fn unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~".contains(c)
}

/// .NET's System.Text.Json: HTML-sensitive characters and `+` as `\u00XX`.
pub fn dotnet_json(s: &str) -> String {
    each(s, |c| match c {
        '\\' => Some("\\\\".into()),
        '<' | '>' | '&' | '\'' | '"' | '+' | '`' => Some(format!("\\u{:04X}", c as u32)),
        _ => None,
    })
}

/// Go's encoding/json: `<`, `>` and `&` as `\u00xx`.
pub fn go_json(s: &str) -> String {
    each(s, |c| match c {
        '\\' | '"' => Some(format!("\\{c}")),
        '<' | '>' | '&' => Some(format!("\\u{:04x}", c as u32)),
        _ => None,
    })
}

/// PHP's json_encode with JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT, and `\/`.
pub fn php_json(s: &str) -> String {
    each(s, |c| match c {
        '\\' => Some("\\\\".into()),
        '/' => Some("\\/".into()),
        '<' | '>' | '&' | '\'' | '"' => Some(format!("\\u{:04X}", c as u32)),
        _ => None,
    })
}

/// OWASP ESAPI's encodeForHTML: every character but letters and digits as a reference.
pub fn owasp_html(s: &str) -> String {
    each(s, |c| match c {
        '&' => Some("&amp;".into()),
        '<' => Some("&lt;".into()),
        '>' => Some("&gt;".into()),
        '"' => Some("&quot;".into()),
        c if c.is_ascii_alphanumeric() => None,
        c => Some(format!("&#x{:x};", c as u32)),
    })
}

/// Python's urllib.parse.quote(): `/` kept, the rest of the reserved as upper-case `%XX`.
pub fn python_quote(s: &str) -> String {
    each(s, |c| (!unreserved(c) && c != '/').then(|| format!("%{:02X}", c as u32)))
}

/// Percent-encoding in lower case.
pub fn percent_lower(s: &str) -> String {
    each(s, |c| (!unreserved(c)).then(|| format!("%{:02x}", c as u32)))
}

/// A template engine's HTML escaping.
pub fn html(s: &str) -> String {
    each(s, |c| match c {
        '&' => Some("&amp;".into()),
        '<' => Some("&lt;".into()),
        '>' => Some("&gt;".into()),
        '"' => Some("&quot;".into()),
        '\'' => Some("&#39;".into()),
        _ => None,
    })
}
