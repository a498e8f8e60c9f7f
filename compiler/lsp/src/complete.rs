//! Completion: what may be written where the cursor is, read from the text
//! before it (which is often not valid yet): section keywords at the top
//! level, the settings of the block the cursor is in, auth kinds and
//! pagination styles, stop conditions, operators after a rule's path,
//! declared credentials inside a string's `{`, and the catalog's custom
//! fields of this app.

use lsp_types::{CompletionItem, CompletionItemKind};
use tib_front::ast::SectionKind;
use tib_front::check::vocabulary;

use super::credentials;
use super::document::Document;

pub fn complete(doc: &Document, offset: usize) -> Vec<CompletionItem> {
    let before = &doc.text[..offset];
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    if let Some(typed) = open_placeholder(line) {
        let file = doc.compiled.ast.as_ref();
        let declared = file.map(credentials::declarations).unwrap_or_default();
        return items(
            declared.into_iter().map(|(name, _)| name).filter(|n| n.starts_with(typed)),
            CompletionItemKind::VARIABLE,
        );
    }
    let blocks = open_blocks(before);
    // The words of the statement so far: after the innermost brace opened on this line.
    let since = line.rfind('{').filter(|_| blocks.last().is_some_and(|b| b.on_line)).map_or(line, |i| &line[i + 1..]);
    let mut words: Vec<&str> = since.split_whitespace().collect();
    if !since.ends_with(char::is_whitespace) {
        words.pop();
    }
    let header = blocks.last().map(|b| b.header.as_str());
    let header_words: Vec<&str> = header.unwrap_or("").split_whitespace().collect();
    let keyword = |list: &[&'static str], kind| items(list.iter().copied(), kind);
    if rule_group(&header_words) && awaits_operator(&words) {
        return keyword(vocabulary::OPERATORS, CompletionItemKind::OPERATOR);
    }
    match (header_words.as_slice(), words.as_slice()) {
        ([], []) => {
            let mut list = keyword(vocabulary::SECTIONS, CompletionItemKind::KEYWORD);
            // After `api_error`, its classes go on its next lines.
            if after_api_error(doc, offset) {
                list.extend(keyword(&["refused when", "rate_limited when"], CompletionItemKind::KEYWORD));
            }
            list
        }
        ([], ["status"]) => keyword(&["auto", "field", "if"], CompletionItemKind::KEYWORD),
        ([], ["licenses"]) => keyword(&["auto", "none"], CompletionItemKind::KEYWORD),
        ([], ["users", "at", _]) => keyword(&["or none"], CompletionItemKind::KEYWORD),
        ([], ["api_error"]) => keyword(&["when"], CompletionItemKind::KEYWORD),
        (["auth", _, ..], ["client_auth", "="]) => {
            keyword(&["\"basic\"", "\"post\"", "\"private_key_jwt\""], CompletionItemKind::ENUM_MEMBER)
        }
        (["auth", _, ..], ["grant_type", "="]) => {
            keyword(&["\"client_credentials\"", "\"jwt_bearer\""], CompletionItemKind::ENUM_MEMBER)
        }
        ([], ["auth"]) => keyword(vocabulary::AUTH_KINDS, CompletionItemKind::ENUM_MEMBER),
        ([], ["paginate"]) => keyword(vocabulary::PAGINATION_STYLES, CompletionItemKind::ENUM_MEMBER),
        (["paginate", style, ..], ["stop", "when"]) => {
            keyword(vocabulary::stop_conditions(style), CompletionItemKind::ENUM_MEMBER)
        }
        (["paginate", style, ..], []) => {
            let mut list = keyword(vocabulary::pagination_settings(style), CompletionItemKind::PROPERTY);
            if *style != "none" {
                list.extend(keyword(&["stop when", "from"], CompletionItemKind::KEYWORD));
            }
            list
        }
        (["auth", kind, ..], []) => keyword(vocabulary::auth_settings(kind), CompletionItemKind::PROPERTY),
        (["request", ..], []) => keyword(vocabulary::REQUEST_SETTINGS, CompletionItemKind::PROPERTY),
        (["lookup", ..], ["not_found", "="]) => keyword(&["\"none\"", "\"error\""], CompletionItemKind::ENUM_MEMBER),
        (["lookup", ..], []) => keyword(vocabulary::LOOKUP_SETTINGS, CompletionItemKind::PROPERTY),
        (["listing" | "members", ..], ["paginate"]) => {
            keyword(vocabulary::PAGINATION_STYLES, CompletionItemKind::ENUM_MEMBER)
        }
        (["listing", ..], ["since_format", "="]) => {
            keyword(&["\"iso\"", "\"date\"", "\"unix\""], CompletionItemKind::ENUM_MEMBER)
        }
        (["listing", ..], []) => {
            let mut list = keyword(vocabulary::LISTING_SETTINGS, CompletionItemKind::PROPERTY);
            list.extend(keyword(&["paginate", "members"], CompletionItemKind::KEYWORD));
            list
        }
        (["members", ..], []) => {
            let mut list = keyword(vocabulary::MEMBERS_SETTINGS, CompletionItemKind::PROPERTY);
            list.extend(keyword(&["paginate"], CompletionItemKind::KEYWORD));
            list
        }
        (["fields"], []) => keyword(vocabulary::FIELDS, CompletionItemKind::PROPERTY),
        (["custom_fields"], []) => custom_fields(doc),
        _ => Vec::new(),
    }
}

/// Whether the last section before `offset` is `api_error`.
fn after_api_error(doc: &Document, offset: usize) -> bool {
    let Some(file) = doc.compiled.ast.as_ref() else { return false };
    let last = file.sections.iter().take_while(|s| s.span.start < offset).last();
    last.is_some_and(|s| matches!(s.kind, SectionKind::ApiError { .. }))
}

fn items<'a>(labels: impl Iterator<Item = &'a str>, kind: CompletionItemKind) -> Vec<CompletionItem> {
    labels
        .map(|label| CompletionItem { label: label.to_owned(), kind: Some(kind), ..CompletionItem::default() })
        .collect()
}

