//! The builder's forms: each step's view of the spec, read from its syntax
//! tree and written back as section text. A form holds what the language
//! writes (a setting's value, a path, a rule) as the spec writes it, so that
//! nothing the author wrote is lost in the round trip; only what a person
//! types as plain text (a name, a label) is quoted for them. Which settings a
//! kind of auth or pagination takes comes from the checker's own vocabulary.
//!
//! A step changes only the sections whose text its form changed
//! ([`changes`]): the rest of the spec stays as written.

use tib_front::ast::{self, SectionKind};
use tib_front::check::vocabulary;

use super::text::{self, Parsed, Part};

/// A form as posted: its fields in order.
pub struct Posted(pub Vec<(String, String)>);

impl Posted {
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.trim_end())
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// The numbers `i` of the fields `prefix.i.…` (or `prefix.i`), in order.
    fn indexes(&self, prefix: &str) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .0
            .iter()
            .filter_map(|(n, _)| n.strip_prefix(prefix)?.strip_prefix('.')?.split('.').next()?.parse().ok())
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// The sections a form writes: `None` removes one.
pub type Sections = Vec<(Part, Option<String>)>;

/// What of `after` differs from `before`: the sections to rewrite.
pub fn changes(before: Sections, after: Sections) -> Sections {
    after
        .into_iter()
        .filter(|(part, text)| before.iter().find(|(p, _)| p == part).map(|(_, t)| t) != Some(text))
        .collect()
}

/// Step 1: the app and where its API is.
#[derive(Debug, Default, PartialEq)]
pub struct General {
    pub app: String,
    pub base_url: String,
}

impl General {
    pub fn read(p: &Parsed<'_>) -> General {
        let mut general = General::default();
        for section in &p.file.sections {
            match &section.kind {
                SectionKind::App(name) => general.app = text::unescape(name),
                SectionKind::BaseUrl(url) => general.base_url = text::inner(p, url),
                _ => {}
            }
        }
        general
    }

    pub fn posted(form: &Posted) -> General {
        General { app: form.get("app").trim().to_owned(), base_url: form.get("base_url").trim().to_owned() }
    }

    pub fn sections(&self) -> Sections {
        vec![
            (Part::App, Some(format!("app {}", text::literal(&self.app)))),
            (Part::BaseUrl, Some(format!("base_url {}", text::template(&self.base_url)))),
        ]
    }
}

/// A credential the connect dialog asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Credential {
    pub name: String,
    /// `text` or `secret`.
    pub kind: String,
    pub description: String,
}

/// A header the requests carry: its value set in the spec, or asked at connect.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Header {
    pub name: String,
    /// As the spec writes it (a template); for a header asked at connect, the credential's `{name}`.
    pub value: String,
    pub at_connect: bool,
}

/// Step 2: how requests authenticate, and the credentials a connection gives.
#[derive(Debug, Default, PartialEq)]
pub struct Auth {
    /// One of the language's auth kinds; empty when the spec has none yet.
    pub kind: String,
    /// `auth bearer "…"`: the token's template.
    pub token: String,
    /// `auth headers { … }`.
    pub headers: Vec<Header>,
    /// The settings of a kind that takes a block, each as the spec writes its value.
    pub settings: Vec<(String, String)>,
    pub credentials: Vec<Credential>,
}

