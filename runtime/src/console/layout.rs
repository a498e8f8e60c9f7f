//! The one layout every page is rendered in, the parts pages share (the
//! navigation, a form's CSRF field), and the page that says only what went
//! wrong.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, Render, html};

use crate::access::operator::Role;
use crate::store::Time;
use crate::web::when;

/// A page: its title, and its body as its template renders it.
pub(super) trait Page: Render {
    fn title(&self) -> String;
}

/// A page inside the layout, as an answer. The security headers are the server's one layer
/// ([`crate::security`]).
pub(super) fn respond(status: StatusCode, page: &impl Page) -> Response {
    (status, Html(document(page).into_string())).into_response()
}

/// A script the console serves to its own pages, as JavaScript and nothing else.
pub(super) fn script(text: &'static str) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The layout: the page's title and body, with the style every page shares.
pub(super) fn document(page: &impl Page) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title()) " · tib" }
                // The one text not escaped: the style sheet below, written here.
                style { (PreEscaped(STYLE)) }
            }
            body { main { (page) } }
        }
    }
}

/// Text from an API, a store or an operator, on one line: control characters shown escaped.
pub(super) fn line(text: &str) -> String {
    tib_support::one_line(text).into_owned()
}

/// A sync's error as an operator reads it: the status and the API's own message on one line, and
/// the full request and answer one click away; or the text as it is when it is not an API's answer.
pub(super) struct ErrorWords<'a> {
    text: &'a str,
    short: Option<String>,
}

impl<'a> ErrorWords<'a> {
    pub(super) fn of(text: &'a str) -> ErrorWords<'a> {
        ErrorWords { text, short: short_error(text) }
    }

    /// The one line, for inside a sentence.
    pub(super) fn line(&self) -> Markup {
        html! { (line(self.short.as_deref().unwrap_or(self.text))) }
    }

    /// The whole of it, folded: a block, for after the sentence.
    pub(super) fn detail(&self) -> Markup {
        html! {
            @if self.short.is_some() {
                details.error-detail { summary { "the request and the answer" } pre { (line(self.text)) } }
            }
        }
    }
}

/// The line and its detail together, where a block may go (a table's cell).
pub(super) fn error_words(text: &str) -> Markup {
    let words = ErrorWords::of(text);
    html! { (words.line()) (words.detail()) }
}

/// `HTTP 401: invalid API token` from `<url> answered HTTP 401: <body>` and what follows it (a
/// hint after `; `), the message read from the JSON body where an API puts one; `None` for text
/// of another shape.
fn short_error(text: &str) -> Option<String> {
    let (_, rest) = text.split_once(" answered HTTP ")?;
    let (status, rest) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len()));
    let body = rest.strip_prefix(": ").unwrap_or("");
    // What the engine adds after the body: its hint.
    let (body, hint) = match body.rsplit_once("; ") {
        Some((body, hint)) if hint.starts_with("check ") => (body, Some(hint)),
        _ => (body, None),
    };
    let message = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|json| api_message(&json));
    let mut short = format!("HTTP {status}");
    if let Some(message) = message {
        short.push_str(&format!(": {message}"));
    }
    if let Some(hint) = hint {
        short.push_str(&format!("; {hint}"));
    }
    Some(short)
}

/// Where APIs put the words of an error: `error.message`, `error_description`, `message`, `error`,
/// `errors[0].message`, `detail`, `title`.
fn api_message(json: &serde_json::Value) -> Option<String> {
    let text = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    [
        &json["error"]["message"],
        &json["error_description"],
        &json["message"],
        &json["error"],
        &json["errors"][0]["message"],
        &json["detail"],
        &json["title"],
    ]
    .into_iter()
    .find_map(text)
}

/// Whether a stored user has access, in words: whether the app lists them still, too.
pub(super) fn access(user: &crate::store::StoredUser) -> &'static str {
    match (user.deleted, user.has_access()) {
        (true, _) => "no (gone from the app)",
        (false, true) => "yes",
        (false, false) => "no",
    }
}

/// The hidden field that carries the session's CSRF token in a form.
pub(super) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// What every page behind the login knows of its session: the CSRF token its forms carry, who is
/// logged in, and how many notifications they have not read.
#[derive(Clone, Debug, Default)]
pub(super) struct Nav {
    pub csrf: String,
    pub who: String,
    pub role: Option<Role>,
    pub unread: i64,
    /// When the page is made: its times are told from it ("3 h ago").
    pub now: Time,
}

impl Nav {
    /// Whether the operator may change things, so that a page offers its actions. Viewers are
    /// refused every change by the operations layer anyway; a page does not offer what it would refuse.
    pub fn may_change(&self) -> bool {
        self.role != Some(Role::Viewer)
    }

    /// A page's session with only its CSRF token, as unit tests render pages.
    #[cfg(test)]
    pub fn token(csrf: &str) -> Nav {
        Nav { csrf: csrf.to_owned(), ..Nav::default() }
    }
}

