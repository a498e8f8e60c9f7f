//! The auth a draft declares, from the document's security schemes: the
//! operation's requirement first, then the document's, then any scheme.

use serde_json::Value;

use super::document::{Document, Version};
use super::draft::{Auth, Credential, Piece, Slot, Template};
use super::operation::Operation;
use super::prompt;

/// The auth, the credentials it declares, and what its author should check.
pub struct Found {
    pub auth: Slot<Auth>,
    pub credentials: Vec<Credential>,
    pub notes: Vec<String>,
}

pub fn auth(doc: &Document, op: &Operation<'_>) -> Found {
    let schemes = match doc.version {
        Version::Swagger2 => doc.get(&doc.root, "securityDefinitions"),
        Version::OpenApi3 => doc.get(doc.get(&doc.root, "components"), "securitySchemes"),
    };
    let schemes: Vec<(&str, &Value)> =
        schemes.as_object().into_iter().flatten().map(|(name, scheme)| (name.as_str(), doc.resolve(scheme))).collect();
    // `security: []` on the operation says it needs none; a missing one defers to the document's.
    let requirements = op.object.get("security").or_else(|| doc.root.get("security")).and_then(Value::as_array);
    let mut tried: Vec<(&str, Vec<String>)> = Vec::new();
    for requirement in requirements.into_iter().flatten().filter_map(Value::as_object) {
        for (name, scopes) in requirement {
            let scopes = scopes.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
            tried.push((name, scopes));
        }
    }
    if requirements.is_some_and(|r| r.is_empty()) {
        return Found {
            auth: Slot::Gap("how the API authenticates: the document says this operation needs nothing".to_owned()),
            credentials: Vec::new(),
            notes: Vec::new(),
        };
    }
    if tried.is_empty() {
        tried = schemes.iter().map(|(name, _)| (*name, Vec::new())).collect();
    }
    let mut refusals = Vec::new();
    for (name, scopes) in &tried {
        let Some((_, scheme)) = schemes.iter().find(|(n, _)| n == name) else { continue };
        match from_scheme(scheme, scopes) {
            Ok(found) => return found,
            Err(why) => refusals.push(format!("`{name}` {why}")),
        }
    }
    let what = if refusals.is_empty() {
        "how the API authenticates: the document declares no security scheme".to_owned()
    } else {
        format!("how the API authenticates: {}", refusals.join("; "))
    };
    Found { auth: Slot::Gap(what), credentials: Vec::new(), notes: Vec::new() }
}

fn secret(name: &str, prompt: String) -> Credential {
    Credential { name: name.to_owned(), secret: true, prompt }
}

fn from_scheme(scheme: &Value, scopes: &[String]) -> Result<Found, String> {
    let text = |key: &str| scheme.get(key).and_then(Value::as_str);
    let described = |fallback: &str| prompt(text("description"), fallback);
    let found =
        |auth: Auth, credentials: Vec<Credential>| Found { auth: Slot::Known(auth), credentials, notes: Vec::new() };
    let kind = text("type").unwrap_or_default();
    let http = text("scheme").unwrap_or_default().to_ascii_lowercase();
    match (kind, http.as_str()) {
        ("http", "bearer") => Ok(found(
            Auth::Bearer(Template::credential("api_token")),
            vec![secret("api_token", described("An API token"))],
        )),
        ("http", "basic") | ("basic", _) => Ok(found(
            Auth::Basic { username: Template::credential("username"), password: Template::credential("password") },
            vec![
                Credential { name: "username".to_owned(), secret: false, prompt: "The user name".to_owned() },
                secret("password", described("The password or API key")),
            ],
        )),
        ("http", other) => Err(format!("is HTTP `{other}` auth, which tib does not send")),
        ("apiKey", _) => {
            let name = text("name").ok_or("is an API key without a `name`")?;
            let credential = secret("api_key", described("An API key"));
            match text("in") {
                Some("header") => {
                    // `Token token=<API_KEY>`, `Authorization: SSWS {API Token}`: the scheme word before the key.
                    let prefix = text("description").and_then(key_prefix);
                    let value = match &prefix {
                        Some(prefix) => {
                            Template(vec![Piece::Text(prefix.clone()), Piece::Credential("api_key".to_owned())])
                        }
                        None => Template::credential("api_key"),
                    };
                    let mut found = found(Auth::Headers(vec![(name.to_owned(), value)]), vec![credential]);
                    if name.eq_ignore_ascii_case("authorization") && prefix.is_none() {
                        found.notes.push(
                            "The key goes in the Authorization header: write the scheme word the API expects \
                             before it (e.g. \"SSWS {api_key}\", \"Token token={api_key}\")."
                                .to_owned(),
                        );
                    }
                    Ok(found)
                }
                Some("query") => Ok(found(
                    Auth::Query { param: name.to_owned(), value: Template::credential("api_key") },
                    vec![credential],
                )),
                Some(other) => Err(format!("is an API key in the {other}, which tib does not send")),
                None => Err("is an API key without `in`".to_owned()),
            }
        }
        ("oauth2", _) => oauth(scheme, scopes),
        ("openIdConnect", _) => Err(format!(
            "is OpenID Connect discovery ({}): write the token URL it names as an OAuth kind",
            text("openIdConnectUrl").unwrap_or("no URL given")
        )),
        (other, _) => Err(format!("is of type `{other}`, which tib does not send")),
    }
}

