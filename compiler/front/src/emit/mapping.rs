//! The typed reading of a page: the user mapping with its rules compiled to
//! Rust, the page's pagination values, and the `Connector` impl.

use proc_macro2::TokenStream;
use quote::quote;

use super::access::{all, built, leaf, mapped};
use crate::ir::{self, Shape};

pub fn connector(spec: &ir::Spec) -> TokenStream {
    let map_user = map_user(spec);
    let parse_page = parse_page(spec);
    let sink = quote!(&mut dyn FnMut(::core::result::Result<::tib_support::User, ::tib_support::Dropped>));
    let outcome = quote!(::core::result::Result<::tib_support::PageInfo, ::tib_support::PageError>);
    // A spec with lookups or listings reads its pages with their answers joined; without, none are given.
    let (lookup_keys, read, joined) = if !spec.joins() {
        (quote!(), quote!(parse_page(body, users)), quote!())
    } else {
        let joined = quote! {
            fn lookup_keys(
                &self,
                body: &[u8],
                keys: &mut dyn FnMut(::std::vec::Vec<::core::option::Option<::tib_support::CompactString>>),
            ) {
                lookup_keys(body, keys)
            }

            fn parse_joined(&self, body: &[u8], joined: &::tib_support::Joined, users: #sink) -> #outcome {
                parse_page(body, joined, users)
            }
        };
        (lookup_keys(spec), quote!(parse_page(body, &::tib_support::Joined::default(), users)), joined)
    };
    quote! {
        #map_user
        #lookup_keys
        #parse_page

        /// This app's connector.
        pub struct Connector;

        impl ::tib_support::Connector for Connector {
            fn spec(&self) -> &'static ::tib_support::Spec {
                &SPEC
            }

            fn parse_page(&self, body: &[u8], users: #sink) -> #outcome {
                #read
            }

            #joined
        }
    }
}

