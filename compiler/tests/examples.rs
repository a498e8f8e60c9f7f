//! Every example spec in specs/ (and the Acme spec of the language reference)
//! checks without errors or warnings; its IR is pinned as a snapshot.

mod common;

use std::collections::BTreeSet;

use tib_front::diag::{Style, render};
use tib_front::ir;

#[test]
fn example_specs_check_clean_and_their_ir_is_pinned() {
    let catalog = common::catalog();
    let specs = common::tib_files(&common::root().join("specs"));
    assert!(specs.len() >= 5, "ship at least five example specs");
    for (stem, path, text) in specs {
        let compiled = tib_front::compile(&path, &text, &catalog);
        assert!(compiled.diagnostics.is_empty(), "{}", render(&compiled.diagnostics, &path, &text, Style::Plain));
        let spec = compiled.spec.expect("a clean spec has IR");
        insta::assert_debug_snapshot!(format!("ir_{stem}"), spec);
    }
}

/// Small specs in tests/pass/ that exercise corners of the language the examples do not.
#[test]
fn pass_corpus_checks_clean_and_its_ir_is_pinned() {
    for (stem, path, text) in common::tib_files(&common::root().join("compiler/tests/pass")) {
        let compiled = tib_front::compile(&path, &text, &common::catalog());
        assert!(compiled.diagnostics.is_empty(), "{}", render(&compiled.diagnostics, &path, &text, Style::Plain));
        insta::assert_debug_snapshot!(format!("pass_{stem}"), compiled.spec.expect("clean"));
    }
}

/// The complete example in grammar/README.md is `specs/acme.tib`, word for word.
#[test]
fn the_reference_acme_spec_is_the_shipped_one() {
    let readme = std::fs::read_to_string(common::root().join("grammar/README.md")).expect("readable");
    let start = readme.find("<!-- acme:begin -->").expect("the reference marks the Acme spec");
    let end = readme.find("<!-- acme:end -->").expect("the reference marks the Acme spec's end");
    let block = &readme[start..end];
    let code = block.split("```tib\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a tib code block");
    let shipped = std::fs::read_to_string(common::root().join("specs/acme.tib")).expect("readable");
    assert_eq!(code, shipped, "grammar/README.md and specs/acme.tib must show the same Acme spec");
}

/// Every auth kind, pagination style, stop condition, operator and mode is used by some example.
#[test]
fn examples_cover_the_language() {
    let catalog = common::catalog();
    let mut seen = BTreeSet::new();
    for (_, path, text) in common::tib_files(&common::root().join("specs")) {
        let spec = tib_front::compile(&path, &text, &catalog).spec.expect("clean");
        features(&spec, &mut seen);
    }
    let all = [
        "auth bearer",
        "auth basic",
        "auth headers",
        "auth query",
        "auth oauth_client_credentials",
        "auth oauth_authorization_code",
        "paginate none",
        "paginate offset",
        "paginate page",
        "paginate next_url body",
        "paginate next_url link_header",
        "paginate token body",
        "paginate token header",
        "stop empty_page",
        "stop short_page",
        "stop no_more",
        "stop total",
        "stop missing_token",
        "is",
        "is not",
        "any of",
        "contains",
        "not contains",
        ">=",
        "has value",
        "some",
        "any",
        "status auto",
        "status fixed",
        "except",
        "or",
        "else",
        "users or none",
        "api_error refused",
        "api_error rate_limited",
        "request body",
        "listings",
        "max_users",
        "token into the body",
        "continuation request",
        "client_auth basic",
        "client_auth post",
        "grant_type variant",
        "jwt_bearer grant",
        "client_auth private_key_jwt",
        "base_url_from",
        "status field",
        "status conditions",
        "licenses auto",
        "licenses none",
        "licenses conditions",
        "licenses catch-all",
        "role field",
        "role conditions",
        "role decided",
        "format",
        "each",
        "lookup",
        "lookup not_found none",
        "roles or groups",
        "account_type",
        "auth session",
        "name full",
        "name split",
        "api_error",
        "active everyone",
        "active when",
        "Text",
        "Number",
        "Email",
        "Date",
        "MultiValue",
        "User",
    ];
    let missing: Vec<_> = all.iter().filter(|f| !seen.contains(**f)).collect();
    assert!(missing.is_empty(), "no example spec uses {missing:?}");
}

