//! Credentials and authentication: what a connection supplies, and how each
//! request carries it. Templates resolve `{name}` against the declared credentials.

use crate::ast::{self, AuthArg, Str, StrPart};
use crate::diag::Diagnostic;
use crate::ident;
use crate::ir::{self, CredentialId, Template, TemplatePart};
use crate::span::Span;
use crate::suggest;

use super::endpoint;
use super::settings::Settings;

/// The auth kinds, as written after `auth`.
pub const KINDS: &[&str] =
    &["bearer", "basic", "headers", "query", "oauth_client_credentials", "oauth_authorization_code"];

/// The settings of each auth kind that takes a block.
pub fn settings(kind: &str) -> &'static [&'static str] {
    match kind {
        "basic" => &["username", "password"],
        "query" => &["param", "value"],
        "oauth_client_credentials" => {
            &["token_url", "scopes", "token_params", "client_auth", "grant_type", "base_url_from"]
        }
        "oauth_authorization_code" => &[
            "authorize_url",
            "token_url",
            "scopes",
            "refresh_tokens",
            "authorize_params",
            "token_params",
            "refresh_params",
            "client_auth",
            "base_url_from",
        ],
        _ => &[],
    }
}

/// The declared credentials, and which of them a template has used.
pub struct Credentials {
    declared: Vec<Declared>,
}

struct Declared {
    credential: ir::Credential,
    span: Span,
    used: bool,
    /// OAuth's client id and secret are implied by the auth kind, not declared.
    implied: bool,
}

/// Where a template is used, which decides whether secrets may appear in it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Sent in a header or body: secrets welcome.
    Secret,
    /// Part of a URL that is shown and logged: no secrets.
    Shown,
}

impl Credentials {
    pub fn declare(decls: &[ast::CredentialDecl], d: &mut Vec<Diagnostic>) -> Self {
        let mut declared: Vec<Declared> = Vec::new();
        for decl in decls {
            let name = &decl.name.text;
            if let Some(first) = declared.iter().find(|c| &c.credential.name == name) {
                d.push(
                    Diagnostic::error(
                        "tib::duplicate-credential",
                        format!("credential `{name}` is declared twice"),
                        decl.name.span,
                        "declared again here",
                    )
                    .with_label(first.span, "first declared here"),
                );
                continue;
            }
            if !ident::is_snake_case(name) {
                d.push(
                    Diagnostic::error(
                        "tib::credential-name",
                        format!("credential name `{name}` is not snake_case"),
                        decl.name.span,
                        "use lower case letters, digits and _",
                    )
                    .with_help(format!("call it `{}`", ident::snake_case(name))),
                );
            }
            let secret = match decl.kind.text.as_str() {
                "secret" => true,
                "text" => false,
                other => {
                    d.push(
                        Diagnostic::error(
                            "tib::credential-kind",
                            format!("`{other}` is not a kind of credential"),
                            decl.kind.span,
                            "expected secret or text",
                        )
                        .did_you_mean(other, &["secret", "text"], "a credential is"),
                    );
                    true
                }
            };
            let description = decl.description.as_ref().and_then(|s| super::values::plain(s, "a description", d));
            declared.push(Declared {
                credential: ir::Credential { name: name.clone(), secret, description },
                span: decl.name.span,
                used: false,
                implied: false,
            });
        }
        Credentials { declared }
    }

    /// Adds a credential the auth kind itself asks for (OAuth client id and secret).
    fn imply(&mut self, name: &str, secret: bool, description: &str, at: Span, d: &mut Vec<Diagnostic>) {
        if let Some(existing) = self.declared.iter().find(|c| c.credential.name == name) {
            d.push(
                Diagnostic::error(
                    "tib::duplicate-credential",
                    format!("`{name}` is supplied by OAuth already"),
                    existing.span,
                    "declared here",
                )
                .with_label(at, "this auth kind asks for it")
                .with_help(format!("remove `{name}` from credentials")),
            );
            return;
        }
        self.declared.push(Declared {
            credential: ir::Credential { name: name.to_owned(), secret, description: Some(description.to_owned()) },
            span: at,
            used: true,
            implied: true,
        });
    }

