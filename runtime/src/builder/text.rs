//! The spec's text as the builder edits it: a section replaced, added or
//! removed where it stands, everything else (comments, layout, the sections
//! the form did not change) left byte for byte; and the quoting of what a
//! person typed into a string of the language.

use tib_front::ast;

/// The sections the builder's forms write, in the order a new one is placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    App,
    BaseUrl,
    Credentials,
    Auth,
    Request,
    Paginate,
    Users,
    Fields,
    Active,
    Status,
    Licenses,
    CustomFields,
}

impl Part {
    const ORDER: [Part; 12] = [
        Part::App,
        Part::BaseUrl,
        Part::Credentials,
        Part::Auth,
        Part::Request,
        Part::Paginate,
        Part::Users,
        Part::Fields,
        Part::Active,
        Part::Status,
        Part::Licenses,
        Part::CustomFields,
    ];

    /// The keyword the section starts with.
    pub fn keyword(self) -> &'static str {
        match self {
            Part::App => "app",
            Part::BaseUrl => "base_url",
            Part::Credentials => "credentials",
            Part::Auth => "auth",
            Part::Request => "request",
            Part::Paginate => "paginate",
            Part::Users => "users",
            Part::Fields => "fields",
            Part::Active => "active",
            Part::Status => "status",
            Part::Licenses => "licenses",
            Part::CustomFields => "custom_fields",
        }
    }

    fn of(section: &ast::Section) -> Option<Part> {
        if matches!(section.kind, ast::SectionKind::Unknown) {
            return None;
        }
        Part::ORDER.into_iter().find(|part| part.keyword() == section.keyword.text)
    }
}

/// A spec's text and its syntax tree, for the forms to read and edit.
pub struct Parsed<'t> {
    pub text: &'t str,
    pub file: ast::File,
}

/// Why the forms cannot read or edit the text: the line of its first syntax error.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the spec text has a syntax error on line {}: {}", self.line, self.message)
    }
}

/// Parses `text` for the forms. Text with a syntax error is not edited by a
/// form: what the parser skipped would be lost.
pub fn parse(text: &str) -> Result<Parsed<'_>, Unreadable> {
    let mut diagnostics = Vec::new();
    let parsed = tib_front::parse::parse(text, &mut diagnostics);
    let first_error = diagnostics.iter().find(|d| d.is_error());
    match (parsed, first_error) {
        (Some(parsed), None) if !parsed.recovered => Ok(Parsed { text, file: parsed.file }),
        (_, Some(error)) => Err(Unreadable {
            line: tib_front::diag::position(text, error.primary.span.start).line,
            message: error.message.clone(),
        }),
        _ => Err(Unreadable { line: 1, message: "it cannot be read".to_owned() }),
    }
}

impl Parsed<'_> {
    /// The first section of `part`.
    pub fn section(&self, part: Part) -> Option<&ast::Section> {
        self.file.sections.iter().find(|s| Part::of(s) == Some(part))
    }

    /// Where a section's text ends: its last token ([`written`]).
    fn end(&self, section: &ast::Section) -> usize {
        section.span.start + self.source(section.span).len()
    }

    /// The text of `span`, as written, to its last token ([`written`]).
    pub fn source(&self, span: tib_front::span::Span) -> &str {
        written(&self.text[span.start..span.end])
    }
}

/// `text` without the white space and comments at its end: a construct that
/// may end in an optional part (`paginate none`, a path without `or`) has
/// those in its span.
fn written(text: &str) -> &str {
    let (mut end, mut chars, mut in_string) = (0, text.char_indices(), false);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            '#' if !in_string => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                continue;
            }
            c if c.is_whitespace() && !in_string => continue,
            _ => {}
        }
        end = i + c.len_utf8();
    }
    &text[..end]
}

