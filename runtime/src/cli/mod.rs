//! The `tib` command line: connect accounts, sync them, look at their users,
//! and serve the schedule.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use futures_util::StreamExt;
use tib_support::spec::CredentialSpec;
use tib_support::{ClientSettings, CredentialValues, NetworkPolicy, RetryPolicy, SyncOptions, env_name};

mod settings;
pub(crate) mod show;

use crate::connect::Overrides;
use crate::notify::Notifier;
use crate::schedule::{self, Clock, Scheduler, SystemClock};
use crate::store::sqlite::Sqlite;
use crate::store::{ApplyPolicy, Connection, HoldPolicy, Store, Upserted};
use crate::sync::{Ended, Engine};
use crate::vault::Vault;
use show::{USER_HEADER, csv, table, user_cells, when};

#[derive(Parser)]
#[command(name = "tib", about = "Keeps the users of every connected app account up to date", version)]
pub struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

/// Where the runtime keeps its data, and how it behaves.
#[derive(Args)]
struct Settings {
    /// The store: an SQLite file, or a PostgreSQL database as postgres://user@host:port/db (several
    /// instances share one) [default: $XDG_DATA_HOME/tib/tib.db, or ~/.local/share/tib/tib.db].
    #[arg(long, global = true, env = "TIB_STORE", value_name = "PATH|URL")]
    store: Option<PathBuf>,
    /// The key file that seals credentials, created owner-only on first use [default: tib.key beside an
    /// SQLite store; required with PostgreSQL, every instance with the same]. TIB_KEY (64 hex digits),
    /// when set, is used instead.
    #[arg(long, global = true, env = "TIB_KEY_FILE", value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Where admin notifications are POSTed as JSON.
    #[arg(long, global = true, env = "TIB_WEBHOOK_URL", value_name = "URL")]
    webhook: Option<url::Url>,
    /// A sync that would mark more than this share of an account's users deleted (and more than 10) is
    /// held: a number above 0, at most 1.
    #[arg(long, global = true, env = "TIB_HOLD_SHARE", default_value = "0.5", value_parser = settings::share)]
    hold_share: f64,
    /// Retries of a request answered 429 or 5xx within one sync (with backoff, honouring Retry-After), 0 to 10.
    #[arg(long, global = true, env = "TIB_MAX_RETRIES", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(0..=10))]
    max_retries: u32,
    /// The most one sync reads of the API's answers at once, after decompression (a page, or every page
    /// in flight together), and of a token endpoint's: 32MiB, 512KiB or bytes.
    #[arg(long, global = true, env = "TIB_MAX_ANSWER_BYTES", default_value = "32MiB", value_parser = settings::size)]
    max_answer_bytes: u64,
    /// How long one sync may take before it is stopped (and retried at the next): 6h, 30m, 90s.
    #[arg(long, global = true, env = "TIB_SYNC_DEADLINE", default_value = "6h", value_parser = settings::deadline)]
    sync_deadline: Duration,
    /// Requests go to public addresses only; this allows a network besides (an on-premise API): a CIDR or
    /// one address, repeatable, or comma-separated in TIB_ALLOW_NETWORKS.
    #[arg(long = "allow-network", global = true, env = "TIB_ALLOW_NETWORKS", value_name = "CIDR",
          value_delimiter = ',', value_parser = tib_support::network::parse_network)]
    allow_networks: Vec<ipnet::IpNet>,
    /// Admins are notified when a connection's syncs have failed this many times in a row (1 to 1000).
    #[arg(long, global = true, env = "TIB_NOTIFY_AFTER_FAILURES", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    notify_after_failures: u32,
    /// How long the history of users' changes is kept: 365d, 90d, 2000d.
    #[arg(long, global = true, env = "TIB_KEEP_HISTORY", default_value = "365d", value_parser = settings::retention)]
    keep_history: i64,
    /// How long a process's claim on a connection it syncs lasts unless renewed (a third of that apart):
    /// the connections of an instance killed or cut off from the store sync elsewhere after this. 5m, 90s.
    #[arg(long, global = true, env = "TIB_LEASE", default_value = "5m", value_parser = settings::lease)]
    lease: i64,
    /// A directory of .tib specs: those of an app this build has no compiled connector for are offered
    /// too, interpreted; `serve` checks them again whenever they change. A spec with errors is refused
    /// with its diagnostics, and the version that worked before stays offered.
    #[arg(long, global = true, env = "TIB_SPECS", value_name = "DIR")]
    specs: Option<PathBuf>,
    /// The largest spec `--specs` reads: 1MiB, 256KiB or bytes. A larger file is refused unread.
    #[arg(long, global = true, env = "TIB_MAX_SPEC_BYTES", default_value = "1MiB", value_parser = settings::size)]
    max_spec_bytes: u64,
    /// Where providers reach `tib serve`: OAuth redirect URLs are this plus /oauth/callback/<integration>.
    #[arg(long, global = true, env = "TIB_PUBLIC_URL", default_value = "http://127.0.0.1:8421")]
    public_url: url::Url,
}

