//! The syntax tree of a `.tib` file: what was written, where, and nothing decided.
//!
//! Sections may repeat, settings may be unknown, operands may have the wrong
//! kind: the AST keeps all of it with spans so the checker can say precisely
//! what is wrong. Only the checker gives the text a meaning (see `ir`).

use crate::span::Span;

/// A whole spec file: its sections in source order.
#[derive(Clone, Debug)]
pub struct File {
    pub sections: Vec<Section>,
}

/// One top-level statement, e.g. `auth bearer "{api_token}"`.
#[derive(Clone, Debug)]
pub struct Section {
    /// The leading keyword (`auth`), or the unknown word that stood there.
    pub keyword: Word,
    pub span: Span,
    pub kind: SectionKind,
}

#[derive(Clone, Debug)]
pub enum SectionKind {
    App(Str),
    BaseUrl(Str),
    Credentials(Vec<CredentialDecl>),
    Auth {
        kind: Word,
        arg: Option<AuthArg>,
    },
    Request {
        method: Word,
        path: Str,
        settings: Option<Block>,
    },
    /// `lookup membership GET "/memberships/{login}" { settings }`.
    Lookup {
        name: Word,
        method: Word,
        path: Str,
        settings: Option<Block>,
    },
    /// `listing teams GET "/teams" { paginate … members … settings }`.
    Listing(Listing),
    Paginate {
        style: Word,
        body: Option<Pagination>,
    },
    ApiError {
        when: RuleGroup,
        message: Option<Path>,
        /// `refused when { ... }`, `rate_limited when { ... }`, in source order.
        classes: Vec<ApiClass>,
    },
    Users {
        path: Path,
        /// `or none`: a page may lack the users key; where it was written.
        or_none: Option<Span>,
    },
    Fields(Block),
    Active(RuleGroup),
    Status(Status),
    Licenses(Licenses),
    CustomFields(Block),
    /// `base_url todo "…"` (or `auth`, `paginate`, `users at`): the section is
    /// there, its content left to fill in.
    Gap(Todo),
    /// A statement starting with a word no section starts with.
    Unknown,
}

/// `todo "what belongs here"`: a gap a draft leaves to its author.
#[derive(Clone, Debug)]
pub struct Todo {
    pub what: Str,
    pub span: Span,
}

/// `name kind "description"` inside `credentials { ... }`.
#[derive(Clone, Debug)]
pub struct CredentialDecl {
    pub name: Word,
    pub kind: Word,
    pub description: Option<Str>,
    pub span: Span,
}

/// What follows `auth <kind>`: a single string or a settings block.
#[derive(Clone, Debug)]
pub enum AuthArg {
    Str(Str),
    Block(Block),
}

/// `listing NAME METHOD "/path" { … }`: another listing whose items name the users they belong to.
#[derive(Clone, Debug)]
pub struct Listing {
    pub name: Word,
    pub request: ListingRequest,
}

/// A listing's request and what its block holds: `METHOD "/path" { paginate … members … settings }`,
/// the shape of a listing and of its `members` request alike.
#[derive(Clone, Debug)]
pub struct ListingRequest {
    pub method: Word,
    pub path: Str,
    /// `paginate <style> { … }` lines in the block, in source order (one is right).
    pub paginate: Vec<(Word, Option<Pagination>)>,
    /// `members METHOD "/path" { … }` lines in the block, in source order (at most one is right).
    pub members: Vec<(Word, ListingRequest)>,
    /// The block's `key = value` settings (empty without a block), spanning the whole block.
    pub settings: Option<Block>,
}

