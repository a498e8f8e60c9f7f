//! The IR's request side as the support crate's `Spec`, built at run time
//! for preview (the generated `SPEC` constant is the same data, emitted).

use tib_support::spec as s;

use tib_front::ir;

use crate::keep::{slice as leak, text};

pub fn spec(spec: &ir::Spec) -> &'static s::Spec {
    let credentials = spec
        .credentials
        .iter()
        .map(|c| s::CredentialSpec {
            name: text(&c.name),
            secret: c.secret,
            description: text(c.description.as_deref().unwrap_or_default()),
        })
        .collect();
    crate::keep::value(s::Spec {
        app: text(&spec.app.name),
        id: text(&spec.app.id),
        source: text(&spec.source),
        credentials: leak(credentials),
        base_url: template(&spec.base_url),
        auth: auth(&spec.auth),
        endpoint: s::Endpoint {
            method: match spec.endpoint.method {
                ir::Method::Get => s::Method::Get,
                ir::Method::Post => s::Method::Post,
            },
            path: text(&spec.endpoint.path),
            query: params(&spec.endpoint.query),
            headers: params(&spec.endpoint.headers),
            body: spec.endpoint.body.as_ref().map(json),
            listings: leak(spec.endpoint.listings.iter().map(|listing| params(listing)).collect()),
            client_certificate: spec.endpoint.client_certificate.map(|id| id.0),
        },
        lookups: leak(spec.lookups.iter().map(lookup).collect()),
        listings: leak(spec.listings.iter().map(listing).collect()),
        pagination: pagination(&spec.pagination),
        max_users: spec.max_users,
    })
}

/// A lookup's or listing's path or query value.
fn parts(parts: &[ir::LookupPart]) -> &'static [s::LookupPart] {
    leak(
        parts
            .iter()
            .map(|part| match part {
                ir::LookupPart::Text(t) => s::LookupPart::Text(text(t)),
                ir::LookupPart::Credential(id) => s::LookupPart::Credential(id.0),
                ir::LookupPart::User(index) => s::LookupPart::User(*index),
                ir::LookupPart::Session(index) => s::LookupPart::Session(*index),
            })
            .collect(),
    )
}

fn query(query: &[ir::LookupParam]) -> &'static [s::LookupParam] {
    leak(query.iter().map(|param| s::LookupParam { name: text(&param.name), value: parts(&param.value) }).collect())
}

fn listing(listing: &ir::Listing) -> s::Listing {
    let kind = match &listing.kind {
        ir::ListingKind::Items { user } => s::ListingKind::Items { user: steps(user) },
        ir::ListingKind::Latest { user, at, window } => s::ListingKind::Latest {
            user: steps(user),
            at: steps(at),
            days: window.days,
            since: window.since.as_ref().map(|(param, format)| {
                let format = match format {
                    ir::TimeFormat::Unix => s::TimeFormat::Unix,
                    ir::TimeFormat::Date => s::TimeFormat::Date,
                    ir::TimeFormat::Iso => s::TimeFormat::Iso,
                };
                (text(param), format)
            }),
        },
        ir::ListingKind::Members { members, group_keys, user } => s::ListingKind::Members {
            members: crate::keep::value(listing_request(members)),
            group_keys: leak(group_keys.iter().map(steps).collect()),
            user: steps(user),
        },
    };
    s::Listing {
        name: text(&listing.name),
        request: listing_request(&listing.request),
        kind,
        matches: listing.matches,
        keep: listing.keep.as_ref().map(|keys| leak(keys.iter().map(|key| text(key)).collect())),
    }
}

fn listing_request(request: &ir::ListingRequest) -> s::ListingRequest {
    let paths = request.pagination.body_paths();
    s::ListingRequest {
        path: parts(&request.path),
        query: query(&request.query),
        headers: params(&request.headers),
        pagination: pagination(&request.pagination),
        items: steps(&request.items),
        next: paths.next.map(steps),
        more: paths.more.map(steps),
        total: paths.total.map(steps),
    }
}

fn steps(path: &ir::Path) -> &'static [s::Step] {
    leak(
        path.segments
            .iter()
            .map(|segment| match segment {
                ir::Segment::Key(key) => s::Step::Key(text(key)),
                ir::Segment::Index(index) => s::Step::Index(*index),
            })
            .collect(),
    )
}

fn lookup(lookup: &ir::Lookup) -> s::Lookup {
    s::Lookup {
        name: text(&lookup.name),
        path: parts(&lookup.path),
        query: query(&lookup.query),
        headers: params(&lookup.headers),
        not_found_is_nothing: lookup.not_found == ir::NotFound::Nothing,
        concurrency: lookup.concurrency,
        batch: lookup.batch.as_ref().map(|batch| s::Batch {
            size: batch.size,
            param: batch.param,
            user: batch.user,
            separator: batch.separator.as_deref().map(text),
            at: scopes(&batch.at),
            key: scopes(&batch.key),
        }),
    }
}

fn json(json_: &ir::Json) -> s::Json {
    match json_ {
        ir::Json::Bool(b) => s::Json::Bool(*b),
        ir::Json::Number(n) => s::Json::Number(text(n)),
        ir::Json::Text(t) => s::Json::Text(template(t)),
        ir::Json::Array(items) => s::Json::Array(leak(items.iter().map(json).collect())),
        ir::Json::Object(entries) => {
            s::Json::Object(leak(entries.iter().map(|(key, value)| (text(key), json(value))).collect()))
        }
    }
}