/// How `tib serve` schedules syncs.
struct Schedule {
    max_concurrent: u16,
    /// Seconds between looks for due connections.
    poll: u64,
    caps: std::collections::BTreeMap<String, usize>,
}

/// What `tib store` does.
#[derive(clap::Subcommand)]
enum StoreAction {
    /// Copy an SQLite store into an empty PostgreSQL database, nothing lost: every connection, run,
    /// user, history entry, notification and held sync. Stop every tib using the file first; it is
    /// only read. The key that sealed its credentials stays the one to give the instances.
    Migrate {
        /// The SQLite store to move.
        #[arg(long, value_name = "PATH")]
        from: PathBuf,
        /// The PostgreSQL database to move it into: postgres://user@host:port/db.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Connect an account of an integration, or replace the credentials of one already connected.
    Connect(Box<ConnectArgs>),
    /// Remove a connection with its stored users and runs.
    Disconnect { integration: String, account: String },
    /// Re-enable a connection disabled by an API error; it syncs at the next tick of `serve`.
    Enable { integration: String, account: String },
    /// Apply a sync that was held because it would delete too many users.
    Approve { integration: String, account: String },
    /// Every connection: state, last and next sync, user counts, last error.
    List,
    /// Sync now: one connection, or every enabled one.
    Sync {
        integration: Option<String>,
        account: Option<String>,
        /// Every enabled connection.
        #[arg(long, conflicts_with_all = ["integration", "account"])]
        all: bool,
        /// With --all: syncs that run at once (1 to 1024).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
        max_concurrent: u16,
    },
    /// What changed for the users of a connection, sync by sync, newest first: users that appeared,
    /// changed (with the fields), gained or lost a license, were marked deleted or came back.
    History {
        integration: String,
        account: String,
        /// One user, by external id or email.
        #[arg(long)]
        user: Option<String>,
        /// Only changes this recent: 30d, 12h.
        #[arg(long, value_parser = settings::retention_window)]
        since: Option<i64>,
        /// The newest this many.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The stored users of a connection.
    Users {
        integration: String,
        account: String,
        /// Also inactive and deleted users.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run the schedule, and answer OAuth redirects, until SIGTERM or SIGINT.
    Serve {
        /// Syncs that run at once (1 to 1024).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
        max_concurrent: u16,
        /// How often due connections are looked for, in seconds (1 to 86400).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        poll: u64,
        /// The address the OAuth callback listens on (behind the public URL).
        #[arg(long, env = "TIB_LISTEN", default_value = "127.0.0.1:8421")]
        listen: std::net::SocketAddr,
        /// Connections the listener serves at once (1 to 65535); one client address holds 32 at most. At
        /// either cap the connection idle longest makes room. A request's head must arrive within 10 s,
        /// and a connection is closed after a minute idle or five minutes in all.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
        max_connections: u16,
        /// A file holding the admin token's hash (`tib hash-token` prints it), for the HTTP API;
        /// or give the token itself in TIB_ADMIN_TOKEN. Without one, `serve` listens on loopback only.
        #[arg(long, value_name = "PATH")]
        admin_token_file: Option<PathBuf>,
        /// At most N connections of an integration sync at once, on every instance together (its API's
        /// rate limit is shared by all of them): INTEGRATION=N, repeatable, or comma-separated in
        /// TIB_INTEGRATION_CAPS.
        #[arg(long = "integration-cap", env = "TIB_INTEGRATION_CAPS", value_name = "NAME=N",
              value_delimiter = ',', value_parser = settings::cap)]
        caps: Vec<(String, usize)>,
        /// A reverse proxy in front of `serve`, whose X-Forwarded-For names the client (failed attempts at
        /// the admin token are counted per client): a CIDR or one address, repeatable, or comma-separated
        /// in TIB_TRUSTED_PROXIES. Its connections are not held to the per-address cap.
        #[arg(long = "trusted-proxy", env = "TIB_TRUSTED_PROXIES", value_name = "CIDR",
              value_delimiter = ',', value_parser = tib_support::network::parse_network)]
        trusted_proxies: Vec<ipnet::IpNet>,
    },
    /// Read an admin token on stdin and print the line `--admin-token-file` holds for it.
    HashToken,
    /// Move the store to another backend.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Health of the store and of every connection, and recent notifications.
    Status,
    /// The integrations compiled into this runtime and the credentials each asks for.
    Integrations,
    /// Serve a demo Acme API on 127.0.0.1, connect it and sync it: the whole path, offline.
    Demo,
}

