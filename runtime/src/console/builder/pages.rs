//! The builder's templates: the list of integrations, a draft's steps, the
//! test's report, the live preview and the text's diagnostics.

use maud::{Markup, Render, html};
use tib_front::catalog::Catalog;
use tib_front::diag::{Diagnostic, Severity};
use url::Url;

use super::super::layout::{Nav, Page, csrf_field, line, navigation};
use super::{step_path, test_redirect_url};
use crate::builder::form::{self, Auth, Endpoint, General, Labelled, Licenses, Mapping, Row, Rules, Status};
use crate::builder::text::{self, Parsed};
use crate::builder::trial::{self, Found, Report};
use crate::builder::{Draft, Opened};
use crate::integrations::{Integration, Origin};
use crate::web::percent_encode;

/// The builder's six steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    General,
    Auth,
    Endpoint,
    Test,
    Map,
    Review,
}

impl Step {
    const ALL: [Step; 6] = [Step::General, Step::Auth, Step::Endpoint, Step::Test, Step::Map, Step::Review];

    pub fn slug(self) -> &'static str {
        match self {
            Step::General => "general",
            Step::Auth => "auth",
            Step::Endpoint => "endpoint",
            Step::Test => "test",
            Step::Map => "map",
            Step::Review => "review",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.slug() == slug)
    }

    fn title(self) -> &'static str {
        match self {
            Step::General => "General",
            Step::Auth => "Authentication",
            Step::Endpoint => "Users endpoint",
            Step::Test => "Test the connection",
            Step::Map => "Map fields",
            Step::Review => "Review and save",
        }
    }

    pub fn next(self) -> Step {
        let at = Step::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Step::ALL.get(at + 1).copied().unwrap_or(Step::Review)
    }
}

/// `/builder`: every integration, and a new one.
pub(super) struct List {
    pub nav: Nav,
    pub done: Option<String>,
    /// The specs directory, when the builder may save.
    pub specs: Option<String>,
    pub integrations: Vec<Integration>,
}