/// The catalog's custom fields of the spec's app, quoted as `custom_fields` keys are.
fn custom_fields(doc: &Document) -> Vec<CompletionItem> {
    let app = doc.compiled.ast.as_ref().and_then(|file| {
        file.sections.iter().find_map(|s| match &s.kind {
            SectionKind::App(name) => name.plain(),
            _ => None,
        })
    });
    let fields = app.as_deref().and_then(|app| doc.catalog.app(app));
    fields
        .into_iter()
        .flat_map(|fields| fields.iter())
        .map(|(name, kind)| CompletionItem {
            label: format!("\"{name}\""),
            kind: Some(CompletionItemKind::FIELD),
            detail: Some(format!("{kind:?}")),
            ..CompletionItem::default()
        })
        .collect()
}

/// The name typed so far when the cursor is in a string just after an unclosed `{`.
fn open_placeholder(line: &str) -> Option<&str> {
    let (mut in_string, mut escaped, mut open) = (false, false, None);
    for (i, c) in line.char_indices() {
        match c {
            _ if !in_string && c == '#' => return None,
            _ if !in_string => in_string = c == '"',
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => (in_string, open) = (false, None),
            '{' => open = Some(i + 1),
            '}' => open = None,
            _ => {}
        }
    }
    open.filter(|_| in_string).map(|start| &line[start..])
}

/// A brace open where the cursor is: what its line says before it.
struct OpenBlock {
    header: String,
    /// Whether it opened on the cursor's line.
    on_line: bool,
}

/// The braces open at the end of `text`, outermost first (strings and comments skipped).
fn open_blocks(text: &str) -> Vec<OpenBlock> {
    let mut open: Vec<(usize, usize)> = Vec::new();
    let (mut in_string, mut in_comment, mut escaped) = (false, false, false);
    for (i, c) in text.char_indices() {
        match c {
            '\n' => (in_string, in_comment, escaped) = (false, false, false),
            _ if in_comment => {}
            _ if in_string => {
                in_string = escaped || c != '"';
                escaped = !escaped && c == '\\';
            }
            '"' => in_string = true,
            '#' => in_comment = true,
            '{' => open.push((text[..i].rfind('\n').map_or(0, |n| n + 1), i)),
            '}' => {
                open.pop();
            }
            _ => {}
        }
    }
    let last_line = text.rfind('\n').map_or(0, |n| n + 1);
    open.into_iter()
        .map(|(line_start, brace)| {
            // Only the statement's own words: after an earlier brace on the same line.
            let head = &text[line_start..brace];
            let head = head.rfind('{').map_or(head, |i| &head[i + 1..]);
            OpenBlock { header: head.trim().to_owned(), on_line: line_start == last_line }
        })
        .collect()
}

/// Whether a block with this header holds rules.
fn rule_group(header: &[&str]) -> bool {
    matches!(header.last(), Some(&("when" | "if" | "some" | "any")))
}

/// Whether the last word is a rule's path with its operator still to come:
/// the word before it ends a rule (or there is none).
fn awaits_operator(words: &[&str]) -> bool {
    let Some(path) = words.last() else { return false };
    let previous = words.len().checked_sub(2).map(|i| words[i]);
    let operator_word = ["is", "not", "any", "of", "contains", "has", "value", "some", "and", "or", ">="];
    let is_path = path.starts_with(|c: char| c.is_ascii_alphabetic() || "_.$@".contains(c))
        && !operator_word.contains(path)
        && !matches!(*path, "true" | "false");
    let ends_rule = previous.is_none_or(|p| {
        p.ends_with(['"', ']', '}'])
            || p.ends_with(|c: char| c.is_ascii_digit())
            || matches!(p, "true" | "false" | "value" | "and" | "or")
    });
    is_path && ends_rule
}
