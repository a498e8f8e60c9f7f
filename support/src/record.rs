//! The common user record every connector produces, and why a user was dropped.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use compact_str::CompactString;

/// One user as tib stores it, whatever the app.
///
/// Text is held as [`CompactString`]: up to 24 bytes inline, so the ids,
/// emails, names and roles of most users cost no allocation of their own, and
/// a label fixed in the spec is borrowed, not copied.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// The user's id in the app: non-empty, as sent (numbers keep their digits).
    pub external_id: CompactString,
    /// A valid email address, as sent.
    pub email: CompactString,
    pub username: Option<CompactString>,
    pub name: Option<Name>,
    pub role: Option<CompactString>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Calculated Status.
    pub active: bool,
    /// Status in App.
    pub status: CompactString,
    /// License names, in spec order; one license fixed by the spec is borrowed.
    pub licenses: Cow<'static, [&'static str]>,
    /// Custom fields whose values fit their types, in spec order.
    pub custom_fields: Vec<CustomValue>,
    /// The user's roles and groups in the app, as the API lists them.
    pub roles: Vec<CompactString>,
    pub groups: Vec<CompactString>,
    /// A person's account, a service's, a bot's: as the API says or the spec decides.
    pub account_type: Option<CompactString>,
    /// When the user last did something in the app.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Values left out of this record, and why.
    pub issues: Vec<FieldIssue>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Name {
    Full(CompactString),
    Split { first: Option<CompactString>, last: Option<CompactString> },
}

/// A custom field's value, typed as the catalog says.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomValue {
    /// The attribute's name in the catalog.
    pub name: &'static str,
    pub value: FieldValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Text(CompactString),
    Number(f64),
    Email(CompactString),
    Date(DateTime<Utc>),
    MultiValue(Vec<CompactString>),
    /// A reference to another user of the app (an id or an email).
    User(CompactString),
}

/// A value as tib stores and shows it: text as text, a whole number without
/// a fraction (4001, not 4001.0), a date in RFC 3339, a list as a list.
impl serde::Serialize for FieldValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Text(t) | FieldValue::Email(t) | FieldValue::User(t) => serializer.serialize_str(t),
            FieldValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => serializer.serialize_i64(*n as i64),
            FieldValue::Number(n) => serializer.serialize_f64(*n),
            FieldValue::Date(d) => serializer.collect_str(&d.to_rfc3339()),
            FieldValue::MultiValue(items) => serializer.collect_seq(items.iter().map(CompactString::as_str)),
        }
    }
}

/// The types of custom fields, as generated code names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Number,
    Email,
    Date,
    MultiValue,
    User,
}

/// A value that was left out of a kept user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldIssue {
    /// `created_at`, `last_seen_at` or a custom field's name.
    pub field: &'static str,
    pub reason: String,
}

/// A user as tib stores and shows it: the record a connector produced, in
/// owned, storable form. The runtime stores it; preview prints it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct UserRow {
    pub external_id: String,
    pub email: String,
    pub username: Option<String>,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    pub last_seen_at: Option<String>,
    pub active: bool,
    pub status: String,
    pub licenses: Vec<String>,
    /// Name → typed value (text, number, a list of text).
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub account_type: Option<String>,
    /// RFC 3339, UTC.
    pub last_activity_at: Option<String>,
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        let (full_name, first_name, last_name) = match &user.name {
            None => (None, None, None),
            Some(Name::Full(full)) => (Some(full.to_string()), None, None),
            Some(Name::Split { first, last }) => (None, owned(first), owned(last)),
        };
        let custom_fields = user
            .custom_fields
            .iter()
            .map(|c| (c.name.to_owned(), serde_json::to_value(&c.value).unwrap_or(serde_json::Value::Null)))
            .collect();
        UserRow {
            external_id: user.external_id.to_string(),
            email: user.email.to_string(),
            username: owned(&user.username),
            full_name,
            first_name,
            last_name,
            role: owned(&user.role),
            created_at: user.created_at.map(|t| t.to_rfc3339()),
            last_seen_at: user.last_seen_at.map(|t| t.to_rfc3339()),
            active: user.active,
            status: user.status.to_string(),
            licenses: user.licenses.iter().map(|l| l.to_string()).collect(),
            custom_fields,
            roles: user.roles.iter().map(CompactString::to_string).collect(),
            groups: user.groups.iter().map(CompactString::to_string).collect(),
            account_type: owned(&user.account_type),
            last_activity_at: user.last_activity_at.map(|t| t.to_rfc3339()),
        }
    }
}

fn owned(text: &Option<CompactString>) -> Option<String> {
    text.as_deref().map(str::to_owned)
}

impl UserRow {
    /// The user's name as one line: the full name, or first and last.
    pub fn name(&self) -> String {
        match (&self.full_name, &self.first_name, &self.last_name) {
            (Some(full), _, _) => full.clone(),
            (None, first, last) => {
                [first.as_deref(), last.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")
            }
        }
    }

    /// A custom field's value as text (a list joined with commas); empty when the user has none.
    pub fn custom_text(&self, name: &str) -> String {
        match self.custom_fields.get(name) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(", "),
            Some(other) => other.to_string(),
        }
    }
}

/// A user the API returned that tib cannot store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The id, when there was a usable one.
    pub external_id: Option<String>,
    pub reason: DropReason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    NotAnObject,
    MissingId,
    InvalidId(String),
    MissingEmail,
    InvalidEmail(String),
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropReason::NotAnObject => f.write_str("the item is not a JSON object"),
            DropReason::MissingId => f.write_str("no external id"),
            DropReason::InvalidId(why) => write!(f, "invalid external id: {why}"),
            DropReason::MissingEmail => f.write_str("no email"),
            DropReason::InvalidEmail(why) => write!(f, "invalid email: {why}"),
        }
    }
}