impl Render for List {
    fn render(&self) -> Markup {
        html! {
            (navigation(&self.nav))
            (super::super::layout::done(self.done.as_deref()))
            h1 { "Integration Builder" }
            @match &self.specs {
                Some(dir) => { p { "Integrations you build are saved in " code { (dir) } " and offered to connect at once." } }
                None => { p.warning #read-only {
                    "Read-only: this server has no specs directory, so the builder can build and test an integration \
                     but not save it. Start it with " code { "tib serve --specs DIR" } " (or set " code { "TIB_SPECS" }
                    ") to save."
                } }
            }
            form.inline method="post" action="/builder/new" {
                (csrf_field(&self.nav))
                button #new-integration type="submit" { "New integration" }
            }
            h2 { "Integrations" }
            table #builder-integrations {
                thead { tr { th { "Integration" } th { "From" } th {} } }
                tbody {
                    @for integration in &self.integrations {
                        tr {
                            td { (integration.connector.spec().app) " " small { "(" (integration.id) ")" } }
                            td {
                                @match &integration.origin {
                                    Origin::Compiled => "compiled into this build",
                                    Origin::Interpreted(path) => { "interpreted from " code { (path.display()) } }
                                }
                            }
                            td {
                                form.inline method="post" action={ "/builder/open/" (percent_encode(&integration.id)) } {
                                    (csrf_field(&self.nav))
                                    button type="submit" { "Open in the builder" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Page for List {
    fn title(&self) -> String {
        "Integration Builder".to_owned()
    }
}

/// The custom fields the catalog gives the draft's app.
pub(super) fn catalog_names(parsed: &Parsed<'_>, catalog: &Catalog) -> Vec<String> {
    let app = form::General::read(parsed).app;
    catalog.app(&app).map(|fields| fields.keys().cloned().collect()).unwrap_or_default()
}

/// What a step's page says at its top: what was done, or what went wrong.
pub enum Note {
    Done(String),
    Problem(String),
}

/// What every step's page is made with besides its draft.
#[derive(Clone, Copy)]
pub(super) struct Context<'a> {
    pub nav: &'a Nav,
    pub catalog: &'a Catalog,
    /// This server's: redirect URLs are made from it.
    pub public_url: &'a Url,
    /// Whether the review's Save saves, and if not, why.
    pub saving: Saving,
}

/// Whether a draft can be saved from the builder, and if not, why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Saving {
    Open,
    /// The server was started without a specs directory to save into.
    NoSpecsDirectory,
    /// The operator is a viewer: they may build and test, not save.
    Viewer,
}

/// One step of a draft.
pub(super) struct Workspace {
    nav: Nav,
    draft: String,
    step: Step,
    name: String,
    opened: Opened,
    note: Option<Note>,
    body: Markup,
}

impl Workspace {
    pub fn new(draft: &Draft, step: Step, context: &Context<'_>, note: Option<Note>) -> Workspace {
        let Context { nav, catalog, public_url, saving } = *context;
        let csrf: &str = nav;
        let parsed = text::parse(&draft.text);
        let name = parsed.as_ref().ok().map(|p| General::read(p).app).filter(|n| !n.is_empty());
        let body = match (&parsed, step) {
            (_, Step::Review) => review(draft, catalog, csrf, saving),
            (_, Step::Test) => test_step(draft, catalog, public_url, csrf),
            (Ok(parsed), step) => {
                let steps = Steps { csrf, draft: &draft.id, parsed, catalog, public_url };
                match step {
                    Step::General => steps.general(),
                    Step::Auth => steps.auth(),
                    Step::Endpoint => steps.endpoint(),
                    _ => steps.map(draft),
                }
            }
            (Err(unreadable), _) => html! {
                p.error role="alert" { (unreadable.to_string()) }
                p { "The forms show the spec once it reads: " a href=(step_path(&draft.id, Step::Review)) { "fix it in the text" } "." }
            },
        };
        Workspace {
            nav: nav.clone(),
            draft: draft.id.clone(),
            step,
            name: name.unwrap_or_else(|| "New integration".to_owned()),
            opened: draft.opened.clone(),
            note,
            body,
        }
    }
}

impl Render for Workspace {
    fn render(&self) -> Markup {
        html! {
            (navigation(&self.nav))
            @match &self.note {
                Some(Note::Done(done)) => (super::super::layout::done(Some(done))),
                Some(Note::Problem(problem)) => p.error role="alert" { (line(problem)) },
                None => {}
            }
            p { a href="/builder" { "Integration Builder" } }
            h1 { (self.name) }
            @match &self.opened {
                Opened::New => {}
                Opened::File { path, .. } => p { "Editing " code { (path.display()) } " in place." }
                Opened::Copy { of } => p.warning {
                    "A copy of the compiled integration " code { (of) } ": saved, it is a new spec, and the compiled \
                     connector takes precedence until it is removed from " code { "specs/" } " and the runtime rebuilt."
                }
            }
            nav.steps aria-label="Steps" {
                ol {
                    @for (i, step) in Step::ALL.iter().enumerate() {
                        li {
                            @if *step == self.step {
                                strong aria-current="step" { (i + 1) ". " (step.title()) }
                            } @else {
                                a href=(step_path(&self.draft, *step)) { (i + 1) ". " (step.title()) }
                            }
                        }
                    }
                }
            }
            h2 { (self.step.title()) }
            (self.body)
            script src="/builder.js" {}
        }
    }
}

impl Page for Workspace {
    fn title(&self) -> String {
        format!("{} · {}", self.step.title(), self.name)
    }
}

/// The form of the steps read from the text.
struct Steps<'a> {
    csrf: &'a str,
    draft: &'a str,
    parsed: &'a Parsed<'a>,
    catalog: &'a Catalog,
    public_url: &'a Url,
}

/// A labelled input; `hint` under it.
fn input(name: &str, label: &str, value: &str, hint: Markup) -> Markup {
    html! {
        label for=(name) { (label) }
        @if value.contains('\n') {
            textarea id=(name) name=(name) rows="4" { (value) }
        } @else {
            input type="text" id=(name) name=(name) value=(value) autocomplete="off";
        }
        small { (hint) }
    }
}

/// A setting's hint: what its value looks like in the spec.
fn setting_hint(name: &str) -> Markup {
    let example = match name {
        "scopes" => r#"["users:read", "admin"]"#,
        "token_params" | "authorize_params" | "refresh_params" | "query" | "headers" => r#"{ "name" = "value" }"#,
        "body" => r#"{ "query" = "…" }"#,
        "listings" => r#"[{ "status" = "active" }, { "status" = "invited" }]"#,
        "client_auth" => r#""basic", "post" or "private_key_jwt""#,
        "grant_type" => r#""client_credentials", a provider's variant, or "jwt_bearer" (a service account)"#,
        "subject" => r#"the user a service account acts for: "{admin_email}""#,
        "key_id" => r#"the kid of the signing key: "key-2024""#,
        "refresh_tokens" => "true or false",
        "base_url_from" => "a field of the token answer: instance_url",
        "page_size" | "start" | "first_page" | "concurrency" => "a number: 100",
        "max_users" => "the most users the API lists this way: 10000",
        "continue_path" => "a path in the answer: data.next",
        "path" => r#"the sign-in path after base_url: "/auth/signin""#,
        "token" => "where the sign-in answer holds the token: credentials.token",
        "header" => r#"the header the token is sent in: "X-Tableau-Auth" (else Authorization: Bearer)"#,
        "values" => "values of the answer the users path names: { site_id = credentials.site.id }",
        _ => r#""text", with {credential} where a credential goes"#,
    };
    html! { "As the spec writes it: " code { (example) } }
}

impl Steps<'_> {
    fn action(&self, step: Step) -> String {
        step_path(self.draft, step)
    }

    fn general(&self) -> Markup {
        let general = General::read(self.parsed);
        html! {
            form.dialog #general method="post" action=(self.action(Step::General)) {
                (csrf_field(self.csrf))
                label for="app" { "App name" }
                input type="text" id="app" name="app" value=(general.app) list="catalog-apps" required autocomplete="off";
                datalist #catalog-apps { @for app in self.catalog.app_names() { option value=(app) {} } }
                small { "As people know it. An app of the custom-field catalog brings its custom fields to the mapping." }
                (input("base_url", "Base URL", &general.base_url, html! {
                    "Where the API is: " code { "https://api.example.com/v1" } ". A part that differs per account is a \
                     credential asked at connect: " code { "https://{subdomain}.example.com" } "."
                }))
                p { button type="submit" { "Save and continue" } }
            }
        }
    }

    fn auth(&self) -> Markup {
        let auth = Auth::read(self.parsed);
        let kinds = tib_front::check::vocabulary::AUTH_KINDS;
        let app_id = tib_front::ident::app_id(&General::read(self.parsed).app);
        let mut credentials = auth.credentials.clone();
        credentials.push(form::Credential { kind: "secret".into(), ..form::Credential::default() });
        let mut headers = auth.headers.clone();
        headers.push(form::Header::default());
        html! {
            form.dialog #auth method="post" action=(self.action(Step::Auth)) {
                (csrf_field(self.csrf))
                label for="kind" { "Kind" }
                select #kind name="kind" {
                    @if auth.kind.is_empty() { option value="" selected { "Choose…" } }
                    @for kind in kinds { option value=(kind) selected[*kind == auth.kind] { (kind_words(kind)) } }
                }
                " " button type="submit" name="choose" value="kind" { "Choose" }
                @match auth.kind.as_str() {
                    "" => {}
                    "bearer" => {
                        (input("token", "Token", &auth.token, html! {
                            "Sent as " code { "Authorization: Bearer …" } ". " code { "{api_token}" } " is a credential asked at connect."
                        }))
                    }
                    "headers" => {
                        fieldset #headers {
                            legend { "Headers" }
                            @for (i, header) in headers.iter().enumerate() {
                                div.row {
                                    input type="text" name={ "header." (i) ".name" } value=(header.name) placeholder="Header" aria-label="Header name";
                                    input type="text" name={ "header." (i) ".value" } value=(header.value) placeholder="Value" aria-label="Header value";
                                    label.check { input type="checkbox" name={ "header." (i) ".ask" } checked[header.at_connect]; " set at connect" }
                                }
                            }
                            small { "A header set at connect is a secret the connect dialog asks for: never typed into the spec." }
                        }
                    }
                    kind => {
                        @for name in tib_front::check::vocabulary::auth_settings(kind) {
                            @let value = auth.settings.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str());
                            (input(&format!("set.{name}"), name, value, setting_hint(name)))
                        }
                        @if kind.starts_with("oauth") {
                            p { small { "The client id and client secret are asked at connect, as " code { "client_id" } " and " code { "client_secret" } "." } }
                        }
                        @if kind == "oauth_authorization_code" {
                            @let production = tib_support::oauth::production_redirect_url(self.public_url, &app_id);
                            @let test = test_redirect_url(self.public_url);
                            h3 { "Redirect URLs to register with the provider" }
                            p { "Production: " code #production-redirect { (production) } " " button type="button" data-copy=(production) { "Copy" } }
                            p { "Test, for this builder: " code #test-redirect { (test) } " " button type="button" data-copy=(test) { "Copy" } }
                        }
                    }
                }
                fieldset #credentials {
                    legend { "Credentials asked at connect" }
                    @for (i, credential) in credentials.iter().enumerate() {
                        div.row {
                            input type="text" name={ "cred." (i) ".name" } value=(credential.name) placeholder="name" aria-label="Credential name";
                            select name={ "cred." (i) ".kind" } aria-label="Credential kind" {
                                option value="secret" selected[credential.kind == "secret"] { "secret" }
                                option value="text" selected[credential.kind == "text"] { "text" }
                            }
                            input type="text" name={ "cred." (i) ".description" } value=(credential.description) placeholder="What to give, and where to find it" aria-label="Credential description";
                        }
                    }
                    small { "Each " code { "{name}" } " in the base URL, the auth or the request is one of these. Empty the name to remove one." }
                }
                p { button type="submit" { "Save and continue" } }
            }
        }
    }

