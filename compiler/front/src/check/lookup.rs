//! Lookups: a request per listed user, templated from the user's values, whose
//! answer the spec reads under the lookup's name (`membership.role`).

use crate::ast::{self, Str, StrPart};
use crate::diag::Diagnostic;
use crate::ir;
use crate::parse::path_in_text;
use crate::span::Span;

use super::credentials::{Credentials, Use};
use super::sections::Lookup;
use super::settings::Settings;

/// The settings of a `lookup` block.
pub const LOOKUP_SETTINGS: &[&str] = &["query", "headers", "not_found", "concurrency", "batch"];

/// The settings of a lookup's `batch` block.
const BATCH_SETTINGS: &[&str] = &["size", "at", "match", "separator"];

/// What `not_found` takes.
const NOT_FOUND: &[&str] = &["none", "error"];

/// Lookups asked at once when the spec does not say: enough to hide a round trip, few enough that
/// an API's per-second limit is not the first thing a sync meets.
const DEFAULT_CONCURRENCY: u32 = 4;

/// The most a spec may ask: a sync must not look like an attack on the API.
const MAX_CONCURRENCY: u64 = 32;

/// The checked lookups, and the user values their requests are templated from, each once, with
/// where each was first written (the shapes read them from the user).
pub struct Checked<'a> {
    pub lookups: Vec<ir::Lookup>,
    pub keys: Vec<(ir::Path, &'a ast::Path)>,
}

/// The paths of the placeholders in lookups' strings that name no credential, by where each is
/// written: parsed out of their strings once, as the shapes borrow them for the spec's life.
pub struct Written(Vec<(Span, Option<ast::Path>)>);

impl Written {
    pub fn collect(found: &[Lookup<'_>], creds: &Credentials) -> Self {
        let mut ignored = Vec::new();
        let paths = found
            .iter()
            .flat_map(|lookup| templated(lookup))
            .flat_map(|s| &s.parts)
            .filter_map(|part| match part {
                StrPart::Placeholder(word) if !creds.declares(&word.text) => Some(word),
                _ => None,
            })
            .map(|word| (word.span, path_in_text(&word.text, word.span.start, &mut ignored)))
            .collect();
        Written(paths)
    }

    fn path(&self, at: Span) -> Option<&ast::Path> {
        self.0.iter().find(|(span, _)| *span == at).and_then(|(_, path)| path.as_ref())
    }
}

/// The strings of a lookup that may hold values of the user: its path, then its query's values.
fn templated<'a>(lookup: &Lookup<'a>) -> Vec<&'a Str> {
    let query = lookup
        .settings
        .into_iter()
        .flat_map(|block| &block.entries)
        .filter(|entry| entry.key.text == "query")
        .filter_map(|entry| match &entry.value {
            ast::Value::Block(block) => Some(block),
            _ => None,
        })
        .flat_map(|block| &block.entries)
        .filter_map(|entry| match &entry.value {
            ast::Value::Str(s) => Some(s),
            _ => None,
        });
    std::iter::once(lookup.path).chain(query).collect()
}

/// `session`: the names of the session's values (`auth session`), which a lookup may name too.
pub fn lookups<'a>(
    found: &[Lookup<'_>],
    written: &'a Written,
    session: &[String],
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) -> Option<Checked<'a>> {
    let mut checked = Checked { lookups: Vec::new(), keys: Vec::new() };
    let mut ok = true;
    for (i, lookup) in found.iter().enumerate() {
        if let Some(first) = found[..i].iter().find(|l| l.name.text == lookup.name.text) {
            d.push(
                Diagnostic::error(
                    "tib::duplicate-lookup",
                    format!("two lookups are named `{}`", lookup.name.text),
                    lookup.name.span,
                    "named again here",
                )
                .with_label(first.name.span, "first named here")
                .with_help("each lookup's answer is read under its name: give each its own"),
            );
            ok = false;
            continue;
        }
        let mut values = Values { all: found, written, session, creds, keys: &mut checked.keys };
        match one(lookup, &mut values, d) {
            Some(lookup) => checked.lookups.push(lookup),
            None => ok = false,
        }
    }
    ok.then_some(checked)
}