    /// Resolves the placeholders of a string against the declared credentials.
    pub fn template(&mut self, s: &Str, usage: Use, what: &str, d: &mut Vec<Diagnostic>) -> Option<Template> {
        let mut parts: Vec<TemplatePart> = Vec::new();
        let mut ok = true;
        for part in &s.parts {
            match part {
                StrPart::Text(text) => match parts.last_mut() {
                    Some(TemplatePart::Text(prev)) => prev.push_str(text),
                    _ => parts.push(TemplatePart::Text(text.clone())),
                },
                StrPart::Placeholder(word) => match self.declared.iter().position(|c| c.credential.name == word.text) {
                    Some(i) => {
                        let declared = &mut self.declared[i];
                        declared.used = true;
                        if declared.credential.secret && usage == Use::Shown {
                            d.push(
                                Diagnostic::error(
                                    "tib::secret-in-url",
                                    format!("secret `{}` would be shown in {what}", word.text),
                                    word.span,
                                    "a secret credential",
                                )
                                .with_label(declared.span, "declared secret here")
                                .with_help("URLs are logged and shown; only `text` credentials may be part of one"),
                            );
                            ok = false;
                        }
                        parts.push(TemplatePart::Credential(CredentialId(i)));
                    }
                    None => {
                        let names: Vec<&str> = self.declared.iter().map(|c| c.credential.name.as_str()).collect();
                        let help = match suggest::closest(&word.text, names.iter().copied()) {
                            Some(best) => format!("did you mean `{best}`?"),
                            None => format!(
                                "declare it: credentials {{ {} secret \"...\" }}",
                                ident::snake_case(&word.text)
                            ),
                        };
                        d.push(
                            Diagnostic::error(
                                "tib::unknown-credential",
                                format!("`{{{}}}` names no declared credential", word.text),
                                word.span,
                                "not declared",
                            )
                            .with_help(help),
                        );
                        ok = false;
                    }
                },
            }
        }
        ok.then_some(Template { parts })
    }

    /// Credentials declared but read by nothing are likely a typo or a leftover.
    pub fn warn_unused(&self, d: &mut Vec<Diagnostic>) {
        for c in self.declared.iter().filter(|c| !c.used && !c.implied) {
            d.push(
                Diagnostic::warning(
                    "tib::unused-credential",
                    format!("credential `{}` is never used", c.credential.name),
                    c.span,
                    "declared here",
                )
                .with_help("use it as a {placeholder} in base_url or auth, or remove it"),
            );
        }
    }

    pub fn into_ir(self) -> Vec<ir::Credential> {
        self.declared.into_iter().map(|c| c.credential).collect()
    }
}

