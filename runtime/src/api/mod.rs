//! The operators' HTTP API under `/api/v1`, served by `tib serve`: the
//! integrations of this build, the connections (read, connect, enable,
//! disable, sync now, approve a held sync, disconnect), their runs and users,
//! the admins' notifications, the company's people, licenses and access review, the named API
//! tokens and the audit log. Every route needs a bearer token, the admin token
//! ([`crate::access::token::AdminToken`]) or a named one, whose holder acts in its role
//! ([`crate::access::operator`]); errors are RFC 9457 problem
//! details ([`problem::Problem`]). `/health` needs nothing. Each handler
//! reads its request, calls one operation ([`crate::operate`]) and answers
//! with a view ([`views`]).

mod document;
pub mod problem;
pub mod scim;
pub mod views;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::access::operator::{Actor, Role};
use crate::operate::{Action, NewAccount, Overrides, ReviewPages, Trial};
use crate::store::{Upserted, UserQuery};
use crate::web::Web;
use problem::Problem;

/// The window of "not seen" when none is asked for: a quarter.
pub const DEFAULT_UNSEEN_DAYS: u32 = 90;

/// The most users one page of `/users` holds.
const MAX_PAGE: i64 = 1000;
/// The longest text a parameter of `/users` may be: a search or a license name, not a document.
const MAX_PARAM_BYTES: usize = 1024;

/// The connection a path names.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct ConnectionPath {
    /// The integration's id.
    integration: String,
    /// The account's name.
    account: String,
}

/// The routes and the OpenAPI document they make, which `/api/v1/openapi.json` serves.
fn v1() -> (Router<Arc<Web>>, utoipa::openapi::OpenApi) {
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;
    OpenApiRouter::with_openapi(document::frame())
        .routes(routes!(integrations))
        .routes(routes!(connections))
        .routes(routes!(connection, put_connection, disconnect))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(sync_now))
        .routes(routes!(approve))
        .routes(routes!(discard))
        .routes(routes!(runs))
        .routes(routes!(users))
        .routes(routes!(notifications))
        .routes(routes!(people))
        .routes(routes!(person))
        .routes(routes!(licenses))
        .routes(routes!(mark_directory, unmark_directory))
        .routes(routes!(access_review))
        .routes(routes!(tokens, add_token))
        .routes(routes!(remove_token))
        .routes(routes!(audit))
        .split_for_parts()
}

/// The API and SCIM, behind the admin token, and `/health`.
pub fn router(web: Arc<Web>) -> Router {
    let (v1, document) = v1();
    let document = Arc::new(document::finish(document));
    let v1 = v1
        .route("/openapi.json", get(move || async move { Json(document.as_ref().clone()) }))
        .fallback(|| async { Problem::not_found("no such API route") });
    Router::new()
        .nest("/api/v1", v1)
        .merge(scim::router())
        .layer(middleware::from_fn_with_state(web.clone(), authorized))
        .with_state(web)
        .route("/health", get(|| async { "ok" }))
}

/// Lets a request through only with `Authorization: Bearer <token>`: the admin token or a named
/// API token, whose holder the handlers are given ([`By`]); wrong tokens cost their address a
/// growing wait ([`crate::access::attempts`]).
async fn authorized(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let presented = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(presented) = presented else {
        let problem = Problem::new(StatusCode::UNAUTHORIZED, "send a token: Authorization: Bearer <token>");
        return ([(header::WWW_AUTHENTICATE, "Bearer")], problem).into_response();
    };
    let client = web.client(&parts);
    match web.identify(client, &presented).await {
        Ok(Some(actor)) => {
            parts.extensions.insert(actor);
            return next.run(Request::from_parts(parts, body)).await;
        }
        Ok(None) => {}
        Err(error) => return Problem::from(error).into_response(),
    }
    let failures = web.attempts.failures(client, std::time::Instant::now());
    let kinds = match web.admin {
        Some(_) => "neither this server's admin token nor one of its API tokens",
        None => {
            "not one of this server's API tokens (`tib token add` makes them), and it has no admin token \
                 (TIB_ADMIN_TOKEN)"
        }
    };
    let detail = format!(
        "the token is {kinds} ({failures} failed attempts from {client} in the last quarter hour; beyond five, \
         each attempt waits longer)"
    );
    ([(header::WWW_AUTHENTICATE, "Bearer")], Problem::new(StatusCode::UNAUTHORIZED, detail)).into_response()
}

