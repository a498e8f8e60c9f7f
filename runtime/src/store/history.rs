//! A user's history: what each sync changed (appeared, fields changed,
//! license gained or lost, marked deleted, back again), found as the
//! by-product of comparing the staged record with the stored one.

use serde::Serialize;

use super::Time;
use super::staging::{CUSTOM_FIELDS, FIELDS, LICENSES, Record};

/// What happened to a user at one sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Listed for the first time (the account's first sync records none: every user appears then).
    Appeared,
    /// Listed with other values; `fields` says which.
    Changed,
    LicenseGained,
    LicenseLost,
    /// No longer listed: kept, without access.
    Deleted,
    /// Listed again after being marked deleted.
    Returned,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Appeared => "appeared",
            Event::Changed => "changed",
            Event::LicenseGained => "license_gained",
            Event::LicenseLost => "license_lost",
            Event::Deleted => "deleted",
            Event::Returned => "returned",
        }
    }

    pub fn parse(text: &str) -> Option<Event> {
        [Event::Appeared, Event::Changed, Event::LicenseGained, Event::LicenseLost, Event::Deleted, Event::Returned]
            .into_iter()
            .find(|e| e.as_str() == text)
    }
}

/// One field's values before and after a change; custom fields are named
/// `custom_fields.<name>`, their values JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// One entry of a user's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub external_id: String,
    pub at: Time,
    pub run_id: i64,
    pub event: Event,
    /// The changed fields of a `changed` entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// The license of a `license_gained` or `license_lost` entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// Which history to read.
#[derive(Clone, Debug, Default)]
pub struct HistoryQuery {
    /// One user, by external id or email.
    pub user: Option<String>,
    /// Entries at or after this time.
    pub since: Option<Time>,
    /// The newest this many.
    pub limit: i64,
}

/// How a stored user differs from its staged record.
#[derive(Debug, Default, PartialEq)]
pub struct Diff {
    pub fields: Vec<FieldChange>,
    pub gained: Vec<String>,
    pub lost: Vec<String>,
}

/// Compares a stored user (its fields in [`FIELDS`] order) with the record
/// that replaces it.
pub fn diff(old: &[Option<String>], new: &Record<'_>) -> Diff {
    let mut diff = Diff::default();
    for (i, name) in FIELDS.iter().enumerate() {
        let (before, after) = (old.get(i).and_then(Option::as_deref), new.fields[i]);
        if before == after {
            continue;
        }
        match i {
            LICENSES => {
                let (before, after) = (licenses(before), licenses(after));
                diff.gained = after.iter().filter(|l| !before.contains(l)).cloned().collect();
                diff.lost = before.iter().filter(|l| !after.contains(l)).cloned().collect();
            }
            CUSTOM_FIELDS => {
                let (before, after) = (object(before), object(after));
                let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
                for name in names {
                    let (b, a) = (before.get(name), after.get(name));
                    if b != a {
                        diff.fields.push(FieldChange {
                            field: format!("custom_fields.{name}"),
                            old: b.map(ToString::to_string),
                            new: a.map(ToString::to_string),
                        });
                    }
                }
            }
            _ => diff.fields.push(FieldChange {
                field: (*name).to_owned(),
                old: before.map(str::to_owned),
                new: after.map(str::to_owned),
            }),
        }
    }
    diff
}

fn licenses(json: Option<&str>) -> Vec<String> {
    json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
}

fn object(json: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
    json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(fields: [Option<&'a str>; FIELDS.len()]) -> Record<'a> {
        Record { digest: 0, fields }
    }

    #[test]
    fn a_diff_names_changed_fields_custom_fields_and_licenses_gained_and_lost() {
        let old: Vec<Option<String>> = [
            Some("u1"),
            Some("a@example.com"),
            None,
            Some("Ada"),
            None,
            None,
            Some("member"),
            None,
            None,
            Some("1"),
            Some("Active"),
            Some(r#"["Pro","Audit"]"#),
            Some(r#"{"seats":3,"team":"Ops"}"#),
            None,
            None,
            None,
            None,
        ]
        .into_iter()
        .map(|f| f.map(str::to_owned))
        .collect();
        let new = record([
            Some("u1"),
            Some("a@example.com"),
            None,
            Some("Ada"),
            None,
            None,
            Some("admin"),
            None,
            None,
            Some("1"),
            Some("Active"),
            Some(r#"["Pro","Billing"]"#),
            Some(r#"{"team":"Ops","seats":4}"#),
            None,
            None,
            None,
            None,
        ]);
        let diff = diff(&old, &new);
        let change = |field: &str, old: &str, new: &str| FieldChange {
            field: field.into(),
            old: Some(old.into()),
            new: Some(new.into()),
        };
        assert_eq!(diff.fields, [change("role", "member", "admin"), change("custom_fields.seats", "3", "4")]);
        assert_eq!((diff.gained, diff.lost), (vec!["Billing".to_owned()], vec!["Audit".to_owned()]));

        let same = record(std::array::from_fn(|i| old[i].as_deref()));
        assert_eq!(super::diff(&old, &same), Diff::default());
    }
}
