//! Hover documentation, read from the language reference (`grammar/README.md`)
//! so that the editor says what the reference says: a section's description,
//! an operator's or field's table row, a stop condition's line, an auth kind's
//! paragraph, and for a setting the table that lists it, the first paragraph
//! that names it, or the example line that sets it.

const REFERENCE: &str = include_str!("../../../grammar/README.md");

/// The reference's paragraph introducing each auth kind starts with its title.
const AUTH_TITLES: &[(&str, &str)] = &[
    ("bearer", "**Bearer token**"),
    ("basic", "**Basic auth**"),
    ("headers", "**Custom headers**"),
    ("query", "**API key in the query string**"),
    ("oauth_client_credentials", "**OAuth 2.0 client credentials**"),
    ("oauth_authorization_code", "**OAuth 2.0 authorization code**"),
    ("session", "**A sign-in session**"),
];

/// What the reference says about a word of the language, as Markdown.
pub fn describe(term: &str) -> Option<String> {
    let blocks = blocks();
    if let Some(section) = section(term) {
        return Some(format!("**{term}** (section)\n\n{section}"));
    }
    if let Some(&(_, title)) = AUTH_TITLES.iter().find(|(kind, _)| *kind == term) {
        return blocks.iter().find(|b| b.starts_with(title)).map(|b| format!("`auth {term}`: {b}"));
    }
    if term == "stop when" {
        // The list under "Stop conditions:".
        let list = blocks.iter().skip_while(|b| !b.starts_with("Stop conditions")).skip(1);
        let conditions: Vec<&str> = list.take_while(|b| b.starts_with("- ")).map(String::as_str).collect();
        return Some(format!("`stop when` ends pagination on one of:\n\n{}", conditions.join("\n")));
    }
    let quoted = format!("`{term}`");
    let assigned = format!("`{term} =");
    // `any { ... }`: the word at the start of code that goes on.
    let opening = format!("`{term} {{");
    let prose = || {
        let mentions = |b: &&String| b.contains(&quoted) || b.contains(&assigned) || b.contains(&opening);
        blocks.iter().filter(|b| !b.starts_with('|')).find(mentions).cloned()
    };
    // Which settings table a setting is in says little alone: the prose that uses it follows.
    let listed =
        || table_mention(term).map(|listed| prose().map_or_else(|| listed.clone(), |p| format!("{listed}\n\n{p}")));
    table_row(term).or_else(|| bullet(&blocks, term)).or_else(listed).or_else(prose).or_else(|| example(term))
}

/// A line of an example that starts with `term`, under the paragraph that introduces it.
fn example(term: &str) -> Option<String> {
    let (mut prose, mut paragraph, mut in_code) = (String::new(), String::new(), false);
    for line in REFERENCE.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            if line.trim().is_empty() || line.starts_with('#') {
                if !paragraph.is_empty() {
                    prose = std::mem::take(&mut paragraph);
                }
            } else {
                paragraph.push_str(if paragraph.is_empty() { "" } else { " " });
                paragraph.push_str(line.trim());
            }
            continue;
        }
        let code = line.trim_start();
        if code.strip_prefix(term).is_some_and(|rest| rest.starts_with([' ', '='])) {
            // The paragraph above, when it speaks of the term; otherwise the example alone.
            let above = if prose.contains(term) { format!("{prose}\n\n") } else { String::new() };
            return Some(format!("{above}```tib\n{}\n```", code.trim_end()));
        }
    }
    None
}

/// The reference's paragraphs, list items and tables, each joined into one string.
fn blocks() -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_code = false;
    let flush = |current: &mut String, blocks: &mut Vec<String>| {
        if !current.trim().is_empty() {
            blocks.push(current.trim().to_owned());
        }
        current.clear();
    };
    for line in REFERENCE.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            flush(&mut current, &mut blocks);
            continue;
        }
        if in_code {
            continue;
        }
        let starts_item = line.starts_with("- ") || line.starts_with('#');
        if line.trim().is_empty() || starts_item {
            flush(&mut current, &mut blocks);
        }
        if !line.starts_with('#') {
            if !current.is_empty() {
                current.push(if line.starts_with('|') { '\n' } else { ' ' });
            }
            current.push_str(line.trim());
        }
    }
    flush(&mut current, &mut blocks);
    blocks
}

