//! The composition root: what the operations, the sync engine and every edge
//! share, built once per process (by the CLI from its settings, by tests from
//! theirs) and handed down as one value.

use std::sync::{Arc, OnceLock};

use url::Url;

use crate::clock::Clock;
use crate::store::{ApplyPolicy, Store};
use crate::vault::Vault;

/// Opens the vault: the key from the environment or its file.
pub type OpenVault = Box<dyn Fn() -> Result<Vault, String> + Send + Sync>;

pub struct Services {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The HTTP client of every sync and token request (the network policy, the answer bound).
    pub client: tib_support::Client,
    /// How syncs apply: what is held for approval, how long history is kept.
    pub policy: ApplyPolicy,
    /// Where syncs under way report their progress.
    pub live: Arc<crate::live::Syncs>,
    /// Where this server is reached: OAuth redirects come back here.
    pub public_url: Url,
    /// How admins are told: the store's notifications, and the webhook.
    pub notifier: Arc<crate::notify::Notifier>,
    /// Wakes this process's scheduler: a connection made due now (sync now, enable) starts at once,
    /// not at its next poll.
    pub wake: Arc<tokio::sync::Notify>,
    vault: OnceLock<Arc<Vault>>,
    open_vault: OpenVault,
}

impl Services {
    /// Services whose vault `open_vault` opens at its first use: a command that only reads never
    /// touches the key (nor makes one).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        client: tib_support::Client,
        policy: ApplyPolicy,
        public_url: Url,
        notifier: crate::notify::Notifier,
        open_vault: OpenVault,
    ) -> Services {
        let notifier = Arc::new(notifier);
        Services {
            store,
            clock,
            client,
            policy,
            live: Arc::default(),
            public_url,
            notifier,
            wake: Arc::default(),
            vault: OnceLock::new(),
            open_vault,
        }
    }

    /// The vault, opened now if it was not yet.
    pub fn vault(&self) -> Result<Arc<Vault>, String> {
        if let Some(vault) = self.vault.get() {
            return Ok(vault.clone());
        }
        let opened = Arc::new((self.open_vault)()?);
        // Two first uses at once both open it; the first one kept stands.
        Ok(self.vault.get_or_init(|| opened).clone())
    }
}
