//! The Integration Builder's pages: the list of integrations to open, and a
//! draft's six steps (general, authentication, the users endpoint, the test,
//! the mapping with its live preview, review and save). Each step's form
//! posts to the server, which writes it into the draft's text
//! ([`crate::builder`]) and shows the next step; the preview and the text's
//! diagnostics are also fetched as the author types (`builder.js`).

mod pages;

use std::sync::Arc;

use axum::extract::{Form, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::layout;
use super::{Done, Operator, done, error_page};
use crate::builder::form::{self, Posted};
use crate::builder::{Draft, Opened, save, text, trial};
use crate::operate::{Error, ErrorKind};
use crate::web::{Web, percent_encode};

pub use pages::{Note, Step};

/// `/builder`: the integrations, to open one or start a new one.
pub(super) async fn list(State(web): State<Arc<Web>>, operator: Operator, Query(query): Query<Done>) -> Response {
    let page = pages::List {
        nav: operator.nav,
        done: query.done,
        specs: web.builder.specs.as_ref().map(|s| s.dir.display().to_string()),
        integrations: crate::integrations::all(),
    };
    layout::respond(StatusCode::OK, &page)
}

/// A builder form from a logged-in operator, its CSRF token checked: every
/// builder form is refused without the session's token.
pub(super) struct Authored {
    operator: Operator,
    form: Posted,
}

impl FromRequest<Arc<Web>> for Authored {
    type Rejection = Response;

    async fn from_request(request: Request, web: &Arc<Web>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let operator = Operator::from_request_parts(&mut parts, web).await.map_err(IntoResponse::into_response)?;
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), web)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = Posted(fields);
        match operator.refuses(form.get("csrf")) {
            Some(refused) => Err(refused),
            None => Ok(Authored { operator, form }),
        }
    }
}

/// What an action did: a refusal the author can mend is shown on the step's page, with its
/// status; any other error is the console's error page.
fn outcome(web: &Web, operator: &Operator, draft: &str, step: Step, result: Result<Response, Error>) -> Response {
    match result {
        Ok(response) => response,
        Err(error) => {
            let status = match error.kind {
                ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                ErrorKind::Conflict => StatusCode::CONFLICT,
                ErrorKind::NotFound | ErrorKind::Forbidden | ErrorKind::Failed => return error_page(error),
            };
            respond(web, operator, draft, step, Some(Note::Problem(error.message)), status)
        }
    }
}

/// `POST /builder/new`: a blank draft.
pub(super) async fn new(State(web): State<Arc<Web>>, Authored { operator, .. }: Authored) -> Response {
    let id = web.builder.open(&operator.session, String::new(), Opened::New);
    Redirect::to(&step_path(&id, Step::General)).into_response()
}

/// `POST /builder/open/{integration}`: a draft of an integration's spec: in
/// place for a spec of the specs directory, a copy of a compiled one's.
pub(super) async fn open(
    State(web): State<Arc<Web>>,
    Path(integration): Path<String>,
    Authored { operator, .. }: Authored,
) -> Response {
    match web.builder.open_integration(&operator.session, &integration) {
        Ok(id) => Redirect::to(&step_path(&id, Step::General)).into_response(),
        Err(error) => error_page(error),
    }
}

pub(super) fn step_path(draft: &str, step: Step) -> String {
    format!("/builder/{}/{}", percent_encode(draft), step.slug())
}

/// `GET /builder/{draft}/{step}`.
pub(super) async fn show(
    State(web): State<Arc<Web>>,
    operator: Operator,
    Path((draft, step)): Path<(String, String)>,
    Query(query): Query<Done>,
) -> Response {
    let Some(step) = Step::from_slug(&step) else {
        return error_page(Error::not_found("the builder has no such step"));
    };
    respond(&web, &operator, &draft, step, query.done.map(Note::Done), StatusCode::OK)
}

/// A step's page as the draft is now, with what was done or what went wrong.
fn respond(
    web: &Web,
    operator: &Operator,
    draft: &str,
    step: Step,
    note: Option<Note>,
    status: StatusCode,
) -> Response {
    let catalog = web.builder.catalog();
    let context = pages::Context {
        nav: &operator.nav,
        catalog: &catalog,
        public_url: &web.services.public_url,
        saving: match (web.builder.specs.is_some(), operator.nav.may_change()) {
            (_, false) => pages::Saving::Viewer,
            (false, true) => pages::Saving::NoSpecsDirectory,
            (true, true) => pages::Saving::Open,
        },
    };
    let page = web.builder.with(&operator.session, draft, |draft| pages::Workspace::new(draft, step, &context, note));
    match page {
        Ok(page) => layout::respond(status, &page),
        Err(error) => error_page(error),
    }
}

