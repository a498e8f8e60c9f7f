//! The operators' HTTP API under `/api/v1`, served by `tib serve`: the
//! integrations of this build, the connections (read, enable, disable, sync
//! now, approve a held sync, disconnect), their runs and users, and the
//! admins' notifications. Every route needs the admin token
//! ([`admin::AdminToken`]) as a bearer token; errors are RFC 9457 problem
//! details ([`problem::Problem`]). `/health` needs nothing.

pub mod admin;
pub mod problem;
pub mod scim;

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::connect::{self, Overrides};
use crate::schedule::Clock;
use crate::store::{self, ApplyPolicy, Connection, Store, UserQuery};
use crate::vault::Vault;
use admin::AdminToken;
use problem::Problem;

/// The most users one page of `/users` holds.
const MAX_PAGE: i64 = 1000;
/// The longest text a parameter of `/users` may be: a search or a license name, not a document.
const MAX_PARAM_BYTES: usize = 1024;

pub struct Api {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// What connecting an account needs: the vault that seals its credentials, the HTTP client
    /// and public URL an OAuth authorization starts with.
    pub vault: Arc<Vault>,
    pub client: tib_support::Client,
    pub public_url: url::Url,
    /// Without one, the API answers nothing but how to turn it on.
    pub admin: Option<AdminToken>,
    pub policy: ApplyPolicy,
    /// Failed attempts at the admin token, on every route that takes it.
    pub attempts: crate::attempts::Attempts,
    /// Whose `X-Forwarded-For` tells the client's address.
    pub proxies: Arc<crate::client::TrustedProxies>,
}

impl Api {
    /// The address a request comes from, through the proxies the operator trusts.
    pub(crate) fn client(&self, request: &axum::http::request::Parts) -> std::net::IpAddr {
        let peer = request
            .extensions
            .get::<axum::extract::ConnectInfo<crate::listen::ClientAddress>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |info| info.0.0.ip());
        self.proxies.client(peer, &request.headers)
    }

    /// Whether `presented` is the admin token, after the wait failed
    /// attempts from `client` impose ([`crate::attempts`]); a failure is counted.
    pub(crate) async fn check_token(&self, admin: &AdminToken, client: std::net::IpAddr, presented: &str) -> bool {
        self.attempts.wait_turn(client).await;
        let now = std::time::Instant::now();
        if admin.accepts(presented) {
            self.attempts.succeeded(client, now);
            true
        } else {
            self.attempts.failed(client, now);
            false
        }
    }
}

/// The OpenAPI document's frame; the paths come from the handlers' `#[utoipa::path]`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "tib", description = "The operators' API of the tib runtime: integrations, connections, runs, users, notifications"),
    servers((url = "/api/v1")),
    modifiers(&AdminBearer),
    security(("admin_token" = []))
)]
struct Document;

/// Declares the admin token as the API's bearer scheme.
struct AdminBearer;

impl utoipa::Modify for AdminBearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        openapi.components.get_or_insert_with(Default::default).add_security_scheme("admin_token", scheme);
    }
}

/// The routes and the OpenAPI document they make, which `/api/v1/openapi.json` serves.
fn v1() -> (Router<Arc<Api>>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi as _;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;
    OpenApiRouter::with_openapi(Document::openapi())
        .routes(routes!(integrations))
        .routes(routes!(connections))
        .routes(routes!(connection_detail, put_connection, disconnect))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(sync_now))
        .routes(routes!(approve))
        .routes(routes!(runs))
        .routes(routes!(users))
        .routes(routes!(notifications))
        .split_for_parts()
}

pub fn router(api: Arc<Api>) -> Router {
    let (v1, document) = v1();
    let document = Arc::new(document);
    let v1 = v1
        .route("/openapi.json", get(move || async move { Json(document.as_ref().clone()) }))
        .fallback(|| async { Problem::not_found("no such API route") });
    Router::new()
        .nest("/api/v1", v1)
        .merge(scim::router())
        .layer(middleware::from_fn_with_state(api.clone(), authorized))
        .with_state(api)
        .route("/health", get(|| async { "ok" }))
}

