//! Recovery from syntax errors, so that one run reports every mistake of a file.
//!
//! pest stops at the first error. Recovery lets it go on by blanking what it
//! could not read (replacing it with spaces, byte for byte, so every offset of
//! the rest still points into the author's text) and parsing again: the line
//! of the error when it is one entry of a block, and otherwise the whole
//! section, up to the next line that starts with a section keyword. A section
//! whose braces do not balance is named and blanked before pest sees it, so an
//! unclosed `{` is one error and not a cascade down the rest of the file.

use crate::check::vocabulary::SECTIONS;
use crate::diag::Diagnostic;
use crate::span::Span;

/// The most syntax errors reported for one file: past that, the rest is noise.
pub const MAX_ERRORS: usize = 20;

/// The author's text with what could not be parsed blanked out.
pub struct Recovery {
    text: String,
    /// Where each section begins: lines that start with a section keyword.
    sections: Vec<usize>,
    errors: usize,
    /// What was blanked, in the order it was.
    blanked: Vec<Span>,
}

impl Recovery {
    pub fn new(source: &str) -> Self {
        Recovery { text: source.to_owned(), sections: section_starts(source), errors: 0, blanked: Vec::new() }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether anything was blanked: the AST then lacks what the author wrote there.
    pub fn recovered(&self) -> bool {
        self.errors > 0
    }

    /// The text blanked: what the AST lacks.
    pub fn blanked(&self) -> &[Span] {
        &self.blanked
    }

    /// Names every section whose braces or brackets do not balance, and blanks it.
    pub fn unbalanced_sections(&mut self, diagnostics: &mut Vec<Diagnostic>) {
        if balanced(&self.text) {
            return;
        }
        let regions: Vec<(usize, usize)> = (0..self.sections.len()).map(|i| self.region(i)).collect();
        for (start, end) in regions {
            if let Some(diagnostic) = unbalanced(&self.text, start, end) {
                diagnostics.push(diagnostic);
                self.blank(start, end);
            }
        }
    }

    /// After a syntax error at `pos`: blanks the entry or section it is in, and
    /// says whether parsing should go on (something was blanked, and the file
    /// has not had too many errors).
    pub fn skip(&mut self, pos: usize) -> bool {
        if self.errors >= MAX_ERRORS {
            return false;
        }
        let pos = pos.min(self.text.len());
        let section = self.sections.partition_point(|&start| start <= pos);
        let (section_start, section_end) = if section == 0 {
            (0, self.sections.first().copied().unwrap_or(self.text.len()))
        } else {
            self.region(section - 1)
        };
        let (line_start, line_end) = self.entry_lines(pos, section_start, section_end);
        if line_start > section_start && self.blank(line_start, line_end) {
            return true;
        }
        self.blank(section_start, section_end)
    }

    /// The bytes of section `i`: from its keyword to the next section's.
    fn region(&self, i: usize) -> (usize, usize) {
        (self.sections[i], self.sections.get(i + 1).copied().unwrap_or(self.text.len()))
    }

    /// The line of `pos` and the lines that continue it (indented further, or
    /// starting with `else`), when that line is a whole entry inside a block
    /// of the section: braces balanced, and inside one. Otherwise an empty range.
    fn entry_lines(&self, pos: usize, section_start: usize, section_end: usize) -> (usize, usize) {
        let text = &self.text;
        let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1).max(section_start);
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i).min(section_end);
        let depth_before = depth(&text[section_start..line_start]).0;
        let (delta, lowest) = depth(&text[line_start..line_end]);
        if depth_before == 0 || delta != 0 || lowest < 0 {
            return (section_start, section_start);
        }
        let indent = indentation(&text[line_start..line_end]);
        let mut end = line_end;
        for line in text[line_end..section_end].split_inclusive('\n').skip(1) {
            let content = line.trim_start();
            let continues = !content.is_empty()
                && (indentation(line) > indent || content.starts_with("else ") || content.starts_with("or "));
            if !continues || depth(line) != (0, 0) {
                break;
            }
            end += 1 + line.trim_end_matches('\n').len();
        }
        (line_start, end)
    }

    /// Replaces `start..end` with spaces, keeping line breaks. Whether anything
    /// but white space was there (when not, blanking it cannot help).
    fn blank(&mut self, start: usize, end: usize) -> bool {
        let region = &self.text[start..end];
        if region.chars().all(char::is_whitespace) {
            return false;
        }
        let blanked: String = region.chars().flat_map(blank_of).collect();
        self.text.replace_range(start..end, &blanked);
        self.blanked.push(Span::new(start, end));
        self.errors += 1;
        true
    }
}

