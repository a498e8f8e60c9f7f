//! `tib serve` in the test's own process, as its composition is public: the
//! services over a real SQLite file, the scheduler syncing due connections,
//! and the web server on a listener bound to 127.0.0.1:0, reached over real
//! sockets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tib_runtime::access::token::AdminToken;
use tib_runtime::clock::SystemClock;
use tib_runtime::schedule::Scheduler;
use tib_runtime::services::Services;
use tib_runtime::store::sqlite::Sqlite;
use tib_runtime::store::{ApplyPolicy, Store};
use tib_runtime::sync::Engine;
use tib_runtime::vault::Vault;
use tib_runtime::web::Web;

/// The key the tests' vaults seal with.
pub const KEY: &str = "8e0f2a41c4b75d9e36a1f0c2b4d6e8f01a3c5e7092b4d6f8e0a2c4e6f8a0b2c4";

pub struct Server {
    /// `http://127.0.0.1:port`.
    pub base: String,
    pub services: Arc<Services>,
    pub web: Arc<Web>,
    /// The SQLite file the store keeps.
    pub store_path: std::path::PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// How the server is set up.
#[derive(Default)]
pub struct Setup {
    /// The admin token; without one the API is off.
    pub admin: Option<String>,
    /// `X-Forwarded-For` is believed from these.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The store, when not a new SQLite file.
    pub store: Option<Arc<dyn Store>>,
    /// Where the builder saves specs (`--specs`); without it the builder is read-only.
    pub specs: Option<std::path::PathBuf>,
    /// How often the scheduler looks for due connections by itself (a fifth of a second unless set).
    pub poll: Option<Duration>,
}

impl Server {
    /// A server with the admin token `admin`, on a new SQLite store.
    pub async fn start(admin: Option<&str>) -> Server {
        Server::with(Setup { admin: admin.map(str::to_owned), ..Setup::default() }).await
    }

    pub async fn with(setup: Setup) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store_path = dir.path().join("tib.db");
        let store = match setup.store {
            Some(store) => store,
            None => Arc::new(Sqlite::open(&store_path).expect("the store")) as Arc<dyn Store>,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let network = tib_support::NetworkPolicy::with_loopback();
        let client =
            tib_support::Client::new(tib_support::ClientSettings { network, ..Default::default() }).expect("a client");
        let public_url = url::Url::parse(&base).expect("a URL");
        let open_vault = Box::new(|| Vault::open(Some(KEY), std::path::Path::new("/nonexistent")));
        let services = Arc::new(Services::new(
            store,
            Arc::new(SystemClock),
            client,
            ApplyPolicy::default(),
            public_url,
            tib_runtime::notify::Notifier::new(None, vec![]).expect("a notifier"),
            open_vault,
        ));
        let engine = Arc::new(engine(&services));
        let owner = engine.owner.clone();
        let scheduler = Scheduler::new(services.store.clone(), services.clock.clone(), engine, 4, &owner)
            .with_wake(services.wake.clone());
        let poll = setup.poll.unwrap_or(Duration::from_millis(200));
        let admin = setup.admin.as_deref().map(AdminToken::from_token);
        let proxies = tib_runtime::access::proxies::TrustedProxies::new(setup.trusted_proxies);
        let specs = setup.specs.map(|dir| tib_runtime::builder::SpecsDir { dir, max_bytes: 1 << 20 });
        let web = Arc::new(Web::new(services.clone(), admin, proxies).with_specs(specs));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut scheduler_stopped = stopped.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = scheduler_stopped.wait_for(|s| *s).await;
            };
            scheduler.serve(poll, Duration::from_secs(1), shutdown).await;
        });
        let mut server_stopped = stopped;
        let serving = web.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = server_stopped.wait_for(|s| *s).await;
            };
            tib_runtime::server::serve(serving, listener, Default::default(), shutdown).await;
        });
        Server { base, services, web, store_path, stop, _dir: dir }
    }

    /// `/api/v1` and the path.
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The engine the scheduler syncs with: no retries, no webhook.
fn engine(services: &Services) -> Engine {
    Engine {
        store: services.store.clone(),
        vault: services.vault().expect("the vault"),
        client: services.client.clone(),
        notifier: services.notifier.clone(),
        apply: services.policy,
        options: tib_support::SyncOptions {
            retry: tib_support::RetryPolicy { max_retries: 0, ..Default::default() },
            ..Default::default()
        },
        notify_after_failures: 3,
        clock: services.clock.clone(),
        owner: tib_runtime::owner::this_process(),
        lease_secs: tib_runtime::schedule::LEASE_SECS,
        client_tokens: Mutex::default(),
        live: services.live.clone(),
    }
}
