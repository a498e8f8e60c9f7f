//! The draft: what was found in the document, each part known or a gap, and
//! the `.tib` text it is written as.

use std::fmt::Write as _;

use tib_front::format::literal;
use tib_front::ir::Path;

/// A part of the spec: found, or a gap that says what belongs there.
#[derive(Clone, Debug)]
pub enum Slot<T> {
    Known(T),
    Gap(String),
}

pub struct Draft {
    /// Where the draft came from, and what was guessed: comment lines at its top.
    pub header: Vec<String>,
    pub app: String,
    pub base_url: Slot<Template>,
    pub credentials: Vec<Credential>,
    pub auth: Slot<Auth>,
    pub method: &'static str,
    pub path: String,
    /// Fixed query parameters: the required ones and the page size of a link or cursor listing.
    pub query: Vec<(String, Template)>,
    /// Fixed headers: the required ones (an API version, an account id).
    pub headers: Vec<(String, Template)>,
    /// A POST's body, which a document describes but does not give.
    pub body: Option<Slot<String>>,
    pub paging: Slot<Paging>,
    /// Why the paging style was chosen, in words.
    pub paging_reason: Option<String>,
    pub users_at: Slot<Path>,
    pub fields: Vec<(&'static str, Slot<Path>)>,
    /// `active when { … }`'s one rule, as written.
    pub active: Option<String>,
    pub status: Option<Path>,
    /// The user's other properties: custom fields the author may map.
    pub unmapped: Vec<String>,
}

/// A string with credential placeholders.
#[derive(Clone, Debug, Default)]
pub struct Template(pub Vec<Piece>);

#[derive(Clone, Debug)]
pub enum Piece {
    Text(String),
    Credential(String),
}

impl Template {
    pub fn text(text: &str) -> Template {
        Template(vec![Piece::Text(text.to_owned())])
    }

    pub fn credential(name: &str) -> Template {
        Template(vec![Piece::Credential(name.to_owned())])
    }

