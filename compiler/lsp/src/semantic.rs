//! Semantic tokens: the words of a spec by what they are (a section's or a
//! construct's keyword, a setting's name, a kind or style, a path, an
//! operator, a string, a number, a comment), read from the grammar's own
//! parse tree, so that an editor colours exactly what the parser reads. A
//! spec with a syntax error has none: the editor's TextMate grammar stands in.

use lsp_types::{SemanticToken, SemanticTokenType, SemanticTokensLegend};
use pest::Parser as _;
use pest::iterators::Pair;
use tib_grammar::{Rule, TibParser};

use super::document::Document;

/// The token types, in the order their indexes are sent.
const TYPES: [SemanticTokenType; 8] = [
    SemanticTokenType::KEYWORD,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::OPERATOR,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::COMMENT,
];

/// The grammar's keywords.
const KEYWORDS: &[Rule] = &[
    Rule::kw_app,
    Rule::kw_base_url,
    Rule::kw_credentials,
    Rule::kw_auth,
    Rule::kw_request,
    Rule::kw_lookup,
    Rule::kw_listing,
    Rule::kw_members,
    Rule::kw_paginate,
    Rule::kw_api_error,
    Rule::kw_users,
    Rule::kw_fields,
    Rule::kw_active,
    Rule::kw_status,
    Rule::kw_licenses,
    Rule::kw_custom_fields,
    Rule::kw_at,
    Rule::kw_when,
    Rule::kw_message,
    Rule::kw_stop,
    Rule::kw_from,
    Rule::kw_auto,
    Rule::kw_field,
    Rule::kw_if,
    Rule::kw_then,
    Rule::kw_else,
    Rule::kw_otherwise,
    Rule::kw_and,
    Rule::kw_or,
    Rule::kw_any,
    Rule::kw_none,
    Rule::kw_except,
    Rule::kw_refused,
    Rule::kw_rate_limited,
    Rule::kw_todo,
    Rule::kw_format,
];

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend { token_types: TYPES.to_vec(), token_modifiers: Vec::new() }
}

/// The index of a type in [`TYPES`].
fn index(kind: &SemanticTokenType) -> u32 {
    TYPES.iter().position(|t| t == kind).unwrap_or_default() as u32
}

/// The spec's tokens, encoded as the protocol sends them (each relative to the one before).
pub fn tokens(doc: &Document) -> Vec<SemanticToken> {
    let Ok(mut pairs) = TibParser::parse(Rule::file, &doc.text) else { return Vec::new() };
    let mut found: Vec<(usize, usize, SemanticTokenType)> = Vec::new();
    if let Some(file) = pairs.next() {
        walk(file, None, &mut found);
    }
    found.extend(comments(&doc.text).into_iter().map(|(start, end)| (start, end, SemanticTokenType::COMMENT)));
    found.sort_by_key(|(start, _, _)| *start);
    let (mut line, mut character) = (0, 0);
    found
        .into_iter()
        .map(|(start, end, kind)| {
            let at = doc.position(start);
            let length: usize = doc.text[start..end].chars().map(char::len_utf16).sum();
            let delta_line = at.line - line;
            let delta_start = if delta_line == 0 { at.character - character } else { at.character };
            (line, character) = (at.line, at.character);
            SemanticToken {
                delta_line,
                delta_start,
                length: length as u32,
                token_type: index(&kind),
                token_modifiers_bitset: 0,
            }
        })
        .collect()
}

/// The tokens of a pair and what it holds. `parent` is the rule of the pair around it.
fn walk(pair: Pair<'_, Rule>, parent: Option<Rule>, found: &mut Vec<(usize, usize, SemanticTokenType)>) {
    let kind_of = pair.as_rule();
    let span = pair.as_span();
    let kind = match kind_of {
        Rule::string => Some(SemanticTokenType::STRING),
        Rule::number => Some(SemanticTokenType::NUMBER),
        Rule::boolean => Some(SemanticTokenType::KEYWORD),
        Rule::path => Some(SemanticTokenType::VARIABLE),
        Rule::operator => Some(SemanticTokenType::OPERATOR),
        // A setting's name; elsewhere a word is a kind, a style, a method or a credential's kind.
        Rule::word if parent == Some(Rule::entry) => Some(SemanticTokenType::PROPERTY),
        Rule::word => Some(SemanticTokenType::ENUM_MEMBER),
        // A statement no section starts: the checker names it; not coloured as known.
        Rule::unknown => return,
        kw if KEYWORDS.contains(&kw) => Some(SemanticTokenType::KEYWORD),
        _ => None,
    };
    // Strings stay on their line; a token is its whole text.
    if let Some(kind) = kind {
        // A path or operator is one token; its inner parts are not coloured again.
        if span.start() < span.end() {
            found.push((span.start(), span.end(), kind));
        }
        return;
    }
    for inner in pair.into_inner() {
        walk(inner, Some(kind_of), found);
    }
}

/// Where the comments are: from a `#` that no string holds to the end of its line.
fn comments(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if let Some(at) = super::document::comment_start(line) {
            found.push((line_start + at, line_start + line.trim_end_matches(['\n', '\r']).len()));
        }
        line_start += line.len();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each token's text and type, decoded from the protocol's relative form.
    fn decoded(text: &str) -> Vec<(String, SemanticTokenType)> {
        let doc = Document::new(None, None, text.to_owned());
        let lines: Vec<Vec<u16>> = text.lines().map(|l| l.encode_utf16().collect()).collect();
        let (mut line, mut start) = (0usize, 0usize);
        tokens(&doc)
            .into_iter()
            .map(|t| {
                line += t.delta_line as usize;
                start = if t.delta_line == 0 { start + t.delta_start as usize } else { t.delta_start as usize };
                let units = &lines[line][start..start + t.length as usize];
                (String::from_utf16_lossy(units), TYPES[t.token_type as usize].clone())
            })
            .collect()
    }

    #[test]
    fn each_word_is_coloured_by_what_the_parser_reads_it_as() {
        let text = "app \"Ac😀me\" # the app\nauth basic {\n  username = \"{u}\"\n}\nactive when { state is not \"x\" seats >= 1 }\n";
        let tokens = decoded(text);
        use SemanticTokenType as T;
        let expected = [
            ("app", T::KEYWORD),
            ("\"Ac😀me\"", T::STRING),
            ("# the app", T::COMMENT),
            ("auth", T::KEYWORD),
            ("basic", T::ENUM_MEMBER),
            ("username", T::PROPERTY),
            ("\"{u}\"", T::STRING),
            ("active", T::KEYWORD),
            ("when", T::KEYWORD),
            ("state", T::VARIABLE),
            ("is not", T::OPERATOR),
            ("\"x\"", T::STRING),
            ("seats", T::VARIABLE),
            (">=", T::OPERATOR),
            ("1", T::NUMBER),
        ];
        let expected: Vec<(String, SemanticTokenType)> =
            expected.iter().map(|(t, k)| ((*t).to_owned(), k.clone())).collect();
        assert_eq!(tokens, expected);
        assert!(decoded("app {\n").is_empty(), "a syntax error leaves colouring to the editor's grammar");
    }
}
