//! `tib sync`: one connection, or every enabled one, now, with a progress
//! line each; and the sync engine every command that syncs builds.

use std::time::Duration;

use futures_util::StreamExt;
use tib_support::{RetryPolicy, SyncOptions};

use super::{Context, Failure, NOTIFY_GRACE, fail};
use crate::store::Connection;
use crate::sync::{Ended, Engine};

impl Context {
    /// The engine that syncs, on the services' store, vault, client and clock.
    pub(super) fn engine(&self) -> Result<Engine, Failure> {
        let services = &self.services;
        Ok(Engine {
            store: services.store.clone(),
            vault: self.vault()?,
            client: services.client.clone(),
            notifier: services.notifier.clone(),
            apply: services.policy,
            options: SyncOptions {
                retry: RetryPolicy { max_retries: self.settings.max_retries, ..RetryPolicy::default() },
                deadline: self.settings.sync_deadline,
                ..SyncOptions::default()
            },
            notify_after_failures: self.settings.notify_after_failures,
            clock: services.clock.clone(),
            owner: crate::owner::this_process(),
            lease_secs: self.settings.lease,
            client_tokens: std::sync::Mutex::default(),
            live: services.live.clone(),
        })
    }

    pub(super) async fn sync(
        &self,
        integration: Option<String>,
        account: Option<String>,
        all: bool,
        max_concurrent: usize,
    ) -> Result<(), Failure> {
        let connections = match (integration, account, all) {
            (Some(integration), Some(account), false) => vec![self.find(&integration, &account).await?],
            (None, None, true) => {
                let summaries = self.services.summaries().await?;
                summaries.into_iter().map(|s| s.connection).filter(|c| c.enabled).collect()
            }
            _ => return Err(Failure("name a connection (INTEGRATION ACCOUNT) or give --all".to_owned(), 2)),
        };
        let engine = self.engine()?;
        let bars = indicatif::MultiProgress::new();
        // Up to `max_concurrent` at once, as `serve` runs them; each line is printed as its sync ends.
        let ended: Vec<Result<bool, Failure>> = futures_util::stream::iter(connections)
            .map(|connection| self.sync_one(&engine, &bars, connection))
            .buffer_unordered(max_concurrent.max(1))
            .collect()
            .await;
        // What the syncs told the admins goes out before the command exits.
        engine.notifier.settle(NOTIFY_GRACE).await;
        let mut failed = 0;
        for ended in ended {
            failed += usize::from(!ended?);
        }
        if failed > 0 { fail(format!("{failed} syncs did not apply")) } else { Ok(()) }
    }

    /// The connection a command names, or what to run to see those there are.
    pub(super) async fn find(&self, integration: &str, account: &str) -> Result<Connection, Failure> {
        self.services.find(integration, account).await.map_err(super::about_connection)
    }

    /// Syncs one connection now and prints how it ended: true when it applied.
    async fn sync_one(
        &self,
        engine: &Engine,
        bars: &indicatif::MultiProgress,
        connection: Connection,
    ) -> Result<bool, Failure> {
        let name = connection.name();
        if connection.replace_users {
            bars.suspend(|| println!("{name} was connected again: this sync replaces its stored users"));
        }
        self.services.synced_now(&connection).await?;
        let bar = bars.add(indicatif::ProgressBar::new_spinner());
        bar.set_message(format!("{name}: starting"));
        bar.enable_steady_tick(Duration::from_millis(120));
        let ended = engine
            .sync(&connection, &mut |pages, users| bar.set_message(format!("{name}: {pages} pages, {users} users")))
            .await;
        bar.finish_and_clear();
        bars.remove(&bar);
        let ended = ended.map_err(|e| Failure(e, 2))?;
        let next = match &ended {
            Ended::Held { .. } => "; `tib approve` applies it".to_owned(),
            // The same hint as the notification's and the disabled reason's.
            Ended::Disabled { hint, .. } => format!(" ({hint}, then `tib connect` again or `tib enable`)"),
            _ => String::new(),
        };
        let line = format!("{name}: {}{next}", ended.describe());
        let applied = matches!(ended, Ended::Applied { .. });
        bars.suspend(|| println!("{line}"));
        Ok(applied)
    }
}
