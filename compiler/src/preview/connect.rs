//! What a spec author brings to `test` and `preview`: the spec's credentials
//! (from `--cred NAME=VALUE` or the environment), an OAuth access token, and
//! optionally another base URL.

use tib_support::oauth::Endpoints;
use tib_support::spec::CredentialSpec;
use tib_support::{CredentialValues, NetworkPolicy, Secret, env_name};
use url::Url;

use tib_front::ir;

/// The values as given on the command line, not yet matched to a spec.
#[derive(Debug, Default)]
pub struct Given {
    /// `--cred NAME=VALUE`, in order.
    pub credentials: Vec<(String, String)>,
    pub access_token: Option<String>,
    pub base_url: Option<String>,
    /// OAuth endpoint overrides, as `tib connect` takes them.
    pub token_url: Option<String>,
    pub authorize_url: Option<String>,
    /// Networks requests may reach besides public addresses.
    pub allow_networks: Vec<ipnet::IpNet>,
}

/// The values matched to one spec, ready for a request.
#[derive(Debug)]
pub struct Prepared {
    pub credentials: CredentialValues,
    /// OAuth: a token given as is.
    pub access_token: Option<Secret>,
    pub base_url: Option<Url>,
    /// Where the OAuth client fetches tokens and sends the user, when not the spec's.
    pub endpoints: Endpoints,
    pub network: NetworkPolicy,
}