impl Auth {
    pub fn read(p: &Parsed<'_>) -> Auth {
        let mut auth = Auth::default();
        for section in &p.file.sections {
            match &section.kind {
                SectionKind::Credentials(decls) => {
                    auth.credentials = decls
                        .iter()
                        .map(|d| Credential {
                            name: d.name.text.clone(),
                            kind: d.kind.text.clone(),
                            description: d.description.as_ref().map(text::unescape).unwrap_or_default(),
                        })
                        .collect();
                }
                SectionKind::Auth { kind, arg } => {
                    auth.kind = kind.text.clone();
                    match arg {
                        Some(ast::AuthArg::Str(token)) => auth.token = text::inner(p, token),
                        Some(ast::AuthArg::Block(block)) if kind.text == "headers" => {
                            auth.headers = block
                                .entries
                                .iter()
                                .map(|e| Header {
                                    name: e.key.text.clone(),
                                    value: p.source(e.value.span()).to_owned(),
                                    at_connect: false,
                                })
                                .collect();
                        }
                        Some(ast::AuthArg::Block(block)) => {
                            auth.settings = block
                                .entries
                                .iter()
                                .map(|e| (e.key.text.clone(), p.source(e.value.span()).to_owned()))
                                .collect();
                        }
                        None => {}
                    }
                }
                _ => {}
            }
        }
        // A header whose whole value is one secret credential is asked at connect.
        for header in &mut auth.headers {
            let inner = header.value.strip_prefix("\"{").and_then(|v| v.strip_suffix("}\""));
            if let Some(name) = inner
                && auth.credentials.iter().any(|c| c.name == name && c.kind == "secret")
            {
                header.at_connect = true;
            }
            if let Some(unquoted) = header.value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                header.value = unquoted.to_owned();
            }
        }
        auth
    }

    pub fn posted(form: &Posted) -> Auth {
        let kind = form.get("kind").to_owned();
        let headers = form
            .indexes("header")
            .into_iter()
            .map(|i| Header {
                name: form.get(&format!("header.{i}.name")).trim().to_owned(),
                value: form.get(&format!("header.{i}.value")).to_owned(),
                at_connect: form.has(&format!("header.{i}.ask")),
            })
            .filter(|h| !h.name.is_empty())
            .collect();
        let settings = vocabulary::auth_settings(&kind)
            .iter()
            .map(|name| ((*name).to_owned(), form.get(&format!("set.{name}")).trim().to_owned()))
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name, setting(&value)))
            .collect();
        let credentials = form
            .indexes("cred")
            .into_iter()
            .map(|i| Credential {
                name: form.get(&format!("cred.{i}.name")).trim().to_owned(),
                kind: form.get(&format!("cred.{i}.kind")).to_owned(),
                description: form.get(&format!("cred.{i}.description")).trim().to_owned(),
            })
            .filter(|c| !c.name.is_empty())
            .collect();
        let mut auth = Auth { token: form.get("token").trim().to_owned(), kind, headers, settings, credentials };
        auth.ask_at_connect();
        auth
    }

    /// A kind just chosen, with what it takes to start from: a credential for
    /// each secret it sends, asked at connect; the credentials declared before kept.
    pub fn starting(kind: &str, mut credentials: Vec<Credential>) -> Auth {
        let mut ask = |name: &str, kind: &str, description: &str| {
            if !credentials.iter().any(|c| c.name == name) {
                credentials.push(Credential { name: name.into(), kind: kind.into(), description: description.into() });
            }
        };
        let mut auth = Auth { kind: kind.to_owned(), ..Auth::default() };
        match kind {
            "bearer" => {
                ask("api_token", "secret", "An API token");
                auth.token = "{api_token}".to_owned();
            }
            "basic" => {
                ask("username", "text", "The user name");
                ask("password", "secret", "The password or API token");
                auth.settings =
                    vec![("username".into(), "\"{username}\"".into()), ("password".into(), "\"{password}\"".into())];
            }
            "headers" => {
                ask("api_key", "secret", "An API key");
                auth.headers =
                    vec![Header { name: "Authorization".into(), value: "{api_key}".into(), at_connect: true }];
            }
            "query" => {
                ask("api_key", "secret", "An API key");
                auth.settings = vec![("param".into(), "\"api_key\"".into()), ("value".into(), "\"{api_key}\"".into())];
            }
            "oauth_client_credentials" => auth.settings = vec![("token_url".into(), "\"\"".into())],
            "session" => {
                ask("username", "text", "The user name");
                ask("password", "secret", "The password or API token");
                auth.settings = vec![
                    ("path".into(), "\"/auth/signin\"".into()),
                    ("body".into(), "{ \"username\" = \"{username}\" \"password\" = \"{password}\" }".into()),
                    ("token".into(), "token".into()),
                ];
            }
            "oauth_authorization_code" => {
                auth.settings = vec![
                    ("authorize_url".into(), "\"\"".into()),
                    ("token_url".into(), "\"\"".into()),
                    ("scopes".into(), "[]".into()),
                    ("refresh_tokens".into(), "true".into()),
                ]
            }
            _ => {}
        }
        auth.credentials = credentials;
        auth
    }

    /// Each header asked at connect carries a secret credential of its own, declared here.
    fn ask_at_connect(&mut self) {
        for header in &mut self.headers {
            if !header.at_connect {
                continue;
            }
            let existing = header.value.strip_prefix('{').and_then(|v| v.strip_suffix('}'));
            let name = match existing {
                Some(name) if is_word(name) => name.to_owned(),
                _ => credential_name(&header.name),
            };
            if !self.credentials.iter().any(|c| c.name == name) {
                self.credentials.push(Credential {
                    name: name.clone(),
                    kind: "secret".to_owned(),
                    description: format!("The value of the {} header", header.name),
                });
            }
            header.value = format!("{{{name}}}");
        }
    }

    pub fn sections(&self) -> Sections {
        let auth = match self.kind.as_str() {
            "" => None,
            "bearer" => Some(format!("auth bearer {}", text::template(&self.token))),
            "headers" => {
                let entries: String = self
                    .headers
                    .iter()
                    .map(|h| format!("  {} = {}\n", text::literal(&h.name), text::template(&h.value)))
                    .collect();
                Some(format!("auth headers {{\n{entries}}}"))
            }
            kind => {
                let entries: String =
                    self.settings.iter().map(|(name, value)| format!("  {name} = {value}\n")).collect();
                Some(format!("auth {kind} {{\n{entries}}}"))
            }
        };
        let credentials = (!self.credentials.is_empty()).then(|| {
            let lines: String = self
                .credentials
                .iter()
                .map(|c| format!("  {} {} {}\n", c.name, c.kind, text::literal(&c.description)))
                .collect();
            format!("credentials {{\n{lines}}}")
        });
        vec![(Part::Credentials, credentials), (Part::Auth, auth)]
    }
}

