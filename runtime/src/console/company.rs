//! What the company needs to know, across every connected account: one person in every app
//! (`/people`), and the licenses in use with their holders, those the apps have not seen in a while
//! apart (`/licenses`): the seats that could be taken back; and who left but still has access,
//! the accounts compared with the company's directories (`/access-review`). Each page is also a
//! CSV download (`?format=csv`).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, Render, html};
use serde::Deserialize;

use super::layout::{self, Nav, Page, access, app_time, line, navigation};
use super::{Operator, error_page};
use crate::api::DEFAULT_UNSEEN_DAYS;
use crate::operate::{AccessReview, LicenseUse, Licenses, MAX_UNSEEN_DAYS, PersonAccount, ReviewPages};
use crate::store::{Person, StoredUser};
use crate::web::Web;
use crate::web::{account_path, percent_encode, when};

/// People shown on one page.
const PEOPLE_PER_PAGE: i64 = 100;
/// Holders shown on one page.
const HOLDERS_PER_PAGE: i64 = 100;
/// Findings of each kind the access review's page shows; its CSV holds them all.
const REVIEW_PER_PAGE: i64 = 100;
/// The windows offered in one click; any other number of days can be typed.
const WINDOWS: [u32; 3] = [30, 60, 90];

/// `?format=csv` asks for the download instead of the page.
fn wants_csv(format: Option<&str>) -> bool {
    format == Some("csv")
}

/// A CSV download named `name`.
fn download(name: &str, text: String) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

/// A person's page.
fn person_path(email: &str) -> String {
    format!("/people/{}", percent_encode(email))
}

/// The holders' page of one license of an account, not seen in `unseen` days if given.
fn holders_path(integration: &str, account: &str, license: &str, unseen: Option<u32>) -> String {
    let mut path = format!(
        "/licenses/{}/{}?license={}",
        percent_encode(integration),
        percent_encode(account),
        percent_encode(license)
    );
    if let Some(days) = unseen {
        path.push_str(&format!("&unseen={days}"));
    }
    path
}

/// The later of the last sign-in and the last activity an app gives for a user.
fn seen(user: &StoredUser) -> Option<&str> {
    user.user.last_seen_at.as_deref().max(user.user.last_activity_at.as_deref())
}

/// An integration's app as people know it (`HubSpot`), or its id where this build has no such connector.
fn app(integration: &str) -> String {
    crate::integrations::connector(integration).map_or_else(|| integration.to_owned(), |c| c.spec().app.to_owned())
}

// ------------------------------------------------------------------ people ---

#[derive(Deserialize)]
pub(super) struct PeopleView {
    q: Option<String>,
    /// The last email of the page before.
    after: Option<String>,
    format: Option<String>,
}

struct PeoplePage {
    nav: Nav,
    q: String,
    people: Vec<Person>,
    next: Option<String>,
    first_page: bool,
}

impl Render for PeoplePage {
    fn render(&self) -> Markup {
        let query = if self.q.is_empty() { String::new() } else { format!("q={}&", percent_encode(&self.q)) };
        html! {
            (navigation(&self.nav))
            h1 { "People" }
            p { "Each person is an email, in every connected account that lists it." }
            form #people-search method="get" action="/people" {
                input type="search" name="q" value=(self.q) placeholder="email or name" aria-label="email or name";
                " " button type="submit" { "Search" }
                " " a href=(format!("/people?{query}format=csv")) { "Export CSV" }
            }
            @if self.people.is_empty() {
                p { @if self.q.is_empty() { "No account lists anyone yet." } @else { "No one matches." } }
            } @else {
                table #people {
                    thead { tr { th { "Email" } th { "Name" } th { "Accounts" } th { "With access" } th { "Last seen" } } }
                    tbody { @for p in &self.people {
                        tr {
                            td data-label="Email" { a href=(person_path(&p.email)) { (line(&p.email)) } }
                            td data-label="Name" { (line(p.name.as_deref().unwrap_or(""))) }
                            td data-label="Accounts" { (p.accounts) }
                            td data-label="With access" { (p.with_access) }
                            td data-label="Last seen" { (app_time(p.last_seen_at.as_deref(), self.nav.now)) }
                        }
                    } }
                }
            }
            @if !self.first_page || self.next.is_some() {
                p {
                    @if !self.first_page { a href=(format!("/people?{query}")) { "First people" } " " }
                    @if let Some(after) = &self.next {
                        a href=(format!("/people?{query}after={}", percent_encode(after))) { "Next people" }
                    }
                }
            }
        }
    }
}

