//! Parse: `.tib` text to the AST, through the pest grammar in `tib-grammar`.
//!
//! A syntax error stops the parse of that file and becomes one diagnostic in
//! the user's words; everything the grammar accepts is lowered faithfully,
//! deciding nothing.

use pest::Parser as _;
use pest::iterators::Pair;
use tib_grammar::{Rule, TibParser};

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::suggest;

/// Parses a spec. A syntax error ends the parse (`None`) as one diagnostic;
/// mistakes inside strings (an unclosed `{`) are reported and parsing goes on.
pub fn parse(source: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<File> {
    if let Some(too_deep) = check_nesting(source) {
        diagnostics.push(too_deep);
        return None;
    }
    // Track what the parser was waiting for, so a syntax error can say so.
    pest::set_error_detail(true);
    let mut pairs = match TibParser::parse(Rule::file, source) {
        Ok(pairs) => pairs,
        Err(error) => {
            diagnostics.push(syntax_error(source, error));
            return None;
        }
    };
    let file = pairs.next().expect("the grammar's `file` rule always yields one pair");
    let mut lower = Lower { diagnostics };
    let sections =
        file.into_inner().filter(|pair| pair.as_rule() != Rule::EOI).map(|pair| lower.section(pair)).collect();
    Some(File { sections })
}

/// How deep blocks, lists and rule groups may nest. Real specs stay under
/// ten; the bound keeps the recursive parser and checker off the stack's end.
const MAX_NESTING: usize = 64;

fn check_nesting(source: &str) -> Option<Diagnostic> {
    let (mut depth, mut in_string, mut in_comment, mut escaped) = (0usize, false, false, false);
    for (i, c) in source.char_indices() {
        match c {
            _ if in_comment => in_comment = c != '\n',
            _ if in_string => {
                in_string = escaped || c != '"';
                escaped = !escaped && c == '\\';
            }
            '"' => in_string = true,
            '#' => in_comment = true,
            '{' | '[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error(
                            "tib::too-deep",
                            format!("blocks are nested more than {MAX_NESTING} levels deep"),
                            Span::new(i, i + 1),
                            "too deep",
                        )
                        .with_help("flatten the rules; a spec never needs this depth"),
                    );
                }
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

struct Lower<'d> {
    diagnostics: &'d mut Vec<Diagnostic>,
}

fn word(pair: Pair<'_, Rule>) -> Word {
    Word { text: pair.as_str().to_owned(), span: pair.as_span().into() }
}