    fn endpoint(&self) -> Markup {
        let endpoint = Endpoint::read(self.parsed);
        let mut stops = endpoint.stops.clone();
        stops.push(String::new());
        let style = endpoint.style.as_str();
        html! {
            form.dialog #endpoint method="post" action=(self.action(Step::Endpoint)) {
                (csrf_field(self.csrf))
                label for="method" { "Method" }
                select #method name="method" {
                    @for method in ["GET", "POST"] { option value=(method) selected[endpoint.method == method] { (method) } }
                }
                (input("path", "Path", &endpoint.path, html! { "After the base URL: " code { "/users" } }))
                details open[!endpoint.request.is_empty()] {
                    summary { "Query, headers, body, listings" }
                    @for name in tib_front::check::vocabulary::REQUEST_SETTINGS {
                        @let value = endpoint.request.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str());
                        (input(&format!("req.{name}"), name, value, setting_hint(name)))
                    }
                }
                label for="style" { "Pagination" }
                select #style name="style" {
                    @if style.is_empty() { option value="" selected { "Choose…" } }
                    @for s in tib_front::check::vocabulary::PAGINATION_STYLES { option value=(s) selected[*s == style] { (s) } }
                }
                " " button type="submit" name="choose" value="style" { "Choose" }
                @for name in tib_front::check::vocabulary::pagination_settings(style) {
                    @let value = endpoint.paging.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str());
                    (input(&format!("page.{name}"), name, value, setting_hint(name)))
                }
                @if matches!(style, "next_url" | "token") {
                    (input("from", "Next page from", &endpoint.from, html! {
                        "Where the next URL or token is: " code { "body data.next" } " or " code { "header Link" }
                    }))
                }
                @if !tib_front::check::vocabulary::stop_conditions(style).is_empty() {
                    fieldset #stops {
                        legend { "Stop when" }
                        @for (i, stop) in stops.iter().enumerate() {
                            input type="text" name={ "stop." (i) } value=(stop) aria-label="Stop condition" list="stop-conditions";
                        }
                        datalist #stop-conditions { @for s in tib_front::check::vocabulary::stop_conditions(style) { option value=(s) {} } }
                        small { "One of: " (tib_front::check::vocabulary::stop_conditions(style).join(", ")) "; " code { "no_more has_more" } " names the flag." }
                    }
                }
                (input("users_at", "Users at", &endpoint.users_at, html! {
                    "The path of the users array in the answer: " code { "data.users" } ", or " code { "." } " when the answer is the array. The test suggests it."
                }))
                label.check { input type="checkbox" name="or_none" checked[endpoint.or_none]; " A page may have no users key (none)" }
                p { button type="submit" { "Save and continue" } }
            }
        }
    }

    fn map(&self, draft: &Draft) -> Markup {
        let names = catalog_names(self.parsed, self.catalog);
        let mapping = Mapping::read(self.parsed, &names);
        let rules = Rules::read(self.parsed);
        let types = General::read(self.parsed).app;
        let types = self.catalog.app(&types);
        let sample = sample_fields(draft, self.catalog);
        html! {
            @if sample.is_empty() {
                p.warning { "No sample yet: " a href=(step_path(self.draft, Step::Test)) { "run the test" } " to pick fields from the real answer." }
            } @else {
                details #picker open {
                    summary { "Fields in the sample (" (sample.len()) ")" }
                    p { small { "Click a field below (or a rule's path), then Use on a row: the path goes there." } }
                    table {
                        thead { tr { th { "Path" } th { "Users with it" } th { "Example" } th {} } }
                        tbody {
                            @for field in &sample {
                                tr {
                                    td { code { (field.path) } } td { (field.count) } td { (line(&field.example)) }
                                    td { button type="button" data-path=(field.path) { "Use" } }
                                }
                            }
                        }
                    }
                }
            }
            datalist #paths { @for field in &sample { option value=(field.path) {} } }
            form.dialog #mapping method="post" action=(self.action(Step::Map)) data-preview={ "/builder/" (percent_encode(self.draft)) "/preview" } {
                (csrf_field(self.csrf))
                fieldset {
                    legend { "Fields" }
                    @for (name, value) in &mapping.fields {
                        @let required = matches!(name.as_str(), "id" | "email");
                        label for={ "field-" (name) } { (field_words(name)) @if required { " (required)" } }
                        input type="text" id={ "field-" (name) } name={ "field." (name) } value=(value) list="paths" autocomplete="off";
                    }
                    small { "A path in each user, or paths tried in turn: " code { "profile.email or email" } "." }
                }
                @if !mapping.custom.is_empty() {
                    fieldset #custom {
                        legend { "Custom fields" }
                        @for (i, (name, value)) in mapping.custom.iter().enumerate() {
                            @let kind = types.and_then(|t| t.get(name)).map(|t| format!("{t:?}")).unwrap_or_default();
                            input type="hidden" name={ "custom." (i) ".name" } value=(name);
                            label for={ "custom-" (i) } { (name) " " small { (kind) } }
                            input type="text" id={ "custom-" (i) } name={ "custom." (i) ".value" } value=(value) list="paths" autocomplete="off";
                        }
                    }
                }
                (rules_form(&rules))
                p { button type="submit" { "Save and continue" } }
            }
            section #preview aria-live="polite" { (preview_part(draft, self.catalog, None)) }
        }
    }
}

