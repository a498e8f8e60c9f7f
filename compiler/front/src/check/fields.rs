//! Field mappings: id and email required, a full name or first and last name,
//! the role as a field or by conditions; custom fields from the catalog.

use crate::ast::{self, Value};
use crate::catalog::Catalog;
use crate::diag::Diagnostic;
use crate::ident::Namespace;
use crate::ir;
use crate::span::Span;
use crate::suggest;

use super::settings::Settings;
use super::values;

/// The user fields a spec maps.
pub const FIELDS: &[&str] = &[
    "id",
    "email",
    "username",
    "name",
    "first_name",
    "last_name",
    "role",
    "roles",
    "groups",
    "account_type",
    "created_at",
    "last_seen_at",
    "last_activity_at",
];

/// The fields that hold a list, where `list[].item` may stand.
const LISTS: &[&str] = &["roles", "groups"];

/// Whether a field that holds one value is mapped without `list[].item`, which gives many.
fn single(name: &str, value: &ast::Value, d: &mut Vec<Diagnostic>) -> bool {
    let Value::Mapped(mapped) = value else { return true };
    let Some(each) = mapped.sources.iter().find_map(|source| match &source.origin {
        ast::Origin::Each(each) => Some(each),
        _ => None,
    }) else {
        return true;
    };
    d.push(
        Diagnostic::error("tib::each-in-one-value", format!("`{name}` holds one value, and `[]` gives a list"), each.span, "a list")
            .with_help(
                "`list[].item` maps roles, groups and multi-value custom fields; for one item write its index, e.g. `emails[0].value`",
            ),
    );
    false
}

pub fn fields(block: &ast::Block, d: &mut Vec<Diagnostic>) -> Option<ir::Fields> {
    let s = Settings::block(block, FIELDS, "`fields`", d);
    let mut ok = true;
    for entry in block.entries.iter().filter(|entry| !LISTS.contains(&entry.key.text.as_str())) {
        ok &= single(&entry.key.text, &entry.value, d);
    }
    if !ok {
        return None;
    }
    let path = |name: &str, d: &mut Vec<Diagnostic>| optional(s.get(name).map(|value| values::mapped(name, value, d)));
    let id = required(&s, "id", "id = id", d);
    let email = required(&s, "email", "email = profile.email", d);
    let username = path("username", d);
    let timestamp = |name: &str, d: &mut Vec<Diagnostic>| {
        let fits = s.get(name).is_none_or(|value| fallback_fits(name, value, Kind::Timestamp, d));
        path(name, d).filter(|_| fits)
    };
    let created_at = timestamp("created_at", d);
    let last_seen_at = timestamp("last_seen_at", d);
    let last_activity_at = timestamp("last_activity_at", d);
    let (roles, groups) = (path("roles", d), path("groups", d));
    let name = name(&s, d);
    let role = optional(s.get("role").map(|value| labelled("role", value, d)));
    let account_type = optional(s.get("account_type").map(|value| labelled("account_type", value, d)));
    Some(ir::Fields {
        id: id?,
        email: email?,
        username: username?,
        name: name?,
        role: role?,
        created_at: created_at?,
        last_seen_at: last_seen_at?,
        roles: roles?,
        groups: groups?,
        account_type: account_type?,
        last_activity_at: last_activity_at?,
    })
}

/// A text of the user that may be decided by rules: the user's own value, labels by rules, or labels
/// by rules else the user's value (`else roleId`).
fn labelled(name: &str, value: &Value, d: &mut Vec<Diagnostic>) -> Option<ir::Labelled> {
    let owner = format!("`{name}`");
    match value {
        Value::Branches(branches @ ast::Branches { otherwise: Some(ast::Otherwise::Value(fallback)), .. }) => {
            let list = super::rules::branch_list(branches, &owner, d);
            let otherwise = values::mapped(name, fallback, d);
            Some(ir::Labelled::Decided { branches: list?, otherwise: otherwise? })
        }
        Value::Branches(branches) => super::rules::branches(branches, &owner, d).map(ir::Labelled::Conditions),
        other => values::mapped(name, other, d).map(ir::Labelled::Field),
    }
}

/// What a field's values are read as: its fallback literal must read as one too.
#[derive(Clone, Copy)]
enum Kind {
    Timestamp,
    Custom(ir::FieldType),
}

