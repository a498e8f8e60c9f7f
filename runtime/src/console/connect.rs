//! The connect dialog: the account name first, then exactly the credentials
//! the spec declares (secret ones as password inputs, never put back into a
//! page), where the requests go when not where the spec says, and for OAuth
//! the redirect URLs to register. A name already connected for the
//! integration is overwritten only once the operator confirms it. An OAuth
//! authorization code account is saved first, then a Connect button sends
//! the operator to the provider, which comes back through the callback.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tib_support::spec::{Auth, Part, Template};
use url::Url;

use super::{Console, Operator, account_path, done, error_page, escape, navigation, page, when};
use crate::api::problem::Problem;
use crate::connect::Overrides;
use crate::oauth::Authorization;

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
#[derive(Default)]
struct Typed {
    account: String,
    /// Non-secret credentials by name.
    values: Vec<(String, String)>,
    base_url: String,
    token_url: String,
    authorize_url: String,
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

fn dialog_page(
    console: &Console,
    operator: &Operator,
    id: &str,
    spec: &'static tib_support::Spec,
    connected: &[String],
    typed: &Typed,
    again: Option<&Again>,
) -> Response {
    let field = |name: &str, kind: &str, value: &str, extra: &str| {
        format!("<input type=\"{kind}\" id=\"{0}\" name=\"{0}\" value=\"{1}\"{extra}>", escape(name), escape(value))
    };
    let mut body = format!(
        "{}<h1>Connect {}</h1><p>{} · {}</p>",
        navigation(operator),
        escape(spec.app),
        escape(id),
        crate::api::auth_kind(&spec.auth).1
    );
    let status = match again {
        None => StatusCode::OK,
        Some(Again::Invalid(message)) => {
            body.push_str(&format!("<p class=\"error\" role=\"alert\">{}</p>", escape(message)));
            StatusCode::BAD_REQUEST
        }
        Some(Again::Exists(message)) => {
            body.push_str(&format!("<p class=\"warning\" role=\"alert\">{}</p>", escape(message)));
            StatusCode::CONFLICT
        }
    };
    if !connected.is_empty() {
        let names: Vec<String> = connected.iter().map(|a| escape(a)).collect();
        body.push_str(&format!(
            "<p>Already connected: {}. Connecting one of these names again overwrites it.</p>",
            names.join(", ")
        ));
    }
    body.push_str(&format!("<form class=\"dialog\" method=\"post\" action=\"/connect/{}\">", escape(id)));
    body.push_str(&operator.csrf_field());
    body.push_str(&format!(
        "<label for=\"account\">Account name</label>{}<small>How tib names this account: a company, a workspace. \
         One name per account of the app.</small>",
        field("account", "text", &typed.account, " required autofocus autocomplete=\"off\"")
    ));
    if matches!(again, Some(Again::Exists(_))) {
        body.push_str(
            "<label><input type=\"checkbox\" name=\"overwrite\" value=\"yes\" required> Overwrite it: its credentials \
             are replaced and its next sync replaces its users</label>",
        );
    }
    let secrets_again = again.is_some() && spec.credentials.iter().any(|c| c.secret);
    for credential in spec.credentials {
        let name = credential_field(credential.name);
        let input = if credential.secret {
            // Never filled in: a secret goes from the operator to the vault, not back into a page.
            field(&name, "password", "", " required autocomplete=\"new-password\"")
        } else {
            let value = typed.values.iter().find(|(n, _)| n == credential.name).map_or("", |(_, v)| v.as_str());
            field(&name, "text", value, " required autocomplete=\"off\"")
        };
        let secret = if credential.secret { " (secret)" } else { "" };
        body.push_str(&format!(
            "<label for=\"{}\">{}{secret}</label>{input}<small>{}</small>",
            escape(&name),
            escape(credential.name),
            escape(credential.description)
        ));
    }
    if secrets_again {
        body.push_str("<p><small>Secrets are not kept between tries: enter them again.</small></p>");
    }
    let oauth_token_url = match &spec.auth {
        Auth::OAuthClientCredentials(cc) => Some(&cc.token_url),
        Auth::OAuthAuthorizationCode(ac) => Some(&ac.token_url),
        _ => None,
    };
    let open = if typed.base_url.is_empty() && typed.token_url.is_empty() && typed.authorize_url.is_empty() {
        ""
    } else {
        " open"
    };
    body.push_str(&format!(
        "<details{open}><summary>Where its requests go</summary>\
         <label for=\"base_url\">Base URL</label>{}<small>Leave empty for the spec's <code>{}</code>; set it for a sandbox or a self-hosted instance.</small>",
        field("base_url", "url", &typed.base_url, ""),
        escape(&template_text(&spec.base_url, spec)),
    ));
    if let Some(token_url) = oauth_token_url {
        body.push_str(&format!(
            "<label for=\"token_url\">Token URL</label>{}<small>Leave empty for the spec's <code>{}</code>.</small>",
            field("token_url", "url", &typed.token_url, ""),
            escape(&template_text(token_url, spec)),
        ));
    }
    if let Auth::OAuthAuthorizationCode(ac) = &spec.auth {
        body.push_str(&format!(
            "<label for=\"authorize_url\">Authorize URL</label>{}<small>Leave empty for the spec's <code>{}</code>.</small>",
            field("authorize_url", "url", &typed.authorize_url, ""),
            escape(&template_text(&ac.authorize_url, spec)),
        ));
    }
    body.push_str("</details>");
    if let Auth::OAuthAuthorizationCode(_) = &spec.auth {
        let test = tib_support::oauth::test_redirect_url(tib_support::oauth::TEST_REDIRECT_PORT);
        let production = tib_support::oauth::production_redirect_url(&console.api.public_url, id);
        body.push_str(&format!(
            "<h2>Redirect URLs to register with {}</h2><p>Test, for <code>compiler session</code> while writing the spec: \
             <code id=\"test-redirect\">{}</code></p><p>Production, this server's callback: <code id=\"production-redirect\">{}</code></p>",
            escape(spec.app),
            escape(test.as_str()),
            escape(production.as_str()),
        ));
    }
    let button = if matches!(spec.auth, Auth::OAuthAuthorizationCode(_)) { "Save and authorize" } else { "Connect" };
    body.push_str(&format!("<p><button type=\"submit\">{button}</button></p></form>"));
    page(status, &format!("Connect {}", spec.app), &body)
}

/// The accounts of an integration connected now.
async fn connected_accounts(console: &Console, id: &str) -> Result<Vec<String>, Response> {
    let id = id.to_owned();
    crate::store::off_workers(&console.api.store, move |store| {
        Ok(store.connections()?.into_iter().filter(|c| c.integration == id).map(|c| c.account).collect())
    })
    .await
    .map_err(|e| error_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()))
}