/// Matches what was given to the spec's credentials (`declared` is the
/// spec's request side); a value missing from both the flags and the
/// environment, or a flag the spec does not declare, is an error that says
/// what to give.
pub fn prepare(
    spec: &ir::Spec,
    declared: &'static [CredentialSpec],
    given: Given,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Prepared, String> {
    let oauth = matches!(spec.auth, ir::Auth::OAuthClientCredentials(_) | ir::Auth::OAuthAuthorizationCode(_));
    if !oauth && given.access_token.is_some() {
        return Err("--access-token is for OAuth 2.0 specs; this spec's auth takes its credentials".to_owned());
    }
    // TIB_ACCESS_TOKEN is an OAuth token only for an OAuth spec: for another, it is the
    // environment variable of a credential named `access_token` (Harvest's).
    let from_env = if oauth { env("TIB_ACCESS_TOKEN") } else { None };
    let access_token = given.access_token.or(from_env).map(Secret::new);
    // With an access token given, the OAuth client's own credentials are not needed.
    let needed = if access_token.is_some() { sent_with_requests(spec) } else { every_credential(spec) };
    let credentials = CredentialValues::collect(declared, &given.credentials, |credential| {
        let index = declared.iter().position(|c| std::ptr::eq(c, credential)).unwrap_or_default();
        // A credential the requests do not carry may be left out.
        env(&env_name(credential.name)).or_else(|| (!needed.contains(&ir::CredentialId(index))).then(String::new))
    })
    .map_err(|e| e.to_string())?;
    let base_url = override_url("--base-url", given.base_url)?;
    let (token_url, authorize_url) =
        (override_url("--token-url", given.token_url)?, override_url("--authorize-url", given.authorize_url)?);
    if !oauth && (token_url.is_some() || authorize_url.is_some()) {
        return Err("--token-url and --authorize-url are for OAuth 2.0 specs".to_owned());
    }
    Ok(Prepared {
        credentials,
        access_token,
        base_url,
        endpoints: Endpoints { token_url, authorize_url },
        network: NetworkPolicy::allowing(given.allow_networks),
    })
}

/// A URL given on the command line in place of the spec's, under the one rule for overrides.
fn override_url(flag: &str, given: Option<String>) -> Result<Option<Url>, String> {
    let Some(text) = given else { return Ok(None) };
    // The text is not repeated: a mistyped URL may still hold a password.
    let url = Url::parse(&text).map_err(|e| format!("{flag} is not a URL: {e}"))?;
    match flag {
        "--base-url" => tib_support::network::check_base_override(flag, &url)?,
        _ => tib_support::network::check_override(flag, &url)?,
    }
    Ok(Some(url))
}

fn every_credential(spec: &ir::Spec) -> Vec<ir::CredentialId> {
    (0..spec.credentials.len()).map(ir::CredentialId).collect()
}

/// The credentials the users requests carry. An OAuth spec's token request
/// needs more (the client id and secret), unless an access token is given.
fn sent_with_requests(spec: &ir::Spec) -> Vec<ir::CredentialId> {
    let mut templates: Vec<&ir::Template> = vec![&spec.base_url];
    templates.extend(spec.endpoint.query.iter().chain(&spec.endpoint.headers).map(|p| &p.value));
    templates.extend(spec.endpoint.body.iter().flat_map(ir::Json::templates));
    match &spec.auth {
        ir::Auth::Bearer { token } => templates.push(token),
        ir::Auth::Basic { username, password } => templates.extend([username, password]),
        ir::Auth::Headers { headers } => templates.extend(headers.iter().map(|h| &h.value)),
        ir::Auth::QueryKey { value, .. } => templates.push(value),
        ir::Auth::Session(session) => templates.extend(session.body.templates()),
        ir::Auth::OAuthClientCredentials(_) | ir::Auth::OAuthAuthorizationCode(_) => {}
    }
    templates.into_iter().flat_map(ir::Template::credentials).collect()
}

/// How the spec authenticates, in a few words, without any value.
pub fn auth_kind(auth: &ir::Auth) -> String {
    match auth {
        ir::Auth::Bearer { .. } => "bearer token (Authorization header)".to_owned(),
        ir::Auth::Basic { .. } => "basic auth (Authorization header)".to_owned(),
        ir::Auth::Headers { headers } => {
            let names: Vec<&str> = headers.iter().map(|h| h.name.as_str()).collect();
            format!("custom headers {}", names.join(", "))
        }
        ir::Auth::QueryKey { param, .. } => format!("API key in the query parameter `{param}`"),
        ir::Auth::OAuthClientCredentials(_) => "OAuth 2.0 client credentials (bearer access token)".to_owned(),
        ir::Auth::OAuthAuthorizationCode(_) => "OAuth 2.0 authorization code (bearer access token)".to_owned(),
        ir::Auth::Session(session) => format!(
            "a session: sign-in at `{}`, its token in {}",
            session.path,
            session.header.as_deref().map_or_else(|| "the Authorization header".to_owned(), |h| format!("`{h}`"))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tib_front::catalog::Catalog;

    fn spec(credentials: &str, auth: &str) -> (ir::Spec, &'static [CredentialSpec]) {
        let source = format!(
            "app \"T\"\nbase_url \"https://t.example\"\ncredentials {{ {credentials} }}\n{auth}\n\
             request GET \"/u\"\npaginate none\nusers at .\nfields {{ id = id  email = email }}\n"
        );
        let compiled = tib_front::compile("t.tib", &source, &Catalog::default());
        let spec = compiled.spec.unwrap_or_else(|| panic!("{:?}", compiled.diagnostics));
        let declared = tib_interpret::spec::spec(&spec).credentials;
        (spec, declared)
    }

    fn given(credentials: &[(&str, &str)]) -> Given {
        Given {
            credentials: credentials.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            ..Given::default()
        }
    }

    #[test]
    fn oauth_client_credentials_are_needed_unless_an_access_token_is_given() {
        let oauth =
            spec("tenant text", "auth oauth_client_credentials { token_url = \"https://t.example/{tenant}/token\" }");
        let error = prepare(&oauth.0, oauth.1, given(&[("tenant", "t")]), |_| None).expect_err("no client");
        assert!(error.contains("--cred client_id=") && error.contains("--cred client_secret="), "{error}");
        // The client id and secret are for the token request, which a given access token stands in for.
        let env = |name: &str| (name == "TIB_ACCESS_TOKEN").then(|| "at".to_owned());
        assert!(prepare(&oauth.0, oauth.1, given(&[("tenant", "t")]), env).expect("token").access_token.is_some());
        let bearer = spec("token secret", "auth bearer \"{token}\"");
        let with_token = Given { access_token: Some("x".into()), ..given(&[("token", "t")]) };
        assert!(prepare(&bearer.0, bearer.1, with_token, |_| None).is_err());
    }

    /// Harvest's spec has a credential named `access_token`, whose variable is TIB_ACCESS_TOKEN:
    /// for a spec that is not OAuth, that is the credential, never a refused OAuth token.
    #[test]
    fn a_credential_named_access_token_is_read_from_its_own_variable() {
        let harvest = spec("access_token secret", "auth bearer \"{access_token}\"");
        let env = |name: &str| (name == "TIB_ACCESS_TOKEN").then(|| "from-env".to_owned());
        let prepared = prepare(&harvest.0, harvest.1, given(&[]), env).expect("the variable is the credential");
        assert_eq!(prepared.credentials.get(0), "from-env");
        assert!(prepared.access_token.is_none());
        let flagged = prepare(&harvest.0, harvest.1, given(&[("access_token", "flag")]), env).expect("with --cred");
        assert_eq!(flagged.credentials.get(0), "flag");
    }
}