/// `POST /builder/{draft}/{step}`: a step's form written into the draft.
pub(super) async fn apply(
    State(web): State<Arc<Web>>,
    Path((draft, step)): Path<(String, String)>,
    Authored { operator, form }: Authored,
) -> Response {
    let Some(step) = Step::from_slug(&step) else {
        return error_page(Error::not_found("the builder has no such step"));
    };
    let catalog = web.builder.catalog();
    let applied = web.builder.with(&operator.session, &draft, |d| write_step(d, step, &form, &catalog));
    let next = applied.and_then(|written| written).map(|next| match next {
        // A choice that changes the form (another auth kind, another paging style) shows it.
        Next::Same(message) => Redirect::to(&with_done(&step_path(&draft, step), &message)).into_response(),
        Next::Step(next) => Redirect::to(&step_path(&draft, next)).into_response(),
    });
    outcome(&web, &operator, &draft, step, next)
}

fn with_done(path: &str, message: &str) -> String {
    format!("{path}?done={}", percent_encode(message))
}

enum Next {
    Same(String),
    Step(Step),
}

/// Writes a step's form into a draft.
fn write_step(
    draft: &mut Draft,
    step: Step,
    form: &Posted,
    catalog: &tib_front::catalog::Catalog,
) -> Result<Next, Error> {
    let parsed = text::parse(&draft.text).map_err(|e| Error::invalid(format!("{e}; fix it in the spec text first")))?;
    let (before, after) = match step {
        Step::General => (form::General::read(&parsed).sections(), form::General::posted(form).sections()),
        Step::Auth => {
            let mut after = form::Auth::posted(form);
            let before = form::Auth::read(&parsed);
            if form.get("choose") == "kind" && after.kind != before.kind {
                after = form::Auth::starting(&after.kind, before.credentials.clone());
                let message = format!("now {}: fill in its settings", after.kind);
                draft.apply(before.sections(), after.sections())?;
                return Ok(Next::Same(message));
            }
            (before.sections(), after.sections())
        }
        Step::Endpoint => {
            let before = form::Endpoint::read(&parsed);
            let mut after = form::Endpoint::posted(form);
            if let Some(path) = form.0.iter().find(|(n, _)| n == "users_at_pick").map(|(_, v)| v.clone()) {
                // A suggestion picked on the test's page: only the users path changes.
                after = form::Endpoint { users_at: path, ..form::Endpoint::read(&parsed) };
                draft.apply(before.sections(), after.sections())?;
                return Ok(Next::Step(Step::Test));
            }
            if form.get("choose") == "style" && after.style != before.style {
                after.paging = form::Endpoint::starting_paging(&after.style);
                after.stops = Vec::new();
                after.from = String::new();
                let message = format!("paging now {}: fill in its settings", after.style);
                draft.apply(before.sections(), after.sections())?;
                return Ok(Next::Same(message));
            }
            (before.sections(), after.sections())
        }
        Step::Map => {
            let names = pages::catalog_names(&parsed, catalog);
            let mut before = form::Mapping::read(&parsed, &names).sections();
            before.extend(form::Rules::read(&parsed).sections());
            let mut after = form::Mapping::posted(form).sections();
            after.extend(form::Rules::posted(form).sections());
            (before, after)
        }
        Step::Test | Step::Review => return Err(Error::not_found("this step has no form of its own")),
    };
    drop(parsed);
    draft.apply(before, after)?;
    Ok(Next::Step(step.next()))
}

/// `POST /builder/{draft}/run`: the test credentials kept, and the first request sent.
pub(super) async fn test(
    State(web): State<Arc<Web>>,
    Path(draft): Path<String>,
    Authored { operator, form }: Authored,
) -> Response {
    let catalog = web.builder.catalog();
    let tested = async {
        // The draft is not held while the request is under way: the answer is put in afterwards.
        let (connector, snapshot) = web.builder.with(&operator.session, &draft, |d| {
            d.trial.remember(typed(&form));
            Ok::<_, Error>((trial::ready(&d.text, &catalog)?, d.trial.snapshot()))
        })??;
        let report = trial::test(Arc::new(connector), &snapshot, &web.services.client).await?;
        web.builder.with(&operator.session, &draft, |d| d.trial.report = Some(report))?;
        Ok(Redirect::to(&format!("{}#report", step_path(&draft, Step::Test))).into_response())
    };
    outcome(&web, &operator, &draft, Step::Test, tested.await)
}

