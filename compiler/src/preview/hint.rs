//! What to check when a request fails: the API's own message pulled out of
//! its error body, and a hint that points at the part of the spec (or the
//! credentials) most likely wrong.

use serde_json::Value;
use tib_support::{ApiErrorKind, PageError, SyncError};

use tib_front::ir;

/// The message an error body carries under one of the keys APIs commonly
/// use, searched breadth first; `None` when the body is not JSON or has none.
pub fn api_message(body: &str) -> Option<String> {
    const KEYS: [&str; 7] = ["message", "error_description", "errorSummary", "detail", "error", "title", "errors"];
    let body: Value = serde_json::from_str(body).ok()?;
    let mut level: Vec<&Value> = vec![&body];
    for _ in 0..4 {
        for value in &level {
            if let Value::Object(map) = value {
                for key in KEYS {
                    if let Some(Value::String(text)) = map.get(key)
                        && !text.trim().is_empty()
                    {
                        return Some(text.trim().to_owned());
                    }
                }
            }
        }
        level = level
            .iter()
            .flat_map(|v| match v {
                Value::Object(map) => map.values().collect::<Vec<_>>(),
                Value::Array(items) => items.iter().collect(),
                _ => Vec::new(),
            })
            .collect();
    }
    None
}

/// What the spec author should check, given how the request failed.
pub fn hint(error: &SyncError, spec: &ir::Spec) -> String {
    let names: Vec<&str> = spec.credentials.iter().map(|c| c.name.as_str()).collect();
    let credentials = if names.is_empty() { "the credentials".to_owned() } else { names.join(", ") };
    let location = format!("base_url and the request path `{}`", spec.endpoint.path);
    match error {
        SyncError::Status { status: 401, .. } => format!(
            "the API did not accept the credentials: check {credentials}, and that the auth kind ({}) is the one the API documents",
            super::connect::auth_kind(&spec.auth)
        ),
        SyncError::Status { status: 403, .. } => {
            format!("the credentials were accepted but may not list users: check the rights or scopes of {credentials}")
        }
        SyncError::Status { status: 404, url, .. } if let Some(listing) = listing_at(spec, url) => format!(
            "listing `{listing}` found nothing at that URL: check its path (and, for its members, the group's value the path names)"
        ),
        // A lookup's URL is not the users request's.
        SyncError::Status { status: 404, url, .. } if !spec.lookups.is_empty() && !users_request(spec, url) => {
            "a lookup found nothing for one user: check its path, and write `not_found = \"none\"` in the lookup \
             if the API answers 404 for a user who has nothing there"
                .to_owned()
        }
        SyncError::Status { status: 404, .. } => format!("nothing at that URL: check {location}"),
        SyncError::Status { status: 400, .. } => {
            "the API rejected the request: check the request's query parameters and the pagination's parameter names and page size".to_owned()
        }
        SyncError::Status { status: 405, .. } => "check the request's method (GET or POST)".to_owned(),
        SyncError::Status { status: 429, .. } | SyncError::RateLimited { .. } => {
            "the API is rate limiting: wait, then try again with fewer pages".to_owned()
        }
        SyncError::Status { status, .. } if *status >= 500 => {
            "the API failed on its side (after retries): try again later".to_owned()
        }
        SyncError::Status { .. } => format!("check {location}"),
        SyncError::Transport { .. } => {
            "no answer: check the host in base_url (or --base-url), and that the server is up".to_owned()
        }
        SyncError::Config(_) => format!("check the credential values put into base_url and the request ({credentials})"),
        SyncError::Page { error: PageError::Json(_), .. } => format!(
            "the answer is not JSON; an HTML page often means a login page or a wrong URL: check {location}"
        ),
        SyncError::Page { error: PageError::Api { kind: ApiErrorKind::Refused, .. }, .. } => {
            format!("the API refused the credentials (the spec's `refused when`): check {credentials}")
        }
        SyncError::Page { error: PageError::Api { kind: ApiErrorKind::RateLimited, .. }, .. } => {
            "the API kept answering that it is rate limited; wait and try again, or ask for fewer pages".to_owned()
        }
        SyncError::Page { error: PageError::Api { kind: ApiErrorKind::Other, .. }, .. } => {
            format!("the API answered with an error in the body: check {credentials} and the request's parameters")
        }
        SyncError::Page { error: PageError::Lookup { lookup, .. }, .. } => {
            format!("the API answered lookup `{lookup}` with what is not JSON: check the lookup's path")
        }
        SyncError::Page { error: PageError::Listing { listing, .. }, .. } => format!(
            "check listing `{listing}`: its `items` path, and its path and query; the answer shown is what the API sent instead"
        ),
        SyncError::Page { error: PageError::MissingUsers { .. }, .. } if spec.users_optional => {
            "the body is not an object; check the URL".to_owned()
        }
        SyncError::Page { error: PageError::MissingUsers { .. } | PageError::NotAnArray { .. }, .. } => {
            "check `users at` (add `or none` if the API leaves the key out when there are no users); \
             `compiler test` lists the arrays the body holds"
                .to_owned()
        }
        SyncError::ForeignOrigin { .. } => {
            "the API's next page is on another host; if that host is the API's own, make it the base_url".to_owned()
        }
        SyncError::Repeated { .. } | SyncError::NoNextPage { .. } => {
            "check the pagination: the path of the next token or URL, and the stop conditions".to_owned()
        }
        SyncError::PageCap { .. } => "more pages remain".to_owned(),
        SyncError::Capped { .. } => {
            "the account has more users than the API lists this way: page with a cursor or next link, or \
             split the listing with `listings`"
                .to_owned()
        }
        SyncError::TooLarge { .. } => {
            "the answer is larger than a sync reads: ask for smaller pages (the page size), or check the URL".to_owned()
        }
        SyncError::Deadline { .. } => "the API is too slow to list every user in time: try again later".to_owned(),
        SyncError::Total { .. } => {
            "the API's total disagrees with its pages: check the path of the total, or stop on a short page instead"
                .to_owned()
        }
        SyncError::Auth { permanent: true, .. } => {
            format!("the provider refused the OAuth client or grant: check {credentials} and the token URL")
        }
        SyncError::Auth { .. } => "the token endpoint failed on its side: try again later".to_owned(),
    }
}