fn kind_words(kind: &str) -> &'static str {
    match kind {
        "bearer" => "Bearer token",
        "basic" => "Basic (user name and password)",
        "headers" => "Custom headers",
        "query" => "A key in the query",
        "oauth_client_credentials" => "OAuth 2.0 client credentials",
        "oauth_authorization_code" => "OAuth 2.0 authorization code",
        "session" => "A sign-in session (the answer holds the token)",
        _ => "another kind",
    }
}

fn field_words(name: &str) -> String {
    match name {
        "id" => "External id".to_owned(),
        "email" => "Email".to_owned(),
        "username" => "Username".to_owned(),
        "name" => "Full name".to_owned(),
        "first_name" => "First name".to_owned(),
        "last_name" => "Last name".to_owned(),
        "role" => "Role".to_owned(),
        "created_at" => "Created".to_owned(),
        "last_seen_at" => "Last visit".to_owned(),
        other => other.to_owned(),
    }
}

/// The rows of one rule group, and one empty row to add a rule.
fn rows(prefix: &str, rows: &[Row]) -> Markup {
    let mut rows = rows.to_vec();
    rows.push(Row { op: "is".into(), ..Row::default() });
    html! {
        div.rules {
            @for (i, row) in rows.iter().enumerate() {
                div.row.rule {
                    @if row.op == form::WRITTEN {
                        input type="hidden" name={ (prefix) "." (i) ".op" } value=(form::WRITTEN);
                        input type="hidden" name={ (prefix) "." (i) ".path" } value="";
                        textarea name={ (prefix) "." (i) ".value" } rows="2" aria-label="Rule as written" { (row.value) }
                    } @else {
                        input type="text" name={ (prefix) "." (i) ".path" } value=(row.path) list="paths" placeholder="path" aria-label="Path";
                        select name={ (prefix) "." (i) ".op" } aria-label="Operator" {
                            @for op in form::OPERATORS { option value=(op) selected[*op == row.op] { (op) } }
                        }
                        input type="text" name={ (prefix) "." (i) ".value" } value=(row.value) placeholder="value" aria-label="Value";
                    }
                }
            }
        }
    }
}

