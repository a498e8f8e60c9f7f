//! A read-only SCIM 2.0 service provider (RFC 7643, RFC 7644) per connection,
//! at `/scim/v2/{integration}/{account}`, for the products that consume the
//! users: `/Users` (a ListResponse paged by `startIndex` and `count`,
//! filtered with `eq`, `co`, `sw`, `pr` and `and` on `userName`,
//! `emails.value`, `active` and `externalId`, `groups.value eq`, and `meta.lastModified gt` or `ge`
//! for incremental readers; sorted by `sortBy` and `sortOrder`), the same as a
//! `POST /Users/.search`, `/Users/{id}`, each with `attributes` and `excludedAttributes`, and the
//! discovery endpoints `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes` (each schema and
//! resource type by its id too). Unknown routes and writes answer SCIM errors (404, 405). Licenses are `entitlements`, roles `roles`, groups
//! `groups` and the account type `userType`; status, role, times and custom
//! fields are in tib's extension schema. The filters and paging run in the
//! store. `/Groups` and `/Groups/{id}` list the groups the app gives its
//! users, by name, with their members.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::store::{Condition, FieldTest, StoredUser, UserField, UserOrder, UserQuery};
use crate::web::Web;
use crate::web::percent_encode;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:tib:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The most resources one page holds.
const MAX_COUNT: i64 = 1000;

pub fn router() -> Router<Arc<Web>> {
    let base = "/{integration}/{account}";
    let read = |handler: MethodRouter<Arc<Web>>| handler.fallback(read_only);
    let service = Router::new()
        .route(&format!("{base}/Users"), read(get(users)))
        .route(&format!("{base}/Users/.search"), read(post(search)))
        .route(&format!("{base}/Users/{{id}}"), read(get(user)))
        .route(&format!("{base}/Groups"), read(get(groups)))
        .route(&format!("{base}/Groups/{{id}}"), read(get(group)))
        .route(&format!("{base}/ServiceProviderConfig"), read(get(service_provider_config)))
        .route(&format!("{base}/ResourceTypes"), read(get(resource_types)))
        .route(&format!("{base}/ResourceTypes/{{id}}"), read(get(resource_type)))
        .route(&format!("{base}/Schemas"), read(get(schemas)))
        .route(&format!("{base}/Schemas/{{id}}"), read(get(schema_by_id)))
        .fallback(|| async { error(StatusCode::NOT_FOUND, None, "no such SCIM resource or endpoint here") });
    Router::new().nest("/scim/v2", service)
}

/// Any method but a read: this service changes nothing (RFC 7644 §3.12's error, 405).
async fn read_only() -> Scim {
    error(StatusCode::METHOD_NOT_ALLOWED, None, "this SCIM service is read-only: it answers GET (and POST /.search)")
}

/// A SCIM answer: `application/scim+json`.
pub(crate) struct Scim(StatusCode, Value);

impl IntoResponse for Scim {
    fn into_response(self) -> Response {
        (self.0, [(header::CONTENT_TYPE, "application/scim+json")], self.1.to_string()).into_response()
    }
}

/// An operation's error as SCIM's error: the status the API gives it, by its kind.
impl From<crate::operate::Error> for Scim {
    fn from(failed: crate::operate::Error) -> Scim {
        let problem = super::Problem::from(failed);
        error(problem.status, None, problem.detail)
    }
}