impl Lower<'_> {
    fn section(&mut self, pair: Pair<'_, Rule>) -> Section {
        let span: Span = pair.as_span().into();
        let kind = pair.as_rule();
        if kind == Rule::unknown {
            let text = pair.as_str();
            let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(text.len());
            let keyword = Word { text: text[..end].to_owned(), span: Span::new(span.start, span.start + end) };
            return Section { keyword, span, kind: SectionKind::Unknown };
        }
        let mut inner = pair.into_inner();
        let keyword = word(inner.next().expect("every section starts with its keyword"));
        let kind = match kind {
            Rule::app => SectionKind::App(self.string(next(&mut inner))),
            Rule::base_url => SectionKind::BaseUrl(self.string(next(&mut inner))),
            Rule::credentials => SectionKind::Credentials(inner.map(|p| self.credential(p)).collect()),
            Rule::auth => {
                let kind = word(next(&mut inner));
                let arg = inner.next().map(|p| match p.as_rule() {
                    Rule::string => AuthArg::Str(self.string(p)),
                    _ => AuthArg::Block(self.block(p)),
                });
                SectionKind::Auth { kind, arg }
            }
            Rule::request => {
                let method = word(next(&mut inner));
                let path = self.string(next(&mut inner));
                let settings = inner.next().map(|p| self.block(p));
                SectionKind::Request { method, path, settings }
            }
            Rule::paginate => {
                let style = word(next(&mut inner));
                let body = inner.next().map(|p| self.pagination(p));
                SectionKind::Paginate { style, body }
            }
            Rule::api_error => {
                let when = self.rule_group(skip_keyword(&mut inner));
                let message = inner.find(|p| p.as_rule() == Rule::path).map(|p| self.path(p));
                SectionKind::ApiError { when, message }
            }
            Rule::users => SectionKind::Users(self.path(skip_keyword(&mut inner))),
            Rule::fields => SectionKind::Fields(self.block(next(&mut inner))),
            Rule::active => SectionKind::Active(self.rule_group(skip_keyword(&mut inner))),
            Rule::status => SectionKind::Status(self.status(next(&mut inner))),
            Rule::licenses => SectionKind::Licenses(self.licenses(next(&mut inner))),
            Rule::custom_fields => SectionKind::CustomFields(self.block(next(&mut inner))),
            other => unreachable!("the grammar has no section {other:?}"),
        };
        Section { keyword, span, kind }
    }

    fn credential(&mut self, pair: Pair<'_, Rule>) -> CredentialDecl {
        let span = pair.as_span().into();
        let mut inner = pair.into_inner();
        let name = word(next(&mut inner));
        let kind = word(next(&mut inner));
        let description = inner.next().map(|p| self.string(p));
        CredentialDecl { name, kind, description, span }
    }

    fn pagination(&mut self, pair: Pair<'_, Rule>) -> Pagination {
        let span = pair.as_span().into();
        let items = pair
            .into_inner()
            .map(|item| {
                let item_span = item.as_span().into();
                match item.as_rule() {
                    Rule::stop => {
                        let mut inner = item.into_inner();
                        let condition = word(skip_keyword(&mut inner));
                        let path = inner.next().map(|p| self.path(p));
                        PaginationItem::Stop { condition, path, span: item_span }
                    }
                    Rule::from => {
                        let mut inner = item.into_inner();
                        let source = word(skip_keyword(&mut inner));
                        let arg = inner.next().map(|p| match p.as_rule() {
                            Rule::string => Value::Str(self.string(p)),
                            _ => Value::Path(self.path(p)),
                        });
                        PaginationItem::From { source, arg, span: item_span }
                    }
                    _ => PaginationItem::Setting(self.entry(item)),
                }
            })
            .collect();
        Pagination { items, span }
    }

    fn status(&mut self, pair: Pair<'_, Rule>) -> Status {
        match pair.as_rule() {
            Rule::status_auto => Status::Auto(pair.as_span().into()),
            Rule::status_field => Status::Field(self.path(skip_keyword(&mut pair.into_inner()))),
            _ => Status::Branches(self.branches(pair)),
        }
    }

    fn licenses(&mut self, pair: Pair<'_, Rule>) -> Licenses {
        let span = pair.as_span().into();
        match pair.as_rule() {
            Rule::licenses_auto => {
                let name = pair.into_inner().nth(1).map(|p| self.string(p));
                Licenses::Auto { name, span }
            }
            _ => {
                let entries = pair
                    .into_inner()
                    .map(|license| {
                        let span = license.as_span().into();
                        let mut inner = license.into_inner();
                        let name = self.string(next(&mut inner));
                        let when = match next(&mut inner).as_rule() {
                            Rule::kw_when => Some(self.rule_group(next(&mut inner))),
                            _ => None,
                        };
                        License { name, when, span }
                    })
                    .collect();
                Licenses::List { entries, span }
            }
        }
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Block {
        let span = pair.as_span().into();
        let entries = pair.into_inner().map(|p| self.entry(p)).collect();
        Block { entries, span }
    }

    fn entry(&mut self, pair: Pair<'_, Rule>) -> Entry {
        let span = pair.as_span().into();
        let mut inner = pair.into_inner();
        let key_pair = next(&mut inner);
        let key = match key_pair.as_rule() {
            Rule::string => {
                let s = self.string(key_pair);
                Key { text: string_text(&s), quoted: true, span: s.span }
            }
            _ => Key { text: key_pair.as_str().to_owned(), quoted: false, span: key_pair.as_span().into() },
        };
        let value = self.value(next(&mut inner));
        Entry { key, value, span }
    }

    fn value(&mut self, pair: Pair<'_, Rule>) -> Value {
        let inner = pair.into_inner().next().expect("a value has one alternative");
        self.value_inner(inner)
    }

    fn value_inner(&mut self, pair: Pair<'_, Rule>) -> Value {
        let span: Span = pair.as_span().into();
        match pair.as_rule() {
            Rule::string => Value::Str(self.string(pair)),
            Rule::number => Value::Number(Number { text: pair.as_str().to_owned(), span }),
            Rule::boolean => Value::Bool(pair.as_str() == "true", span),
            Rule::list => Value::List(pair.into_inner().map(|p| self.value(p)).collect(), span),
            Rule::block => Value::Block(self.block(pair)),
            Rule::branches => Value::Branches(self.branches(pair)),
            Rule::path => Value::Path(self.path(pair)),
            other => unreachable!("the grammar has no value {other:?}"),
        }
    }

    fn branches(&mut self, pair: Pair<'_, Rule>) -> Branches {
        let span = pair.as_span().into();
        let mut branches = Vec::new();
        let mut otherwise = None;
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::branch => {
                    let branch_span = item.as_span().into();
                    let mut inner = item.into_inner();
                    let when = self.rule_group(skip_keyword(&mut inner));
                    let label = self.string(skip_keyword(&mut inner));
                    branches.push(Branch { when, label, span: branch_span });
                }
                Rule::string => otherwise = Some(self.string(item)),
                _ => {} // `else` keywords
            }
        }
        Branches { branches, otherwise, span }
    }

    fn rule_group(&mut self, pair: Pair<'_, Rule>) -> RuleGroup {
        let span = pair.as_span().into();
        let rules = pair.into_inner().filter(|p| p.as_rule() == Rule::rule).map(|p| self.rule(p)).collect();
        RuleGroup { rules, span }
    }

    fn rule(&mut self, pair: Pair<'_, Rule>) -> Rule_ {
        let span = pair.as_span().into();
        let mut inner = pair.into_inner();
        let path = self.path(next(&mut inner));
        let op_pair = next(&mut inner).into_inner().next().expect("an operator has one alternative");
        let op_span = op_pair.as_span().into();
        let op = match op_pair.as_rule() {
            Rule::op_is => Op::Is,
            Rule::op_is_not => Op::IsNot,
            Rule::op_any_of => Op::AnyOf,
            Rule::op_contains => Op::Contains,
            Rule::op_not_contains => Op::NotContains,
            Rule::op_at_least => Op::AtLeast,
            Rule::op_has_value => Op::HasValue,
            Rule::op_some => Op::Some,
            _ => Op::Unknown(op_pair.as_str().to_owned()),
        };
        let operand = inner.next().map(|p| {
            let value = p.into_inner().next().expect("an operand has one alternative");
            match value.as_rule() {
                Rule::rule_group => Operand::Rules(self.rule_group(value)),
                _ => Operand::Value(self.value_inner(value)),
            }
        });
        Rule_ { path, op, op_span, operand, span }
    }

    fn path(&mut self, pair: Pair<'_, Rule>) -> Path {
        let span = pair.as_span().into();
        let mut segments = Vec::new();
        for part in pair.into_inner() {
            let part_span: Span = part.as_span().into();
            match part.as_rule() {
                Rule::root => {}
                Rule::name => {
                    segments.push(Segment::Key { name: part.as_str().to_owned(), quoted: false, span: part_span })
                }
                Rule::string => {
                    let s = self.string(part);
                    segments.push(Segment::Key { name: string_text(&s), quoted: true, span: part_span });
                }
                Rule::index => {
                    let digits = part.into_inner().next().expect("an index holds digits");
                    match digits.as_str().parse() {
                        Ok(index) => segments.push(Segment::Index { index, span: part_span }),
                        Err(_) => self.diagnostics.push(Diagnostic::error(
                            "tib::bad-index",
                            "this array index is too large",
                            part_span,
                            "not a valid index",
                        )),
                    }
                }
                other => unreachable!("the grammar has no path part {other:?}"),
            }
        }
        Path { segments, span }
    }

    /// Unescapes a string literal and splits out `{placeholder}`s with exact spans.
    fn string(&mut self, pair: Pair<'_, Rule>) -> Str {
        let span: Span = pair.as_span().into();
        let raw = pair.as_str();
        let body = &raw[1..raw.len() - 1];
        let base = span.start + 1;
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => text.push('\n'),
                    Some((_, 't')) => text.push('\t'),
                    Some((_, other)) => text.push(other),
                    None => {}
                },
                '{' => {
                    let rest = &body[i + 1..];
                    match rest.find(['}', '"', '{']) {
                        Some(close) if rest.as_bytes()[close] == b'}' => {
                            if !text.is_empty() {
                                parts.push(StrPart::Text(std::mem::take(&mut text)));
                            }
                            let name_span = Span::new(base + i + 1, base + i + 1 + close);
                            parts.push(StrPart::Placeholder(Word {
                                text: rest[..close].trim().to_owned(),
                                span: name_span,
                            }));
                            for _ in 0..=close {
                                chars.next();
                            }
                        }
                        _ => {
                            self.diagnostics.push(
                                Diagnostic::error(
                                    "tib::unclosed-placeholder",
                                    "`{` opens a credential placeholder that is never closed",
                                    Span::new(base + i, base + i + 1),
                                    "opened here",
                                )
                                .with_help("close it as in \"{api_token}\", or write \\{ for a literal brace"),
                            );
                            // Read the rest as the placeholder it was meant to be, so the
                            // checker does not add warnings that follow from this mistake.
                            let name_len =
                                rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                            if !text.is_empty() {
                                parts.push(StrPart::Text(std::mem::take(&mut text)));
                            }
                            let name_span = Span::new(base + i + 1, base + i + 1 + name_len);
                            parts.push(StrPart::Placeholder(Word {
                                text: rest[..name_len].to_owned(),
                                span: name_span,
                            }));
                            for _ in 0..rest[..name_len].chars().count() {
                                chars.next();
                            }
                        }
                    }
                }
                '}' => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "tib::stray-brace",
                            "`}` closes no placeholder",
                            Span::new(base + i, base + i + 1),
                            "nothing to close",
                        )
                        .with_help("write \\} for a literal brace"),
                    );
                    text.push('}');
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(StrPart::Text(text));
        }
        Str { parts, span }
    }
}