/// A setting's value as typed: as the spec writes it when it reads as one
/// value, else taken as text (a URL typed without its quotes).
fn setting(typed: &str) -> String {
    let probe = format!("fields {{\n  x = {typed}\n}}\n");
    let mut diagnostics = Vec::new();
    let one_value = tib_front::parse::parse(&probe, &mut diagnostics).is_some_and(|parsed| {
        !parsed.recovered
            && matches!(parsed.file.sections.as_slice(), [ast::Section { kind: SectionKind::Fields(block), .. }] if block.entries.len() == 1)
    });
    if one_value && !diagnostics.iter().any(|d| d.is_error()) { typed.to_owned() } else { text::template(typed) }
}

fn is_word(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A credential's name made from a header's: `X-Api-Key` is `x_api_key`.
fn credential_name(header: &str) -> String {
    let name: String =
        header.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let name = name.trim_matches('_').to_owned();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) { format!("header_{name}") } else { name }
}

/// Step 3: the users endpoint, its pages, and where the users are in an answer.
#[derive(Debug, Default, PartialEq)]
pub struct Endpoint {
    pub method: String,
    pub path: String,
    /// `query`, `headers`, `body`, `listings`: each as the spec writes its value.
    pub request: Vec<(String, String)>,
    /// A pagination style; empty when the spec has none yet.
    pub style: String,
    pub paging: Vec<(String, String)>,
    /// What follows each `stop when`.
    pub stops: Vec<String>,
    /// What follows `from`.
    pub from: String,
    pub users_at: String,
    pub or_none: bool,
}

impl Endpoint {
    pub fn read(p: &Parsed<'_>) -> Endpoint {
        let mut endpoint = Endpoint { method: "GET".to_owned(), ..Endpoint::default() };
        for section in &p.file.sections {
            match &section.kind {
                SectionKind::Request { method, path, settings } => {
                    endpoint.method = method.text.clone();
                    endpoint.path = text::inner(p, path);
                    endpoint.request = settings
                        .iter()
                        .flat_map(|b| &b.entries)
                        .map(|e| (e.key.text.clone(), p.source(e.value.span()).to_owned()))
                        .collect();
                }
                SectionKind::Paginate { style, body } => {
                    endpoint.style = style.text.clone();
                    for item in body.iter().flat_map(|b| &b.items) {
                        match item {
                            ast::PaginationItem::Setting(e) => {
                                endpoint.paging.push((e.key.text.clone(), p.source(e.value.span()).to_owned()))
                            }
                            ast::PaginationItem::Stop { span, .. } => {
                                let line = p.source(*span);
                                let rest = line.strip_prefix("stop").unwrap_or(line).trim_start();
                                endpoint.stops.push(rest.strip_prefix("when").unwrap_or(rest).trim().to_owned());
                            }
                            ast::PaginationItem::From { span, .. } => {
                                let line = p.source(*span);
                                endpoint.from = line.strip_prefix("from").unwrap_or(line).trim().to_owned();
                            }
                        }
                    }
                }
                SectionKind::Users { path, or_none } => {
                    endpoint.users_at = p.source(path.span).to_owned();
                    endpoint.or_none = or_none.is_some();
                }
                _ => {}
            }
        }
        endpoint
    }

    pub fn posted(form: &Posted) -> Endpoint {
        let setting = |prefix: &str, names: &[&str]| -> Vec<(String, String)> {
            names
                .iter()
                .map(|name| ((*name).to_owned(), form.get(&format!("{prefix}.{name}")).trim().to_owned()))
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| (name, setting(&value)))
                .collect()
        };
        let style = form.get("style").to_owned();
        Endpoint {
            method: form.get("method").to_owned(),
            path: form.get("path").trim().to_owned(),
            request: setting("req", vocabulary::REQUEST_SETTINGS),
            paging: setting("page", vocabulary::pagination_settings(&style)),
            stops: form
                .indexes("stop")
                .into_iter()
                .map(|i| form.get(&format!("stop.{i}")).trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            from: form.get("from").trim().to_owned(),
            style,
            users_at: form.get("users_at").trim().to_owned(),
            or_none: form.has("or_none"),
        }
    }

