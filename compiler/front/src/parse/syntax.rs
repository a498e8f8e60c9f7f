//! Syntax errors in the user's words: pest's error, translated from grammar
//! rules into what the language reference calls things, with "did you mean".

use tib_grammar::Rule;

use crate::diag::Diagnostic;
use crate::span::Span;
use crate::suggest;

/// How deep blocks, lists and rule groups may nest. Real specs stay under
/// ten; the bound keeps the recursive parser and checker off the stack's end.
const MAX_NESTING: usize = 64;

pub fn check_nesting(source: &str) -> Option<Diagnostic> {
    let mut depth = 0usize;
    for (i, c) in super::recover::brackets(source) {
        if matches!(c, '}' | ']') {
            depth = depth.saturating_sub(1);
            continue;
        }
        depth += 1;
        if depth > MAX_NESTING {
            return Some(
                Diagnostic::error(
                    "tib::too-deep",
                    format!("blocks are nested more than {MAX_NESTING} levels deep"),
                    Span::new(i, i + 1),
                    "too deep",
                )
                .with_help("flatten the rules; a spec never needs this depth"),
            );
        }
    }
    None
}

/// Turns pest's error into a diagnostic that names what was expected in the
/// language's words, with a "did you mean" when a misspelt keyword stands there.
pub fn error(source: &str, error: pest::error::Error<Rule>) -> Diagnostic {
    let mut pos = match error.location {
        pest::error::InputLocation::Pos(pos) => pos,
        pest::error::InputLocation::Span((start, _)) => start,
    };
    let mut positives = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    // pest's positives name rules only; the attempts also know the punctuation
    // it was waiting for (`=`, `}`), which is often further along and more useful.
    let mut punctuation: Vec<String> = Vec::new();
    if let Some(attempts) = error.parse_attempts().filter(|a| a.max_position >= pos) {
        if attempts.max_position > pos {
            pos = attempts.max_position;
            positives.clear();
        }
        positives.extend(attempts.call_stacks().iter().filter_map(|stack| stack.deepest.get_rule().copied()));
        for token in attempts.expected_tokens().iter().map(ToString::to_string) {
            if !token.is_empty() && token.chars().all(|c| "=}],".contains(c)) {
                punctuation.push(format!("`{token}`"));
            }
        }
    }
    let found = found_at(source, pos);
    let mut expected: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
    expected.extend(punctuation.iter().map(String::as_str));
    expected.sort_unstable();
    expected.dedup();
    // Inside a setting only its `=` is missing; where an operator belongs, `=`
    // only stands for the operator symbols it could start.
    if expected.contains(&"an operator") {
        expected.retain(|e| *e != "`=`");
    } else if expected.contains(&"`=`") {
        expected.retain(|e| !e.starts_with("a setting"));
    }
    // At the end of the file, point at the last thing written instead of at nothing.
    let span = if pos >= source.trim_end().len() {
        let end = source.trim_end().len();
        let last_word =
            source[..end].chars().rev().take_while(|c| !c.is_whitespace()).map(char::len_utf8).sum::<usize>();
        let start = end - last_word;
        Span::new(start, end)
    } else {
        Span::new(pos, pos + found.len())
    };
    let found_text = if found.is_empty() {
        if pos >= source.trim_end().len() { "the end of the file".to_owned() } else { "this".to_owned() }
    } else {
        format!("`{found}`")
    };
    let message = match expected.as_slice() {
        [] => format!("unexpected {found_text}"),
        [one] => format!("expected {one}, found {found_text}"),
        many => {
            let (last, rest) = many.split_last().expect("many has at least two items");
            format!("expected {} or {last}, found {found_text}", rest.join(", "))
        }
    };
    let at_end = pos >= source.trim_end().len();
    let mut diagnostic =
        Diagnostic::error("tib::syntax", message, span, if at_end { "the file ends after this" } else { "here" });
    if at_end {
        return diagnostic.with_help("a block is still open: check that every `{` has its `}`");
    }
    let candidates: Vec<&str> = positives.iter().flat_map(|r| keywords_of(*r)).copied().collect();
    // A misspelt `stop`/`from` reads as a setting name waiting for its `=`.
    let (previous_start, previous) = previous_word(source, pos);
    let misspelt_line = if expected.contains(&"`=`") { suggest::closest(previous, ["stop", "from"]) } else { None };
    if let Some(mistake) = named_mistake(source, pos, &expected) {
        diagnostic.replacement = mistake.replacement.map(str::to_owned);
        if let Some(span) = mistake.span {
            diagnostic.primary.span = span;
        }
        if let Some(message) = mistake.message {
            diagnostic.message = message.to_owned();
        }
        if let Some((span, text, primary)) = mistake.labels {
            diagnostic.message = primary.to_owned();
            diagnostic.primary.text = primary.to_owned();
            diagnostic = diagnostic.with_label(span, text);
        }
        diagnostic = diagnostic.with_help(mistake.help);
    } else if let Some(suggestion) = suggest::closest(&found, candidates.iter().copied()) {
        diagnostic = diagnostic.with_help(format!("did you mean `{suggestion}`?"));
    } else if let Some(keyword) = misspelt_line {
        diagnostic = diagnostic.with_help(format!("did you mean `{keyword}` instead of `{previous}`?"));
    } else if expected.contains(&"an operator") && is_operator_word(previous_word(source, previous_start).1) {
        // `role is admin`: the bare word was read as the next rule's path.
        diagnostic = diagnostic.with_help(format!("text values are quoted: write \"{previous}\""));
    } else if positives.contains(&Rule::operator) || positives.contains(&Rule::op_is) {
        diagnostic = diagnostic.with_help(
            "a rule is `path operator value`, e.g. `role is \"admin\"`; operators: is, is not, any of, contains, not contains, >=, has value, some",
        );
    } else {
        diagnostic = diagnostic.with_help(context_help(source, pos));
    }
    diagnostic
}

