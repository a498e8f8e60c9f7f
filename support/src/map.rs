//! Building the user record from the values generated code picked out:
//! validation of id and email, timestamps, typed custom fields.

use std::borrow::Cow;

use compact_str::CompactString;

use crate::record::{CustomValue, DropReason, Dropped, FieldIssue, FieldType, FieldValue, Name, User};
use crate::time::timestamp;
use crate::value::Leaf;
pub use tib_values::validate_email;

/// Longest external id kept; longer ones are not ids.
const MAX_ID_LEN: usize = 512;
/// Longest text kept of any other value, in bytes: names, roles, labels and
/// custom fields are short, and a hostile API must not fill the store.
pub const MAX_TEXT_LEN: usize = 4096;

/// `text` cut to at most [`MAX_TEXT_LEN`] bytes, at a character boundary, and
/// [`crate::storable`]: every store keeps it alike.
fn bounded(text: &str) -> CompactString {
    let text = crate::storable(text);
    if text.len() <= MAX_TEXT_LEN {
        return CompactString::from(text.as_ref());
    }
    let end = (0..=MAX_TEXT_LEN).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    CompactString::from(&text[..end])
}

/// A mapped source's value: present, and none of the values the spec says
/// mean "none" (`except`), compared as `any of` compares.
pub fn unless<'r, 'a>(value: Option<&'r Leaf<'a>>, except: &[crate::rules::Lit<'_>]) -> Option<&'r Leaf<'a>> {
    value.and_then(Leaf::present).filter(|v| !crate::rules::any_of(Some(v), except))
}

/// A piece of a `format`: fixed text, or a value of the user.
#[derive(Clone, Copy, Debug)]
pub enum Piece<'p, 'r, 'a> {
    Text(&'p str),
    Value(Option<&'r Leaf<'a>>),
}

/// Text built from a user's values (`format "{id}+{login}@users.noreply.github.com"`):
/// none unless every value is present and text, a number or true/false.
pub fn format(pieces: &[Piece<'_, '_, '_>]) -> Option<Leaf<'static>> {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Value(value) => out.push_str(&value.and_then(Leaf::present)?.text()?),
        }
    }
    Some(Leaf::Text(Cow::Owned(out)))
}

/// A value of each item of a list (`groups[].name`): the items' values that are present, as a
/// list; none when no item has one.
pub fn each<'r, 'a: 'r>(items: Option<impl Iterator<Item = Option<&'r Leaf<'a>>>>) -> Option<Leaf<'a>> {
    let values: Vec<Leaf<'a>> = items?.flatten().filter_map(Leaf::present).cloned().collect();
    (!values.is_empty()).then_some(Leaf::List(values))
}

/// A label: read from a field, or fixed by the spec's conditions.
#[derive(Clone, Copy, Debug)]
pub enum Label<'r, 'a> {
    Leaf(Option<&'r Leaf<'a>>),
    Fixed(&'static str),
}

/// The name as mapped.
#[derive(Clone, Copy, Debug)]
pub enum NameParts<'r, 'a> {
    None,
    Full(Option<&'r Leaf<'a>>),
    Split { first: Option<&'r Leaf<'a>>, last: Option<&'r Leaf<'a>> },
}

/// Everything a generated connector read and decided about one user.
pub struct Draft<'r, 'a> {
    pub id: Option<&'r Leaf<'a>>,
    pub email: Option<&'r Leaf<'a>>,
    pub username: Option<&'r Leaf<'a>>,
    pub name: NameParts<'r, 'a>,
    pub role: Option<Label<'r, 'a>>,
    pub created_at: Option<&'r Leaf<'a>>,
    pub last_seen_at: Option<&'r Leaf<'a>>,
    pub active: bool,
    pub status: Label<'r, 'a>,
    pub licenses: Cow<'static, [&'static str]>,
    pub custom_fields: &'r [(&'static str, FieldType, Option<&'r Leaf<'a>>)],
    pub roles: Option<&'r Leaf<'a>>,
    pub groups: Option<&'r Leaf<'a>>,
    pub account_type: Option<Label<'r, 'a>>,
    pub last_activity_at: Option<&'r Leaf<'a>>,
}