    /// The settings a paging style starts from.
    pub fn starting_paging(style: &str) -> Vec<(String, String)> {
        let pairs: &[(&str, &str)] = match style {
            "offset" => &[("offset_param", "\"offset\""), ("limit_param", "\"limit\""), ("page_size", "100")],
            "page" => &[("page_param", "\"page\""), ("size_param", "\"per_page\""), ("page_size", "100")],
            "token" => &[("param", "\"cursor\"")],
            _ => &[],
        };
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    pub fn sections(&self) -> Sections {
        let request = (!self.path.is_empty()).then(|| {
            let settings: String = self.request.iter().map(|(name, value)| format!("  {name} = {value}\n")).collect();
            let block = if settings.is_empty() { String::new() } else { format!(" {{\n{settings}}}") };
            format!("request {} {}{block}", self.method, text::template(&self.path))
        });
        let paginate = (!self.style.is_empty()).then(|| {
            let mut lines: String = self.paging.iter().map(|(name, value)| format!("  {name} = {value}\n")).collect();
            if !self.from.is_empty() {
                lines.push_str(&format!("  from {}\n", self.from));
            }
            lines.extend(self.stops.iter().map(|stop| format!("  stop when {stop}\n")));
            if lines.is_empty() {
                format!("paginate {}", self.style)
            } else {
                format!("paginate {} {{\n{lines}}}", self.style)
            }
        });
        let users = (!self.users_at.is_empty())
            .then(|| format!("users at {}{}", self.users_at, if self.or_none { " or none" } else { "" }));
        vec![(Part::Request, request), (Part::Paginate, paginate), (Part::Users, users)]
    }
}

/// Step 5, the fields: each mapped field's value as the spec writes it (a path, most often).
#[derive(Debug, Default, PartialEq)]
pub struct Mapping {
    /// By the language's field names, in its order; absent fields are empty.
    pub fields: Vec<(String, String)>,
    /// Custom fields: the catalog's name, and the value as written.
    pub custom: Vec<(String, String)>,
}

impl Mapping {
    /// `catalog` names the app's custom fields, offered even when not mapped yet.
    pub fn read(p: &Parsed<'_>, catalog: &[String]) -> Mapping {
        let mut fields: Vec<(String, String)> =
            vocabulary::FIELDS.iter().map(|name| ((*name).to_owned(), String::new())).collect();
        let mut custom = Vec::new();
        for section in &p.file.sections {
            match &section.kind {
                SectionKind::Fields(block) => {
                    for entry in &block.entries {
                        let value = p.source(entry.value.span()).to_owned();
                        match fields.iter_mut().find(|(name, _)| *name == entry.key.text) {
                            Some(field) => field.1 = value,
                            // An unknown field stays, for the checker to name.
                            None => fields.push((entry.key.text.clone(), value)),
                        }
                    }
                }
                SectionKind::CustomFields(block) => custom
                    .extend(block.entries.iter().map(|e| (e.key.text.clone(), p.source(e.value.span()).to_owned()))),
                _ => {}
            }
        }
        for name in catalog {
            if !custom.iter().any(|(n, _)| n == name) {
                custom.push((name.clone(), String::new()));
            }
        }
        Mapping { fields, custom }
    }

    pub fn posted(form: &Posted) -> Mapping {
        let fields = form
            .0
            .iter()
            .filter_map(|(name, value)| Some((name.strip_prefix("field.")?.to_owned(), value.trim().to_owned())))
            .collect();
        let custom = form
            .indexes("custom")
            .into_iter()
            .map(|i| {
                (
                    form.get(&format!("custom.{i}.name")).to_owned(),
                    form.get(&format!("custom.{i}.value")).trim().to_owned(),
                )
            })
            .collect();
        Mapping { fields, custom }
    }

    pub fn sections(&self) -> Sections {
        let entries = |pairs: &[(String, String)], quoted: bool| -> String {
            pairs
                .iter()
                .filter(|(name, value)| !name.is_empty() && !value.is_empty())
                .map(|(name, value)| {
                    let key = if quoted { text::literal(name) } else { name.clone() };
                    format!("  {key} = {value}\n")
                })
                .collect()
        };
        let fields = entries(&self.fields, false);
        let custom = entries(&self.custom, true);
        vec![
            (Part::Fields, (!fields.is_empty()).then(|| format!("fields {{\n{fields}}}"))),
            (Part::CustomFields, (!custom.is_empty()).then(|| format!("custom_fields {{\n{custom}}}"))),
        ]
    }
}

/// One rule of a group as a form row: a path, an operator and a value; or,
/// for what a row cannot show (`some`, `any` groups), the rule as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub path: String,
    /// One of [`OPERATORS`], or [`WRITTEN`].
    pub op: String,
    pub value: String,
}

/// The operators a row offers: the language's. `some`'s value is the rules an item of the list
/// must hold; `any` takes no path, and its value is the alternatives, one of which must hold.
pub const OPERATORS: &[&str] =
    &["is", "is not", "any of", "contains", "not contains", ">=", "has value", "some", "any"];
/// A row that holds a whole rule as written.
pub const WRITTEN: &str = "as written";

