//! Listings read before the users ([`crate::spec::Listing`]): their pages read as plain JSON, and
//! what their items give each user, held by the value the items name the user by.
//!
//! What is held is bounded by the users, not by the items: a listing of events keeps one event per
//! user (their latest in the window), a listing of groups one copy of each group, shared by its
//! members; and of an item only the keys the spec reads.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde_json::Value;

use crate::page::{PageError, PageInfo};
use crate::spec::{Listing, ListingKind, ListingRequest, Step, TimeFormat};
use crate::value::Leaf;

/// One listing's page: its items and what pagination needs.
pub(crate) struct Page {
    pub info: PageInfo,
    pub items: Vec<Value>,
}

/// Reads one answer of `request`. An answer without its items says what it holds instead, as an
/// API that refuses a listing (Slack's `"ok": false`) often answers 200 with its reason.
pub(crate) fn read(request: &ListingRequest, name: &'static str, body: &[u8]) -> Result<Page, PageError> {
    let mut answer: Value = crate::page::read(body)?;
    let items = match at_mut(&mut answer, request.items) {
        Some(Value::Array(items)) => std::mem::take(items),
        Some(Value::Null) | None => {
            return Err(PageError::Listing {
                listing: name,
                error: format!("nothing at `{}` in {}", shown(request.items), excerpt(body)),
            });
        }
        Some(other) => {
            let found = crate::value::kind_of(other);
            return Err(PageError::Listing {
                listing: name,
                error: format!("`{}` holds {found}, not a list", shown(request.items)),
            });
        }
    };
    let leaf = |path: Option<&[Step]>| path.and_then(|path| at(&answer, path)).and_then(leaf);
    let info = PageInfo {
        count: items.len(),
        next: crate::page::token(leaf(request.next).as_ref()),
        more: crate::page::flag(leaf(request.more).as_ref()),
        total: crate::page::count(leaf(request.total).as_ref()),
    };
    Ok(Page { info, items })
}

/// What every listing of a spec gave each user, by listing and by the value the items name them by.
#[derive(Debug, Default)]
pub struct Gathered {
    held: Vec<Held>,
}

impl Gathered {
    pub(crate) fn push(&mut self, held: Held) {
        self.held.push(held);
    }

    /// What listing `listing` gave the user whose value is `key`, as the JSON the spec reads: their
    /// latest event, or the list of their items or groups.
    pub fn answer(&self, listing: usize, key: &str) -> Option<bytes::Bytes> {
        match self.held.get(listing)? {
            Held::Latest { by_user, .. } => by_user.get(key).map(|(_, item)| item.clone()),
            Held::Items { by_user, .. } => {
                let items = by_user.get(key)?;
                let mut list = Vec::with_capacity(2 + items.iter().map(|item| item.len() + 1).sum::<usize>());
                list.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        list.push(b',');
                    }
                    list.extend_from_slice(item);
                }
                list.push(b']');
                Some(list.into())
            }
        }
    }
}

/// What one listing gave each user so far.
#[derive(Debug)]
pub(crate) enum Held {
    /// Each user's latest event in the window, with its time.
    Latest {
        listing: &'static Listing,
        since: DateTime<Utc>,
        by_user: HashMap<CompactString, (DateTime<Utc>, bytes::Bytes)>,
    },
    /// Each user's items, or groups.
    Items { listing: &'static Listing, by_user: HashMap<CompactString, Vec<bytes::Bytes>> },
}

impl Held {
    /// Nothing held yet for `listing`, whose window (if any) ends `now`.
    pub fn new(listing: &'static Listing, now: DateTime<Utc>) -> Held {
        match &listing.kind {
            ListingKind::Latest { days, .. } => {
                Held::Latest { listing, since: window_start(now, *days), by_user: HashMap::new() }
            }
            ListingKind::Items { .. } | ListingKind::Members { .. } => Held::Items { listing, by_user: HashMap::new() },
        }
    }

    /// Takes a page of the listing's own items (not a group's members).
    pub fn take(&mut self, items: Vec<Value>) {
        match self {
            Held::Latest { listing, since, by_user } => {
                let ListingKind::Latest { user, at: time, .. } = &listing.kind else { return };
                for item in items {
                    let (Some(key), Some(when)) = (key(&item, user), at(&item, time).and_then(timestamp)) else {
                        continue;
                    };
                    if when < *since || by_user.get(&key).is_some_and(|(latest, _)| *latest >= when) {
                        continue;
                    }
                    by_user.insert(key, (when, kept(&item, listing.keep)));
                }
            }
            Held::Items { listing, by_user } => {
                let ListingKind::Items { user } = &listing.kind else { return };
                for item in items {
                    if let Some(key) = key(&item, user) {
                        by_user.entry(key).or_default().push(kept(&item, listing.keep));
                    }
                }
            }
        }
    }

