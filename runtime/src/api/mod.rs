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
use axum::routing::{get, post};
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
}

pub fn router(api: Arc<Api>) -> Router {
    let connection = "/connections/{integration}/{account}";
    let v1 = Router::new()
        .route("/integrations", get(integrations))
        .route("/connections", get(connections))
        .route(connection, get(connection_detail).put(put_connection).delete(disconnect))
        .route(&format!("{connection}/enable"), post(enable))
        .route(&format!("{connection}/disable"), post(disable))
        .route(&format!("{connection}/sync"), post(sync_now))
        .route(&format!("{connection}/approve"), post(approve))
        .route(&format!("{connection}/runs"), get(runs))
        .route(&format!("{connection}/users"), get(users))
        .route("/notifications", get(notifications))
        .fallback(|| async { Problem::not_found("no such API route") });
    Router::new()
        .nest("/api/v1", v1)
        .merge(scim::router())
        .layer(middleware::from_fn_with_state(api.clone(), authorized))
        .with_state(api)
        .route("/health", get(|| async { "ok" }))
}

/// Lets a request through only with `Authorization: Bearer <admin token>`.
async fn authorized(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(admin) = &api.admin else {
        let off = "the API is off: start `tib serve` with TIB_ADMIN_TOKEN or --admin-token-file";
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, off).into_response();
    };
    match presented {
        Some(token) if admin.accepts(token) => next.run(request).await,
        Some(_) => Problem::new(StatusCode::UNAUTHORIZED, "the admin token is not this server's").into_response(),
        None => {
            let problem = Problem::new(StatusCode::UNAUTHORIZED, "send the admin token: Authorization: Bearer <token>");
            ([(header::WWW_AUTHENTICATE, "Bearer")], problem).into_response()
        }
    }
}

type Answer = Result<Json<Value>, Problem>;

/// Runs store work off the async workers.
async fn with_store<T: Send + 'static>(
    api: &Api,
    work: impl FnOnce(&dyn Store) -> store::Result<T> + Send + 'static,
) -> Result<T, Problem> {
    Ok(store::off_workers(&api.store, work).await?)
}

async fn integrations() -> Json<Value> {
    let list: Vec<Value> = tib_connectors::CONNECTORS
        .iter()
        .map(|(id, connector)| {
            let spec = connector.spec();
            let credentials: Vec<Value> = spec
                .credentials
                .iter()
                .map(|c| json!({"name": c.name, "secret": c.secret, "description": c.description}))
                .collect();
            json!({"id": id, "app": spec.app, "auth": auth_kind(&spec.auth), "credentials": credentials})
        })
        .collect();
    Json(json!({ "integrations": list }))
}

fn auth_kind(auth: &tib_support::spec::Auth) -> &'static str {
    use tib_support::spec::Auth;
    match auth {
        Auth::Bearer { .. } => "bearer",
        Auth::Basic { .. } => "basic",
        Auth::Headers(_) => "headers",
        Auth::QueryKey { .. } => "query",
        Auth::OAuthClientCredentials(_) => "oauth_client_credentials",
        Auth::OAuthAuthorizationCode(_) => "oauth_authorization_code",
    }
}