/// Who sent the request: the holder of the token it presented.
struct By(Actor);

impl<S: Send + Sync> FromRequestParts<S> for By {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        // Every route behind `authorized` has one; a route outside it asking is this server's mistake.
        let actor = parts.extensions.get::<Actor>().cloned();
        actor.map(By).ok_or_else(|| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "no one is identified"))
    }
}

type Answer<T> = Result<Json<T>, Problem>;

/// A path's parameters; one that cannot be read is a problem document, like every error here.
struct InPath<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for InPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let Path(value) =
            Path::<T>::from_request_parts(parts, state).await.map_err(|e| Problem::bad_request(e.body_text()))?;
        Ok(InPath(value))
    }
}

/// A query's parameters; one that cannot be read is a problem document, like every error here.
struct InQuery<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for InQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let Query(value) =
            Query::<T>::from_request_parts(parts, state).await.map_err(|e| Problem::bad_request(e.body_text()))?;
        Ok(InQuery(value))
    }
}

/// The integrations of this build and what each asks for.
#[utoipa::path(get, path = "/integrations", tag = "integrations",
    responses((status = 200, description = "The integrations of this build", body = views::Integrations)))]
async fn integrations() -> Json<views::Integrations> {
    let integrations = crate::integrations::all().into_iter().map(views::Integration::from).collect();
    Json(views::Integrations { integrations })
}

/// Every connection, with its state and last run.
#[utoipa::path(get, path = "/connections", tag = "connections",
    responses((status = 200, description = "Every connection", body = views::Connections)))]
async fn connections(State(web): State<Arc<Web>>) -> Answer<views::Connections> {
    let connections = web.services.summaries().await?.into_iter().map(views::Connection::from).collect();
    Ok(Json(views::Connections { connections }))
}

/// One connection, with its state and last run.
#[utoipa::path(get, path = "/connections/{integration}/{account}", tag = "connections", params(ConnectionPath),
    responses((status = 200, description = "The connection", body = views::Connection)))]