/// Whether `url` is the users request's: its path ends as the request's does (after any value of
/// the session it names).
fn users_request(spec: &ir::Spec, url: &str) -> bool {
    let end = spec.endpoint.path.rsplit('}').next().unwrap_or_default();
    url::Url::parse(url).is_ok_and(|url| url.path().ends_with(end))
}

/// The listing whose request (or members request) `url` is, by the text its path starts with.
fn listing_at<'s>(spec: &'s ir::Spec, url: &str) -> Option<&'s str> {
    let path = url::Url::parse(url).ok()?.path().to_owned();
    let starts = |request: &ir::ListingRequest| match request.path.first() {
        Some(ir::LookupPart::Text(text)) => text.len() > 1 && path.contains(text.as_str()),
        _ => false,
    };
    spec.listings
        .iter()
        .find(|listing| {
            starts(&listing.request)
                || matches!(&listing.kind, ir::ListingKind::Members { members, .. } if starts(members))
        })
        .map(|listing| listing.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listings_404_names_the_listing() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace");
        let text = std::fs::read_to_string(root.join("specs/github.tib")).expect("the GitHub spec");
        let compiled = tib_front::compile("specs/github.tib", &text, &tib_front::catalog::Catalog::missing());
        let spec = compiled.spec.expect("the GitHub spec checks");
        let missing = |url: &str| SyncError::Status { status: 404, url: url.to_owned(), body: String::new() };
        let teams = hint(&missing("https://api.github.com/orgs/acme/teams/core/members?per_page=100"), &spec);
        assert!(teams.starts_with("listing `teams` found nothing"), "{teams}");
        let membership = hint(&missing("https://api.github.com/orgs/acme/memberships/ann"), &spec);
        assert!(membership.starts_with("a lookup found nothing"), "{membership}");
    }

    #[test]
    fn finds_the_message_apis_send() {
        assert_eq!(
            api_message(r#"{"errorCode":"E0000011","errorSummary":"Invalid token provided"}"#).as_deref(),
            Some("Invalid token provided")
        );
        assert_eq!(api_message(r#"{"error":{"code":401,"message":"Bad key"}}"#).as_deref(), Some("Bad key"));
        assert_eq!(api_message(r#"{"errors":[{"detail":"No such path"}]}"#).as_deref(), Some("No such path"));
        assert_eq!(api_message(r#"{"ok":false,"error":"invalid_auth"}"#).as_deref(), Some("invalid_auth"));
        assert_eq!(api_message("<html>Not found</html>"), None);
        assert_eq!(api_message(r#"{"status": 500}"#), None);
    }
}