/// A form's CSRF field takes the token wherever a page keeps it.
impl std::ops::Deref for Nav {
    type Target = str;

    fn deref(&self) -> &str {
        &self.csrf
    }
}

/// The header of every page behind the login: where to go, the notifications not yet read, who is
/// logged in, and logging out.
pub(super) fn navigation(nav: &Nav) -> Markup {
    html! {
        nav {
            a href="/" { strong { "tib" } }
            " " a href="/" { "Accounts" }
            " " a href="/people" { "People" }
            " " a href="/licenses" { "Licenses" }
            " " a href="/access-review" { "Access review" }
            " " a href="/notifications" {
                "Notifications"
                @if nav.unread > 0 { " " span.badge aria-label=(format!("{} unread", nav.unread)) { (nav.unread) } }
            }
            " " a href="/builder" { "Builder" }
            " " a href="/operators" { "Operators" }
            " "
            form.inline method="post" action="/logout" {
                @if !nav.who.is_empty() {
                    span.who { (nav.who) @if let Some(role) = nav.role { " (" (role) ")" } } " "
                }
                (csrf_field(&nav.csrf))
                button type="submit" { "Log out" }
            }
        }
    }
}

/// How many of a thing, its name in the plural unless one: "1 page", "30 pages".
pub(super) fn counted(n: u64, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
}

/// Where a page's actions would be, for a viewer: what they cannot do, and who can.
pub(super) fn viewer_note(what: &str) -> Markup {
    html! { p.note { "You are a viewer: an admin can " (what) "." } }
}

/// A time as an operator reads it at a glance ("3 h ago", "in 20 min"), with the exact time, its
/// zone named, on hover (and for machines, in `datetime`); `-` for none.
pub(super) fn ago(at: Option<Time>, now: Time) -> Markup {
    let Some(instant) = at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)) else { return html! { "-" } };
    let exact = format!("{} UTC", when(at));
    html! { time datetime=(instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) title=(exact) { (relative(instant.timestamp(), now)) } }
}

/// An app's time (RFC 3339) as [`ago`] shows it; as the app gave it when it is not one.
pub(super) fn app_time(time: Option<&str>, now: Time) -> Markup {
    match time.map(chrono::DateTime::parse_from_rfc3339) {
        None => html! { "-" },
        Some(Ok(at)) => ago(Some(at.timestamp()), now),
        Some(Err(_)) => html! { (line(time.unwrap_or_default())) },
    }
}

/// How long before or after `now` a time is, in the largest unit that reads plainly; beyond two
/// months, the day itself.
fn relative(at: Time, now: Time) -> String {
    let seconds = (now - at).unsigned_abs();
    let amount = match seconds {
        0..60 => return if at > now { "in a moment" } else { "just now" }.to_owned(),
        60..3600 => format!("{} min", seconds / 60),
        3600..172_800 => format!("{} h", seconds / 3600),
        172_800..5_184_000 => format!("{} days", seconds / 86_400),
        _ => return when(Some(at)).chars().take(10).collect(),
    };
    if at > now { format!("in {amount}") } else { format!("{amount} ago") }
}

/// What an action did, shown once at the top of the page it went back to.
pub(super) fn done(message: Option<&str>) -> Markup {
    html! { @if let Some(message) = message { p role="status" { (line(message)) } } }
}

/// A page that says only what went wrong.
pub(super) struct Problem<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

impl Render for Problem<'_> {
    fn render(&self) -> Markup {
        html! {
            p { a href="/" { "All accounts" } }
            p.error { (self.message) }
        }
    }
}

