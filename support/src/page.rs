//! One page as generated code reads it: the users it held and what
//! pagination needs from its body.

use std::fmt;

use crate::secret::CredentialValues;
use crate::value::{Leaf, Tolerant, UsersAt};

/// What the body of one page says about the next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// Users in the page's array, kept or dropped: what counted pagination counts.
    pub count: usize,
    /// The next URL or token, when the spec reads it from the body.
    pub next: Option<String>,
    /// The has-more flag, when the spec reads one.
    pub more: Option<bool>,
    /// The total number of users, when the spec reads one.
    pub total: Option<u64>,
}

/// What an error reported in a 200 answer means for the sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// The credentials or configuration were refused: the connection is
    /// disabled and admins notified, as on HTTP 400–404.
    Refused,
    /// Rate limiting: the page is asked again with backoff within the sync.
    RateLimited,
    /// Anything else: recorded, and retried at the next sync.
    Other,
}

/// Why a page could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageError {
    /// The body is not JSON (or not JSON tib can read).
    Json(String),
    /// The spec's `api_error` rule matched: the API's message, and what kind
    /// of error the spec's `refused` and `rate_limited` rules make of it.
    Api { message: String, kind: ApiErrorKind },
    /// Nothing at the users path.
    MissingUsers { path: &'static str },
    /// Something other than an array at the users path.
    NotAnArray { path: &'static str, found: &'static str },
    /// A lookup's answer for the page's `user`-th item (from 1) is not JSON tib can read.
    Lookup { lookup: &'static str, user: usize, error: String },
    /// A page of a listing read before the users is not what the spec says it is.
    Listing { listing: &'static str, error: String },
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::Json(e) => write!(f, "the response is not valid JSON: {e}"),
            PageError::Api { message, kind: ApiErrorKind::Refused } => {
                write!(f, "the API refused the credentials or configuration: {message}")
            }
            PageError::Api { message, kind: ApiErrorKind::RateLimited } => {
                write!(f, "the API reported rate limiting: {message}")
            }
            PageError::Api { message, kind: ApiErrorKind::Other } => write!(f, "the API reported an error: {message}"),
            PageError::MissingUsers { path } => write!(f, "the response has nothing at the users path `{path}`"),
            PageError::NotAnArray { path, found } => {
                write!(f, "the users path `{path}` holds {found}, not an array")
            }
            PageError::Lookup { lookup, user, error } => {
                write!(f, "lookup `{lookup}` answered user {user} of the page with what is not valid JSON: {error}")
            }
            PageError::Listing { listing, error } => write!(f, "listing `{listing}`: {error}"),
        }
    }
}

impl PageError {
    /// The error with the connection's secrets taken out of what the API
    /// sent: its own error message, or the text a JSON error quotes.
    pub fn redacted(self, creds: &CredentialValues) -> PageError {
        match self {
            PageError::Json(error) => PageError::Json(creds.redact(&error)),
            PageError::Api { message, kind } => PageError::Api { message: creds.redact(&message), kind },
            PageError::Lookup { lookup, user, error } => {
                PageError::Lookup { lookup, user, error: creds.redact(&error) }
            }
            PageError::Listing { listing, error } => PageError::Listing { listing, error: creds.redact(&error) },
            other => other,
        }
    }
}

/// The answers of a page's lookups, by listed item and lookup: what a connector joins to each
/// user. An item has no answer where its lookup could not be asked (a value of its path missing)
/// or answered 404 with `not_found = "none"`.
#[derive(Clone, Debug, Default)]
pub struct Joined {
    lookups: usize,
    answers: Vec<Option<bytes::Bytes>>,
}

impl Joined {
    /// Room for `items` listed items of `lookups` lookups each, none answered yet.
    pub fn new(items: usize, lookups: usize) -> Self {
        Joined { lookups, answers: vec![None; items * lookups] }
    }

    /// The listed items it has room for.
    pub fn items(&self) -> usize {
        self.answers.len().checked_div(self.lookups).unwrap_or(0)
    }

    /// The lookups of each item.
    pub fn lookups(&self) -> usize {
        self.lookups
    }

    /// Gives `item` its answer to `lookup`.
    pub fn set(&mut self, item: usize, lookup: usize, answer: bytes::Bytes) {
        if let Some(slot) = self.answers.get_mut(item * self.lookups + lookup) {
            *slot = Some(answer);
        }
    }

    /// The answer of `lookup` for the `item`-th listed item.
    pub fn answer(&self, item: usize, lookup: usize) -> Option<&[u8]> {
        self.answers.get(item * self.lookups + lookup)?.as_deref()
    }

    /// The answer read into `T`, or none; an answer that is not JSON is the page's error.
    pub fn read<'a, T: serde::Deserialize<'a> + Default>(
        &'a self,
        item: usize,
        lookup: usize,
        name: &'static str,
    ) -> Result<T, PageError> {
        match self.answer(item, lookup) {
            None => Ok(T::default()),
            Some(body) => read(body).map_err(|error| PageError::lookup(name, item, error)),
        }
    }
}

