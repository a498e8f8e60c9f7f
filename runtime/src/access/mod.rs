//! Who may use the web edges, and how that is told: the admin token, kept as
//! its hash ([`token`]); the growing wait that wrong tokens cost their client
//! ([`attempts`]); the console's sessions with their CSRF tokens
//! ([`sessions`]); and the proxies whose `X-Forwarded-For` names the client
//! ([`proxies`]).

pub mod attempts;
pub mod proxies;
pub mod sessions;
pub mod token;
