//! Diagnostics: what the front end reports about a spec, and how it is rendered.
//!
//! Every stage pushes [`Diagnostic`]s into a list instead of returning on the
//! first problem, so one run reports every mistake in a file.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};

use crate::span::Span;

/// How bad a finding is. Errors stop code generation; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A labelled place in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

/// One finding: a stable code, a message in the user's words, a primary label
/// where the problem is, secondary labels for related places, and help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, greppable identifier such as `tib::unknown-setting`.
    pub code: &'static str,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
    /// What to write at the primary label instead, when the mistake is a
    /// likely typo of a known word: the quick fix an editor offers.
    pub replacement: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: Label { span, text: label.into() },
            secondary: Vec::new(),
            help: None,
            replacement: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Self::error(code, message, span, label) }
    }

    /// Adds a secondary label, such as "first defined here".
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.secondary.push(Label { span, text: text.into() });
        self
    }

    /// The text that, written over the primary label, fixes the mistake: an editor's quick fix.
    pub fn with_replacement(mut self, replacement: impl Into<String>) -> Self {
        self.replacement = Some(replacement.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// "Did you mean": help naming the known word closest to `typed` (or
    /// listing them, as `what`), and that word as the replacement of the
    /// primary label, which must be `typed` as written.
    pub fn did_you_mean(mut self, typed: &str, candidates: &[&str], what: &str) -> Self {
        self.replacement = crate::suggest::closest(typed, candidates.iter().copied()).map(str::to_owned);
        self.with_help(crate::suggest::help(typed, candidates, what))
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn to_miette(&self) -> MietteDiagnostic {
        let primary = LabeledSpan::new_primary_with_span(Some(self.primary.text.clone()), self.primary.span);
        let secondary =
            self.secondary.iter().map(|label| LabeledSpan::new_with_span(Some(label.text.clone()), label.span));
        // The severity in words beside the code (`error[tib::unknown-setting]`), as rustc writes it:
        // without colour, the × and ⚠ marks alone are easy to miss.
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut diagnostic = MietteDiagnostic::new(self.message.clone())
            .with_code(format!("{severity}[{}]", self.code))
            .with_severity(match self.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            })
            .with_labels(std::iter::once(primary).chain(secondary));
        if let Some(help) = &self.help {
            diagnostic = diagnostic.with_help(help.clone());
        }
        diagnostic
    }
}

/// How reports are drawn: with colour for a terminal, plain for snapshots and pipes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Color,
    Plain,
}

/// The code of a file that is not a spec ([`crate::compile`]).
pub const NOT_A_SPEC: &str = "tib::not-a-spec";

/// What a file that is not a spec is reported with: these show its offending
/// line alone, never the lines around it (it may be a key file).
const ONE_LINE_ONLY: [&str; 2] = [NOT_A_SPEC, "tib::not-utf8"];

/// Renders diagnostics against the file they belong to, the way `check` prints them.
pub fn render(diagnostics: &[Diagnostic], file_name: &str, source: &str, style: Style) -> String {
    let theme = match style {
        Style::Color => GraphicalTheme::unicode(),
        Style::Plain => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let excerpt = match ONE_LINE_ONLY.contains(&diagnostic.code) {
            true => Some(Excerpt::line(source, diagnostic.primary.span.start)),
            false => Excerpt::of(source, diagnostic),
        };
        let Some(excerpt) = excerpt else {
            let report = miette::Report::new(diagnostic.to_miette())
                .with_source_code(NamedSource::new(file_name, source.to_owned()));
            // Writing into a String cannot fail.
            let _ = handler.render_report(&mut out, report.as_ref());
            continue;
        };
        let mut shown = diagnostic.clone();
        for label in std::iter::once(&mut shown.primary).chain(&mut shown.secondary) {
            label.span = Span::new(excerpt.offset(label.span.start), excerpt.offset(label.span.end));
        }
        let report =
            miette::Report::new(shown.to_miette()).with_source_code(NamedSource::new(file_name, excerpt.text.clone()));
        let mut rendered = String::new();
        let _ = handler.render_report(&mut rendered, report.as_ref());
        // The header counts columns (in bytes) in the cut line; give the column in the file.
        let column_in_bytes = |text: &str, at: usize| at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
        let line = position(source, diagnostic.primary.span.start).line;
        let cut = format!("[{file_name}:{line}:{}]", column_in_bytes(&excerpt.text, shown.primary.span.start));
        let whole = format!("[{file_name}:{line}:{}]", column_in_bytes(source, diagnostic.primary.span.start));
        out.push_str(&rendered.replacen(&cut, &whole, 1));
    }
    out
}