/// Labels (status branches, licenses) with their rules, and one empty to add one.
fn labelled(prefix: &str, what: &str, items: &[Labelled]) -> Markup {
    let mut items = items.to_vec();
    items.push(Labelled::default());
    html! {
        @for (i, item) in items.iter().enumerate() {
            div.labelled {
                input type="text" name={ (prefix) "." (i) ".label" } value=(item.label) placeholder=(what) aria-label=(what);
                " when all of:"
                (rows(&format!("{prefix}.{i}.rule"), &item.rows))
            }
        }
    }
}

fn rules_form(rules: &Rules) -> Markup {
    let (status_kind, field, fixed, branches, status_otherwise) = match &rules.status {
        Status::Auto => ("auto", "", "", &[][..], ""),
        Status::Field(path) => ("field", path.as_str(), "", &[][..], ""),
        Status::Fixed(label) => ("fixed", "", label.as_str(), &[][..], ""),
        Status::Conditions { branches, otherwise } => ("conditions", "", "", branches.as_slice(), otherwise.as_str()),
    };
    let (licenses_kind, auto_name, licenses, licenses_otherwise) = match &rules.licenses {
        Licenses::Auto(name) => ("auto", name.as_str(), &[][..], ""),
        Licenses::None => ("none", "", &[][..], ""),
        Licenses::Conditions { licenses, otherwise } => ("conditions", "", licenses.as_slice(), otherwise.as_str()),
    };
    html! {
        fieldset #active {
            legend { "Calculated status: who is active" }
            small {
                "Active when every rule holds; no rule: everyone is active. With " code { "some" } ", the value is the \
                 rules one item of the list must hold: " code { "name is \"admin\"" } "; with " code { "any" } " (no path), \
                 the alternatives, one of which must hold: " code { "state is \"active\" or role is \"admin\"" } "."
            }
            (rows("active", &rules.active))
        }
        fieldset #status {
            legend { "Status in app" }
            @for (value, words) in [("auto", "Active or Deleted, from the rules above"), ("field", "A field of the user"), ("fixed", "One label for everyone"), ("conditions", "Labels by conditions")] {
                label.check { input type="radio" name="status" value=(value) checked[value == status_kind]; " " (words) }
            }
            input type="text" name="status.field" value=(field) list="paths" placeholder="the field's path" aria-label="Status field";
            input type="text" name="status.fixed" value=(fixed) placeholder="label" aria-label="Fixed status label";
            (labelled("branch", "label", branches))
            input type="text" name="status.otherwise" value=(status_otherwise) placeholder="label otherwise" aria-label="Status otherwise";
        }
        fieldset #licenses {
            legend { "Licenses" }
            label.check { input type="radio" name="licenses" value="auto" checked[licenses_kind == "auto"]; " One license for every active user" }
            input type="text" name="licenses.name" value=(auto_name) placeholder="named as the app" aria-label="License name";
            label.check { input type="radio" name="licenses" value="conditions" checked[licenses_kind == "conditions"]; " Licenses by conditions (several may hold)" }
            label.check { input type="radio" name="licenses" value="none" checked[licenses_kind == "none"]; " No licenses: the app has no tiers" }
            (labelled("license", "license", licenses))
            input type="text" name="licenses.otherwise" value=(licenses_otherwise) placeholder="license otherwise" aria-label="License otherwise";
        }
    }
}