    /// Text whose `{name}`s are credentials, as OpenAPI writes server and OAuth URLs.
    pub fn parse(text: &str) -> Template {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else { break };
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            pieces.push(Piece::Credential(rest[open + 1..close].to_owned()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Template(pieces)
    }

    /// The credentials it names.
    pub fn credentials(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|piece| match piece {
            Piece::Credential(name) => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// As the language writes it: quoted, the text escaped, `{name}` for each credential.
    fn written(&self) -> String {
        let mut out = String::from("\"");
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => {
                    let quoted = literal(text);
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
                Piece::Credential(name) => {
                    let _ = write!(out, "{{{name}}}");
                }
            }
        }
        out.push('"');
        out
    }
}

pub struct Credential {
    pub name: String,
    pub secret: bool,
    pub prompt: String,
}

pub enum Auth {
    Bearer(Template),
    Basic { username: Template, password: Template },
    Headers(Vec<(String, Template)>),
    Query { param: String, value: Template },
    ClientCredentials { token_url: Template, scopes: Vec<String> },
    AuthorizationCode { authorize_url: Template, token_url: Template, scopes: Vec<String>, refresh_tokens: Slot<bool> },
}

pub enum Paging {
    None,
    Offset { offset_param: String, limit_param: String, page_size: u32, start: u32, stops: Vec<Stop> },
    Page { page_param: String, size_param: String, page_size: u32, first_page: u32, stops: Vec<Stop> },
    NextUrl { from: From, stops: Vec<Stop> },
    Token { param: String, from: From, stops: Vec<Stop> },
}

pub enum From {
    Body(Path),
    LinkHeader,
    Header(String),
}

#[derive(Clone)]
pub enum Stop {
    EmptyPage,
    MissingToken,
    NoMore(Path),
    Total(Path),
}

fn gap(what: &str) -> String {
    format!("todo {}", literal(what))
}

impl Draft {
    /// Every gap, in the order the spec holds them.
    pub fn gaps(&self) -> Vec<&str> {
        let refresh = match &self.auth {
            Slot::Known(Auth::AuthorizationCode { refresh_tokens, .. }) => gap_of(refresh_tokens),
            _ => None,
        };
        [gap_of(&self.base_url), gap_of(&self.auth), refresh]
            .into_iter()
            .chain([self.body.as_ref().and_then(gap_of), gap_of(&self.paging), gap_of(&self.users_at)])
            .chain(self.fields.iter().map(|(_, path)| gap_of(path)))
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// The spec's text, in `compiler fmt`'s layout.
    pub fn write(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "\napp {}", literal(&self.app));
        let _ = writeln!(out, "base_url {}", self.slot(&self.base_url, Template::written));
        if !self.credentials.is_empty() {
            out.push_str("\ncredentials {\n");
            for credential in &self.credentials {
                let kind = if credential.secret { "secret" } else { "text" };
                let _ = writeln!(out, "  {} {kind} {}", credential.name, literal(&credential.prompt));
            }
            out.push_str("}\n");
        }
        let _ = writeln!(out, "\nauth {}", self.slot(&self.auth, write_auth));
        self.write_request(&mut out);
        if let Some(reason) = &self.paging_reason {
            let _ = write!(out, "\n# {reason}");
        }
        let _ = writeln!(out, "\npaginate {}", self.slot(&self.paging, write_paging));
        let _ = writeln!(out, "\nusers at {}", self.slot(&self.users_at, ToString::to_string));
        out.push_str("\nfields {\n");
        for (field, path) in &self.fields {
            let _ = writeln!(out, "  {field} = {}", self.slot(path, ToString::to_string));
        }
        out.push_str("}\n");
        if let Some(rule) = &self.active {
            let _ = writeln!(out, "\nactive when {{ {rule} }}");
        }
        if let Some(path) = &self.status {
            let _ = writeln!(out, "\nstatus field {path}");
        }
        if !self.unmapped.is_empty() {
            out.push_str("\n# Each user's other properties, for custom_fields (define them in custom-fields.toml):\n");
            for line in wrap(&self.unmapped.join(", "), 96) {
                let _ = writeln!(out, "#   {line}");
            }
        }
        // The parts above are written in the language's own forms, so the formatter takes them;
        // were it not to, the text as written still says everything.
        let mut text = tib_front::format::format(&out).unwrap_or(out);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    fn slot<T>(&self, slot: &Slot<T>, written: impl Fn(&T) -> String) -> String {
        match slot {
            Slot::Known(value) => written(value),
            Slot::Gap(what) => gap(what),
        }
    }

    fn write_request(&self, out: &mut String) {
        let _ = write!(out, "\nrequest {} {}", self.method, literal(&self.path));
        if self.query.is_empty() && self.headers.is_empty() && self.body.is_none() {
            out.push('\n');
            return;
        }
        out.push_str(" {\n");
        for (setting, pairs) in [("query", &self.query), ("headers", &self.headers)] {
            if pairs.is_empty() {
                continue;
            }
            let _ = write!(out, "  {setting} = {{");
            for (name, value) in pairs {
                let _ = write!(out, " {} = {}", literal(name), value.written());
            }
            out.push_str(" }\n");
        }
        if let Some(body) = &self.body {
            let _ = writeln!(out, "  body = {}", self.slot(body, String::clone));
        }
        out.push_str("}\n");
    }
}

fn gap_of<T>(slot: &Slot<T>) -> Option<&String> {
    match slot {
        Slot::Gap(what) => Some(what),
        Slot::Known(_) => None,
    }
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| literal(s)).collect::<Vec<_>>().join(", "))
}

fn write_auth(auth: &Auth) -> String {
    match auth {
        Auth::Bearer(token) => format!("bearer {}", token.written()),
        Auth::Basic { username, password } => {
            format!("basic {{\n  username = {}\n  password = {}\n}}", username.written(), password.written())
        }
        Auth::Headers(headers) => {
            let lines: Vec<String> =
                headers.iter().map(|(name, value)| format!("  {} = {}", literal(name), value.written())).collect();
            format!("headers {{\n{}\n}}", lines.join("\n"))
        }
        Auth::Query { param, value } => {
            format!("query {{\n  param = {}\n  value = {}\n}}", literal(param), value.written())
        }
        Auth::ClientCredentials { token_url, scopes } => {
            let mut text = format!("oauth_client_credentials {{\n  token_url = {}\n", token_url.written());
            if !scopes.is_empty() {
                let _ = writeln!(text, "  scopes = {}", list(scopes));
            }
            text + "}"
        }
        Auth::AuthorizationCode { authorize_url, token_url, scopes, refresh_tokens } => {
            let mut text = format!(
                "oauth_authorization_code {{\n  authorize_url = {}\n  token_url = {}\n",
                authorize_url.written(),
                token_url.written()
            );
            if !scopes.is_empty() {
                let _ = writeln!(text, "  scopes = {}", list(scopes));
            }
            let refresh = match refresh_tokens {
                Slot::Known(refresh) => refresh.to_string(),
                Slot::Gap(what) => gap(what),
            };
            let _ = writeln!(text, "  refresh_tokens = {refresh}");
            text + "}"
        }
    }
}

fn write_paging(paging: &Paging) -> String {
    let (style, settings, stops) = match paging {
        Paging::None => return "none".to_owned(),
        Paging::Offset { offset_param, limit_param, page_size, start, stops } => (
            "offset",
            vec![
                format!("offset_param = {}", literal(offset_param)),
                format!("limit_param = {}", literal(limit_param)),
                format!("page_size = {page_size}"),
                format!("start = {start}"),
            ],
            stops,
        ),
        Paging::Page { page_param, size_param, page_size, first_page, stops } => (
            "page",
            vec![
                format!("page_param = {}", literal(page_param)),
                format!("size_param = {}", literal(size_param)),
                format!("page_size = {page_size}"),
                format!("first_page = {first_page}"),
            ],
            stops,
        ),
        Paging::NextUrl { from, stops } => ("next_url", vec![write_from(from)], stops),
        Paging::Token { param, from, stops } => {
            ("token", vec![format!("param = {}", literal(param)), write_from(from)], stops)
        }
    };
    let mut text = format!("{style} {{\n");
    for line in settings {
        let _ = writeln!(text, "  {line}");
    }
    for stop in stops {
        let condition = match stop {
            Stop::EmptyPage => "empty_page".to_owned(),
            Stop::MissingToken => "missing_token".to_owned(),
            Stop::NoMore(path) => format!("no_more {path}"),
            Stop::Total(path) => format!("total {path}"),
        };
        let _ = writeln!(text, "  stop when {condition}");
    }
    text + "}"
}

fn write_from(from: &From) -> String {
    match from {
        From::Body(path) => format!("from body {path}"),
        From::LinkHeader => "from link_header".to_owned(),
        From::Header(name) => format!("from header {}", literal(name)),
    }
}

/// Text cut into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}