/// Lets a request through only with `Authorization: Bearer <admin token>`;
/// wrong tokens cost their address a growing wait ([`crate::attempts`]).
async fn authorized(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let Some(admin) = &api.admin else {
        let off = "the API is off: start `tib serve` with TIB_ADMIN_TOKEN or --admin-token-file";
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, off).into_response();
    };
    let (parts, body) = request.into_parts();
    let presented = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(presented) = presented else {
        let problem = Problem::new(StatusCode::UNAUTHORIZED, "send the admin token: Authorization: Bearer <token>");
        return ([(header::WWW_AUTHENTICATE, "Bearer")], problem).into_response();
    };
    let client = api.client(&parts);
    if api.check_token(admin, client, &presented).await {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let failures = api.attempts.failures(client, std::time::Instant::now());
    let detail = format!(
        "the admin token is not this server's ({failures} failed attempts from {client} in the last quarter hour; \
         beyond five, each attempt waits longer)"
    );
    ([(header::WWW_AUTHENTICATE, "Bearer")], Problem::new(StatusCode::UNAUTHORIZED, detail)).into_response()
}

type Answer = Result<Json<Value>, Problem>;

/// Runs store work off the async workers.
async fn with_store<T: Send + 'static>(
    api: &Api,
    work: impl FnOnce(&dyn Store) -> store::Result<T> + Send + 'static,
) -> Result<T, Problem> {
    Ok(store::off_workers(&api.store, work).await?)
}

#[utoipa::path(get, path = "/integrations", tag = "integrations", responses((status = 200, description = "The integrations of this build and what each asks for", body = Object)))]
async fn integrations() -> Json<Value> {
    let list: Vec<Value> = crate::integrations::all()
        .into_iter()
        .map(|integration| {
            let (id, spec) = (&integration.id, integration.connector.spec());
            let interpreted = matches!(integration.origin, crate::integrations::Origin::Interpreted(_));
            let credentials: Vec<Value> = spec
                .credentials
                .iter()
                .map(|c| json!({"name": c.name, "secret": c.secret, "description": c.description}))
                .collect();
            json!({"id": id, "app": spec.app, "auth": auth_kind(&spec.auth).0, "credentials": credentials,
                   "interpreted": interpreted})
        })
        .collect();
    Json(json!({ "integrations": list }))
}

/// How an integration authenticates: the API's name for it, and in words for a page.
pub(crate) fn auth_kind(auth: &tib_support::spec::Auth) -> (&'static str, &'static str) {
    use tib_support::spec::Auth;
    match auth {
        Auth::Bearer { .. } => ("bearer", "bearer token"),
        Auth::Basic { .. } => ("basic", "basic auth"),
        Auth::Headers(_) => ("headers", "custom headers"),
        Auth::QueryKey { .. } => ("query", "API key in the query string"),
        Auth::OAuthClientCredentials(_) => ("oauth_client_credentials", "OAuth 2.0 client credentials"),
        Auth::OAuthAuthorizationCode(_) => ("oauth_authorization_code", "OAuth 2.0 authorization code"),
    }
}

/// A connection as the API shows it: never its credentials or tokens.
pub(crate) fn connection_json(store: &dyn Store, c: &Connection) -> store::Result<Value> {
    let last = store.last_run(c.id)?;
    let (with_access, all) = store.user_counts(c.id)?;
    Ok(json!({
        "integration": c.integration,
        "account": c.account,
        "state": ConnectionState::of(c, last.as_ref()).as_str(),
        "disabled_reason": c.disabled_reason,
        "next_sync_at": c.next_sync_at,
        "interval_secs": c.interval_secs,
        "users_with_access": with_access,
        "users": all,
        "last_run": last.as_ref().map(run_json),
    }))
}