impl Page for PeoplePage {
    fn title(&self) -> String {
        "People".to_owned()
    }
}

/// The people across every account, searched, by email; or all of them as CSV.
pub(super) async fn people(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Query(view): Query<PeopleView>,
) -> Response {
    let q = view.q.unwrap_or_default();
    let search = Some(q.trim().to_owned()).filter(|q| !q.is_empty());
    if wants_csv(view.format.as_deref()) {
        return match all_people(&web, search).await {
            Ok(people) => download("people.csv", people_csv(&people)),
            Err(error) => error_page(error),
        };
    }
    match web.services.people(search, view.after.clone(), PEOPLE_PER_PAGE).await {
        Ok(page) => {
            let page = PeoplePage {
                nav: operator.nav,
                q,
                people: page.people,
                next: page.next_cursor,
                first_page: view.after.is_none(),
            };
            layout::respond(StatusCode::OK, &page)
        }
        Err(error) => error_page(error),
    }
}

/// Every person `search` finds, page by page.
async fn all_people(web: &Web, search: Option<String>) -> crate::operate::Result<Vec<Person>> {
    let mut people = Vec::new();
    let mut after = None;
    loop {
        let page = web.services.people(search.clone(), after, 1000).await?;
        people.extend(page.people);
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => return Ok(people),
        }
    }
}

fn people_csv(people: &[Person]) -> String {
    let rows = people.iter().map(|p| {
        [
            p.email.clone(),
            p.name.clone().unwrap_or_default(),
            p.accounts.to_string(),
            p.with_access.to_string(),
            p.last_seen_at.clone().unwrap_or_default(),
        ]
    });
    crate::csv::rows(["email", "name", "accounts", "with_access", "last_seen_at"], rows)
}

#[derive(Deserialize)]
pub(super) struct Format {
    format: Option<String>,
}

struct PersonPage {
    nav: Nav,
    email: String,
    accounts: Vec<PersonAccount>,
}

impl Render for PersonPage {
    fn render(&self) -> Markup {
        let with_access = self.accounts.iter().filter(|a| a.user.has_access()).count();
        html! {
            (navigation(&self.nav))
            p { a href="/people" { "All people" } }
            h1 { (line(&self.email)) }
            p {
                "In " (self.accounts.len()) " accounts, with access in " (with_access) ". "
                a href=(format!("{}?format=csv", person_path(&self.email))) { "Export CSV" }
            }
            table #person {
                thead { tr {
                    th { "App" } th { "Account" } th { "Name" } th { "Status" } th { "Access" } th { "Licenses" }
                    th { "Role" } th { "Last seen" }
                } }
                tbody { @for a in &self.accounts {
                    @let (c, u) = (&a.connection, &a.user.user);
                    tr {
                        td data-label="App" { (app(&c.integration)) }
                        td data-label="Account" { a href=(account_path(&c.integration, &c.account)) { (line(&c.account)) } }
                        td data-label="Name" { (line(&u.name())) }
                        td data-label="Status" { (line(&u.status)) }
                        td data-label="Access" { (access(&a.user)) }
                        td data-label="Licenses" { (line(&u.licenses.join(", "))) }
                        td data-label="Role" { (line(u.role.as_deref().unwrap_or(""))) }
                        td data-label="Last seen" { (app_time(seen(&a.user), self.nav.now)) }
                    }
                } }
            }
        }
    }
}

impl Page for PersonPage {
    fn title(&self) -> String {
        self.email.clone()
    }
}

/// One person in every account that lists them; or as CSV.
pub(super) async fn person(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Path(email): Path<String>,
    Query(format): Query<Format>,
) -> Response {
    let accounts = match web.services.person(&email).await {
        Ok(accounts) => accounts,
        Err(error) => return error_page(error),
    };
    let email = email.trim().to_lowercase();
    if wants_csv(format.format.as_deref()) {
        let rows = accounts.iter().map(|a| {
            let (c, u) = (&a.connection, &a.user.user);
            [
                c.integration.clone(),
                c.account.clone(),
                u.external_id.clone(),
                u.name(),
                u.status.clone(),
                a.user.has_access().to_string(),
                u.licenses.join("; "),
                u.role.clone().unwrap_or_default(),
                seen(&a.user).unwrap_or_default().to_owned(),
            ]
        });
        let header =
            ["integration", "account", "external_id", "name", "status", "access", "licenses", "role", "last_seen_at"];
        return download("person.csv", crate::csv::rows(header, rows));
    }
    layout::respond(StatusCode::OK, &PersonPage { nav: operator.nav, email, accounts })
}

