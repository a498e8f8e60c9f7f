//! Paths and rules as Rust expressions over the generated serde types.
//!
//! A path from a base expression of type `Option<&T>` walks the shape of `T`:
//! objects through `Tolerant::get`, arrays through `Many::get`, ending at an
//! `Option<&Leaf>`, an object or an array. Rules call the operators of
//! `tib_support::rules` on those leaves.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use crate::ir::{self, Shape, Test};

/// The expression and the shape it ends at.
pub struct Access<'s> {
    pub expr: TokenStream,
    pub shape: &'s Shape,
}

pub fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// Walks `path` from `base` (an expression of type `Option<&T>`, `T` of `shape`).
pub fn walk<'s>(base: TokenStream, shape: &'s Shape, path: &ir::Path) -> Access<'s> {
    let mut access = Access { expr: base, shape };
    for segment in &path.segments {
        let expr = &access.expr;
        access = match (segment, access.shape) {
            (ir::Segment::Key(key), Shape::Object(object)) => {
                let field = object
                    .fields
                    .iter()
                    .find(|f| &f.key == key)
                    .expect("the checker built the shape from these very paths");
                let name = ident(&field.ident);
                let expr = match &field.shape {
                    Shape::Object(_) => quote!(#expr.and_then(|v| v.#name.get())),
                    Shape::Any | Shape::Leaf => quote!(#expr.and_then(|v| v.#name.present())),
                    Shape::Array(_) | Shape::Users => quote!(#expr.map(|v| &v.#name)),
                };
                Access { expr, shape: &field.shape }
            }
            (ir::Segment::Index(index), Shape::Array(item)) => {
                let index = Literal::usize_unsuffixed(*index);
                let expr = match item.as_ref() {
                    Shape::Object(_) => quote!(#expr.and_then(|v| v.get(#index)).and_then(|v| v.get())),
                    _ => quote!(#expr.and_then(|v| v.get(#index))),
                };
                Access { expr, shape: item }
            }
            _ => unreachable!("the checker rejects paths that read a value two ways"),
        };
    }
    access
}

/// A leaf value at `path`: `Option<&Leaf>`.
pub fn leaf(base: TokenStream, shape: &Shape, path: &ir::Path) -> TokenStream {
    walk(base, shape, path).expr
}

/// A mapped value: `Option<&Leaf>`, the first source with a value (one that
/// is present and not an `except` value), else the fallback literal.
pub fn mapped(base: &TokenStream, shape: &Shape, value: &ir::Mapped) -> TokenStream {
    if let Some(path) = value.lone_path() {
        return leaf(base.clone(), shape, path);
    }
    let sources = value.sources.iter().map(|source| {
        let leaf = match &source.origin {
            ir::Origin::Path(path) => leaf(base.clone(), shape, path),
            // Built once per user before the record (`built`): owned text, a list of items' values.
            ir::Origin::Format { slot, .. } | ir::Origin::Each { slot, .. } => {
                let slot = proc_macro2::Literal::usize_unsuffixed(*slot);
                quote!(built[#slot].as_ref())
            }
        };
        let except = source.except.iter().map(literal);
        quote!(::tib_support::map::unless(#leaf, &[#(#except),*]))
    });
    let mut sources = sources.collect::<Vec<_>>().into_iter();
    let first = sources.next().expect("the checker gives a mapped value a source");
    let rest = sources.map(|source| quote!(.or_else(|| #source)));
    match &value.fallback {
        None => quote!(#first #(#rest)*),
        Some(fallback) => {
            let fallback = leaf_literal(fallback);
            quote!({
                static FALLBACK: ::tib_support::value::Leaf<'static> = #fallback;
                #first #(#rest)* .or(Some(&FALLBACK))
            })
        }
    }
}

/// `let built = [...]`: each value the spec builds from this user's values (a format, a list of
/// items' values), by slot.
pub fn built(base: &TokenStream, shape: &Shape, spec: &ir::Spec) -> TokenStream {
    let built = spec.built();
    if built.is_empty() {
        return quote!();
    }
    let built = built.iter().map(|origin| match origin {
        ir::Origin::Format { parts, .. } => {
            let pieces = parts.iter().map(|part| match part {
                ir::FormatPart::Text(text) => quote!(::tib_support::map::Piece::Text(#text)),
                ir::FormatPart::Path(path) => {
                    let value = leaf(base.clone(), shape, path);
                    quote!(::tib_support::map::Piece::Value(#value))
                }
            });
            quote!(::tib_support::map::format(&[#(#pieces),*]))
        }
        ir::Origin::Each { list, item, .. } => {
            let list = walk(base.clone(), shape, list);
            let Shape::Array(item_shape) = list.shape else {
                unreachable!("the checker makes the list of `[]` an array")
            };
            let items = &list.expr;
            match item_shape.as_ref() {
                Shape::Object(_) => {
                    let value = leaf(quote!(item), item_shape, item);
                    quote!(::tib_support::map::each(#items.map(|items| items.iter().map(|item| {
                        let item = item.get();
                        #value
                    }))))
                }
                _ => {
                    let value = leaf(quote!(Some(item)), item_shape, item);
                    quote!(::tib_support::map::each(#items.map(|items| items.iter().map(|item| #value))))
                }
            }
        }
        ir::Origin::Path(_) => unreachable!("a path is read where it stands, not built"),
    });
    quote!(let built = [#(#built),*];)
}

/// A literal as the JSON value it stands for.
fn leaf_literal(lit: &ir::Literal) -> TokenStream {
    let leaf = quote!(::tib_support::value::Leaf);
    match lit {
        ir::Literal::Text(text) => quote!(#leaf::Text(::std::borrow::Cow::Borrowed(#text))),
        ir::Literal::Number { text, .. } => quote!(#leaf::Number(::std::borrow::Cow::Borrowed(#text))),
        ir::Literal::Bool(b) => quote!(#leaf::Bool(#b)),
    }
}

/// All rules hold (`&&`); `true` for none.
pub fn all(base: &TokenStream, shape: &Shape, rules: &[ir::Rule]) -> TokenStream {
    if rules.is_empty() {
        return quote!(true);
    }
    let alone = rules.len() == 1;
    // An `any` group's `||` binds looser than `&&`: it is parenthesised among other rules.
    let rules = rules.iter().map(|r| match (&r.test, alone) {
        (Test::Any(_), false) => {
            let any = rule(base, shape, r);
            quote!((#any))
        }
        _ => rule(base, shape, r),
    });
    quote!(#(#rules)&&*)
}

/// One rule as a `bool` expression.
pub fn rule(base: &TokenStream, shape: &Shape, rule: &ir::Rule) -> TokenStream {
    let access = walk(base.clone(), shape, &rule.path);
    let value = &access.expr;
    let ops = quote!(::tib_support::rules);
    match &rule.test {
        Test::Is(lit) => {
            let lit = literal(lit);
            quote!(#ops::is(#value, &#lit))
        }
        Test::IsNot(lit) => {
            let lit = literal(lit);
            quote!(#ops::is_not(#value, &#lit))
        }
        Test::Contains(lit) => {
            let lit = literal(lit);
            quote!(#ops::contains(#value, &#lit))
        }
        Test::NotContains(lit) => {
            let lit = literal(lit);
            quote!(#ops::not_contains(#value, &#lit))
        }
        Test::AnyOf(lits) => {
            let lits = lits.iter().map(literal);
            quote!(#ops::any_of(#value, &[#(#lits),*]))
        }
        Test::AtLeast(min) => {
            let min = Literal::f64_unsuffixed(*min);
            quote!(#ops::at_least(#value, #min))
        }
        Test::HasValue => match access.shape {
            Shape::Object(_) => quote!(#value.is_some()),
            Shape::Array(_) | Shape::Users => quote!(#value.is_some_and(|v| !v.is_empty())),
            Shape::Any | Shape::Leaf => quote!(#ops::has_value(#value)),
        },
        Test::Any(alternatives) => {
            let groups = alternatives.iter().map(|group| {
                let holds = all(&access.expr, access.shape, group);
                if group.len() == 1 { holds } else { quote!((#holds)) }
            });
            quote!(#(#groups)||*)
        }
        Test::Some(inner) => {
            let Shape::Array(item) = access.shape else {
                unreachable!("the checker makes the target of `some` an array")
            };
            let item_base = quote!(Some(item));
            let holds = all(&item_base, item, inner);
            match item.as_ref() {
                Shape::Object(_) => {
                    quote!(#value.is_some_and(|items| items.iter().any(|item| item.get().is_some_and(|item| #holds))))
                }
                _ => quote!(#value.is_some_and(|items| items.iter().any(|item| #holds))),
            }
        }
    }
}

fn literal(lit: &ir::Literal) -> TokenStream {
    match lit {
        ir::Literal::Text(text) => quote!(::tib_support::rules::Lit::Text(#text)),
        ir::Literal::Number { value, .. } => {
            let value = Literal::f64_unsuffixed(*value);
            quote!(::tib_support::rules::Lit::Number(#value))
        }
        ir::Literal::Bool(b) => quote!(::tib_support::rules::Lit::Bool(#b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Object, ObjectField, Path, Segment};

    fn user() -> Shape {
        let field = |key: &str, shape| ObjectField { key: key.into(), ident: key.into(), shape, joined: false };
        Shape::Object(Object {
            type_name: "User".into(),
            fields: vec![
                field(
                    "profile",
                    Shape::Object(Object {
                        type_name: "UserProfile".into(),
                        fields: vec![field("email", Shape::Leaf)],
                    }),
                ),
                field("tags", Shape::Array(Box::new(Shape::Leaf))),
            ],
        })
    }

    fn path(keys: &[&str]) -> Path {
        Path { segments: keys.iter().map(|k| Segment::Key((*k).into())).collect() }
    }

    #[test]
    fn paths_walk_objects_and_arrays() {
        let shape = user();
        let email = leaf(quote!(Some(u)), &shape, &path(&["profile", "email"]));
        assert_eq!(
            email.to_string(),
            quote!(Some(u).and_then(|v| v.profile.get()).and_then(|v| v.email.present())).to_string()
        );
        let mut first_tag = path(&["tags"]);
        first_tag.segments.push(Segment::Index(0));
        let tag = leaf(quote!(Some(u)), &shape, &first_tag);
        assert_eq!(tag.to_string(), quote!(Some(u).map(|v| &v.tags).and_then(|v| v.get(0))).to_string());
    }

    #[test]
    fn rules_call_the_support_operators() {
        let shape = user();
        let has = rule(&quote!(Some(u)), &shape, &ir::Rule { path: path(&["profile"]), test: Test::HasValue });
        assert_eq!(has.to_string(), quote!(Some(u).and_then(|v| v.profile.get()).is_some()).to_string());
        let some = rule(
            &quote!(Some(u)),
            &shape,
            &ir::Rule {
                path: path(&["tags"]),
                test: Test::Some(vec![ir::Rule {
                    path: Path::default(),
                    test: Test::Is(ir::Literal::Text("vip".into())),
                }]),
            },
        );
        let expected = quote! {
            Some(u).map(|v| &v.tags).is_some_and(|items| items.iter().any(|item| ::tib_support::rules::is(Some(item), &::tib_support::rules::Lit::Text("vip"))))
        };
        assert_eq!(some.to_string(), expected.to_string());
        assert_eq!(all(&quote!(Some(u)), &shape, &[]).to_string(), "true");
    }
}