pub fn auth(
    kind: &ast::Word,
    arg: Option<&AuthArg>,
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) -> Option<ir::Auth> {
    let owner = format!("`auth {}`", kind.text);
    let block = |d: &mut Vec<Diagnostic>, example: &str| -> Option<&ast::Block> {
        match arg {
            Some(AuthArg::Block(block)) => Some(block),
            _ => {
                d.push(
                    Diagnostic::error(
                        "tib::incomplete-auth",
                        format!("{owner} needs a block of settings"),
                        arg.map_or(kind.span, |a| match a {
                            AuthArg::Str(s) => s.span,
                            AuthArg::Block(b) => b.span,
                        }),
                        "settings go here",
                    )
                    .with_help(format!("write auth {} {example}", kind.text)),
                );
                None
            }
        }
    };
    match kind.text.as_str() {
        "bearer" => match arg {
            Some(AuthArg::Str(token)) => {
                let token = creds.template(token, Use::Secret, "the bearer token", d)?;
                warn_fixed(&token, "bearer token", kind.span, d);
                Some(ir::Auth::Bearer { token })
            }
            _ => {
                d.push(
                    Diagnostic::error(
                        "tib::incomplete-auth",
                        "`auth bearer` needs the token",
                        kind.span,
                        "which token?",
                    )
                    .with_help("write auth bearer \"{api_token}\" and declare api_token in credentials"),
                );
                None
            }
        },
        "basic" => {
            let block = block(d, "{ username = \"{email}\"  password = \"{api_token}\" }")?;
            let s = Settings::block(block, settings("basic"), &owner, d);
            let username = s.required_string("username", "username = \"{email}\"", d);
            let password = s.required_string("password", "password = \"{api_token}\"", d);
            let username = creds.template(username?, Use::Secret, "the username", d);
            let password = creds.template(password?, Use::Secret, "the password", d)?;
            warn_fixed(&password, "password", s.span(), d);
            Some(ir::Auth::Basic { username: username?, password })
        }
        "headers" => {
            let block = block(d, "{ \"Authorization\" = \"SSWS {api_token}\" }")?;
            let entries = super::settings::string_map(block, "auth headers", d)?;
            if entries.is_empty() {
                d.push(Diagnostic::error("tib::incomplete-auth", "`auth headers` sets no header", block.span, "empty").with_help(
                    "add at least one header built from a credential, e.g. \"Authorization\" = \"Token token={api_key}\"",
                ));
                return None;
            }
            let mut headers = Vec::new();
            for (entry, value) in entries {
                let value = creds.template(value, Use::Secret, "a header", d);
                headers.push(ir::Param { name: header_name(&entry.key, d)?, value: value? });
            }
            if headers.iter().all(|h| h.value.credentials().next().is_none()) {
                d.push(
                    Diagnostic::error("tib::incomplete-auth", "no header carries a credential", block.span, "only fixed values")
                        .with_help("at least one header must be built from a credential, e.g. \"Authorization\" = \"Token token={api_key}\""),
                );
                return None;
            }
            Some(ir::Auth::Headers { headers })
        }
        "query" => {
            let block = block(d, "{ param = \"api_key\"  value = \"{api_key}\" }")?;
            let s = Settings::block(block, settings("query"), &owner, d);
            let param = s.required_string("param", "param = \"api_key\"", d);
            let value = s.required_string("value", "value = \"{api_key}\"", d);
            let param = super::values::plain(param?, "a query parameter name", d);
            let value = creds.template(value?, Use::Secret, "the query value", d)?;
            warn_fixed(&value, "query key", s.span(), d);
            Some(ir::Auth::QueryKey { param: param?, value })
        }
        "oauth_client_credentials" => {
            let block = block(d, "{ token_url = \"https://...\"  scopes = [\"users.read\"] }")?;
            let s = Settings::block(block, settings("oauth_client_credentials"), &owner, d);
            creds.imply("client_id", false, "OAuth client id", kind.span, d);
            creds.imply("client_secret", true, "OAuth client secret", kind.span, d);
            let token_url = s.required_string("token_url", "token_url = \"https://login.example.com/oauth/token\"", d);
            let token_url = token_url.and_then(|url| endpoint::url(url, creds, "token_url", d));
            let scopes = s.strings("scopes", d);
            let token_params = params(&s, "token_params", Use::Secret, creds, d);
            let client_auth = client_auth(&s, d);
            let base_url_from = base_url_from(&s, d);
            let grant_type = match s.get("grant_type") {
                None => Some("client_credentials".to_owned()),
                Some(_) => s.string("grant_type", d).and_then(|g| grant_type(g, d)),
            };
            Some(ir::Auth::OAuthClientCredentials(ir::OAuthClientCredentials {
                token_url: token_url?,
                scopes: scopes.unwrap_or_default(),
                token_params: token_params?,
                client_auth: client_auth?,
                grant_type: grant_type?,
                base_url_from: base_url_from?,
            }))
        }
        "oauth_authorization_code" => {
            let block =
                block(d, "{ authorize_url = \"https://...\"  token_url = \"https://...\"  refresh_tokens = true }")?;
            let s = Settings::block(block, settings("oauth_authorization_code"), &owner, d);
            creds.imply("client_id", false, "OAuth client id", kind.span, d);
            creds.imply("client_secret", true, "OAuth client secret", kind.span, d);
            let authorize_url =
                s.required_string("authorize_url", "authorize_url = \"https://app.example.com/oauth/authorize\"", d);
            let authorize_url = authorize_url.and_then(|url| endpoint::url(url, creds, "authorize_url", d));
            let token_url = s.required_string("token_url", "token_url = \"https://app.example.com/oauth/token\"", d);
            let token_url = token_url.and_then(|url| endpoint::url(url, creds, "token_url", d));
            let refresh_tokens = match s.required("refresh_tokens", "refresh_tokens = true", d) {
                Some(_) => s.boolean("refresh_tokens", d),
                None => None,
            };
            let scopes = s.strings("scopes", d);
            let authorize_params = params(&s, "authorize_params", Use::Shown, creds, d);
            let token_params = params(&s, "token_params", Use::Secret, creds, d);
            let refresh_params = params(&s, "refresh_params", Use::Secret, creds, d);
            let client_auth = client_auth(&s, d);
            let base_url_from = base_url_from(&s, d);
            Some(ir::Auth::OAuthAuthorizationCode(ir::OAuthAuthorizationCode {
                client_auth: client_auth?,
                base_url_from: base_url_from?,
                authorize_url: authorize_url?,
                token_url: token_url?,
                scopes: scopes.unwrap_or_default(),
                refresh_tokens: refresh_tokens?,
                authorize_params: authorize_params?,
                token_params: token_params?,
                refresh_params: refresh_params?,
            }))
        }
        other => {
            d.push(
                Diagnostic::error(
                    "tib::unknown-auth",
                    format!("`{other}` is not an auth kind"),
                    kind.span,
                    "unknown auth kind",
                )
                .did_you_mean(other, KINDS, "auth kinds are"),
            );
            None
        }
    }
}