#[derive(Args)]
struct ConnectArgs {
    integration: String,
    /// The account's name, e.g. Prod or Dev.
    account: String,
    /// A credential the spec asks for, NAME=VALUE; repeat for each. Otherwise read from TIB_<NAME>, or
    /// asked for (secrets without echo).
    #[arg(long = "cred", value_name = "NAME=VALUE", value_parser = tib_support::name_value)]
    credentials: Vec<(String, String)>,
    /// Sync against this URL instead of the spec's base URL (a sandbox, a self-hosted instance).
    #[arg(long, value_name = "URL")]
    base_url: Option<url::Url>,
    /// How often it syncs: 1d, 12h, 30m or seconds; a minute to a year.
    #[arg(long, default_value = "1d", value_parser = settings::interval)]
    every: i64,
    /// OAuth: use this token endpoint instead of the spec's.
    #[arg(long, value_name = "URL")]
    token_url: Option<url::Url>,
    /// OAuth authorization code: use this authorize endpoint instead of the spec's.
    #[arg(long, value_name = "URL")]
    authorize_url: Option<url::Url>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

/// How long a command that ends waits for its notifications to reach the webhook.
const NOTIFY_GRACE: Duration = Duration::from_secs(15);

/// What the commands share: the store, the key, the engine.
struct Context {
    store: Arc<dyn Store>,
    store_path: PathBuf,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

/// A failed command: its message, and the exit code (1: it failed, 2: bad usage or setup).
struct Failure(String, u8);

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure(e.to_string(), 2)
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(message.into(), 1))
}

pub fn main(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let ran = runtime.block_on(run(cli));
    // Store work that never came back (a database that vanished mid-call) does not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(5));
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message, code)) => {
            eprintln!("error: {}", tib_support::printable(&message));
            ExitCode::from(code)
        }
    }
}

fn default_store() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")));
    data.map_or_else(|| PathBuf::from("tib-data"), |d| d.join("tib")).join("tib.db")
}

