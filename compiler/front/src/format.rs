//! Format: a spec in its canonical layout, as `compiler fmt` writes it.
//!
//! Only the white space between tokens changes. Tokens keep their order and
//! every line break stays where the author put it (as gofmt keeps them): what
//! changes is indentation (two spaces per open brace or bracket, continuation
//! lines two more, `else` under its `if`), one space between tokens, the `=`
//! of block entries and the columns of credentials and licenses aligned, blank
//! lines collapsed to one, and one blank line between sections (one-line
//! sections written together, as `app` and `base_url`, stay together).
//!
//! In the grammar every construct whose meaning depends on white space is one
//! token here (a string, a path, `is not`, an unknown statement), and no line
//! break is added or removed inside one, so formatting cannot change what a
//! spec means; `compiler/tests/format.rs` holds it to that on the IR.

use std::collections::HashMap;

use pest::Parser as _;
use pest::iterators::Pair;
use tib_grammar::{Rule, TibParser};

use crate::diag::Diagnostic;

/// Formats a spec. A spec that does not parse is not formatted: its syntax
/// errors are returned instead.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    if let Some(not_a_spec) = crate::not_a_spec(source) {
        return Err(vec![not_a_spec]);
    }
    // Too deep a nesting would take pest's recursion off the stack's end.
    if let Some(too_deep) = crate::parse::too_deep(source) {
        return Err(vec![too_deep]);
    }
    let Ok(mut pairs) = TibParser::parse(Rule::file, source) else {
        // The parser reports every syntax error, in the user's words.
        let mut diagnostics = Vec::new();
        crate::parse::parse(source, &mut diagnostics);
        diagnostics.retain(Diagnostic::is_error);
        return Err(diagnostics);
    };
    let file = pairs.next().expect("the grammar's `file` rule always yields one pair");
    let mut tree = Tree::default();
    tree.walk(file, None);
    let lines = lines(source, &mut tree);
    Ok(Printer::new(source, &tree, &lines).print())
}

/// What the printer needs to know of the parse tree.
#[derive(Default)]
struct Tree {
    /// The tokens that are text of their own (words, strings, paths, operators), by start.
    leaves: Vec<(usize, usize, Rule)>,
    /// The entries of blocks and sections, by where they start.
    items: HashMap<usize, Item>,
    /// Label branches (`if … then … else …`), whose `else` lines align under the `if`: end by start.
    branches: HashMap<usize, usize>,
}

#[derive(Clone, Copy)]
struct Item {
    kind: ItemKind,
    start: usize,
    /// Where the block holding the item starts: items of one block align together.
    parent: usize,
    end: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Section,
    /// `key = value`: the `=` aligns.
    Entry,
    /// `name kind "description"`: the kinds and descriptions align.
    Credential,
    /// `"License" when { … }`: the `when` and `otherwise` align.
    License,
    /// A pagination line, a rule, a list element: indented, not aligned.
    Other,
}

impl Tree {
    fn walk(&mut self, pair: Pair<'_, Rule>, parent: Option<(Rule, usize)>) {
        let kind = pair.as_rule();
        let span = pair.as_span();
        if let Some((parent_rule, parent_start)) = parent
            && let Some(item) = item_kind(parent_rule, kind)
        {
            self.items
                .insert(span.start(), Item { kind: item, start: span.start(), parent: parent_start, end: span.end() });
        }
        if kind == Rule::branches {
            self.branches.insert(span.start(), span.end());
        }
        // An empty block or list has no inner pairs, but its braces are punctuation all the same.
        let container = matches!(
            kind,
            Rule::block | Rule::list | Rule::rule_group | Rule::pagination | Rule::license_list | Rule::listing_body
        );
        let leaf = matches!(kind, Rule::path | Rule::each | Rule::unknown | Rule::operator)
            || (!container && pair.clone().into_inner().next().is_none());
        if leaf {
            if kind != Rule::EOI {
                self.leaves.push((span.start(), span.end(), kind));
            }
            return;
        }
        for child in pair.into_inner() {
            self.walk(child, Some((kind, span.start())));
        }
    }
}

