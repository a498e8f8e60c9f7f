//! Parse: `.tib` text to the AST, through the pest grammar in `tib-grammar`.
//!
//! A syntax error stops the parse of that file and becomes one diagnostic in
//! the user's words; everything the grammar accepts is lowered faithfully,
//! deciding nothing.

mod recover;
mod syntax;

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use tib_grammar::{Rule, TibParser};

// `Rule` here is the grammar's rule kind; a condition rule of the AST is `ast::Rule`.
use crate::ast::{self, *};
use crate::diag::Diagnostic;
use crate::span::Span;

/// Parses a spec. Every syntax error is a diagnostic, and what follows it is
/// still read (see [`recover`]): the AST then holds what could be read and
/// [`Parsed::recovered`] says that some was not. `None` only when nothing
/// could be. Mistakes inside strings (an unclosed `{`) are reported too.
pub fn parse(source: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<Parsed> {
    if let Some(too_deep) = too_deep(source) {
        diagnostics.push(too_deep);
        return None;
    }
    // Track what the parser was waiting for, so a syntax error can say so.
    pest::set_error_detail(true);
    let mut recovery = recover::Recovery::new(source);
    recovery.unbalanced_sections(diagnostics);
    let file = loop {
        match TibParser::parse(Rule::file, recovery.text()) {
            Ok(mut pairs) => break pairs.next().expect("the grammar's `file` rule always yields one pair"),
            Err(error) => {
                let diagnostic = syntax::error(recovery.text(), error);
                let at = diagnostic.primary.span.start;
                diagnostics.push(diagnostic);
                if !recovery.skip(at) {
                    return None;
                }
            }
        }
    };
    let mut lower = Lower { diagnostics };
    let sections =
        file.into_inner().filter(|pair| pair.as_rule() != Rule::EOI).map(|pair| lower.section(pair)).collect();
    Some(Parsed { file: File { sections }, recovered: recovery.recovered(), skipped: recovery.blanked().to_vec() })
}

/// The diagnostic for blocks nested deeper than the parser goes, if they are.
pub fn too_deep(source: &str) -> Option<Diagnostic> {
    syntax::check_nesting(source)
}

/// What [`parse`] read.
pub struct Parsed {
    pub file: File,
    /// Whether some of the text had syntax errors and is missing from `file`.
    pub recovered: bool,
    /// Where that text was.
    pub skipped: Vec<Span>,
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
        // `base_url todo "…"`: the section's keyword, then only its gap.
        if let Some(gap) = inner.clone().find(|p| !is_keyword(p.as_rule())).filter(|p| p.as_rule() == Rule::todo) {
            let todo = self.todo(gap);
            return Section { keyword, span: Span::new(span.start, todo.span.end), kind: SectionKind::Gap(todo) };
        }
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
            Rule::lookup => {
                let name = word(next(&mut inner));
                let method = word(next(&mut inner));
                let path = self.string(next(&mut inner));
                let settings = inner.next().map(|p| self.block(p));
                SectionKind::Lookup { name, method, path, settings }
            }
            Rule::listing => {
                let name = word(next(&mut inner));
                SectionKind::Listing(Listing { name, request: self.listing_request(&mut inner) })
            }
            Rule::paginate => {
                let style = word(next(&mut inner));
                let body = inner.next().map(|p| self.pagination(p));
                SectionKind::Paginate { style, body }
            }
            Rule::api_error => {
                let when = self.rule_group(skip_keyword(&mut inner));
                let mut message = None;
                let mut classes = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::path => message = Some(self.path(p)),
                        Rule::api_class => classes.push(self.api_class(p)),
                        _ => {}
                    }
                }
                SectionKind::ApiError { when, message, classes }
            }
            Rule::users => {
                let path = self.path(skip_keyword(&mut inner));
                let or_none = inner.find(|p| p.as_rule() == Rule::or_none).map(|p| p.as_span().into());
                SectionKind::Users { path, or_none }
            }
            Rule::fields => SectionKind::Fields(self.block(next(&mut inner))),
            Rule::active => SectionKind::Active(self.rule_group(skip_keyword(&mut inner))),
            Rule::status => SectionKind::Status(self.status(next(&mut inner))),
            Rule::licenses => SectionKind::Licenses(self.licenses(next(&mut inner))),
            Rule::custom_fields => SectionKind::CustomFields(self.block(next(&mut inner))),
            other => unreachable!("the grammar has no section {other:?}"),
        };
        Section { keyword, span, kind }
    }

    /// `METHOD "/path" { paginate … members … settings }`, after a listing's name or `members`.
    fn listing_request(&mut self, inner: &mut Pairs<'_, Rule>) -> ListingRequest {
        let method = word(next(inner));
        let path = self.string(next(inner));
        let mut request = ListingRequest { method, path, paginate: Vec::new(), members: Vec::new(), settings: None };
        let Some(body) = inner.next() else { return request };
        let mut entries = Vec::new();
        let span = body.as_span().into();
        for item in body.into_inner() {
            match item.as_rule() {
                Rule::paginate => {
                    // A `todo` where the style belongs reads as a style the checker does not know.
                    let mut inner = item.into_inner();
                    let style = word(skip_keyword(&mut inner));
                    let body = inner.next().map(|p| self.pagination(p));
                    request.paginate.push((style, body));
                }
                Rule::members => {
                    let mut inner = item.into_inner();
                    let keyword = word(next(&mut inner));
                    let members = self.listing_request(&mut inner);
                    request.members.push((keyword, members));
                }
                _ => entries.push(self.entry(item)),
            }
        }
        request.settings = Some(Block { entries, span });
        request
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
            Rule::string => Status::Fixed(self.string(pair)),
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
            Rule::licenses_none => Licenses::None(span),
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

    fn api_class(&mut self, pair: Pair<'_, Rule>) -> ApiClass {
        let span = pair.as_span().into();
        let mut inner = pair.into_inner();
        let kind = word(next(&mut inner));
        let when = self.rule_group(skip_keyword(&mut inner));
        ApiClass { kind, when, span }
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
            Rule::mapped => self.mapped(pair),
            Rule::todo => Value::Todo(self.todo(pair)),
            other => unreachable!("the grammar has no value {other:?}"),
        }
    }

    fn todo(&mut self, pair: Pair<'_, Rule>) -> Todo {
        let start = pair.as_span().start();
        let what = self.string(skip_keyword(&mut pair.into_inner()));
        // The rule's own span runs on over the white space its lookahead read.
        Todo { span: Span::new(start, what.span.end), what }
    }

    /// A mapped value; a lone path stays a path.
    fn mapped(&mut self, pair: Pair<'_, Rule>) -> Value {
        let span = pair.as_span().into();
        let mut sources = Vec::new();
        let mut fallback = None;
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::source => {
                    let mut inner = item.into_inner();
                    let first = next(&mut inner);
                    let origin = match first.as_rule() {
                        Rule::format => Origin::Format(self.format(first)),
                        Rule::each => {
                            let span: Span = first.as_span().into();
                            let mut parts = first.into_inner().filter(|p| p.as_rule() == Rule::path);
                            let list = self.path(parts.next().expect("`[]` follows a path"));
                            let item = match parts.next() {
                                Some(item) => self.path(item),
                                None => Path { segments: Vec::new(), span: Span::new(span.end, span.end) },
                            };
                            Origin::Each(ast::Each { list, item, span })
                        }
                        _ => Origin::Path(self.path(first)),
                    };
                    let except = inner.find(|p| !is_keyword(p.as_rule())).map(|p| Box::new(self.value_inner(p)));
                    sources.push(Source { origin, except });
                }
                Rule::fallback => {
                    let literal = item.into_inner().next().expect("a fallback is one literal");
                    fallback = Some(Box::new(self.value_inner(literal)));
                }
                _ => {} // `or`, `else`
            }
        }
        match (sources.len(), &fallback, sources.first().map(|s| &s.origin)) {
            (1, None, Some(Origin::Path(_))) if sources[0].except.is_none() => match sources.remove(0).origin {
                Origin::Path(path) => Value::Path(path),
                Origin::Format(_) | Origin::Each(_) => unreachable!("matched as a path"),
            },
            _ => Value::Mapped(Mapped { sources, fallback, span }),
        }
    }

    /// `format "{id}+{login}@…"`: the string's text, and each `{path}` read as a
    /// path of the user. `\{` and `\}` are literal braces.
    fn format(&mut self, pair: Pair<'_, Rule>) -> Format {
        let start = pair.as_span().start();
        let string = skip_keyword(&mut pair.into_inner());
        let string_span: Span = string.as_span().into();
        let raw = string.as_str();
        let body = &raw[1..raw.len() - 1];
        let base = string_span.start + 1;
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut reported = false;
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => text.extend(unescaped(chars.next())),
                '{' => {
                    let Some(close) = body[i + 1..].find('}').map(|c| i + 1 + c) else {
                        self.diagnostics.push(
                            Diagnostic::error(
                                "tib::format",
                                "this `{` is never closed",
                                Span::new(base + i, base + i + 1),
                                "opened here",
                            )
                            .with_help("a value of the user is written {path}; write \\{ for a literal brace"),
                        );
                        reported = true;
                        break;
                    };
                    let inner = &body[i + 1..close];
                    let at = base + i + 1;
                    match path_in_text(inner, at, self.diagnostics) {
                        Some(path) => {
                            if !text.is_empty() {
                                parts.push(FormatPart::Text(std::mem::take(&mut text)));
                            }
                            parts.push(FormatPart::Path(path));
                        }
                        None => {
                            reported = true;
                            self.diagnostics.push(
                            Diagnostic::error(
                                "tib::format",
                                format!("`{{{inner}}}` is not a path of the user"),
                                Span::new(at - 1, close + base + 1),
                                "not a path",
                            )
                            .with_help("each {…} is a path of the user, e.g. {login} or {profile.email}; write \\{ for a literal brace"),
                        );
                        }
                    }
                    // Skip to after the closing brace.
                    for _ in body[i + 1..=close].chars() {
                        chars.next();
                    }
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(FormatPart::Text(text));
        }
        Format { parts, span: Span::new(start, string_span.end), reported }
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
                Rule::string => otherwise = Some(Otherwise::Label(self.string(item))),
                Rule::mapped => otherwise = Some(Otherwise::Value(Box::new(self.mapped(item)))),
                _ => {} // `else` keywords
            }
        }
        Branches { branches, otherwise, span }
    }

    fn rule_group(&mut self, pair: Pair<'_, Rule>) -> RuleGroup {
        let span = pair.as_span().into();
        let rules = pair
            .into_inner()
            .filter_map(|p| match p.as_rule() {
                Rule::rule => Some(self.rule(p)),
                Rule::any_group => Some(self.any_group(p)),
                _ => None,
            })
            .collect();
        RuleGroup { rules, span }
    }

    /// `any { alternatives }` as a rule on the value itself.
    fn any_group(&mut self, pair: Pair<'_, Rule>) -> ast::Rule {
        let span: Span = pair.as_span().into();
        let mut inner = pair.into_inner();
        let keyword = next(&mut inner);
        let op_span: Span = keyword.as_span().into();
        let alternatives = inner
            .filter_map(|p| match p.as_rule() {
                Rule::rule_group => Some(self.rule_group(p)),
                Rule::rule => {
                    let rule = self.rule(p);
                    Some(RuleGroup { span: rule.span, rules: vec![rule] })
                }
                _ => None,
            })
            .collect();
        let path = Path { segments: Vec::new(), span: op_span };
        ast::Rule { path, op: Op::Any, op_span, operand: Some(Operand::Alternatives(alternatives, span)), span }
    }

    fn rule(&mut self, pair: Pair<'_, Rule>) -> ast::Rule {
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
        ast::Rule { path, op, op_span, operand, span }
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
                        Err(_) => self.diagnostics.push(
                            Diagnostic::error(
                                "tib::bad-index",
                                "this array index is too large",
                                part_span,
                                "not a valid index",
                            )
                            .with_help("an index counts from 0 the items of a list: `emails[0]` is the first"),
                        ),
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
        // After a brace reported as a GraphQL query's, every brace is read as text: one report, not one per brace.
        let mut literal_braces = false;
        while let Some((i, c)) = chars.next() {
            match c {
                '{' | '}' if literal_braces => text.push(c),
                '\\' => text.extend(unescaped(chars.next())),
                '{' => {
                    let rest = &body[i + 1..];
                    // `{{api_token}}`, another tool's form: one placeholder, reported as such.
                    let inner = rest.strip_prefix('{').map(|r| {
                        r.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or((r, ""), |n| r.split_at(n))
                    });
                    if let Some((name, after)) = inner
                        && !name.is_empty()
                        && after.starts_with("}}")
                    {
                        let whole = Span::new(base + i, base + i + name.len() + 4);
                        self.diagnostics.push(
                            Diagnostic::error(
                                "tib::unclosed-placeholder",
                                "a placeholder has one brace on each side",
                                whole,
                                "two braces",
                            )
                            .with_help(format!("write `{{{name}}}`; `{{{{…}}}}` is another tool's placeholder"))
                            .with_replacement(format!("{{{name}}}")),
                        );
                        if !text.is_empty() {
                            parts.push(StrPart::Text(std::mem::take(&mut text)));
                        }
                        let name_span = Span::new(base + i + 2, base + i + 2 + name.len());
                        parts.push(StrPart::Placeholder(Word { text: name.to_owned(), span: name_span }));
                        for _ in 0..name.len() + 3 {
                            chars.next();
                        }
                        continue;
                    }
                    if rest.starts_with(char::is_whitespace) {
                        // `query { users { id } }`: a GraphQL query's braces, not a placeholder.
                        self.diagnostics.push(
                            Diagnostic::error(
                                "tib::unclosed-placeholder",
                                "a brace in a string starts a credential placeholder",
                                Span::new(base + i, base + i + 1),
                                "a literal brace?",
                            )
                            .with_help(
                                "write `\\{` for a literal brace, and \\} to close one: every brace of a GraphQL \
                                 query is escaped",
                            )
                            .with_replacement("\\{"),
                        );
                        literal_braces = true;
                        text.push('{');
                        continue;
                    }
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
        Str { parts, span, lookalikes: lookalikes(body, base) }
    }
}

/// The placeholders of other tools in a string's body (`${x}`, `$X`, `%X%`);
/// `base` is where the body starts in the file.
fn lookalikes(body: &str, base: usize) -> Vec<Lookalike> {
    let name_len = |text: &str| {
        let first = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if first { text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len()) } else { 0 }
    };
    let mut found = Vec::new();
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Only after `$` and `%` (one byte each) is the rest sliced: `i + 1` is then a char boundary.
        if !matches!(bytes[i], b'$' | b'%' | b'\\') {
            i += 1;
            continue;
        }
        let rest = &body[i + 1..];
        let (start, end, name, braced) = match bytes[i] {
            // An escaped character is text; the grammar's escapes are one ASCII character.
            b'\\' => {
                i += 2;
                continue;
            }
            b'$' if rest.starts_with('{') => {
                let len = name_len(&rest[1..]);
                match rest[1 + len..].starts_with('}') && len > 0 {
                    true => (i, i + 3 + len, &rest[1..1 + len], true),
                    false => (i, i, "", false),
                }
            }
            b'$' => {
                let len = name_len(rest);
                (i, i + 1 + len, &rest[..len], false)
            }
            b'%' => {
                let len = name_len(rest);
                match rest[len..].starts_with('%') && len > 0 {
                    true => (i, i + 2 + len, &rest[..len], false),
                    false => (i, i, "", false),
                }
            }
            _ => (i, i, "", false),
        };
        if name.is_empty() {
            i += 1;
            continue;
        }
        found.push(Lookalike { name: name.to_owned(), span: Span::new(base + start, base + end), braced });
        i = end;
    }
    found
}