/// What a lookup's strings are read against: the spec's lookups and credentials, and the values
/// of the user gathered so far.
struct Values<'v, 'a> {
    all: &'v [Lookup<'v>],
    written: &'a Written,
    session: &'v [String],
    creds: &'v mut Credentials,
    keys: &'v mut Vec<(ir::Path, &'a ast::Path)>,
}

fn one(lookup: &Lookup<'_>, values: &mut Values<'_, '_>, d: &mut Vec<Diagnostic>) -> Option<ir::Lookup> {
    let mut ok = get_only(
        lookup.method,
        "a lookup",
        "a lookup is a `GET` of one user's details, e.g. lookup membership GET \"/memberships/{login}\"",
        d,
    );
    let path = lookup_path(lookup, values, d);
    let settings = lookup.settings.map(|block| Settings::block(block, LOOKUP_SETTINGS, "`lookup`", d));
    let (query, headers, not_found, concurrency) = match &settings {
        None => (Some(Vec::new()), Some(Vec::new()), Some(ir::NotFound::Error), Some(DEFAULT_CONCURRENCY)),
        Some(s) => (
            query(s, values, d),
            super::endpoint::fixed_params(s, "headers", Use::Secret, values.creds, d),
            not_found(s, d),
            match s.get("concurrency") {
                None => Some(DEFAULT_CONCURRENCY),
                Some(_) => s.integer("concurrency", 1..=MAX_CONCURRENCY, d).map(|n| n as u32),
            },
        ),
    };
    let (path, query) = (path?, query?);
    let reads_user = path.iter().chain(query.iter().flat_map(|param| &param.value));
    if !reads_user.into_iter().any(|part| matches!(part, ir::LookupPart::User(_))) && ok {
        d.push(
            Diagnostic::error(
                "tib::lookup-path",
                "this lookup holds no value of the user",
                lookup.path.span,
                "the same for every user",
            )
            .with_help("a lookup is asked once per user: name the user in its path or query, e.g. \"/users/{id}\""),
        );
        ok = false;
    }
    let batch = match settings.as_ref().and_then(|s| s.get("batch").map(|value| (s, value))) {
        None => Some(None),
        Some((_, value)) => batch(value, &path, &query, d).map(Some),
    };
    let lookup = ir::Lookup {
        batch: batch?,
        name: lookup.name.text.clone(),
        path,
        query,
        headers: headers?.into_iter().map(|(param, _)| param).collect(),
        not_found: not_found?,
        concurrency: concurrency?,
    };
    ok.then_some(lookup)
}

/// Whether `method` is GET, the one method of a request the spec makes besides the users'; `what`
/// the request is, and `help` how to write it.
pub(super) fn get_only(method: &ast::Word, what: &str, help: &str, d: &mut Vec<Diagnostic>) -> bool {
    if method.text == "GET" {
        return true;
    }
    d.push(
        Diagnostic::error(
            "tib::method",
            format!("`{}` is not a method for {what}", method.text),
            method.span,
            "not GET",
        )
        .with_help(help)
        .with_replacement("GET"),
    );
    false
}

/// `"/memberships/{login}"`: a path after base_url, with no query of its own.
fn lookup_path(
    lookup: &Lookup<'_>,
    values: &mut Values<'_, '_>,
    d: &mut Vec<Diagnostic>,
) -> Option<Vec<ir::LookupPart>> {
    let text = crate::parse::string_text(lookup.path);
    if !text.starts_with('/') || text.contains('?') || text.starts_with("//") {
        let help = if text.contains('?') {
            "move the parameters to the lookup's query: lookup groups GET \"/user/groups\" { query = { \"accountId\" = \"{accountId}\" } }"
        } else {
            "write the path after base_url, starting with `/`: \"/users/{id}\""
        };
        d.push(
            Diagnostic::error("tib::lookup-path", "a lookup's path is a path after base_url", lookup.path.span, "here")
                .with_help(help),
        );
        return None;
    }
    template(lookup.path, "a lookup's path", values, d)
}

