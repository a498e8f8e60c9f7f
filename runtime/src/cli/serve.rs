//! `tib serve`: the schedule and the web server, until SIGTERM or SIGINT; and
//! the admin token they are reached with.

use std::sync::Arc;
use std::time::Duration;

use super::{Context, Failure, NOTIFY_GRACE, Schedule, SsoArgs, fail};
use crate::access::oidc::{Oidc, OidcSettings};
use crate::access::token::AdminToken;
use crate::schedule::{self, Scheduler};
use crate::web::Web;

impl Context {
    pub(super) async fn serve(
        &self,
        schedule: Schedule,
        listen: std::net::SocketAddr,
        limits: crate::listen::Limits,
        access: Access,
    ) -> Result<(), Failure> {
        let Access { admin, proxies, oidc } = access;
        let engine = Arc::new(self.engine()?);
        let specs = self
            .settings
            .specs
            .clone()
            .map(|dir| crate::builder::SpecsDir { dir, max_bytes: self.settings.max_spec_bytes });
        let web = Arc::new(Web::new(self.services.clone(), admin, proxies).with_specs(specs).with_oidc(oidc));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Failure(format!("cannot listen on {listen} for the API and OAuth redirects: {e}"), 2))?;
        // Slow: a quarter of an hour, or less when the deadline is shorter.
        let slow_after = schedule::SLOW_SECS.min(self.settings.sync_deadline.as_secs() as i64 / 2);
        let Schedule { max_concurrent, poll, caps } = schedule;
        let owner = engine.owner.clone();
        let notifying = engine.clone();
        let services = &self.services;
        let scheduler =
            Scheduler::new(services.store.clone(), services.clock.clone(), engine, usize::from(max_concurrent), &owner)
                .with_slow_after(slow_after)
                .with_lease(self.settings.lease)
                .with_caps(caps)
                .with_wake(services.wake.clone());
        let public_url = &self.settings.public_url;
        tracing::info!(store = %self.store_shown(), %owner, max_concurrent, %listen, %public_url, "serving");
        if let Some(dir) = self.settings.specs.clone() {
            // A second: an engineer saves a spec and connects it.
            crate::integrations::watch(dir, self.settings.max_spec_bytes, Duration::from_secs(1));
        }
        // One signal stops both the scheduler and the web server.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        let mut server_stopped = stopped.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = server_stopped.wait_for(|s| *s).await;
            };
            crate::server::serve(web, listener, limits, shutdown).await
        });
        let mut scheduler_stopped = stopped;
        let shutdown = async move {
            let _ = scheduler_stopped.wait_for(|s| *s).await;
        };
        scheduler.serve(Duration::from_secs(poll.max(1)), Duration::from_secs(60), shutdown).await;
        notifying.notifier.settle(NOTIFY_GRACE).await;
        if let Err(e) = server.await {
            tracing::error!(error = %e, "the web server stopped");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Who may come in: the admin token, the proxies that name clients, the identity provider.
pub(super) struct Access {
    pub admin: Option<AdminToken>,
    pub proxies: crate::access::proxies::TrustedProxies,
    pub oidc: Option<Oidc>,
}

/// Single sign-on, when an issuer is set: its client id is needed then.
pub(super) fn single_sign_on(sso: SsoArgs) -> Result<Option<Oidc>, Failure> {
    let Some(issuer) = sso.issuer else { return Ok(None) };
    let Some(client_id) = sso.client_id else {
        return fail("--oidc-issuer needs --oidc-client-id (TIB_OIDC_CLIENT_ID): the client tib has there");
    };
    let client_secret = std::env::var("TIB_OIDC_CLIENT_SECRET").ok().filter(|s| !s.is_empty());
    let admins = sso.admins.into_iter().map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect();
    Oidc::new(OidcSettings { issuer, client_id, client_secret, admins }).map(Some).map_err(|e| Failure(e, 2))
}

/// The admin token of the HTTP API: from its hash file, or from TIB_ADMIN_TOKEN.
pub(super) fn admin_token(file: Option<&std::path::Path>) -> Result<Option<AdminToken>, Failure> {
    if let Some(path) = file {
        let line = std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("cannot read the admin token file {}: {e}", path.display()), 2))?;
        return AdminToken::from_hash_line(&line).map(Some).map_err(|e| Failure(format!("{}: {e}", path.display()), 2));
    }
    match std::env::var("TIB_ADMIN_TOKEN") {
        Ok(token) if token.len() >= 16 => Ok(Some(AdminToken::from_token(&token))),
        Ok(_) => fail("TIB_ADMIN_TOKEN needs 16 characters at least"),
        Err(_) => Ok(None),
    }
}

/// `tib hash-token`: the line `--admin-token-file` holds for the token read on stdin.
pub(super) fn hash_token() -> Result<(), Failure> {
    let mut token = String::new();
    std::io::stdin().read_line(&mut token).map_err(|e| Failure(format!("cannot read the token: {e}"), 2))?;
    let token = token.trim_end_matches(['\r', '\n']);
    if token.len() < 16 {
        return fail("an admin token needs 16 characters at least");
    }
    println!("{}", AdminToken::from_token(token).hash_line());
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            let _ = interrupt.await;
            return;
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
