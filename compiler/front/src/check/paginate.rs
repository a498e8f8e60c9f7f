//! Pagination: one style, its settings complete, its stop conditions explicit
//! and meaningful for that style.

use crate::ast::{self, PaginationItem, Value};
use crate::diag::Diagnostic;
use crate::ir;
use crate::span::Span;

use super::settings::Settings;
use super::values;

pub const STYLES: &[&str] = &["none", "offset", "page", "next_url", "token"];
const COUNT_STOPS: &[&str] = &["empty_page", "short_page", "no_more", "total"];
const TOKEN_STOPS: &[&str] = &["missing_token", "empty_page", "no_more"];

/// The settings a pagination style takes (besides `stop when` and `from` lines).
pub fn settings(style: &str) -> &'static [&'static str] {
    match style {
        "offset" => &["offset_param", "limit_param", "page_size", "start", "concurrency", "max_users"],
        "page" => &["page_param", "size_param", "page_size", "first_page", "concurrency", "max_users"],
        "token" => &["param", "body_field", "continue_path", "max_users"],
        "next_url" => &["max_users"],
        _ => &[],
    }
}

/// The stop conditions a pagination style takes.
pub fn stop_conditions(style: &str) -> &'static [&'static str] {
    match style {
        "offset" | "page" => COUNT_STOPS,
        "next_url" | "token" => TOKEN_STOPS,
        _ => &[],
    }
}

/// The parts of a pagination block, split by kind.
struct Body<'a> {
    settings: Settings<'a>,
    stops: Vec<(&'a ast::Word, Option<&'a ast::Path>, Span)>,
    from: Option<(&'a ast::Word, Option<&'a Value>, Span)>,
}

/// The style, and the most users the API lists through it (`max_users`).
pub fn pagination(
    style: &ast::Word,
    body: Option<&ast::Pagination>,
    d: &mut Vec<Diagnostic>,
) -> Option<(ir::Pagination, Option<u64>)> {
    let style_name = style.text.as_str();
    if !STYLES.contains(&style_name) {
        d.push(
            Diagnostic::error(
                "tib::unknown-pagination",
                format!("`{style_name}` is not a pagination style"),
                style.span,
                "unknown style",
            )
            .did_you_mean(style_name, STYLES, "styles are"),
        );
        return None;
    }
    let owner = format!("`paginate {style_name}`");
    let Some(body) = body else {
        if style_name == "none" {
            return Some((ir::Pagination::None, None));
        }
        d.push(
            Diagnostic::error(
                "tib::incomplete-pagination",
                format!("{owner} needs its settings"),
                style.span,
                "no settings",
            )
            .with_help(format!(
                "write paginate {style_name} {{ ... }}; the language reference lists the settings of each style"
            )),
        );
        return None;
    };
    if style_name == "none" {
        d.push(
            Diagnostic::error(
                "tib::incomplete-pagination",
                "`paginate none` takes no settings",
                body.span,
                "remove this block",
            )
            .with_help("with `none`, one request returns every user"),
        );
        return None;
    }
    let body = split(body, settings(style_name), &owner, d);
    let max_users = body.settings.integer("max_users", 1..=MOST_USERS, d);
    let paging = match style_name {
        "offset" => counted(&body, &owner, CountedKind::Offset, d),
        "page" => counted(&body, &owner, CountedKind::Page, d),
        "next_url" => next_url(&body, &owner, d),
        _ => token(&body, &owner, d),
    }?;
    // A counted page that would reach past the cap is never asked for: a cap that is not a
    // whole number of pages would end the listing short of it.
    if let (Some(cap), ir::Pagination::Offset(ir::Offset { page_size, .. }))
    | (Some(cap), ir::Pagination::PageNumber(ir::PageNumber { page_size, .. })) = (max_users, &paging)
        && !cap.is_multiple_of(u64::from(*page_size))
    {
        let span = body.settings.get("max_users").map_or(style.span, Value::span);
        d.push(
            Diagnostic::error(
                "tib::max-users",
                format!("`max_users` {cap} is not a whole number of pages of {page_size}"),
                span,
                "not a multiple of page_size",
            )
            .with_help(format!(
                "pages are asked whole, so the last one would reach past the cap: make page_size divide it \
                 (e.g. page_size = {})",
                largest_divisor(cap, *page_size)
            )),
        );
        return None;
    }
    Some((paging, max_users))
}