impl Row {
    fn read(p: &Parsed<'_>, rule: &ast::Rule) -> Row {
        // The rule's lines as written, their indentation left to the formatter.
        let source = p.source(rule.span).lines().map(str::trim).collect::<Vec<_>>().join("\n");
        let written = || Row { path: String::new(), op: WRITTEN.to_owned(), value: source.clone() };
        let op = match &rule.op {
            ast::Op::Is => "is",
            ast::Op::IsNot => "is not",
            ast::Op::AnyOf => "any of",
            ast::Op::Contains => "contains",
            ast::Op::NotContains => "not contains",
            ast::Op::AtLeast => ">=",
            ast::Op::HasValue => "has value",
            ast::Op::Some => "some",
            ast::Op::Any => "any",
            ast::Op::Unknown(_) => return written(),
        };
        // The rules inside the braces, as written, when they were on one line.
        let braced = |text: &str| -> Option<String> {
            let inside = text.strip_prefix('{')?.strip_suffix('}')?.trim();
            (!inside.contains('\n') && !inside.contains('#')).then(|| inside.to_owned())
        };
        let value = match &rule.operand {
            Some(ast::Operand::Rules(group)) if op == "some" => match braced(p.source(group.span)) {
                Some(inside) => inside,
                None => return written(),
            },
            Some(ast::Operand::Alternatives(..)) if op == "any" => {
                let source = p.source(rule.span);
                match source.strip_prefix("any").map(str::trim_start).and_then(braced) {
                    Some(inside) => return Row { path: String::new(), op: op.to_owned(), value: inside },
                    None => return written(),
                }
            }
            None => String::new(),
            Some(ast::Operand::Value(ast::Value::List(items, _))) if op == "any of" => {
                let items: Option<Vec<String>> = items.iter().map(scalar).collect();
                match items {
                    Some(items) if !items.iter().any(|i| i.contains(',')) => items.join(", "),
                    _ => return written(),
                }
            }
            Some(ast::Operand::Value(value)) => match scalar(value) {
                Some(value) => value,
                None => return written(),
            },
            Some(_) => return written(),
        };
        let row = Row { path: p.source(rule.path.span).to_owned(), op: op.to_owned(), value };
        // Only a row that writes back the same rule is shown as a row.
        if row.text().as_deref() == Some(&normalize(p.source(rule.span))) { row } else { written() }
    }

    /// The rule the row writes; `None` for an empty row.
    fn text(&self) -> Option<String> {
        if self.op == WRITTEN {
            return (!self.value.trim().is_empty()).then(|| self.value.trim().to_owned());
        }
        if self.op == "any" {
            return (!self.value.trim().is_empty()).then(|| format!("any {{ {} }}", self.value.trim()));
        }
        if self.path.trim().is_empty() {
            return None;
        }
        let path = self.path.trim();
        let value = self.value.trim();
        Some(match self.op.as_str() {
            "has value" => format!("{path} has value"),
            "any of" => {
                let items: Vec<String> =
                    value.split(',').map(str::trim).filter(|i| !i.is_empty()).map(operand).collect();
                format!("{path} any of [{}]", items.join(", "))
            }
            ">=" => format!("{path} >= {value}"),
            "some" => format!("{path} some {{ {value} }}"),
            op => format!("{path} {op} {}", operand(value)),
        })
    }
}

/// A scalar operand's text as a row shows it; `None` for one a row cannot show as typed.
fn scalar(value: &ast::Value) -> Option<String> {
    match value {
        ast::Value::Str(s) => {
            let text = s.plain()?;
            // Text that a row would write back as a number or true/false stays as written.
            (operand(&text) == text::literal(&text)).then_some(text)
        }
        ast::Value::Number(n) => Some(n.text.clone()),
        ast::Value::Bool(b, _) => Some(b.to_string()),
        _ => None,
    }
}

/// A typed value as an operand: a number or true/false as such, anything else as text.
fn operand(value: &str) -> String {
    let number = value.strip_prefix('-').unwrap_or(value);
    let is_number = !number.is_empty()
        && number.split_once('.').map_or(number.chars().all(|c| c.is_ascii_digit()), |(whole, frac)| {
            !whole.is_empty()
                && !frac.is_empty()
                && whole.chars().all(|c| c.is_ascii_digit())
                && frac.chars().all(|c| c.is_ascii_digit())
        });
    if is_number || value == "true" || value == "false" { value.to_owned() } else { text::literal(value) }
}

/// A rule's text with its white space made single spaces, to compare what a row writes with what was written.
fn normalize(rule: &str) -> String {
    rule.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Rows of a rule group, and the rule text they write.
fn rows(p: &Parsed<'_>, group: &ast::RuleGroup) -> Vec<Row> {
    group.rules.iter().map(|rule| Row::read(p, rule)).collect()
}

fn posted_rows(form: &Posted, prefix: &str) -> Vec<Row> {
    form.indexes(prefix)
        .into_iter()
        .map(|i| Row {
            path: form.get(&format!("{prefix}.{i}.path")).to_owned(),
            op: form.get(&format!("{prefix}.{i}.op")).to_owned(),
            value: form.get(&format!("{prefix}.{i}.value")).to_owned(),
        })
        .collect()
}

/// `{ rule }`, or a rule a line when there are more (a rule as written may
/// hold line breaks and comments); `None` when no row holds a rule.
fn group_text(rows: &[Row]) -> Option<String> {
    let rules: Vec<String> = rows.iter().filter_map(Row::text).collect();
    match rules.as_slice() {
        [] => None,
        [one] if !one.contains('\n') => Some(format!("{{ {one} }}")),
        _ => Some(format!("{{\n{}\n}}", rules.join("\n"))),
    }
}

/// A label and the rules that give it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labelled {
    pub label: String,
    pub rows: Vec<Row>,
}