impl Page for Problem<'_> {
    fn title(&self) -> String {
        self.title.to_owned()
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1c1e21}\
main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
nav{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;border-bottom:1px solid #e3e5e8;padding-bottom:.5rem}\
nav form{margin-left:auto}.badge{background:#b00020;color:#fff;border-radius:1rem;padding:0 .45rem;font-size:.85em}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.4rem .6rem;\
border-bottom:1px solid #e3e5e8;vertical-align:top}.state-disabled,.error{color:#b00020}.state-held,.state-waiting{color:#8a5300}\
.warning{background:#fff4e5;border:1px solid #f0b45a;padding:.6rem}.live,.note{background:#e8f1fd;padding:.6rem}\
form.inline{display:inline}input,button,select{font:inherit;padding:.4rem .6rem}\
form.dialog label{display:block;margin:.8rem 0 .2rem;font-weight:600}form.dialog small{display:block;color:#555}\
form.dialog input[type=text],form.dialog input[type=password],form.dialog input[type=url]{width:100%;max-width:32rem;box-sizing:border-box}\
a.button{display:inline-block;background:#1a56db;color:#fff;padding:.5rem 1rem;text-decoration:none;border-radius:.3rem}\
code{background:#eef0f3;padding:0 .2rem;word-break:break-all}dl.fields{margin:0}dl.fields dt{font-weight:600;display:inline}\
dl.fields dd{display:inline;margin:0 .6rem 0 .2rem}\
nav.steps ol{display:flex;gap:1rem;flex-wrap:wrap;list-style:none;padding:0}\
fieldset{border:1px solid #e3e5e8;margin:1rem 0;background:#fff}div.row{display:flex;gap:.4rem;flex-wrap:wrap;margin:.3rem 0}\
form.dialog div.row input[type=text]{width:auto;flex:1 1 10rem;max-width:none}div.row textarea{flex:1 1 30rem}\
div.labelled{border-left:3px solid #e3e5e8;padding-left:.6rem;margin:.6rem 0}label.check{display:inline;font-weight:normal}\
textarea{font:inherit;width:100%;box-sizing:border-box}#spec{font-family:ui-monospace,monospace}\
details.error-detail{color:#1c1e21}details.error-detail pre{white-space:pre-wrap}pre{background:#fff;border:1px solid #e3e5e8;padding:.6rem;overflow:auto;max-height:30rem}.warning-text{color:#8a5300}\
@media (max-width:40rem){table,thead,tbody,tr,th,td{display:block}thead{display:none}td{border:0}tr{border-bottom:1px solid #e3e5e8}\
td[data-label]::before{content:attr(data-label) \": \";font-weight:600}td[data-label]:empty{display:none}}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_page_escapes_its_message_inside_the_layout() {
        let page = Problem { title: "Not <found>", message: "no connection <script>alert(1)</script>/\"x\"" };
        let html = document(&page).into_string();
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"), "{html}");
        assert!(html.contains("<title>Not &lt;found&gt; · tib</title>"), "{html}");
        assert!(html.contains("no connection &lt;script&gt;alert(1)&lt;/script&gt;/&quot;x&quot;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn an_apis_error_reads_as_its_status_and_message_with_the_whole_answer_a_click_away() {
        let text = r#"http://127.0.0.1:9/api/v2/members?offset=0 answered HTTP 401: {"ok":false,"error":{"message":"invalid <API> token"}}; check the credentials"#;
        assert_eq!(short_error(text).as_deref(), Some("HTTP 401: invalid <API> token; check the credentials"));
        let html = error_words(text).into_string();
        assert!(
            html.starts_with(
                "HTTP 401: invalid &lt;API&gt; token; check the credentials<details class=\"error-detail\">"
            ),
            "{html}"
        );
        assert!(html.contains("<pre>http://127.0.0.1:9/api/v2/members?offset=0 answered HTTP 401"), "{html}");
        assert_eq!(short_error("https://x answered HTTP 500: <html>").as_deref(), Some("HTTP 500"));
        assert_eq!(short_error("https://x answered HTTP 503").as_deref(), Some("HTTP 503"));
        let slack = r#"https://slack.com/api/users.list answered HTTP 400: {"ok":false,"error":"invalid_auth"}"#;
        assert_eq!(short_error(slack).as_deref(), Some("HTTP 400: invalid_auth"));
        assert_eq!(short_error("the sync ran past its deadline"), None);
        assert_eq!(error_words("no <answer>").into_string(), "no &lt;answer&gt;");
    }

    #[test]
    fn times_read_relative_with_the_exact_time_and_its_zone_on_hover() {
        let now = 1_000_000;
        let shown = |at: Option<Time>| ago(at, now).into_string();
        assert_eq!(
            shown(Some(now - 3 * 3600 - 5)),
            "<time datetime=\"1970-01-12T10:46:35Z\" title=\"1970-01-12 10:46 UTC\">3 h ago</time>"
        );
        assert!(shown(Some(now - 30)).contains(">just now<"));
        assert!(shown(Some(now + 20 * 60)).contains(">in 20 min<"));
        assert!(shown(Some(now - 3 * 86_400)).contains(">3 days ago<"));
        assert!(shown(Some(now + 400 * 86_400)).contains(">1971-02-16<"));
        assert_eq!(shown(None), "-");
        assert!(app_time(Some("1970-01-12T13:46:40+00:00"), now).into_string().contains(">just now<"));
        assert_eq!(app_time(Some("last <week>"), now).into_string(), "last &lt;week&gt;");
    }

    #[test]
    fn the_navigation_carries_the_csrf_token_escaped() {
        let html = navigation(&Nav::token("a\"b<c")).into_string();
        assert!(html.contains("name=\"csrf\" value=\"a&quot;b&lt;c\""), "{html}");
        assert!(!html.contains("unread"), "{html}");
        let nav = Nav { csrf: "t".into(), who: "ann@example.com".into(), role: Some(Role::Viewer), unread: 3, now: 0 };
        let html = navigation(&nav).into_string();
        assert!(html.contains("Notifications <span class=\"badge\" aria-label=\"3 unread\">3</span>"), "{html}");
        assert!(html.contains("<span class=\"who\">ann@example.com (viewer)</span>"), "{html}");
    }
}