/// What the construct the parse stopped in holds, when no mistake is recognised:
/// the innermost open brace's block, or at the top level, the sections.
fn context_help(source: &str, pos: usize) -> &'static str {
    let mut open = Vec::new();
    for (at, c) in super::recover::brackets(&source[..pos]) {
        match c {
            '{' => open.push(at),
            '}' => {
                open.pop();
            }
            _ => {}
        }
    }
    let Some(&brace) = open.last() else {
        return "each section starts on a line of its own with its keyword: app, base_url, credentials, auth, \
                request, paginate, api_error, users, fields, active, status, licenses, custom_fields";
    };
    let line = &source[source[..brace].rfind('\n').map_or(0, |i| i + 1)..brace];
    let header = line.rfind('{').map_or(line, |i| &line[i + 1..]).trim();
    let first = header.split_whitespace().next().unwrap_or("");
    match header.split_whitespace().last().unwrap_or("") {
        "any" => {
            "the alternatives of `any { }` are rules, or `{ }` groups of rules that must hold together: \
             `any { role is \"admin\"  { plan is \"pro\"  seats >= 1 } }`"
        }
        "when" | "if" | "some" => {
            "a rule group holds rules `path operator value`, all of which must hold: \
             `{ state is \"active\"  seats >= 1 }`"
        }
        _ if first == "credentials" => "each credential is `name secret|text \"description\"` on a line of its own",
        _ if first == "licenses" => "each license is `\"Name\" when { rules }`, or `\"Name\" otherwise` last",
        _ if first == "paginate" => {
            "a pagination block holds settings `name = value`, `stop when ...` and `from ...` lines"
        }
        _ => "a block holds settings `name = value` (or `\"Name\" = value`), one after another",
    }
}

/// A mistake people make from other languages, recognised where the parse stopped.
struct Mistake {
    help: &'static str,
    /// The bytes the mistake covers, when not the word pest found.
    span: Option<Span>,
    /// What to write instead, when that is certain.
    replacement: Option<&'static str>,
    /// A second place, its label, and what the mistake is (the message and the primary label),
    /// when the mistake has two places.
    labels: Option<(Span, &'static str, &'static str)>,
    /// What the mistake is, when the place is a word of its own and not where pest stopped.
    message: Option<&'static str>,
}