async fn connection(State(web): State<Arc<Web>>, InPath(at): InPath<ConnectionPath>) -> Answer<views::Connection> {
    Ok(Json(web.services.summary(&at.integration, &at.account).await?.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ConnectParams {
    /// Replace the account if it is already connected.
    #[serde(default)]
    replace: bool,
    /// Request the first page with the credentials before saving them: a refusal (the API's
    /// status and message) saves nothing, and an account being replaced keeps its old credentials.
    #[serde(default)]
    try_first: bool,
}

/// Connects an account. An account of that name already connected is replaced only with
/// `replace=true`: its credentials are overwritten and its next sync replaces its users. With
/// `try_first=true` the credentials are tried on the API first.
#[utoipa::path(put, path = "/connections/{integration}/{account}", tag = "connections", params(ConnectionPath, ConnectParams),
    request_body = views::NewConnection,
    responses(
        (status = 201, description = "Connected", body = views::Connected),
        (status = 200, description = "Replaced", body = views::Connected),
        (status = 409, description = "Already connected, and replace=true not sent", body = views::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or unknown credentials, a refused override or name, an interval out of range, credentials the API refused when tried first", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn put_connection(
    State(web): State<Arc<Web>>,
    By(by): By,
    InPath(at): InPath<ConnectionPath>,
    InQuery(ConnectParams { replace, try_first }): InQuery<ConnectParams>,
    body: Result<Json<views::NewConnection>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<views::Connected>), Problem> {
    let Json(body) = body.map_err(|e| Problem::bad_request(e.body_text()))?;
    let services = &web.services;
    let connector = services.connector(&at.integration)?;
    let every = body.every().map_err(Problem::invalid)?;
    let flags: Vec<(String, String)> = body.credentials.into_iter().collect();
    let values = tib_support::CredentialValues::collect(connector.spec().credentials, &flags, |_| None)
        .map_err(|e| Problem::invalid(e.to_string()))?;
    let overrides = Overrides { base_url: body.base_url, token_url: body.token_url, authorize_url: body.authorize_url };
    let new = NewAccount {
        integration: at.integration.clone(),
        account: at.account.clone(),
        values,
        overrides,
        every,
        replace,
    };
    let connected = services.connect(&by, new, Trial::asked(try_first)).await.map_err(|error| {
        let problem = Problem::from(error);
        match problem.status {
            StatusCode::CONFLICT => {
                Problem::new(problem.status, format!("{}; send replace=true to do so", problem.detail))
            }
            _ => problem,
        }
    })?;
    let connection = services.summary(&at.integration, &at.account).await?.into();
    let authorization = connected.authorization;
    let shown = views::Connected {
        connection,
        authorize_url: authorization.as_ref().map(|a| a.url.to_string()),
        refresh_tokens: authorization.as_ref().map(|a| a.refresh_tokens),
    };
    let status = match connected.upserted {
        Upserted::Created => StatusCode::CREATED,
        Upserted::Replaced => StatusCode::OK,
    };
    Ok((status, Json(shown)))
}

/// Disconnects an account: its stored users and runs are removed.
#[utoipa::path(delete, path = "/connections/{integration}/{account}", tag = "connections", params(ConnectionPath),
    responses((status = 204, description = "Disconnected: its users and runs are removed")))]
async fn disconnect(
    State(web): State<Arc<Web>>,
    By(by): By,
    InPath(at): InPath<ConnectionPath>,
) -> Result<StatusCode, Problem> {
    web.services.act(&by, &at.integration, &at.account, Action::Disconnect).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Performs an action and answers with the connection as it is then.
async fn acted(web: &Web, by: &Actor, at: ConnectionPath, action: Action) -> Answer<views::Acted> {
    let done = web.services.act(by, &at.integration, &at.account, action).await?;
    let connection = web.services.summary(&at.integration, &at.account).await?.into();
    Ok(Json(views::Acted { connection, done }))
}

/// Enables a connection; it is due at once.
#[utoipa::path(post, path = "/connections/{integration}/{account}/enable", tag = "connections", params(ConnectionPath),
    responses((status = 200, description = "Enabled, and due now", body = views::Acted)))]
async fn enable(State(web): State<Arc<Web>>, By(by): By, InPath(at): InPath<ConnectionPath>) -> Answer<views::Acted> {
    acted(&web, &by, at, Action::Enable).await
}

/// Disables a connection: it is not synced until enabled.
#[utoipa::path(post, path = "/connections/{integration}/{account}/disable", tag = "connections", params(ConnectionPath),
    responses((status = 200, description = "Disabled", body = views::Acted)))]
async fn disable(State(web): State<Arc<Web>>, By(by): By, InPath(at): InPath<ConnectionPath>) -> Answer<views::Acted> {
    acted(&web, &by, at, Action::Disable).await
}