/// A SCIM error (RFC 7644 §3.12).
pub(crate) fn error(status: StatusCode, scim_type: Option<&str>, detail: impl Into<String>) -> Scim {
    let mut body = json!({"schemas": [ERROR], "status": status.as_u16().to_string(), "detail": detail.into()});
    if let Some(kind) = scim_type {
        body["scimType"] = json!(kind);
    }
    Scim(status, body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    /// Comma-separated attribute paths: only these are returned (RFC 7644 §3.4.2.5).
    attributes: Option<String>,
    /// Comma-separated attribute paths: these are not returned.
    excluded_attributes: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

/// What `attributes` or `excludedAttributes` holds, as paths.
fn paths(list: Option<&str>) -> Vec<String> {
    list.into_iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST …/Users/.search`: a SearchRequest (RFC 7644 §3.4.3), the query in the body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    #[serde(default)]
    attributes: Vec<String>,
    #[serde(default)]
    excluded_attributes: Vec<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

/// Which users a list answers, in which order, and which of their attributes.
struct Listing {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    shown: Shown,
}

/// The order `sortBy` and `sortOrder` ask for (RFC 7644 §3.4.2.3): ascending unless said, by
/// external id when no attribute is named.
fn sorted(sort_by: Option<&str>, sort_order: Option<&str>) -> Result<(UserOrder, bool), String> {
    let order = match sort_by.map(str::to_ascii_lowercase).as_deref() {
        None | Some("id" | "externalid") => UserOrder::ExternalId,
        Some("username") => UserOrder::UserName,
        Some("emails" | "emails.value") => UserOrder::Email,
        Some("displayname" | "name.formatted") => UserOrder::Name,
        Some("meta.lastmodified") => UserOrder::Modified,
        Some(other) => {
            return Err(format!(
                "`{other}` cannot be sorted on: userName, emails.value, displayName, externalId and meta.lastModified can"
            ));
        }
    };
    let reversed = match sort_order.map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending") => false,
        Some("descending") => true,
        Some(other) => return Err(format!("sortOrder is `ascending` or `descending`, not `{other}`")),
    };
    Ok((order, reversed))
}

async fn users(
    State(web): State<Arc<Web>>,
    Path((integration, account)): Path<(String, String)>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Scim {
    let Ok(Query(params)) = params else {
        return error(StatusCode::BAD_REQUEST, Some("invalidValue"), "startIndex and count are numbers");
    };
    let shown = Shown::new(paths(params.attributes.as_deref()), paths(params.excluded_attributes.as_deref()));
    let listing = Listing {
        filter: params.filter,
        start_index: params.start_index,
        count: params.count,
        sort_by: params.sort_by,
        sort_order: params.sort_order,
        shown,
    };
    list_users(&web, &integration, &account, listing).await
}

async fn search(
    State(web): State<Arc<Web>>,
    Path((integration, account)): Path<(String, String)>,
    body: Result<axum::Json<SearchRequest>, axum::extract::rejection::JsonRejection>,
) -> Scim {
    let request = match body {
        Ok(axum::Json(request)) => request,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, Some("invalidSyntax"), rejection.body_text()),
    };
    let shown = Shown::new(request.attributes, request.excluded_attributes);
    let listing = Listing {
        filter: request.filter,
        start_index: request.start_index,
        count: request.count,
        sort_by: request.sort_by,
        sort_order: request.sort_order,
        shown,
    };
    list_users(&web, &integration, &account, listing).await
}

/// A ListResponse of the users a listing selects, a page by `startIndex` and `count`.
async fn list_users(web: &Web, integration: &str, account: &str, listing: Listing) -> Scim {
    let filter = match listing.filter.as_deref().map(parse_filter).transpose() {
        Ok(filter) => filter.unwrap_or_default(),
        Err(message) => return error(StatusCode::BAD_REQUEST, Some("invalidFilter"), message),
    };
    let (order, reversed) = match sorted(listing.sort_by.as_deref(), listing.sort_order.as_deref()) {
        Ok(sorted) => sorted,
        Err(message) => return error(StatusCode::BAD_REQUEST, Some("invalidValue"), message),
    };
    // RFC 7644 §3.4.2.4: startIndex below 1 is 1; count below 0 is 0.
    let start = listing.start_index.unwrap_or(1).max(1);
    let count = listing.count.unwrap_or(100).clamp(0, MAX_COUNT);
    let query = UserQuery {
        conditions: filter.conditions,
        modified_after: filter.modified_after,
        order,
        reversed,
        offset: Some(start - 1),
        limit: Some(count),
        ..UserQuery::default()
    };
    let (total, users) = match web.services.count_users(integration, account, query).await {
        Ok(found) => found,
        Err(error) => return error.into(),
    };
    let base = base_path(integration, account);
    let resources: Vec<Value> = users.iter().map(|u| listing.shown.apply(resource(&base, u))).collect();
    Scim(
        StatusCode::OK,
        json!({
            "schemas": [LIST],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShownParams {
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

async fn user(
    State(web): State<Arc<Web>>,
    Path((integration, account, id)): Path<(String, String, String)>,
    Query(params): Query<ShownParams>,
) -> Scim {
    let shown = Shown::new(paths(params.attributes.as_deref()), paths(params.excluded_attributes.as_deref()));
    match web.services.user(&integration, &account, &id).await {
        Ok(user) => Scim(StatusCode::OK, shown.apply(resource(&base_path(&integration, &account), &user))),
        Err(error) => error.into(),
    }
}

/// The attributes a resource is returned with: `attributes` names the only ones (besides those
/// always returned), `excludedAttributes` ones left out. Names are compared without regard to case,
/// with or without their schema's URN.
struct Shown {
    only: Vec<Vec<String>>,
    excluded: Vec<Vec<String>>,
}

/// Attributes returned whatever is asked (RFC 7643's `returned: always`).
const ALWAYS: [&str; 2] = ["schemas", "id"];

impl Shown {
    fn new(only: Vec<String>, excluded: Vec<String>) -> Shown {
        let split = |paths: Vec<String>| paths.iter().map(|path| Shown::steps(path)).collect();
        Shown { only: split(only), excluded: split(excluded) }
    }

    /// `name.givenName`, `urn:…:core:2.0:User:userName`, `urn:…:tib:2.0:User:status`: the keys to it.
    fn steps(path: &str) -> Vec<String> {
        let lower = path.to_ascii_lowercase();
        for urn in [USER, GROUP] {
            if let Some(rest) = lower.strip_prefix(&format!("{}:", urn.to_ascii_lowercase())) {
                return rest.split('.').map(str::to_owned).collect();
            }
        }
        let extension = EXTENSION.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix(&extension) {
            let mut steps = vec![extension];
            steps.extend(rest.strip_prefix(':').into_iter().flat_map(|rest| rest.split('.')).map(str::to_owned));
            return steps;
        }
        lower.split('.').map(str::to_owned).collect()
    }

    fn apply(&self, resource: Value) -> Value {
        let Value::Object(object) = resource else { return resource };
        let kept = object
            .into_iter()
            .filter_map(|(name, value)| {
                if ALWAYS.contains(&name.as_str()) {
                    return Some((name, value));
                }
                let value = if self.only.is_empty() {
                    value
                } else {
                    match under(&self.only, &name).as_slice() {
                        [] => return None,
                        subs if subs.iter().any(|s| s.is_empty()) => value,
                        subs => sub_attributes(value, subs, true),
                    }
                };
                match under(&self.excluded, &name).as_slice() {
                    [] => Some((name, value)),
                    subs if subs.iter().any(|s| s.is_empty()) => None,
                    subs => Some((name, sub_attributes(value, subs, false))),
                }
            })
            .collect();
        Value::Object(kept)
    }
}

/// What `paths` name under the attribute `name`: an empty path for the whole attribute.
fn under<'p>(paths: &'p [Vec<String>], name: &str) -> Vec<&'p [String]> {
    let name = name.to_ascii_lowercase();
    paths.iter().filter(|p| p[0] == name).map(|p| &p[1..]).collect()
}

/// A complex value (or each of a multi-valued one's) with only (`keep`) or without the
/// sub-attributes `subs` name.
fn sub_attributes(value: Value, subs: &[&[String]], keep: bool) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(|item| sub_attributes(item, subs, keep)).collect()),
        Value::Object(object) => Value::Object(
            object.into_iter().filter(|(k, _)| subs.iter().any(|s| s[0] == k.to_ascii_lowercase()) == keep).collect(),
        ),
        other => other,
    }
}

/// Every group as a SCIM Group, with its members; a group's id is its name.
/// The groups, largest first, a page by `startIndex` and `count`; `displayName eq "…"` finds one.
async fn groups(
    State(web): State<Arc<Web>>,
    Path((integration, account)): Path<(String, String)>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Scim {
    let Ok(Query(params)) = params else {
        return error(StatusCode::BAD_REQUEST, Some("invalidValue"), "startIndex and count are numbers");
    };
    let named = match params.filter.as_deref().map(group_filter).transpose() {
        Ok(named) => named,
        Err(message) => return error(StatusCode::BAD_REQUEST, Some("invalidFilter"), message),
    };
    let mut groups = match web.services.groups(&integration, &account).await {
        Ok(groups) => groups,
        Err(error) => return error.into(),
    };
    if let Some(named) = named {
        groups.retain(|(name, _)| *name == named);
    }
    // RFC 7644 §3.4.2.4: startIndex below 1 is 1; count below 0 is 0.
    let start = params.start_index.unwrap_or(1).max(1);
    let count = params.count.unwrap_or(100).clamp(0, MAX_COUNT);
    let base = base_path(&integration, &account);
    let page = groups.iter().skip(usize::try_from(start - 1).unwrap_or(usize::MAX)).take(count as usize);
    let mut resources = Vec::new();
    for (name, _) in page {
        match web.services.group_members(&integration, &account, name).await {
            Ok(members) => resources.push(group_resource(&base, name, &members)),
            // A group whose last member was removed since it was counted is not listed.
            Err(_) => continue,
        }
    }
    Scim(
        StatusCode::OK,
        json!({
            "schemas": [LIST],
            "totalResults": groups.len(),
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

/// The one filter `/Groups` reads: `displayName eq "…"`, the group's name.
fn group_filter(filter: &str) -> Result<String, String> {
    if filter.len() > MAX_FILTER_BYTES {
        return Err(format!("the filter is {} bytes long; at most {MAX_FILTER_BYTES} are read", filter.len()));
    }
    match tokens(filter)?.as_slice() {
        [attribute, operator, value]
            if attribute.eq_ignore_ascii_case("displayName") && operator.eq_ignore_ascii_case("eq") =>
        {
            quoted(value)
        }
        _ => Err(format!("`{filter}`: groups are found by `displayName eq \"name\"`")),
    }
}

