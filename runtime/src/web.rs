//! What the edges share to show things to people and link to them: a path
//! segment percent-encoded, an account's console path, a time to the minute.

use crate::store::Time;

/// Text as one URL path segment or query value: every byte but letters, digits and `-._~` percent-encoded.
pub fn percent_encode(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}

/// An account's console page, its segments percent-encoded.
pub fn account_path(integration: &str, account: &str) -> String {
    format!("/connections/{}/{}", percent_encode(integration), percent_encode(account))
}

/// A time as people read it: UTC, to the minute; `-` for none.
pub fn when(at: Option<Time>) -> String {
    at.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_keeps_only_unreserved_bytes() {
        assert_eq!(percent_encode("Acme Prod/EU?x=1&é"), "Acme%20Prod%2FEU%3Fx%3D1%26%C3%A9");
        assert_eq!(percent_encode("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(account_path("acme", "Dev #2"), "/connections/acme/Dev%20%232");
    }

    #[test]
    fn times_are_shown_to_the_minute_in_utc() {
        assert_eq!(when(Some(0)), "1970-01-01 00:00");
        assert_eq!(when(None), "-");
    }
}