/// The paths of the sample's users, for the picker.
fn sample_fields(draft: &Draft, catalog: &Catalog) -> Vec<compiler::preview::report::FieldPath> {
    let Some(Ok(answer)) = draft.trial.report.as_ref().map(|r| &r.answer) else { return Vec::new() };
    let Ok(Ok(connector)) = trial::connector(&draft.text, catalog) else { return Vec::new() };
    compiler::preview::report::field_paths(&trial::sample_users(&connector, &answer.body))
}

/// The preview of the draft's users, or why there is none.
pub(super) fn preview_part(draft: &Draft, catalog: &Catalog, problem: Option<String>) -> Markup {
    let Some(Ok(answer)) = draft.trial.report.as_ref().map(|r| &r.answer) else {
        return html! { p { "The preview shows the users of the test's answer: run the test first." } };
    };
    let checked = draft.check(catalog);
    let warnings: Vec<&Diagnostic> = checked.diagnostics.iter().filter(|d| !d.is_error()).collect();
    let Some(spec) = checked.spec else {
        return html! {
            @if let Some(problem) = problem { p.error { (problem) } }
            p.error { "The spec has errors, so there is no preview:" }
            (diagnostics(&checked.diagnostics, &draft.text))
        };
    };
    let preview = match trial::preview(spec, &answer.body, &answer.joined) {
        Ok(preview) => preview,
        Err(error) => return html! { p.error { "The answer cannot be read with this spec: " (line(&error)) } },
    };
    html! {
        h3 { "Preview" }
        p #preview-summary { (preview.total) " users map, " (preview.dropped.len()) " dropped, " (preview.active.len()) " active." }
        @if let Some(failed) = &answer.lookups_failed {
            p.error { "The lookups could not be asked, so the values they give are missing: " (line(failed)) }
        }
        @if !warnings.is_empty() { ul.problems { @for w in &warnings { li { (line(&w.message)) } } } }
        ul.problems {
            @for path in &preview.absent { li { "No sample user has " code { (path) } "." } }
            @for (id, why) in &preview.dropped { li { "Dropped " (id.as_deref().unwrap_or("a user")) ": " (line(why)) "." } }
            @for (id, field, why) in &preview.left_out { li.mismatch { (id) ": " (field) " left out: " (line(why)) "." } }
            @for id in &preview.active_but_inactive { li { (id) " is labelled Active while the active rules say inactive." } }
            @for (license, holders) in &preview.licenses { @if holders.is_empty() { li { "No sample user holds " (license) "." } } }
        }
        div #matches {
            details { summary { "Active: " (preview.active.len()) } p { (preview.active.join(", ")) } }
            @for (label, ids) in &preview.labels { details { summary { "Status " (label) ": " (ids.len()) } p { (ids.join(", ")) } } }
            @for (license, holders) in &preview.licenses {
                details.license { summary { "License " (license) ": " (holders.len()) } p { (holders.join(", ")) } }
            }
        }
        table #preview-users {
            thead { tr { th { "Id" } th { "Email" } th { "Name" } th { "Role" } th { "Active" } th { "Status" } th { "Licenses" } th { "Custom fields" } } }
            tbody {
                @for user in &preview.users {
                    @let name = user.full_name.clone().unwrap_or_else(|| format!("{} {}", user.first_name.as_deref().unwrap_or(""), user.last_name.as_deref().unwrap_or("")));
                    tr {
                        td { (user.external_id) } td { (user.email) } td { (line(name.trim())) }
                        td { (user.role.as_deref().unwrap_or("")) } td { (if user.active { "yes" } else { "no" }) }
                        td { (user.status) } td { (user.licenses.join(", ")) }
                        td { (line(&serde_json::Value::Object(user.custom_fields.clone()).to_string())) }
                    }
                }
            }
        }
        @if preview.total > preview.users.len() { p { small { "The first " (preview.users.len()) " of " (preview.total) " shown." } } }
    }
}

