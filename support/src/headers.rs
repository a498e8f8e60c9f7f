//! The response headers a sync reads: the `rel="next"` target of a Link
//! header, and how long Retry-After asks to wait. What an API sends here is
//! untrusted text: both give `None` for what they cannot read.

use std::time::Duration;

/// The `rel="next"` target of a Link header (RFC 8288).
pub fn link_next(value: &str) -> Option<String> {
    value.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            name.trim().eq_ignore_ascii_case("rel")
                && value.trim().trim_matches('"').split_whitespace().any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| target.to_owned())
    })
}

/// Retry-After in seconds or as an HTTP date (RFC 9110 section 10.2.3).
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_table() {
        let cases = [
            (r#"<https://a.io/u?after=2>; rel="next", <https://a.io/u>; rel="self""#, Some("https://a.io/u?after=2")),
            (r#"<https://a.io/u>; rel="self", <https://a.io/u?p=3>; rel=next"#, Some("https://a.io/u?p=3")),
            (r#"</u?p=3>; rel="prev next""#, Some("/u?p=3")),
            (r#"<https://a.io/u>; rel="self""#, None),
            ("garbage", None),
        ];
        for (header, expected) in cases {
            assert_eq!(link_next(header).as_deref(), expected, "{header}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
        let in_a_minute = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc2822();
        let wait = retry_after(&in_a_minute).expect("a date");
        assert!((Duration::from_secs(58)..=Duration::from_secs(60)).contains(&wait), "{wait:?}");
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO), "a past date");
        assert_eq!(retry_after("soon"), None);
    }
}