/// Where a connection stands, as operators see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectionState {
    Enabled,
    /// By an operator, or by the error policy (its reason says which, with the API's message).
    Disabled,
    /// An authorization code connection not authorized yet.
    WaitingForAuthorization,
    /// Its last sync is held until an operator approves it.
    Held,
}

impl ConnectionState {
    pub(crate) fn of(connection: &Connection, last: Option<&store::Run>) -> Self {
        match (last, connection.enabled) {
            (_, false) if connection.disabled_reason.as_deref() == Some(crate::oauth::WAITING) => {
                ConnectionState::WaitingForAuthorization
            }
            (_, false) => ConnectionState::Disabled,
            (Some(run), true) if run.outcome == store::Outcome::Held => ConnectionState::Held,
            _ => ConnectionState::Enabled,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Enabled => "enabled",
            ConnectionState::Disabled => "disabled",
            ConnectionState::WaitingForAuthorization => "waiting_for_authorization",
            ConnectionState::Held => "held",
        }
    }
}

fn run_json(run: &store::Run) -> Value {
    let dropped: Vec<Value> =
        run.dropped_reasons.iter().map(|(reason, n)| json!({"reason": reason, "users": n})).collect();
    json!({
        "id": run.id,
        "outcome": run.outcome.as_str(),
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "pages": run.pages,
        "users_seen": run.users_seen,
        "users_dropped": run.users_dropped,
        "dropped_reasons": dropped,
        "added": run.added,
        "updated": run.updated,
        "deleted": run.deleted,
        "error": run.error,
    })
}

#[utoipa::path(get, path = "/connections", tag = "connections", responses((status = 200, description = "Every connection", body = Object)))]
async fn connections(State(api): State<Arc<Api>>) -> Answer {
    let list = with_store(&api, |store| {
        store.connections()?.iter().map(|c| connection_json(store, c)).collect::<store::Result<Vec<Value>>>()
    })
    .await?;
    Ok(Json(json!({ "connections": list })))
}

/// The connection a path names, or 404.
pub(crate) async fn find(api: &Api, integration: String, account: String) -> Result<Connection, Problem> {
    let (i, a) = (integration.clone(), account.clone());
    with_store(api, move |store| store.connection(&i, &a))
        .await?
        .ok_or_else(|| Problem::not_found(format!("no connection {integration}/{account}")))
}

#[utoipa::path(get, path = "/connections/{integration}/{account}", tag = "connections", params(("integration" = String, Path, description = "The integration's id"), ("account" = String, Path, description = "The account name")), responses((status = 200, description = "The connection", body = Object), (status = 404, description = "No such connection", body = Object, content_type = "application/problem+json")))]
async fn connection_detail(
    State(api): State<Arc<Api>>,
    Path((integration, account)): Path<(String, String)>,
) -> Answer {
    let connection = find(&api, integration, account).await?;
    Ok(Json(with_store(&api, move |store| connection_json(store, &connection)).await?))
}

/// `PUT` a connection: its credentials (exactly those the integration declares), and optionally
/// where its requests go and how often it syncs.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConnectionBody {
    credentials: std::collections::BTreeMap<String, String>,
    base_url: Option<url::Url>,
    token_url: Option<url::Url>,
    authorize_url: Option<url::Url>,
    every_secs: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Replace {
    /// Replace the account if it is already connected.
    #[serde(default)]
    replace: bool,
}

