//! Settings blocks (`{ name = value ... }`): known names only, each once, each
//! value of the kind its setting takes.

use std::collections::BTreeMap;

use crate::ast::{Block, Entry, Str, Value};
use crate::diag::Diagnostic;
use crate::span::Span;

use super::values::wrong_kind;

/// The other kinds of a construct: each one's owner as messages name it (`` `auth basic` ``) and its settings.
pub type Siblings<'s> = &'s [(String, &'static [&'static str])];

/// The settings of one block, after unknown and repeated names were reported.
pub struct Settings<'a> {
    entries: BTreeMap<&'a str, &'a Entry>,
    /// Where to point when a required setting is missing.
    span: Span,
    /// What the block belongs to, e.g. "`paginate offset`".
    owner: String,
}

impl<'a> Settings<'a> {
    /// Reads `entries`, reporting names not in `allowed` and names given twice.
    pub fn read(
        entries: impl IntoIterator<Item = &'a Entry>,
        span: Span,
        allowed: &[&str],
        owner: &str,
        d: &mut Vec<Diagnostic>,
    ) -> Self {
        Self::read_among(entries, span, allowed, owner, &[], d)
    }

    /// [`Settings::read`] for one of several kinds (`siblings`: each other
    /// kind's owner and settings): a setting of another kind is named as such.
    pub fn read_among(
        entries: impl IntoIterator<Item = &'a Entry>,
        span: Span,
        allowed: &[&str],
        owner: &str,
        siblings: Siblings<'_>,
        d: &mut Vec<Diagnostic>,
    ) -> Self {
        let mut map: BTreeMap<&'a str, &'a Entry> = BTreeMap::new();
        for entry in entries {
            let name = entry.key.text.as_str();
            if !allowed.contains(&name) {
                let unknown = Diagnostic::error(
                    "tib::unknown-setting",
                    format!("{owner} has no setting `{name}`"),
                    entry.key.span,
                    "unknown setting",
                );
                let elsewhere: Vec<&str> =
                    siblings.iter().filter(|(_, names)| names.contains(&name)).map(|(o, _)| o.as_str()).collect();
                d.push(match elsewhere.as_slice() {
                    [] => unknown.did_you_mean(name, allowed, "its settings are"),
                    owners => unknown.with_help(format!(
                        "`{name}` is a setting of {}; {owner}'s are: {}",
                        owners.join(" and "),
                        allowed.join(", ")
                    )),
                });
            } else if let Some(first) = map.get(name) {
                d.push(
                    Diagnostic::error(
                        "tib::duplicate-setting",
                        format!("`{name}` is set twice in {owner}"),
                        entry.key.span,
                        "set again here",
                    )
                    .with_label(first.key.span, "first set here")
                    .with_help("each setting is given once: keep the one you mean"),
                );
            } else {
                map.insert(name, entry);
            }
        }
        Settings { entries: map, span, owner: owner.to_owned() }
    }

    pub fn block(block: &'a Block, allowed: &[&str], owner: &str, d: &mut Vec<Diagnostic>) -> Self {
        Self::read(&block.entries, block.span, allowed, owner, d)
    }

