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

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn to_miette(&self) -> MietteDiagnostic {
        let primary = LabeledSpan::new_primary_with_span(Some(self.primary.text.clone()), self.primary.span);
        let secondary =
            self.secondary.iter().map(|label| LabeledSpan::new_with_span(Some(label.text.clone()), label.span));
        let mut diagnostic = MietteDiagnostic::new(self.message.clone())
            .with_code(self.code)
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

/// Renders diagnostics against the file they belong to, the way `check` prints them.
pub fn render(diagnostics: &[Diagnostic], file_name: &str, source: &str, style: Style) -> String {
    let theme = match style {
        Style::Color => GraphicalTheme::unicode(),
        Style::Plain => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let report = miette::Report::new(diagnostic.to_miette())
            .with_source_code(NamedSource::new(file_name, source.to_owned()));
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, report.as_ref());
    }
    out
}
