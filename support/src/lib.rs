//! What every generated tib connector shares, written once: tolerant JSON
//! values, the rule operators, coercions and validation into the common user
//! record, HTTP with retries, every auth kind, and the pagination drivers.
//!
//! A generated connector holds only what is specific to its spec: a [`Spec`]
//! constant, serde types for the parts of a response it reads, and the
//! mapping with its rules compiled to Rust. It implements [`Connector`].

#[cfg(any(test, feature = "encoders"))]
pub mod encoders;
mod error;
pub mod headers;
mod http;
pub mod listing;
pub mod map;
pub mod network;
pub mod oauth;
pub mod page;
mod paginate;
mod printable;
pub mod record;
mod redact;
mod request;
pub mod rules;
mod secret;
mod session;
pub mod spec;
mod template;
pub mod time;
pub mod value;

/// Generated code derives its types through this, so connectors need no serde dependency of their own.
pub use compact_str::CompactString;
pub use error::SyncError;
pub use http::{Client, ClientSettings, DEFAULT_MAX_ANSWER_BYTES, RetryPolicy};
pub use network::NetworkPolicy;
pub use page::{ApiErrorKind, Joined, PageError, PageInfo};
pub use paginate::{DEFAULT_DEADLINE, PageUsers, Probe, ProbeAnswer, SyncOptions, SyncSummary, lookups, probe, sync};
pub use printable::{one_line, printable, storable};
pub use record::{Dropped, User};
pub use request::Connection;
pub use secret::{CredentialValues, CredentialsError, Secret, env_name, name_value};
pub use serde;
pub use serde_json;
pub use spec::Spec;

/// A compiled connector: one app's spec, and the typed reading of its pages.
pub trait Connector: Send + Sync {
    /// The request side: URLs, auth, pagination.
    fn spec(&self) -> &'static Spec;

    /// Reads one response body: hands each user (or why it was dropped) to
    /// `users`, in order, and returns what pagination needs.
    fn parse_page(&self, body: &[u8], users: &mut dyn FnMut(Result<User, Dropped>)) -> Result<PageInfo, PageError>;

    /// For a spec with lookups: hands on, for each listed item in order, the values of the user its
    /// lookups' paths are built from ([`spec::LookupPart::User`]); none where a value is missing.
    /// A body that cannot be read hands on nothing: [`Connector::parse_joined`] then says why.
    fn lookup_keys(&self, body: &[u8], keys: &mut dyn FnMut(Vec<Option<compact_str::CompactString>>)) {
        let _ = (body, keys);
    }

    /// [`Connector::parse_page`] with each item's lookup answers joined to it.
    fn parse_joined(
        &self,
        body: &[u8],
        joined: &Joined,
        users: &mut dyn FnMut(Result<User, Dropped>),
    ) -> Result<PageInfo, PageError> {
        let _ = joined;
        self.parse_page(body, users)
    }
}

/// The registry's connectors are `'static`; shared as they are.
impl<C: Connector + ?Sized> Connector for &'static C {
    fn spec(&self) -> &'static Spec {
        (**self).spec()
    }

    fn parse_page(&self, body: &[u8], users: &mut dyn FnMut(Result<User, Dropped>)) -> Result<PageInfo, PageError> {
        (**self).parse_page(body, users)
    }

    fn lookup_keys(&self, body: &[u8], keys: &mut dyn FnMut(Vec<Option<compact_str::CompactString>>)) {
        (**self).lookup_keys(body, keys)
    }

    fn parse_joined(
        &self,
        body: &[u8],
        joined: &Joined,
        users: &mut dyn FnMut(Result<User, Dropped>),
    ) -> Result<PageInfo, PageError> {
        (**self).parse_joined(body, joined, users)
    }
}
