//! The web server `tib serve` runs: the JSON API and SCIM ([`crate::api`]),
//! the console's pages and the OAuth callback ([`crate::console`]), wired
//! here over one [`Web`] value, with the layers every request passes
//! ([`crate::security`]), served by [`crate::listen`].

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::web::Web;

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