/// The highest `max_users` a spec may state.
const MOST_USERS: u64 = 1_000_000_000;

/// The largest page size up to `under` that divides `cap`.
fn largest_divisor(cap: u64, under: u32) -> u64 {
    (1..=u64::from(under)).rev().find(|size| cap.is_multiple_of(*size)).unwrap_or(1)
}

fn split<'a>(pagination: &'a ast::Pagination, allowed: &[&str], owner: &str, d: &mut Vec<Diagnostic>) -> Body<'a> {
    let mut entries: Vec<&ast::Entry> = Vec::new();
    let mut stops = Vec::new();
    let mut from: Option<(&ast::Word, Option<&Value>, Span)> = None;
    for item in &pagination.items {
        match item {
            PaginationItem::Setting(entry) => entries.push(entry),
            PaginationItem::Stop { condition, path, span } => stops.push((condition, path.as_ref(), *span)),
            PaginationItem::From { source, arg, span } => match from {
                Some((_, _, first)) => d.push(
                    Diagnostic::error(
                        "tib::duplicate-setting",
                        format!("{owner} reads the next page from two places"),
                        *span,
                        "second `from`",
                    )
                    .with_label(first, "first `from`")
                    .with_help("the next page comes from one place: keep one `from`"),
                ),
                None => from = Some((source, arg.as_ref(), *span)),
            },
        }
    }
    let siblings: Vec<(String, &'static [&'static str])> = STYLES
        .iter()
        .filter(|style| settings(style) != allowed && !settings(style).is_empty())
        .map(|style| (format!("`paginate {style}`"), settings(style)))
        .collect();
    let settings = Settings::read_among(entries, pagination.span, allowed, owner, &siblings, d);
    Body { settings, stops, from }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CountedKind {
    Offset,
    Page,
}

fn counted(body: &Body<'_>, owner: &str, kind: CountedKind, d: &mut Vec<Diagnostic>) -> Option<ir::Pagination> {
    let s = &body.settings;
    if let Some((_, _, span)) = body.from {
        d.push(
            Diagnostic::error(
                "tib::pagination-from",
                format!("{owner} computes the next page; it reads no `from`"),
                span,
                "not used by this style",
            )
            .with_help("use `paginate next_url` or `paginate token` when the API hands out the next page"),
        );
    }
    let (position_param, size_param, first) = match kind {
        CountedKind::Offset => ("offset_param", "limit_param", "start"),
        CountedKind::Page => ("page_param", "size_param", "first_page"),
    };
    let position = param(s, position_param, d);
    let size = param(s, size_param, d);
    let page_size = s.required_integer("page_size", 1..=10_000, "page_size = 100", d);
    let first = s.integer(first, 0..=u64::from(u32::MAX), d).unwrap_or(match kind {
        CountedKind::Offset => 0,
        CountedKind::Page => 1,
    });
    let concurrency = s.integer("concurrency", 1..=16, d).unwrap_or(1);
    let stop = stops(body, owner, COUNT_STOPS, d, |word, path, d| match word {
        "empty_page" => Some(ir::CountStop::EmptyPage),
        "short_page" => Some(ir::CountStop::ShortPage),
        "no_more" => path.and_then(|p| values::path(p, d)).map(ir::CountStop::NoMore),
        _ => path.and_then(|p| values::path(p, d)).map(ir::CountStop::Total),
    });
    let (position, size, page_size, stop) = (position?, size?, u32::try_from(page_size?).ok()?, stop?);
    if position == size {
        d.push(
            Diagnostic::error(
                "tib::param-conflict",
                format!("`{position_param}` and `{size_param}` are the same parameter `{position}`"),
                s.span(),
                "in these settings",
            )
            .with_help("each is a query parameter of its own: give each its API's name"),
        );
        return None;
    }
    let concurrency = u32::try_from(concurrency).ok()?;
    Some(match kind {
        CountedKind::Offset => ir::Pagination::Offset(ir::Offset {
            offset_param: position,
            limit_param: size,
            page_size,
            start: first,
            concurrency,
            stop,
        }),
        CountedKind::Page => ir::Pagination::PageNumber(ir::PageNumber {
            page_param: position,
            size_param: size,
            page_size,
            first_page: first,
            concurrency,
            stop,
        }),
    })
}

