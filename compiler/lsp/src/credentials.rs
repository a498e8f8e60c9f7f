//! Credentials for go to definition and find references: where each is
//! declared (`credentials { name kind ... }`) and every `{name}` placeholder
//! that uses it.

use tib_front::ast::{File, SectionKind};
use tib_front::span::Span;

/// The `{name}` placeholders in the strings of a spec: each name, and the span of the name inside the braces.
pub fn placeholders(text: &str) -> Vec<(&str, Span)> {
    let mut found = Vec::new();
    for (line_start, line) in lines(text) {
        let (mut in_string, mut escaped, mut open) = (false, false, None);
        for (i, c) in line.char_indices() {
            if !in_string {
                match c {
                    '#' => break,
                    '"' => in_string = true,
                    _ => {}
                }
                continue;
            }
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => (in_string, open) = (false, None),
                '{' => open = Some(i + 1),
                '}' => {
                    if let Some(start) = open.take() {
                        found.push((&line[start..i], Span::new(line_start + start, line_start + i)));
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// The declared credentials: each name and the span of its name.
pub fn declarations(file: &File) -> Vec<(&str, Span)> {
    file.sections
        .iter()
        .filter_map(|section| match &section.kind {
            SectionKind::Credentials(declared) => Some(declared),
            _ => None,
        })
        .flatten()
        .map(|decl| (decl.name.text.as_str(), decl.name.span))
        .collect()
}

/// The credential named at `offset`: in a placeholder, or a declaration's name.
pub fn at<'a>(text: &'a str, file: Option<&'a File>, offset: usize) -> Option<&'a str> {
    let inside = |span: &Span| span.start <= offset && offset <= span.end;
    placeholders(text)
        .into_iter()
        .chain(file.map(declarations).unwrap_or_default())
        .find(|(_, span)| inside(span))
        .map(|(name, _)| name)
}

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |at, line| {
        let start = *at;
        *at += line.len();
        Some((start, line.trim_end_matches('\n')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_in_strings_only_and_escapes_are_not_placeholders() {
        let text = "base_url \"https://{tenant}.x\" # {not_this}\nauth headers { \"A\" = \"\\{x\\} {api_token}\" }\n";
        let names: Vec<&str> = placeholders(text).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["tenant", "api_token"]);
        let (_, span) = placeholders(text)[1];
        assert_eq!(&text[span.start..span.end], "api_token");
    }
}
