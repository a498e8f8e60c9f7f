//! The credentials a spec declares, and the templates that use them: each
//! `{name}` resolved against the declarations, secrets kept out of what is
//! shown (URLs), every declared credential used somewhere; a URL template's
//! shape; a header name's.

use crate::ast::{self, Str, StrPart};
use crate::diag::Diagnostic;
use crate::ident;
use crate::ir::{self, CredentialId, Template, TemplatePart};
use crate::span::Span;
use crate::suggest;

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
                    .with_label(first.span, "first declared here")
                    .with_help("each credential is declared once: remove one, or give the second another name"),
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
    pub(super) fn imply(&mut self, name: &str, secret: bool, description: &str, at: Span, d: &mut Vec<Diagnostic>) {
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

    /// Whether the credential is a secret.
    pub fn is_secret(&self, id: CredentialId) -> bool {
        self.declared.get(id.0).is_some_and(|c| c.credential.secret)
    }

    /// Whether a credential of this name is declared (or implied by the auth kind).
    pub fn declares(&self, name: &str) -> bool {
        self.declared.iter().any(|c| c.credential.name == name)
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
                            // Salesforce's `instance_url`: the API's address that the token answer gives.
                            None if word.text.ends_with("url") => format!(
                                "a URL that the OAuth token answer gives is read with `base_url_from = {}` in the \
                                 auth block, and the base URL is then that; a URL given at connect is declared: \
                                 credentials {{ {} text \"...\" }}",
                                word.text,
                                ident::snake_case(&word.text)
                            ),
                            None => format!(
                                "declare it: credentials {{ {} secret \"...\" }}",
                                ident::snake_case(&word.text)
                            ),
                        };
                        let unknown = Diagnostic::error(
                            "tib::unknown-credential",
                            format!("`{{{}}}` names no declared credential", word.text),
                            word.span,
                            "not declared",
                        )
                        .with_help(help);
                        // A close name is the quick fix, written inside the braces.
                        d.push(match suggest::closest(&word.text, names.iter().copied()) {
                            Some(best) => unknown.with_replacement(best),
                            None => unknown,
                        });
                        ok = false;
                    }
                },
            }
        }
        self.lookalikes(s, d);
        ok.then_some(Template { parts })
    }

    /// Warns of another tool's placeholder that names a declared credential:
    /// `$API_TOKEN` or `%API_TOKEN%` is sent as written, `${api_token}` with a `$` before the value.
    fn lookalikes(&self, s: &Str, d: &mut Vec<Diagnostic>) {
        for lookalike in &s.lookalikes {
            let named = |c: &&Declared| {
                let name = &c.credential.name;
                *name == lookalike.name || *name == ident::snake_case(&lookalike.name)
            };
            let Some(credential) = self.declared.iter().find(named) else { continue };
            let placeholder = format!("{{{}}}", credential.credential.name);
            let message = if lookalike.braced {
                format!("`${placeholder}` sends a `$` before the credential's value")
            } else {
                "this is another tool's placeholder: it is sent as written, not as the credential".to_owned()
            };
            d.push(
                Diagnostic::warning("tib::placeholder-form", message, lookalike.span, "not a tib placeholder")
                    .with_help(format!("tib's placeholders are written `{placeholder}`"))
                    .with_replacement(placeholder),
            );
        }
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
                .with_help("use it as a {placeholder} in base_url, auth or the request, or remove it"),
            );
        }
    }

    pub fn into_ir(self) -> Vec<ir::Credential> {
        self.declared.into_iter().map(|c| c.credential).collect()
    }
}

/// A URL the spec fixes: absolute, https unless it is loopback, placeholders only for `text` credentials.
pub fn url(s: &Str, creds: &mut Credentials, what: &str, d: &mut Vec<Diagnostic>) -> Option<Template> {
    let template = creds.template(s, Use::Shown, what, d)?;
    // Placeholders stand for host or path parts; any letters will do to test the shape.
    let sample: String = template
        .parts
        .iter()
        .map(|part| match part {
            TemplatePart::Text(t) => t.as_str(),
            TemplatePart::Credential(_) => "tenant",
        })
        .collect();
    let parsed = match url::Url::parse(&sample) {
        Ok(parsed) => parsed,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            d.push(
                Diagnostic::error(
                    "tib::relative-url",
                    format!("{what} must be an absolute URL"),
                    s.span,
                    "no scheme or host",
                )
                .with_help("write the full URL, e.g. \"https://api.example.com/v1\""),
            );
            return None;
        }
        Err(error) => {
            d.push(
                Diagnostic::error("tib::bad-url", format!("{what} is not a valid URL"), s.span, error.to_string())
                    .with_help("write the whole URL, e.g. \"https://api.example.com/v1\""),
            );
            return None;
        }
    };
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        // A typo (`htps`, `hhtps`), told apart from plain http, which is a choice.
        scheme
            if scheme != "http"
                && suggest::closest(scheme, ["https"]).is_some()
                && matches!(template.parts.first(), Some(TemplatePart::Text(t))
                    if t.get(..scheme.len()).is_some_and(|w| w.eq_ignore_ascii_case(scheme))) =>
        {
            // The scheme as written, just inside the opening quote.
            let span = Span::new(s.span.start + 1, s.span.start + 1 + scheme.len());
            d.push(
                Diagnostic::error(
                    "tib::url-scheme",
                    format!("`{scheme}://` in {what} is not a scheme"),
                    span,
                    "misspelt scheme",
                )
                .did_you_mean(scheme, &["https"], "the scheme is"),
            );
            return None;
        }
        scheme => {
            d.push(
                Diagnostic::error(
                    "tib::insecure-url",
                    format!("{what} uses {scheme}://, which would send credentials in the clear"),
                    s.span,
                    "not https",
                )
                .with_help("use https://; plain http is allowed only for localhost and 127.0.0.1"),
            );
            return None;
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        d.push(
            Diagnostic::error(
                "tib::url-userinfo",
                format!("{what} has a user name or password before its host"),
                s.span,
                "`user:password@` here",
            )
            .with_help(
                "a URL is printed in logs and reports with whatever it holds: declare the credentials and send \
                 them with auth, e.g. auth basic { username = \"{user}\" password = \"{password}\" }",
            ),
        );
        return None;
    }
    if parsed.fragment().is_some() {
        d.push(
            Diagnostic::error("tib::bad-url", format!("{what} has a #fragment"), s.span, "servers never see fragments")
                .with_help("remove the `#` and what follows it"),
        );
        return None;
    }
    Some(template)
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