/// The body of `paginate <style> { ... }`, in source order.
#[derive(Clone, Debug)]
pub struct Pagination {
    pub items: Vec<PaginationItem>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum PaginationItem {
    /// `stop when <condition> [path]`
    Stop {
        condition: Word,
        path: Option<Path>,
        span: Span,
    },
    /// `from <source> [string | path]`
    From {
        source: Word,
        arg: Option<Value>,
        span: Span,
    },
    Setting(Entry),
}

/// `refused when { rules }` or `rate_limited when { rules }` after `api_error`.
#[derive(Clone, Debug)]
pub struct ApiClass {
    /// `refused` or `rate_limited`.
    pub kind: Word,
    pub when: RuleGroup,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Status {
    /// `status "Active"`: one label for every user.
    Fixed(Str),
    Auto(Span),
    Field(Path),
    Branches(Branches),
}

#[derive(Clone, Debug)]
pub enum Licenses {
    Auto {
        name: Option<Str>,
        span: Span,
    },
    /// `licenses none`: the app has no license tiers.
    None(Span),
    List {
        entries: Vec<License>,
        span: Span,
    },
}

/// `"Name" when { rules }` or `"Name" otherwise`.
#[derive(Clone, Debug)]
pub struct License {
    pub name: Str,
    /// `None` for `otherwise`, the catch-all.
    pub when: Option<RuleGroup>,
    pub span: Span,
}

/// A bare word: keyword, setting name, auth kind, method, ...
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

/// A string literal, split into text and `{placeholder}` parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Str {
    pub parts: Vec<StrPart>,
    pub span: Span,
    /// Other tools' placeholders written in it (`${x}`, `$X`, `%X%`), sent as
    /// written: the checker names those whose name is a credential's.
    pub lookalikes: Vec<Lookalike>,
}

/// A placeholder of another tool's form inside a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookalike {
    /// The name it holds, as written.
    pub name: String,
    /// From its `$` or `%` to its end.
    pub span: Span,
    /// `${x}`: a `$` before tib's own placeholder.
    pub braced: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrPart {
    Text(String),
    /// `{name}`; the word's span covers the name inside the braces.
    Placeholder(Word),
}

impl Str {
    /// The string's text when it has no placeholders.
    pub fn plain(&self) -> Option<String> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                StrPart::Text(t) => text.push_str(t),
                StrPart::Placeholder(_) => return None,
            }
        }
        Some(text)
    }

    /// The first placeholder, if any.
    pub fn first_placeholder(&self) -> Option<&Word> {
        self.parts.iter().find_map(|part| match part {
            StrPart::Placeholder(word) => Some(word),
            StrPart::Text(_) => None,
        })
    }
}

/// A numeric literal, kept as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number {
    pub text: String,
    pub span: Span,
}

/// A dot path into JSON: `data.users`, `profile."first.name"`, `emails[0].value`, `.`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// Empty for `.`, the whole document (or array item).
    pub segments: Vec<Segment>,
    pub span: Span,
}