/// Makes the connection due now: this server's scheduler is woken and starts it as soon as a sync slot is free.
#[utoipa::path(post, path = "/connections/{integration}/{account}/sync", tag = "connections", params(ConnectionPath),
    responses(
        (status = 202, description = "Due now: the scheduler starts it as soon as a sync slot is free", body = views::Queued),
        (status = 409, description = "The connection is disabled", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn sync_now(
    State(web): State<Arc<Web>>,
    By(by): By,
    InPath(at): InPath<ConnectionPath>,
) -> Result<(StatusCode, Json<views::Queued>), Problem> {
    let done = web.services.act(&by, &at.integration, &at.account, Action::Sync).await?;
    Ok((StatusCode::ACCEPTED, Json(views::Queued { queued: true, due_at: web.services.clock.now(), done })))
}

/// Applies the connection's held sync.
#[utoipa::path(post, path = "/connections/{integration}/{account}/approve", tag = "connections", params(ConnectionPath),
    responses(
        (status = 200, description = "The held sync is applied", body = views::Approved),
        (status = 409, description = "No sync is held, or the stored users changed since it was", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn approve(
    State(web): State<Arc<Web>>,
    By(by): By,
    InPath(at): InPath<ConnectionPath>,
) -> Answer<views::Approved> {
    let applied = web.services.act(&by, &at.integration, &at.account, Action::Approve).await?;
    Ok(Json(views::Approved { applied }))
}

/// Drops the held sync without applying it: the stored users stay as they were.
#[utoipa::path(post, path = "/connections/{integration}/{account}/discard", tag = "connections", params(ConnectionPath),
    responses(
        (status = 200, description = "The held sync is dropped: the stored users stay as they were", body = views::Acted),
        (status = 409, description = "No sync is held", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn discard(State(web): State<Arc<Web>>, By(by): By, InPath(at): InPath<ConnectionPath>) -> Answer<views::Acted> {
    acted(&web, &by, at, Action::Discard).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Limit {
    /// The most to list, 1 to 500.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

impl Limit {
    /// The limit asked for, or `default`; one out of range is refused.
    fn or(&self, default: i64) -> Result<i64, Problem> {
        let limit = self.limit.unwrap_or(default);
        if (1..=500).contains(&limit) { Ok(limit) } else { Err(Problem::invalid("limit must be from 1 to 500")) }
    }
}

/// The connection's runs, newest first.
#[utoipa::path(get, path = "/connections/{integration}/{account}/runs", tag = "runs", params(ConnectionPath, Limit),
    responses(
        (status = 200, description = "The connection's runs, newest first", body = views::Runs),
        (status = 422, description = "A limit out of range", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn runs(
    State(web): State<Arc<Web>>,
    InPath(at): InPath<ConnectionPath>,
    InQuery(limit): InQuery<Limit>,
) -> Answer<views::Runs> {
    let limit = limit.or(20)?;
    let runs = web.services.runs(&at.integration, &at.account, limit).await?;
    Ok(Json(views::Runs { runs: runs.into_iter().map(views::Run::from).collect() }))
}

/// `/users`: filters, and a cursor (the last external id of the page before).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UsersParams {
    /// With access (true) or without (false); both when absent.
    access: Option<bool>,
    /// Only users holding this license.
    #[param(max_length = 1024, pattern = "^[^\\u0000]*$")]
    license: Option<String>,
    /// Only members of this group.
    #[param(max_length = 1024, pattern = "^[^\\u0000]*$")]
    group: Option<String>,
    /// Only users a sync ending at or after this Unix time added or changed.
    changed_since: Option<i64>,
    /// Only users whose email or name contains this.
    #[param(max_length = 1024, pattern = "^[^\\u0000]*$")]
    search: Option<String>,
    /// Only users the app has not seen (last sign-in, last activity) in this many days, or gives no time for.
    #[param(minimum = 1, maximum = 3650)]
    unseen_days: Option<u32>,
    /// The `next_cursor` of the page before.
    #[param(max_length = 1024, pattern = "^[^\\u0000]*$")]
    cursor: Option<String>,
    /// Users in the page, 1 to 1000 (100 when absent).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// A page of the connection's users, by external id; filters and a cursor.
#[utoipa::path(get, path = "/connections/{integration}/{account}/users", tag = "users", params(ConnectionPath, UsersParams),
    responses(
        (status = 200, description = "A page of users and the cursor of the next", body = views::UsersPage),
        (status = 422, description = "A parameter out of range", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn users(
    State(web): State<Arc<Web>>,
    InPath(at): InPath<ConnectionPath>,
    InQuery(params): InQuery<UsersParams>,
) -> Answer<views::UsersPage> {
    let checked = [
        ("search", &params.search),
        ("license", &params.license),
        ("group", &params.group),
        ("cursor", &params.cursor),
    ];
    short(&checked)?;
    let limit = page_limit(params.limit)?;
    let query = UserQuery {
        access: params.access,
        license: params.license,
        group: params.group,
        changed_since: params.changed_since,
        search: params.search,
        unseen_before: web.services.unseen_before(params.unseen_days)?,
        after: params.cursor,
        ..UserQuery::default()
    };
    Ok(Json(web.services.users_page(&at.integration, &at.account, query, limit).await?.into()))
}

/// Text parameters no longer than a search or a name is.
fn short(params: &[(&str, &Option<String>)]) -> Result<(), Problem> {
    match params.iter().find(|(_, value)| value.as_ref().is_some_and(|v| v.len() > MAX_PARAM_BYTES)) {
        Some((name, _)) => Err(Problem::invalid(format!("{name} is longer than {MAX_PARAM_BYTES} bytes"))),
        None => Ok(()),
    }
}

/// How many a page holds: 100 unless asked, at most [`MAX_PAGE`].
fn page_limit(limit: Option<i64>) -> Result<i64, Problem> {
    let limit = limit.unwrap_or(100);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Problem::invalid(format!("limit must be from 1 to {MAX_PAGE}")))
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PeopleParams {
    /// Only people with an email or a name (in any of their accounts) that contains this, in any case.
    #[param(max_length = 1024, pattern = "^[^\\u0000]*$")]
    search: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(max_length = 1024, pattern = "^[^\\u0000]*$")]
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// People across every account, by email (without regard to case); a search and a cursor.
#[utoipa::path(get, path = "/people", tag = "people", params(PeopleParams),
    responses(
        (status = 200, description = "A page of people and the cursor of the next", body = views::PeoplePage),
        (status = 422, description = "A parameter out of range", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn people(State(web): State<Arc<Web>>, InQuery(params): InQuery<PeopleParams>) -> Answer<views::PeoplePage> {
    short(&[("search", &params.search), ("cursor", &params.cursor)])?;
    let limit = page_limit(params.limit)?;
    Ok(Json(web.services.people(params.search, params.cursor, limit).await?.into()))
}

/// The person an email names.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct PersonPath {
    /// Their email, in any case.
    #[param(max_length = 1024)]
    email: String,
}

/// One person in every account that lists them: status, access, licenses, role, when last seen.
#[utoipa::path(get, path = "/people/{email}", tag = "people", params(PersonPath),
    responses(
        (status = 200, description = "Every account of the person", body = views::PersonAccounts),
        (status = 422, description = "An email longer than 1,024 characters", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn person(State(web): State<Arc<Web>>, InPath(at): InPath<PersonPath>) -> Answer<views::PersonAccounts> {
    if at.email.chars().count() > MAX_PARAM_BYTES {
        return Err(Problem::invalid(format!("the email is longer than {MAX_PARAM_BYTES} characters")));
    }
    let accounts = web.services.person(&at.email).await?;
    Ok(Json(views::PersonAccounts::new(&at.email, accounts)))
}

/// Makes the account one of the company's directories (its Okta, Entra ID or Google Workspace).
#[utoipa::path(put, path = "/connections/{integration}/{account}/directory", tag = "access review", params(ConnectionPath),
    responses((status = 200, description = "It is a directory", body = views::Acted)))]
async fn mark_directory(
    State(web): State<Arc<Web>>,
    By(by): By,
    InPath(at): InPath<ConnectionPath>,
) -> Answer<views::Acted> {
    acted(&web, &by, at, Action::MarkDirectory).await
}

/// The account is no longer one of the company's directories.
#[utoipa::path(delete, path = "/connections/{integration}/{account}/directory", tag = "access review", params(ConnectionPath),
    responses((status = 200, description = "It is no longer a directory", body = views::Acted)))]
async fn unmark_directory(
    State(web): State<Arc<Web>>,
    By(by): By,
    InPath(at): InPath<ConnectionPath>,
) -> Answer<views::Acted> {
    acted(&web, &by, at, Action::UnmarkDirectory).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ReviewParams {
    /// How many of the accounts whose person left to skip: the page of that list.
    #[param(minimum = 0)]
    departed_from: Option<i64>,
    /// How many of the directory's people without an account to skip: the page of that list.
    #[param(minimum = 0)]
    unaccounted_from: Option<i64>,
    /// The most of each list, 1 to 1000 (100 when absent).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Who left but still has access: every other account's users with access whose person (email) is
/// active in no directory, and the directories' active people with access in no other account.
/// Each list is paged, with its count in all.
#[utoipa::path(get, path = "/access-review", tag = "access review", params(ReviewParams),
    responses(
        (status = 200, description = "The accounts compared with the directories", body = views::AccessReview),
        (status = 422, description = "A parameter out of range", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn access_review(
    State(web): State<Arc<Web>>,
    InQuery(params): InQuery<ReviewParams>,
) -> Answer<views::AccessReview> {
    let (departed_from, unaccounted_from) = (params.departed_from.unwrap_or(0), params.unaccounted_from.unwrap_or(0));
    if departed_from < 0 || unaccounted_from < 0 {
        return Err(Problem::invalid("departed_from and unaccounted_from must be 0 or more"));
    }
    let pages = ReviewPages { departed_from, unaccounted_from, limit: Some(page_limit(params.limit)?) };
    Ok(Json(web.services.access_review(pages).await?.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LicensesParams {
    /// Count apart the holders the app has not seen in this many days (default 90).
    #[param(minimum = 1, maximum = 3650)]
    unseen_days: Option<u32>,
}

/// Every license in use, by account: its holders with access, and those not seen in a while.
#[utoipa::path(get, path = "/licenses", tag = "licenses", params(LicensesParams),
    responses(
        (status = 200, description = "The licenses in use", body = views::Licenses),
        (status = 422, description = "A number of days out of range", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn licenses(State(web): State<Arc<Web>>, InQuery(params): InQuery<LicensesParams>) -> Answer<views::Licenses> {
    Ok(Json(web.services.licenses(params.unseen_days.unwrap_or(DEFAULT_UNSEEN_DAYS)).await?.into()))
}

/// What admins were told, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(Limit),
    responses(
        (status = 200, description = "What admins were told, newest first", body = views::Notifications),
        (status = 422, description = "A limit out of range", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn notifications(State(web): State<Arc<Web>>, InQuery(limit): InQuery<Limit>) -> Answer<views::Notifications> {
    let limit = limit.or(50)?;
    let notifications = web.services.notifications(limit).await?.into_iter().map(views::Notification::from).collect();
    Ok(Json(views::Notifications { notifications }))
}

/// The named API tokens (never the tokens themselves).
#[utoipa::path(get, path = "/tokens", tag = "operators",
    responses((status = 200, description = "The named API tokens, by name", body = views::Tokens)))]
async fn tokens(State(web): State<Arc<Web>>) -> Answer<views::Tokens> {
    Ok(Json(views::Tokens { tokens: web.services.tokens().await?.into_iter().map(views::Token::from).collect() }))
}

/// Makes a named API token for a machine: the token is in the answer only.
#[utoipa::path(post, path = "/tokens", tag = "operators", request_body = views::NewToken,
    responses(
        (status = 201, description = "Made: keep the token now, it is not shown again", body = views::MadeToken),
        (status = 409, description = "A token of that name exists", body = views::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name or role refused", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn add_token(
    State(web): State<Arc<Web>>,
    By(by): By,
    body: Result<Json<views::NewToken>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<views::MadeToken>), Problem> {
    let Json(body) = body.map_err(|e| Problem::bad_request(e.body_text()))?;
    let role = Role::parse(&body.role).map_err(Problem::invalid)?;
    let made = web.services.add_token(&by, &body.name, role).await?;
    Ok((StatusCode::CREATED, Json(views::MadeToken { token: made.token, made: made.made.into() })))
}

/// The token a path names.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct TokenPath {
    /// The token's name.
    #[param(max_length = 64)]
    name: String,
}

/// Removes a named API token: requests presenting it are refused from now on.
#[utoipa::path(delete, path = "/tokens/{name}", tag = "operators", params(TokenPath),
    responses((status = 204, description = "Removed")))]
async fn remove_token(
    State(web): State<Arc<Web>>,
    By(by): By,
    InPath(at): InPath<TokenPath>,
) -> Result<StatusCode, Problem> {
    web.services.remove_token(&by, &at.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// The `next_cursor` of the page before: entries older than it.
    before: Option<i64>,
    /// The most to list, 1 to 500 (100 when absent).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// The audit log: every change an operator made or tried (who, what, when, from where), newest first.
#[utoipa::path(get, path = "/audit", tag = "operators", params(AuditParams),
    responses(
        (status = 200, description = "A page of the audit log, newest first", body = views::AuditLog),
        (status = 422, description = "A limit out of range", body = views::Problem, content_type = "application/problem+json"),
    ))]
async fn audit(State(web): State<Arc<Web>>, InQuery(params): InQuery<AuditParams>) -> Answer<views::AuditLog> {
    let limit = Limit { limit: params.limit }.or(100)?;
    let page = web.services.audit(params.before, limit).await?;
    let entries = page.entries.into_iter().map(views::AuditEntry::from).collect();
    Ok(Json(views::AuditLog { entries, next_cursor: page.older }))
}