/// The test credentials of a form (`cred.NAME`), as typed.
fn typed(form: &Posted) -> Vec<(String, String)> {
    form.0.iter().filter_map(|(n, v)| Some((n.strip_prefix("cred.")?.to_owned(), v.clone()))).collect()
}

/// `POST /builder/{draft}/clear`: the test's credentials, token and answer forgotten.
pub(super) async fn clear(
    State(web): State<Arc<Web>>,
    Path(draft): Path<String>,
    Authored { operator, .. }: Authored,
) -> Response {
    match web.builder.with(&operator.session, &draft, |d| d.trial.clear()) {
        Ok(()) => done(&step_path(&draft, Step::Test), "the test's credentials, token and answer are forgotten"),
        Err(error) => error_page(error),
    }
}

/// `POST /builder/{draft}/authorize`: a link to the provider's page, for the
/// author to grant access; it comes back to [`callback`] with the test redirect URL.
pub(super) async fn authorize(
    State(web): State<Arc<Web>>,
    Path(draft): Path<String>,
    Authored { operator, form }: Authored,
) -> Response {
    let catalog = web.builder.catalog();
    let redirect = test_redirect_url(&web.services.public_url);
    let started = web.builder.with(&operator.session, &draft, |d| {
        d.trial.remember(typed(&form));
        d.trial.tokens = None;
        let connector = trial::ready(&d.text, &catalog)?;
        let client = trial::oauth_client(&connector, &d.trial, &web.services.client)?;
        let authorization = client.authorize(&redirect).map_err(|e| Error::invalid(e.to_string()))?;
        let url = authorization.url.clone();
        d.trial.pending = Some(authorization);
        Ok(url)
    });
    // A link, not a redirect: the Content-Security-Policy lets a form post only to this server.
    let page = started.and_then(|s| s).map(|url| {
        let back = step_path(&draft, Step::Test);
        layout::respond(StatusCode::OK, &pages::Authorize { nav: operator.nav.clone(), url, back })
    });
    outcome(&web, &operator, &draft, Step::Test, page)
}

/// Where an OAuth provider sends the author back during a test: this server's `/builder/callback`.
pub fn test_redirect_url(public_url: &url::Url) -> url::Url {
    let mut url = public_url.clone();
    url.set_path(&format!("{}/builder/callback", public_url.path().trim_end_matches('/')));
    url.set_query(None);
    url
}

