//! Serde types for exactly the parts of a response the spec reads: the body
//! down to the users array and the pagination values, the user object, nested
//! objects and array items. Every other key is skipped unread.

use proc_macro2::TokenStream;
use quote::quote;

use super::access::ident;
use crate::ir::{Object, Shape, Shapes};

/// Every struct of a spec: the user's objects, then the body's.
pub fn types(shapes: &Shapes) -> TokenStream {
    let mut out = Vec::new();
    objects(&shapes.user, &mut out);
    objects(&shapes.body, &mut out);
    quote!(#(#out)*)
}

fn objects(shape: &Shape, out: &mut Vec<TokenStream>) {
    match shape {
        Shape::Object(object) => {
            out.push(object_struct(object));
            for field in &object.fields {
                objects(&field.shape, out);
            }
        }
        Shape::Array(item) => objects(item, out),
        Shape::Any | Shape::Leaf | Shape::Users => {}
    }
}

fn object_struct(object: &Object) -> TokenStream {
    let name = ident(&object.type_name);
    let fields = object.fields.iter().map(|field| {
        let key = &field.key;
        let field_name = ident(&field.ident);
        let ty = value_type(&field.shape);
        // A lookup's answer is joined after the listing is read; the listing's own key is not read.
        if field.joined {
            return quote! {
                #[serde(skip)]
                #field_name: #ty,
            };
        }
        quote! {
            #[serde(rename = #key, default, borrow)]
            #field_name: #ty,
        }
    });
    quote! {
        #[derive(::tib_support::serde::Deserialize)]
        #[serde(crate = "::tib_support::serde")]
        struct #name<'a> {
            #(#fields)*
        }
    }
}

/// The Rust type of a value of this shape, where absence is its own default:
/// a missing leaf is null, as a missing object or array is empty.
pub fn value_type(shape: &Shape) -> TokenStream {
    match shape {
        Shape::Any | Shape::Leaf => quote!(::tib_support::value::Leaf<'a>),
        Shape::Object(object) => {
            let name = ident(&object.type_name);
            quote!(::tib_support::value::Tolerant<#name<'a>>)
        }
        Shape::Array(item) => {
            let item = value_type(item);
            quote!(::tib_support::value::Many<#item>)
        }
        Shape::Users => quote!(::tib_support::value::UsersAt<User<'a>>),
    }
}