impl Draft<'_, '_> {
    /// The record, or why the user cannot be stored.
    pub fn finish(self) -> Result<User, Dropped> {
        let external_id = external_id(self.id)?;
        let email = match email(self.email) {
            Ok(email) => email,
            Err(reason) => return Err(Dropped { external_id: Some(external_id.into()), reason }),
        };
        let mut issues = Vec::new();
        let mut time = |field: &'static str, value: Option<&Leaf<'_>>| match value.and_then(Leaf::present) {
            None => None,
            Some(v) => timestamp(v).map_err(|reason| issues.push(FieldIssue { field, reason })).ok(),
        };
        let created_at = time("created_at", self.created_at);
        let last_seen_at = time("last_seen_at", self.last_seen_at);
        let last_activity_at = time("last_activity_at", self.last_activity_at);
        let mut list = |field: &'static str, value: Option<&Leaf<'_>>| match value.and_then(Leaf::present) {
            None => Vec::new(),
            Some(value) => texts(value).unwrap_or_else(|reason| {
                issues.push(FieldIssue { field, reason });
                Vec::new()
            }),
        };
        let (roles, groups) = (list("roles", self.roles), list("groups", self.groups));
        let mut custom_fields = Vec::with_capacity(self.custom_fields.len());
        for (name, kind, value) in self.custom_fields {
            match value.and_then(Leaf::present).map(|v| custom(*kind, v)) {
                None => {}
                Some(Ok(value)) => custom_fields.push(CustomValue { name, value }),
                Some(Err(reason)) => issues.push(FieldIssue { field: name, reason }),
            }
        }
        // A text field mapped to an object or a list has no text: said, as a custom field's is.
        let mut text_of = |field: &'static str, leaf: Option<&Leaf<'_>>| {
            if let Some(value @ (Leaf::Object | Leaf::List(_))) = leaf {
                issues.push(FieldIssue { field, reason: format!("{} is not text", value.kind()) });
            }
            text(leaf)
        };
        let username = text_of("username", self.username);
        let name = match self.name {
            NameParts::None => None,
            NameParts::Full(full) => text_of("name", full).map(Name::Full),
            NameParts::Split { first, last } => match (text_of("first_name", first), text_of("last_name", last)) {
                (None, None) => None,
                (first, last) => Some(Name::Split { first, last }),
            },
        };
        let mut labelled = |field: &'static str, value: Option<Label<'_, '_>>| match value {
            Some(Label::Leaf(leaf)) => text_of(field, leaf),
            Some(fixed) => label(fixed),
            None => None,
        };
        let role = labelled("role", self.role);
        let account_type = labelled("account_type", self.account_type);
        Ok(User {
            external_id,
            email,
            username,
            name,
            role,
            created_at,
            last_seen_at,
            active: self.active,
            status: label(self.status).unwrap_or_default(),
            licenses: self.licenses,
            custom_fields,
            roles,
            groups,
            account_type,
            last_activity_at,
            issues,
        })
    }
}

/// The label's text, if it has one. Fixed labels are not copied.
pub fn label(label: Label<'_, '_>) -> Option<CompactString> {
    match label {
        Label::Fixed(text) => Some(CompactString::const_new(text)),
        Label::Leaf(leaf) => text(leaf),
    }
}

fn text(leaf: Option<&Leaf<'_>>) -> Option<CompactString> {
    let text = leaf?.text()?;
    let text = bounded(trim(&text));
    (!text.is_empty()).then_some(text)
}

/// `str::trim`, with a shortcut for what nearly every value is: text that
/// starts and ends with a visible ASCII character, which has nothing to trim.
fn trim(text: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    if visible(text.as_bytes().first()) && visible(text.as_bytes().last()) { text } else { text.trim() }
}

fn external_id(leaf: Option<&Leaf<'_>>) -> Result<CompactString, Dropped> {
    let drop = |reason| Dropped { external_id: None, reason };
    let Some(leaf) = leaf.and_then(Leaf::present) else { return Err(drop(DropReason::MissingId)) };
    let Some(id) = leaf.text().filter(|_| !matches!(leaf, Leaf::Bool(_))) else {
        return Err(drop(DropReason::InvalidId(format!("{} is not an id", leaf.kind()))));
    };
    let id = trim(&id);
    if id.is_empty() {
        return Err(drop(DropReason::MissingId));
    }
    if id.len() > MAX_ID_LEN || has_control(id) {
        return Err(drop(DropReason::InvalidId("too long or holds control characters".to_owned())));
    }
    Ok(CompactString::from(id))
}