type Rule_ = crate::ast::Rule;

/// The text of a string used as a key or path segment, placeholders written back in braces.
fn string_text(s: &Str) -> String {
    s.parts
        .iter()
        .map(|part| match part {
            StrPart::Text(t) => t.clone(),
            StrPart::Placeholder(w) => format!("{{{}}}", w.text),
        })
        .collect()
}

fn next<'i>(inner: &mut pest::iterators::Pairs<'i, Rule>) -> Pair<'i, Rule> {
    inner.next().expect("the grammar guarantees this part")
}

/// Skips a keyword pair (`when`, `if`, `at`, ...) and returns the pair after it.
fn skip_keyword<'i>(inner: &mut pest::iterators::Pairs<'i, Rule>) -> Pair<'i, Rule> {
    inner.find(|p| !is_keyword(p.as_rule())).expect("the grammar guarantees a part after the keyword")
}

fn is_keyword(kind: Rule) -> bool {
    matches!(
        kind,
        Rule::kw_when
            | Rule::kw_at
            | Rule::kw_message
            | Rule::kw_stop
            | Rule::kw_from
            | Rule::kw_field
            | Rule::kw_if
            | Rule::kw_then
            | Rule::kw_else
            | Rule::kw_auto
            | Rule::kw_otherwise
    )
}

