//! The `SPEC` constant: the request side of a connector as data for the
//! support crate's drivers (URLs, auth, endpoint, pagination).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::ir;

pub fn spec(spec: &ir::Spec) -> TokenStream {
    let (app, id, source) = (&spec.app.name, &spec.app.id, &spec.source);
    let credentials = spec.credentials.iter().map(|c| {
        let (name, secret) = (&c.name, c.secret);
        let description = c.description.clone().unwrap_or_default();
        quote!(::tib_support::spec::CredentialSpec { name: #name, secret: #secret, description: #description })
    });
    let base_url = template(&spec.base_url);
    let auth = auth(&spec.auth);
    let endpoint = endpoint(&spec.endpoint);
    let pagination = pagination(&spec.pagination);
    let lookups = spec.lookups.iter().map(lookup);
    let listings = spec.listings.iter().map(listing);
    let max_users = match spec.max_users {
        Some(cap) => quote!(Some(#cap)),
        None => quote!(None),
    };
    quote! {
        /// The request side of this connector: where the API is, how to authenticate, how pages follow.
        pub static SPEC: ::tib_support::Spec = ::tib_support::Spec {
            app: #app,
            id: #id,
            source: #source,
            credentials: &[#(#credentials),*],
            base_url: #base_url,
            auth: #auth,
            endpoint: #endpoint,
            lookups: &[#(#lookups),*],
            listings: &[#(#listings),*],
            pagination: #pagination,
            max_users: #max_users,
        };
    }
}

/// A lookup's or listing's path or query value: text with values put in.
fn parts(parts: &[ir::LookupPart]) -> TokenStream {
    let spec = quote!(::tib_support::spec);
    let parts = parts.iter().map(|part| match part {
        ir::LookupPart::Text(text) => quote!(#spec::LookupPart::Text(#text)),
        ir::LookupPart::Credential(id) => {
            let index = Literal::usize_unsuffixed(id.0);
            quote!(#spec::LookupPart::Credential(#index))
        }
        ir::LookupPart::User(index) => {
            let index = Literal::usize_unsuffixed(*index);
            quote!(#spec::LookupPart::User(#index))
        }
        ir::LookupPart::Session(index) => {
            let index = Literal::usize_unsuffixed(*index);
            quote!(#spec::LookupPart::Session(#index))
        }
    });
    quote!(&[#(#parts),*])
}

fn query(query: &[ir::LookupParam]) -> TokenStream {
    let query = query.iter().map(|param| {
        let (name, value) = (&param.name, parts(&param.value));
        quote!(::tib_support::spec::LookupParam { name: #name, value: #value })
    });
    quote!(&[#(#query),*])
}

fn listing(listing: &ir::Listing) -> TokenStream {
    let spec = quote!(::tib_support::spec);
    let (name, request) = (&listing.name, listing_request(&listing.request));
    let kind = match &listing.kind {
        ir::ListingKind::Items { user } => {
            let user = steps(user);
            quote!(#spec::ListingKind::Items { user: #user })
        }
        ir::ListingKind::Latest { user, at, window } => {
            let (user, at, days) = (steps(user), steps(at), window.days);
            let since = match &window.since {
                Some((param, format)) => {
                    let format = match format {
                        ir::TimeFormat::Unix => quote!(#spec::TimeFormat::Unix),
                        ir::TimeFormat::Date => quote!(#spec::TimeFormat::Date),
                        ir::TimeFormat::Iso => quote!(#spec::TimeFormat::Iso),
                    };
                    quote!(Some((#param, #format)))
                }
                None => quote!(None),
            };
            quote!(#spec::ListingKind::Latest { user: #user, at: #at, days: #days, since: #since })
        }
        ir::ListingKind::Members { members, group_keys, user } => {
            let (members, user) = (listing_request(members), steps(user));
            let group_keys = group_keys.iter().map(steps);
            quote!(#spec::ListingKind::Members { members: &#members, group_keys: &[#(#group_keys),*], user: #user })
        }
    };
    let matches = Literal::usize_unsuffixed(listing.matches);
    let keep = match &listing.keep {
        Some(keys) => quote!(Some(&[#(#keys),*])),
        None => quote!(None),
    };
    quote! {
        #spec::Listing { name: #name, request: #request, kind: #kind, matches: #matches, keep: #keep }
    }
}

fn listing_request(request: &ir::ListingRequest) -> TokenStream {
    let (path, query, headers) = (parts(&request.path), query(&request.query), params(&request.headers));
    let (pagination, items) = (pagination(&request.pagination), steps(&request.items));
    let paths = request.pagination.body_paths();
    let optional = |path: Option<&ir::Path>| match path {
        Some(path) => {
            let path = steps(path);
            quote!(Some(#path))
        }
        None => quote!(None),
    };
    let (next, more, total) = (optional(paths.next), optional(paths.more), optional(paths.total));
    quote!(::tib_support::spec::ListingRequest {
        path: #path,
        query: #query,
        headers: #headers,
        pagination: #pagination,
        items: #items,
        next: #next,
        more: #more,
        total: #total,
    })
}

fn steps(path: &ir::Path) -> TokenStream {
    let steps = path.segments.iter().map(|segment| match segment {
        ir::Segment::Key(key) => quote!(::tib_support::spec::Step::Key(#key)),
        ir::Segment::Index(index) => {
            let index = Literal::usize_unsuffixed(*index);
            quote!(::tib_support::spec::Step::Index(#index))
        }
    });
    quote!(&[#(#steps),*])
}

fn lookup(lookup: &ir::Lookup) -> TokenStream {
    let spec = quote!(::tib_support::spec);
    let name = &lookup.name;
    let path = parts(&lookup.path);
    let query = query(&lookup.query);
    let headers = params(&lookup.headers);
    let not_found_is_nothing = lookup.not_found == ir::NotFound::Nothing;
    let concurrency = lookup.concurrency;
    let batch = match &lookup.batch {
        None => quote!(None),
        Some(batch) => {
            let (size, at, key) = (batch.size, &batch.at, &batch.key);
            let (param, user) = (Literal::usize_unsuffixed(batch.param), Literal::usize_unsuffixed(batch.user));
            let separator = match &batch.separator {
                Some(separator) => quote!(Some(#separator)),
                None => quote!(None),
            };
            quote!(Some(#spec::Batch {
                size: #size,
                param: #param,
                user: #user,
                separator: #separator,
                at: &[#(#at),*],
                key: &[#(#key),*],
            }))
        }
    };
    quote! {
        #spec::Lookup {
            name: #name,
            path: #path,
            query: #query,
            headers: #headers,
            not_found_is_nothing: #not_found_is_nothing,
            concurrency: #concurrency,
            batch: #batch,
        }
    }
}

fn template(template: &ir::Template) -> TokenStream {
    let parts = template.parts.iter().map(|part| match part {
        ir::TemplatePart::Text(text) => quote!(::tib_support::spec::Part::Text(#text)),
        ir::TemplatePart::Credential(id) => {
            let index = Literal::usize_unsuffixed(id.0);
            quote!(::tib_support::spec::Part::Credential(#index))
        }
    });
    quote!(::tib_support::spec::Template(&[#(#parts),*]))
}

fn params(params: &[ir::Param]) -> TokenStream {
    let params = params.iter().map(|p| {
        let name = &p.name;
        let value = template(&p.value);
        quote!(::tib_support::spec::Param { name: #name, value: #value })
    });
    quote!(&[#(#params),*])
}

fn auth(auth: &ir::Auth) -> TokenStream {
    let a = quote!(::tib_support::spec::Auth);
    match auth {
        ir::Auth::Bearer { token } => {
            let token = template(token);
            quote!(#a::Bearer { token: #token })
        }
        ir::Auth::Basic { username, password } => {
            let (username, password) = (template(username), template(password));
            quote!(#a::Basic { username: #username, password: #password })
        }
        ir::Auth::Headers { headers } => {
            let headers = params(headers);
            quote!(#a::Headers(#headers))
        }
        ir::Auth::QueryKey { param, value } => {
            let value = template(value);
            quote!(#a::QueryKey { param: #param, value: #value })
        }
        ir::Auth::Session(session) => {
            let (path, body, token) = (&session.path, json(&session.body), &session.token);
            let header = match &session.header {
                Some(name) => quote!(Some(#name)),
                None => quote!(None),
            };
            let values = session.values.iter().map(|(name, keys)| quote!((#name, &[#(#keys),*])));
            quote!(#a::Session(::tib_support::spec::Session {
                path: #path,
                body: #body,
                token: &[#(#token),*],
                header: #header,
                values: &[#(#values),*],
            }))
        }
        ir::Auth::OAuthClientCredentials(o) => {
            let (token_url, scopes, token_params) = (template(&o.token_url), &o.scopes, params(&o.token_params));
            let (client_auth, grant_type) = (client_auth(o.client_auth), &o.grant_type);
            let (base_url_from, key_id, subject) =
                (base_url_from(&o.base_url_from), optional_template(&o.key_id), optional_template(&o.subject));
            quote!(#a::OAuthClientCredentials(::tib_support::spec::OAuthClientCredentials {
                token_url: #token_url,
                scopes: &[#(#scopes),*],
                token_params: #token_params,
                client_auth: #client_auth,
                key_id: #key_id,
                grant_type: #grant_type,
                subject: #subject,
                base_url_from: #base_url_from,
            }))
        }
        ir::Auth::OAuthAuthorizationCode(o) => {
            let (authorize_url, token_url) = (template(&o.authorize_url), template(&o.token_url));
            let (scopes, refresh_tokens) = (&o.scopes, o.refresh_tokens);
            let (authorize_params, token_params, refresh_params) =
                (params(&o.authorize_params), params(&o.token_params), params(&o.refresh_params));
            let (client_auth, base_url_from) = (client_auth(o.client_auth), base_url_from(&o.base_url_from));
            let key_id = optional_template(&o.key_id);
            quote!(#a::OAuthAuthorizationCode(::tib_support::spec::OAuthAuthorizationCode {
                authorize_url: #authorize_url,
                token_url: #token_url,
                scopes: &[#(#scopes),*],
                refresh_tokens: #refresh_tokens,
                authorize_params: #authorize_params,
                token_params: #token_params,
                refresh_params: #refresh_params,
                client_auth: #client_auth,
                key_id: #key_id,
                base_url_from: #base_url_from,
            }))
        }
    }
}

fn client_auth(client_auth: ir::ClientAuth) -> TokenStream {
    match client_auth {
        ir::ClientAuth::Basic => quote!(::tib_support::spec::ClientAuth::Basic),
        ir::ClientAuth::Post => quote!(::tib_support::spec::ClientAuth::Post),
        ir::ClientAuth::PrivateKeyJwt => quote!(::tib_support::spec::ClientAuth::PrivateKeyJwt),
        ir::ClientAuth::None => quote!(::tib_support::spec::ClientAuth::None),
    }
}

fn optional_template(value: &Option<ir::Template>) -> TokenStream {
    match value {
        Some(value) => {
            let value = template(value);
            quote!(Some(#value))
        }
        None => quote!(None),
    }
}

fn base_url_from(field: &Option<String>) -> TokenStream {
    match field {
        Some(field) => quote!(Some(#field)),
        None => quote!(None),
    }
}

fn endpoint(endpoint: &ir::Endpoint) -> TokenStream {
    let method = match endpoint.method {
        ir::Method::Get => quote!(::tib_support::spec::Method::Get),
        ir::Method::Post => quote!(::tib_support::spec::Method::Post),
    };
    let (path, query, headers) = (&endpoint.path, params(&endpoint.query), params(&endpoint.headers));
    let body = match &endpoint.body {
        Some(body) => {
            let body = json(body);
            quote!(Some(#body))
        }
        None => quote!(None),
    };
    let listings = endpoint.listings.iter().map(|listing| params(listing));
    let client_certificate = match endpoint.client_certificate {
        Some(id) => {
            let index = Literal::usize_unsuffixed(id.0);
            quote!(Some(#index))
        }
        None => quote!(None),
    };
    quote!(::tib_support::spec::Endpoint {
        method: #method,
        path: #path,
        query: #query,
        headers: #headers,
        body: #body,
        listings: &[#(#listings),*],
        client_certificate: #client_certificate,
    })
}

fn json(value: &ir::Json) -> TokenStream {
    let j = quote!(::tib_support::spec::Json);
    match value {
        ir::Json::Bool(b) => quote!(#j::Bool(#b)),
        ir::Json::Number(n) => quote!(#j::Number(#n)),
        ir::Json::Text(text) => {
            let text = template(text);
            quote!(#j::Text(#text))
        }
        ir::Json::Array(items) => {
            let items = items.iter().map(json);
            quote!(#j::Array(&[#(#items),*]))
        }
        ir::Json::Object(entries) => {
            let entries = entries.iter().map(|(key, value)| {
                let value = json(value);
                quote!((#key, #value))
            });
            quote!(#j::Object(&[#(#entries),*]))
        }
    }
}

fn pagination(pagination: &ir::Pagination) -> TokenStream {
    let p = quote!(::tib_support::spec::Pagination);
    let count_stops = |stops: &[ir::CountStop]| {
        let stops = stops.iter().map(|s| match s {
            ir::CountStop::EmptyPage => quote!(::tib_support::spec::CountStop::EmptyPage),
            ir::CountStop::ShortPage => quote!(::tib_support::spec::CountStop::ShortPage),
            ir::CountStop::NoMore(_) => quote!(::tib_support::spec::CountStop::NoMore),
            ir::CountStop::Total(_) => quote!(::tib_support::spec::CountStop::Total),
        });
        quote!(&[#(#stops),*])
    };
    let token_stops = |stops: &[ir::TokenStop]| {
        let stops = stops.iter().map(|s| match s {
            ir::TokenStop::MissingToken => quote!(::tib_support::spec::TokenStop::MissingToken),
            ir::TokenStop::EmptyPage => quote!(::tib_support::spec::TokenStop::EmptyPage),
            ir::TokenStop::NoMore(_) => quote!(::tib_support::spec::TokenStop::NoMore),
        });
        quote!(&[#(#stops),*])
    };
    let counted = |position: &str, size: &str, page_size: u32, first: u64, concurrency: u32, stop: &[ir::CountStop]| {
        let stop = count_stops(stop);
        quote!(::tib_support::spec::Counted {
            position_param: #position,
            size_param: #size,
            page_size: #page_size,
            first: #first,
            concurrency: #concurrency,
            stop: #stop,
        })
    };
    match pagination {
        ir::Pagination::None => quote!(#p::None),
        ir::Pagination::Offset(o) => {
            let c = counted(&o.offset_param, &o.limit_param, o.page_size, o.start, o.concurrency, &o.stop);
            quote!(#p::Offset(#c))
        }
        ir::Pagination::PageNumber(n) => {
            let c = counted(&n.page_param, &n.size_param, n.page_size, n.first_page, n.concurrency, &n.stop);
            quote!(#p::PageNumber(#c))
        }
        ir::Pagination::NextUrl(n) => {
            let source = match n.source {
                ir::NextUrlSource::Body(_) => quote!(::tib_support::spec::NextUrlSource::Body),
                ir::NextUrlSource::LinkHeader => quote!(::tib_support::spec::NextUrlSource::LinkHeader),
            };
            let stop = token_stops(&n.stop);
            quote!(#p::NextUrl { source: #source, stop: #stop })
        }
        ir::Pagination::Token(t) => {
            let source = match &t.source {
                ir::TokenSource::Body(_) => quote!(::tib_support::spec::TokenSource::Body),
                ir::TokenSource::Header(name) => quote!(::tib_support::spec::TokenSource::Header(#name)),
            };
            let param = match &t.param {
                ir::TokenTarget::Query(name) => quote!(::tib_support::spec::TokenTarget::Query(#name)),
                ir::TokenTarget::Body(keys) => quote!(::tib_support::spec::TokenTarget::Body(&[#(#keys),*])),
            };
            let continue_path = match &t.continue_path {
                Some(path) => quote!(Some(#path)),
                None => quote!(None),
            };
            let stop = token_stops(&t.stop);
            quote!(#p::Token { param: #param, continue_path: #continue_path, source: #source, stop: #stop })
        }
    }
}
