//! Values every pass reads: JSON paths, plain strings and literals.

use crate::ast;
use crate::diag::Diagnostic;
use crate::ir;

/// A path as the IR holds it. A leading `$` (a JSONPath habit) is an error:
/// paths start where they are used (the body, the user, the array item).
pub fn path(path: &ast::Path, d: &mut Vec<Diagnostic>) -> Option<ir::Path> {
    if let Some(ast::Segment::Key { name, quoted: false, span }) = path.segments.first()
        && name == "$"
    {
        d.push(
                Diagnostic::error("tib::absolute-path", "paths do not start with `$`", *span, "JSONPath root")
                    .with_help("paths are relative to where they are used: write `data.users`, not `$.data.users`; `.` alone is the value itself"),
            );
        return None;
    }
    Some(as_written(path))
}

/// The path as written, without checks: for messages that quote it.
pub fn as_written(path: &ast::Path) -> ir::Path {
    let segments = path
        .segments
        .iter()
        .map(|segment| match segment {
            ast::Segment::Key { name, .. } => ir::Segment::Key(name.clone()),
            ast::Segment::Index { index, .. } => ir::Segment::Index(*index),
        })
        .collect();
    ir::Path { segments }
}

/// A path given as a setting value: a path, or a string naming one key
/// (`"@odata.nextLink"`).
pub fn path_value(name: &str, value: &ast::Value, d: &mut Vec<Diagnostic>) -> Option<ir::Path> {
    match value {
        ast::Value::Path(p) => path(p, d),
        ast::Value::Str(s) => {
            let key = plain(s, &format!("`{name}`"), d)?;
            Some(ir::Path { segments: vec![ir::Segment::Key(key)] })
        }
        other => {
            d.push(wrong_kind(name, "a path such as `profile.email`", other));
            None
        }
    }
}

/// A mapped user value: a path, a string naming one key, or paths tried in
/// turn with the values that mean none (`except`) and a literal (`else`).
pub fn mapped(name: &str, value: &ast::Value, d: &mut Vec<Diagnostic>) -> Option<ir::Mapped> {
    let ast::Value::Mapped(m) = value else { return path_value(name, value, d).map(ir::Mapped::path) };
    let sources: Vec<Option<ir::Source>> = m
        .sources
        .iter()
        .map(|source| {
            let origin = match &source.origin {
                ast::Origin::Path(p) => path(p, d).map(ir::Origin::Path),
                ast::Origin::Format(format) => self::format(format, d),
                ast::Origin::Each(each) => {
                    let (list, item) = (path(&each.list, d), path(&each.item, d));
                    Some(ir::Origin::Each { list: list?, item: item?, slot: 0 })
                }
            };
            let except = match source.except.as_deref() {
                None => Some(Vec::new()),
                Some(ast::Value::List(items, span)) if items.is_empty() => {
                    d.push(
                        Diagnostic::error(
                            "tib::wrong-operand",
                            "`except` needs at least one value",
                            *span,
                            "empty list",
                        )
                        .with_help(
                            "name the values that mean none, e.g. `except [\"\", \"n/a\"]`, or remove `except []`",
                        ),
                    );
                    None
                }
                Some(ast::Value::List(items, _)) => items.iter().map(|item| literal(item, d)).collect(),
                Some(one) => literal(one, d).map(|l| vec![l]),
            };
            Some(ir::Source { origin: origin?, except: except? })
        })
        .collect();
    let fallback = match m.fallback.as_deref() {
        None => Some(None),
        Some(value) => literal(value, d).map(Some),
    };
    Some(ir::Mapped { sources: sources.into_iter().collect::<Option<_>>()?, fallback: fallback? })
}

