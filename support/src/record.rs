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