fn email(leaf: Option<&Leaf<'_>>) -> Result<CompactString, DropReason> {
    let text = text(leaf).ok_or(DropReason::MissingEmail)?;
    validate_email(&text).map_err(|why| DropReason::InvalidEmail(format!("`{text}` {why}")))?;
    Ok(text)
}

/// Whether `text` holds a control character. Every user's id passes here, so
/// ASCII text, nearly all of it, is checked byte by byte.
fn has_control(text: &str) -> bool {
    if text.is_ascii() { text.bytes().any(|b| b.is_ascii_control()) } else { text.chars().any(char::is_control) }
}

/// A list of text (roles, groups, a multi-value field); one value where several may stand is a
/// list of one.
fn texts(value: &Leaf<'_>) -> Result<Vec<CompactString>, String> {
    match value {
        Leaf::List(items) => items
            .iter()
            .map(|item| item.text().map(|t| bounded(&t)).ok_or_else(|| format!("an item is {}", item.kind())))
            .collect(),
        other => {
            other.text().map(|t| vec![bounded(&t)]).ok_or_else(|| format!("expected strings, found {}", other.kind()))
        }
    }
}

fn custom(kind: FieldType, value: &Leaf<'_>) -> Result<FieldValue, String> {
    let mismatch = |expected: &str| format!("expected {expected}, found {}", value.kind());
    match kind {
        FieldType::Text => value.text().map(|t| FieldValue::Text(bounded(&t))).ok_or_else(|| mismatch("text")),
        FieldType::Number => value.number().map(FieldValue::Number).ok_or_else(|| match value {
            Leaf::Text(t) => format!("`{t}` is not a number"),
            _ => mismatch("a number"),
        }),
        FieldType::Email => {
            let text = value.text().ok_or_else(|| mismatch("an email"))?;
            let email = trim(&text);
            validate_email(email).map_err(|why| format!("`{text}` {why}"))?;
            Ok(FieldValue::Email(email.into()))
        }
        FieldType::Date => timestamp(value).map(FieldValue::Date),
        FieldType::MultiValue => texts(value).map(FieldValue::MultiValue),
        FieldType::User => {
            let text = value.text().filter(|_| !matches!(value, Leaf::Bool(_)));
            match text.as_deref().map(trim) {
                Some(user) if !user.is_empty() => Ok(FieldValue::User(bounded(user))),
                _ => Err(mismatch("a user id or email")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft<'r, 'a>(id: Option<&'r Leaf<'a>>, email: Option<&'r Leaf<'a>>) -> Draft<'r, 'a> {
        Draft {
            id,
            email,
            username: None,
            name: NameParts::None,
            role: None,
            created_at: None,
            last_seen_at: None,
            active: true,
            status: Label::Fixed("Active"),
            licenses: Cow::Borrowed(&[]),
            custom_fields: &[],
            roles: None,
            groups: None,
            account_type: None,
            last_activity_at: None,
        }
    }

    #[test]
    fn roles_and_groups_are_lists_of_text_one_text_a_list_of_one_and_an_object_in_them_said() {
        let (id, email) = (Leaf::Text("u1".into()), Leaf::Text("ann@example.com".into()));
        let groups = Leaf::List(vec![Leaf::Text("ops".into()), Leaf::Number("7".into())]);
        let (one, bad) = (Leaf::Text("admin".into()), Leaf::List(vec![Leaf::Text("a".into()), Leaf::Object]));
        let mut d = draft(Some(&id), Some(&email));
        (d.groups, d.roles) = (Some(&groups), Some(&one));
        let user = d.finish().expect("kept");
        assert_eq!((user.groups, user.roles), (vec!["ops".into(), "7".into()], vec!["admin".into()]));
        let mut d = draft(Some(&id), Some(&email));
        d.roles = Some(&bad);
        let user = d.finish().expect("kept");
        assert!(user.roles.is_empty());
        assert_eq!(user.issues, [FieldIssue { field: "roles", reason: "an item is an object".to_owned() }]);
    }

    #[test]
    fn each_gives_the_present_values_of_the_items_or_none() {
        let items = [Some(Leaf::Text("a".into())), None, Some(Leaf::Null), Some(Leaf::Text("b".into()))];
        let each = each(Some(items.iter().map(Option::as_ref)));
        assert_eq!(each, Some(Leaf::List(vec![Leaf::Text("a".into()), Leaf::Text("b".into())])));
        assert_eq!(super::each(Some([None::<&Leaf<'_>>].into_iter())), None, "no item with a value is no value");
        assert_eq!(super::each(None::<std::iter::Empty<Option<&Leaf<'_>>>>), None);
    }

    #[test]
    fn a_text_field_mapped_to_an_object_or_a_list_is_said_to_be_left_out() {
        let (id, email) = (Leaf::Text("u1".into()), Leaf::Text("ann@example.com".into()));
        let (object, list, name) = (Leaf::Object, Leaf::List(vec![Leaf::Text("a".into())]), Leaf::Text("Ann".into()));
        let mut d = draft(Some(&id), Some(&email));
        d.username = Some(&object);
        d.name = NameParts::Split { first: Some(&name), last: Some(&list) };
        d.role = Some(Label::Leaf(Some(&object)));
        let user = d.finish().expect("kept");
        assert_eq!((user.username, user.role), (None, None));
        assert_eq!(user.name, Some(Name::Split { first: Some("Ann".into()), last: None }));
        let said: Vec<(&str, &str)> = user.issues.iter().map(|i| (i.field, i.reason.as_str())).collect();
        assert_eq!(
            said,
            [
                ("username", "an object is not text"),
                ("last_name", "an array is not text"),
                ("role", "an object is not text")
            ]
        );
    }

    #[test]
    fn id_and_email_decide_whether_a_user_is_kept() {
        let email = Leaf::Text("ann@example.com".into());
        type Case<'a> = (Option<Leaf<'a>>, Option<Leaf<'a>>, Result<&'a str, DropReason>);
        let cases: Vec<Case<'_>> = vec![
            (Some(Leaf::Number("9007199254740993".into())), Some(email.clone()), Ok("9007199254740993")),
            (Some(Leaf::Text(" u1 ".into())), Some(email.clone()), Ok("u1")),
            (None, Some(email.clone()), Err(DropReason::MissingId)),
            (Some(Leaf::Text("".into())), Some(email.clone()), Err(DropReason::MissingId)),
            (Some(Leaf::Bool(true)), Some(email.clone()), Err(DropReason::InvalidId("a boolean is not an id".into()))),
            (Some(Leaf::Text("u1".into())), None, Err(DropReason::MissingEmail)),
            (
                Some(Leaf::Text("u1".into())),
                Some(Leaf::Text("ann".into())),
                Err(DropReason::InvalidEmail("`ann` has no @".into())),
            ),
        ];
        for (id, email, expected) in cases {
            let result = draft(id.as_ref(), email.as_ref()).finish();
            match (result, expected) {
                (Ok(user), Ok(expected_id)) => assert_eq!(user.external_id, expected_id),
                (Err(dropped), Err(reason)) => assert_eq!(dropped.reason, reason),
                (result, expected) => panic!("{result:?} vs {expected:?}"),
            }
        }
    }

    #[test]
    fn email_and_user_fields_are_trimmed_and_checked() {
        let id = Leaf::Text("u1".into());
        let email = Leaf::Text("a@b.co".into());
        let (spaced_email, bad_email) = (Leaf::Text(" ann@b.co ".into()), Leaf::Text("nope".into()));
        let (spaced_user, blank_user, bool_user) =
            (Leaf::Text(" u7 ".into()), Leaf::Text("  ".into()), Leaf::Bool(true));
        let fields = [
            ("Backup", FieldType::Email, Some(&spaced_email)),
            ("Alias", FieldType::Email, Some(&bad_email)),
            ("Manager", FieldType::User, Some(&spaced_user)),
            ("Deputy", FieldType::User, Some(&blank_user)),
            ("Owner", FieldType::User, Some(&bool_user)),
        ];
        let mut d = draft(Some(&id), Some(&email));
        d.custom_fields = &fields;
        let user = d.finish().expect("kept");
        assert_eq!(
            user.custom_fields,
            vec![
                CustomValue { name: "Backup", value: FieldValue::Email("ann@b.co".into()) },
                CustomValue { name: "Manager", value: FieldValue::User("u7".into()) },
            ]
        );
        assert_eq!(
            user.issues,
            vec![
                FieldIssue { field: "Alias", reason: "`nope` has no @".into() },
                FieldIssue { field: "Deputy", reason: "expected a user id or email, found a string".into() },
                FieldIssue { field: "Owner", reason: "expected a user id or email, found a boolean".into() },
            ]
        );
    }

    #[test]
    fn text_from_an_api_is_kept_to_a_bounded_length_on_a_character_boundary() {
        let long = format!("{}é{}", "a".repeat(MAX_TEXT_LEN - 1), "b".repeat(10_000));
        let cut = bounded(&long);
        assert_eq!(cut.len(), MAX_TEXT_LEN - 1, "the two-byte é would cross the bound: cut before it");
        assert_eq!(bounded("short"), "short");
        let leaf = Leaf::Text(long.as_str().into());
        assert_eq!(text(Some(&leaf)).map(|t| t.len()), Some(MAX_TEXT_LEN - 1));
        let kept = custom(FieldType::Text, &leaf);
        assert!(matches!(&kept, Ok(FieldValue::Text(t)) if t.len() == MAX_TEXT_LEN - 1), "{kept:?}");
    }

    #[test]
    fn trim_is_str_trim() {
        for text in ["", " ", "a", " a ", "a\t", "\u{a0}a", "a\u{2003}", "\u{e9}", "x\u{7f}", "\u{7f}"] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }

    #[test]
    fn email_check_table() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert_eq!(validate_email(ok), Ok(()), "{ok}");
        }
        for bad in [
            "a@b",
            "@b.co",
            "a b@c.io",
            "a\tb@c.io",
            "a\u{a0}b@c.io",
            "a\u{7f}@c.io",
            "a@.io",
            "a@b..io",
            "a@@b.io",
            "a@-b.io",
            "a@b-.io",
            "a@b.io.",
            "a@b@c.io",
            "a\u{2003}@c.io",
            "ann",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_email("ann.example.com"), Err("has no @"));
        assert_eq!(validate_email("a@b@c.io"), Err("has no single local part before @"));
        assert_eq!(validate_email("@c.io"), Err("has no single local part before @"));
        assert_eq!(validate_email("jos\u{e9}\u{2003}@c.io"), Err("is too long or holds spaces"));
        assert_eq!(validate_email(&format!("{}@c.io", "a".repeat(250))), Err("is too long or holds spaces"));
        assert_eq!(validate_email("a@c..io"), Err("has no valid domain"));
        assert_eq!(validate_email("jos\u{e9}@exampl\u{e9}.fr"), Ok(()));
    }

    #[test]
    fn custom_fields_that_do_not_fit_are_left_out_with_a_reason() {
        let id = Leaf::Text("u1".into());
        let email = Leaf::Text("a@b.co".into());
        let number = Leaf::Text("12.5".into());
        let not_number = Leaf::Text("lots".into());
        let teams = Leaf::List(vec![Leaf::Text("a".into()), Leaf::Number("2".into())]);
        let bad_date = Leaf::Text("someday".into());
        let fields = [
            ("Cost", FieldType::Number, Some(&number)),
            ("Seats", FieldType::Number, Some(&not_number)),
            ("Teams", FieldType::MultiValue, Some(&teams)),
            ("Start", FieldType::Date, Some(&bad_date)),
            ("Manager", FieldType::User, None),
        ];
        let mut d = draft(Some(&id), Some(&email));
        d.custom_fields = &fields;
        let user = d.finish().expect("kept");
        assert_eq!(
            user.custom_fields,
            vec![
                CustomValue { name: "Cost", value: FieldValue::Number(12.5) },
                CustomValue { name: "Teams", value: FieldValue::MultiValue(vec!["a".into(), "2".into()]) },
            ]
        );
        assert_eq!(
            user.issues,
            vec![
                FieldIssue { field: "Seats", reason: "`lots` is not a number".into() },
                FieldIssue { field: "Start", reason: "`someday` is not a timestamp".into() },
            ]
        );
    }
}