/// `format "{id}+{login}@…"`: at least one path in it, each checked. Its slot
/// is given once the spec is whole.
fn format(format: &ast::Format, d: &mut Vec<Diagnostic>) -> Option<ir::Origin> {
    if format.reported {
        return None;
    }
    let parts: Vec<Option<ir::FormatPart>> = format
        .parts
        .iter()
        .map(|part| match part {
            ast::FormatPart::Text(text) => Some(ir::FormatPart::Text(text.clone())),
            ast::FormatPart::Path(p) => path(p, d).map(ir::FormatPart::Path),
        })
        .collect();
    if !format.parts.iter().any(|part| matches!(part, ast::FormatPart::Path(_))) {
        d.push(
            Diagnostic::error("tib::format", "this format holds no value of the user", format.span, "fixed text")
                .with_help("write each value of the user as {path}, e.g. format \"{id}+{login}@users.noreply.github.com\"; a fixed text is `else \"…\"`"),
        );
        return None;
    }
    Some(ir::Origin::Format { parts: parts.into_iter().collect::<Option<_>>()?, slot: 0 })
}

/// The text of a string that must not contain `{placeholders}`.
pub fn plain(s: &ast::Str, what: &str, d: &mut Vec<Diagnostic>) -> Option<String> {
    if let Some(placeholder) = s.first_placeholder() {
        d.push(
            Diagnostic::error(
                "tib::placeholder-not-allowed",
                format!("{what} cannot hold a credential placeholder"),
                placeholder.span,
                "placeholder",
            )
            .with_help(
                "placeholders are for base_url, auth values, the request's query and headers, the body and OAuth \
                 URLs; write \\{ for a literal brace",
            ),
        );
        return None;
    }
    s.plain()
}

/// A rule's constant.
pub fn literal(value: &ast::Value, d: &mut Vec<Diagnostic>) -> Option<ir::Literal> {
    match value {
        ast::Value::Str(s) => plain(s, "a rule value", d).map(ir::Literal::Text),
        ast::Value::Bool(b, _) => Some(ir::Literal::Bool(*b)),
        ast::Value::Number(n) => number(n, d).map(|value| ir::Literal::Number { value, text: n.text.clone() }),
        other => {
            d.push(
                Diagnostic::error(
                    "tib::wrong-operand",
                    format!("a rule compares with a string, number or true/false, not {}", other.kind_name()),
                    other.span(),
                    "not a single value",
                )
                .with_help("write one value, e.g. `state is \"active\"`; several are `state any of [\"a\", \"b\"]`"),
            );
            None
        }
    }
}

pub fn number(n: &ast::Number, d: &mut Vec<Diagnostic>) -> Option<f64> {
    match n.text.parse::<f64>() {
        Ok(value) if value.is_finite() => Some(value),
        _ => {
            d.push(
                Diagnostic::error("tib::bad-number", "this number is out of range", n.span, "too large")
                    .with_help("numbers here are at most 2^53 (9007199254740992), as JSON carries them exactly"),
            );
            None
        }
    }
}

/// A gap left to fill in, where `expected` belongs: the one report for it.
pub fn todo(todo: &ast::Todo, expected: &str) -> Diagnostic {
    let what = todo.what.plain().unwrap_or_else(|| "what belongs here".to_owned());
    Diagnostic::error("tib::todo", format!("left to fill in: {what}"), todo.span, "a gap to fill in")
        .with_help(format!("replace `todo \"…\"` with {expected}"))
}

/// "`page_size` takes a number, found a string". A gap there is reported as
/// the gap, with what the setting takes.
pub fn wrong_kind(name: &str, expected: &str, found: &ast::Value) -> Diagnostic {
    if let ast::Value::Todo(gap) = found {
        return todo(gap, &format!("{expected} for `{name}`"));
    }
    let mut diagnostic = Diagnostic::error(
        "tib::wrong-kind",
        format!("`{name}` takes {expected}, found {}", found.kind_name()),
        found.span(),
        format!("this is {}", found.kind_name()),
    );
    if let (ast::Value::Str(s), true) = (found, expected.contains("number"))
        && s.plain().is_some_and(|t| t.parse::<f64>().is_ok())
    {
        diagnostic = diagnostic.with_help("write the number without quotes");
    } else {
        diagnostic = diagnostic.with_help(format!("write `{name}` as {expected}"));
    }
    if let (ast::Value::Path(_), true) = (found, expected.contains("string")) {
        diagnostic = diagnostic.with_help("put the text in double quotes");
    }
    diagnostic
}
