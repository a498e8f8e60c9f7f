//! The connect dialog: the account name first, then exactly the credentials
//! the spec declares (secret ones as password inputs, never put back into a
//! page), where the requests go when not where the spec says, and for OAuth
//! the redirect URLs to register. A name already connected for the
//! integration is overwritten only once the operator confirms it. An OAuth
//! authorization code account is saved first, then a Connect button sends
//! the operator to the provider, which comes back through the callback.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, Render, html};
use tib_support::spec::{Auth, Part, Template};
use url::Url;

use super::layout::{self, Nav, Page, csrf_field, navigation, viewer_note};
use super::{Operator, done, error_page};
use crate::api::views::AuthKind;
use crate::operate::{Error, ErrorKind, NewAccount, Overrides, Trial};
use crate::web::Web;
use crate::web::{account_path, percent_encode};

/// A template as the spec wrote it: credentials as `{name}`.
fn template_text(template: &Template, spec: &tib_support::Spec) -> String {
    template
        .0
        .iter()
        .map(|part| match part {
            Part::Text(text) => (*text).to_owned(),
            Part::Credential(i) => format!("{{{}}}", spec.credentials.get(*i).map_or("?", |c| c.name)),
        })
        .collect()
}

/// What the operator typed, put back into the dialog when it is shown again: never a secret.
struct Typed {
    account: String,
    /// Non-secret credentials by name.
    values: Vec<(String, String)>,
    base_url: String,
    token_url: String,
    authorize_url: String,
    /// Seconds between its syncs: one of [`INTERVALS`].
    every: i64,
}

/// How often an account can sync, as the dialog offers it.
const INTERVALS: [(i64, &str); 5] = [
    (3600, "every hour"),
    (6 * 3600, "every 6 hours"),
    (12 * 3600, "every 12 hours"),
    (86_400, "every day"),
    (7 * 86_400, "every week"),
];

impl Default for Typed {
    fn default() -> Typed {
        Typed {
            account: String::new(),
            values: Vec::new(),
            base_url: String::new(),
            token_url: String::new(),
            authorize_url: String::new(),
            every: crate::schedule::DAY,
        }
    }
}

/// Why the dialog is shown again.
enum Again {
    /// Something to mend, in words.
    Invalid(String),
    /// The account name is connected already: overwriting needs the box ticked.
    Exists(String),
}

/// The form's field of a credential.
fn credential_field(name: &str) -> String {
    format!("credential.{name}")
}

pub(super) struct Dialog<'a> {
    nav: Nav,
    id: &'a str,
    spec: &'static tib_support::Spec,
    connected: Vec<String>,
    typed: Typed,
    again: Option<Again>,
    /// This server's public URL, whose callback an OAuth provider must allow.
    public_url: &'a Url,
}