/// The prose of `### term`, up to its first example.
fn section(term: &str) -> Option<String> {
    let heading = format!("\n### {term}\n");
    let start = REFERENCE.find(&heading)? + heading.len();
    let rest = &REFERENCE[start..];
    let end = ["\n```", "\n#"].iter().filter_map(|m| rest.find(m)).min().unwrap_or(rest.len());
    let prose = rest[..end].split("\n\n").map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "));
    Some(prose.filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n\n"))
}

/// The rows of the reference's tables, each with its table's header row.
fn table_rows() -> Vec<(Vec<&'static str>, Vec<&'static str>)> {
    let mut rows = Vec::new();
    let mut header: Vec<&str> = Vec::new();
    for line in REFERENCE.lines() {
        if !line.starts_with('|') {
            header.clear();
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if header.is_empty() {
            header = cells;
        } else if !cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
            rows.push((header.clone(), cells));
        }
    }
    rows
}

/// A table row whose first cell names `term`: `term`, then the other cells under their headers.
fn table_row(term: &str) -> Option<String> {
    let quoted = format!("`{term}`");
    let (header, cells) =
        table_rows().into_iter().find(|(_, cells)| cells[0].split(['/', '+']).any(|part| part.trim() == quoted))?;
    let rest: Vec<String> = header.iter().zip(&cells).skip(1).map(|(name, cell)| format!("{name}: {cell}")).collect();
    Some(format!("{}: {}", cells[0], rest.join("; ")))
}

/// Tables that list `term` in a later cell: `term` is among the (header) of (first cells).
fn table_mention(term: &str) -> Option<String> {
    let quoted = format!("`{term}`");
    let (mut column, mut owners) = (None, Vec::new());
    for (header, cells) in table_rows() {
        if let Some(i) = cells.iter().skip(1).position(|cell| cell.contains(&quoted)) {
            column = column.or(header.get(i + 1).copied());
            owners.push(cells[0]);
        }
    }
    Some(format!("`{term}` is among the {} of {}", column?, owners.join(", ")))
}

/// A list item that starts with `term`.
fn bullet(blocks: &[String], term: &str) -> Option<String> {
    let start = format!("- `{term}");
    blocks
        .iter()
        .find(|b| b.starts_with(&start) && b[start.len()..].starts_with(['`', ' ', '=']))
        .map(|b| b[2..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_describes_sections_operators_stops_fields_kinds_and_settings() {
        let paginate = describe("paginate").expect("a section");
        assert!(paginate.contains("How to get the next page"), "{paginate}");
        let is_not = describe("is not").expect("an operator");
        assert!(is_not.starts_with("`is not`") && is_not.contains("the value is missing or differs"), "{is_not}");
        let stop = describe("empty_page").expect("a stop condition");
        assert!(stop.contains("a page with no users"), "{stop}");
        let email = describe("email").expect("a field");
        assert!(email.contains("the user's email"), "{email}");
        let basic = describe("basic").expect("an auth kind");
        assert!(basic.contains("Basic auth"), "{basic}");
        let page_size = describe("page_size").expect("a pagination setting");
        assert!(page_size.starts_with("`page_size` is among the settings of `offset`, `page`"), "{page_size}");
        let token_url = describe("token_url").expect("an auth setting");
        assert!(token_url.contains("token_url") && token_url.contains("```tib"), "{token_url}");
        let stop_when = describe("stop when").expect("pagination's stop line");
        assert!(stop_when.contains("- `short_page`") && stop_when.contains("- `total <path>`"), "{stop_when}");
        let client_auth = describe("client_auth").expect("a setting");
        assert!(client_auth.contains("how the client proves itself"), "{client_auth}");
        let body_field = describe("body_field").expect("a token setting");
        assert!(body_field.contains("puts each next token at that key path of the JSON body"), "{body_field}");
        let continue_path = describe("continue_path").expect("a token setting");
        assert!(continue_path.contains("A continuation request"), "{continue_path}");
        let any = describe("any").expect("a rule group");
        assert!(any.contains("An `any { ... }` group holds when one of its alternatives does"), "{any}");
        assert_eq!(describe("no_such_word"), None);
    }
}