/// A line longer than this (in characters) is cut in a report to the part around its labels.
const LONG_LINE: usize = 160;
/// How much of a cut line is kept on each side of its labels, in characters.
const AROUND: usize = 40;

/// The text a report shows when the file has long lines: each cut to the part
/// around the diagnostic's labels (or its start, for a line without one),
/// with `…` where text was left out.
struct Excerpt {
    text: String,
    /// The kept pieces: where each starts and ends in the file, and starts in `text`.
    pieces: Vec<(usize, usize, usize)>,
}

impl Excerpt {
    fn of(source: &str, diagnostic: &Diagnostic) -> Option<Excerpt> {
        if source.lines().all(|line| line.len() <= LONG_LINE) {
            return None;
        }
        let labels: Vec<Span> =
            std::iter::once(&diagnostic.primary).chain(&diagnostic.secondary).map(|label| label.span).collect();
        let (mut text, mut pieces) = (String::with_capacity(source.len()), Vec::new());
        let mut line_start = 0;
        for line in source.split_inclusive('\n') {
            let content = line.trim_end_matches('\n');
            let line_end = line_start + content.len();
            if content.chars().count() <= LONG_LINE {
                pieces.push((line_start, line_start + line.len(), text.len()));
                text.push_str(line);
            } else {
                let here: Vec<&Span> = labels.iter().filter(|s| s.start <= line_end && s.end >= line_start).collect();
                let from = here.iter().map(|s| s.start.max(line_start)).min().unwrap_or(line_start);
                let to = here.iter().map(|s| s.end.min(line_end)).max().unwrap_or(line_start);
                let keep_from = back(content, from - line_start, AROUND) + line_start;
                let keep_to = forward(content, to - line_start, AROUND) + line_start;
                if keep_from > line_start {
                    text.push('…');
                }
                pieces.push((keep_from, keep_to, text.len()));
                text.push_str(&source[keep_from..keep_to]);
                if keep_to < line_end {
                    text.push('…');
                }
                text.push_str(&line[content.len()..]);
            }
            line_start += line.len();
        }
        Some(Excerpt { text, pieces })
    }

    /// The line that holds byte `at`, alone (cut around `at` when long), after
    /// as many empty lines as come before it, so that it keeps its number.
    fn line(source: &str, at: usize) -> Excerpt {
        let at = (0..=at.min(source.len())).rev().find(|o| source.is_char_boundary(*o)).unwrap_or(0);
        let start = source[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = source[at..].find('\n').map_or(source.len(), |i| at + i);
        let line = &source[start..end];
        let (keep_from, keep_to) = match line.chars().count() <= LONG_LINE {
            true => (0, line.len()),
            false => (back(line, at - start, AROUND), forward(line, at - start, AROUND)),
        };
        let mut text = "\n".repeat(source[..start].matches('\n').count());
        if keep_from > 0 {
            text.push('…');
        }
        let pieces = vec![(start + keep_from, start + keep_to, text.len())];
        text.push_str(&line[keep_from..keep_to]);
        if keep_to < line.len() {
            text.push('…');
        }
        Excerpt { text, pieces }
    }

    /// Where byte `offset` of the file is in the excerpt (a left-out byte: the next kept one).
    fn offset(&self, offset: usize) -> usize {
        let index = self.pieces.partition_point(|&(start, _, _)| start <= offset);
        match index.checked_sub(1).map(|i| self.pieces[i]) {
            Some((start, end, at)) if offset <= end => at + offset - start,
            _ => self.pieces.get(index).map_or(self.text.len(), |&(_, _, at)| at),
        }
    }
}

/// The byte `count` characters before byte `at` of `text` (or its start).
fn back(text: &str, at: usize, count: usize) -> usize {
    text[..at].char_indices().rev().nth(count.saturating_sub(1)).map_or(0, |(i, _)| i)
}

/// The byte `count` characters after byte `at` of `text` (or its end).
fn forward(text: &str, at: usize, count: usize) -> usize {
    text[at..].char_indices().nth(count).map_or(text.len(), |(i, _)| at + i)
}

/// A place in a file as editors count it: 1-based line, and 1-based column
/// in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A place in a file as `check --format json` gives it.
#[derive(Debug, serde::Serialize)]
pub struct JsonLabel {
    pub primary: bool,
    pub text: String,
    /// Byte offsets, half-open.
    pub start: usize,
    pub end: usize,
    pub from: Position,
    pub to: Position,
}

/// One diagnostic as `check --format json` gives it.
#[derive(Debug, serde::Serialize)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub labels: Vec<JsonLabel>,
    pub help: Option<String>,
    /// Replacements an editor can apply: the primary label's bytes, and what to write there.
    pub replacements: Vec<JsonReplacement>,
}