#[derive(Deserialize)]
pub(super) struct Redirected {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /builder/callback`: the provider's redirect; the code is exchanged
/// for the test's tokens, held with the draft in memory.
///
/// The provider's redirect is a navigation from another site, which the
/// session cookie (`SameSite=Strict`) does not come with: the single-use
/// `state` finds the draft, and the page only says to go back to its tab.
pub(super) async fn callback(State(web): State<Arc<Web>>, Query(redirected): Query<Redirected>) -> Response {
    let catalog = web.builder.catalog();
    let redirect = test_redirect_url(&web.services.public_url);
    let state = redirected.state.unwrap_or_default();
    let Some((session, draft)) = web.builder.awaiting(&state) else {
        return error_page(Error::not_found("no builder test waits for this authorization: start it again"));
    };
    let ended = |message: String, ok: bool| {
        let _ = web.builder.with(&session, &draft, |d| d.trial.pending = None);
        layout::respond(
            if ok { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY },
            &pages::Authorized { message, back: step_path(&draft, Step::Test), ok },
        )
    };
    if let Some(error) = redirected.error {
        let description = redirected.error_description.map(|d| format!(": {d}")).unwrap_or_default();
        return ended(format!("The provider refused the authorization: {error}{description}."), false);
    }
    let prepared = web.builder.with(&session, &draft, |d| {
        let pending = d.trial.pending.take().ok_or_else(|| Error::not_found("this authorization was used"))?;
        let connector = trial::ready(&d.text, &catalog)?;
        Ok((trial::oauth_client(&connector, &d.trial, &web.services.client)?, pending.verifier))
    });
    let (client, verifier) = match prepared.and_then(|p| p) {
        Ok(prepared) => prepared,
        Err(error) => return ended(format!("The authorization cannot go on: {}.", error.message), false),
    };
    let code = redirected.code.unwrap_or_default();
    let exchanged = client.exchange(&code, &verifier, &redirect).await.map_err(|e| Error::invalid(e.to_string()));
    let stored = exchanged.and_then(|tokens| web.builder.with(&session, &draft, |d| d.trial.tokens = Some(tokens)));
    match stored {
        Ok(()) => {
            ended("Authorized: go back to the builder's tab and run the test; it sends this token.".to_owned(), true)
        }
        Err(error) => ended(format!("The authorization failed: {}.", error.message), false),
    }
}

/// `POST /builder/{draft}/preview`: the mapping form written into the draft,
/// and the preview it makes, as a part of a page (`builder.js`).
pub(super) async fn preview(
    State(web): State<Arc<Web>>,
    Path(draft): Path<String>,
    Authored { operator, form }: Authored,
) -> Response {
    let catalog = web.builder.catalog();
    let shown = web.builder.with(&operator.session, &draft, |d| {
        let written = write_step(d, Step::Map, &form, &catalog);
        let problem = written.err().map(|e| e.message);
        pages::preview_part(d, &catalog, problem)
    });
    match shown {
        Ok(markup) => fragment(markup),
        Err(error) => error_page(error),
    }
}

/// `POST /builder/{draft}/check`: the diagnostics of a text being typed, as a part of a page.
pub(super) async fn check(
    State(web): State<Arc<Web>>,
    Path(draft): Path<String>,
    Authored { operator, form }: Authored,
) -> Response {
    let catalog = web.builder.catalog();
    let text = form.0.iter().find(|(n, _)| n == "text").map(|(_, v)| v.clone()).unwrap_or_default();
    let shown = web.builder.with(&operator.session, &draft, |d| {
        let name = d.file_name();
        let compiled = tib_front::compile(&name, &text, &catalog);
        pages::diagnostics(&compiled.diagnostics, &text)
    });
    match shown {
        Ok(markup) => fragment(markup),
        Err(error) => error_page(error),
    }
}

fn fragment(markup: maud::Markup) -> Response {
    let mut response = axum::response::Html(markup.into_string()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /builder/{draft}/text`: the spec text as the author edited it; the forms follow it.
pub(super) async fn edit_text(
    State(web): State<Arc<Web>>,
    Path(draft): Path<String>,
    Authored { operator, form }: Authored,
) -> Response {
    let text = form.0.iter().find(|(n, _)| n == "text").map(|(_, v)| v.replace("\r\n", "\n")).unwrap_or_default();
    match web.builder.with(&operator.session, &draft, |d| d.text = text) {
        Ok(()) => done(&step_path(&draft, Step::Review), "the text is applied: every step's form now shows it"),
        Err(error) => error_page(error),
    }
}

/// `POST /builder/{draft}/save`: the spec written into the specs directory, and offered at once.
pub(super) async fn save(
    State(web): State<Arc<Web>>,
    Path(draft): Path<String>,
    Authored { operator, .. }: Authored,
) -> Response {
    let Some(specs) = &web.builder.specs else {
        let refused =
            Error::conflict("this server has no specs directory: start it with `tib serve --specs DIR` to save");
        return outcome(&web, &operator, &draft, Step::Review, Err(refused));
    };
    let catalog = web.builder.catalog();
    let file = web.builder.with(&operator.session, &draft, |d| d.file_name()).unwrap_or_default();
    let saving =
        async { web.builder.with(&operator.session, &draft, |d| save::save(specs, d, &catalog)).and_then(|s| s) };
    let saved = web.services.change(&operator.who, "save spec", &file, saving).await;
    let page = saved.map(|saved| {
        let mut message =
            format!("saved to {}: {} is offered under Available to connect", saved.path.display(), saved.integration);
        if saved.compiled {
            message.push_str(
                "; this build has a compiled connector of the same app, which is used until it is removed from \
                 specs/ and the runtime rebuilt",
            );
        }
        done(&step_path(&draft, Step::Review), &message)
    });
    outcome(&web, &operator, &draft, Step::Review, page)
}

/// The builder's script, behind the login like the pages that use it.
pub(super) async fn script(_operator: Operator) -> Response {
    layout::script(include_str!("builder.js"))
}