    /// Takes a page of the members of `group` (as kept): each member's user gets the group.
    pub fn members(&mut self, group: &bytes::Bytes, members: Vec<Value>) {
        let Held::Items { listing, by_user } = self else { return };
        let ListingKind::Members { user, .. } = &listing.kind else { return };
        for member in members {
            if let Some(key) = key(&member, user) {
                let groups = by_user.entry(key).or_default();
                // A member listed twice (on two pages of a shifting listing) has the group once.
                if groups.last().is_none_or(|last| last != group) {
                    groups.push(group.clone());
                }
            }
        }
    }
}

/// A group of a listing of groups: the values its members request is asked with, and the group as kept.
pub(crate) struct Group {
    pub keys: Vec<Option<CompactString>>,
    pub kept: bytes::Bytes,
}

/// The groups of a page of a listing of groups.
pub(crate) fn groups(listing: &Listing, items: Vec<Value>) -> Vec<Group> {
    let ListingKind::Members { group_keys, .. } = &listing.kind else { return Vec::new() };
    items
        .iter()
        .map(|item| Group {
            keys: group_keys.iter().map(|path| key(item, path)).collect(),
            kept: kept(item, listing.keep),
        })
        .collect()
}

/// The first day of a window of `days` days that ends `now`.
pub(crate) fn window_start(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - chrono::Duration::days(i64::from(days))
}

/// A time as a query value in `format`.
pub(crate) fn written(time: DateTime<Utc>, format: TimeFormat) -> String {
    match format {
        TimeFormat::Unix => time.timestamp().to_string(),
        TimeFormat::Date => time.date_naive().to_string(),
        TimeFormat::Iso => time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// The value at `path` as a key, as [`crate::page::key`] makes the listed users' values one.
fn key(item: &Value, path: &[Step]) -> Option<CompactString> {
    crate::page::key(Some(&Leaf::of_json(at(item, path)?)))
}

/// The item as kept for its user: only the keys the spec reads, where it says which.
fn kept(item: &Value, keep: Option<&[&str]>) -> bytes::Bytes {
    let bytes = match (item, keep) {
        (Value::Object(object), Some(keys)) => {
            let kept: serde_json::Map<String, Value> =
                keys.iter().filter_map(|key| Some(((*key).to_owned(), object.get(*key)?.clone()))).collect();
            serde_json::to_vec(&kept)
        }
        _ => serde_json::to_vec(item),
    };
    bytes.unwrap_or_default().into()
}

fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    crate::time::timestamp(&Leaf::of_json(value)).ok()
}

/// A value where pagination reads one; null or missing is none.
fn leaf(value: &Value) -> Option<Leaf<'_>> {
    Some(Leaf::of_json(value)).filter(|leaf| leaf.present().is_some())
}

fn at<'v>(value: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.get(key),
        Step::Index(index) => value.get(index),
    })
}

fn at_mut<'v>(value: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.get_mut(key),
        Step::Index(index) => value.get_mut(index),
    })
}