/// Turns pest's error into a diagnostic that names what was expected in the
/// language's words, with a "did you mean" when a misspelt keyword stands there.
fn syntax_error(source: &str, error: pest::error::Error<Rule>) -> Diagnostic {
    let mut pos = match error.location {
        pest::error::InputLocation::Pos(pos) => pos,
        pest::error::InputLocation::Span((start, _)) => start,
    };
    let mut positives = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    // pest's positives name rules only; the attempts also know the punctuation
    // it was waiting for (`=`, `}`), which is often further along and more useful.
    let mut punctuation: Vec<String> = Vec::new();
    if let Some(attempts) = error.parse_attempts().filter(|a| a.max_position >= pos) {
        if attempts.max_position > pos {
            pos = attempts.max_position;
            positives.clear();
        }
        positives.extend(attempts.call_stacks().iter().filter_map(|stack| stack.deepest.get_rule().copied()));
        for token in attempts.expected_tokens().iter().map(ToString::to_string) {
            if !token.is_empty() && token.chars().all(|c| "=}],".contains(c)) {
                punctuation.push(format!("`{token}`"));
            }
        }
    }
    let found = found_at(source, pos);
    let mut expected: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
    expected.extend(punctuation.iter().map(String::as_str));
    expected.sort_unstable();
    expected.dedup();
    // Inside a setting only its `=` is missing; where an operator belongs, `=`
    // only stands for the operator symbols it could start.
    if expected.contains(&"an operator") {
        expected.retain(|e| *e != "`=`");
    } else if expected.contains(&"`=`") {
        expected.retain(|e| !e.starts_with("a setting"));
    }
    // At the end of the file, point at the last thing written instead of at nothing.
    let span = if pos >= source.trim_end().len() {
        let end = source.trim_end().len();
        let last_word =
            source[..end].chars().rev().take_while(|c| !c.is_whitespace()).map(char::len_utf8).sum::<usize>();
        let start = end - last_word;
        Span::new(start, end)
    } else {
        Span::new(pos, pos + found.len())
    };
    let found_text = if found.is_empty() {
        if pos >= source.trim_end().len() { "the end of the file".to_owned() } else { "this".to_owned() }
    } else {
        format!("`{found}`")
    };
    let message = match expected.as_slice() {
        [] => format!("unexpected {found_text}"),
        [one] => format!("expected {one}, found {found_text}"),
        many => {
            let (last, rest) = many.split_last().expect("many has at least two items");
            format!("expected {} or {last}, found {found_text}", rest.join(", "))
        }
    };
    let at_end = pos >= source.trim_end().len();
    let mut diagnostic =
        Diagnostic::error("tib::syntax", message, span, if at_end { "the file ends after this" } else { "here" });
    if at_end {
        return diagnostic.with_help("a block is still open: check that every `{` has its `}`");
    }
    let candidates: Vec<&str> = positives.iter().flat_map(|r| keywords_of(*r)).copied().collect();
    // A misspelt `stop`/`from` reads as a setting name waiting for its `=`.
    let (previous_start, previous) = previous_word(source, pos);
    let misspelt_line = if expected.contains(&"`=`") { suggest::closest(previous, ["stop", "from"]) } else { None };
    if let Some(suggestion) = suggest::closest(&found, candidates.iter().copied()) {
        diagnostic = diagnostic.with_help(format!("did you mean `{suggestion}`?"));
    } else if let Some(keyword) = misspelt_line {
        diagnostic = diagnostic.with_help(format!("did you mean `{keyword}` instead of `{previous}`?"));
    } else if expected.contains(&"an operator") && is_operator_word(previous_word(source, previous_start).1) {
        // `role is admin`: the bare word was read as the next rule's path.
        diagnostic = diagnostic.with_help(format!("text values are quoted: write \"{previous}\""));
    } else if positives.contains(&Rule::operator) || positives.contains(&Rule::op_is) {
        diagnostic = diagnostic.with_help(
            "a rule is `path operator value`, e.g. `role is \"admin\"`; operators: is, is not, any of, contains, not contains, >=, has value, some",
        );
    }
    diagnostic
}