/// The lookup's query: names and values, the values templated as its path is.
fn query(s: &Settings<'_>, values: &mut Values<'_, '_>, d: &mut Vec<Diagnostic>) -> Option<Vec<ir::LookupParam>> {
    if s.get("query").is_none() {
        return Some(Vec::new());
    }
    let mut params = Vec::new();
    let mut ok = true;
    for (entry, value) in s.map("query", d)? {
        match template(value, "a lookup's query value", values, d) {
            Some(value) => params.push(ir::LookupParam { name: entry.key.text.clone(), value }),
            None => ok = false,
        }
    }
    ok.then_some(params)
}

/// Text, credentials, the session's values and values of the user; a value of the user is never
/// another lookup's answer, as lookups are asked side by side.
fn template(s: &Str, what: &str, values: &mut Values<'_, '_>, d: &mut Vec<Diagnostic>) -> Option<Vec<ir::LookupPart>> {
    let mut parts = Vec::new();
    let mut ok = true;
    for part in &s.parts {
        match part {
            StrPart::Text(text) => parts.push(ir::LookupPart::Text(text.clone())),
            StrPart::Placeholder(word) if let Some(fixed) = fixed(word, values.creds, values.session, what, d) => {
                match fixed {
                    Some(fixed) => parts.push(fixed),
                    None => ok = false,
                }
            }
            StrPart::Placeholder(word) => match user_value(word, values, d) {
                Some(index) => parts.push(ir::LookupPart::User(index)),
                None => ok = false,
            },
        }
    }
    ok.then_some(parts)
}

/// A placeholder that names a credential (`text` only: it goes in a URL) or a value of the
/// session, as the part it is (none where that credential cannot go there); none when it names
/// neither, as a value of the user or of a group does.
pub(super) fn fixed(
    word: &ast::Word,
    creds: &mut Credentials,
    session: &[String],
    what: &str,
    d: &mut Vec<Diagnostic>,
) -> Option<Option<ir::LookupPart>> {
    if creds.declares(&word.text) {
        let one = Str { parts: vec![StrPart::Placeholder(word.clone())], span: word.span, lookalikes: Vec::new() };
        return Some(creds.template(&one, Use::Shown, what, d).and_then(|template| match template.parts.as_slice() {
            [ir::TemplatePart::Credential(id)] => Some(ir::LookupPart::Credential(*id)),
            _ => None,
        }));
    }
    let index = session.iter().position(|name| *name == word.text)?;
    Some(Some(ir::LookupPart::Session(index)))
}

/// `{login}`: the index of a value of the user among those lookups are asked with.
fn user_value(word: &ast::Word, values: &mut Values<'_, '_>, d: &mut Vec<Diagnostic>) -> Option<usize> {
    let Some(written) = values.written.path(word.span) else {
        d.push(
            Diagnostic::error(
                "tib::lookup-path",
                format!("`{{{}}}` is neither a credential nor a path of the user", word.text),
                word.span,
                "not a path",
            )
            .with_help("each {…} is a credential or a value of the listed user, e.g. {login} or {profile.id}"),
        );
        return None;
    };
    let path = super::values::path(written, d)?;
    if let Some(ir::Segment::Key(first)) = path.segments.first()
        && let Some(other) = values.all.iter().find(|l| &l.name.text == first)
    {
        d.push(
            Diagnostic::error(
                "tib::lookup-order",
                format!("a lookup cannot be asked with `{first}`, a lookup's answer"),
                word.span,
                "a lookup's answer",
            )
            .with_label(other.name.span, "that lookup")
            .with_help("lookups are asked side by side, each from the listed user's own values"),
        );
        return None;
    }
    Some(match values.keys.iter().position(|(known, _)| *known == path) {
        Some(index) => index,
        None => {
            values.keys.push((path, written));
            values.keys.len() - 1
        }
    })
}

