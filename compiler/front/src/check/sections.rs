//! Sections: each top-level section at most once, the required ones present,
//! unknown keywords named with the section that was probably meant.

use crate::ast::{self, SectionKind};
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::suggest;

/// Every section keyword, in the order the reference presents them.
pub const KEYWORDS: &[&str] = &[
    "app",
    "base_url",
    "credentials",
    "auth",
    "request",
    "lookup",
    "listing",
    "paginate",
    "api_error",
    "users",
    "fields",
    "active",
    "status",
    "licenses",
    "custom_fields",
];

/// The first occurrence of each section, by kind.
#[derive(Default)]
pub struct Sections<'a> {
    pub app: Option<&'a ast::Str>,
    pub base_url: Option<&'a ast::Str>,
    pub credentials: &'a [ast::CredentialDecl],
    pub auth: Option<(&'a ast::Word, Option<&'a ast::AuthArg>)>,
    pub request: Option<Request<'a>>,
    /// Every `lookup`, in spec order: a spec may have several.
    pub lookups: Vec<Lookup<'a>>,
    /// Every `listing`, in spec order: a spec may have several.
    pub listings: Vec<&'a ast::Listing>,
    pub paginate: Option<(&'a ast::Word, Option<&'a ast::Pagination>)>,
    pub api_error: Option<(&'a ast::RuleGroup, Option<&'a ast::Path>, &'a [ast::ApiClass])>,
    /// The users path, and whether `or none` follows it.
    pub users: Option<(&'a ast::Path, bool)>,
    pub fields: Option<&'a ast::Block>,
    pub active: Option<&'a ast::RuleGroup>,
    pub status: Option<&'a ast::Status>,
    pub licenses: Option<&'a ast::Licenses>,
    pub custom_fields: Option<&'a ast::Block>,
}

/// `request METHOD "/path" { settings }`.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a ast::Word,
    pub path: &'a ast::Str,
    pub settings: Option<&'a ast::Block>,
}

/// `lookup NAME METHOD "/path/{user value}" { settings }`.
#[derive(Clone, Copy)]
pub struct Lookup<'a> {
    pub name: &'a ast::Word,
    pub method: &'a ast::Word,
    pub path: &'a ast::Str,
    pub settings: Option<&'a ast::Block>,
}

/// Sections a spec cannot do without, with an example for the help line.
const REQUIRED: &[(&str, &str)] = &[
    ("app", "app \"Acme\""),
    ("base_url", "base_url \"https://api.acme.example/v1\""),
    ("auth", "auth bearer \"{api_token}\""),
    ("request", "request GET \"/users\""),
    ("paginate", "paginate none"),
    ("users", "users at data.users"),
    ("fields", "fields { id = id  email = email }"),
];

/// A word that starts no section, read after the section before it: the
/// value forms that continue a section on its next line have help of their own.
fn unknown(keyword: &str, span: Span, previous: Option<&SectionKind>) -> Diagnostic {
    let error = |message: String| Diagnostic::error("tib::unknown-section", message, span, "unknown keyword");
    match (keyword, previous) {
        ("or", Some(SectionKind::Users { .. })) => error("`or` after `users at` takes `none`".to_owned())
            .with_help("a page that may lack the users key is written `users at data.users or none`"),
        ("else", Some(SectionKind::Status(ast::Status::Fixed(_)))) => error("a fixed status has no `else`".to_owned())
            .with_help(
                "a fixed status is one label for every user; labels by conditions are written \
                 `status if { state is \"active\" } then \"Active\" else \"Suspended\"`",
            ),
        (word, Some(SectionKind::ApiError { .. })) if suggest::closest(word, CLASSES.iter().copied()).is_some() => {
            error(format!("`{word}` does not start a section")).did_you_mean(
                word,
                CLASSES,
                "the classes of `api_error` are",
            )
        }
        (word, _) => error(format!("`{word}` does not start a section")).did_you_mean(word, KEYWORDS, "sections are"),
    }
}

/// The classes an `api_error` section may go on with.
const CLASSES: &[&str] = &["refused", "rate_limited"];

impl<'a> Sections<'a> {
    pub fn collect(file: &'a ast::File, d: &mut Vec<Diagnostic>) -> Self {
        let mut found = Sections::default();
        let mut first_seen: Vec<(&str, Span)> = Vec::new();
        // The sections a misspelt keyword most likely meant: not reported missing as well.
        let mut meant: Vec<String> = Vec::new();
        let mut previous: Option<&SectionKind> = None;
        for section in &file.sections {
            let keyword = section.keyword.text.as_str();
            if matches!(section.kind, SectionKind::Unknown) {
                let typo = unknown(keyword, section.keyword.span, previous);
                meant.extend(typo.replacement.clone());
                d.push(typo);
                continue;
            }
            previous = Some(&section.kind);
            if let SectionKind::Lookup { name, method, path, settings } = &section.kind {
                found.lookups.push(Lookup { name, method, path, settings: settings.as_ref() });
                continue;
            }
            if let SectionKind::Listing(listing) = &section.kind {
                found.listings.push(listing);
                continue;
            }
            if let Some((_, first)) = first_seen.iter().find(|(k, _)| *k == keyword) {
                d.push(
                    Diagnostic::error(
                        "tib::duplicate-section",
                        format!("`{keyword}` is given twice"),
                        section.keyword.span,
                        "given again here",
                    )
                    .with_label(*first, "first given here")
                    .with_help("a spec has at most one of each section; merge them or delete one"),
                );
                continue;
            }
            first_seen.push((keyword, section.keyword.span));
            if let SectionKind::Gap(gap) = &section.kind {
                let example = REQUIRED.iter().find(|(k, _)| *k == keyword).map_or("the section", |(_, e)| e);
                d.push(super::values::todo(gap, &format!("what the section takes, as in `{example}`")));
                continue;
            }
            found.take(section);
        }
        let anchor = file.sections.first().map(|s| s.keyword.span).unwrap_or_default();
        for (keyword, example) in REQUIRED {
            if !first_seen.iter().any(|(k, _)| k == keyword) && !meant.iter().any(|m| m == keyword) {
                d.push(
                    Diagnostic::error(
                        "tib::missing-section",
                        format!("the spec has no `{keyword}` section"),
                        anchor,
                        "in this spec",
                    )
                    .with_help(format!("add one, e.g. {example}")),
                );
            }
        }
        found
    }

    fn take(&mut self, section: &'a ast::Section) {
        match &section.kind {
            SectionKind::App(name) => self.app = Some(name),
            SectionKind::BaseUrl(url) => self.base_url = Some(url),
            SectionKind::Credentials(list) => self.credentials = list,
            SectionKind::Auth { kind, arg } => self.auth = Some((kind, arg.as_ref())),
            SectionKind::Request { method, path, settings } => {
                self.request = Some(Request { method, path, settings: settings.as_ref() })
            }
            SectionKind::Paginate { style, body } => self.paginate = Some((style, body.as_ref())),
            SectionKind::ApiError { when, message, classes } => {
                self.api_error = Some((when, message.as_ref(), classes))
            }
            SectionKind::Users { path, or_none } => self.users = Some((path, or_none.is_some())),
            SectionKind::Fields(block) => self.fields = Some(block),
            SectionKind::Active(group) => self.active = Some(group),
            SectionKind::Status(status) => self.status = Some(status),
            SectionKind::Licenses(licenses) => self.licenses = Some(licenses),
            SectionKind::CustomFields(block) => self.custom_fields = Some(block),
            SectionKind::Lookup { .. } | SectionKind::Listing(_) | SectionKind::Gap(_) | SectionKind::Unknown => {}
        }
    }
}