/// `text` with the section of `part` replaced by `with` (formatted as `compiler fmt` writes it),
/// added where its order puts it when absent, or removed when `with` is `None`.
pub fn replace(text: &str, part: Part, with: Option<&str>) -> Result<String, Unreadable> {
    let parsed = parse(text)?;
    let with = with.map(format_section);
    let existing = parsed.section(part).map(|s| (s.span.start, parsed.end(s)));
    let mut out = String::with_capacity(text.len() + with.as_ref().map_or(0, String::len));
    match (existing, with) {
        (Some((start, end)), Some(with)) => {
            out.push_str(&text[..start]);
            out.push_str(&with);
            out.push_str(&text[end..]);
        }
        (Some((start, end)), None) => {
            // The section goes with the blank line after it.
            let rest = &text[end..];
            let rest = rest.trim_start_matches([' ', '\t']);
            let rest = rest.strip_prefix('\n').unwrap_or(rest);
            let rest = if out.is_empty() && text[..start].trim().is_empty() { rest.trim_start() } else { rest };
            out.push_str(&text[..start]);
            out.push_str(rest.strip_prefix('\n').unwrap_or(rest));
        }
        (None, Some(with)) => {
            // After the last section that comes before it; first when none does.
            let rank = |p: Part| Part::ORDER.iter().position(|o| *o == p).unwrap_or(usize::MAX);
            let before = parsed
                .file
                .sections
                .iter()
                .filter(|s| Part::of(s).is_some_and(|p| rank(p) < rank(part)))
                .map(|s| parsed.end(s))
                .max();
            match before {
                Some(end) => {
                    // One-line neighbours (`app`, `base_url`) stay together; the rest get a blank line.
                    let tight = matches!(part, Part::BaseUrl);
                    out.push_str(&text[..end]);
                    out.push_str(if tight { "\n" } else { "\n\n" });
                    out.push_str(&with);
                    out.push_str(&text[end..]);
                }
                None => {
                    let first = parsed.file.sections.first().map_or(text.len(), |s| s.span.start);
                    out.push_str(&text[..first]);
                    out.push_str(&with);
                    out.push_str(if first == text.len() { "\n" } else { "\n\n" });
                    out.push_str(&text[first..]);
                }
            }
        }
        (None, None) => out.push_str(text),
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// A section's text in the formatter's layout; as given when it does not parse (the checker then
/// says why, where it stands).
fn format_section(section: &str) -> String {
    match tib_front::format::format(section) {
        Ok(formatted) => formatted.trim_end().to_owned(),
        Err(_) => section.trim_end().to_owned(),
    }
}

pub use tib_front::format::literal;

/// A template (a URL, a header's value: `{name}` is a credential) as the language writes it:
/// quoted, escapes typed as written kept, a lone `"` escaped.
pub fn template(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push_str("\\\\"),
            },
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A string literal's text as a person reads it: escapes undone.
pub fn unescape(s: &ast::Str) -> String {
    s.parts
        .iter()
        .map(|part| match part {
            ast::StrPart::Text(text) => text.clone(),
            ast::StrPart::Placeholder(word) => format!("{{{}}}", word.text),
        })
        .collect()
}

/// A string literal as written, without its quotes: a template's `{name}` and its escapes kept.
pub fn inner(parsed: &Parsed<'_>, s: &ast::Str) -> String {
    let source = parsed.source(s.span);
    source.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(source).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "# Acme's users\napp \"Acme\"\nbase_url \"https://acme.example\"\n\n\
                        # the token\nauth bearer \"{token}\"\n\nusers at data # trailing\n";

    #[test]
    fn a_replaced_section_leaves_every_other_byte_alone() {
        let out = replace(SPEC, Part::Auth, Some("auth   bearer \"{api_token}\"")).expect("parses");
        assert_eq!(out, SPEC.replace("auth bearer \"{token}\"", "auth bearer \"{api_token}\""));
    }

    #[test]
    fn a_new_section_goes_where_its_order_puts_it() {
        let out = replace(SPEC, Part::Request, Some("request GET \"/users\"")).expect("parses");
        assert!(out.contains("auth bearer \"{token}\"\n\nrequest GET \"/users\"\n\nusers at data # trailing"), "{out}");
        let out = replace("", Part::App, Some("app \"X\"")).expect("parses");
        assert_eq!(out, "app \"X\"\n");
        let out = replace("base_url \"https://x\"\n", Part::App, Some("app \"X\"")).expect("parses");
        assert_eq!(out, "app \"X\"\n\nbase_url \"https://x\"\n");
        let out = replace("app \"X\"\n", Part::BaseUrl, Some("base_url \"https://x\"")).expect("parses");
        assert_eq!(out, "app \"X\"\nbase_url \"https://x\"\n");
    }

    #[test]
    fn a_removed_section_takes_its_line_with_it() {
        let out = replace(SPEC, Part::Auth, None).expect("parses");
        assert_eq!(out, SPEC.replace("auth bearer \"{token}\"\n\n", ""));
        // A section whose span runs on over comments (an optional part not written) ends at its last token.
        let spec = "app \"A\"\npaginate none # one page\n\nusers at data\n";
        let out = replace(spec, Part::Paginate, Some("paginate offset {\n  page_size = 10\n}")).expect("parses");
        assert!(out.starts_with("app \"A\"\npaginate offset {\n  page_size = 10\n} # one page\n\nusers"), "{out}");
        let out = replace(spec, Part::Fields, Some("fields {\n  id = id\n}")).expect("parses");
        assert!(out.ends_with("users at data\n\nfields {\n  id = id\n}\n"), "{out}");
    }

    #[test]
    fn text_with_a_syntax_error_is_not_edited() {
        let error = replace("app \"Acme\"\nauth bearer {\n", Part::App, Some("app \"B\"")).expect_err("unreadable");
        assert!(error.line >= 2, "{error:?}");
    }

    #[test]
    fn typed_text_is_taken_as_typed() {
        assert_eq!(literal(r#"a "b" {c} \d"#), r#""a \"b\" \{c\} \\d""#);
        assert_eq!(template(r#"Token token={api_token} "x" \{y\}"#), r#""Token token={api_token} \"x\" \{y\}""#);
        let parsed = parse("app \"a \\\"b\\\" \\{c\\}\"\n").expect("parses");
        let Some(ast::Section { kind: ast::SectionKind::App(name), .. }) = parsed.section(Part::App) else {
            panic!("no app")
        };
        assert_eq!(unescape(name), "a \"b\" {c}");
        assert_eq!(literal(&unescape(name)), parsed.source(name.span));
    }
}