/// `batch = { size = 50  at = values  match = accountId }`: the lookup names the user once, as a whole
/// query value (`"accountId" = "{accountId}"`), which the batch carries for many users.
fn batch(
    value: &ast::Value,
    path: &[ir::LookupPart],
    query: &[ir::LookupParam],
    d: &mut Vec<Diagnostic>,
) -> Option<ir::Batch> {
    let ast::Value::Block(block) = value else {
        d.push(super::values::wrong_kind("batch", "a block: { size = 50  at = values  match = accountId }", value));
        return None;
    };
    let s = Settings::block(block, BATCH_SETTINGS, "`batch`", d);
    let size = s.required_integer("size", 2..=1000, "size = 50", d);
    let keys = |name: &str, example: &str, d: &mut Vec<Diagnostic>| {
        let value = s.required(name, example, d)?;
        let path = super::values::path_value(name, value, d)?;
        let keys: Option<Vec<String>> = path
            .segments
            .into_iter()
            .map(|segment| match segment {
                ir::Segment::Key(key) => Some(key),
                ir::Segment::Index(_) => None,
            })
            .collect();
        if keys.is_none() {
            d.push(
                Diagnostic::error("tib::lookup-batch", format!("`{name}` is read by keys"), value.span(), "an index")
                    .with_help("name the list and the value by the keys that lead to them, e.g. at = values"),
            );
        }
        keys
    };
    let at = keys("at", "at = values", d);
    let key = keys("match", "match = accountId", d);
    let separator = match s.get("separator") {
        None => Some(None),
        Some(_) => s.string("separator", d).and_then(|text| super::values::plain(text, "the separator", d)).map(Some),
    };
    // The users' values go in one query value of their own; nowhere else is a user named.
    let in_path = path.iter().any(|part| matches!(part, ir::LookupPart::User(_)));
    let carrying: Vec<(usize, usize)> = query
        .iter()
        .enumerate()
        .filter_map(|(index, param)| match param.value.as_slice() {
            [ir::LookupPart::User(user)] => Some((index, *user)),
            _ => None,
        })
        .collect();
    let elsewhere = query.iter().filter(|param| param.value.iter().any(|part| matches!(part, ir::LookupPart::User(_))));
    let (param, user) = match (in_path, carrying.as_slice(), elsewhere.count()) {
        (false, [one], 1) => *one,
        _ => {
            d.push(
                Diagnostic::error(
                    "tib::lookup-batch",
                    "a batched lookup names the user once, as a whole query value",
                    block.span,
                    "batched",
                )
                .with_help(
                    "write the user's value alone in one query value, e.g. lookup details GET \"/user/bulk\" \
                     { query = { \"accountId\" = \"{accountId}\" } batch = { size = 50  at = values  match = accountId } }",
                ),
            );
            return None;
        }
    };
    Some(ir::Batch { size: size? as u32, param, user, separator: separator?, at: at?, key: key? })
}

fn not_found(s: &Settings<'_>, d: &mut Vec<Diagnostic>) -> Option<ir::NotFound> {
    let Some(value) = s.string("not_found", d) else {
        return if s.get("not_found").is_some() { None } else { Some(ir::NotFound::Error) };
    };
    match value.plain().as_deref() {
        Some("none") => Some(ir::NotFound::Nothing),
        Some("error") => Some(ir::NotFound::Error),
        other => {
            d.push(
                Diagnostic::error(
                    "tib::not-found",
                    format!("`not_found` is \"none\" or \"error\", not {:?}", other.unwrap_or("a template")),
                    value.span,
                    "unknown",
                )
                .did_you_mean(other.unwrap_or_default(), NOT_FOUND, "it takes"),
            );
            None
        }
    }
}

/// A lookup whose answer no value reads costs a request per user for nothing.
pub fn warn_unread(found: &[Lookup<'_>], user: &ir::Shape, d: &mut Vec<Diagnostic>) {
    let ir::Shape::Object(object) = user else { return };
    for lookup in found {
        if !object.fields.iter().any(|field| field.joined && field.key == lookup.name.text) {
            d.push(
                Diagnostic::warning(
                    "tib::unread-lookup",
                    format!("nothing reads `{}`, this lookup's answer", lookup.name.text),
                    lookup.name.span,
                    "never read",
                )
                .with_help(format!(
                    "read it in fields or rules, e.g. role = {}.role, or remove the lookup: it costs a request per user",
                    lookup.name.text
                )),
            );
        }
    }
}
