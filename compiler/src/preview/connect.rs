//! What a spec author brings to `test` and `preview`: the spec's credentials
//! (from `--cred NAME=VALUE` or the environment), an OAuth access token, and
//! optionally another base URL.

use tib_support::{CredentialValues, Secret};
use url::Url;

use crate::ir;

/// The values as given on the command line, not yet matched to a spec.
#[derive(Debug, Default)]
pub struct Given {
    /// `--cred NAME=VALUE`, in order.
    pub credentials: Vec<(String, String)>,
    pub access_token: Option<String>,
    pub base_url: Option<String>,
}

/// The values matched to one spec, ready for a request.
#[derive(Debug)]
pub struct Prepared {
    pub credentials: CredentialValues,
    pub access_token: Option<Secret>,
    pub base_url: Option<Url>,
}

/// The environment variable that supplies credential `name`: `TIB_` and the name in upper case.
pub fn env_name(name: &str) -> String {
    format!("TIB_{}", name.to_ascii_uppercase())
}

/// Matches what was given to the spec's credentials; a value missing from
/// both the flags and the environment, or a flag the spec does not declare,
/// is an error that says what to give.
pub fn prepare(spec: &ir::Spec, given: Given, env: impl Fn(&str) -> Option<String>) -> Result<Prepared, String> {
    let declared: Vec<&str> = spec.credentials.iter().map(|c| c.name.as_str()).collect();
    if let Some((unknown, _)) = given.credentials.iter().find(|(name, _)| !declared.contains(&name.as_str())) {
        return Err(if declared.is_empty() {
            format!("the spec declares no credentials, but --cred {unknown}=… was given")
        } else {
            format!("the spec has no credential `{unknown}`; it declares {}", declared.join(", "))
        });
    }
    let needed = sent_with_requests(spec);
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for (index, credential) in spec.credentials.iter().enumerate() {
        // The last flag for a name wins, as with most command lines.
        let flag = given.credentials.iter().rev().find(|(name, _)| *name == credential.name).map(|(_, v)| v.clone());
        match flag.or_else(|| env(&env_name(&credential.name))) {
            Some(value) => values.push((Secret::new(value), credential.secret)),
            None if !needed.contains(&ir::CredentialId(index)) => values.push((Secret::new(""), credential.secret)),
            None => missing.push(credential),
        }
    }
    if !missing.is_empty() {
        let lines: Vec<String> = missing
            .iter()
            .map(|c| {
                let about = c.description.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
                format!("  --cred {}=… (or {}){about}", c.name, env_name(&c.name))
            })
            .collect();
        return Err(format!("the spec needs credentials that were not given:\n{}", lines.join("\n")));
    }
    let oauth = matches!(spec.auth, ir::Auth::OAuthClientCredentials(_) | ir::Auth::OAuthAuthorizationCode(_));
    let access_token = given.access_token.or_else(|| env("TIB_ACCESS_TOKEN"));
    let access_token = match (oauth, access_token) {
        (true, Some(token)) => Some(Secret::new(token)),
        (true, None) => {
            return Err(
                "the spec uses OAuth 2.0: give an access token with --access-token (or TIB_ACCESS_TOKEN)".to_owned()
            );
        }
        (false, Some(_)) => {
            return Err("--access-token is for OAuth 2.0 specs; this spec's auth takes its credentials".to_owned());
        }
        (false, None) => None,
    };
    let base_url = given
        .base_url
        .map(|url| Url::parse(&url).map_err(|e| format!("--base-url `{url}` is not a URL: {e}")))
        .transpose()?;
    Ok(Prepared { credentials: CredentialValues::new(values), access_token, base_url })
}

/// The credentials the users requests carry. An OAuth spec's token request
/// needs more (the client id and secret), but test and preview are given
/// the access token instead.
fn sent_with_requests(spec: &ir::Spec) -> Vec<ir::CredentialId> {
    let mut templates: Vec<&ir::Template> = vec![&spec.base_url];
    templates.extend(spec.endpoint.query.iter().chain(&spec.endpoint.headers).map(|p| &p.value));
    match &spec.auth {
        ir::Auth::Bearer { token } => templates.push(token),
        ir::Auth::Basic { username, password } => templates.extend([username, password]),
        ir::Auth::Headers { headers } => templates.extend(headers.iter().map(|h| &h.value)),
        ir::Auth::QueryKey { value, .. } => templates.push(value),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn spec(credentials: &str, auth: &str) -> ir::Spec {
        let source = format!(
            "app \"T\"\nbase_url \"https://t.example\"\ncredentials {{ {credentials} }}\n{auth}\n\
             request GET \"/u\"\npaginate none\nusers at .\nfields {{ id = id  email = email }}\n"
        );
        let compiled = crate::compile("t.tib", &source, &Catalog::default());
        compiled.spec.unwrap_or_else(|| panic!("{:?}", compiled.diagnostics))
    }

    fn given(credentials: &[(&str, &str)]) -> Given {
        Given {
            credentials: credentials.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            ..Given::default()
        }
    }

    #[test]
    fn flags_win_over_the_environment_and_secrets_stay_redacted() {
        let spec = spec("user text\n token secret", "auth basic { username = \"{user}\" password = \"{token}\" }");
        let env = |name: &str| (name == "TIB_TOKEN").then(|| "from-env-secret".to_owned());
        let prepared = prepare(&spec, given(&[("user", "ann")]), env).expect("prepared");
        assert_eq!(prepared.credentials.get(0), "ann");
        assert_eq!(prepared.credentials.get(1), "from-env-secret");
        assert_eq!(prepared.credentials.redact("x from-env-secret ann"), "x [redacted] ann");
        let prepared = prepare(&spec, given(&[("user", "a"), ("token", "t1"), ("token", "t2")]), env).expect("ok");
        assert_eq!(prepared.credentials.get(1), "t2");
    }

    #[test]
    fn missing_and_unknown_credentials_say_what_to_give() {
        let spec = spec(
            "user text \"Your login\"\n token secret",
            "auth basic { username = \"{user}\" password = \"{token}\" }",
        );
        let error = prepare(&spec, given(&[]), |_| None).expect_err("missing");
        assert!(error.contains("--cred user=… (or TIB_USER): Your login"), "{error}");
        assert!(error.contains("--cred token=… (or TIB_TOKEN)"), "{error}");
        let error = prepare(&spec, given(&[("tokn", "x")]), |_| None).expect_err("unknown");
        assert_eq!(error, "the spec has no credential `tokn`; it declares user, token");
    }

    #[test]
    fn oauth_specs_need_an_access_token_and_others_refuse_one() {
        // The client id and secret are for the token request, which the access token stands in for.
        let oauth =
            spec("tenant text", "auth oauth_client_credentials { token_url = \"https://t.example/{tenant}/token\" }");
        let creds = [("tenant", "t")];
        let error = prepare(&oauth, given(&creds), |_| None).expect_err("no token");
        assert!(error.contains("--access-token"), "{error}");
        let env = |name: &str| (name == "TIB_ACCESS_TOKEN").then(|| "at".to_owned());
        assert!(prepare(&oauth, given(&creds), env).expect("token").access_token.is_some());
        let bearer = spec("token secret", "auth bearer \"{token}\"");
        let with_token = Given { access_token: Some("x".into()), ..given(&[("token", "t")]) };
        assert!(prepare(&bearer, with_token, |_| None).is_err());
    }
}
