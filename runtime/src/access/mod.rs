//! Who may use the web edges, and how that is told: operators by name with their role
//! ([`operator`]); the admin token, kept as its hash ([`token`]); the login at the company's
//! identity provider ([`oidc`]); the growing wait that wrong tokens cost their client
//! ([`attempts`]); the console's sessions with their CSRF tokens
//! ([`sessions`]); and the proxies whose `X-Forwarded-For` names the client
//! ([`proxies`]).

pub mod attempts;
pub mod oidc;
pub mod operator;
pub mod proxies;
pub mod sessions;
pub mod token;