/// Which kind of item a `child` of `parent` is, if it is one.
fn item_kind(parent: Rule, child: Rule) -> Option<ItemKind> {
    Some(match (parent, child) {
        (Rule::file, Rule::EOI) => return None,
        (Rule::file, _) => ItemKind::Section,
        (Rule::block | Rule::pagination | Rule::listing_body, Rule::entry) => ItemKind::Entry,
        (Rule::credentials, Rule::credential) => ItemKind::Credential,
        (Rule::license_list, Rule::license) => ItemKind::License,
        (Rule::pagination | Rule::listing_body, _) | (Rule::rule_group, _) | (Rule::list, _) => ItemKind::Other,
        (Rule::any_group, Rule::kw_any) => return None,
        (Rule::any_group, _) => ItemKind::Other,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// A token of the parse tree, by its byte range and rule.
    Leaf(usize, usize, Rule),
    /// One of the grammar's punctuation marks, at its offset.
    Punct(char, usize),
    /// `# …` to the end of the line, by its byte range.
    Comment(usize, usize),
}

impl Token {
    fn start(self) -> usize {
        match self {
            Token::Leaf(start, ..) | Token::Punct(_, start) | Token::Comment(start, _) => start,
        }
    }

    fn opens(self) -> bool {
        matches!(self, Token::Punct('{' | '[', _))
    }

    fn closes(self) -> bool {
        matches!(self, Token::Punct('}' | ']', _))
    }
}

/// A line of the source, as tokens.
struct Line {
    tokens: Vec<Token>,
    /// Blank lines before it in the source.
    blank_before: usize,
}

/// Splits the source into lines of tokens: the tree's leaves, and between
/// them the punctuation, comments and line breaks the tree does not keep.
fn lines(source: &str, tree: &mut Tree) -> Vec<Line> {
    tree.leaves.sort_unstable();
    let mut lines = vec![Line { tokens: Vec::new(), blank_before: 0 }];
    let mut newlines = 0;
    let push = |lines: &mut Vec<Line>, newlines: &mut usize, token: Token| {
        if *newlines > 0 {
            let blank_before = if lines.last().is_some_and(|l| l.tokens.is_empty()) { 0 } else { *newlines - 1 };
            if lines.last().is_some_and(|l| !l.tokens.is_empty()) {
                lines.push(Line { tokens: Vec::new(), blank_before });
            }
            *newlines = 0;
        }
        lines.last_mut().expect("there is always a line").tokens.push(token);
    };
    let mut at = 0;
    let mut leaves = tree.leaves.iter().peekable();
    while at < source.len() {
        if let Some(&&(start, end, kind)) = leaves.peek()
            && start == at
        {
            push(&mut lines, &mut newlines, Token::Leaf(start, end, kind));
            leaves.next();
            at = end;
            continue;
        }
        let c = source[at..].chars().next().expect("at is inside the source");
        match c {
            '\n' => newlines += 1,
            '#' => {
                let end = source[at..].find('\n').map_or(source.len(), |n| at + n);
                push(&mut lines, &mut newlines, Token::Comment(at, end));
                at = end;
                continue;
            }
            // The grammar's WHITESPACE is any Unicode white space.
            c if c.is_whitespace() => {}
            // Between tokens there is only punctuation (`{ } [ ] = ,`); anything else would be kept too.
            c => push(&mut lines, &mut newlines, Token::Punct(c, at)),
        }
        at += c.len_utf8();
    }
    lines.retain(|line| !line.tokens.is_empty());
    lines
}

struct Printer<'a> {
    source: &'a str,
    tree: &'a Tree,
    lines: &'a [Line],
    out: String,
    /// The indentation of the line where each open brace or bracket opened.
    open: Vec<usize>,
    /// The items started and not yet ended where printing is: each one's end
    /// and the indentation of the line it started on.
    items: Vec<(usize, usize)>,
    /// The label branches started and not yet ended: each one's end and the column of its `if`.
    branches: Vec<(usize, usize)>,
    /// Per line, the widths its first tokens are padded to.
    padding: Vec<Vec<usize>>,
}

impl<'a> Printer<'a> {
    fn new(source: &'a str, tree: &'a Tree, lines: &'a [Line]) -> Self {
        let mut printer = Printer {
            source,
            tree,
            lines,
            out: String::with_capacity(source.len() + source.len() / 8),
            open: Vec::new(),
            items: Vec::new(),
            branches: Vec::new(),
            padding: vec![Vec::new(); lines.len()],
        };
        printer.align();
        printer
    }

    fn text(&self, token: Token) -> &'a str {
        match token {
            Token::Leaf(start, end, _) | Token::Comment(start, end) => self.source[start..end].trim_end(),
            Token::Punct(c, at) => &self.source[at..at + c.len_utf8()],
        }
    }

    /// The item a line starts, if its first token starts one.
    fn item(&self, line: &Line) -> Option<Item> {
        self.tree.items.get(&line.tokens[0].start()).copied()
    }

    /// Finds runs of entries (or credentials, or licenses) of one block on
    /// consecutive lines, and the width each of their columns pads to. A blank
    /// line or another kind of item ends a run; a member's own continuation
    /// lines and comments do not.
    fn align(&mut self) {
        let mut grouped = vec![false; self.lines.len()];
        for i in 0..self.lines.len() {
            let Some(first) = self.item(&self.lines[i]).filter(|item| aligned(item.kind) && !grouped[i]) else {
                continue;
            };
            let mut members = vec![i];
            let mut end = first.end;
            let mut j = i + 1;
            while j < self.lines.len() {
                let line = &self.lines[j];
                if line.blank_before > 0 {
                    break;
                }
                match self.item(line) {
                    Some(next) if next.parent == first.parent && next.kind == first.kind => {
                        members.push(j);
                        end = next.end;
                    }
                    Some(next) if next.parent == first.parent => break,
                    _ if line.tokens[0].start() < end || matches!(line.tokens[0], Token::Comment(..)) => {}
                    _ => break,
                }
                j += 1;
            }
            // Credentials align their name and kind; entries their key, licenses their name. A
            // column pads only where something follows it on the line.
            let columns = if first.kind == ItemKind::Credential { 2 } else { 1 };
            let padded = |tokens: &[Token]| {
                (0..columns)
                    .take_while(|&c| {
                        tokens.get(c + 1).is_some_and(|t| matches!(t, Token::Leaf(..) | Token::Punct('=', _)))
                    })
                    .count()
            };
            let mut widths = vec![0; columns];
            for &m in &members {
                let tokens = &self.lines[m].tokens;
                for (column, width) in widths.iter_mut().enumerate().take(padded(tokens)) {
                    *width = (*width).max(self.text(tokens[column]).chars().count());
                }
            }
            for m in members {
                grouped[m] = true;
                let count = padded(&self.lines[m].tokens);
                self.padding[m] = widths[..count].to_vec();
            }
        }
    }

    fn print(mut self) -> String {
        let mut previous_section: Option<Item> = None;
        for (index, line) in self.lines.iter().enumerate() {
            let at = line.tokens[0].start();
            self.items.retain(|&(end, _)| end > at);
            self.branches.retain(|&(end, _)| end > at);
            let item = self.item(line);
            if index > 0 {
                let blank = self.blank_before(index, line, previous_section);
                self.out.push_str(if blank { "\n\n" } else { "\n" });
            }
            if let Some(item) = item.filter(|item| item.kind == ItemKind::Section) {
                previous_section = Some(item);
            }
            let indent = self.indent(line.tokens[0]);
            self.print_line(index, indent);
        }
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }

    /// Whether a blank line goes before this line: at most one, none just
    /// inside a brace, and one before a section unless it and the section
    /// before are one-liners the author wrote together.
    fn blank_before(&self, index: usize, line: &Line, previous_section: Option<Item>) -> bool {
        let previous = &self.lines[index - 1];
        if previous.tokens.last().is_some_and(|t| t.opens()) || line.tokens[0].closes() {
            return false;
        }
        // Comments written directly above a section stay with it.
        let under_comment = matches!(previous.tokens[0], Token::Comment(..)) && line.blank_before == 0;
        if self.open.is_empty() && under_comment {
            return false;
        }
        if self.open.is_empty()
            && let Some(before) = previous_section
            && let Some(this) = self.section_headed(index)
        {
            return line.blank_before > 0 || self.spans_lines(before) || self.spans_lines(this);
        }
        line.blank_before > 0
    }

    /// The section this top-level line begins, or that the comments written directly above it begin.
    fn section_headed(&self, index: usize) -> Option<Item> {
        for (i, line) in self.lines.iter().enumerate().skip(index) {
            if i > index && line.blank_before > 0 {
                return None;
            }
            if !matches!(line.tokens[0], Token::Comment(..)) {
                return self.item(line).filter(|item| item.kind == ItemKind::Section);
            }
        }
        None
    }

    fn spans_lines(&self, section: Item) -> bool {
        self.source[section.start..section.end].contains('\n')
    }

    /// How far a line is indented, from its first token.
    fn indent(&self, first: Token) -> usize {
        let inside = self.open.last().map_or(0, |&opener| opener + 2);
        if first.closes() {
            return self.open.last().copied().unwrap_or(0);
        }
        match self.tree.items.get(&first.start()) {
            Some(item) if item.kind == ItemKind::Section => return 0,
            Some(_) => return inside,
            None => {}
        }
        if let Token::Comment(..) = first {
            return inside;
        }
        if self.text(first) == "else"
            && let Some(&(_, column)) = self.branches.last()
        {
            return column;
        }
        // A continuation: two further than the line its innermost unfinished item started on.
        self.items.last().map_or(inside, |&(_, indent)| indent + 2)
    }

    fn print_line(&mut self, index: usize, indent: usize) {
        let line_start = self.out.len();
        self.out.extend(std::iter::repeat_n(' ', indent));
        let tokens = &self.lines[index].tokens;
        for (i, &token) in tokens.iter().enumerate() {
            if i > 0 && spaced(tokens[i - 1], token) {
                self.out.push(' ');
            }
            let start = token.start();
            if let Some(item) = self.tree.items.get(&start) {
                self.items.push((item.end, indent));
            }
            if let Some(&end) = self.tree.branches.get(&start) {
                self.branches.push((end, self.out[line_start..].chars().count()));
            }
            let text = self.text(token);
            match token {
                // `is  not`, `any\tof`: one space inside an operator.
                Token::Leaf(.., Rule::operator) => {
                    self.out.push_str(&text.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                _ => self.out.push_str(text),
            }
            if let Some(&width) = self.padding[index].get(i) {
                let pad = width.saturating_sub(text.chars().count());
                self.out.extend(std::iter::repeat_n(' ', pad));
            }
            if token.opens() {
                self.open.push(indent);
            } else if token.closes() {
                self.open.pop();
            }
        }
    }
}

fn aligned(kind: ItemKind) -> bool {
    matches!(kind, ItemKind::Entry | ItemKind::Credential | ItemKind::License)
}

/// Whether one space separates two tokens on a line: everywhere but before a
/// comma, inside brackets and inside an empty block.
fn spaced(before: Token, after: Token) -> bool {
    !matches!(
        (before, after),
        (_, Token::Punct(',' | ']', _)) | (Token::Punct('[', _), _) | (Token::Punct('{', _), Token::Punct('}', _))
    )
}

/// What a person typed as a string's text, as the language writes it: quoted, with `"`, `\`, `{`,
/// `}` and line breaks escaped, so that it is taken exactly as typed.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