impl Dialog<'_> {
    fn status(&self) -> StatusCode {
        match self.again {
            None => StatusCode::OK,
            Some(Again::Invalid(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            Some(Again::Exists(_)) => StatusCode::CONFLICT,
        }
    }
}

fn field(name: &str, kind: &str, value: &str) -> Markup {
    html! { input type=(kind) id=(name) name=(name) value=(value); }
}

impl Render for Dialog<'_> {
    fn render(&self) -> Markup {
        let spec = self.spec;
        let secrets_again = self.again.is_some() && spec.credentials.iter().any(|c| c.secret);
        let oauth_token_url = match &spec.auth {
            Auth::OAuthClientCredentials(cc) => Some(&cc.token_url),
            Auth::OAuthAuthorizationCode(ac) => Some(&ac.token_url),
            _ => None,
        };
        let typed = &self.typed;
        let open = !(typed.base_url.is_empty() && typed.token_url.is_empty() && typed.authorize_url.is_empty());
        let authorization_code = matches!(spec.auth, Auth::OAuthAuthorizationCode(_));
        html! {
            (navigation(&self.nav))
            h1 { "Connect " (spec.app) }
            p { (self.id) " · " (AuthKind::of(&spec.auth).words()) }
            @match &self.again {
                Some(Again::Invalid(message)) => { p.error role="alert" { (message) } }
                Some(Again::Exists(message)) => { p.warning role="alert" { (message) } }
                None => {}
            }
            @if !self.connected.is_empty() {
                p { "Already connected: " (self.connected.join(", ")) ". Connecting one of these names again overwrites it." }
            }
            @if !self.nav.may_change() {
                (viewer_note("connect accounts"))
            } @else { form.dialog method="post" action={ "/connect/" (percent_encode(self.id)) } {
                (csrf_field(&self.nav))
                label for="account" { "Account name" }
                input type="text" id="account" name="account" value=(typed.account) required autofocus autocomplete="off";
                small { "How tib names this account: a company, a workspace. One name per account of the app." }
                @if matches!(self.again, Some(Again::Exists(_))) {
                    label {
                        input type="checkbox" name="overwrite" value="yes" required;
                        " Overwrite it: its credentials are replaced and its next sync replaces its users"
                    }
                }
                @for credential in spec.credentials {
                    @let name = credential_field(credential.name);
                    label for=(name) { (credential.name) @if credential.secret { " (secret)" } }
                    @if credential.secret {
                        // Never filled in: a secret goes from the operator to the vault, not back into a page.
                        input type="password" id=(name) name=(name) value="" required autocomplete="new-password";
                    } @else {
                        @let value = typed.values.iter().find(|(n, _)| n == credential.name).map_or("", |(_, v)| v.as_str());
                        input type="text" id=(name) name=(name) value=(value) required autocomplete="off";
                    }
                    small { (credential.description) }
                }
                @if secrets_again { p { small { "Secrets are not kept between tries: enter them again." } } }
                label for="every" { "Syncs" }
                select #every name="every" {
                    @for (seconds, words) in INTERVALS {
                        option value=(seconds) selected[seconds == typed.every] { (words) }
                    }
                }
                details open[open] {
                    summary { "Where its requests go" }
                    label for="base_url" { "Base URL" }
                    (field("base_url", "url", &typed.base_url))
                    small {
                        "Leave empty for the spec's " code { (template_text(&spec.base_url, spec)) }
                        "; set it for a sandbox or a self-hosted instance."
                    }
                    @if let Some(token_url) = oauth_token_url {
                        label for="token_url" { "Token URL" }
                        (field("token_url", "url", &typed.token_url))
                        small { "Leave empty for the spec's " code { (template_text(token_url, spec)) } "." }
                    }
                    @if let Auth::OAuthAuthorizationCode(ac) = &spec.auth {
                        label for="authorize_url" { "Authorize URL" }
                        (field("authorize_url", "url", &typed.authorize_url))
                        small { "Leave empty for the spec's " code { (template_text(&ac.authorize_url, spec)) } "." }
                    }
                }
                @if authorization_code {
                    @let test = tib_support::oauth::test_redirect_url(tib_support::oauth::TEST_REDIRECT_PORT);
                    @let production = tib_support::oauth::production_redirect_url(self.public_url, self.id);
                    h2 { "Redirect URLs to register with " (spec.app) }
                    p { "Test, for trying the spec while writing it: " code #test-redirect { (test) } }
                    p { "Production, this server's callback: " code #production-redirect { (production) } }
                }
                p { button type="submit" { @if authorization_code { "Save and authorize" } @else { "Connect" } } }
            } }
        }
    }
}

impl Page for Dialog<'_> {
    fn title(&self) -> String {
        format!("Connect {}", self.spec.app)
    }
}

/// The page with the Connect button: a link to the provider, which the
/// Content-Security-Policy allows where a form posting there would not be.
pub(super) struct AuthorizePage<'a> {
    nav: Nav,
    spec: &'static tib_support::Spec,
    integration: &'a str,
    account: &'a str,
    authorization: crate::operate::Authorization,
}

impl Render for AuthorizePage<'_> {
    fn render(&self) -> Markup {
        let app = self.spec.app;
        html! {
            (navigation(&self.nav))
            h1 { "Authorize " (app) }
            p {
                (self.integration) "/" (self.account) " is saved and waits for your authorization. Connect takes you to "
                (app) ", where you allow tib to read its users; it sends you back to this server, and the first sync starts."
            }
            p { a.button #authorize href=(self.authorization.url) { "Connect" } }
            p { small { "The link works once, for ten minutes." } }
            @if !self.authorization.refresh_tokens {
                p.warning { "This provider gives no refresh tokens: when the access token expires, authorize again here." }
            }
            p { a href=(account_path(self.integration, self.account)) { "The account's page" } }
        }
    }
}

impl AuthorizePage<'_> {
    /// The page with the Connect button of an authorization just started.
    fn respond(
        operator: Operator,
        spec: &'static tib_support::Spec,
        integration: &str,
        account: &str,
        authorization: crate::operate::Authorization,
    ) -> Response {
        let page = AuthorizePage { nav: operator.nav, spec, integration, account, authorization };
        layout::respond(StatusCode::OK, &page)
    }
}

impl Page for AuthorizePage<'_> {
    fn title(&self) -> String {
        format!("Authorize {}", self.spec.app)
    }
}

/// `?account=`: connect that account again (to rotate a token), its name and non-secret values
/// filled in; only its secrets are typed again.
#[derive(serde::Deserialize)]
pub(super) struct ConnectAgain {
    account: Option<String>,
}