pub(super) async fn dialog(
    State(console): State<Arc<Console>>,
    operator: Operator,
    Path(integration): Path<String>,
) -> Response {
    let connector = match crate::connect::connector(&integration) {
        Ok(connector) => connector,
        Err(message) => return error_page(StatusCode::NOT_FOUND, "Not found", &message),
    };
    let connected = match connected_accounts(&console, &integration).await {
        Ok(connected) => connected,
        Err(response) => return response,
    };
    dialog_page(&console, &operator, &integration, connector.spec(), &connected, &Typed::default(), None)
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
    State(console): State<Arc<Console>>,
    operator: Operator,
    Path(integration): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let get = |name: &str| fields.iter().rev().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str());
    if let Some(refused) = operator.refuses(get("csrf")) {
        return refused;
    }
    let connector = match crate::connect::connector(&integration) {
        Ok(connector) => connector,
        Err(message) => return error_page(StatusCode::NOT_FOUND, "Not found", &message),
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
    };
    let connected = match connected_accounts(&console, &integration).await {
        Ok(connected) => connected,
        Err(response) => return response,
    };
    let again = |again: Again| dialog_page(&console, &operator, &integration, spec, &connected, &typed, Some(&again));
    let missing: Vec<&str> =
        spec.credentials.iter().filter(|c| get(&credential_field(c.name)).is_empty()).map(|c| c.name).collect();
    if typed.account.is_empty() {
        return again(Again::Invalid("give the account a name".to_owned()));
    }
    if !missing.is_empty() {
        return again(Again::Invalid(format!("fill in {}", missing.join(", "))));
    }
    let overrides = match (|| {
        Ok::<_, String>(Overrides {
            base_url: url_field(&typed.base_url, "base URL")?,
            token_url: url_field(&typed.token_url, "token URL")?,
            authorize_url: url_field(&typed.authorize_url, "authorize URL")?,
        })
    })() {
        Ok(overrides) => overrides,
        Err(message) => return again(Again::Invalid(message)),
    };
    let flags: Vec<(String, String)> =
        spec.credentials.iter().map(|c| (c.name.to_owned(), get(&credential_field(c.name)).to_owned())).collect();
    let values = match tib_support::CredentialValues::collect(spec.credentials, &flags, |_| None) {
        Ok(values) => values,
        Err(error) => return again(Again::Invalid(error.to_string())),
    };
    let overwrite = get("overwrite") == "yes";
    let account = typed.account.clone();
    let outcome = crate::api::connect_account(
        &console.api,
        integration.clone(),
        account.clone(),
        values,
        overrides,
        crate::schedule::DAY,
        overwrite,
    )
    .await;
    match outcome {
        Err(Problem { status: StatusCode::CONFLICT, detail, .. }) => again(Again::Exists(detail)),
        Err(problem) => again(Again::Invalid(problem.detail)),
        Ok(connected) => match connected.authorization {
            Some(authorization) => authorize_page(&operator, spec, &integration, &account, &authorization),
            None => {
                let name = format!("{integration}/{account}");
                let first = crate::schedule::first_sync(console.api.clock.now(), &name);
                let message = format!(
                    "connected {name}: its first sync starts by {} UTC, or now with Sync now",
                    when(Some(first))
                );
                done(&account_path(&integration, &account), &message)
            }
        },
    }
}