/// Connects an account. An account of that name already connected is replaced only with
/// `replace=true`: its credentials are overwritten and its next sync replaces its users.
#[utoipa::path(put, path = "/connections/{integration}/{account}", tag = "connections", params(("integration" = String, Path, description = "The integration's id"), ("account" = String, Path, description = "The account name"), Replace), responses((status = 201, description = "Connected", body = Object), (status = 200, description = "Replaced", body = Object), (status = 400, description = "Missing or unknown credentials, a bad override", body = Object, content_type = "application/problem+json"), (status = 409, description = "Already connected, and replace=true not sent", body = Object, content_type = "application/problem+json")))]
async fn put_connection(
    State(api): State<Arc<Api>>,
    Path((integration, account)): Path<(String, String)>,
    Query(Replace { replace }): Query<Replace>,
    body: Result<Json<NewConnectionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let Json(body) = body.map_err(|e| Problem::bad_request(e.body_text()))?;
    let connector = connect::connector(&integration).map_err(Problem::not_found)?;
    let every = body.every_secs.unwrap_or(crate::schedule::DAY);
    if !(3600..=31 * crate::schedule::DAY).contains(&every) {
        return Err(Problem::bad_request("every_secs must be from 3600 (an hour) to 2678400 (31 days)"));
    }
    let flags: Vec<(String, String)> = body.credentials.into_iter().collect();
    let values = tib_support::CredentialValues::collect(connector.spec().credentials, &flags, |_| None)
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let overrides = Overrides { base_url: body.base_url, token_url: body.token_url, authorize_url: body.authorize_url };
    let (i, a) = (integration.clone(), account.clone());
    let connected =
        connect_account(&api, integration, account, values, overrides, every, replace).await.map_err(|problem| {
            match problem.status {
                StatusCode::CONFLICT => {
                    Problem::new(problem.status, format!("{}; send replace=true to do so", problem.detail))
                }
                _ => problem,
            }
        })?;
    let shown =
        with_store(&api, move |store| store.connection(&i, &a)?.map(|c| connection_json(store, &c)).transpose())
            .await?;
    let mut shown = shown.unwrap_or_default();
    if let Some(authorization) = connected.authorization {
        shown["authorize_url"] = json!(authorization.url.as_str());
        shown["refresh_tokens"] = json!(authorization.refresh_tokens);
    }
    let status = match connected.upserted {
        store::Upserted::Created => StatusCode::CREATED,
        store::Upserted::Replaced => StatusCode::OK,
    };
    Ok((status, Json(shown)))
}

/// Connects an account, as the API's `PUT` and the console's connect dialog do: an account of that name
/// already connected is overwritten only when `replace` says so (409 otherwise).
pub(crate) async fn connect_account(
    api: &Arc<Api>,
    integration: String,
    account: String,
    values: tib_support::CredentialValues,
    overrides: Overrides,
    every: i64,
    replace: bool,
) -> Result<connect::Connected, Problem> {
    let (i, a) = (integration.clone(), account.clone());
    let exists = with_store(api, move |store| store.connection(&i, &a)).await?.is_some();
    if exists && !replace {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!(
                "{integration}/{account} is already connected: connecting again overwrites its credentials and its \
                 next sync replaces its users"
            ),
        ));
    }
    let api = api.clone();
    tokio::task::spawn_blocking(move || {
        let setting = connect::Setting {
            store: api.store.as_ref(),
            vault: &api.vault,
            client: &api.client,
            public_url: &api.public_url,
            now: api.clock.now(),
        };
        connect::connect(&setting, &integration, &account, &values, &overrides, every)
    })
    .await
    .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, format!("connecting stopped: {e}")))?
    .map_err(Problem::bad_request)
}

