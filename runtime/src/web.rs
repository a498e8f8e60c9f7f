//! What the web edges share: the [`Web`] value their handlers are given (the
//! services they call, and who may call them), and how they show things to
//! people and link to them: a path segment percent-encoded, an account's
//! console path, a time to the minute.

use std::net::IpAddr;
use std::sync::Arc;

use crate::access::attempts::Attempts;
use crate::access::operator::Actor;
use crate::access::proxies::TrustedProxies;
use crate::access::sessions::Sessions;
use crate::access::token::AdminToken;
use crate::services::Services;
use crate::store::Time;

/// What the web edges share: the services they call, and who may call them.
pub struct Web {
    pub services: Arc<Services>,
    /// Without one, the API answers nothing but how to turn it on, and the console lets no one in.
    pub admin: Option<AdminToken>,
    /// Failed attempts at the admin token, on the API and at the console's login alike.
    pub attempts: Attempts,
    /// Whose `X-Forwarded-For` tells the client's address.
    pub proxies: Arc<TrustedProxies>,
    /// The console's logged-in operators.
    pub sessions: Sessions,
    /// The Integration Builder's drafts, and where it saves specs.
    pub builder: crate::builder::Builder,
    /// Logging in at the company's identity provider, when it is set up.
    pub oidc: Option<crate::access::oidc::Oidc>,
}

impl Web {
    pub fn new(services: Arc<Services>, admin: Option<AdminToken>, proxies: TrustedProxies) -> Web {
        Web {
            services,
            admin,
            attempts: Attempts::default(),
            proxies: Arc::new(proxies),
            sessions: Sessions::default(),
            builder: crate::builder::Builder::new(None),
            oidc: None,
        }
    }

    /// Operators log in at the company's identity provider too.
    pub fn with_oidc(mut self, oidc: Option<crate::access::oidc::Oidc>) -> Web {
        self.oidc = oidc;
        self
    }

    /// The builder saves specs into `specs` (`tib serve --specs DIR`).
    pub fn with_specs(mut self, specs: Option<crate::builder::SpecsDir>) -> Web {
        self.builder = crate::builder::Builder::new(specs);
        self
    }

    /// `Secure` cookies when the public URL is https.
    pub fn secure(&self) -> bool {
        self.services.public_url.scheme() == "https"
    }

    /// The address a request comes from, through the proxies the operator trusts.
    pub(crate) fn client(&self, request: &axum::http::request::Parts) -> IpAddr {
        let peer = request
            .extensions
            .get::<axum::extract::ConnectInfo<crate::listen::ClientAddress>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.0.ip());
        self.proxies.client(peer, &request.headers)
    }

    /// Who presents `presented`: the admin token's holder or a named API token's, after the wait
    /// failed attempts from `client` impose; a failure is counted.
    pub(crate) async fn identify(
        &self,
        client: IpAddr,
        presented: &str,
    ) -> Result<Option<Actor>, crate::operate::Error> {
        self.attempts.wait_turn(client).await;
        let actor = match &self.admin {
            Some(admin) if admin.accepts(presented) => Some(Actor::admin_token(client)),
            _ => self.services.token_holder(presented, client).await?,
        };
        let now = std::time::Instant::now();
        match actor {
            Some(_) => self.attempts.succeeded(client, now),
            None => self.attempts.failed(client, now),
        }
        Ok(actor)
    }

    /// Whether `presented` is the admin token, after the wait failed
    /// attempts from `client` impose ([`crate::access::attempts`]); a failure is counted.
    pub(crate) async fn check_token(&self, admin: &AdminToken, client: IpAddr, presented: &str) -> bool {
        self.attempts.wait_turn(client).await;
        let now = std::time::Instant::now();
        if admin.accepts(presented) {
            self.attempts.succeeded(client, now);
            true
        } else {
            self.attempts.failed(client, now);
            false
        }
    }
}

/// Text as one URL path segment or query value: every byte but letters, digits and `-._~` percent-encoded.
pub fn percent_encode(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}

/// An account's console page, its segments percent-encoded.
pub fn account_path(integration: &str, account: &str) -> String {
    format!("/connections/{}/{}", percent_encode(integration), percent_encode(account))
}

/// A time as people read it: UTC, to the minute; `-` for none.
pub fn when(at: Option<Time>) -> String {
    at.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_keeps_only_unreserved_bytes() {
        assert_eq!(percent_encode("Acme Prod/EU?x=1&é"), "Acme%20Prod%2FEU%3Fx%3D1%26%C3%A9");
        assert_eq!(percent_encode("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(account_path("acme", "Dev #2"), "/connections/acme/Dev%20%232");
    }

    #[test]
    fn times_are_shown_to_the_minute_in_utc() {
        assert_eq!(when(Some(0)), "1970-01-01 00:00");
        assert_eq!(when(None), "-");
    }
}