/// Diagnostics as the checker gives them, each at its line.
pub(super) fn diagnostics(diagnostics: &[Diagnostic], text: &str) -> Markup {
    html! {
        @if diagnostics.is_empty() {
            p #no-diagnostics { "The spec checks clean." }
        } @else {
            ul #diagnostics-list {
                @for d in diagnostics {
                    @let at = tib_front::diag::position(text, d.primary.span.start);
                    li class=(if d.severity == Severity::Error { "error" } else { "warning-text" }) data-line=(at.line) {
                        "line " (at.line) ": " (if d.is_error() { "error" } else { "warning" }) ": " (line(&d.message))
                        " " small { "(" (d.code) ")" }
                        @if let Some(help) = &d.help { br; small { (line(help)) } }
                    }
                }
            }
        }
    }
}

fn test_step(draft: &Draft, catalog: &Catalog, public_url: &Url, csrf: &str) -> Markup {
    let action = |what: &str| format!("/builder/{}/{what}", percent_encode(&draft.id));
    let connector = match trial::connector(&draft.text, catalog) {
        Ok(Ok(connector)) => connector,
        Ok(Err(errors)) => {
            return html! {
                p.error { "The request side has errors; fix them before testing:" }
                ul { @for e in &errors { li { (line(&e.message)) @if let Some(help) = &e.help { " " small { (line(help)) } } } } }
            };
        }
        Err(error) => return html! { p.error { (error.message) } },
    };
    let typed: Vec<&str> = draft.trial.typed().collect();
    let code = matches!(connector.ir().auth, tib_front::ir::Auth::OAuthAuthorizationCode(_));
    let now = chrono::Utc::now().timestamp();
    html! {
        p { "Test values are used for this test only: never saved, never shown again, gone when you log out or after 30 minutes." }
        form.dialog #test method="post" action=(action("run")) {
            (csrf_field(csrf))
            @for (name, secret, description) in trial::asked(&connector) {
                label for={ "cred-" (name) } { (name) @if typed.contains(&name) { " " small.typed { "(typed; empty keeps it)" } } }
                input type=(if secret { "password" } else { "text" }) id={ "cred-" (name) } name={ "cred." (name) } value="" autocomplete="off";
                small { (description) }
            }
            p {
                button #run-test type="submit" { "Run the test" }
                @if code { " " button #authorize type="submit" formaction=(action("authorize")) { "Authorize and continue" } }
            }
        }
        @if code {
            p #token {
                @match &draft.trial.tokens {
                    None => { "No token yet: authorize to get one. Test redirect URL: " code { (test_redirect_url(public_url)) } }
                    Some(tokens) => {
                        "An access token, held for this builder session only"
                        @if tokens.refresh_token.is_some() { ", with a refresh token" }
                        @match tokens.expires_at {
                            Some(at) => { "; expires in " span #countdown data-expires=(at) { (at - now) "s" } "." }
                            None => { "." }
                        }
                    }
                }
            }
        }
        form.inline method="post" action=(action("clear")) {
            (csrf_field(csrf))
            button #clear type="submit" { "Clear test values" }
        }
        @if let Some(report) = &draft.trial.report { (report_part(report, &connector, csrf, &draft.id)) }
    }
}