/// A path as a spec writes it.
fn shown(path: &[Step]) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// The start of an answer, for a message: enough to show an API's own error.
fn excerpt(body: &[u8]) -> String {
    const MOST: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(MOST)]);
    let text = crate::one_line(&text);
    if body.len() > MOST { format!("the answer `{text}…`") } else { format!("the answer `{text}`") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Pagination;

    const REQUEST: ListingRequest = ListingRequest {
        path: &[],
        query: &[],
        headers: &[],
        pagination: Pagination::None,
        items: &[Step::Key("logins")],
        next: None,
        more: None,
        total: Some(&[Step::Key("paging"), Step::Key("total")]),
    };

    static EVENTS: Listing = Listing {
        name: "access",
        request: REQUEST,
        kind: ListingKind::Latest {
            user: &[Step::Key("user_id")],
            at: &[Step::Key("date_last")],
            days: 30,
            since: None,
        },
        matches: 0,
        keep: Some(&["date_last", "ip"]),
    };

    fn now() -> DateTime<Utc> {
        "2026-12-07T12:00:00Z".parse().expect("a time")
    }

    #[test]
    fn a_user_keeps_their_latest_event_in_the_window_and_only_the_keys_read() {
        let day = 86_400;
        let now = now().timestamp();
        let body = serde_json::json!({
            "logins": [
                { "user_id": "U1", "date_last": now - 2 * day, "ip": "10.0.0.1", "user_agent": "old" },
                { "user_id": "U1", "date_last": now - day, "ip": "10.0.0.2", "user_agent": "new" },
                { "user_id": "U1", "date_last": now - 3 * day, "ip": "10.0.0.3" },
                { "user_id": "U2", "date_last": now - 40 * day, "ip": "10.0.0.4" },
                { "user_id": " U3 ", "date_last": "2026-12-06T00:00:00Z" },
                { "user_id": "U4", "date_last": "yesterday" },
                { "date_last": now }
            ],
            "paging": { "total": 7 }
        });
        let page = read(&REQUEST, "access", body.to_string().as_bytes()).expect("a page");
        assert_eq!(page.info.count, 7);
        assert_eq!(page.info.total, Some(7));
        let mut held = Held::new(&EVENTS, self::now());
        held.take(page.items);
        let mut gathered = Gathered::default();
        gathered.push(held);
        let answer = |key| gathered.answer(0, key).map(|bytes| String::from_utf8(bytes.to_vec()).expect("UTF-8"));
        assert_eq!(answer("U1").as_deref(), Some(format!(r#"{{"date_last":{},"ip":"10.0.0.2"}}"#, now - day).as_str()));
        assert_eq!(answer("U2"), None, "older than the window");
        assert_eq!(answer("U3").as_deref(), Some(r#"{"date_last":"2026-12-06T00:00:00Z"}"#));
        assert_eq!(answer("U4"), None, "a time that is no time is not an event");
    }

    #[test]
    fn an_answer_without_its_items_shows_what_it_holds() {
        let error = read(&REQUEST, "access", br#"{"ok":false,"error":"paid_only"}"#).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(r#"listing `access`: nothing at `logins` in the answer `{"ok":false,"error":"paid_only"}`"#)
        );
        let error = read(&REQUEST, "access", br#"{"logins":{}}"#).err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("listing `access`: `logins` holds an object, not a list"));
    }

    #[test]
    fn a_member_gets_each_group_once_as_a_list() {
        static GROUPS: Listing = Listing {
            name: "teams",
            request: REQUEST,
            kind: ListingKind::Members {
                members: &REQUEST,
                group_keys: &[&[Step::Key("slug")]],
                user: &[Step::Key("login")],
            },
            matches: 0,
            keep: Some(&["name"]),
        };
        let teams =
            groups(&GROUPS, serde_json::from_str(r#"[{"slug":"a","name":"A","id":1},{"name":"B"}]"#).expect("JSON"));
        assert_eq!(teams[0].keys, vec![Some("a".into())]);
        assert_eq!(teams[1].keys, vec![None]);
        let mut held = Held::new(&GROUPS, now());
        let members = |logins: &str| serde_json::from_str::<Vec<Value>>(logins).expect("JSON");
        held.members(&teams[0].kept, members(r#"[{"login":"ann"},{"login":"bob"}]"#));
        held.members(&teams[0].kept, members(r#"[{"login":"bob"}]"#));
        held.members(&teams[1].kept, members(r#"[{"login":"bob"},{"id":5}]"#));
        let mut gathered = Gathered::default();
        gathered.push(held);
        let answer = |key| gathered.answer(0, key).map(|bytes| String::from_utf8(bytes.to_vec()).expect("UTF-8"));
        assert_eq!(answer("ann").as_deref(), Some(r#"[{"name":"A"}]"#));
        assert_eq!(answer("bob").as_deref(), Some(r#"[{"name":"A"},{"name":"B"}]"#));
        assert_eq!(answer("carol"), None);
    }

    #[test]
    fn window_starts_are_written_as_the_api_reads_them() {
        let start = window_start(now(), 30);
        assert_eq!(written(start, TimeFormat::Unix), (now().timestamp() - 30 * 86_400).to_string());
        assert_eq!(written(start, TimeFormat::Date), "2026-11-07");
        assert_eq!(written(start, TimeFormat::Iso), "2026-11-07T12:00:00Z");
    }
}