pub(super) async fn dialog(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Path(integration): Path<String>,
    Query(again): Query<ConnectAgain>,
) -> Response {
    let services = &web.services;
    let read = async { Ok::<_, Error>((services.connector(&integration)?, services.accounts_of(&integration).await?)) };
    let (connector, connected) = match read.await {
        Ok(read) => read,
        Err(error) => return error_page(error),
    };
    let typed = match again.account {
        None => Typed::default(),
        Some(account) => match services.connected_with(&integration, &account).await {
            Ok(shown) => Typed {
                account,
                values: shown.values,
                base_url: shown.base_url.unwrap_or_default(),
                token_url: shown.token_url.unwrap_or_default(),
                authorize_url: shown.authorize_url.unwrap_or_default(),
                every: shown.every,
            },
            Err(error) => return error_page(error),
        },
    };
    let page = Dialog {
        nav: operator.nav,
        id: &integration,
        spec: connector.spec(),
        connected,
        typed,
        again: None,
        public_url: &services.public_url,
    };
    layout::respond(page.status(), &page)
}

/// A URL field: empty for none.
fn url_field(text: &str, what: &str) -> Result<Option<Url>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Url::parse(text).map(Some).map_err(|e| format!("the {what} `{text}` is not a URL: {e}"))
}

pub(super) async fn submit(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Path(integration): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let get = |name: &str| form_value(&fields, name);
    if let Some(refused) = operator.refuses(get("csrf")) {
        return refused;
    }
    let services = &web.services;
    let read = async { Ok::<_, Error>((services.connector(&integration)?, services.accounts_of(&integration).await?)) };
    let (connector, connected) = match read.await {
        Ok(read) => read,
        Err(error) => return error_page(error),
    };
    let spec = connector.spec();
    let typed = Typed {
        account: get("account").trim().to_owned(),
        values: spec
            .credentials
            .iter()
            .filter(|c| !c.secret)
            .map(|c| (c.name.to_owned(), get(&credential_field(c.name)).to_owned()))
            .collect(),
        base_url: get("base_url").trim().to_owned(),
        token_url: get("token_url").trim().to_owned(),
        authorize_url: get("authorize_url").trim().to_owned(),
        every: get("every")
            .parse()
            .ok()
            .filter(|every| INTERVALS.iter().any(|(seconds, _)| seconds == every))
            .unwrap_or(crate::schedule::DAY),
    };
    let account = typed.account.clone();
    let every = typed.every;
    let mut page = Dialog {
        nav: operator.nav.clone(),
        id: &integration,
        spec,
        connected,
        typed,
        again: None,
        public_url: &services.public_url,
    };
    let new = read_form(&page.typed, spec, &fields).map(|(values, overrides)| NewAccount {
        integration: integration.clone(),
        account: account.clone(),
        values,
        overrides,
        every,
        replace: get("overwrite") == "yes",
    });
    let connected = match new {
        Ok(new) => services.connect(&operator.who, new, Trial::Tried).await,
        Err(message) => Err(Error::invalid(message)),
    };
    page.again = match connected {
        Ok(connected) => {
            return match connected.authorization {
                Some(authorization) => AuthorizePage::respond(operator, spec, &integration, &account, authorization),
                None => first_sync(&web, &operator, &integration, &account).await,
            };
        }
        Err(error) => match error.kind {
            ErrorKind::Conflict => Some(Again::Exists(error.message)),
            ErrorKind::Invalid => Some(Again::Invalid(error.message)),
            ErrorKind::NotFound | ErrorKind::Forbidden | ErrorKind::Failed => return error_page(error),
        },
    };
    layout::respond(page.status(), &page)
}

/// An account just connected: its first sync started at once, and its page following it live.
async fn first_sync(web: &Web, operator: &Operator, integration: &str, account: &str) -> Response {
    let services = &web.services;
    let path = account_path(integration, account);
    let name = format!("{integration}/{account}");
    // The syncs started before this one: the page tells the first sync by a greater count.
    let since = match services.find(integration, account).await {
        Ok(connection) => services.live.watch(connection.id).borrow().sync,
        Err(error) => return error_page(error),
    };
    match services.act(&operator.who, integration, account, crate::operate::Action::Sync).await {
        Ok(_) => done(&format!("{path}?since={since}"), &format!("connected {name}: its first sync is starting")),
        Err(error) => done(&path, &format!("connected {name}; its first sync could not start: {}", error.message)),
    }
}

/// A field of a form; the last one given, when it is given twice.
fn form_value<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().rev().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
}

