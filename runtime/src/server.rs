//! The web server `tib serve` runs: the JSON API and SCIM ([`crate::api`]),
//! the console's pages and the OAuth callback ([`crate::console`]), wired
//! here over one [`Web`] value, with the layers every request passes
//! ([`crate::security`]), served by [`crate::listen`].

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::api::admin::AdminToken;
use crate::attempts::Attempts;
use crate::client::TrustedProxies;
use crate::console::session::Sessions;
use crate::services::Services;

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
}

impl Web {
    pub fn new(services: Arc<Services>, admin: Option<AdminToken>, proxies: TrustedProxies) -> Web {
        Web {
            services,
            admin,
            attempts: Attempts::default(),
            proxies: Arc::new(proxies),
            sessions: Sessions::default(),
        }
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

    /// Whether `presented` is the admin token, after the wait failed
    /// attempts from `client` impose ([`crate::attempts`]); a failure is counted.
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

/// Every route, with the layers every request passes: a NUL in a path or query refused, the
/// security headers on every answer.
pub fn router(web: Arc<Web>) -> Router {
    crate::api::router(web.clone())
        .merge(crate::console::router(web))
        .layer(axum::middleware::from_fn(crate::security::refuse_nul))
        .layer(axum::middleware::map_response(crate::security::headers))
}

/// Serves every route on `listener` until `shutdown` completes.
pub async fn serve(
    web: Arc<Web>,
    listener: TcpListener,
    limits: crate::listen::Limits,
    shutdown: impl Future<Output = ()>,
) {
    let proxies = web.proxies.clone();
    crate::listen::serve(listener, router(web), limits, proxies, shutdown).await
}