/// Whether the literal after `else` can be a value of the field: one that
/// can never be (`created_at … else "never"`) would be left out of every user
/// without the field, silently; it is an error, read as the connectors read
/// values ([`tib_values`]).
fn fallback_fits(name: &str, value: &ast::Value, kind: Kind, d: &mut Vec<Diagnostic>) -> bool {
    let Value::Mapped(mapped) = value else { return true };
    let Some(fallback) = mapped.fallback.as_deref() else { return true };
    let text = match fallback {
        Value::Str(s) => s.plain(),
        Value::Number(n) => Some(n.text.clone()),
        _ => None,
    };
    let number = matches!(fallback, Value::Number(_));
    let why: Option<String> = match (kind, fallback, text.as_deref().map(str::trim)) {
        (_, _, None) if !matches!(fallback, Value::Bool(..)) => None,
        (Kind::Timestamp | Kind::Custom(ir::FieldType::Date), Value::Bool(..), _) => {
            Some("true/false is no timestamp".to_owned())
        }
        (Kind::Timestamp | Kind::Custom(ir::FieldType::Date), _, Some(t)) if number => {
            t.parse::<f64>().map_err(|e| e.to_string()).and_then(tib_values::unix).err()
        }
        (Kind::Timestamp | Kind::Custom(ir::FieldType::Date), _, Some(t)) => tib_values::timestamp_text(t).err(),
        (Kind::Custom(ir::FieldType::Number), Value::Bool(..), _) => Some("true/false is no number".to_owned()),
        (Kind::Custom(ir::FieldType::Number), _, Some(t)) => {
            t.parse::<f64>().is_err().then(|| format!("`{t}` is not a number"))
        }
        (Kind::Custom(ir::FieldType::Email), _, Some(t)) if !number => {
            tib_values::validate_email(t).err().map(|why| format!("`{t}` {why}"))
        }
        (Kind::Custom(ir::FieldType::Email), _, _) => Some("an email is text with an @".to_owned()),
        (Kind::Custom(ir::FieldType::User), Value::Bool(..), _) => Some("true/false is no user id or email".to_owned()),
        (Kind::Custom(ir::FieldType::User), _, Some("")) => Some("an empty text is no user".to_owned()),
        _ => None,
    };
    let Some(why) = why else { return true };
    let (what, example) = match kind {
        Kind::Timestamp => ("a timestamp", "\"2024-01-01\""),
        Kind::Custom(ir::FieldType::Date) => ("a date", "\"2024-01-01\""),
        Kind::Custom(ir::FieldType::Number) => ("a number", "0"),
        Kind::Custom(ir::FieldType::Email) => ("an email address", "\"it@acme.example\""),
        Kind::Custom(_) => ("a user id or email", "\"unknown\""),
    };
    d.push(
        Diagnostic::error(
            "tib::fallback-never-fits",
            format!("`{name}` ends with a literal that can never be {what}: {why}"),
            fallback.span(),
            "left out of every user it stands for",
        )
        .with_help(format!(
            "a user without a value is better left without one: remove the `else` literal, or write {what}, \
             e.g. `else {example}`"
        )),
    );
    false
}

/// An optional mapping: absent is `Some(None)`, a mistake is `None`.
fn optional<T>(mapped: Option<Option<T>>) -> Option<Option<T>> {
    match mapped {
        None => Some(None),
        Some(checked) => checked.map(Some),
    }
}

/// The id or the email: a value of each user's own, so never a fallback literal.
fn required(s: &Settings<'_>, name: &str, example: &str, d: &mut Vec<Diagnostic>) -> Option<ir::Mapped> {
    let value = s.required(name, example, d)?;
    let mapped = values::mapped(name, value, d)?;
    if let (Some(_), ast::Value::Mapped(written)) = (&mapped.fallback, value) {
        let at = written.fallback.as_deref().map_or(written.span, Value::span);
        d.push(
            Diagnostic::error(
                "tib::fallback-not-allowed",
                format!("`{name}` cannot end with a literal"),
                at,
                "every user without one would get this same value",
            )
            .with_help(format!("a user without {name} is dropped, which is right: remove the `else` literal")),
        );
        return None;
    }
    Some(mapped)
}