/// The credentials and overrides the form gives, or what to mend.
fn read_form(
    typed: &Typed,
    spec: &'static tib_support::Spec,
    fields: &[(String, String)],
) -> Result<(tib_support::CredentialValues, Overrides), String> {
    let get = |name: &str| form_value(fields, name);
    if typed.account.is_empty() {
        return Err("give the account a name".to_owned());
    }
    let missing: Vec<&str> =
        spec.credentials.iter().filter(|c| get(&credential_field(c.name)).is_empty()).map(|c| c.name).collect();
    if !missing.is_empty() {
        return Err(format!("fill in {}", missing.join(", ")));
    }
    let overrides = Overrides {
        base_url: url_field(&typed.base_url, "base URL")?,
        token_url: url_field(&typed.token_url, "token URL")?,
        authorize_url: url_field(&typed.authorize_url, "authorize URL")?,
    };
    let flags: Vec<(String, String)> =
        spec.credentials.iter().map(|c| (c.name.to_owned(), get(&credential_field(c.name)).to_owned())).collect();
    let values =
        tib_support::CredentialValues::collect(spec.credentials, &flags, |_| None).map_err(|e| e.to_string())?;
    Ok((values, overrides))
}

#[derive(serde::Deserialize)]
pub(super) struct Csrf {
    #[serde(default)]
    csrf: String,
}

/// A new authorization for an account saved before (waiting, or whose tokens the provider revoked).
pub(super) async fn authorize_again(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Path((integration, account)): Path<(String, String)>,
    Form(Csrf { csrf }): Form<Csrf>,
) -> Response {
    if let Some(refused) = operator.refuses(&csrf) {
        return refused;
    }
    let services = &web.services;
    match services.authorize_again(&operator.who, &integration, &account).await {
        Ok(authorization) => {
            let spec = match services.connector(&integration) {
                Ok(connector) => connector.spec(),
                Err(error) => return error_page(error),
            };
            AuthorizePage::respond(operator, spec, &integration, &account, authorization)
        }
        Err(error) if matches!(error.kind, ErrorKind::Conflict | ErrorKind::Invalid) => {
            done(&account_path(&integration, &account), &format!("cannot authorize: {}", error.message))
        }
        Err(error) => error_page(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> &'static tib_support::Spec {
        crate::integrations::connector("acme").expect("the acme connector").spec()
    }

    #[test]
    fn the_dialog_puts_back_what_was_typed_but_never_a_secret() {
        let public_url = Url::parse("https://tib.example.com").expect("a URL");
        let typed = Typed {
            account: "Prod \"EU\"".to_owned(),
            values: vec![("tenant".to_owned(), "acme<eu>".to_owned()), ("api_token".to_owned(), "s3cret".to_owned())],
            base_url: "https://sandbox.example.com".to_owned(),
            every: 6 * 3600,
            ..Typed::default()
        };
        let dialog = Dialog {
            nav: Nav::token("t"),
            id: "acme",
            spec: acme(),
            connected: vec!["Prod <old>".to_owned()],
            typed,
            again: Some(Again::Exists("acme/Prod \"EU\" is already connected".to_owned())),
            public_url: &public_url,
        };
        assert_eq!(dialog.status(), StatusCode::CONFLICT);
        let html = dialog.render().into_string();
        assert!(html.contains("value=\"Prod &quot;EU&quot;\""), "{html}");
        assert!(html.contains("value=\"acme&lt;eu&gt;\""), "{html}");
        assert!(
            html.contains("type=\"password\" id=\"credential.api_token\" name=\"credential.api_token\" value=\"\""),
            "{html}"
        );
        assert!(!html.contains("s3cret"), "a secret is never put back: {html}");
        assert!(html.contains("name=\"overwrite\""), "overwriting asks for the box: {html}");
        assert!(html.contains("Already connected: Prod &lt;old&gt;."), "{html}");
        assert!(html.contains("<details open>"), "the overrides typed are shown: {html}");
        assert!(html.contains("Secrets are not kept between tries"), "{html}");
        assert!(html.contains("<option value=\"21600\" selected>every 6 hours</option>"), "the interval kept: {html}");
    }

    #[test]
    fn an_invalid_form_is_422_and_a_first_dialog_200() {
        let public_url = Url::parse("https://tib.example.com").expect("a URL");
        let mut dialog = Dialog {
            nav: Nav::default(),
            id: "acme",
            spec: acme(),
            connected: vec![],
            typed: Typed::default(),
            again: None,
            public_url: &public_url,
        };
        assert_eq!(dialog.status(), StatusCode::OK);
        assert!(!dialog.render().into_string().contains("<details open>"));
        dialog.again = Some(Again::Invalid("fill in <tenant>".to_owned()));
        assert_eq!(dialog.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(dialog.render().into_string().contains("role=\"alert\">fill in &lt;tenant&gt;</p>"));
    }
}