async fn group(State(web): State<Arc<Web>>, Path((integration, account, id)): Path<(String, String, String)>) -> Scim {
    match web.services.group_members(&integration, &account, &id).await {
        Ok(members) => Scim(StatusCode::OK, group_resource(&base_path(&integration, &account), &id, &members)),
        Err(error) => error.into(),
    }
}

/// A group as a SCIM Group resource: its name is its id.
fn group_resource(base: &str, name: &str, members: &[StoredUser]) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|member| {
            let id = &member.user.external_id;
            json!({"value": id, "display": member.user.email, "type": "User", "$ref": format!("{base}/Users/{}", percent_encode(id))})
        })
        .collect();
    json!({
        "schemas": [GROUP],
        "id": name,
        "displayName": name,
        "members": members,
        "meta": {"resourceType": "Group", "location": format!("{base}/Groups/{}", percent_encode(name))},
    })
}

/// Where a connection's SCIM service is, its segments percent-encoded.
fn base_path(integration: &str, account: &str) -> String {
    format!("/scim/v2/{}/{}", percent_encode(integration), percent_encode(account))
}

/// A stored user as a SCIM User resource.
fn resource(base: &str, stored: &StoredUser) -> Value {
    let u = &stored.user;
    let formatted = u.full_name.clone().or_else(|| match (&u.first_name, &u.last_name) {
        (None, None) => None,
        (first, last) => {
            Some(format!("{} {}", first.as_deref().unwrap_or(""), last.as_deref().unwrap_or("")).trim().to_owned())
        }
    });
    let id = percent_encode(&u.external_id);
    let entitlements: Vec<Value> = u.licenses.iter().map(|l| json!({"value": l})).collect();
    let roles: Vec<Value> = u.roles.iter().map(|r| json!({"value": r})).collect();
    let groups: Vec<Value> = u
        .groups
        .iter()
        .map(|g| json!({"value": g, "display": g, "$ref": format!("{base}/Groups/{}", percent_encode(g))}))
        .collect();
    // Custom field names are the organization's ("Cost center"), not SCIM attribute names: each
    // field is a name and a text value, a multi-value field one pair per value.
    let custom: Vec<Value> = u
        .custom_fields
        .iter()
        .flat_map(|(name, value)| {
            let values = match value {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                one => vec![one.clone()],
            };
            values.into_iter().map(move |v| {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                json!({"name": name, "value": text})
            })
        })
        .collect();
    json!({
        "schemas": [USER, EXTENSION],
        "id": u.external_id,
        "externalId": u.external_id,
        "userName": u.username.clone().unwrap_or_else(|| u.email.clone()),
        "displayName": formatted,
        "name": {"formatted": formatted, "givenName": u.first_name, "familyName": u.last_name},
        "emails": [{"value": u.email, "primary": true}],
        "active": stored.has_access(),
        "userType": u.account_type,
        "entitlements": entitlements,
        "roles": roles,
        "groups": groups,
        EXTENSION: {
            "status": u.status,
            "role": u.role,
            "createdAt": u.created_at,
            "lastSeenAt": u.last_seen_at,
            "lastActivityAt": u.last_activity_at,
            "customFields": custom,
        },
        "meta": {
            "resourceType": "User",
            "location": format!("{base}/Users/{id}"),
            "created": rfc3339(stored.first_seen),
            "lastModified": rfc3339(stored.modified_at),
        },
    })
}

