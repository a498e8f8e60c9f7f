//! The operations layer: every action an operator or a client takes, as one
//! method of [`Services`], each returning an [`Error`] that keeps its kind.
//! The edges (the CLI, the JSON API, SCIM, the console, the OAuth callback)
//! only translate: a request into a call, the answer or the error's kind into
//! their own form, each edge in one place.

mod authorize;
mod company;
mod connect;
mod connections;
mod operators;
mod users;

use std::fmt;

pub use authorize::Authorization;
pub use company::{
    AccessReview, DepartedAccount, LicenseUse, Licenses, MAX_UNSEEN_DAYS, PeoplePage, PersonAccount, ReviewPages,
};
pub use connect::{Connected, NewAccount, Overrides, Shown, Trial};
pub use connections::{Action, ConnectionState, Summary};
pub use operators::{AuditPage, MadeToken};
pub use users::{Account, AccountQuery, UsersPage};

pub use crate::services::Services;
use crate::store::{self, Store, StoreError};

/// What went wrong, by what the caller can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// What was named does not exist: a connection, an integration.
    NotFound,
    /// What was asked does not fit the state things are in now (already connected, disabled, no held
    /// sync, users changed since the sync was held).
    Conflict,
    /// What was given is wrong: a credential missing, an override refused, a value out of range.
    Invalid,
    /// Who asked may not: a viewer asking for a change.
    Forbidden,
    /// The server could not do it: the store, the vault, a provider.
    Failed,
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn not_found(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::NotFound, message: message.into() }
    }

    pub fn conflict(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Conflict, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Invalid, message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Forbidden, message: message.into() }
    }

    pub fn failed(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Failed, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Error {
        if error.conflict { Error::conflict(error.to_string()) } else { Error::failed(error.to_string()) }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Services {
    /// Runs store work, reads and writes alike, off the async workers.
    async fn in_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Store) -> store::Result<T> + Send + 'static,
    ) -> Result<T> {
        Ok(store::off_workers(&self.store, work).await?)
    }

    /// The integration with this id, compiled or interpreted.
    pub fn connector(&self, integration: &str) -> Result<std::sync::Arc<dyn tib_support::Connector>> {
        crate::integrations::connector(integration).ok_or_else(|| {
            let known: Vec<String> = crate::integrations::all().into_iter().map(|i| i.id).collect();
            Error::not_found(format!("no integration `{integration}`; this runtime has {}", known.join(", ")))
        })
    }

    /// The vault, for the operations that seal or open credentials.
    fn sealing(&self) -> Result<std::sync::Arc<crate::vault::Vault>> {
        self.vault().map_err(Error::failed)
    }
}