/// Status in app: how each user's label is decided.
#[derive(Debug, Default, PartialEq)]
pub enum Status {
    /// `Active` or `Deleted`, from the active rules.
    #[default]
    Auto,
    /// A field of the user, as written.
    Field(String),
    Fixed(String),
    Conditions {
        branches: Vec<Labelled>,
        otherwise: String,
    },
}

/// The licenses each user holds.
#[derive(Debug, PartialEq)]
pub enum Licenses {
    /// One license for every active user, named as the app unless named here.
    Auto(String),
    /// No license: the app has no tiers.
    None,
    /// Each license whose rules hold; `otherwise`, when named, for a user no rule gave one.
    Conditions { licenses: Vec<Labelled>, otherwise: String },
}

/// Step 5, the rules: who is active, their status label, their licenses.
#[derive(Debug, PartialEq)]
pub struct Rules {
    /// Empty: everyone is active.
    pub active: Vec<Row>,
    pub status: Status,
    pub licenses: Licenses,
}

impl Rules {
    pub fn read(p: &Parsed<'_>) -> Rules {
        let mut rules = Rules { active: Vec::new(), status: Status::Auto, licenses: Licenses::Auto(String::new()) };
        for section in &p.file.sections {
            match &section.kind {
                SectionKind::Active(group) => rules.active = rows(p, group),
                SectionKind::Status(status) => {
                    rules.status = match status {
                        ast::Status::Auto(_) => Status::Auto,
                        ast::Status::Field(path) => Status::Field(p.source(path.span).to_owned()),
                        ast::Status::Fixed(label) => Status::Fixed(text::unescape(label)),
                        ast::Status::Branches(b) => Status::Conditions {
                            branches: b
                                .branches
                                .iter()
                                .map(|b| Labelled { label: text::unescape(&b.label), rows: rows(p, &b.when) })
                                .collect(),
                            otherwise: match &b.otherwise {
                                Some(ast::Otherwise::Label(label)) => text::unescape(label),
                                // A value ends only a field's branches: the checker says so here.
                                Some(otherwise @ ast::Otherwise::Value(_)) => p.source(otherwise.span()).to_owned(),
                                None => String::new(),
                            },
                        },
                    }
                }
                SectionKind::Licenses(licenses) => {
                    rules.licenses = match licenses {
                        ast::Licenses::Auto { name, .. } => {
                            Licenses::Auto(name.as_ref().map(text::unescape).unwrap_or_default())
                        }
                        ast::Licenses::None(_) => Licenses::None,
                        ast::Licenses::List { entries, .. } => {
                            let mut otherwise = String::new();
                            let mut licenses = Vec::new();
                            for entry in entries {
                                match &entry.when {
                                    Some(when) => licenses
                                        .push(Labelled { label: text::unescape(&entry.name), rows: rows(p, when) }),
                                    None => otherwise = text::unescape(&entry.name),
                                }
                            }
                            Licenses::Conditions { licenses, otherwise }
                        }
                    }
                }
                _ => {}
            }
        }
        rules
    }

    pub fn posted(form: &Posted) -> Rules {
        let labelled = |prefix: &str| -> Vec<Labelled> {
            form.indexes(prefix)
                .into_iter()
                .map(|i| Labelled {
                    label: form.get(&format!("{prefix}.{i}.label")).trim().to_owned(),
                    rows: posted_rows(form, &format!("{prefix}.{i}.rule")),
                })
                .collect()
        };
        let status = match form.get("status") {
            "field" => Status::Field(form.get("status.field").trim().to_owned()),
            "fixed" => Status::Fixed(form.get("status.fixed").trim().to_owned()),
            "conditions" => Status::Conditions {
                branches: labelled("branch"),
                otherwise: form.get("status.otherwise").trim().to_owned(),
            },
            _ => Status::Auto,
        };
        let licenses = match form.get("licenses") {
            "conditions" => Licenses::Conditions {
                licenses: labelled("license"),
                otherwise: form.get("licenses.otherwise").trim().to_owned(),
            },
            "none" => Licenses::None,
            _ => Licenses::Auto(form.get("licenses.name").trim().to_owned()),
        };
        Rules { active: posted_rows(form, "active"), status, licenses }
    }