fn next_url(body: &Body<'_>, owner: &str, d: &mut Vec<Diagnostic>) -> Option<ir::Pagination> {
    let source = match from(body, owner, "from body links.next  (or: from link_header)", d)? {
        ("body", arg, span) => ir::NextUrlSource::Body(from_path(arg, span, d)?),
        ("link_header", None, _) => ir::NextUrlSource::LinkHeader,
        ("link_header", Some(arg), _) => {
            d.push(
                Diagnostic::error(
                    "tib::pagination-from",
                    "`from link_header` takes nothing after it",
                    arg.span(),
                    "remove this",
                )
                .with_help("the next URL is the Link header's rel=\"next\" entry"),
            );
            return None;
        }
        (other, _, span) => {
            d.push(bad_source(other, span, &["body", "link_header"]));
            return None;
        }
    };
    let stop = stops(body, owner, TOKEN_STOPS, d, token_stop)?;
    Some(ir::Pagination::NextUrl(ir::NextUrl { source, stop }))
}

fn token(body: &Body<'_>, owner: &str, d: &mut Vec<Diagnostic>) -> Option<ir::Pagination> {
    let s = &body.settings;
    let param = match (s.get("param"), s.get("body_field")) {
        (Some(query), Some(field)) => {
            d.push(
                Diagnostic::error(
                    "tib::token-target",
                    "the token is sent back both in the query and in the body",
                    field.span(),
                    "in the body",
                )
                .with_label(query.span(), "in the query")
                .with_help("keep `param` for a query parameter, or `body_field` for a key of the JSON body"),
            );
            None
        }
        (_, Some(field)) => body_field(field, d).map(ir::TokenTarget::Body),
        _ => param(s, "param", d).map(ir::TokenTarget::Query),
    };
    let continue_path = match s.get("continue_path") {
        None => Some(None),
        Some(value) => match (s.string("continue_path", d), s.get("body_field")) {
            (Some(path), Some(_)) => super::endpoint::request_path(path, &[], d).map(Some),
            (Some(_), None) => {
                d.push(
                    Diagnostic::error(
                        "tib::continue-path",
                        "`continue_path` needs `body_field`",
                        value.span(),
                        "a continuation request",
                    )
                    .with_help("a continuation request carries the token in its body: add body_field = cursor"),
                );
                None
            }
            (None, _) => None,
        },
    };
    let source = match from(body, owner, "from body meta.next_cursor  (or: from header \"X-Next-Token\")", d) {
        Some(("body", arg, span)) => from_path(arg, span, d).map(ir::TokenSource::Body),
        Some(("header", Some(Value::Str(name)), _)) => {
            values::plain(name, "a header name", d).map(ir::TokenSource::Header)
        }
        Some(("header", _, span)) => {
            d.push(
                Diagnostic::error(
                    "tib::pagination-from",
                    "`from header` needs the header's name",
                    span,
                    "which header?",
                )
                .with_help("write from header \"X-Next-Token\""),
            );
            None
        }
        Some((other, _, span)) => {
            d.push(bad_source(other, span, &["body", "header"]));
            None
        }
        None => None,
    };
    let stop = stops(body, owner, TOKEN_STOPS, d, token_stop);
    Some(ir::Pagination::Token(ir::Token {
        param: param?,
        continue_path: continue_path?,
        source: source?,
        stop: stop?,
    }))
}