/// OAuth 2.0: client credentials where the document offers them (no person
/// has to sign in), otherwise authorization code.
fn oauth(scheme: &Value, required: &[String]) -> Result<Found, String> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    // OpenAPI 3 names flows under `flows`; Swagger 2.0 has one `flow` on the scheme itself.
    let (client, code) = match scheme.get("flows") {
        Some(flows) => (flows.get("clientCredentials"), flows.get("authorizationCode")),
        None => match scheme.get("flow").and_then(Value::as_str) {
            Some("application") => (Some(scheme), None),
            Some("accessCode") => (None, Some(scheme)),
            _ => (None, None),
        },
    };
    let scopes_of = |flow: &Value| {
        if !required.is_empty() {
            return required.to_vec();
        }
        let offered: Vec<(&String, &Value)> =
            flow.get("scopes").and_then(Value::as_object).into_iter().flatten().collect();
        offered
            .iter()
            .filter(|(name, description)| {
                let words = format!("{name} {}", description.as_str().unwrap_or_default()).to_ascii_lowercase();
                words.contains("user") && !words.contains("write") && !words.contains("manage")
            })
            .map(|(name, _)| (*name).clone())
            .collect()
    };
    if let Some(flow) = client {
        let token_url =
            Template::parse(&text(flow, "tokenUrl").ok_or("is OAuth client credentials without a `tokenUrl`")?);
        return Ok(Found {
            credentials: url_credentials(&[&token_url]),
            auth: Slot::Known(Auth::ClientCredentials { token_url, scopes: scopes_of(flow) }),
            notes: Vec::new(),
        });
    }
    if let Some(flow) = code {
        let authorize_url = Template::parse(
            &text(flow, "authorizationUrl").ok_or("is OAuth authorization code without an `authorizationUrl`")?,
        );
        let token_url =
            Template::parse(&text(flow, "tokenUrl").ok_or("is OAuth authorization code without a `tokenUrl`")?);
        let scopes = scopes_of(flow);
        let refresh_tokens = if flow.get("refreshUrl").is_some() || scopes.iter().any(|s| s == "offline_access") {
            Slot::Known(true)
        } else {
            Slot::Gap("whether the provider gives refresh tokens: true or false".to_owned())
        };
        return Ok(Found {
            credentials: url_credentials(&[&authorize_url, &token_url]),
            auth: Slot::Known(Auth::AuthorizationCode { authorize_url, token_url, scopes, refresh_tokens }),
            notes: Vec::new(),
        });
    }
    Err("is OAuth with neither client credentials nor authorization code (implicit and password are not offered)"
        .to_owned())
}

/// The text a description's example puts before the key: in a code span
/// holding a placeholder (`<API_KEY>`, `{API Token}`), what precedes it, without
/// a leading `Authorization:`.
fn key_prefix(description: &str) -> Option<String> {
    description.split('`').skip(1).step_by(2).find_map(|code| {
        let at = code.find(['<', '{'])?;
        let before = code[..at].trim_start();
        let before = before.strip_prefix("Authorization:").map_or(before, str::trim_start);
        (!before.trim().is_empty()).then(|| before.to_owned())
    })
}

/// A placeholder in an OAuth URL (Microsoft's `{tenant}`) is a text credential of
/// the same name: its text is the placeholder's own.
fn url_credentials(urls: &[&Template]) -> Vec<Credential> {
    let mut credentials: Vec<Credential> = Vec::new();
    for url in urls {
        for name in url.credentials() {
            if !credentials.iter().any(|c| c.name == name) {
                let prompt = format!("The {} in the OAuth URLs", name.replace('_', " "));
                credentials.push(Credential { name: name.to_owned(), secret: false, prompt });
            }
        }
    }
    credentials
}