/// `client_auth = "basic" | "post"`; Basic unless said, as RFC 6749 has every server accept it.
fn client_auth(s: &Settings<'_>, d: &mut Vec<Diagnostic>) -> Option<ir::ClientAuth> {
    let Some(value) = s.get("client_auth") else { return Some(ir::ClientAuth::Basic) };
    let text = s.string("client_auth", d)?;
    let written = text.plain();
    match written.as_deref() {
        Some("basic") => Some(ir::ClientAuth::Basic),
        Some("post") => Some(ir::ClientAuth::Post),
        other => {
            let other = other.unwrap_or_default();
            let help = match other {
                "client_secret_basic" | "header" => "did you mean \"basic\"?".to_owned(),
                "client_secret_post" | "body" | "form" => "did you mean \"post\"?".to_owned(),
                _ => suggest::help(other, &["basic", "post"], "the ways are"),
            };
            d.push(
                Diagnostic::error(
                    "tib::client-auth",
                    format!("`{other}` is not a way for the client to authenticate"),
                    value.span(),
                    "expected \"basic\" or \"post\"",
                )
                .with_help(help),
            );
            None
        }
    }
}

/// A grant type is a word of RFC 6749's grammar, e.g. `account_credentials`.
fn grant_type(s: &Str, d: &mut Vec<Diagnostic>) -> Option<String> {
    let text = super::values::plain(s, "the grant type", d)?;
    let valid = !text.is_empty() && text.chars().all(|c| c.is_ascii_graphic());
    if !valid {
        d.push(Diagnostic::error(
            "tib::grant-type",
            "the grant type is empty or holds spaces",
            s.span,
            "not a grant type",
        ));
        return None;
    }
    Some(text)
}

/// `base_url_from = instance_url`: one key of the token answer.
fn base_url_from(s: &Settings<'_>, d: &mut Vec<Diagnostic>) -> Option<Option<String>> {
    let Some(value) = s.get("base_url_from") else { return Some(None) };
    let path = super::values::path_value("base_url_from", value, d)?;
    match path.segments.as_slice() {
        [ir::Segment::Key(key)] => Some(Some(key.clone())),
        _ => {
            d.push(
                Diagnostic::error(
                    "tib::base-url-from",
                    "`base_url_from` names one field of the token answer",
                    value.span(),
                    "not one key",
                )
                .with_help("e.g. base_url_from = instance_url"),
            );
            None
        }
    }
}

/// Extra OAuth parameters: `{ "audience" = "https://api.example.com" }`.
fn params(
    s: &Settings<'_>,
    name: &str,
    usage: Use,
    creds: &mut Credentials,
    d: &mut Vec<Diagnostic>,
) -> Option<Vec<ir::Param>> {
    if s.get(name).is_none() {
        return Some(Vec::new());
    }
    let entries = s.map(name, d)?;
    let mut out = Vec::new();
    for (entry, value) in entries {
        let value = creds.template(value, usage, &format!("`{name}`"), d)?;
        out.push(ir::Param { name: entry.key.text.clone(), value });
    }
    Some(out)
}

/// A header name must be a valid HTTP token (RFC 9110 section 5.1).
pub fn header_name(key: &ast::Key, d: &mut Vec<Diagnostic>) -> Option<String> {
    let valid =
        !key.text.is_empty() && key.text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        d.push(
            Diagnostic::error(
                "tib::header-name",
                format!("`{}` is not a valid header name", key.text),
                key.span,
                "invalid",
            )
            .with_help("header names are letters, digits and - (e.g. \"X-Api-Key\")"),
        );
        return None;
    }
    Some(key.text.clone())
}

/// A secret fixed in the spec would be shared by every connection and
/// committed with the spec: almost always a mistake.
fn warn_fixed(template: &Template, what: &str, span: Span, d: &mut Vec<Diagnostic>) {
    if template.credentials().next().is_none() {
        d.push(
            Diagnostic::warning(
                "tib::fixed-secret",
                format!("the {what} is fixed in the spec"),
                span,
                "no credential placeholder",
            )
            .with_help("every connection would share it and it would be committed with the spec; use a {placeholder}"),
        );
    }
}