impl PageError {
    /// `error`, met reading the answer of `lookup` for the page's `item`-th user (from 0).
    pub fn lookup(lookup: &'static str, item: usize, error: PageError) -> PageError {
        let error = match error {
            PageError::Json(error) => error,
            other => other.to_string(),
        };
        PageError::Lookup { lookup, user: item + 1, error }
    }
}

/// A value of a user as a lookup's path sends it: text, a number or true/false.
pub fn key(leaf: Option<&Leaf<'_>>) -> Option<compact_str::CompactString> {
    let text = leaf.and_then(Leaf::present)?.text()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.into())
}

/// A page's body read as JSON into `T`: the types a generated connector
/// declares for it, or preview's `Value`.
///
/// The body is checked as UTF-8 once, whole, so that serde_json reading it
/// with `from_str` need not check every string again (which `from_slice`
/// does): parsing a page this way is markedly faster.
pub fn read<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, PageError> {
    let text = std::str::from_utf8(body).map_err(|e| PageError::Json(format!("the body is not UTF-8: {e}")))?;
    serde_json::from_str(text).map_err(|e| PageError::Json(e.to_string()))
}

/// The users of a page, from what stood at the users path (`None`: nothing
/// there, not even the objects on the way). With `optional` (`or none`, given
/// only for a body that is an object), a missing or null users key is a page
/// without users; otherwise it is an error, so that a wrong path never reads as
/// an empty account.
pub fn users<'u, T>(
    at: Option<&'u UsersAt<T>>,
    path: &'static str,
    optional: bool,
) -> Result<&'u [Tolerant<T>], PageError> {
    match at {
        Some(UsersAt::Array(items)) => Ok(items),
        None | Some(UsersAt::Missing | UsersAt::Found("null")) if optional => Ok(&[]),
        None | Some(UsersAt::Missing) => Err(PageError::MissingUsers { path }),
        Some(UsersAt::Found(found)) => Err(PageError::NotAnArray { path, found }),
    }
}

/// [`users`], to join lookups' answers to them.
pub fn users_mut<'u, T>(
    at: Option<&'u mut UsersAt<T>>,
    path: &'static str,
    optional: bool,
) -> Result<&'u mut [Tolerant<T>], PageError> {
    match at {
        Some(UsersAt::Array(items)) => Ok(items),
        other => users(other.map(|at| &*at), path, optional).map(|_| &mut [][..]),
    }
}

/// A next token or URL: text that is not empty.
pub fn token(leaf: Option<&Leaf<'_>>) -> Option<String> {
    leaf.and_then(Leaf::text).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A has-more flag: `true`, `"true"` or a non-zero number mean more.
pub fn flag(leaf: Option<&Leaf<'_>>) -> Option<bool> {
    match leaf? {
        Leaf::Bool(b) => Some(*b),
        Leaf::Text(t) => Some(t.trim().eq_ignore_ascii_case("true")),
        Leaf::Number(_) => leaf?.number().map(|n| n != 0.0),
        Leaf::Null => Some(false),
        Leaf::List(_) | Leaf::Object => None,
    }
}

/// A total count: a non-negative whole number, or a string holding one.
pub fn count(leaf: Option<&Leaf<'_>>) -> Option<u64> {
    leaf.and_then(Leaf::number).filter(|n| *n >= 0.0 && n.fract() == 0.0).map(|n| n as u64)
}

/// The API's error message for a matched `api_error` rule, of the kind the
/// spec's rules gave it.
pub fn api_error(message: Option<&Leaf<'_>>, kind: ApiErrorKind) -> PageError {
    PageError::Api { message: token(message).unwrap_or_else(|| "(no message)".to_owned()), kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_that_are_not_json_say_why() {
        let read = |body: &[u8]| read::<serde::de::IgnoredAny>(body).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(read(br#"{"users": []}"#), Ok(()));
        let not_utf8 = read(b"{\"users\": [\"\xff\"]}").expect_err("not UTF-8");
        assert!(not_utf8.contains("not UTF-8"), "{not_utf8}");
        let cut = read(br#"{"users": [1, 2"#).expect_err("cut short");
        assert!(
            cut.starts_with("the response is not valid JSON: EOF while parsing a list at line 1 column 15"),
            "{cut}"
        );
    }

    #[test]
    fn pagination_values_table() {
        assert_eq!(token(Some(&Leaf::Text(" abc ".into()))), Some("abc".into()));
        assert_eq!(token(Some(&Leaf::Text("".into()))), None);
        assert_eq!(token(Some(&Leaf::Null)), None);
        assert_eq!(flag(Some(&Leaf::Text("TRUE".into()))), Some(true));
        assert_eq!(flag(Some(&Leaf::Number("0".into()))), Some(false));
        assert_eq!(flag(None), None);
        assert_eq!(count(Some(&Leaf::Text("120".into()))), Some(120));
        assert_eq!(count(Some(&Leaf::Number("-1".into()))), None);
    }
}