#[derive(Debug, serde::Serialize)]
pub struct JsonReplacement {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The line and column of byte `offset` of `source` (the end of the text when past it).
pub fn position(source: &str, offset: usize) -> Position {
    let offset = (0..=offset.min(source.len())).rev().find(|o| source.is_char_boundary(*o)).unwrap_or(0);
    let before = &source[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
}

/// Diagnostics of one file in the form `check --format json` prints.
pub fn to_json(diagnostics: &[Diagnostic], source: &str) -> Vec<JsonDiagnostic> {
    let label = |label: &Label, primary: bool| JsonLabel {
        primary,
        text: label.text.clone(),
        start: label.span.start,
        end: label.span.end,
        from: position(source, label.span.start),
        to: position(source, label.span.end),
    };
    diagnostics
        .iter()
        .map(|d| JsonDiagnostic {
            code: d.code,
            severity: match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            message: d.message.clone(),
            labels: std::iter::once(label(&d.primary, true))
                .chain(d.secondary.iter().map(|l| label(l, false)))
                .collect(),
            help: d.help.clone(),
            replacements: d
                .replacement
                .iter()
                .map(|text| JsonReplacement {
                    start: d.primary.span.start,
                    end: d.primary.span.end,
                    text: text.clone(),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_cut_around_its_label() {
        let line = format!("x = \"{}\" ? \"{}\"", "é".repeat(300), "ü".repeat(300));
        let source = format!("app \"A\"\n{line}\nnext\n");
        let at = source.find('?').expect("there");
        let diagnostic = Diagnostic::error("tib::syntax", "unexpected `?`", Span::new(at, at + 1), "here");
        let excerpt = Excerpt::of(&source, &diagnostic).expect("the line is long");
        let shown = excerpt.text.lines().nth(1).expect("the cut line");
        assert_eq!(shown, format!("…{}\" ? \"{}…", "é".repeat(38), "ü".repeat(38)));
        assert_eq!(&excerpt.text[excerpt.offset(at)..excerpt.offset(at + 1)], "?");
        assert_eq!(excerpt.offset(source.find("next").expect("there")), excerpt.text.find("next").expect("kept"));
        let rendered = render(&[diagnostic], "a.tib", &source, Style::Plain);
        assert!(rendered.contains(&format!("[a.tib:2:{}]", at - source.find('x').expect("there") + 1)), "{rendered}");
    }

    #[test]
    fn a_file_that_is_not_a_spec_shows_its_offending_line_alone() {
        let source = "# keys\nTIB_KEY=0123456789abcdef\napi_token = \"sk-live-abcdef\"\n";
        let compiled = crate::compile("keys.tib", source, &crate::catalog::Catalog::default());
        assert_eq!(compiled.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(), [NOT_A_SPEC]);
        let rendered = render(&compiled.diagnostics, "keys.tib", source, Style::Plain);
        assert!(rendered.contains("TIB_KEY=0123456789abcdef") && rendered.contains("[keys.tib:2:1]"), "{rendered}");
        assert!(!rendered.contains("sk-live") && !rendered.contains("# keys"), "{rendered}");
        let binary = format!("{}\u{fffd}{}\nnext line", "x".repeat(300), "y".repeat(300));
        let at = binary.find('\u{fffd}').expect("there");
        let diagnostic = Diagnostic::error("tib::not-utf8", "not UTF-8", Span::new(at, at + 3), "here");
        let rendered = render(&[diagnostic], "key.tib", &binary, Style::Plain);
        assert!(!rendered.contains("next line") && !rendered.contains(&"x".repeat(41)), "{rendered}");
        for spec in ["app \"A\"", "# c\n\n  ap \"A\"", "", "  \n# only a comment\n", "base_url \"x\""] {
            let compiled = crate::compile("a.tib", spec, &crate::catalog::Catalog::default());
            assert!(compiled.diagnostics.iter().all(|d| d.code != NOT_A_SPEC), "{spec:?} is a spec");
        }
    }

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let source = "app \"Å\"\nbase_url \"x\"\n";
        assert_eq!(position(source, 0), Position { line: 1, column: 1 });
        assert_eq!(position(source, 6), Position { line: 1, column: 6 }, "Å is one character of two bytes");
        assert_eq!(position(source, 9), Position { line: 2, column: 1 });
        assert_eq!(position(source, 7), Position { line: 1, column: 7 }, "inside Å: its start");
        assert_eq!(position(source, 1000), Position { line: 3, column: 1 });
    }
}
