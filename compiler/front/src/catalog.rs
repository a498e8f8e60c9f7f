//! The organization's custom-field catalog (`custom-fields.toml`): which
//! attributes each app may map, and their types. Specs only read it.
//!
//! ```toml
//! [Okta]
//! Department = "Text"
//! "Cost center" = "Number"
//! ```

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::ir::FieldType;
use crate::span::Span;
use crate::suggest;

/// The file name the compiler looks for at the workspace root.
pub const FILE_NAME: &str = "custom-fields.toml";

/// Custom attributes by app name, then attribute name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    apps: BTreeMap<String, BTreeMap<String, FieldType>>,
    /// No catalog file was found: a spec's custom fields are then blamed on
    /// where it was checked from, not on the spec.
    missing: bool,
}

type Raw = BTreeMap<String, BTreeMap<String, toml::Spanned<String>>>;

impl Catalog {
    /// The catalog of a workspace that has no catalog file.
    pub fn missing() -> Catalog {
        Catalog { missing: true, ..Catalog::default() }
    }

    /// Whether no catalog file was found.
    pub fn is_missing(&self) -> bool {
        self.missing
    }

    /// Reads a catalog, reporting every bad type name in one go.
    pub fn parse(source: &str) -> Result<Catalog, Vec<Diagnostic>> {
        let raw: Raw = toml::from_str(source).map_err(|error| {
            let span = error.span().map(|r| Span::new(r.start, r.end)).unwrap_or_default();
            vec![
                Diagnostic::error(
                    "tib::catalog",
                    "the custom-field catalog is not valid",
                    span,
                    error.message().to_owned(),
                )
                .with_help("each app is a table of `\"Attribute name\" = \"Type\"`, e.g. [Okta] Department = \"Text\""),
            ]
        })?;
        let names: Vec<&str> = FieldType::ALL.iter().map(|(_, name)| *name).collect();
        let mut errors = Vec::new();
        let mut apps = BTreeMap::new();
        for (app, fields) in raw {
            let mut typed = BTreeMap::new();
            for (field, kind) in fields {
                match FieldType::ALL.iter().find(|(_, name)| name == kind.get_ref()) {
                    Some((kind, _)) => {
                        typed.insert(field, *kind);
                    }
                    None => {
                        let span = Span::new(kind.span().start, kind.span().end);
                        errors.push(
                            Diagnostic::error(
                                "tib::catalog-type",
                                format!("`{field}` of {app} has an unknown type"),
                                span,
                                "not a custom-field type",
                            )
                            .with_help(suggest::help(
                                kind.get_ref(),
                                &names,
                                "the types are",
                            )),
                        );
                    }
                }
            }
            apps.insert(app, typed);
        }
        if errors.is_empty() { Ok(Catalog { apps, missing: false }) } else { Err(errors) }
    }

    /// The attributes defined for an app, if the catalog has the app.
    pub fn app(&self, name: &str) -> Option<&BTreeMap<String, FieldType>> {
        self.apps.get(name)
    }

    /// App names the catalog knows.
    pub fn app_names(&self) -> impl Iterator<Item = &str> {
        self.apps.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_types_and_rejects_unknown_ones() {
        let catalog = Catalog::parse("[Okta]\nDepartment = \"Text\"\n\"Hire date\" = \"Date\"\n").expect("valid");
        let okta = catalog.app("Okta").expect("has Okta");
        assert_eq!(okta.get("Hire date"), Some(&FieldType::Date));
        assert_eq!(catalog.app("Slack"), None);

        let errors = Catalog::parse("[Okta]\nDepartment = \"Txt\"\nTeam = \"Multivalue string\"\n").expect_err("bad");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `Text`?"));
    }

    #[test]
    fn syntax_errors_point_into_the_file() {
        let errors = Catalog::parse("[Okta\n").expect_err("bad toml");
        assert_eq!(errors[0].code, "tib::catalog");
        assert!(errors[0].primary.span.start <= 6);
    }
}