/// `text`, written in a string at `at`, read as a path (a format's `{login}`,
/// a lookup's `{profile.id}`), when it is one and nothing more.
pub(crate) fn path_in_text(text: &str, at: usize, diagnostics: &mut Vec<Diagnostic>) -> Option<Path> {
    match TibParser::parse(Rule::path, text) {
        Ok(mut pairs) if pairs.as_str() == text && !text.is_empty() => {
            let mut path = Lower { diagnostics }.path(pairs.next().expect("a parsed path"));
            path.shift(at);
            Some(path)
        }
        _ => None,
    }
}

/// What the character after a backslash stands for: `n` a line break, `t` a tab, any other itself.
fn unescaped(escaped: Option<(usize, char)>) -> Option<char> {
    escaped.map(|(_, c)| match c {
        'n' => '\n',
        't' => '\t',
        other => other,
    })
}

/// The text of a string used as a key or path segment (or a URL the checker
/// reads), placeholders written back in braces.
pub(crate) fn string_text(s: &Str) -> String {
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
            | Rule::kw_or
            | Rule::kw_none
            | Rule::kw_any
            | Rule::kw_except
            | Rule::kw_refused
            | Rule::kw_rate_limited
            | Rule::kw_at
            | Rule::kw_message
            | Rule::kw_stop
            | Rule::kw_paginate
            | Rule::kw_members
            | Rule::kw_from
            | Rule::kw_field
            | Rule::kw_if
            | Rule::kw_then
            | Rule::kw_else
            | Rule::kw_auto
            | Rule::kw_otherwise
            | Rule::kw_todo
            | Rule::kw_format
    )
}

#[cfg(test)]
mod lookalike_tests {
    use super::*;

    #[test]
    fn other_tools_placeholders_are_found_between_any_characters() {
        let found = lookalikes(r"é${a_b}€ $TOKEN %Key% \$X 100% $ %", 10);
        let names: Vec<(&str, usize, usize, bool)> =
            found.iter().map(|l| (l.name.as_str(), l.span.start - 10, l.span.end - 10, l.braced)).collect();
        assert_eq!(names, [("a_b", 2, 8, true), ("TOKEN", 12, 18, false), ("Key", 19, 24, false)]);
    }
}