/// The page with the Connect button: a link to the provider, which the
/// Content-Security-Policy allows where a form posting there would not be.
fn authorize_page(
    operator: &Operator,
    spec: &tib_support::Spec,
    integration: &str,
    account: &str,
    authorization: &Authorization,
) -> Response {
    let refresh = if authorization.refresh_tokens {
        ""
    } else {
        "<p class=\"warning\">This provider gives no refresh tokens: when the access token expires, authorize again here.</p>"
    };
    let body = format!(
        "{}<h1>Authorize {}</h1><p>{}/{} is saved and waits for your authorization. Connect takes you to {}, where you \
         allow tib to read its users; it sends you back to this server, and the first sync starts.</p>\
         <p><a class=\"button\" id=\"authorize\" href=\"{}\">Connect</a></p><p><small>The link works once, for ten minutes.</small></p>{refresh}\
         <p><a href=\"{}\">The account's page</a></p>",
        navigation(operator),
        escape(spec.app),
        escape(integration),
        escape(account),
        escape(spec.app),
        escape(authorization.url.as_str()),
        account_path(integration, account),
    );
    page(StatusCode::OK, &format!("Authorize {}", spec.app), &body)
}

#[derive(serde::Deserialize)]
pub(super) struct Csrf {
    #[serde(default)]
    csrf: String,
}

/// A new authorization for an account saved before (waiting, or whose tokens the provider revoked).
pub(super) async fn authorize_again(
    State(console): State<Arc<Console>>,
    operator: Operator,
    Path((integration, account)): Path<(String, String)>,
    Form(Csrf { csrf }): Form<Csrf>,
) -> Response {
    if let Some(refused) = operator.refuses(&csrf) {
        return refused;
    }
    let connection = match crate::api::find(&console.api, integration.clone(), account.clone()).await {
        Ok(connection) => connection,
        Err(problem) => return error_page(problem.status, "Not found", &problem.detail),
    };
    let connector = match crate::connect::connector(&integration) {
        Ok(connector) => connector,
        Err(message) => return error_page(StatusCode::NOT_FOUND, "Not found", &message),
    };
    let spec = connector.spec();
    if !matches!(spec.auth, Auth::OAuthAuthorizationCode(_)) {
        return done(&account_path(&integration, &account), "only OAuth authorization code accounts are authorized");
    }
    let api = console.api.clone();
    let started = tokio::task::spawn_blocking(move || {
        let credentials = crate::sync::credentials(&api.vault, &connection, spec)?;
        let setting = crate::connect::Setting {
            store: api.store.as_ref(),
            vault: &api.vault,
            client: &api.client,
            public_url: &api.public_url,
            now: api.clock.now(),
        };
        crate::oauth::authorize(&setting, &connection, spec, &credentials)
    })
    .await;
    match started {
        Ok(Ok(authorization)) => authorize_page(&operator, spec, &integration, &account, &authorization),
        Ok(Err(message)) => done(&account_path(&integration, &account), &format!("cannot authorize: {message}")),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", &format!("authorizing stopped: {e}")),
    }
}