fn named_mistake(source: &str, pos: usize, expected: &[&str]) -> Option<Mistake> {
    let rest = &source[pos..];
    let mistake = |help, length: Option<usize>, replacement| {
        Some(Mistake { help, span: length.map(|l| Span::new(pos, pos + l)), replacement, labels: None, message: None })
    };
    if let Some(open) = unclosed_quote(source, pos) {
        let line_end = pos + rest.find('\n').unwrap_or(rest.len());
        return Some(Mistake {
            help: "close the string with `\"` on the same line: strings do not run across lines",
            span: Some(Span::new(open, open + 1)),
            replacement: None,
            labels: Some((Span::new(line_end, line_end), "the line ends here", "a string is never closed")),
            message: None,
        });
    }
    if rest.starts_with('.') && source[..pos].ends_with('.') {
        return mistake(
            "a path has a name between each two dots: write `data.users`, not `data..users`",
            Some(1),
            Some(""),
        );
    }
    if rest.starts_with("//") {
        return mistake("comments start with `#` and run to the end of the line", Some(2), Some("#"));
    }
    let before = source[..pos].trim_end();
    let word_here = rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).next().unwrap_or("");
    if before.ends_with("except") && word_here == "null" {
        return Some(Mistake {
            help: "`except` names the other values that mean none, e.g. `except \"\"` or `except [\"\", \"n/a\"]`; \
                   without those, remove `except null`",
            span: Some(Span::new(pos, pos + 4)),
            replacement: None,
            labels: None,
            message: Some("null is no value already"),
        });
    }
    if before.ends_with("else") && !word_here.is_empty() && !matches!(word_here, "true" | "false" | "if") {
        // `login else handle`: a second path is tried with `or`; `else` ends with a literal.
        let at = before.len() - "else".len();
        return Some(Mistake {
            help: "after `else` comes a literal for users with no value; another path to try is written `or`",
            span: Some(Span::new(at, at + "else".len())),
            replacement: Some("or"),
            labels: None,
            message: Some("`else` takes a literal, not a path"),
        });
    }
    // A YAML list item: a line that starts with `- ` (pest stops at the `-` or just after it).
    let line_before = source[..pos].rsplit('\n').next().unwrap_or_default();
    let dash = match (line_before.trim(), rest.starts_with("- ")) {
        ("", true) => Some(pos),
        ("-", _) => Some(pos - line_before.len() + line_before.find('-').unwrap_or_default()),
        _ => None,
    };
    if let Some(dash) = dash {
        return Some(Mistake {
            help: "lists are written in brackets, `[a, b]`, not as YAML's `- a` lines",
            span: Some(Span::new(dash, dash + 1)),
            replacement: None,
            labels: None,
            message: Some("a YAML list item"),
        });
    }
    if rest.starts_with("/*") {
        return mistake("comments start with `#` on each line; there are no `/* */` comments", Some(2), None);
    }
    if rest.starts_with('\'') {
        return mistake("strings are written in double quotes: \"like this\"", Some(1), None);
    }
    if rest.starts_with(':') && expected.contains(&"`=`") {
        // `"key": value` becomes `"key" = value`, spaced as the formatter writes it.
        if source[..pos].ends_with(char::is_whitespace) {
            return mistake("settings are written `name = value`: write `=` where the `:` is", Some(1), Some("="));
        }
        return mistake("settings are written `name = value`: write ` =` in place of the `:`", Some(1), Some(" ="));
    }
    if rest.starts_with('(') || rest.starts_with(')') {
        return mistake(
            "rules are grouped with braces, not parentheses: `{ rule  rule }` (all must hold), \
             `any { rule  rule }` (one must)",
            Some(1),
            None,
        );
    }
    // `or`, `and` and `not` from other languages, in the rule group the parse stopped in.
    let open = source[..pos].rfind('{');
    let group_start = open.map_or(pos, |open| open + 1);
    let words = unquoted_words(&source[group_start..pos]);
    let word = |(at, text): (usize, &str)| Some(Span::new(group_start + at, group_start + at + text.len()));
    let named =
        |message, help, span| Some(Mistake { help, span, replacement: None, labels: None, message: Some(message) });
    let in_any = open.is_some_and(|open| unquoted_words(&source[..open]).last().map(|&(_, w)| w) == Some("any"));
    if let Some(&and) = words.iter().find(|(_, w)| *w == "and").filter(|_| in_any) {
        return named(
            "`and` does not join the alternatives of `any { }`",
            "the alternatives of `any { }` are rules, one of which must hold; rules that must hold together \
             go in braces: `any { { plan is \"pro\"  seats >= 1 }  role is \"admin\" }`",
            word(and),
        );
    }
    if let Some(&or) = words.iter().find(|(_, w)| *w == "or") {
        return named(
            "`or` does not join the rules of a group",
            "the rules of a `{ }` group must all hold; for alternatives write `any { rule  rule }`",
            word(or),
        );
    }
    let negated = words.iter().enumerate().find(|&(i, &(_, w))| {
        w == "not" && (i == 0 || words[i - 1].1 != "is") && words.get(i + 1).map(|&(_, w)| w) != Some("contains")
    });
    if let Some((_, &not)) = negated {
        return named(
            "`not` does not negate a rule",
            "there is no `not` before a rule: use the negative operator (`is not`, `not contains`), \
             or `any of` with the values that are allowed",
            word(not),
        );
    }
    if rest.starts_with(',') {
        return mistake(
            "the entries of a block go on lines of their own, with no comma between them",
            Some(1),
            Some(""),
        );
    }
    None
}

/// Where a string opened on the line of `pos`, before it, is left unclosed.
fn unclosed_quote(source: &str, pos: usize) -> Option<usize> {
    let line_start = source[..pos].rfind('\n').map_or(0, |i| i + 1);
    let (mut open, mut escaped) = (None, false);
    for (i, c) in source[line_start..pos].char_indices() {
        match c {
            '#' if open.is_none() => return None,
            '\\' if open.is_some() => escaped = !escaped,
            '"' if !escaped => open = if open.is_some() { None } else { Some(line_start + i) },
            _ => escaped = false,
        }
    }
    open
}

