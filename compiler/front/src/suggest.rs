//! "Did you mean": the closest word from a small known set (keywords, operators, catalogue names).

/// The candidate closest to `typed`, if one is close enough to be a likely typo.
pub fn closest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed_lower = typed.to_lowercase();
    if typed_lower.is_empty() {
        return None;
    }
    candidates
        .into_iter()
        .filter(|candidate| *candidate != typed)
        .map(|candidate| (strsim::damerau_levenshtein(&typed_lower, &candidate.to_lowercase()), candidate))
        // Allow about one edit per three characters: `paginat` -> `paginate`, never `id` -> `to`.
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(typed.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Formats a "did you mean" help line, or lists what is allowed when nothing is close.
pub fn help(typed: &str, candidates: &[&str], what: &str) -> String {
    match closest(typed, candidates.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("{what}: {}", candidates.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_but_not_strangers() {
        let words = ["paginate", "users", "fields", "status", "auth"];
        let cases = [
            ("paginat", Some("paginate")),
            ("feilds", Some("fields")),
            ("Status", Some("status")),
            ("usr", None),
            ("xyz", None),
            ("", None),
        ];
        for (typed, expected) in cases {
            assert_eq!(closest(typed, words), expected, "for {typed:?}");
        }
    }

    #[test]
    fn help_lists_choices_when_nothing_is_close() {
        assert_eq!(help("bearr", &["bearer", "basic"], "auth kinds"), "did you mean `bearer`?");
        assert_eq!(help("zzz", &["bearer", "basic"], "auth kinds"), "auth kinds: bearer, basic");
    }
}
