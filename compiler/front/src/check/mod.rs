//! Check: the AST to the IR. Owns every semantic rule of the language.
//!
//! Each pass reads one concern of the spec, pushes every problem it sees and
//! returns its part of the IR when that part is sound; the spec is built only
//! when no pass reported an error.

mod auth;
mod credentials;
mod endpoint;
mod fields;
mod listing;
mod lookup;
mod paginate;
mod rules;
mod sections;
mod settings;
mod shape;
mod status;
mod values;

/// The words of the language, for tools that offer them (the language
/// server's completion): the same lists the checks accept.
pub mod vocabulary {
    pub use super::auth::{KINDS as AUTH_KINDS, settings as auth_settings};
    pub use super::endpoint::REQUEST_SETTINGS;
    pub use super::fields::FIELDS;
    pub use super::listing::{LISTING_SETTINGS, MEMBERS_SETTINGS};
    pub use super::lookup::LOOKUP_SETTINGS;
    pub use super::paginate::{STYLES as PAGINATION_STYLES, settings as pagination_settings, stop_conditions};
    pub use super::rules::OPERATORS;
    pub use super::sections::KEYWORDS as SECTIONS;
}

use crate::ast;
use crate::catalog::Catalog;
use crate::diag::Diagnostic;
use crate::ident;
use crate::ir;

/// Checks one parsed spec. `source` is its workspace-relative path.
/// Returns the IR when no error was found; diagnostics go to `diagnostics`.
pub fn check(file: &ast::File, source: &str, catalog: &Catalog, diagnostics: &mut Vec<Diagnostic>) -> Option<ir::Spec> {
    let errors_before = diagnostics.iter().filter(|d| d.is_error()).count();
    let d = diagnostics;
    let sections = sections::Sections::collect(file, d);

    let app = sections.app.and_then(|name| app(name, d));
    let mut credentials = credentials::Credentials::declare(sections.credentials, d);
    let base_url = sections.base_url.and_then(|url| endpoint::base_url(url, &mut credentials, d));
    let auth = sections.auth.and_then(|(kind, arg)| auth::auth(kind, arg, &mut credentials, d));
    let paging = sections.paginate.and_then(|(style, body)| paginate::pagination(style, body, d));
    let (pagination, max_users) = match paging {
        Some((pagination, max_users)) => (Some(pagination), max_users),
        None => (None, None),
    };
    let endpoint = sections
        .request
        .and_then(|request| endpoint::endpoint(request, pagination.as_ref(), auth.as_ref(), &mut credentials, d));
    let written = lookup::Written::collect(&sections.lookups, &credentials);
    let session: Vec<String> = match &auth {
        Some(ir::Auth::Session(session)) => session.values.iter().map(|(name, _)| name.clone()).collect(),
        _ => Vec::new(),
    };
    let mut lookups = lookup::lookups(&sections.lookups, &written, &session, &mut credentials, d);
    let lookup_names: Vec<&ast::Word> = sections.lookups.iter().map(|lookup| lookup.name).collect();
    let listings = match &mut lookups {
        Some(checked) => {
            let mut context = listing::Context { creds: &mut credentials, session: &session, lookups: &lookup_names };
            listing::listings(&sections.listings, &mut context, &mut checked.keys, d)
        }
        None => None,
    };
    if let (Some((_, Some(paging))), Some(ir::Endpoint { body: Some(body), .. })) = (sections.paginate, &endpoint) {
        paginate::quoted_body_field(paging, body, d);
    }
    let api_error = sections.api_error.map(|(when, message, classes)| endpoint::api_error(when, message, classes, d));
    let users_path = sections.users.map(|(path, _)| values::path(path, d));
    let fields = sections.fields.and_then(|block| fields::fields(block, d));
    let active = status::active(sections.active, d);
    let status = sections.status.and_then(|status| status::status(status, d));
    let licenses = sections.licenses.map(|licenses| status::licenses(licenses, app.as_ref(), d));
    let custom_fields = fields::custom_fields(sections.custom_fields, app.as_ref(), catalog, d);
    // A failed auth or base_url may not have marked its credentials used.
    if auth.is_some() && base_url.is_some() {
        credentials.warn_unused(d);
    }
    if let (
        Some(ir::Active::When(active_rules)),
        Some(active_group),
        Some(ir::StatusInApp::Conditions(checked)),
        Some(ast::Status::Branches(written)),
    ) = (&active, sections.active, &status, sections.status)
    {
        status::warn_active_label_of_inactive(written, checked, active_group, active_rules, d);
    }
    if let (Some(ir::Active::When(_)), Some(active_group), Some(ast::Status::Fixed(label))) =
        (&active, sections.active, sections.status)
    {
        status::warn_fixed_active_label(label, active_group, d);
    }

    if d.iter().filter(|d| d.is_error()).count() > errors_before {
        return None;
    }
    // Shapes compare paths across sections, so they are built once all sections are sound.
    let lookups = lookups?;
    let keys: Vec<&ast::Path> = lookups.keys.iter().map(|(_, written)| *written).collect();
    let mut listings = listings?;
    let names: Vec<&str> = lookups
        .lookups
        .iter()
        .map(|lookup| lookup.name.as_str())
        .chain(listings.iter().map(|l| l.name.as_str()))
        .collect();
    let shapes = shape::shapes(file, &keys, &names, d)?;
    lookup::warn_unread(&sections.lookups, &shapes.user, d);
    if !listing::read_as_written(&sections.listings, &mut listings, &shapes.user, d) {
        return None;
    }
    let app = app?;
    let licenses = match licenses {
        Some(checked) => checked?,
        None => ir::Licenses::Auto { name: app.name.clone() },
    };
    let mut spec = ir::Spec {
        source: source.to_owned(),
        app,
        credentials: credentials.into_ir(),
        auth: auth?,
        base_url: base_url?,
        endpoint: endpoint?,
        lookup_keys: lookups.keys.into_iter().map(|(path, _)| path).collect(),
        lookups: lookups.lookups,
        listings,
        pagination: pagination?,
        max_users,
        api_error: api_error.flatten(),
        users_path: users_path??,
        users_optional: sections.users.is_some_and(|(_, optional)| optional),
        fields: fields?,
        active: active?,
        status: status.unwrap_or(ir::StatusInApp::Auto),
        licenses,
        custom_fields: custom_fields?,
        shapes,
    };
    // Each value built from others (a format, a list of items' values) gets its own slot: generated code
    // builds each once per user.
    for (slot, built) in spec.mapped_mut().into_iter().flat_map(ir::Mapped::built_mut).enumerate() {
        *built = slot;
    }
    Some(spec)
}

fn app(name: &ast::Str, d: &mut Vec<Diagnostic>) -> Option<ir::App> {
    let text = values::plain(name, "the app name", d)?;
    if text.trim().is_empty() || !text.chars().any(|c| c.is_ascii_alphanumeric()) {
        d.push(
            Diagnostic::error("tib::app-name", "the app name has no letters or digits", name.span, "empty name")
                .with_help("name the app as people know it, e.g. app \"Okta\""),
        );
        return None;
    }
    Some(ir::App { id: ident::app_id(&text), name: text })
}
