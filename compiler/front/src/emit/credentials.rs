//! The credentials type: exactly the values a spec asks for at connect time.

use proc_macro2::TokenStream;
use quote::quote;

use super::access::ident;
use crate::ir;

pub fn credentials(spec: &ir::Spec) -> TokenStream {
    let fields = spec.credentials.iter().map(|c| {
        let name = ident(&c.name);
        let doc = format!(" {}", c.description.clone().unwrap_or_else(|| c.name.clone()));
        let ty = if c.secret { quote!(::tib_support::Secret) } else { quote!(::std::string::String) };
        quote! {
            #[doc = #doc]
            pub #name: #ty,
        }
    });
    let values = spec.credentials.iter().map(|c| {
        let name = ident(&c.name);
        if c.secret { quote!((self.#name, true)) } else { quote!((::tib_support::Secret::new(self.#name), false)) }
    });
    let doc = format!(" The values a connection to {} supplies.", spec.app.name);
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct Credentials {
            #(#fields)*
        }

        impl Credentials {
            /// The values in the order the connector's templates index them.
            pub fn into_values(self) -> ::tib_support::CredentialValues {
                ::tib_support::CredentialValues::new(::std::vec![#(#values),*])
            }
        }
    }
}