fn report_part(report: &Report, connector: &tib_interpret::Interpreted, csrf: &str, draft: &str) -> Markup {
    html! {
        section #report {
            h3 { "Request" }
            p { code { (report.method) " " (report.url) } }
            details { summary { "Request headers" } ul { @for (n, v) in &report.request_headers { li { code { (n) ": " (line(v)) } } } } }
            @match &report.answer {
                Err(error) => p.error role="alert" { (line(error)) },
                Ok(answer) => {
                    h3 { "Answer" }
                    p #status { "HTTP " (answer.status) " in " (answer.elapsed.as_millis()) " ms, " (answer.size) }
                    details { summary { "Answer headers" } ul { @for (n, v) in &answer.headers { li { code { (n) ": " (line(v)) } } } } }
                    @match trial::found(connector, &answer.body) {
                        Found::At { path, count } => { p #found { "The users are at " code { (path) } ": " (count) " on this page." } }
                        Found::Elsewhere { why, arrays } => {
                            p.warning #found { (why) }
                            @if arrays.is_empty() {
                                p { "The answer holds no array of objects: is this the users endpoint?" }
                            } @else {
                                p { "Arrays of objects in the answer:" }
                                ul #suggestions {
                                    @for (path, len) in &arrays {
                                        li {
                                            form.inline method="post" action=(step_path(draft, Step::Endpoint)) {
                                                (csrf_field(csrf))
                                                button type="submit" name="users_at_pick" value=(path) { "Users at " (path) }
                                                " (" (len) " items)"
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    pre #body { (answer.shown) }
                    p { a.button href=(step_path(draft, Step::Map)) { "Continue to mapping" } }
                }
            }
        }
    }
}

fn review(draft: &Draft, catalog: &Catalog, csrf: &str, saving: Saving) -> Markup {
    let action = |what: &str| format!("/builder/{}/{what}", percent_encode(&draft.id));
    let shown = tib_front::format::format(&draft.text).unwrap_or_else(|_| draft.text.clone());
    let checked = draft.check(catalog);
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    html! {
        p { "The spec as " code { (draft.file_name()) } ", in the layout " code { "compiler fmt" } " writes. Edit it here: the forms follow the text." }
        form.dialog #text-form method="post" action=(action("text")) data-check=(action("check")) {
            (csrf_field(csrf))
            textarea #spec name="text" rows="30" spellcheck="false" { (shown) }
            p { button type="submit" { "Apply the text" } }
        }
        section #diagnostics aria-live="polite" { (diagnostics(&checked.diagnostics, &draft.text)) }
        form.inline method="post" action=(action("save")) {
            (csrf_field(csrf))
            button #save type="submit" disabled[saving != Saving::Open || errors > 0] { "Save" }
        }
        @if saving == Saving::NoSpecsDirectory {
            p.warning { "Read-only: start the server with " code { "tib serve --specs DIR" } " to save." }
        } @else if saving == Saving::Viewer {
            p.note { "You are a viewer: you can build and test an integration; an admin can save it." }
        } @else if errors > 0 {
            p { "Saving waits for the errors to be fixed." }
        }
        p { small {
            "Saved, the integration is offered under Available to connect at once, interpreted. To compile it into a \
             typed connector, put the spec in " code { "specs/" } " of the tib repository and run " code { "cargo run -p compiler" } "."
        } }
    }
}

/// The link to the provider, which opens beside the builder.
pub(super) struct Authorize {
    pub nav: Nav,
    pub url: Url,
    pub back: String,
}

impl Render for Authorize {
    fn render(&self) -> Markup {
        html! {
            (navigation(&self.nav))
            h1 { "Authorize the test" }
            p { "The provider opens in a new tab: allow access there; it sends you back to this server, which keeps the token for this builder session only." }
            p { a.button #open-provider href=(self.url) target="_blank" rel="noopener" { "Open the provider" } }
            p { a #back-to-test href=(self.back) { "Back to the test" } }
        }
    }
}

impl Page for Authorize {
    fn title(&self) -> String {
        "Authorize the test".to_owned()
    }
}

/// The page the provider's redirect ends on.
pub(super) struct Authorized {
    pub message: String,
    pub back: String,
    pub ok: bool,
}

impl Render for Authorized {
    fn render(&self) -> Markup {
        html! {
            h1 { (if self.ok { "Authorized" } else { "Not authorized" }) }
            p class=(if self.ok { "" } else { "error" }) { (self.message) }
            p { a href=(self.back) { "Back to the test" } }
        }
    }
}

impl Page for Authorized {
    fn title(&self) -> String {
        "Builder authorization".to_owned()
    }
}
