//! The common user record every connector produces, and why a user was dropped.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// One user as tib stores it, whatever the app.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// The user's id in the app: non-empty, as sent (numbers keep their digits).
    pub external_id: String,
    /// A valid email address, as sent.
    pub email: String,
    pub username: Option<String>,
    pub name: Option<Name>,
    /// A fixed label of the spec borrows it; a role read from a field owns its text.
    pub role: Option<Cow<'static, str>>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Calculated Status.
    pub active: bool,
    /// Status in App.
    pub status: Cow<'static, str>,
    /// License names, in spec order.
    pub licenses: Vec<&'static str>,
    /// Custom fields whose values fit their types, in spec order.
    pub custom_fields: Vec<CustomValue>,
    /// Values left out of this record, and why.
    pub issues: Vec<FieldIssue>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Name {
    Full(String),
    Split { first: Option<String>, last: Option<String> },
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
    Text(String),
    Number(f64),
    Email(String),
    Date(DateTime<Utc>),
    MultiValue(Vec<String>),
    /// A reference to another user of the app (an id or an email).
    User(String),
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
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        let (full_name, first_name, last_name) = match &user.name {
            None => (None, None, None),
            Some(Name::Full(full)) => (Some(full.clone()), None, None),
            Some(Name::Split { first, last }) => (None, first.clone(), last.clone()),
        };
        let custom_fields = user
            .custom_fields
            .iter()
            .map(|c| {
                let value = match &c.value {
                    FieldValue::Text(t) | FieldValue::Email(t) | FieldValue::User(t) => serde_json::json!(t),
                    // Whole numbers stay whole: 4001, not 4001.0.
                    FieldValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => serde_json::json!(*n as i64),
                    FieldValue::Number(n) => serde_json::json!(n),
                    FieldValue::Date(d) => serde_json::json!(d.to_rfc3339()),
                    FieldValue::MultiValue(items) => serde_json::json!(items),
                };
                (c.name.to_owned(), value)
            })
            .collect();
        UserRow {
            external_id: user.external_id.clone(),
            email: user.email.clone(),
            username: user.username.clone(),
            full_name,
            first_name,
            last_name,
            role: user.role.as_deref().map(str::to_owned),
            created_at: user.created_at.map(|t| t.to_rfc3339()),
            last_seen_at: user.last_seen_at.map(|t| t.to_rfc3339()),
            active: user.active,
            status: user.status.to_string(),
            licenses: user.licenses.iter().map(|l| l.to_string()).collect(),
            custom_fields,
        }
    }
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
