//! An open document: its text, what the front end says of it, and the
//! conversion between byte offsets and LSP positions (lines, and columns in
//! UTF-16 code units, the protocol's default).

use std::path::{Path, PathBuf};

use lsp_types::{Position, Range};
use tib_front::catalog::Catalog;
use tib_front::span::Span;
use tib_front::workspace::CatalogFile;

/// Where a line's comment starts: its first `#` that no string holds.
pub fn comment_start(line: &str) -> Option<usize> {
    let (mut in_string, mut escaped) = (false, false);
    for (i, c) in line.char_indices() {
        match c {
            '\\' if in_string => escaped = !escaped,
            '"' if !escaped => in_string = !in_string,
            '#' if !in_string => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

pub struct Document {
    pub text: String,
    /// The front end's reading of the text, redone on every change.
    pub compiled: tib_front::Compiled,
    pub catalog: Catalog,
}

impl Document {
    pub fn new(path: Option<&Path>, fallback_root: Option<&Path>, text: String) -> Document {
        let catalog = catalog_for(path, fallback_root);
        let display = path.map_or_else(|| "spec.tib".to_owned(), |p| p.to_string_lossy().into_owned());
        let compiled = tib_front::compile(&display, &text, &catalog);
        Document { text, compiled, catalog }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = floor_boundary(&self.text, offset);
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count();
        let character: usize = before[line_start..].chars().map(char::len_utf16).sum();
        Position::new(to_u32(line), to_u32(character))
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(self.position(span.start), self.position(span.end))
    }

    /// The byte offset of an LSP position (clamped to its line, and to the text).
    pub fn offset(&self, position: Position) -> usize {
        let mut line_start = 0;
        for _ in 0..position.line {
            match self.text[line_start..].find('\n') {
                Some(i) => line_start += i + 1,
                None => return self.text.len(),
            }
        }
        let line_end = self.text[line_start..].find('\n').map_or(self.text.len(), |i| line_start + i);
        let mut units = 0;
        for (i, c) in self.text[line_start..line_end].char_indices() {
            if units >= position.character as usize {
                return line_start + i;
            }
            units += c.len_utf16();
        }
        line_end
    }

    /// The whole text, as a range.
    pub fn full_range(&self) -> Range {
        Range::new(Position::new(0, 0), self.position(self.text.len()))
    }
}

/// The custom-field catalog of the workspace a spec is in: the nearest
/// `custom-fields.toml` up from the spec, else the client's workspace root.
fn catalog_for(path: Option<&Path>, fallback_root: Option<&Path>) -> Catalog {
    let found = path
        .into_iter()
        .flat_map(Path::ancestors)
        .skip(1)
        .find(|dir| dir.join(tib_front::catalog::FILE_NAME).is_file());
    let root = found.or(fallback_root);
    root.and_then(|root| CatalogFile::load(root).ok()).map_or_else(Catalog::missing, |file| file.catalog())
}

/// The path of a `file:` URI, percent-decoded.
pub fn file_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let bytes = rest.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                decoded.push(u8::try_from(high * 16 + low).expect("two hex digits make a byte"));
                i += 3;
            }
            (byte, ..) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).ok().map(PathBuf::from)
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    (0..=offset.min(text.len())).rev().find(|&o| text.is_char_boundary(o)).unwrap_or(0)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_both_ways() {
        let doc = Document::new(None, None, "app \"𝄞é\"\nbase_url \"x\"\n".to_owned());
        // 𝄞 is four bytes and two UTF-16 units; é two bytes and one unit.
        let after = doc.text.find('é').expect("there") + 'é'.len_utf8();
        assert_eq!(doc.position(after), Position::new(0, 8));
        assert_eq!(doc.offset(Position::new(0, 8)), after);
        assert_eq!(doc.offset(Position::new(1, 3)), doc.text.find("e_url").expect("there"));
        assert_eq!(doc.offset(Position::new(0, 99)), doc.text.find('\n').expect("there"), "clamped to the line");
        assert_eq!(doc.offset(Position::new(9, 0)), doc.text.len());
    }

    #[test]
    fn file_uris_are_decoded() {
        assert_eq!(file_path("file:///home/a%20b/x.tib"), Some(PathBuf::from("/home/a b/x.tib")));
        assert_eq!(file_path("untitled:1"), None);
    }
}