    pub fn sections(&self) -> Sections {
        let active = group_text(&self.active).map(|group| format!("active when {group}"));
        let status = match &self.status {
            Status::Auto => None,
            Status::Field(path) => Some(format!("status field {path}")),
            Status::Fixed(label) => Some(format!("status {}", text::literal(label))),
            Status::Conditions { branches, otherwise } => {
                let branches: Vec<String> = branches
                    .iter()
                    .filter(|b| !b.label.is_empty())
                    .filter_map(|b| Some(format!("if {} then {}", group_text(&b.rows)?, text::literal(&b.label))))
                    .collect();
                let mut text = branches.join("\n  else ");
                if !otherwise.is_empty() {
                    text.push_str(&format!("\n  else {}", text::literal(otherwise)));
                }
                (!branches.is_empty()).then(|| format!("status {text}"))
            }
        };
        let licenses = match &self.licenses {
            Licenses::Auto(name) if name.is_empty() => None,
            Licenses::Auto(name) => Some(format!("licenses auto {}", text::literal(name))),
            Licenses::None => Some("licenses none".to_owned()),
            Licenses::Conditions { licenses, otherwise } => {
                let mut lines: String = licenses
                    .iter()
                    .filter(|l| !l.label.is_empty())
                    .filter_map(|l| Some(format!("  {} when {}\n", text::literal(&l.label), group_text(&l.rows)?)))
                    .collect();
                if !otherwise.is_empty() {
                    lines.push_str(&format!("  {} otherwise\n", text::literal(otherwise)));
                }
                Some(format!("licenses {{\n{lines}}}"))
            }
        };
        vec![(Part::Active, active), (Part::Status, status), (Part::Licenses, licenses)]
    }
}

