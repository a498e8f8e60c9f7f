//! Text from an API made safe to print to a terminal: control characters
//! (escape sequences that move the cursor, retitle the window or rewrite what
//! was printed) and the bidirectional overrides that reorder a line are
//! shown escaped instead of acting, as JSON escapes them (`\u001b`): readable
//! in a table, and still valid inside JSON output, where no such character
//! stands outside a string.

use std::borrow::Cow;

/// `text` with every control character escaped but line breaks and tabs.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

/// `text` as one line: line breaks and tabs escaped too (a table cell).
pub fn one_line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let acts = |c: char| (c.is_control() || is_bidi_control(c)) && !keep(c);
    if !text.chars().any(acts) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if acts(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text from outside as every store keeps it: a NUL, which PostgreSQL cannot
/// hold in text (and SQLite could), is U+FFFD, the replacement character.
pub fn storable(text: &str) -> Cow<'_, str> {
    if text.as_bytes().contains(&0) { Cow::Owned(text.replace('\0', "\u{fffd}")) } else { Cow::Borrowed(text) }
}

/// The characters that reorder the text around them (Unicode's bidi embeddings, overrides and isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert!(matches!(printable("Ann Lee"), Cow::Borrowed("Ann Lee")), "clean text is not copied");
        assert_eq!(printable("\u{1b}[2J\u{1b}]0;owned\u{7}x"), r"\u001b[2J\u001b]0;owned\u0007x");
        assert_eq!(printable("a\rb\nc\td\u{9b}e\u{7f}"), "a\\u000db\nc\td\\u009be\\u007f");
        assert_eq!(printable("admin\u{202E}nimda"), r"admin\u202enimda");
        assert_eq!(one_line("a\nb\tc"), r"a\u000ab\u0009c");
        let json = serde_json::json!({"name": "\u{9b}31mred\u{1b}"}).to_string();
        let shown = printable(&json);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&shown).ok(),
            serde_json::from_str(&json).ok(),
            "JSON stays JSON"
        );
        assert_eq!(one_line("Zoë 山田"), "Zoë 山田");
        assert_eq!(storable("a\0b"), "a\u{fffd}b");
        assert!(matches!(storable("Ann"), Cow::Borrowed("Ann")));
    }
}