/// A time as SCIM's `dateTime` writes it (RFC 3339, UTC, to the second).
fn rfc3339(at: crate::store::Time) -> Option<String> {
    chrono::DateTime::from_timestamp(at, 0).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The longest filter read, in bytes, and the most conditions it may join: a
/// filter says who to find, not a program (the store runs each condition).
const MAX_FILTER_BYTES: usize = 4096;
const MAX_CONDITIONS: usize = 32;

/// What a filter selects: conditions on fields, and for incremental readers, a time the users
/// changed after.
#[derive(Debug, Default, PartialEq)]
struct Filter {
    conditions: Vec<Condition>,
    modified_after: Option<crate::store::Time>,
}

/// A SCIM filter (RFC 7644 §3.4.2.2), as far as this provider reads one:
/// `attribute op "value"` or `attribute pr`, joined by `and`, within the bounds above.
fn parse_filter(filter: &str) -> Result<Filter, String> {
    if filter.len() > MAX_FILTER_BYTES {
        return Err(format!("the filter is {} bytes long; at most {MAX_FILTER_BYTES} are read", filter.len()));
    }
    let tokens = tokens(filter)?;
    let mut selected = Filter::default();
    let conditions = &mut selected.conditions;
    let mut rest = tokens.as_slice();
    loop {
        let (attribute, operator, after) = match rest {
            [attribute, operator, after @ ..] => (attribute, operator.to_ascii_lowercase(), after),
            _ => return Err(format!("`{filter}` is not `attribute operator value`")),
        };
        if attribute.eq_ignore_ascii_case("meta.lastModified") {
            let [value, next @ ..] = after else { return Err(format!("`{operator}` needs a value")) };
            let after = changed_after(&operator, value)?;
            // Two bounds: the later holds.
            selected.modified_after = selected.modified_after.max(Some(after));
            match next {
                [] => return Ok(selected),
                [and, next @ ..] if and.eq_ignore_ascii_case("and") => {
                    rest = next;
                    continue;
                }
                [other, ..] => return Err(format!("`{other}`: only `and` joins filters here")),
            }
        }
        let field = match attribute.to_ascii_lowercase().as_str() {
            "username" => UserField::UserName,
            "emails.value" | "emails" => UserField::Email,
            "active" => UserField::Access,
            "externalid" | "id" => UserField::ExternalId,
            "groups.value" | "groups" => UserField::Group,
            other => {
                return Err(format!(
                    "`{other}` cannot be filtered on: userName, emails.value, active, externalId, groups.value and \
                     meta.lastModified can"
                ));
            }
        };
        if field == UserField::Group && operator != "eq" {
            return Err("`groups.value` is compared with `eq`: a member of the group named".to_owned());
        }
        let (test, after) = if operator == "pr" {
            (FieldTest::Present, after)
        } else {
            let [value, after @ ..] = after else { return Err(format!("`{operator}` needs a value")) };
            (test(field, &operator, value)?, after)
        };
        conditions.push(Condition { field, test });
        if conditions.len() > MAX_CONDITIONS {
            return Err(format!("the filter joins more than {MAX_CONDITIONS} conditions"));
        }
        match after {
            [] => return Ok(selected),
            [and, next @ ..] if and.eq_ignore_ascii_case("and") => rest = next,
            [other, ..] => return Err(format!("`{other}`: only `and` joins filters here")),
        }
    }
}

/// The time after which a user changed, for `meta.lastModified gt|ge "time"`: the store keeps
/// whole seconds, so `gt` a time is after its second, and `ge` it after the second before the
/// first whole second at or past it.
fn changed_after(operator: &str, value: &str) -> Result<crate::store::Time, String> {
    let text = quoted(value)?;
    let at = chrono::DateTime::parse_from_rfc3339(&text)
        .map_err(|_| format!("`{text}` is not a dateTime (RFC 3339, `2026-12-01T00:00:00Z`)"))?;
    let (seconds, fraction) = (at.timestamp(), at.timestamp_subsec_nanos());
    match operator {
        "gt" => Ok(seconds),
        "ge" => Ok(if fraction > 0 { seconds } else { seconds - 1 }),
        other => Err(format!("`meta.lastModified` is compared with `gt` or `ge` (changed since), not `{other}`")),
    }
}

/// The test of `attribute operator value`.
fn test(field: UserField, operator: &str, value: &str) -> Result<FieldTest, String> {
    if field == UserField::Access {
        let yes = match (operator, value) {
            ("eq", "true") => true,
            ("eq", "false") => false,
            _ => return Err("`active` is compared with `eq true` or `eq false`".to_owned()),
        };
        return Ok(FieldTest::Is(yes));
    }
    let text = quoted(value)?;
    Ok(match operator {
        "eq" => FieldTest::Equals(text),
        "co" => FieldTest::Contains(text),
        "sw" => FieldTest::StartsWith(text),
        other => return Err(format!("`{other}` is not an operator here: eq, co, sw and pr are")),
    })
}

/// A filter's quoted string, its escapes read.
fn quoted(value: &str) -> Result<String, String> {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(|| format!("`{value}` is not a quoted string"))?;
    Ok(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// Words and quoted strings (quotes kept, escapes inside).
fn tokens(filter: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = filter.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut token = String::new();
        if c == '"' {
            token.push(chars.next().expect("peeked"));
            let mut closed = false;
            while let Some(c) = chars.next() {
                token.push(c);
                match c {
                    '\\' => token.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => {}
                }
            }
            if !closed {
                return Err("a string in the filter is never closed".to_owned());
            }
        } else {
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
                token.push(c);
                chars.next();
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}

async fn service_provider_config() -> Scim {
    let unsupported = json!({"supported": false});
    Scim(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": unsupported,
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_COUNT},
            "changePassword": unsupported,
            "sort": {"supported": true},
            "etag": unsupported,
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Admin token",
                "description": "The runtime's admin token or a named API token, as Authorization: Bearer <token>",
            }],
        }),
    )
}