#[utoipa::path(delete, path = "/connections/{integration}/{account}", tag = "connections", params(("integration" = String, Path, description = "The integration's id"), ("account" = String, Path, description = "The account name")), responses((status = 204, description = "Disconnected: its users and runs are removed"), (status = 404, description = "No such connection", body = Object, content_type = "application/problem+json")))]
async fn disconnect(
    State(api): State<Arc<Api>>,
    Path((integration, account)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let connection = find(&api, integration, account).await?;
    perform(&api, connection, Action::Disconnect).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Text as one URL path segment or query value: every byte but letters, digits and `-._~` percent-encoded.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// What an operator can do to a connection, through the API or the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    Enable,
    Disable,
    /// Due now: the scheduler syncs it at its next tick.
    Sync,
    /// Applies its held sync.
    Approve,
    Disconnect,
}

/// Does `action` to `connection`; what happened, in words for the operator.
pub(crate) async fn perform(api: &Api, connection: Connection, action: Action) -> Result<String, Problem> {
    let (name, id, now, policy) = (connection.name(), connection.id, api.clock.now(), api.policy);
    match action {
        Action::Enable => {
            with_store(api, move |store| {
                store.set_enabled(id, true, None)?;
                store.set_next_sync(id, now)
            })
            .await?;
            Ok(format!("enabled {name}; it syncs at the next tick"))
        }
        Action::Disable => {
            with_store(api, move |store| store.set_enabled(id, false, Some("disabled by an operator"))).await?;
            Ok(format!("disabled {name}"))
        }
        Action::Sync if !connection.enabled => {
            let reason = connection.disabled_reason.unwrap_or_default();
            Err(Problem::new(StatusCode::CONFLICT, format!("{name} is disabled ({reason}); enable it first")))
        }
        Action::Sync => {
            with_store(api, move |store| store.set_next_sync(id, now)).await?;
            Ok(format!("{name} syncs at the next tick"))
        }
        Action::Approve => match with_store(api, move |store| store.approve_held(id, policy, now)).await? {
            Some(applied) => Ok(format!("applied the held sync of {name}: {applied:?}")),
            None => Err(Problem::new(StatusCode::CONFLICT, format!("{name} has no held sync"))),
        },
        Action::Disconnect => {
            with_store(api, move |store| store.remove_connection(id)).await?;
            Ok(format!("disconnected {name}; its stored users and runs are removed"))
        }
    }
}

/// Performs an action and answers with the connection as it is then.
async fn acted(api: &Api, integration: String, account: String, action: Action) -> Answer {
    let connection = find(api, integration.clone(), account.clone()).await?;
    let done = perform(api, connection, action).await?;
    let connection = find(api, integration, account).await?;
    let mut shown = with_store(api, move |store| connection_json(store, &connection)).await?;
    shown["done"] = json!(done);
    Ok(Json(shown))
}

#[utoipa::path(post, path = "/connections/{integration}/{account}/enable", tag = "connections", params(("integration" = String, Path, description = "The integration's id"), ("account" = String, Path, description = "The account name")), responses((status = 200, description = "Enabled, and due now", body = Object), (status = 404, description = "No such connection", body = Object, content_type = "application/problem+json")))]
async fn enable(State(api): State<Arc<Api>>, Path((integration, account)): Path<(String, String)>) -> Answer {
    acted(&api, integration, account, Action::Enable).await
}

#[utoipa::path(post, path = "/connections/{integration}/{account}/disable", tag = "connections", params(("integration" = String, Path, description = "The integration's id"), ("account" = String, Path, description = "The account name")), responses((status = 200, description = "Disabled", body = Object), (status = 404, description = "No such connection", body = Object, content_type = "application/problem+json")))]
async fn disable(State(api): State<Arc<Api>>, Path((integration, account)): Path<(String, String)>) -> Answer {
    acted(&api, integration, account, Action::Disable).await
}

/// Makes the connection due now: the scheduler syncs it at its next tick.
#[utoipa::path(post, path = "/connections/{integration}/{account}/sync", tag = "connections", params(("integration" = String, Path, description = "The integration's id"), ("account" = String, Path, description = "The account name")), responses((status = 202, description = "Due now: the scheduler syncs it at its next tick", body = Object), (status = 409, description = "The connection is disabled", body = Object, content_type = "application/problem+json")))]
async fn sync_now(
    State(api): State<Arc<Api>>,
    Path((integration, account)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let connection = find(&api, integration, account).await?;
    let done = perform(&api, connection, Action::Sync).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": true, "due_at": api.clock.now(), "done": done}))))
}

#[utoipa::path(post, path = "/connections/{integration}/{account}/approve", tag = "connections", params(("integration" = String, Path, description = "The integration's id"), ("account" = String, Path, description = "The account name")), responses((status = 200, description = "The held sync is applied", body = Object), (status = 409, description = "No sync is held", body = Object, content_type = "application/problem+json")))]
async fn approve(State(api): State<Arc<Api>>, Path((integration, account)): Path<(String, String)>) -> Answer {
    let connection = find(&api, integration, account).await?;
    Ok(Json(json!({"applied": perform(&api, connection, Action::Approve).await?})))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Limit {
    /// The most to list.
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/connections/{integration}/{account}/runs", tag = "runs", params(("integration" = String, Path, description = "The integration's id"), ("account" = String, Path, description = "The account name"), Limit), responses((status = 200, description = "The connection's runs, newest first", body = Object)))]
async fn runs(
    State(api): State<Arc<Api>>,
    Path((integration, account)): Path<(String, String)>,
    Query(Limit { limit }): Query<Limit>,
) -> Answer {
    let connection = find(&api, integration, account).await?;
    let limit = limit.unwrap_or(20).clamp(1, 500);
    let runs = with_store(&api, move |store| store.runs(connection.id, limit)).await?;
    Ok(Json(json!({ "runs": runs.iter().map(run_json).collect::<Vec<_>>() })))
}

/// `/users`: filters, and a cursor (the last external id of the page before).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UsersParams {
    /// With access (true) or without (false); both when absent.
    access: Option<bool>,
    /// Only users holding this license.
    license: Option<String>,
    /// Only users a sync ending at or after this Unix time added or changed.
    changed_since: Option<i64>,
    /// Only users whose email or name contains this.
    search: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Users in the page, 1 to 1000 (100 when absent).
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/connections/{integration}/{account}/users", tag = "users", params(("integration" = String, Path, description = "The integration's id"), ("account" = String, Path, description = "The account name"), UsersParams), responses((status = 200, description = "A page of users and the cursor of the next", body = Object), (status = 400, description = "A bad parameter", body = Object, content_type = "application/problem+json")))]
async fn users(
    State(api): State<Arc<Api>>,
    Path((integration, account)): Path<(String, String)>,
    params: Result<Query<UsersParams>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let Query(params) = params.map_err(|e| Problem::bad_request(e.body_text()))?;
    for (name, value) in [("search", &params.search), ("license", &params.license), ("cursor", &params.cursor)] {
        if value.as_ref().is_some_and(|v| v.len() > MAX_PARAM_BYTES) {
            return Err(Problem::bad_request(format!("{name} is longer than {MAX_PARAM_BYTES} bytes")));
        }
    }
    let connection = find(&api, integration, account).await?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::bad_request(format!("limit must be from 1 to {MAX_PAGE}")));
    }
    let query = UserQuery {
        access: params.access,
        license: params.license,
        changed_since: params.changed_since,
        search: params.search,
        after: params.cursor,
        // One more than asked shows whether a next page exists.
        limit: Some(limit + 1),
        ..UserQuery::default()
    };
    let mut users = with_store(&api, move |store| store.find_users(connection.id, &query)).await?;
    let more = users.len() as i64 > limit;
    users.truncate(limit as usize);
    let next = more.then(|| users.last().map(|u| u.user.external_id.clone())).flatten();
    Ok(Json(json!({ "users": users, "next_cursor": next })))
}

#[utoipa::path(get, path = "/notifications", tag = "notifications", params(Limit), responses((status = 200, description = "What admins were told, newest first", body = Object)))]
async fn notifications(State(api): State<Arc<Api>>, Query(Limit { limit }): Query<Limit>) -> Answer {
    let limit = limit.unwrap_or(50).clamp(1, 500);
    let list = with_store(&api, move |store| store.notifications(limit)).await?;
    let list: Vec<Value> = list
        .iter()
        .map(|n| json!({"id": n.id, "connection": n.connection, "created_at": n.created_at, "kind": n.kind, "message": n.message}))
        .collect();
    Ok(Json(json!({ "notifications": list })))
}