/// `None` on error, `Some(None)` when no name is mapped.
fn name(s: &Settings<'_>, d: &mut Vec<Diagnostic>) -> Option<Option<ir::Name>> {
    let full = s.get("name");
    let first = s.get("first_name");
    let last = s.get("last_name");
    if let (Some(full), Some(split)) = (full, first.or(last)) {
        d.push(
            Diagnostic::error("tib::name-twice", "the name is mapped both whole and split", full.span(), "full name")
                .with_label(split.span(), "first/last name")
                .with_help("map either `name`, or `first_name` and `last_name`"),
        );
        return None;
    }
    match (full, first, last) {
        (Some(full), None, None) => values::mapped("name", full, d).map(|p| Some(ir::Name::Full(p))),
        (None, Some(first), Some(last)) => {
            let first = values::mapped("first_name", first, d);
            let last = values::mapped("last_name", last, d);
            Some(Some(ir::Name::Split { first: first?, last: last? }))
        }
        (None, Some(one), None) | (None, None, Some(one)) => {
            let (given, other) =
                if first.is_some() { ("first_name", "last_name") } else { ("last_name", "first_name") };
            d.push(
                Diagnostic::error(
                    "tib::name-half",
                    format!("`{given}` is mapped without `{other}`"),
                    one.span(),
                    "only half a name",
                )
                .with_help(format!("map `{other}` too, or map the whole name with `name`")),
            );
            None
        }
        _ => Some(None),
    }
}

/// `custom_fields { "Attribute" = path }`, each attribute defined for this app
/// in the catalog and mapped once.
pub fn custom_fields(
    block: Option<&ast::Block>,
    app: Option<&ir::App>,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Option<Vec<ir::CustomField>> {
    let Some(block) = block else { return Some(Vec::new()) };
    let app = app?;
    if catalog.is_missing() {
        d.push(
            Diagnostic::error(
                "tib::no-catalog",
                format!("no {} was found, so no app has custom fields", crate::catalog::FILE_NAME),
                block.span,
                "custom fields mapped here",
            )
            .with_help(format!(
                "check from the workspace that holds {} and specs/ (or give --root), or define [{}] in one",
                crate::catalog::FILE_NAME,
                app.name
            )),
        );
        return None;
    }
    let Some(defined) = catalog.app(&app.name) else {
        let known: Vec<&str> = catalog.app_names().collect();
        let help = match suggest::closest(&app.name, known.iter().copied()) {
            Some(best) => format!("the catalog has `{best}`; is the app name spelt the same in both?"),
            None => format!("define the app's attributes in {} under [{}]", crate::catalog::FILE_NAME, app.name),
        };
        d.push(
            Diagnostic::error(
                "tib::catalog-app",
                format!("the custom-field catalog defines nothing for `{}`", app.name),
                block.span,
                "custom fields mapped here",
            )
            .with_help(help),
        );
        return None;
    };
    let names: Vec<&str> = defined.keys().map(String::as_str).collect();
    let mut seen: std::collections::HashMap<&str, &ast::Entry> = std::collections::HashMap::new();
    let mut idents = Namespace::default();
    let mut out = Vec::new();
    let mut ok = true;
    for entry in &block.entries {
        let name = &entry.key.text;
        if let Some(first) = seen.get(name.as_str()) {
            d.push(
                Diagnostic::error(
                    "tib::duplicate-custom-field",
                    format!("custom field `{name}` is mapped twice"),
                    entry.key.span,
                    "mapped again here",
                )
                .with_label(first.key.span, "first mapped here")
                .with_help("a custom field takes one value: keep one mapping, or try paths in turn with `or`"),
            );
            ok = false;
            continue;
        }
        seen.insert(name.as_str(), entry);
        let Some(kind) = defined.get(name) else {
            // The name inside its quotes: the quick fix replaces the name, and the quotes stay.
            let span = entry.key.span;
            let at = if entry.key.quoted { Span::new(span.start + 1, span.end - 1) } else { span };
            d.push(
                Diagnostic::error(
                    "tib::unknown-custom-field",
                    format!("the catalog defines no custom field `{name}` for {}", app.name),
                    at,
                    "not in the catalog",
                )
                .did_you_mean(name, &names, &format!("{}'s custom fields are", app.name)),
            );
            ok = false;
            continue;
        };
        if !fallback_fits(name, &entry.value, Kind::Custom(*kind), d)
            || (*kind != ir::FieldType::MultiValue && !single(name, &entry.value, d))
        {
            ok = false;
            continue;
        }
        match values::mapped(name, &entry.value, d) {
            Some(value) => {
                out.push(ir::CustomField { name: name.clone(), ident: idents.unique(name), kind: *kind, value })
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}