fn is_operator_word(word: &str) -> bool {
    matches!(word, "is" | "not" | "of" | "contains")
}

/// The word that ends before `pos`, skipping white space, and where it starts.
fn previous_word(source: &str, pos: usize) -> (usize, &str) {
    let before = source.get(..pos).unwrap_or("").trim_end();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    // Word characters are ASCII, so the word's length in bytes is its length in chars.
    let start = before.len() - before.chars().rev().take_while(|c| is_word(*c)).count();
    (start, &before[start..])
}

/// The token at `pos`: a word, or one character.
fn found_at(source: &str, pos: usize) -> String {
    let rest = source.get(pos..).unwrap_or("");
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    if word.is_empty() {
        rest.chars().next().filter(|c| !c.is_whitespace()).map(String::from).unwrap_or_default()
    } else {
        word
    }
}

/// What a grammar rule is called in the language reference.
fn describe(kind: Rule) -> Option<&'static str> {
    Some(match kind {
        Rule::string => "a string",
        Rule::number => "a number",
        Rule::boolean => "true or false",
        Rule::word => "a word",
        Rule::path | Rule::name | Rule::root | Rule::arg_path => "a path",
        Rule::list => "a list",
        Rule::block | Rule::pagination | Rule::license_list => "`{`",
        Rule::rule_group => "`{` and rules",
        Rule::rule => "a rule",
        Rule::operator | Rule::op_is | Rule::op_is_not | Rule::op_unknown => "an operator",
        Rule::operand => "a value",
        Rule::value => "a value",
        Rule::entry => "a setting `name = value`",
        Rule::license => "a license `\"Name\" when { ... }`",
        Rule::credential => "a credential `name secret|text \"description\"`",
        Rule::branch | Rule::branches | Rule::kw_if => "`if`",
        Rule::status_auto | Rule::kw_auto => "`auto`",
        Rule::status_field | Rule::kw_field => "`field`",
        Rule::kw_when => "`when`",
        Rule::kw_then => "`then`",
        Rule::kw_else => "`else`",
        Rule::kw_at => "`at`",
        Rule::kw_otherwise => "`otherwise`",
        Rule::kw_message => "`message`",
        Rule::stop | Rule::kw_stop => "`stop when ...`",
        Rule::from | Rule::kw_from => "`from ...`",
        Rule::EOI => "the end of the file",
        Rule::app
        | Rule::base_url
        | Rule::credentials
        | Rule::auth
        | Rule::request
        | Rule::paginate
        | Rule::api_error
        | Rule::users
        | Rule::fields
        | Rule::active
        | Rule::status
        | Rule::licenses
        | Rule::custom_fields
        | Rule::unknown => "a section",
        _ => return None,
    })
}

/// Keywords a misspelt word at this position could have meant.
fn keywords_of(kind: Rule) -> &'static [&'static str] {
    match kind {
        Rule::kw_when => &["when"],
        Rule::kw_then => &["then"],
        Rule::kw_else => &["else"],
        Rule::kw_at => &["at"],
        Rule::kw_otherwise => &["otherwise"],
        Rule::kw_message => &["message"],
        Rule::kw_if | Rule::branch | Rule::branches => &["if"],
        Rule::status_auto | Rule::kw_auto => &["auto"],
        Rule::status_field | Rule::kw_field => &["field"],
        _ => &[],
    }
}