/// The words of `text` outside double-quoted strings, with their offsets.
fn unquoted_words(text: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let (mut quoted, mut start) = (false, None);
    for (i, c) in text.char_indices() {
        let word_char = c.is_ascii_alphanumeric() || c == '_';
        match (quoted, start) {
            (false, None) if word_char => start = Some(i),
            (false, Some(s)) if !word_char => {
                words.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
        if c == '"' {
            quoted = !quoted;
        }
    }
    if let (false, Some(s)) = (quoted, start) {
        words.push((s, &text[s..]));
    }
    words
}

fn is_operator_word(word: &str) -> bool {
    matches!(word, "is" | "not" | "of" | "contains")
}

/// The word that ends before `pos`, skipping white space, and where it starts.
fn previous_word(source: &str, pos: usize) -> (usize, &str) {
    let before = source.get(..pos).unwrap_or("").trim_end();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    // Word characters are ASCII, so the word's length in bytes is its length in chars.
    let start = before.len() - before.chars().rev().take_while(|c| is_word(*c)).count();
    (start, &before[start..])
}

/// The token at `pos`: a word, or one character.
fn found_at(source: &str, pos: usize) -> String {
    let rest = source.get(pos..).unwrap_or("");
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    if word.is_empty() {
        rest.chars().next().filter(|c| !c.is_whitespace()).map(String::from).unwrap_or_default()
    } else {
        word
    }
}

/// What a grammar rule is called in the language reference.
fn describe(kind: Rule) -> Option<&'static str> {
    Some(match kind {
        Rule::string => "a string",
        Rule::number => "a number",
        Rule::boolean => "true or false",
        Rule::word => "a word",
        Rule::path | Rule::name | Rule::root | Rule::arg_path | Rule::mapped | Rule::source => "a path",
        Rule::fallback => "a string, number or true/false",
        Rule::any_group | Rule::kw_any => "`any { ... }`",
        Rule::kw_or => "`or`",
        Rule::or_none | Rule::kw_none => "`or none`",
        Rule::kw_except => "`except`",
        Rule::api_class | Rule::kw_refused | Rule::kw_rate_limited => "`refused when` or `rate_limited when`",
        Rule::list => "a list",
        Rule::block | Rule::pagination | Rule::license_list => "`{`",
        Rule::rule_group => "`{` and rules",
        Rule::rule => "a rule",
        Rule::operator | Rule::op_is | Rule::op_is_not | Rule::op_unknown => "an operator",
        Rule::operand => "a value",
        Rule::value => "a value",
        Rule::entry => "a setting `name = value`",
        Rule::license => "a license `\"Name\" when { ... }`",
        Rule::credential => "a credential `name secret|text \"description\"`",
        Rule::branch | Rule::branches | Rule::kw_if => "`if`",
        Rule::status_auto | Rule::kw_auto => "`auto`",
        Rule::status_field | Rule::kw_field => "`field`",
        Rule::kw_when => "`when`",
        Rule::kw_then => "`then`",
        Rule::kw_else => "`else`",
        Rule::kw_at => "`at`",
        Rule::kw_otherwise => "`otherwise`",
        Rule::kw_message => "`message`",
        Rule::stop | Rule::kw_stop => "`stop when ...`",
        Rule::from | Rule::kw_from => "`from ...`",
        Rule::EOI => "the end of the file",
        Rule::app
        | Rule::base_url
        | Rule::credentials
        | Rule::auth
        | Rule::request
        | Rule::lookup
        | Rule::paginate
        | Rule::api_error
        | Rule::users
        | Rule::fields
        | Rule::active
        | Rule::status
        | Rule::licenses
        | Rule::custom_fields
        | Rule::unknown => "a section",
        _ => return None,
    })
}

/// Keywords a misspelt word at this position could have meant.
fn keywords_of(kind: Rule) -> &'static [&'static str] {
    match kind {
        Rule::kw_when => &["when"],
        Rule::kw_then => &["then"],
        Rule::kw_else => &["else"],
        Rule::kw_at => &["at"],
        Rule::kw_otherwise => &["otherwise"],
        Rule::kw_message => &["message"],
        Rule::kw_or | Rule::or_none => &["or"],
        Rule::kw_except => &["except"],
        Rule::api_class | Rule::kw_refused | Rule::kw_rate_limited => &["refused", "rate_limited"],
        Rule::kw_if | Rule::branch | Rule::branches => &["if"],
        Rule::status_auto | Rule::kw_auto => &["auto"],
        Rule::status_field | Rule::kw_field => &["field"],
        _ => &[],
    }
}