// ---------------------------------------------------------------- licenses ---

#[derive(Deserialize)]
pub(super) struct LicensesView {
    /// Holders not seen in this many days are counted apart.
    unseen: Option<u32>,
    format: Option<String>,
}

impl LicensesView {
    fn days(&self) -> u32 {
        self.unseen.unwrap_or(DEFAULT_UNSEEN_DAYS)
    }
}

/// The form that picks the window of "not seen", on the licenses pages.
fn window_form(action: &str, days: u32, hidden: &[(&str, &str)]) -> Markup {
    html! {
        form #window method="get" action=(action) {
            @for (name, value) in hidden { input type="hidden" name=(name) value=(value); }
            label { "Not seen in " input type="number" name="unseen" min="1" max=(MAX_UNSEEN_DAYS) value=(days) list="windows"; " days" }
            datalist #windows { @for window in WINDOWS { option value=(window); } }
            " " button type="submit" { "Show" }
        }
    }
}

struct LicensesPage {
    nav: Nav,
    days: u32,
    licenses: Licenses,
}

impl Render for LicensesPage {
    fn render(&self) -> Markup {
        let days = self.days;
        let total: i64 = self.licenses.licenses.iter().map(|l| l.holders).sum();
        let unseen: i64 = self.licenses.licenses.iter().map(|l| l.unseen).sum();
        html! {
            (navigation(&self.nav))
            h1 { "Licenses" }
            p {
                (total) " licenses held by users with access; " (unseen) " of them by users the app has not seen in "
                (days) " days (since " (when(Some(self.licenses.unseen_since))) " UTC) or gives no time for. "
                a href=(format!("/licenses?unseen={days}&format=csv")) { "Export CSV" }
            }
            (window_form("/licenses", days, &[]))
            p { "In one click: " @for window in WINDOWS { a href=(format!("/licenses?unseen={window}")) { (window) " days" } " " } }
            @if self.licenses.licenses.is_empty() {
                p { "No user with access holds a license." }
            } @else {
                table #licenses {
                    thead { tr {
                        th { "App" } th { "Account" } th { "License" } th { "Held with access" }
                        th { "Not seen in " (days) " days" }
                    } }
                    tbody { @for l in &self.licenses.licenses { (license_row(l, days)) } }
                }
            }
        }
    }
}

fn license_row(l: &LicenseUse, days: u32) -> Markup {
    let c = &l.connection;
    html! {
        tr {
            td data-label="App" { (app(&c.integration)) }
            td data-label="Account" { a href=(account_path(&c.integration, &c.account)) { (line(&c.account)) } }
            td data-label="License" { (line(&l.license)) }
            td data-label="Held with access" { a href=(holders_path(&c.integration, &c.account, &l.license, None)) { (l.holders) } }
            td data-label="Not seen" {
                @if l.unseen == 0 { "0" } @else {
                    a href=(holders_path(&c.integration, &c.account, &l.license, Some(days))) { (l.unseen) }
                }
            }
        }
    }
}

impl Page for LicensesPage {
    fn title(&self) -> String {
        "Licenses".to_owned()
    }
}

/// Every license in use, by account, with the holders not seen in a window; or as CSV.
pub(super) async fn licenses(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Query(view): Query<LicensesView>,
) -> Response {
    let days = view.days();
    let licenses = match web.services.licenses(days).await {
        Ok(licenses) => licenses,
        Err(error) => return error_page(error),
    };
    if wants_csv(view.format.as_deref()) {
        let rows = licenses.licenses.iter().map(|l| {
            [
                l.connection.integration.clone(),
                l.connection.account.clone(),
                l.license.clone(),
                l.holders.to_string(),
                l.unseen.to_string(),
            ]
        });
        let header = ["integration", "account", "license", "holders_with_access", "unseen"];
        return download("licenses.csv", crate::csv::rows(header, rows));
    }
    layout::respond(StatusCode::OK, &LicensesPage { nav: operator.nav, days, licenses })
}

#[derive(Deserialize)]
pub(super) struct HoldersView {
    license: String,
    /// Only the holders not seen in this many days.
    unseen: Option<u32>,
    #[serde(default)]
    from: i64,
    format: Option<String>,
}

struct HoldersPage {
    nav: Nav,
    integration: String,
    account: String,
    license: String,
    unseen: Option<u32>,
    from: i64,
    total: i64,
    holders: Vec<StoredUser>,
}