async fn run(mut cli: Cli) -> Result<(), Failure> {
    if let Some(dir) = &cli.settings.specs {
        let report = crate::integrations::load(dir, cli.settings.max_spec_bytes).map_err(|e| Failure(e, 2))?;
        crate::integrations::log(&report);
        for (path, why) in &report.refused {
            eprintln!("tib: the spec {} is refused:\n{why}", path.display());
        }
    }
    if let Command::Integrations = cli.command {
        return integrations(&cli.settings.public_url);
    }
    if let Command::Store { action: StoreAction::Migrate { from, to } } = &cli.command {
        return migrate(from, to);
    }
    if let Command::Demo = cli.command {
        // The demo's API runs on this machine, which syncs refuse otherwise.
        cli.settings.allow_networks.extend(tib_support::network::loopback_networks());
    }
    let store_path = match (&cli.command, &cli.settings.store) {
        (_, Some(path)) => path.clone(),
        // The demo keeps to its own store: its API lives only while it runs.
        (Command::Demo, None) => PathBuf::from("tib-demo/tib.db"),
        (_, None) => default_store(),
    };
    let location = store_path.to_string_lossy().into_owned();
    let store: Arc<dyn Store> = if crate::store::postgres::is_url(&location) {
        crate::store::open(&location)?
    } else {
        match Sqlite::open(&store_path) {
            Ok(store) => Arc::new(store),
            // A full disk, say: what only reads can still be answered from the file as it is.
            Err(error) if matches!(cli.command, Command::List | Command::Users { .. } | Command::Status) => {
                tracing::warn!(%error, "the store cannot be opened to write; reading it as it is on disk");
                Arc::new(Sqlite::open_read_only(&store_path).map_err(|_| error)?)
            }
            Err(error) => return Err(error.into()),
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Not fatal: on a full disk the commands that only read must still work.
    match store.recover_interrupted(&crate::sync::owner_alive, clock.now()) {
        Ok(0) => {}
        Ok(recovered) => {
            tracing::warn!(recovered, "syncs interrupted by a stopped process were recorded as interrupted")
        }
        Err(error) => tracing::warn!(%error, "cannot record interrupted syncs now; they are recorded later"),
    }
    let context = Context { store, store_path, settings: cli.settings, clock };
    match cli.command {
        Command::Connect(args) => {
            let ConnectArgs { integration, account, credentials, base_url, every, token_url, authorize_url } = *args;
            let endpoints = Overrides { base_url, token_url, authorize_url };
            context.connect(&integration, &account, &credentials, &endpoints, every)
        }
        Command::Disconnect { integration, account } => {
            let connection = context.find(&integration, &account)?;
            context.store.remove_connection(connection.id)?;
            println!("disconnected {}; its stored users and runs are removed", connection.name());
            Ok(())
        }
        Command::Enable { integration, account } => {
            let connection = context.find(&integration, &account)?;
            context.store.set_enabled(connection.id, true, None)?;
            context.store.set_next_sync(connection.id, context.clock.now())?;
            println!("enabled {}; it syncs at the next tick of `tib serve` (or run `tib sync`)", connection.name());
            Ok(())
        }
        Command::Approve { integration, account } => {
            let connection = context.find(&integration, &account)?;
            match context.store.approve_held(connection.id, context.apply_policy(), context.clock.now())? {
                Some(applied) => {
                    println!("applied the held sync of {}: {applied:?}", connection.name());
                    Ok(())
                }
                None => fail(format!("{} has no held sync", connection.name())),
            }
        }
        Command::List => context.list(),
        Command::Sync { integration, account, all, max_concurrent } => {
            context.sync(integration, account, all, usize::from(max_concurrent)).await
        }
        Command::History { integration, account, user, since, limit, format } => {
            let since = since.map(|window| context.clock.now().saturating_sub(window));
            context.history(&integration, &account, crate::store::HistoryQuery { user, since, limit }, format)
        }
        Command::Users { integration, account, all, format } => context.users(&integration, &account, all, format),
        Command::Serve { max_concurrent, poll, listen, max_connections, admin_token_file, caps, trusted_proxies } => {
            let limits = crate::listen::Limits { max_connections: usize::from(max_connections), ..Default::default() };
            let proxies = crate::client::TrustedProxies::new(trusted_proxies);
            let admin = admin_token(admin_token_file.as_deref())?;
            if admin.is_none() && !listen.ip().is_loopback() {
                return fail(format!(
                    "refusing to listen on {listen} without an admin token: set TIB_ADMIN_TOKEN or \
                     --admin-token-file, or listen on 127.0.0.1"
                ));
            }
            let schedule = Schedule { max_concurrent, poll, caps: caps.into_iter().collect() };
            context.serve(schedule, listen, limits, admin, proxies).await
        }
        Command::HashToken => {
            let mut token = String::new();
            std::io::stdin().read_line(&mut token).map_err(|e| Failure(format!("cannot read the token: {e}"), 2))?;
            let token = token.trim_end_matches(['\r', '\n']);
            if token.len() < 16 {
                return fail("an admin token needs 16 characters at least");
            }
            println!("{}", crate::api::admin::AdminToken::from_token(token).hash_line());
            Ok(())
        }
        Command::Status => context.status(),
        Command::Demo => context.demo().await,
        Command::Integrations => integrations(&context.settings.public_url),
        Command::Store { action: StoreAction::Migrate { from, to } } => migrate(&from, &to),
    }
}

/// The admin token of the HTTP API: from its hash file, or from TIB_ADMIN_TOKEN.
fn admin_token(file: Option<&std::path::Path>) -> Result<Option<crate::api::admin::AdminToken>, Failure> {
    use crate::api::admin::AdminToken;
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

fn integrations(public_url: &url::Url) -> Result<(), Failure> {
    for crate::integrations::Integration { id, connector, origin } in crate::integrations::all() {
        let spec = connector.spec();
        let credentials: Vec<String> =
            spec.credentials.iter().map(|c| format!("{}{}", c.name, if c.secret { " (secret)" } else { "" })).collect();
        println!("{id:<20} {:<24} credentials: {}", spec.app, credentials.join(", "));
        if let crate::integrations::Origin::Interpreted(path) = origin {
            println!("{:<20} interpreted from {}", "", path.display());
        }
        if let tib_support::spec::Auth::OAuthAuthorizationCode(_) = spec.auth {
            println!("{:<20} redirect URLs the provider must allow:", "");
            println!("{:<20}   {}", "", redirect_urls(public_url, &id).join(&format!("\n{:<20}   ", "")));
        }
    }
    Ok(())
}

/// `tib store migrate`: the move, then what it moved.
fn migrate(from: &std::path::Path, to: &str) -> Result<(), Failure> {
    if !crate::store::postgres::is_url(to) {
        return Err(Failure(format!("--to must be a PostgreSQL URL (postgres://…), not `{to}`"), 2));
    }
    let moved = crate::store::migrate::sqlite_to_postgres(from, to, &crate::sync::owner_alive, SystemClock.now())?;
    let tables: Vec<String> = moved.tables.iter().map(|(table, rows)| format!("{rows} {table}")).collect();
    println!(
        "moved {} into {}: {}, {} held syncs",
        from.display(),
        crate::store::shown(to),
        tables.join(", "),
        moved.held
    );
    println!("serve it with: tib --store {} --key-file KEY serve", crate::store::shown(to));
    Ok(())
}

/// The production redirect URL of an integration, and the loopback one spec authors test with.
fn redirect_urls(public_url: &url::Url, integration: &str) -> [String; 2] {
    let production = tib_support::oauth::production_redirect_url(public_url, integration);
    let test = tib_support::oauth::test_redirect_url(tib_support::oauth::TEST_REDIRECT_PORT);
    [format!("{production} (production: tib serve)"), format!("{test} (test: compiler session)")]
}

impl Context {
    /// The store as messages show it (a URL without its password).
    fn store_shown(&self) -> String {
        crate::store::shown(&self.store_path.to_string_lossy())
    }

    fn vault(&self) -> Result<Vault, Failure> {
        let env_key = std::env::var("TIB_KEY").ok();
        let postgres = crate::store::postgres::is_url(&self.store_path.to_string_lossy());
        if postgres && env_key.is_none() && self.settings.key_file.is_none() {
            // A key made beside a URL would be one instance's alone: every other would fail to open it.
            return Err(Failure(
                "with a PostgreSQL store, give the key that seals credentials: --key-file or TIB_KEY (every \
                 instance on the database needs the same key)"
                    .to_owned(),
                2,
            ));
        }
        let key_file = self.settings.key_file.clone().unwrap_or_else(|| self.store_path.with_file_name("tib.key"));
        // A new key is made only for a store that holds nothing sealed: made in silence for one
        // that does, every connection would fail to open its credentials, sync after sync.
        if env_key.is_none() && !key_file.exists() {
            let sealed = self.store.connections()?.len();
            // Looked at again after counting: a `tib connect` running beside this process makes
            // its key before it seals a connection, so a connection seen here with no key file
            // after it means the key really is gone, not that it was being made.
            if sealed > 0 && !key_file.exists() {
                return Err(Failure(
                    format!(
                        "the key file {} is missing, but the store {} holds {sealed} connections sealed with a key: \
                         restore the key file (or set TIB_KEY to the key), or connect the accounts again",
                        key_file.display(),
                        self.store_shown()
                    ),
                    2,
                ));
            }
        }
        Vault::open(env_key.as_deref(), &key_file).map_err(|e| Failure(e, 2))
    }

    /// The HTTP client of every sync and token request of this process.
    fn client(&self) -> Result<tib_support::Client, Failure> {
        tib_support::Client::new(ClientSettings {
            timeout: Duration::from_secs(30),
            max_answer_bytes: self.settings.max_answer_bytes,
            network: NetworkPolicy::allowing(self.settings.allow_networks.clone()),
        })
        .map_err(|e| Failure(e.to_string(), 2))
    }

    fn engine(&self) -> Result<Engine, Failure> {
        Ok(Engine {
            store: self.store.clone(),
            vault: Arc::new(self.vault()?),
            client: self.client()?,
            notifier: Notifier::new(self.settings.webhook.clone(), crate::notify::default_retries())
                .map_err(|e| Failure(e, 2))?,
            apply: self.apply_policy(),
            options: SyncOptions {
                retry: RetryPolicy { max_retries: self.settings.max_retries, ..RetryPolicy::default() },
                deadline: self.settings.sync_deadline,
                ..SyncOptions::default()
            },
            notify_after_failures: self.settings.notify_after_failures,
            clock: self.clock.clone(),
            owner: crate::sync::process_owner(),
            lease_secs: self.settings.lease,
            client_tokens: std::sync::Mutex::default(),
            live: Arc::default(),
        })
    }

    fn apply_policy(&self) -> ApplyPolicy {
        ApplyPolicy {
            hold: HoldPolicy { max_share: self.settings.hold_share, ..HoldPolicy::default() },
            keep_history_secs: self.settings.keep_history,
        }
    }

    fn find(&self, integration: &str, account: &str) -> Result<Connection, Failure> {
        match self.store.connection(integration, account)? {
            Some(connection) => Ok(connection),
            None => fail(format!("no connection {integration}/{account}; `tib list` shows the connections")),
        }
    }

    fn connect(
        &self,
        integration: &str,
        account: &str,
        flags: &[(String, String)],
        overrides: &Overrides,
        every: i64,
    ) -> Result<(), Failure> {
        let connector = crate::connect::connector(integration).map_err(|e| Failure(e, 2))?;
        let spec = connector.spec();
        let interactive = std::io::stdin().is_terminal();
        let values = CredentialValues::collect(spec.credentials, flags, |c| {
            std::env::var(env_name(c.name)).ok().or_else(|| if interactive { prompt(c) } else { None })
        })
        .map_err(|e| Failure(e.to_string(), 2))?;
        let (vault, client) = (self.vault()?, self.client()?);
        let setting = crate::connect::Setting {
            store: self.store.as_ref(),
            vault: &vault,
            client: &client,
            public_url: &self.settings.public_url,
            now: self.clock.now(),
        };
        let connected = crate::connect::connect(&setting, integration, account, &values, overrides, every)
            .map_err(|e| Failure(e, 2))?;
        let name = format!("{integration}/{account}");
        match connected.upserted {
            Upserted::Created => println!("connected {name}"),
            Upserted::Replaced => println!(
                "{name} was already connected: its credentials are replaced, and its next sync replaces its stored users"
            ),
        }
        if let Some(authorization) = connected.authorization {
            self.print_authorization(integration, spec, &authorization);
        }
        Ok(())
    }

    /// Prints an authorization-code connection's link (and opens it where it can) and the redirect URLs.
    fn print_authorization(
        &self,
        integration: &str,
        spec: &'static tib_support::Spec,
        authorization: &crate::oauth::Authorization,
    ) {
        if !authorization.refresh_tokens {
            println!(
                "warning: {} gives no refresh tokens; when the access token expires, the connection is disabled until it is authorized again",
                spec.app
            );
        }
        let url = &authorization.url;
        println!("authorize tib at {} (the link works once, for 10 minutes):\n  {url}", spec.app);
        println!("the provider must allow the redirect URLs:");
        for line in redirect_urls(&self.settings.public_url, integration) {
            println!("  {line}");
        }
        println!("`tib serve` must be running at {} to receive the redirect", self.settings.public_url);
        if std::io::stdout().is_terminal() && std::env::var_os("TIB_NO_BROWSER").is_none() {
            // Best effort: where no browser can be opened, the printed link is enough.
            let _ = std::process::Command::new("xdg-open")
                .arg(url.as_str())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
    }

    fn list(&self) -> Result<(), Failure> {
        let mut rows = Vec::new();
        for c in self.store.connections()? {
            let last = self.store.last_run(c.id)?;
            let (active, all) = self.store.user_counts(c.id)?;
            let state = if c.enabled { "enabled" } else { "disabled" };
            let last_sync = last
                .as_ref()
                .map_or_else(|| "never".to_owned(), |r| format!("{} {}", when(Some(r.started_at)), r.outcome.as_str()));
            let error = last.and_then(|r| r.error).or(c.disabled_reason.clone()).unwrap_or_default();
            let error: String = error.chars().take(100).collect();
            let next = if c.enabled { when(Some(c.next_sync_at)) } else { "-".to_owned() };
            rows.push(vec![c.name(), state.to_owned(), last_sync, next, format!("{active}/{all}"), error]);
        }
        if rows.is_empty() {
            println!("no connections; add one with `tib connect INTEGRATION ACCOUNT`");
        } else {
            print!(
                "{}",
                table(&["CONNECTION", "STATE", "LAST SYNC", "NEXT SYNC", "USERS (ACTIVE/ALL)", "LAST ERROR"], &rows)
            );
        }
        Ok(())
    }

    async fn sync(
        &self,
        integration: Option<String>,
        account: Option<String>,
        all: bool,
        max_concurrent: usize,
    ) -> Result<(), Failure> {
        let connections = match (integration, account, all) {
            (Some(integration), Some(account), false) => vec![self.find(&integration, &account)?],
            (None, None, true) => self.store.connections()?.into_iter().filter(|c| c.enabled).collect(),
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
        // A sync now moves the scheduled one a full interval on.
        let now = self.clock.now();
        let (id, next) = (connection.id, schedule::next_sync(now, connection.interval_secs, &name));
        crate::store::off_workers(&self.store, move |s| s.set_next_sync(id, next)).await?;
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
            Ended::Held { .. } => "; `tib approve` applies it",
            Ended::Disabled { .. } => " (check the credentials, then `tib connect` again or `tib enable`)",
            _ => "",
        };
        let line = format!("{name}: {}{next}", ended.describe());
        let applied = matches!(ended, Ended::Applied { .. });
        bars.suspend(|| println!("{line}"));
        Ok(applied)
    }

    fn history(
        &self,
        integration: &str,
        account: &str,
        query: crate::store::HistoryQuery,
        format: Format,
    ) -> Result<(), Failure> {
        let connection = self.find(integration, account)?;
        let changes = self.store.history(connection.id, &query)?;
        let mut out = std::io::stdout().lock();
        let written = match format {
            Format::Json => serde_json::to_string_pretty(&changes)
                .map_err(std::io::Error::other)
                .and_then(|json| writeln!(out, "{}", tib_support::printable(&json))),
            Format::Csv => write!(out, "{}", show::history_csv(&changes)),
            Format::Table if changes.is_empty() => writeln!(out, "no changes recorded for {}", connection.name()),
            Format::Table => {
                let rows: Vec<Vec<String>> = changes.iter().map(show::history_cells).collect();
                write!(out, "{}", table(&show::HISTORY_HEADER, &rows))
            }
        };
        written.map_err(|e| Failure(format!("cannot write the history: {e}"), 2))
    }

    fn users(&self, integration: &str, account: &str, all: bool, format: Format) -> Result<(), Failure> {
        let connection = self.find(integration, account)?;
        let users = self.store.users(connection.id, all)?;
        let mut out = std::io::stdout().lock();
        let written = match format {
            Format::Json => serde_json::to_string_pretty(&users)
                .map_err(std::io::Error::other)
                .and_then(|json| writeln!(out, "{}", tib_support::printable(&json))),
            Format::Csv => write!(out, "{}", csv(&users)),
            Format::Table => {
                let rows: Vec<Vec<String>> = users.iter().map(user_cells).collect();
                write!(out, "{}", table(&USER_HEADER, &rows))
            }
        };
        written.map_err(|e| Failure(format!("cannot write the users: {e}"), 2))
    }

    async fn serve(
        &self,
        schedule: Schedule,
        listen: std::net::SocketAddr,
        limits: crate::listen::Limits,
        admin: Option<crate::api::admin::AdminToken>,
        proxies: crate::client::TrustedProxies,
    ) -> Result<(), Failure> {
        let engine = Arc::new(self.engine()?);
        let live = engine.live.clone();
        let secure = self.settings.public_url.scheme() == "https";
        let api = Arc::new(crate::api::Api {
            store: self.store.clone(),
            clock: self.clock.clone(),
            vault: engine.vault.clone(),
            client: engine.client.clone(),
            public_url: self.settings.public_url.clone(),
            admin,
            policy: self.apply_policy(),
            attempts: Default::default(),
            proxies: Arc::new(proxies),
        });
        let callback = Arc::new(crate::oauth::Callback {
            store: self.store.clone(),
            vault: engine.vault.clone(),
            clock: self.clock.clone(),
            client: engine.client.clone(),
        });
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Failure(format!("cannot listen on {listen} for the API and OAuth redirects: {e}"), 2))?;
        // Slow: a quarter of an hour, or less when the deadline is shorter.
        let slow_after = schedule::SLOW_SECS.min(self.settings.sync_deadline.as_secs() as i64 / 2);
        let Schedule { max_concurrent, poll, caps } = schedule;
        let owner = engine.owner.clone();
        let notifying = engine.clone();
        let scheduler =
            Scheduler::new(self.store.clone(), self.clock.clone(), engine, usize::from(max_concurrent), &owner)
                .with_slow_after(slow_after)
                .with_lease(self.settings.lease)
                .with_caps(caps);
        tracing::info!(store = %self.store_shown(), %owner, max_concurrent, %listen, public_url = %self.settings.public_url, "serving");
        if let Some(dir) = self.settings.specs.clone() {
            // A second: an engineer saves a spec and connects it.
            crate::integrations::watch(dir, self.settings.max_spec_bytes, Duration::from_secs(1));
        }
        // One signal stops both the scheduler and the callback server.
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
            let proxies = api.proxies.clone();
            let console =
                Arc::new(crate::console::Console { api: api.clone(), sessions: Default::default(), live, secure });
            let routes = crate::oauth::router(callback)
                .merge(crate::api::router(api))
                .merge(crate::console::router(console))
                .layer(axum::middleware::from_fn(crate::security::refuse_nul))
                .layer(axum::middleware::map_response(crate::security::headers));
            crate::listen::serve(listener, routes, limits, proxies, shutdown).await
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

    fn status(&self) -> Result<(), Failure> {
        println!("store: {}", self.store.health()?);
        let now = self.clock.now();
        for c in self.store.connections()? {
            let last = self.store.last_run(c.id)?;
            let health = match (&last, c.enabled) {
                (_, false) => format!("disabled: {}", c.disabled_reason.clone().unwrap_or_default()),
                (None, true) => "not synced yet".to_owned(),
                (Some(run), true) => match run.outcome {
                    crate::store::Outcome::Applied | crate::store::Outcome::Approved => {
                        format!("ok, last synced {}", when(run.ended_at))
                    }
                    crate::store::Outcome::Held => "held: waiting for `tib approve`".to_owned(),
                    outcome => format!("{}: {}", outcome.as_str(), run.error.clone().unwrap_or_default()),
                },
            };
            let overdue = if c.enabled && c.next_sync_at < now - 3600 { " (overdue)" } else { "" };
            println!("{}: {}{overdue}", c.name(), tib_support::one_line(&health));
        }
        let notifications = self.store.notifications(5)?;
        if !notifications.is_empty() {
            println!("recent notifications:");
            for n in notifications {
                println!("  {} {} {}", when(Some(n.created_at)), n.kind, tib_support::one_line(&n.message));
            }
        }
        Ok(())
    }

    async fn demo(&self) -> Result<(), Failure> {
        let api = crate::demo::start().await.map_err(|e| Failure(format!("cannot start the demo API: {e}"), 2))?;
        println!("demo Acme API on {}", api.base_url);
        let flags = [("tenant".to_owned(), "demo".to_owned()), ("api_token".to_owned(), crate::demo::TOKEN.to_owned())];
        let base_url = url::Url::parse(&api.base_url).map_err(|e| Failure(e.to_string(), 2))?;
        let overrides = Overrides { base_url: Some(base_url), ..Overrides::default() };
        self.connect("acme", "Demo", &flags, &overrides, schedule::DAY)?;
        self.sync(Some("acme".to_owned()), Some("Demo".to_owned()), false, 1).await?;
        let connection = self.find("acme", "Demo")?;
        let users = self.store.users(connection.id, false)?;
        let rows: Vec<Vec<String>> = users.iter().take(8).map(user_cells).collect();
        print!("{}", table(&USER_HEADER, &rows));
        let store = self.store_shown();
        println!("… {} active users stored in {store}", users.len());
        println!("look further: tib --store {store} users acme Demo --all --format json");
        println!("              tib --store {store} list");
        Ok(())
    }
}

/// Asks for a credential at the terminal; secrets are not echoed.
fn prompt(credential: &CredentialSpec) -> Option<String> {
    let label = if credential.description.is_empty() {
        format!("{}: ", credential.name)
    } else {
        format!("{} ({}): ", credential.name, credential.description)
    };
    if credential.secret {
        return rpassword::prompt_password(label).ok();
    }
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_owned())
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