    /// [`Settings::block`] among siblings ([`Settings::read_among`]).
    pub fn block_among(
        block: &'a Block,
        allowed: &[&str],
        owner: &str,
        siblings: Siblings<'_>,
        d: &mut Vec<Diagnostic>,
    ) -> Self {
        Self::read_among(&block.entries, block.span, allowed, owner, siblings, d)
    }

    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.entries.get(name).map(|entry| &entry.value)
    }

    pub fn span(&self) -> Span {
        self.span
    }

    /// Reports a missing required setting; `example` is the line to add.
    pub fn missing(&self, name: &str, example: &str, d: &mut Vec<Diagnostic>) {
        d.push(
            Diagnostic::error(
                "tib::missing-setting",
                format!("{} needs `{name}`", self.owner),
                self.span,
                format!("`{name}` is missing here"),
            )
            .with_help(format!("add `{example}`")),
        );
    }

    /// A required setting; reports it missing with `example` as the fix.
    pub fn required(&self, name: &str, example: &str, d: &mut Vec<Diagnostic>) -> Option<&'a Value> {
        let value = self.get(name);
        if value.is_none() {
            self.missing(name, example, d);
        }
        value
    }

    pub fn required_string(&self, name: &str, example: &str, d: &mut Vec<Diagnostic>) -> Option<&'a Str> {
        self.required(name, example, d).and_then(|value| expect_string(name, value, d))
    }

    /// A whole number in `range`, if present and valid.
    /// An optional setting that must be a string when given.
    pub fn string(&self, name: &str, d: &mut Vec<Diagnostic>) -> Option<&'a Str> {
        self.get(name).and_then(|value| expect_string(name, value, d))
    }

    pub fn integer(&self, name: &str, range: std::ops::RangeInclusive<u64>, d: &mut Vec<Diagnostic>) -> Option<u64> {
        self.get(name).and_then(|value| expect_integer(name, value, range, d))
    }

    pub fn required_integer(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
        example: &str,
        d: &mut Vec<Diagnostic>,
    ) -> Option<u64> {
        self.required(name, example, d).and_then(|value| expect_integer(name, value, range, d))
    }

    pub fn boolean(&self, name: &str, d: &mut Vec<Diagnostic>) -> Option<bool> {
        match self.get(name)? {
            Value::Bool(b, _) => Some(*b),
            other => {
                d.push(wrong_kind(name, "true or false", other));
                None
            }
        }
    }

    /// A list of plain strings, e.g. scopes.
    pub fn strings(&self, name: &str, d: &mut Vec<Diagnostic>) -> Option<Vec<String>> {
        match self.get(name)? {
            Value::List(items, _) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::Str(s) => out.push(super::values::plain(s, &format!("`{name}`"), d)?),
                        other => {
                            d.push(wrong_kind(name, "a list of strings", other));
                            return None;
                        }
                    }
                }
                Some(out)
            }
            other => {
                d.push(wrong_kind(name, "a list of strings, e.g. [\"users.read\"]", other));
                None
            }
        }
    }

    /// A map of `"name" = "value"` pairs, e.g. headers or extra parameters.
    pub fn map(&self, name: &str, d: &mut Vec<Diagnostic>) -> Option<Vec<(&'a Entry, &'a Str)>> {
        match self.get(name)? {
            Value::Block(block) => string_map(block, name, d),
            other => {
                d.push(wrong_kind(name, "a block of \"name\" = \"value\" pairs", other));
                None
            }
        }
    }
}

/// The entries of a `{ "name" = "value" }` block; numbers and booleans are
/// accepted as their text, which is what a query string or header carries.
pub fn string_map<'a>(block: &'a Block, name: &str, d: &mut Vec<Diagnostic>) -> Option<Vec<(&'a Entry, &'a Str)>> {
    let mut out = Vec::new();
    let mut ok = true;
    // Keys compare without case (header names do); a map keeps a long block linear.
    let mut seen: std::collections::HashMap<String, &Entry> = std::collections::HashMap::new();
    for entry in &block.entries {
        if let Some(first) = seen.get(&entry.key.text.to_ascii_lowercase()) {
            d.push(
                Diagnostic::error(
                    "tib::duplicate-key",
                    format!("`{}` is given twice in `{name}`", entry.key.text),
                    entry.key.span,
                    "given again here",
                )
                .with_label(first.key.span, "first given here")
                .with_help("each key is given once (names compare without case): keep one"),
            );
            ok = false;
            continue;
        }
        seen.insert(entry.key.text.to_ascii_lowercase(), entry);
        match &entry.value {
            Value::Str(s) => out.push((entry, s)),
            other => {
                d.push(wrong_kind(&entry.key.text, "a string", other));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn expect_string<'a>(name: &str, value: &'a Value, d: &mut Vec<Diagnostic>) -> Option<&'a Str> {
    match value {
        Value::Str(s) => Some(s),
        other => {
            d.push(wrong_kind(name, "a string", other));
            None
        }
    }
}

fn expect_integer(
    name: &str,
    value: &Value,
    range: std::ops::RangeInclusive<u64>,
    d: &mut Vec<Diagnostic>,
) -> Option<u64> {
    let Value::Number(number) = value else {
        d.push(wrong_kind(name, "a whole number", value));
        return None;
    };
    match number.text.parse::<u64>() {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            d.push(
                Diagnostic::error(
                    "tib::out-of-range",
                    format!("`{name}` must be a whole number from {} to {}", range.start(), range.end()),
                    number.span,
                    "out of range",
                )
                .with_help(format!("write a value from {} to {}", range.start(), range.end())),
            );
            None
        }
    }
}