impl Render for HoldersPage {
    fn render(&self) -> Markup {
        let (integration, account, license) = (&self.integration, &self.account, &self.license);
        let here = holders_path(integration, account, license, self.unseen);
        let shown_to = self.from + self.holders.len() as i64;
        html! {
            (navigation(&self.nav))
            p { a href="/licenses" { "All licenses" } " · " a href=(account_path(integration, account)) { (line(account)) } }
            h1 { (line(license)) " in " (line(account)) }
            p {
                @match self.unseen {
                    Some(days) => { (self.total) " holders with access the app has not seen in " (days) " days, or gives no time for. " }
                    None => { (self.total) " holders with access. " }
                }
                a href=(format!("{here}&format=csv")) { "Export CSV" }
            }
            @let action = format!("/licenses/{}/{}", percent_encode(integration), percent_encode(account));
            (window_form(&action, self.unseen.unwrap_or(DEFAULT_UNSEEN_DAYS), &[("license", license)]))
            @if self.unseen.is_some() { p { a href=(holders_path(integration, account, license, None)) { "Every holder" } } }
            table #holders {
                thead { tr { th { "Email" } th { "Name" } th { "Status" } th { "Role" } th { "Last seen" } } }
                tbody { @for holder in &self.holders {
                    @let u = &holder.user;
                    tr {
                        td data-label="Email" { a href=(person_path(&u.email)) { (line(&u.email)) } }
                        td data-label="Name" { (line(&u.name())) }
                        td data-label="Status" { (line(&u.status)) }
                        td data-label="Role" { (line(u.role.as_deref().unwrap_or(""))) }
                        td data-label="Last seen" { (app_time(seen(holder), self.nav.now)) }
                    }
                } }
            }
            @if self.from > 0 || shown_to < self.total {
                p {
                    @if self.from > 0 { a href=(format!("{here}&from={}", (self.from - HOLDERS_PER_PAGE).max(0))) { "Previous holders" } " " }
                    @if shown_to < self.total { a href=(format!("{here}&from={shown_to}")) { "Next holders" } }
                }
            }
        }
    }
}

impl Page for HoldersPage {
    fn title(&self) -> String {
        format!("{} in {}", self.license, self.account)
    }
}

/// The holders of one license of an account, with access; or as CSV.
pub(super) async fn holders(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Path((integration, account)): Path<(String, String)>,
    Query(view): Query<HoldersView>,
) -> Response {
    let csv = wants_csv(view.format.as_deref());
    let from = view.from.max(0);
    let page = (!csv).then_some((from, HOLDERS_PER_PAGE));
    let found = web.services.license_holders(&integration, &account, &view.license, view.unseen, page).await;
    let (total, holders) = match found {
        Ok(found) => found,
        Err(error) => return error_page(error),
    };
    if csv {
        return download("holders.csv", crate::cli::show::csv(&holders));
    }
    let page = HoldersPage {
        nav: operator.nav,
        integration,
        account,
        license: view.license,
        unseen: view.unseen,
        from,
        total,
        holders,
    };
    layout::respond(StatusCode::OK, &page)
}

// ------------------------------------------------------------ access review ---

/// The access review's query: the page of each list, or a CSV of both.
#[derive(serde::Deserialize, Default)]
pub(super) struct ReviewView {
    format: Option<String>,
    #[serde(default)]
    departed_from: i64,
    #[serde(default)]
    unaccounted_from: i64,
}

struct ReviewPage {
    nav: Nav,
    review: AccessReview,
    pages: ReviewPages,
}

impl ReviewPage {
    /// Links to the pages before and after of one list (`which`: `departed` or `unaccounted`), the
    /// other list staying on its page.
    fn pager(&self, which: &str, from: i64, total: i64, shown: usize) -> Markup {
        let link = |from: i64| {
            let (departed, unaccounted) = if which == "departed" {
                (from, self.pages.unaccounted_from)
            } else {
                (self.pages.departed_from, from)
            };
            format!("/access-review?departed_from={departed}&unaccounted_from={unaccounted}#{which}")
        };
        let next = from + shown as i64;
        html! {
            @if shown == 0 {
                p { "This page is past the end of the list: " a href=(link(0)) { "its first page" } "." }
            } @else {
                p {
                    (from + 1) "–" (next) " of " (total) " "
                    @if from > 0 { a href=(link((from - REVIEW_PER_PAGE).max(0))) { "Previous" } " " }
                    @if next < total { a href=(link(next)) { "Next" } }
                }
            }
        }
    }
}