fn template(template: &ir::Template) -> s::Template {
    s::Template(leak(
        template
            .parts
            .iter()
            .map(|part| match part {
                ir::TemplatePart::Text(t) => s::Part::Text(text(t)),
                ir::TemplatePart::Credential(id) => s::Part::Credential(id.0),
            })
            .collect(),
    ))
}

fn params(params: &[ir::Param]) -> &'static [s::Param] {
    leak(params.iter().map(|p| s::Param { name: text(&p.name), value: template(&p.value) }).collect())
}

fn scopes(scopes: &[String]) -> &'static [&'static str] {
    leak(scopes.iter().map(|scope| text(scope)).collect())
}

fn auth(auth: &ir::Auth) -> s::Auth {
    match auth {
        ir::Auth::Bearer { token } => s::Auth::Bearer { token: template(token) },
        ir::Auth::Basic { username, password } => {
            s::Auth::Basic { username: template(username), password: template(password) }
        }
        ir::Auth::Headers { headers } => s::Auth::Headers(params(headers)),
        ir::Auth::QueryKey { param, value } => s::Auth::QueryKey { param: text(param), value: template(value) },
        ir::Auth::OAuthClientCredentials(o) => s::Auth::OAuthClientCredentials(s::OAuthClientCredentials {
            token_url: template(&o.token_url),
            scopes: scopes(&o.scopes),
            token_params: params(&o.token_params),
            client_auth: client_auth(o.client_auth),
            key_id: o.key_id.as_ref().map(template),
            grant_type: text(&o.grant_type),
            subject: o.subject.as_ref().map(template),
            base_url_from: o.base_url_from.as_deref().map(text),
        }),
        ir::Auth::Session(session) => s::Auth::Session(s::Session {
            path: text(&session.path),
            body: json(&session.body),
            token: scopes(&session.token),
            header: session.header.as_deref().map(text),
            values: leak(session.values.iter().map(|(name, keys)| (text(name), scopes(keys))).collect()),
        }),
        ir::Auth::OAuthAuthorizationCode(o) => s::Auth::OAuthAuthorizationCode(s::OAuthAuthorizationCode {
            authorize_url: template(&o.authorize_url),
            token_url: template(&o.token_url),
            scopes: scopes(&o.scopes),
            refresh_tokens: o.refresh_tokens,
            authorize_params: params(&o.authorize_params),
            token_params: params(&o.token_params),
            refresh_params: params(&o.refresh_params),
            client_auth: client_auth(o.client_auth),
            key_id: o.key_id.as_ref().map(template),
            base_url_from: o.base_url_from.as_deref().map(text),
        }),
    }
}

fn client_auth(client_auth: ir::ClientAuth) -> s::ClientAuth {
    match client_auth {
        ir::ClientAuth::Basic => s::ClientAuth::Basic,
        ir::ClientAuth::Post => s::ClientAuth::Post,
        ir::ClientAuth::PrivateKeyJwt => s::ClientAuth::PrivateKeyJwt,
        ir::ClientAuth::None => s::ClientAuth::None,
    }
}

fn pagination(pagination: &ir::Pagination) -> s::Pagination {
    let count_stops = |stops: &[ir::CountStop]| {
        leak(
            stops
                .iter()
                .map(|stop| match stop {
                    ir::CountStop::EmptyPage => s::CountStop::EmptyPage,
                    ir::CountStop::ShortPage => s::CountStop::ShortPage,
                    ir::CountStop::NoMore(_) => s::CountStop::NoMore,
                    ir::CountStop::Total(_) => s::CountStop::Total,
                })
                .collect(),
        )
    };
    let token_stops = |stops: &[ir::TokenStop]| {
        leak(
            stops
                .iter()
                .map(|stop| match stop {
                    ir::TokenStop::MissingToken => s::TokenStop::MissingToken,
                    ir::TokenStop::EmptyPage => s::TokenStop::EmptyPage,
                    ir::TokenStop::NoMore(_) => s::TokenStop::NoMore,
                })
                .collect(),
        )
    };
    match pagination {
        ir::Pagination::None => s::Pagination::None,
        ir::Pagination::Offset(o) => s::Pagination::Offset(s::Counted {
            position_param: text(&o.offset_param),
            size_param: text(&o.limit_param),
            page_size: o.page_size,
            first: o.start,
            concurrency: o.concurrency,
            stop: count_stops(&o.stop),
        }),
        ir::Pagination::PageNumber(p) => s::Pagination::PageNumber(s::Counted {
            position_param: text(&p.page_param),
            size_param: text(&p.size_param),
            page_size: p.page_size,
            first: p.first_page,
            concurrency: p.concurrency,
            stop: count_stops(&p.stop),
        }),
        ir::Pagination::NextUrl(n) => s::Pagination::NextUrl {
            source: match n.source {
                ir::NextUrlSource::Body(_) => s::NextUrlSource::Body,
                ir::NextUrlSource::LinkHeader => s::NextUrlSource::LinkHeader,
            },
            stop: token_stops(&n.stop),
        },
        ir::Pagination::Token(t) => s::Pagination::Token {
            param: match &t.param {
                ir::TokenTarget::Query(name) => s::TokenTarget::Query(text(name)),
                ir::TokenTarget::Body(keys) => s::TokenTarget::Body(leak(keys.iter().map(|k| text(k)).collect())),
            },
            continue_path: t.continue_path.as_deref().map(text),
            source: match &t.source {
                ir::TokenSource::Body(_) => s::TokenSource::Body,
                ir::TokenSource::Header(name) => s::TokenSource::Header(text(name)),
            },
            stop: token_stops(&t.stop),
        },
    }
}
