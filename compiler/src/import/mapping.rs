//! The field mappings and the active rule, suggested from a user's schema by
//! the names and formats APIs give its properties.

use serde_json::Value;
use tib_front::format::literal;
use tib_front::ir::{Path, Segment};

use super::document::Document;
use super::draft::Slot;
use super::users::{Leaf, is_email, leaves, normal};

pub struct Mapped {
    pub fields: Vec<(&'static str, Slot<Path>)>,
    pub active: Option<String>,
    pub status: Option<Path>,
    pub unmapped: Vec<String>,
}

const ID: &[&str] = &["id", "userid", "uid", "uuid", "gid", "accountid", "memberid", "guid", "objectid", "key"];
const EMAIL: &[&str] = &["email", "emailaddress", "primaryemail", "workemail", "mail"];
const USERNAME: &[&str] = &["username", "login", "loginname", "handle", "screenname", "userprincipalname", "nickname"];
/// A bare `name` comes last: it is often the handle (Slack's) where another holds the whole name.
const NAME: &[&str] = &["fullname", "displayname", "realname", "name"];
const FIRST: &[&str] = &["firstname", "givenname", "first"];
const LAST: &[&str] = &["lastname", "familyname", "surname", "last"];
const CREATED: &[&str] = &[
    "createdat",
    "created",
    "createdon",
    "creationdate",
    "datecreated",
    "createddatetime",
    "createdtime",
    "createtime",
    "insertedat",
    "joinedat",
];
const STATUS: &[&str] = &["status", "state", "userstatus", "accountstatus"];
/// Status values that mean the user holds a seat.
const ACTIVE_VALUES: &[&str] = &["active", "enabled", "activated", "confirmed"];
const ACTIVE_FLAGS: &[&str] = &["active", "isactive", "enabled", "isenabled", "accountenabled"];
const INACTIVE_FLAGS: &[&str] = &[
    "deleted",
    "isdeleted",
    "disabled",
    "isdisabled",
    "suspended",
    "issuspended",
    "deactivated",
    "isdeactivated",
    "archived",
    "isarchived",
    "blocked",
];

/// How many other properties the draft lists for custom fields.
const UNMAPPED: usize = 40;

pub fn mapping(doc: &Document, item: Option<&Value>) -> Mapped {
    let leaves = item.map(|item| leaves(doc, item)).unwrap_or_default();
    let mut used: Vec<Path> = Vec::new();
    let mut pick = |found: Option<&Leaf<'_>>| {
        found.map(|leaf| {
            used.push(leaf.path.clone());
            leaf.path.clone()
        })
    };
    let named = |names: &[&str]| by_name(&leaves, names);
    let scalar = |leaf: &&Leaf<'_>| leaf.kind.is_none_or(|k| k != "array");
    let id = pick(named(ID).filter(|l| scalar(l)));
    let email = pick(named(EMAIL).or_else(|| leaves.iter().find(|l| is_email(l))).or_else(|| {
        leaves.iter().find(|l| matches!(normal(l.key).as_str(), "value" | "address") && parent_is(l, "emails"))
    }));
    let mut fields: Vec<(&'static str, Slot<Path>)> = vec![
        ("id", id.map_or_else(|| Slot::Gap("the path to each user's id".to_owned()), Slot::Known)),
        ("email", email.map_or_else(|| Slot::Gap("the path to each user's email".to_owned()), Slot::Known)),
    ];
    if let Some(path) = pick(named(USERNAME).filter(|l| scalar(l) && !is_email(l))) {
        fields.push(("username", Slot::Known(path)));
    }
    if let Some(path) = pick(named(NAME).filter(|l| l.kind == Some("string") || l.kind.is_none())) {
        fields.push(("name", Slot::Known(path)));
    } else if let (Some(first), Some(last)) = (named(FIRST), named(LAST)) {
        let (first, last) = (pick(Some(first)), pick(Some(last)));
        fields.extend(first.map(|path| ("first_name", Slot::Known(path))));
        fields.extend(last.map(|path| ("last_name", Slot::Known(path))));
    }
    let role = leaves.iter().find(|l| l.kind.is_none_or(|k| k == "string") && words(l).contains("role"));
    if let Some(path) = pick(role) {
        fields.push(("role", Slot::Known(path)));
    }
    let created = named(CREATED).or_else(|| leaves.iter().find(|l| is_time(l) && normal(l.key).contains("creat")));
    if let Some(path) = pick(created) {
        fields.push(("created_at", Slot::Known(path)));
    }
    let last_seen = leaves.iter().find(|l| {
        let key = normal(l.key);
        key.contains("last") && ["login", "seen", "activ", "signin", "access", "visit"].iter().any(|w| key.contains(w))
    });
    if let Some(path) = pick(last_seen) {
        fields.push(("last_seen_at", Slot::Known(path)));
    }

    let status = named(STATUS).filter(|l| l.kind.is_none_or(|k| k == "string"));
    let flag = |names: &[&str]| named(names).filter(|l| l.kind == Some("boolean"));
    let active = match status.and_then(active_values) {
        Some(rule) => Some(rule),
        None => match (flag(ACTIVE_FLAGS), flag(INACTIVE_FLAGS)) {
            (Some(on), _) => pick(Some(on)).map(|path| format!("{path} is true")),
            (None, Some(off)) => pick(Some(off)).map(|path| format!("{path} is not true")),
            (None, None) => None,
        },
    };
    let status = pick(status);
    let unmapped =
        leaves.iter().filter(|l| !used.contains(&l.path)).take(UNMAPPED).map(|l| l.path.to_string()).collect();
    Mapped { fields, active, status, unmapped }
}

/// The shallowest property with one of these names, the earlier name first.
fn by_name<'a, 'd>(leaves: &'a [Leaf<'d>], names: &[&str]) -> Option<&'a Leaf<'d>> {
    names.iter().find_map(|name| leaves.iter().filter(|l| normal(l.key) == *name).min_by_key(|l| l.path.segments.len()))
}

fn parent_is(leaf: &Leaf<'_>, name: &str) -> bool {
    leaf.path.segments.iter().rev().find_map(|s| match s {
        Segment::Key(key) if normal(key) != normal(leaf.key) => Some(normal(key) == name),
        _ => None,
    }) == Some(true)
}

/// The whole path's keys, normalised and joined: `roles[0].name` is `rolesname`.
fn words(leaf: &Leaf<'_>) -> String {
    leaf.path
        .segments
        .iter()
        .filter_map(|s| match s {
            Segment::Key(key) => Some(normal(key)),
            Segment::Index(_) => None,
        })
        .collect()
}

fn is_time(leaf: &Leaf<'_>) -> bool {
    matches!(leaf.format, Some("date-time" | "date"))
}

/// `status any of ["active"]` from a status property's enum, when it names active values.
fn active_values(status: &Leaf<'_>) -> Option<String> {
    let values: Vec<&str> = status
        .schema
        .get("enum")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_str)
        .filter(|v| ACTIVE_VALUES.contains(&v.to_ascii_lowercase().as_str()))
        .collect();
    match values.as_slice() {
        [] => None,
        [one] => Some(format!("{} is {}", status.path, literal(one))),
        many => {
            Some(format!("{} any of [{}]", status.path, many.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ")))
        }
    }
}