/// A connection as the API shows it: never its credentials or tokens.
fn connection_json(store: &dyn Store, c: &Connection) -> store::Result<Value> {
    let last = store.last_run(c.id)?;
    let (with_access, all) = store.user_counts(c.id)?;
    let state = match (&last, c.enabled) {
        (_, false) if c.disabled_reason.as_deref() == Some(crate::oauth::WAITING) => "waiting_for_authorization",
        (_, false) => "disabled",
        (Some(run), true) if run.outcome == store::Outcome::Held => "held",
        _ => "enabled",
    };
    Ok(json!({
        "integration": c.integration,
        "account": c.account,
        "state": state,
        "disabled_reason": c.disabled_reason,
        "next_sync_at": c.next_sync_at,
        "interval_secs": c.interval_secs,
        "users_with_access": with_access,
        "users": all,
        "last_run": last.as_ref().map(run_json),
    }))
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

async fn connections(State(api): State<Arc<Api>>) -> Answer {
    let list = with_store(&api, |store| {
        store.connections()?.iter().map(|c| connection_json(store, c)).collect::<store::Result<Vec<Value>>>()
    })
    .await?;
    Ok(Json(json!({ "connections": list })))
}

/// The connection a path names, or 404.
async fn find(api: &Api, integration: String, account: String) -> Result<Connection, Problem> {
    let (i, a) = (integration.clone(), account.clone());
    with_store(api, move |store| store.connection(&i, &a))
        .await?
        .ok_or_else(|| Problem::not_found(format!("no connection {integration}/{account}")))
}

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

#[derive(Deserialize)]
struct Replace {
    #[serde(default)]
    replace: bool,
}

/// Connects an account. An account of that name already connected is replaced only with
/// `replace=true`: its credentials are overwritten and its next sync replaces its users.
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
    let exists = with_store(&api, move |store| store.connection(&i, &a)).await?.is_some();
    if exists && !replace {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!(
                "{integration}/{account} is already connected: connecting again overwrites its credentials and its \
                 next sync replaces its users; send replace=true to do so"
            ),
        ));
    }
    let state = api.clone();
    let connected = tokio::task::spawn_blocking(move || {
        let setting = connect::Setting {
            store: state.store.as_ref(),
            vault: &state.vault,
            client: &state.client,
            public_url: &state.public_url,
            now: state.clock.now(),
        };
        let connected = connect::connect(&setting, &integration, &account, &values, &overrides, every)?;
        let connection = state.store.connection(&integration, &account).map_err(|e| e.to_string())?;
        let shown =
            connection.map(|c| connection_json(state.store.as_ref(), &c)).transpose().map_err(|e| e.to_string())?;
        Ok::<_, String>((connected, shown))
    })
    .await
    .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, format!("connecting stopped: {e}")))?;
    let (connected, shown) = connected.map_err(Problem::bad_request)?;
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

async fn disconnect(
    State(api): State<Arc<Api>>,
    Path((integration, account)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let connection = find(&api, integration, account).await?;
    with_store(&api, move |store| store.remove_connection(connection.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enable(State(api): State<Arc<Api>>, Path((integration, account)): Path<(String, String)>) -> Answer {
    let connection = find(&api, integration, account).await?;
    let now = api.clock.now();
    let answer = with_store(&api, move |store| {
        store.set_enabled(connection.id, true, None)?;
        store.set_next_sync(connection.id, now)?;
        connection_json(store, &store.connection(&connection.integration, &connection.account)?.unwrap_or(connection))
    });
    Ok(Json(answer.await?))
}

async fn disable(State(api): State<Arc<Api>>, Path((integration, account)): Path<(String, String)>) -> Answer {
    let connection = find(&api, integration, account).await?;
    let answer = with_store(&api, move |store| {
        store.set_enabled(connection.id, false, Some("disabled by an operator"))?;
        connection_json(store, &store.connection(&connection.integration, &connection.account)?.unwrap_or(connection))
    });
    Ok(Json(answer.await?))
}

/// Makes the connection due now: the scheduler syncs it at its next tick.
async fn sync_now(
    State(api): State<Arc<Api>>,
    Path((integration, account)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let connection = find(&api, integration, account).await?;
    if !connection.enabled {
        let reason = connection.disabled_reason.clone().unwrap_or_default();
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("{} is disabled ({reason}); enable it first", connection.name()),
        ));
    }
    let now = api.clock.now();
    with_store(&api, move |store| store.set_next_sync(connection.id, now)).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": true, "due_at": now}))))
}

async fn approve(State(api): State<Arc<Api>>, Path((integration, account)): Path<(String, String)>) -> Answer {
    let connection = find(&api, integration, account).await?;
    let (policy, now, name) = (api.policy, api.clock.now(), connection.name());
    match with_store(&api, move |store| store.approve_held(connection.id, policy, now)).await? {
        Some(applied) => Ok(Json(json!({"applied": format!("{applied:?}")}))),
        None => Err(Problem::new(StatusCode::CONFLICT, format!("{name} has no held sync"))),
    }
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<i64>,
}

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
#[derive(Deserialize)]
struct UsersParams {
    access: Option<bool>,
    license: Option<String>,
    changed_since: Option<i64>,
    search: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn users(
    State(api): State<Arc<Api>>,
    Path((integration, account)): Path<(String, String)>,
    params: Result<Query<UsersParams>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let Query(params) = params.map_err(|e| Problem::bad_request(e.body_text()))?;
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

async fn notifications(State(api): State<Arc<Api>>, Query(Limit { limit }): Query<Limit>) -> Answer {
    let limit = limit.unwrap_or(50).clamp(1, 500);
    let list = with_store(&api, move |store| store.notifications(limit)).await?;
    let list: Vec<Value> = list
        .iter()
        .map(|n| json!({"id": n.id, "connection": n.connection, "created_at": n.created_at, "kind": n.kind, "message": n.message}))
        .collect();
    Ok(Json(json!({ "notifications": list })))
}