/// The resource types this service has: users and groups.
fn resource_type_list(base: &str) -> Vec<Value> {
    let kind = |id: &str, endpoint: &str, schema: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": id,
            "name": id,
            "endpoint": endpoint,
            "schema": schema,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")},
        })
    };
    let mut user = kind("User", "/Users", USER);
    user["schemaExtensions"] = json!([{"schema": EXTENSION, "required": false}]);
    vec![user, kind("Group", "/Groups", GROUP)]
}

async fn resource_types(Path((integration, account)): Path<(String, String)>) -> Scim {
    list(resource_type_list(&base_path(&integration, &account)))
}

async fn resource_type(Path((integration, account, id)): Path<(String, String, String)>) -> Scim {
    let found = resource_type_list(&base_path(&integration, &account)).into_iter().find(|kind| kind["id"] == id);
    match found {
        Some(kind) => Scim(StatusCode::OK, kind),
        None => error(StatusCode::NOT_FOUND, None, format!("no resource type {id}: User and Group are served")),
    }
}

/// A discovery ListResponse: every resource, on one page.
fn list(resources: Vec<Value>) -> Scim {
    let n = resources.len();
    Scim(
        StatusCode::OK,
        json!({"schemas": [LIST], "totalResults": n, "itemsPerPage": n, "startIndex": 1, "Resources": resources}),
    )
}