fn features(spec: &ir::Spec, seen: &mut BTreeSet<String>) {
    let mut add = |f: &str| {
        seen.insert(f.to_owned());
    };
    if spec.max_users.is_some() {
        add("max_users");
    }
    add(match &spec.auth {
        ir::Auth::Bearer { .. } => "auth bearer",
        ir::Auth::Basic { .. } => "auth basic",
        ir::Auth::Headers { .. } => "auth headers",
        ir::Auth::QueryKey { .. } => "auth query",
        ir::Auth::OAuthClientCredentials(_) => "auth oauth_client_credentials",
        ir::Auth::OAuthAuthorizationCode(_) => "auth oauth_authorization_code",
        ir::Auth::Session(_) => "auth session",
    });
    for lookup in &spec.lookups {
        add("lookup");
        if lookup.not_found == ir::NotFound::Nothing {
            add("lookup not_found none");
        }
    }
    if spec.fields.roles.is_some() || spec.fields.groups.is_some() {
        add("roles or groups");
    }
    if spec.fields.account_type.is_some() {
        add("account_type");
    }
    let mut stops: Vec<&str> = Vec::new();
    let token_stop = |s: &ir::TokenStop| match s {
        ir::TokenStop::MissingToken => "stop missing_token",
        ir::TokenStop::EmptyPage => "stop empty_page",
        ir::TokenStop::NoMore(_) => "stop no_more",
    };
    let count_stop = |s: &ir::CountStop| match s {
        ir::CountStop::EmptyPage => "stop empty_page",
        ir::CountStop::ShortPage => "stop short_page",
        ir::CountStop::NoMore(_) => "stop no_more",
        ir::CountStop::Total(_) => "stop total",
    };
    add(match &spec.pagination {
        ir::Pagination::None => "paginate none",
        ir::Pagination::Offset(o) => {
            stops.extend(o.stop.iter().map(count_stop));
            "paginate offset"
        }
        ir::Pagination::PageNumber(p) => {
            stops.extend(p.stop.iter().map(count_stop));
            "paginate page"
        }
        ir::Pagination::NextUrl(n) => {
            stops.extend(n.stop.iter().map(token_stop));
            match n.source {
                ir::NextUrlSource::Body(_) => "paginate next_url body",
                ir::NextUrlSource::LinkHeader => "paginate next_url link_header",
            }
        }
        ir::Pagination::Token(t) => {
            stops.extend(t.stop.iter().map(token_stop));
            match t.source {
                ir::TokenSource::Body(_) => "paginate token body",
                ir::TokenSource::Header(_) => "paginate token header",
            }
        }
    });
    stops.into_iter().for_each(&mut add);
    let mut rules: Vec<&ir::Rule> = Vec::new();
    if let Some(e) = &spec.api_error {
        add("api_error");
        rules.extend(&e.when);
        if let Some(refused) = &e.refused {
            add("api_error refused");
            rules.extend(refused);
        }
        if let Some(limited) = &e.rate_limited {
            add("api_error rate_limited");
            rules.extend(limited);
        }
    }
    if spec.users_optional {
        add("users or none");
    }
    if spec.endpoint.body.is_some() {
        add("request body");
    }
    if !spec.endpoint.listings.is_empty() {
        add("listings");
    }
    if let ir::Pagination::Token(token) = &spec.pagination {
        if matches!(token.param, ir::TokenTarget::Body(_)) {
            add("token into the body");
        }
        if token.continue_path.is_some() {
            add("continuation request");
        }
    }
    let (client_auth, base_url_from) = match &spec.auth {
        ir::Auth::OAuthClientCredentials(o) => {
            if o.grant_type != "client_credentials" {
                add("grant_type variant");
            }
            (Some(o.client_auth), o.base_url_from.is_some())
        }
        ir::Auth::OAuthAuthorizationCode(o) => (Some(o.client_auth), o.base_url_from.is_some()),
        _ => (None, false),
    };
    match client_auth {
        Some(ir::ClientAuth::Basic) => add("client_auth basic"),
        Some(ir::ClientAuth::Post) => add("client_auth post"),
        Some(ir::ClientAuth::PrivateKeyJwt) => add("client_auth private_key_jwt"),
        Some(ir::ClientAuth::None) => add("jwt_bearer grant"),
        None => {}
    }
    if base_url_from {
        add("base_url_from");
    }
    let mapped = spec.mapped();
    for value in mapped {
        if value.sources.len() > 1 {
            add("or");
        }
        if value.sources.iter().any(|s| !s.except.is_empty()) {
            add("except");
        }
        if value.fallback.is_some() {
            add("else");
        }
        if value.sources.iter().any(|s| matches!(s.origin, ir::Origin::Format { .. })) {
            add("format");
        }
        if value.sources.iter().any(|s| matches!(s.origin, ir::Origin::Each { .. })) {
            add("each");
        }
    }
    match &spec.active {
        ir::Active::Everyone => add("active everyone"),
        ir::Active::When(r) => {
            add("active when");
            rules.extend(r);
        }
    }
    match &spec.status {
        ir::StatusInApp::Auto => add("status auto"),
        ir::StatusInApp::Fixed(_) => add("status fixed"),
        ir::StatusInApp::Field(_) => add("status field"),
        ir::StatusInApp::Conditions(b) => {
            add("status conditions");
            rules.extend(b.branches.iter().flat_map(|b| &b.when));
        }
    }
    match &spec.fields.role {
        Some(ir::Labelled::Field(_)) => add("role field"),
        Some(ir::Labelled::Conditions(b)) => {
            add("role conditions");
            rules.extend(b.branches.iter().flat_map(|b| &b.when));
        }
        Some(ir::Labelled::Decided { branches, .. }) => {
            add("role decided");
            rules.extend(branches.iter().flat_map(|b| &b.when));
        }
        None => {}
    }
    match &spec.fields.name {
        Some(ir::Name::Full(_)) => add("name full"),
        Some(ir::Name::Split { .. }) => add("name split"),
        None => {}
    }
    match &spec.licenses {
        ir::Licenses::Auto { .. } => add("licenses auto"),
        ir::Licenses::None => add("licenses none"),
        ir::Licenses::Conditions { licenses, catch_all } => {
            add("licenses conditions");
            if catch_all.is_some() {
                add("licenses catch-all");
            }
            rules.extend(licenses.iter().flat_map(|l| &l.when));
        }
    }
    for field in &spec.custom_fields {
        add(&format!("{:?}", field.kind));
    }
    while let Some(rule) = rules.pop() {
        add(match &rule.test {
            ir::Test::Is(_) => "is",
            ir::Test::IsNot(_) => "is not",
            ir::Test::AnyOf(_) => "any of",
            ir::Test::Contains(_) => "contains",
            ir::Test::NotContains(_) => "not contains",
            ir::Test::AtLeast(_) => ">=",
            ir::Test::HasValue => "has value",
            ir::Test::Some(inner) => {
                rules.extend(inner);
                "some"
            }
            ir::Test::Any(groups) => {
                rules.extend(groups.iter().flatten());
                "any"
            }
        });
    }
}