/// How the body is read, and the expression of it that paths start from.
fn body_reading(spec: &ir::Spec) -> (TokenStream, TokenStream) {
    match &spec.shapes.body {
        Shape::Users => (quote!(::tib_support::value::UsersAt<User<'_>>), quote!(Some(&body))),
        _ => (quote!(::tib_support::value::Tolerant<Body<'_>>), quote!(body.get())),
    }
}

/// `fn lookup_keys`: for each listed item, the values of the user its lookups are asked with.
fn lookup_keys(spec: &ir::Spec) -> TokenStream {
    let (body_type, body) = body_reading(spec);
    let users = leaf(body, &spec.shapes.body, &spec.users_path);
    let user = quote!(Some(user));
    let values = spec.lookup_keys.iter().map(|path| {
        let value = leaf(user.clone(), &spec.shapes.user, path);
        quote!(::tib_support::page::key(#value))
    });
    let count = spec.lookup_keys.len();
    quote! {
        fn lookup_keys(
            bytes: &[u8],
            keys: &mut dyn FnMut(::std::vec::Vec<::core::option::Option<::tib_support::CompactString>>),
        ) {
            // A page that cannot be read is said by `parse_page`, which reads it again.
            let Ok(body) = ::tib_support::page::read::<#body_type>(bytes) else { return };
            let Some(::tib_support::value::UsersAt::Array(items)) = #users else { return };
            for item in items {
                keys(match item.get() {
                    Some(user) => ::std::vec![#(#values),*],
                    None => ::std::vec![None; #count],
                });
            }
        }
    }
}

/// The users array of the body, mutably: `path` walked through the body's objects and arrays.
fn users_mut(shape: &Shape, path: &ir::Path) -> TokenStream {
    let mut expr = quote!(Some(&mut body));
    let mut shape = shape;
    if let Shape::Object(_) = shape {
        expr = quote!(body.get_mut());
    }
    for segment in &path.segments {
        (expr, shape) = match (segment, shape) {
            (ir::Segment::Key(key), Shape::Object(object)) => {
                let field = object.fields.iter().find(|f| &f.key == key).expect("the shape holds the users path");
                let name = super::access::ident(&field.ident);
                match &field.shape {
                    Shape::Object(_) => (quote!(#expr.and_then(|v| v.#name.get_mut())), &field.shape),
                    _ => (quote!(#expr.map(|v| &mut v.#name)), &field.shape),
                }
            }
            (ir::Segment::Index(index), Shape::Array(item)) => {
                let index = proc_macro2::Literal::usize_unsuffixed(*index);
                match item.as_ref() {
                    Shape::Object(_) => {
                        (quote!(#expr.and_then(|v| v.get_mut(#index)).and_then(|v| v.get_mut())), &**item)
                    }
                    _ => (quote!(#expr.and_then(|v| v.get_mut(#index))), &**item),
                }
            }
            _ => unreachable!("the checker rejects paths that read a value two ways"),
        };
    }
    expr
}

fn map_user(spec: &ir::Spec) -> TokenStream {
    let shape = &spec.shapes.user;
    let user = quote!(Some(user));
    let field = |value: &Option<ir::Mapped>| match value {
        Some(value) => mapped(&user, shape, value),
        None => quote!(None),
    };
    let fields = &spec.fields;
    let id = mapped(&user, shape, &fields.id);
    let email = mapped(&user, shape, &fields.email);
    let username = field(&fields.username);
    let created_at = field(&fields.created_at);
    let last_seen_at = field(&fields.last_seen_at);
    let map = quote!(::tib_support::map);
    let name = match &fields.name {
        None => quote!(#map::NameParts::None),
        Some(ir::Name::Full(full)) => {
            let full = mapped(&user, shape, full);
            quote!(#map::NameParts::Full(#full))
        }
        Some(ir::Name::Split { first, last }) => {
            let (first, last) = (mapped(&user, shape, first), mapped(&user, shape, last));
            quote!(#map::NameParts::Split { first: #first, last: #last })
        }
    };
    let labelled = |value: &Option<ir::Labelled>| match value {
        None => quote!(None),
        Some(ir::Labelled::Field(value)) => {
            let value = mapped(&user, shape, value);
            quote!(Some(#map::Label::Leaf(#value)))
        }
        Some(ir::Labelled::Conditions(branches)) => {
            let label = branches_label(&user, shape, branches);
            quote!(Some(#map::Label::Fixed(#label)))
        }
        Some(ir::Labelled::Decided { branches, otherwise }) => {
            let whens = branches.iter().map(|b| all(&user, shape, &b.when));
            let labels = branches.iter().map(|b| &b.label);
            let otherwise = mapped(&user, shape, otherwise);
            quote!(Some(#(if #whens { #map::Label::Fixed(#labels) } else)* { #map::Label::Leaf(#otherwise) }))
        }
    };
    let (role, account_type) = (labelled(&fields.role), labelled(&fields.account_type));
    let (roles, groups, last_activity_at) =
        (field(&fields.roles), field(&fields.groups), field(&fields.last_activity_at));
    let active = match &spec.active {
        ir::Active::Everyone => quote!(true),
        ir::Active::When(rules) => all(&user, shape, rules),
    };
    let status = match &spec.status {
        ir::StatusInApp::Auto => quote!(#map::Label::Fixed(if active { "Active" } else { "Deleted" })),
        ir::StatusInApp::Fixed(label) => quote!(#map::Label::Fixed(#label)),
        ir::StatusInApp::Field(value) => {
            let value = mapped(&user, shape, value);
            quote!(#map::Label::Leaf(#value))
        }
        ir::StatusInApp::Conditions(branches) => {
            let label = branches_label(&user, shape, branches);
            quote!(#map::Label::Fixed(#label))
        }
    };
    let licenses = licenses(&user, shape, &spec.licenses);
    let built = built(&user, shape, spec);
    let custom = spec.custom_fields.iter().map(|f| {
        let name = &f.name;
        let kind = super::access::ident(match f.kind {
            ir::FieldType::Text => "Text",
            ir::FieldType::Number => "Number",
            ir::FieldType::Email => "Email",
            ir::FieldType::Date => "Date",
            ir::FieldType::MultiValue => "MultiValue",
            ir::FieldType::User => "User",
        });
        let value = mapped(&user, shape, &f.value);
        quote!((#name, ::tib_support::record::FieldType::#kind, #value))
    });
    quote! {
        /// One user object as the common record, or why it cannot be stored.
        fn map_user(user: &User<'_>) -> ::core::result::Result<::tib_support::User, ::tib_support::Dropped> {
            #built
            let active: bool = #active;
            let custom_fields = [#(#custom),*];
            #map::Draft {
                id: #id,
                email: #email,
                username: #username,
                name: #name,
                role: #role,
                created_at: #created_at,
                last_seen_at: #last_seen_at,
                active,
                status: #status,
                licenses: #licenses,
                custom_fields: &custom_fields,
                roles: #roles,
                groups: #groups,
                account_type: #account_type,
                last_activity_at: #last_activity_at,
            }
            .finish()
        }
    }
}

/// `if a { "A" } else if b { "B" } else { "C" }`. Adjacent branches with one
/// label become one condition (`a || b`), the same logic without repeated arms.
fn branches_label(base: &TokenStream, shape: &Shape, branches: &ir::Branches) -> TokenStream {
    let mut arms: Vec<(&str, Vec<TokenStream>)> = Vec::new();
    for branch in &branches.branches {
        let when = all(base, shape, &branch.when);
        match arms.last_mut() {
            Some((label, whens)) if *label == branch.label => whens.push(when),
            _ => arms.push((&branch.label, vec![when])),
        }
    }
    let labels = arms.iter().map(|(label, _)| label);
    let whens = arms.iter().map(|(_, whens)| match whens.as_slice() {
        [one] => one.clone(),
        many => quote!(#((#many))||*),
    });
    let otherwise = &branches.otherwise;
    quote!(#(if #whens { #labels } else)* { #otherwise })
}

fn licenses(base: &TokenStream, shape: &Shape, licenses: &ir::Licenses) -> TokenStream {
    match licenses {
        ir::Licenses::Auto { name } => {
            quote!(::std::borrow::Cow::Borrowed(if active { &[#name] } else { &[] }))
        }
        ir::Licenses::None => quote!(::std::borrow::Cow::Borrowed(&[])),
        ir::Licenses::Conditions { licenses, catch_all } => {
            let checks = licenses.iter().map(|license| {
                let when = all(base, shape, &license.when);
                let name = &license.name;
                quote!(if #when { held.push(#name); })
            });
            let catch_all = catch_all.as_ref().map(|name| quote!(if held.is_empty() { held.push(#name); }));
            quote!({
                let mut held = ::std::vec::Vec::new();
                #(#checks)*
                #catch_all
                ::std::borrow::Cow::Owned(held)
            })
        }
    }
}

fn parse_page(spec: &ir::Spec) -> TokenStream {
    let body_shape = &spec.shapes.body;
    // A body of another kind than the spec reads (an object, or the users
    // array) is read as empty, and reported as such, not as a JSON error.
    let (body_type, body) = body_reading(spec);
    let users_path = spec.users_path.to_string();
    let users = leaf(body.clone(), body_shape, &spec.users_path);
    // `or none` is about the users key and the objects on the way to it: a body that is not an
    // object is still an error.
    let optional = match (spec.users_optional, body_shape) {
        (false, _) => quote!(false),
        (true, Shape::Users) => quote!(true),
        (true, _) => quote!(body.get().is_some()),
    };
    let api_error = spec.api_error.as_ref().map(|e| {
        let when = all(&body, body_shape, &e.when);
        let message = leaf(body.clone(), body_shape, &e.message);
        let kind = quote!(::tib_support::ApiErrorKind);
        let class = |rules: &Option<Vec<ir::Rule>>| rules.as_ref().map(|rules| all(&body, body_shape, rules));
        let kind = match (class(&e.refused), class(&e.rate_limited)) {
            (None, None) => quote!(#kind::Other),
            (Some(refused), None) => quote!(if #refused { #kind::Refused } else { #kind::Other }),
            (None, Some(limited)) => quote!(if #limited { #kind::RateLimited } else { #kind::Other }),
            (Some(refused), Some(limited)) => quote! {
                if #refused { #kind::Refused } else if #limited { #kind::RateLimited } else { #kind::Other }
            },
        };
        quote! {
            if #when {
                return Err(::tib_support::page::api_error(#message, #kind));
            }
        }
    });
    let page = quote!(::tib_support::page);
    let body_leaf = |path: &ir::Path| leaf(body.clone(), body_shape, path);
    let paths = spec.pagination.body_paths();
    let next = paths.next.map_or(quote!(None), |path| {
        let value = body_leaf(path);
        quote!(#page::token(#value))
    });
    let (more, total) = (paths.more, paths.total);
    let more = more.map_or(quote!(None), |path| {
        let value = body_leaf(path);
        quote!(#page::flag(#value))
    });
    let total = total.map_or(quote!(None), |path| {
        let value = body_leaf(path);
        quote!(#page::count(#value))
    });
    let info = quote!(::tib_support::PageInfo { count, next: #next, more: #more, total: #total });
    if spec.joins() {
        let users_mut = users_mut(body_shape, &spec.users_path);
        let joins = spec.joined_names().enumerate().filter_map(|(index, name)| {
            let ir::Shape::Object(user) = &spec.shapes.user else { return None };
            // A lookup or listing nothing reads has no field to join to (the checker warns of it).
            let field = user.fields.iter().find(|field| field.joined && field.key == name)?;
            let field = super::access::ident(&field.ident);
            let index = proc_macro2::Literal::usize_unsuffixed(index);
            Some(quote!(user.#field = joined.read(item, #index, #name)?;))
        });
        return quote! {
            fn parse_page(
                bytes: &[u8],
                joined: &::tib_support::Joined,
                users: &mut dyn FnMut(::core::result::Result<::tib_support::User, ::tib_support::Dropped>),
            ) -> ::core::result::Result<::tib_support::PageInfo, ::tib_support::PageError> {
                let mut body: #body_type = ::tib_support::page::read(bytes)?;
                #api_error
                let optional = #optional;
                let items = ::tib_support::page::users_mut(#users_mut, #users_path, optional)?;
                let count = items.len();
                for (item, listed) in items.iter_mut().enumerate() {
                    users(match listed.get_mut() {
                        Some(user) => {
                            #(#joins)*
                            map_user(user)
                        }
                        None => Err(::tib_support::Dropped {
                            external_id: None,
                            reason: ::tib_support::record::DropReason::NotAnObject,
                        }),
                    });
                }
                Ok(#info)
            }
        };
    }
    quote! {
        fn parse_page(
            bytes: &[u8],
            users: &mut dyn FnMut(::core::result::Result<::tib_support::User, ::tib_support::Dropped>),
        ) -> ::core::result::Result<::tib_support::PageInfo, ::tib_support::PageError> {
            let body: #body_type = ::tib_support::page::read(bytes)?;
            #api_error
            let items = ::tib_support::page::users(#users, #users_path, #optional)?;
            for item in items {
                users(match item.get() {
                    Some(user) => map_user(user),
                    None => Err(::tib_support::Dropped {
                        external_id: None,
                        reason: ::tib_support::record::DropReason::NotAnObject,
                    }),
                });
            }
            let count = items.len();
            Ok(#info)
        }
    }
}