/// One attribute of a schema (RFC 7643 §7): read-only, as everything here is.
fn attribute(name: &str, kind: &str, multi: bool, sub: &[Value]) -> Value {
    let mut attribute = json!({"name": name, "type": kind, "multiValued": multi, "required": false,
        "caseExact": false, "mutability": "readOnly", "returned": "default", "uniqueness": "none"});
    if !sub.is_empty() {
        attribute["subAttributes"] = json!(sub);
    }
    attribute
}

fn schema(id: &str, name: &str, description: &str, attributes: Vec<Value>, base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    })
}

/// The schemas of this service's resources: User, its tib extension, Group.
fn schema_list(base: &str) -> Vec<Value> {
    let text = |name: &str| attribute(name, "string", false, &[]);
    let user = schema(
        USER,
        "User",
        "User Account",
        vec![
            text("userName"),
            text("displayName"),
            attribute("name", "complex", false, &[text("formatted"), text("givenName"), text("familyName")]),
            attribute("emails", "complex", true, &[text("value"), attribute("primary", "boolean", false, &[])]),
            attribute("active", "boolean", false, &[]),
            text("userType"),
            attribute("entitlements", "complex", true, &[text("value")]),
            attribute("roles", "complex", true, &[text("value")]),
            attribute(
                "groups",
                "complex",
                true,
                &[text("value"), text("display"), attribute("$ref", "reference", false, &[])],
            ),
        ],
        base,
    );
    let group = schema(
        GROUP,
        "Group",
        "A group the app gives its users, named as the app names it",
        vec![
            text("displayName"),
            attribute(
                "members",
                "complex",
                true,
                &[text("value"), text("display"), text("type"), attribute("$ref", "reference", false, &[])],
            ),
        ],
        base,
    );
    let extension = schema(
        EXTENSION,
        "tib",
        "What tib knows of a user besides the core schema: its status label, role, times and custom fields",
        vec![
            text("status"),
            text("role"),
            attribute("createdAt", "dateTime", false, &[]),
            attribute("lastSeenAt", "dateTime", false, &[]),
            attribute("lastActivityAt", "dateTime", false, &[]),
            attribute("customFields", "complex", true, &[text("name"), text("value")]),
        ],
        base,
    );
    vec![user, extension, group]
}