/// A character's blank: itself for a line break, else a space per byte.
fn blank_of(c: char) -> impl Iterator<Item = char> {
    let (blank, count) = if c == '\n' { ('\n', 1) } else { (' ', c.len_utf8()) };
    std::iter::repeat_n(blank, count)
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Where sections begin: lines that start, at their first column, with a
/// section keyword not followed by `=` (which would be a setting of that
/// name). In a file whose brackets balance, only outside every block (a rule
/// `status is "x"` may start a line); in one whose brackets do not, anywhere,
/// since the keyword is where the author meant the block to have ended.
fn section_starts(source: &str) -> Vec<usize> {
    let anywhere = !balanced(source);
    let (mut starts, mut at, mut depth) = (Vec::new(), 0, 0i64);
    for line in source.split_inclusive('\n') {
        let word_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(line.len());
        let after = line[word_end..].trim_start();
        if SECTIONS.contains(&&line[..word_end]) && !after.starts_with('=') && (anywhere || depth == 0) {
            starts.push(at);
        }
        depth = (depth + self::depth(line).0).max(0);
        at += line.len();
    }
    starts
}

/// What braces and brackets do over `text`, outside strings and comments: the
/// depth at its end, and the lowest depth on the way.
fn depth(text: &str) -> (i64, i64) {
    let (mut depth, mut lowest) = (0i64, 0i64);
    for (_, c) in brackets(text) {
        depth += if matches!(c, '{' | '[') { 1 } else { -1 };
        lowest = lowest.min(depth);
    }
    (depth, lowest)
}

/// The braces and brackets of `text` outside strings and comments, with their
/// offsets. A string ends at its line's end, as the grammar has it.
pub(super) fn brackets(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let (mut in_string, mut in_comment, mut escaped) = (false, false, false);
    text.char_indices().filter(move |&(_, c)| {
        if c == '\n' {
            (in_string, in_comment, escaped) = (false, false, false);
            return false;
        }
        if in_comment {
            return false;
        }
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
            return false;
        }
        match c {
            '"' => in_string = true,
            '#' => in_comment = true,
            _ => {}
        }
        matches!(c, '{' | '}' | '[' | ']')
    })
}

/// The diagnostic for a section whose braces do not balance: the opening
/// brace never closed, or a closing one never opened. Where they do not, the
/// indentation tells which one the author left open (an inner one, often, not
/// the section's own).
fn unbalanced(text: &str, start: usize, end: usize) -> Option<Diagnostic> {
    let region = &text[start..end];
    if balanced(region) {
        return None;
    }
    let line_indent = |at: usize| {
        let line_start = region[..at].rfind('\n').map_or(0, |i| i + 1);
        (indentation(&region[line_start..]), region[line_start..at].trim().is_empty())
    };
    // Open brackets: offset, bracket, indentation of its line.
    let mut open: Vec<(usize, char, usize)> = Vec::new();
    let mut unclosed = None;
    for (at, c) in brackets(region) {
        if matches!(c, '{' | '[') {
            open.push((at, c, line_indent(at).0));
            continue;
        }
        let (indent, first_on_line) = line_indent(at);
        // A closer that starts its line closes the bracket opened on a line indented as much.
        while first_on_line && open.len() > 1 && open.last().is_some_and(|&(_, _, i)| i > indent) {
            unclosed = unclosed.or(open.pop().map(|o| (o, Some((at, c)))));
        }
        // A `}` after an open `[` (or the other way round) closes what was open before it.
        let closes = |opener: char| (opener == '{') == (c == '}');
        let n = open.len();
        if n > 1 && !closes(open[n - 1].1) && closes(open[n - 2].1) {
            unclosed = unclosed.or(open.pop().map(|o| (o, Some((at, c)))));
        }
        if open.pop().is_none() {
            let span = Span::new(start + at, start + at + 1);
            return Some(
                Diagnostic::error("tib::unmatched-bracket", format!("this `{c}` closes nothing"), span, "never opened")
                    .with_help(format!(
                        "delete it, or open the block it closes with `{}`",
                        if c == '}' { '{' } else { '[' }
                    )),
            );
        }
    }
    let ((at, c, _), closed_by) = unclosed.or(open.first().map(|&o| (o, None)))?;
    let closer = if c == '{' { '}' } else { ']' };
    let (next_span, next_label) = match closed_by {
        Some((by, by_char)) => (
            Span::new(start + by, start + by + 1),
            format!("the block around it ends with this `{by_char}`, and the `{c}` is still open"),
        ),
        None if end < text.len() => {
            let word = text[end..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(0);
            (Span::new(end, end + word), format!("the next section begins here, and the `{c}` is still open"))
        }
        None => {
            let last = start + region.trim_end().len();
            (Span::new(last, last), format!("the file ends here, and the `{c}` is still open"))
        }
    };
    Some(
        Diagnostic::error(
            "tib::unclosed-bracket",
            format!("this `{c}` is never closed"),
            Span::new(start + at, start + at + 1),
            "opened here",
        )
        .with_label(next_span, next_label)
        .with_help(format!("close it with `{closer}` where its block ends")),
    )
}

/// Whether every bracket of `text` closes the one opened last.
fn balanced(text: &str) -> bool {
    let mut open = Vec::new();
    for (_, c) in brackets(text) {
        match c {
            '{' | '[' => open.push(c),
            '}' if open.pop() == Some('{') => {}
            ']' if open.pop() == Some('[') => {}
            _ => return false,
        }
    }
    open.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanking_keeps_every_offset_and_line() {
        let mut recovery = Recovery::new("app \"Ä\"\nfields {\n  id = ?\n}\n");
        assert!(recovery.skip(recovery.text().find('?').expect("there")));
        assert_eq!(recovery.text(), "app \"Ä\"\nfields {\n        \n}\n");
        // An error on a line already blank: the whole section goes.
        assert!(recovery.skip(recovery.text().find("    ").expect("there")));
        assert_eq!(recovery.text(), "app \"Ä\"\n        \n        \n \n");
        assert!(!recovery.skip(12), "nothing is left to blank");
    }

    #[test]
    fn an_inner_brace_left_open_is_the_one_named() {
        let text = "fields {\n  role = if { admin is true then \"A\"\n}\nusers at x\n";
        let diagnostic = unbalanced(text, 0, text.find("users").expect("there")).expect("unbalanced");
        assert_eq!(diagnostic.primary.span.start, text.find("if {").expect("there") + 3);
        // The block around it ends at the `}` that starts its line.
        assert_eq!(diagnostic.secondary[0].span.start, text.find("\n}").expect("there") + 1);
    }
}