impl Path {
    /// Moves the path's spans by `by` bytes: a path parsed out of a string's text.
    pub fn shift(&mut self, by: usize) {
        let shift = |span: &mut Span| *span = Span::new(span.start + by, span.end + by);
        shift(&mut self.span);
        for segment in &mut self.segments {
            match segment {
                Segment::Key { span, .. } | Segment::Index { span, .. } => shift(span),
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A key; `quoted` when written as a string.
    Key {
        name: String,
        quoted: bool,
        span: Span,
    },
    Index {
        index: usize,
        span: Span,
    },
}

/// `{ key = value ... }`
#[derive(Clone, Debug)]
pub struct Block {
    pub entries: Vec<Entry>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Key,
    pub value: Value,
    pub span: Span,
}

/// A setting name or a quoted map key.
#[derive(Clone, Debug)]
pub struct Key {
    pub text: String,
    pub quoted: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Value {
    Str(Str),
    Number(Number),
    Bool(bool, Span),
    List(Vec<Value>, Span),
    Block(Block),
    Branches(Branches),
    Path(Path),
    /// Paths tried in turn, with values that mean none, and a literal at the end.
    Mapped(Mapped),
    Todo(Todo),
}

/// `a except "x" or b else "member"`: more than a lone path.
#[derive(Clone, Debug)]
pub struct Mapped {
    /// Never empty.
    pub sources: Vec<Source>,
    /// The literal after `else`.
    pub fallback: Option<Box<Value>>,
    pub span: Span,
}

/// One source of a [`Mapped`] value, with what after `except` means no value.
#[derive(Clone, Debug)]
pub struct Source {
    pub origin: Origin,
    pub except: Option<Box<Value>>,
}

/// Where a source's value comes from.
#[derive(Clone, Debug)]
pub enum Origin {
    Path(Path),
    /// `format "{id}+{login}@users.noreply.github.com"`: text built from the user's values.
    Format(Format),
    /// `groups[].name`: a value of each item of a list.
    Each(Each),
}

/// `list[].item`: the list's path, and the path in each item (empty for the item itself).
#[derive(Clone, Debug)]
pub struct Each {
    pub list: Path,
    pub item: Path,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Format {
    pub parts: Vec<FormatPart>,
    /// The whole `format "…"`.
    pub span: Span,
    /// A mistake in its text was reported as it was read: nothing follows from it.
    pub reported: bool,
}

#[derive(Clone, Debug)]
pub enum FormatPart {
    Text(String),
    /// `{profile.login}`: the path's span covers the text inside the braces.
    Path(Path),
}

impl Source {
    /// The paths the source reads: its own, or its format's.
    pub fn paths(&self) -> Vec<&Path> {
        match &self.origin {
            Origin::Path(path) => vec![path],
            Origin::Each(each) => vec![&each.list],
            Origin::Format(format) => format
                .parts
                .iter()
                .filter_map(|part| match part {
                    FormatPart::Path(path) => Some(path),
                    FormatPart::Text(_) => None,
                })
                .collect(),
        }
    }
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Str(s) => s.span,
            Value::Number(n) => n.span,
            Value::Bool(_, span) | Value::List(_, span) => *span,
            Value::Block(b) => b.span,
            Value::Branches(b) => b.span,
            Value::Path(p) => p.span,
            Value::Mapped(m) => m.span,
            Value::Todo(t) => t.span,
        }
    }

    /// What kind of value this is, in the words of the language reference.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(..) => "true or false",
            Value::List(..) => "a list",
            Value::Block(_) => "a block",
            Value::Branches(_) => "if/else branches",
            Value::Path(_) => "a path",
            Value::Mapped(_) => "a mapped value",
            Value::Todo(_) => "a gap to fill in",
        }
    }
}

/// `{ rule rule ... }`: rules that must all hold.
#[derive(Clone, Debug)]
pub struct RuleGroup {
    pub rules: Vec<Rule>,
    pub span: Span,
}

/// `path operator [operand]`
#[derive(Clone, Debug)]
pub struct Rule {
    pub path: Path,
    pub op: Op,
    pub op_span: Span,
    pub operand: Option<Operand>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Is,
    IsNot,
    AnyOf,
    Contains,
    NotContains,
    AtLeast,
    HasValue,
    Some,
    /// `any { ... }`: one of the alternatives holds (its path is `.`).
    Any,
    /// A word or symbol where an operator belongs.
    Unknown(String),
}

#[derive(Clone, Debug)]
pub enum Operand {
    Value(Value),
    Rules(RuleGroup),
    /// The alternatives of `any`, each a group (a lone rule is a group of one).
    Alternatives(Vec<RuleGroup>, Span),
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Value(v) => v.span(),
            Operand::Rules(g) => g.span,
            Operand::Alternatives(_, span) => *span,
        }
    }
}

/// `if { ... } then "A" else if { ... } then "B" else "C"`
#[derive(Clone, Debug)]
pub struct Branches {
    pub branches: Vec<Branch>,
    pub otherwise: Option<Otherwise>,
    pub span: Span,
}

/// What `else` ends branches with.
#[derive(Clone, Debug)]
pub enum Otherwise {
    /// `else "Member"`.
    Label(Str),
    /// `else roleId`: the user's own value (a path, or paths tried in turn).
    Value(Box<Value>),
}

impl Otherwise {
    pub fn span(&self) -> Span {
        match self {
            Otherwise::Label(label) => label.span,
            Otherwise::Value(value) => value.span(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Branch {
    pub when: RuleGroup,
    pub label: Str,
    pub span: Span,
}