/// Every step's form read from one text, as a test holds them to the language.
#[cfg(test)]
pub(super) fn every_step(p: &Parsed<'_>) -> Sections {
    let mut sections = General::read(p).sections();
    sections.extend(Auth::read(p).sections());
    sections.extend(Endpoint::read(p).sections());
    sections.extend(Mapping::read(p, &[]).sections());
    sections.extend(Rules::read(p).sections());
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example spec and acceptance spec in the repository.
    fn specs() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf();
        let mut found = Vec::new();
        for dir in ["specs", "compiler/tests/pass"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("a spec folder") {
                let path = entry.expect("an entry").path();
                if path.extension().is_some_and(|e| e == "tib") {
                    found.push((path.display().to_string(), std::fs::read_to_string(&path).expect("a spec")));
                }
            }
        }
        assert!(found.len() >= 17, "{found:?}");
        found
    }

    fn ir(name: &str, text: &str) -> tib_front::ir::Spec {
        let catalog = tib_front::workspace::CatalogFile::load(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace"),
        )
        .expect("the catalog")
        .catalog();
        let compiled = tib_front::compile("spec.tib", text, &catalog);
        compiled.spec.unwrap_or_else(|| panic!("{name} does not check:\n{text}\n{:#?}", compiled.diagnostics))
    }

    #[test]
    fn every_spec_opens_in_the_builder_and_saves_back_to_the_same_ir() {
        for (name, original) in specs() {
            let parsed = text::parse(&original).expect("parses");
            // Every section each form writes, written whether or not it changed.
            let mut rewritten = original.clone();
            for (part, section) in every_step(&parsed) {
                rewritten = text::replace(&rewritten, part, section.as_deref()).expect("stays readable");
            }
            assert_eq!(ir(&name, &original), ir(&name, &rewritten), "{name}:\n{rewritten}");
            // Read again and written again, nothing changes.
            let again = text::parse(&rewritten).expect("parses");
            let mut twice = rewritten.clone();
            for (part, section) in every_step(&again) {
                twice = text::replace(&twice, part, section.as_deref()).expect("stays readable");
            }
            assert_eq!(rewritten, twice, "{name}");
        }
    }

    /// Each auth kind the builder offers starts from settings that check, once its credentials are typed.
    #[test]
    fn every_auth_kind_starts_from_settings_that_check() {
        let base = "app \"A\"\nbase_url \"https://a.example\"\nrequest GET \"/users\"\npaginate none\nusers at .\n\
                    fields {\n  id = id\n  email = email\n}\n";
        for kind in tib_front::check::vocabulary::AUTH_KINDS {
            let auth = Auth::starting(kind, Vec::new());
            let mut text = base.to_owned();
            for (part, section) in auth.sections() {
                text = text::replace(&text, part, section.as_deref()).expect("stays readable");
            }
            // OAuth's URLs are left for the person to type: filled here, the rest stands as started.
            let text = text.replace("= \"\"", "= \"https://a.example/token\"");
            let compiled = tib_front::compile("a.tib", &text, &tib_front::catalog::Catalog::missing());
            let errors: Vec<&str> =
                compiled.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.as_str()).collect();
            assert!(errors.is_empty(), "{kind}: {errors:?}\n{text}");
        }
    }

    #[test]
    fn a_form_posted_unchanged_changes_nothing() {
        for (name, original) in specs() {
            let parsed = text::parse(&original).expect("parses");
            let rules = Rules::read(&parsed);
            let posted = Posted(rules_form(&rules));
            assert_eq!(Rules::posted(&posted), rules, "{name}");
            assert!(changes(rules.sections(), Rules::posted(&posted).sections()).is_empty(), "{name}");
        }
    }

    /// The fields a page's rules form posts for `rules`.
    fn rules_form(rules: &Rules) -> Vec<(String, String)> {
        let mut form = Vec::new();
        let rows = |prefix: &str, rows: &[Row], form: &mut Vec<(String, String)>| {
            for (i, row) in rows.iter().enumerate() {
                form.push((format!("{prefix}.{i}.path"), row.path.clone()));
                form.push((format!("{prefix}.{i}.op"), row.op.clone()));
                form.push((format!("{prefix}.{i}.value"), row.value.clone()));
            }
        };
        rows("active", &rules.active, &mut form);
        match &rules.status {
            Status::Auto => form.push(("status".into(), "auto".into())),
            Status::Field(path) => {
                form.extend([("status".into(), "field".into()), ("status.field".into(), path.clone())])
            }
            Status::Fixed(label) => {
                form.extend([("status".into(), "fixed".into()), ("status.fixed".into(), label.clone())])
            }
            Status::Conditions { branches, otherwise } => {
                form.push(("status".into(), "conditions".into()));
                form.push(("status.otherwise".into(), otherwise.clone()));
                for (b, branch) in branches.iter().enumerate() {
                    form.push((format!("branch.{b}.label"), branch.label.clone()));
                    rows(&format!("branch.{b}.rule"), &branch.rows, &mut form);
                }
            }
        }
        match &rules.licenses {
            Licenses::Auto(name) => {
                form.extend([("licenses".into(), "auto".into()), ("licenses.name".into(), name.clone())])
            }
            Licenses::None => form.push(("licenses".into(), "none".into())),
            Licenses::Conditions { licenses, otherwise } => {
                form.push(("licenses".into(), "conditions".into()));
                form.push(("licenses.otherwise".into(), otherwise.clone()));
                for (l, license) in licenses.iter().enumerate() {
                    form.push((format!("license.{l}.label"), license.label.clone()));
                    rows(&format!("license.{l}.rule"), &license.rows, &mut form);
                }
            }
        }
        form
    }

    #[test]
    fn rows_show_what_they_can_and_keep_the_rest_as_written() {
        let spec = "active when {\n  state any of [\"active\", \"invited\"]\n  seats >= 1\n  roles some { name is \"x\" }\n  code is \"1\"\n  any { a is 1 or { b is 2 c is 3 } }\n  any {\n    a is 1\n    b is 2\n  }\n}\n";
        let parsed = text::parse(spec).expect("parses");
        let rules = Rules::read(&parsed);
        let shown: Vec<(&str, &str, &str)> =
            rules.active.iter().map(|r| (r.path.as_str(), r.op.as_str(), r.value.as_str())).collect();
        assert_eq!(
            shown,
            [
                ("state", "any of", "active, invited"),
                ("seats", ">=", "1"),
                ("roles", "some", "name is \"x\""),
                // The text "1" typed in a row would be the number 1.
                ("", WRITTEN, "code is \"1\""),
                ("", "any", "a is 1 or { b is 2 c is 3 }"),
                // Over lines (where comments may stand), a group stays as written.
                ("", WRITTEN, "any {\na is 1\nb is 2\n}"),
            ]
        );
    }

    #[test]
    fn a_setting_typed_without_its_quotes_is_taken_as_text() {
        assert_eq!(setting("https://auth.example.com/token"), "\"https://auth.example.com/token\"");
        assert_eq!(setting("\"https://auth.example.com/token\""), "\"https://auth.example.com/token\"");
        assert_eq!(setting("[\"a\", \"b\"]"), "[\"a\", \"b\"]");
        assert_eq!(setting("100"), "100");
        assert_eq!(setting("instance_url"), "instance_url", "a path stays a path");
        assert_eq!(setting("openid users:read"), "\"openid users:read\"");
        assert_eq!(setting("1\n}\nfields {"), "\"1\\n}\\nfields {\"", "one value, never more text");
    }

    #[test]
    fn a_header_asked_at_connect_is_a_secret_credential() {
        let form = Posted(vec![
            ("kind".into(), "headers".into()),
            ("header.0.name".into(), "X-Api-Key".into()),
            ("header.0.value".into(), "typed-secret".into()),
            ("header.0.ask".into(), "on".into()),
            ("header.1.name".into(), "Accept".into()),
            ("header.1.value".into(), "application/json".into()),
        ]);
        let auth = Auth::posted(&form);
        assert_eq!(auth.headers[0].value, "{x_api_key}", "the typed secret never reaches the spec");
        assert_eq!(auth.credentials[0].name, "x_api_key");
        assert_eq!(auth.credentials[0].kind, "secret");
        let sections = auth.sections();
        let written = format!("{sections:?}");
        assert!(!written.contains("typed-secret"), "{written}");
    }
}
