//! CSV as exports write it: what the CLI prints and the console's downloads.

/// RFC 4180: a header, then every field quoted, quotes doubled, lines ended by CRLF. A cell that a
/// spreadsheet would read as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a carriage
/// return: OWASP's CSV injection rule) starts with `'`, so it is read as text; control characters
/// are escaped.
pub fn rows<const N: usize>(header: [&str; N], rows: impl Iterator<Item = [String; N]>) -> String {
    let quote = |s: &str| {
        let s = tib_support::printable(s);
        let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
        format!("\"{}{}\"", if formula { "'" } else { "" }, s.replace('"', "\"\""))
    };
    let mut out = header.join(",") + "\r\n";
    for cells in rows {
        out += &cells.iter().map(|c| quote(c)).collect::<Vec<_>>().join(",");
        out += "\r\n";
    }
    out
}
