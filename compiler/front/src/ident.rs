//! Names decided once: the identifiers generated code uses for apps, credentials
//! and custom fields, made valid, keyword-safe and unique here and stored in the IR.

use std::collections::BTreeSet;

/// Rust's reserved words (strict and reserved, 2024 edition), which a generated
/// field or module must not be named.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod",
    "move", "mut", "override", "priv", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
    "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// `Cost center` -> `cost_center`, `firstName` -> `first_name`, `2FA enabled` -> `f_2fa_enabled`,
/// `type` -> `type_`.
pub fn snake_case(name: &str) -> String {
    identifier(name, true)
}

/// An app's id: its name in lower case with words joined by `_`, keeping brand
/// names whole: `PagerDuty` -> `pagerduty`, `Microsoft Entra ID` -> `microsoft_entra_id`.
pub fn app_id(name: &str) -> String {
    identifier(name, false)
}

fn identifier(name: &str, split_camel_case: bool) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if split_camel_case && c.is_ascii_uppercase() && prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = c.is_ascii_lowercase();
            out.push(c.to_ascii_lowercase());
        } else {
            prev_lower = false;
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("field");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "f_");
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// Whether `name` can be used as written as a snake_case identifier.
pub fn is_snake_case(name: &str) -> bool {
    snake_case(name) == name
}

/// Hands out identifiers unique within one namespace: the second `cost_center` is `cost_center_2`.
#[derive(Default)]
pub struct Namespace {
    taken: BTreeSet<String>,
}

/// `user_profile_roles_item` -> `UserProfileRolesItem`.
pub fn camel_case(name: &str) -> String {
    snake_case(name)
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

impl Namespace {
    /// A unique CamelCase type name.
    pub fn unique_type(&mut self, name: &str) -> String {
        let base = camel_case(name);
        let mut candidate = base.clone();
        let mut n = 2;
        while !self.taken.insert(candidate.clone()) {
            candidate = format!("{base}{n}");
            n += 1;
        }
        candidate
    }

    pub fn unique(&mut self, name: &str) -> String {
        let base = snake_case(name);
        let mut candidate = base.clone();
        let mut n = 2;
        while !self.taken.insert(candidate.clone()) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_table() {
        let cases = [
            ("Cost center", "cost_center"),
            ("Microsoft Entra ID", "microsoft_entra_id"),
            ("firstName", "first_name"),
            ("2FA enabled", "f_2fa_enabled"),
            ("type", "type_"),
            ("  --  ", "field"),
            ("Hire date (UTC)", "hire_date_utc"),
            ("api_token", "api_token"),
        ];
        for (input, expected) in cases {
            assert_eq!(snake_case(input), expected, "for {input:?}");
        }
    }

    #[test]
    fn camel_case_table() {
        for (input, expected) in
            [("user_profile", "UserProfile"), ("Body_data_users", "BodyDataUsers"), ("user_2fa", "User2fa")]
        {
            assert_eq!(camel_case(input), expected);
        }
    }

    #[test]
    fn app_ids_keep_brand_names_whole() {
        let cases = [
            ("PagerDuty", "pagerduty"),
            ("Microsoft Entra ID", "microsoft_entra_id"),
            ("Azure DevOps", "azure_devops"),
        ];
        for (input, expected) in cases {
            assert_eq!(app_id(input), expected, "for {input:?}");
        }
    }

    #[test]
    fn namespace_makes_names_unique() {
        let mut ns = Namespace::default();
        assert_eq!(ns.unique("Cost center"), "cost_center");
        assert_eq!(ns.unique("cost-center"), "cost_center_2");
        assert_eq!(ns.unique("Cost Center"), "cost_center_3");
        assert!(is_snake_case("api_token"));
        assert!(!is_snake_case("apiToken"));
    }
}