impl Render for ReviewPage {
    fn render(&self) -> Markup {
        let review = &self.review;
        html! {
            (navigation(&self.nav))
            h1 { "Access review" }
            @if review.directories.is_empty() {
                p {
                    "No account is the company's directory yet. Open the account of your identity provider (Okta, "
                    "Entra ID, Google Workspace) and press “Use as the company's directory”: this page then lists, "
                    "for every other app, who has access without being active in it."
                }
            } @else {
                p {
                    "Compared with the directory: "
                    @for (i, c) in review.directories.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(account_path(&c.integration, &c.account)) { (app(&c.integration)) " " (line(&c.account)) }
                    }
                    ". " a href="/access-review?format=csv" { "Export CSV" }
                }
                @let (departed_total, departed) = &review.departed;
                h2 { "Access held by people not active in the directory (" (departed_total) ")" }
                @if *departed_total == 0 {
                    p { "Everyone with access in an app is active in the directory." }
                } @else {
                    (self.pager("departed", self.pages.departed_from, *departed_total, departed.len()))
                    table #departed {
                        thead { tr { th { "Email" } th { "App" } th { "Account" } th { "Why" } th { "Licenses" } th { "Last seen" } } }
                        tbody { @for d in departed {
                            @let (c, u) = (&d.account.connection, &d.account.user);
                            tr {
                                td data-label="Email" { a href=(person_path(&u.user.email)) { (line(&u.user.email)) } }
                                td data-label="App" { (app(&c.integration)) }
                                td data-label="Account" { a href=(account_path(&c.integration, &c.account)) { (line(&c.account)) } }
                                td data-label="Why" { @if d.in_directory { "left: not active in the directory" } @else { "not in the directory" } }
                                td data-label="Licenses" { (line(&u.user.licenses.join(", "))) }
                                td data-label="Last seen" { (app_time(seen(u), self.nav.now)) }
                            }
                        } }
                    }
                }
                @let (unaccounted_total, unaccounted) = &review.unaccounted;
                h2 { "Active in the directory, with no account (" (unaccounted_total) ")" }
                @if *unaccounted_total == 0 {
                    p { "Everyone active in the directory has access to at least one other app." }
                } @else {
                    (self.pager("unaccounted", self.pages.unaccounted_from, *unaccounted_total, unaccounted.len()))
                    table #unaccounted {
                        thead { tr { th { "Email" } th { "Name" } th { "Directory" } } }
                        tbody { @for a in unaccounted {
                            tr {
                                td data-label="Email" { a href=(person_path(&a.user.user.email)) { (line(&a.user.user.email)) } }
                                td data-label="Name" { (line(&a.user.user.name())) }
                                td data-label="Directory" { (line(&a.connection.name())) }
                            }
                        } }
                    }
                }
            }
        }
    }
}

impl Page for ReviewPage {
    fn title(&self) -> String {
        "Access review".to_owned()
    }
}

/// Who left but still has access, and who in the directory has no account; or as CSV (one row
/// per finding).
pub(super) async fn access_review(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Query(view): Query<ReviewView>,
) -> Response {
    let csv = wants_csv(view.format.as_deref());
    let pages = if csv {
        ReviewPages::ALL
    } else {
        ReviewPages {
            departed_from: view.departed_from.max(0),
            unaccounted_from: view.unaccounted_from.max(0),
            limit: Some(REVIEW_PER_PAGE),
        }
    };
    let review = match web.services.access_review(pages).await {
        Ok(review) => review,
        Err(error) => return error_page(error),
    };
    if csv {
        let departed = review.departed.1.iter().map(|d| {
            let why = if d.in_directory { "left" } else { "not in the directory" };
            finding(&d.account, why)
        });
        let unaccounted = review.unaccounted.1.iter().map(|a| finding(a, "no account"));
        let header = ["finding", "email", "name", "integration", "account", "external_id", "licenses", "last_seen_at"];
        return download("access-review.csv", crate::csv::rows(header, departed.chain(unaccounted)));
    }
    layout::respond(StatusCode::OK, &ReviewPage { nav: operator.nav, review, pages })
}

/// A row of the access review's CSV.
fn finding(a: &PersonAccount, what: &str) -> [String; 8] {
    let (c, u) = (&a.connection, &a.user.user);
    [
        what.to_owned(),
        u.email.clone(),
        u.name(),
        c.integration.clone(),
        c.account.clone(),
        u.external_id.clone(),
        u.licenses.join("; "),
        seen(&a.user).unwrap_or_default().to_owned(),
    ]
}