/// `body_field = variables.after`: keys only, since the token is written there.
fn body_field(value: &Value, d: &mut Vec<Diagnostic>) -> Option<Vec<String>> {
    let path = values::path_value("body_field", value, d)?;
    let keys: Option<Vec<String>> = path
        .segments
        .iter()
        .map(|segment| match segment {
            ir::Segment::Key(key) => Some(key.clone()),
            ir::Segment::Index(_) => None,
        })
        .collect();
    match keys.filter(|keys| !keys.is_empty()) {
        Some(keys) => Some(keys),
        None => {
            d.push(
                Diagnostic::error(
                    "tib::token-target",
                    "`body_field` is a key path of the JSON body",
                    value.span(),
                    "not keys",
                )
                .with_help("e.g. body_field = cursor, or body_field = variables.after"),
            );
            None
        }
    }
}

/// `body_field = "variables.after"` names one key with a dot in it, where
/// the author meant the path `variables.after`: the token would go where the
/// API never reads it, and the sync would stop on a "repeated token". A quoted
/// key with a dot must be one the body template holds.
pub fn quoted_body_field(paging: &ast::Pagination, body: &ir::Json, d: &mut Vec<Diagnostic>) {
    let field = paging.items.iter().find_map(|item| match item {
        PaginationItem::Setting(entry) if entry.key.text == "body_field" => Some(&entry.value),
        _ => None,
    });
    // A string is one quoted key; a path's keys are quoted where written so.
    let segments: Vec<(String, bool, Span)> = match field {
        Some(Value::Str(s)) => match s.plain() {
            Some(name) => vec![(name, true, s.span)],
            None => return,
        },
        Some(Value::Path(path)) => {
            let keys = path.segments.iter().map(|segment| match segment {
                ast::Segment::Key { name, quoted, span } => Some((name.clone(), *quoted, *span)),
                ast::Segment::Index { .. } => None,
            });
            match keys.collect() {
                Some(keys) => keys,
                None => return,
            }
        }
        _ => return,
    };
    let mut at = Some(body);
    let mut held: Vec<&str> = Vec::new();
    for (name, quoted, span) in &segments {
        let next = match at {
            Some(ir::Json::Object(entries)) => entries.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        };
        if *quoted && name.contains('.') && next.is_none() {
            // How far the body holds the dotted path, key by key.
            let mut inside = at;
            let mut found: Vec<&str> = held.clone();
            for part in name.split('.') {
                match inside {
                    Some(ir::Json::Object(entries)) => match entries.iter().find(|(k, _)| k == part) {
                        Some((key, value)) => {
                            found.push(key.as_str());
                            inside = Some(value);
                        }
                        None => break,
                    },
                    _ => break,
                }
            }
            let unquoted = held.iter().copied().chain(name.split('.')).collect::<Vec<&str>>().join(".");
            let help = if found.len() > held.len() {
                format!("the body holds `{}`: a path's keys are written unquoted, `{unquoted}`", found.join("."))
            } else {
                let top: Vec<&str> = match at {
                    Some(ir::Json::Object(entries)) => entries.iter().map(|(k, _)| k.as_str()).collect(),
                    _ => Vec::new(),
                };
                let keys = if top.is_empty() { "none".to_owned() } else { top.join(", ") };
                format!(
                    "a quoted name is one key (the body's keys here: {keys}); a path is written unquoted, `{unquoted}`"
                )
            };
            // The whole value is replaced: the path it meant, unquoted.
            let whole = match field {
                Some(value) => value.span(),
                None => *span,
            };
            d.push(
                Diagnostic::error(
                    "tib::token-target",
                    format!("`body_field` names one key \"{name}\", which the body does not hold"),
                    whole,
                    "one key, with a dot in it",
                )
                .with_help(help)
                .with_replacement(unquoted),
            );
            return;
        }
        held.push(name.as_str());
        at = next;
    }
}

fn token_stop(word: &str, path: Option<&ast::Path>, d: &mut Vec<Diagnostic>) -> Option<ir::TokenStop> {
    match word {
        "missing_token" => Some(ir::TokenStop::MissingToken),
        "empty_page" => Some(ir::TokenStop::EmptyPage),
        _ => path.and_then(|p| values::path(p, d)).map(ir::TokenStop::NoMore),
    }
}