async fn schemas(Path((integration, account)): Path<(String, String)>) -> Scim {
    list(schema_list(&base_path(&integration, &account)))
}

async fn schema_by_id(Path((integration, account, id)): Path<(String, String, String)>) -> Scim {
    let found = schema_list(&base_path(&integration, &account)).into_iter().find(|schema| schema["id"] == id);
    match found {
        Some(schema) => Scim(StatusCode::OK, schema),
        None => error(StatusCode::NOT_FOUND, None, format!("no schema {id} here")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_is_by_the_attributes_the_store_orders_and_ascending_unless_said() {
        assert_eq!(sorted(None, None), Ok((UserOrder::ExternalId, false)));
        assert_eq!(sorted(Some("userName"), Some("descending")), Ok((UserOrder::UserName, true)));
        assert_eq!(sorted(Some("meta.lastModified"), Some("ascending")), Ok((UserOrder::Modified, false)));
        assert!(sorted(Some("title"), None).expect_err("unknown").contains("cannot be sorted on"));
        assert!(sorted(Some("userName"), Some("up")).expect_err("order").contains("`ascending` or `descending`"));
    }

    #[test]
    fn filters_read_as_conditions_and_mistakes_are_named() {
        let conditions = parse_filter(r#"userName eq "Ada" and emails.value co "@acme" and active eq true"#)
            .expect("valid")
            .conditions;
        assert_eq!(
            conditions,
            [
                Condition { field: UserField::UserName, test: FieldTest::Equals("Ada".into()) },
                Condition { field: UserField::Email, test: FieldTest::Contains("@acme".into()) },
                Condition { field: UserField::Access, test: FieldTest::Is(true) },
            ]
        );
        let escaped = parse_filter(r#"externalId EQ "a \"b\"" AND userName pr"#).expect("valid").conditions;
        assert_eq!(escaped[0].test, FieldTest::Equals("a \"b\"".into()));
        assert_eq!(escaped[1].test, FieldTest::Present);
        assert!(parse_filter(r#"title eq "x""#).expect_err("unknown").contains("cannot be filtered"));
        assert!(parse_filter(r#"userName gt "x""#).expect_err("operator").contains("eq, co, sw and pr"));
        assert!(parse_filter(r#"userName eq "x" or active eq true"#).expect_err("or").contains("only `and`"));
        assert!(parse_filter(r#"userName eq "x"#).expect_err("unclosed").contains("never closed"));
        assert!(parse_filter("active eq yes").is_err());
        let many = vec![r#"userName eq "x""#; 1001].join(" and ");
        assert!(parse_filter(&many).expect_err("too long").contains("at most 4096"));
        let just_over = vec!["userName pr"; MAX_CONDITIONS + 1].join(" and ");
        // Incremental readers: changed after a time, the later of two bounds, to the second.
        let since = parse_filter(r#"meta.lastModified gt "2026-12-01T00:00:00Z" and active eq true"#).expect("valid");
        assert_eq!((since.modified_after, since.conditions.len()), (Some(1_796_083_200), 1));
        let both = r#"meta.lastModified ge "2026-12-01T00:00:00Z" AND meta.lastModified gt "2026-12-01T00:00:00.5Z""#;
        assert_eq!(parse_filter(both).expect("valid").modified_after, Some(1_796_083_200));
        let ge = parse_filter(r#"meta.lastModified ge "2026-12-01T00:00:00Z""#).expect("valid");
        assert_eq!(ge.modified_after, Some(1_796_083_199));
        assert!(
            parse_filter(r#"meta.lastModified lt "2026-12-01T00:00:00Z""#).expect_err("lt").contains("`gt` or `ge`")
        );
        assert!(parse_filter(r#"meta.lastModified gt "yesterday""#).expect_err("time").contains("not a dateTime"));
        assert!(parse_filter(&just_over).expect_err("too many").contains("more than 32 conditions"));
        assert_eq!(
            parse_filter(&vec!["userName pr"; MAX_CONDITIONS].join(" and ")).map(|f| f.conditions.len()),
            Ok(32)
        );
    }
}