/// A required query parameter name.
fn param(s: &Settings<'_>, name: &str, d: &mut Vec<Diagnostic>) -> Option<String> {
    let value = s.required_string(name, &format!("{name} = \"...\""), d)?;
    let text = values::plain(value, "a query parameter name", d)?;
    if text.is_empty() {
        d.push(
            Diagnostic::error("tib::empty-param", format!("`{name}` is empty"), value.span, "empty name")
                .with_help(format!("write the query parameter's name, e.g. {name} = \"offset\"")),
        );
        return None;
    }
    Some(text)
}

fn from<'a>(
    body: &Body<'a>,
    owner: &str,
    example: &str,
    d: &mut Vec<Diagnostic>,
) -> Option<(&'a str, Option<&'a Value>, Span)> {
    match body.from {
        Some((source, arg, span)) => Some((source.text.as_str(), arg, span)),
        None => {
            d.push(
                Diagnostic::error(
                    "tib::incomplete-pagination",
                    format!("{owner} does not say where the next page comes from"),
                    body.settings.span(),
                    "no `from` line",
                )
                .with_help(format!("add `{example}`")),
            );
            None
        }
    }
}

fn from_path(arg: Option<&Value>, span: Span, d: &mut Vec<Diagnostic>) -> Option<ir::Path> {
    match arg {
        Some(value) => values::path_value("from body", value, d),
        None => {
            d.push(
                Diagnostic::error(
                    "tib::pagination-from",
                    "`from body` needs the path of the value",
                    span,
                    "which path?",
                )
                .with_help("e.g. from body links.next"),
            );
            None
        }
    }
}

fn bad_source(other: &str, span: Span, sources: &[&str]) -> Diagnostic {
    Diagnostic::error(
        "tib::pagination-from",
        format!("cannot read the next page from `{other}`"),
        span,
        "unknown source",
    )
    .did_you_mean(other, sources, "this style reads from")
}

/// Reads the `stop when` lines: at least one, each allowed for the style, a
/// path exactly where the condition needs one.
fn stops<T>(
    body: &Body<'_>,
    owner: &str,
    allowed: &[&str],
    d: &mut Vec<Diagnostic>,
    mut make: impl FnMut(&str, Option<&ast::Path>, &mut Vec<Diagnostic>) -> Option<T>,
) -> Option<Vec<T>> {
    if body.stops.is_empty() {
        d.push(
            Diagnostic::error(
                "tib::missing-stop",
                format!("{owner} has no stop condition"),
                body.settings.span(),
                "add `stop when ...`",
            )
            .with_help(format!(
                "say when the last page is reached: {}; a short page ends pagination only with `short_page`",
                allowed.join(", ")
            )),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (word, path, span) in &body.stops {
        let name = word.text.as_str();
        if !allowed.contains(&name) {
            let all: Vec<&str> = COUNT_STOPS.iter().chain(TOKEN_STOPS).copied().collect();
            let unknown = Diagnostic::error(
                "tib::stop-condition",
                format!("`{name}` is not a stop condition of {owner}"),
                word.span,
                "not for this style",
            );
            d.push(if all.contains(&name) {
                unknown.with_help(format!("{owner} stops on: {}", allowed.join(", ")))
            } else {
                unknown.did_you_mean(name, allowed, "stop conditions are")
            });
            ok = false;
            continue;
        }
        let needs_path = matches!(name, "no_more" | "total");
        match (needs_path, path) {
            (true, None) => {
                d.push(
                    Diagnostic::error(
                        "tib::stop-condition",
                        format!("`stop when {name}` needs the path of the value"),
                        *span,
                        "which path?",
                    )
                    .with_help(format!(
                        "e.g. stop when {name} {}",
                        if name == "total" { "meta.total" } else { "meta.has_more" }
                    )),
                );
                ok = false;
            }
            (false, Some(path)) => {
                d.push(
                    Diagnostic::error(
                        "tib::stop-condition",
                        format!("`stop when {name}` takes no path"),
                        path.span,
                        "remove this",
                    )
                    .with_help(format!("`{name}` looks at the page itself")),
                );
                ok = false;
            }
            _ => match make(name, *path, d) {
                Some(stop) => out.push(stop),
                None => ok = false,
            },
        }
    }
    ok.then_some(out)
}
