//! The `tib` command line: connect accounts, sync them, look at their users,
//! and serve the schedule. This file reads the command and builds what the
//! commands share (a `Context`, over the [`Services`]); each group of
//! commands is a file: `accounts` (connect, enable, approve, disconnect,
//! list, status, integrations), `sync`, `read` (users, history), `serve`,
//! `store` (migrate) and `demo`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tib_support::{ClientSettings, NetworkPolicy};

mod accounts;
mod demo;
mod operators;
mod read;
mod serve;
mod settings;
pub(crate) mod show;
mod store;
mod sync;

use crate::clock::{Clock, SystemClock};
use crate::operate::{ErrorKind, Overrides};
use crate::services::Services;
use crate::store::sqlite::Sqlite;
use crate::store::{ApplyPolicy, HoldPolicy, Store};
use crate::vault::Vault;

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
    /// Certificate authorities trusted besides the public ones (an on-premise API signed by the
    /// company's own): a PEM file, repeatable, or comma-separated in TIB_TRUST_CA.
    #[arg(long = "trust-ca", global = true, env = "TIB_TRUST_CA", value_name = "FILE",
          value_delimiter = ',', value_parser = settings::certificates)]
    trusted: Vec<Vec<u8>>,
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

/// What `tib token` does.
#[derive(clap::Subcommand)]
enum TokenAction {
    /// Make a token and print it: it is shown this once, and only its hash is kept.
    Add {
        /// What it is for: 1 to 64 letters, digits, `-`, `_`, `.` or `@` (`scim-reader`).
        name: String,
        #[arg(long, value_parser = ["admin", "viewer"], default_value = "viewer")]
        role: String,
    },
    /// Every token: name, role, when and by whom it was made.
    List,
    /// Remove a token: requests presenting it are refused from now on.
    Remove { name: String },
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
        #[command(flatten)]
        sso: SsoArgs,
    },
    /// Read an admin token on stdin and print the line `--admin-token-file` holds for it.
    HashToken,
    /// Move the store to another backend.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Named API tokens, for machines: each with a role, admin (everything) or viewer (reads only).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Every change an operator made or tried, newest first: who, what, to what, from where, when.
    Audit {
        /// The newest this many.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=500))]
        limit: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Health of the store and of every connection, and recent notifications.
    Status,
    /// The integrations compiled into this runtime and the credentials each asks for.
    Integrations,
    /// Serve a demo Acme API on 127.0.0.1, connect it and sync it: the whole path, offline.
    Demo,
}

/// Operators logging in to the console at the company's identity provider (OpenID Connect).
#[derive(Args)]
struct SsoArgs {
    /// The identity provider's issuer URL (its discovery document is under it): operators log in
    /// there; its client's redirect URL is the public URL plus /login/sso/callback.
    #[arg(long = "oidc-issuer", env = "TIB_OIDC_ISSUER", value_name = "URL")]
    issuer: Option<url::Url>,
    /// The client id tib has at the identity provider. Its secret, for a confidential client, is
    /// TIB_OIDC_CLIENT_SECRET.
    #[arg(long = "oidc-client-id", env = "TIB_OIDC_CLIENT_ID", value_name = "ID", requires = "issuer")]
    client_id: Option<String>,
    /// The operators who are admins: their emails (or usernames, or subjects), comma-separated.
    /// Everyone else the identity provider lets in is a viewer, who reads only.
    #[arg(long = "oidc-admins", env = "TIB_OIDC_ADMINS", value_name = "EMAIL", value_delimiter = ',')]
    admins: Vec<String>,
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
    /// Request the first page with the credentials before saving them: a refusal saves nothing
    /// (an account being replaced keeps its old credentials).
    #[arg(long)]
    try_first: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

/// How long a command that ends waits for its notifications to reach the webhook.
const NOTIFY_GRACE: Duration = Duration::from_secs(15);

/// What the commands share: the services over the store, and the settings.
struct Context {
    services: Arc<Services>,
    store_path: PathBuf,
    settings: Settings,
}

/// A failed command: its message, and the exit code (1: it failed, 2: bad usage or setup).
struct Failure(String, u8);

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure(e.to_string(), 2)
    }
}

/// An operation's error, by its kind: what was named is not there, or does not fit, is a failed
/// command (1); what was given is wrong, or the server failed, is bad usage or setup (2).
impl From<crate::operate::Error> for Failure {
    fn from(e: crate::operate::Error) -> Self {
        let code = match e.kind {
            ErrorKind::NotFound | ErrorKind::Conflict => 1,
            ErrorKind::Invalid | ErrorKind::Forbidden | ErrorKind::Failed => 2,
        };
        Failure(e.message, code)
    }
}

/// An error about a connection a command named: a missing one says how to see those there are.
fn about_connection(e: crate::operate::Error) -> Failure {
    match e.kind {
        ErrorKind::NotFound => Failure(format!("{}; `tib list` shows the connections", e.message), 1),
        _ => Failure::from(e),
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
        for (path, id) in &report.compiled {
            eprintln!("tib: {}", crate::integrations::shadowed_words(path, id));
        }
    }
    if let Command::Integrations = cli.command {
        accounts::integrations(&cli.settings.public_url);
        return Ok(());
    }
    if let Command::Store { action: StoreAction::Migrate { from, to } } = &cli.command {
        return store::migrate(from, to);
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
    let context = Context::new(store, clock, store_path, cli.settings)?;
    // Not fatal: on a full disk the commands that only read must still work.
    match context.services.recover_interrupted().await {
        Ok(0) => {}
        Ok(recovered) => {
            tracing::warn!(recovered, "syncs interrupted by a stopped process were recorded as interrupted")
        }
        Err(error) => tracing::warn!(%error, "cannot record interrupted syncs now; they are recorded later"),
    }
    match cli.command {
        Command::Connect(args) => {
            let ConnectArgs { integration, account, credentials, base_url, every, token_url, authorize_url, try_first } =
                *args;
            let endpoints = Overrides { base_url, token_url, authorize_url };
            let trial = crate::operate::Trial::asked(try_first);
            context.connect(&integration, &account, &credentials, endpoints, every, trial).await
        }
        Command::Disconnect { integration, account } => {
            context.act(&integration, &account, crate::operate::Action::Disconnect).await
        }
        Command::Enable { integration, account } => {
            context.act(&integration, &account, crate::operate::Action::Enable).await
        }
        Command::Approve { integration, account } => {
            context.act(&integration, &account, crate::operate::Action::Approve).await
        }
        Command::List => context.list().await,
        Command::Sync { integration, account, all, max_concurrent } => {
            context.sync(integration, account, all, usize::from(max_concurrent)).await
        }
        Command::History { integration, account, user, since, limit, format } => {
            let since = since.map(|window| context.services.clock.now().saturating_sub(window));
            context.history(&integration, &account, crate::store::HistoryQuery { user, since, limit }, format).await
        }
        Command::Users { integration, account, all, format } => {
            context.users(&integration, &account, all, format).await
        }
        Command::Serve {
            max_concurrent,
            poll,
            listen,
            max_connections,
            admin_token_file,
            caps,
            trusted_proxies,
            sso,
        } => {
            let limits = crate::listen::Limits { max_connections: usize::from(max_connections), ..Default::default() };
            let proxies = crate::access::proxies::TrustedProxies::new(trusted_proxies);
            let admin = serve::admin_token(admin_token_file.as_deref())?;
            if admin.is_none() && !listen.ip().is_loopback() {
                return fail(format!(
                    "refusing to listen on {listen} without an admin token: set TIB_ADMIN_TOKEN or \
                     --admin-token-file, or listen on 127.0.0.1"
                ));
            }
            let schedule = Schedule { max_concurrent, poll, caps: caps.into_iter().collect() };
            let oidc = serve::single_sign_on(sso)?;
            context.serve(schedule, listen, limits, serve::Access { admin, proxies, oidc }).await
        }
        Command::HashToken => serve::hash_token(),
        Command::Token { action } => context.token(action).await,
        Command::Audit { limit, format } => context.audit(limit, format).await,
        Command::Status => context.status().await,
        Command::Demo => context.demo().await,
        Command::Integrations => {
            accounts::integrations(&context.settings.public_url);
            Ok(())
        }
        Command::Store { action: StoreAction::Migrate { from, to } } => store::migrate(&from, &to),
    }
}

impl Context {
    fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        store_path: PathBuf,
        settings: Settings,
    ) -> Result<Context, Failure> {
        let client = tib_support::Client::new(ClientSettings {
            timeout: Duration::from_secs(30),
            max_answer_bytes: settings.max_answer_bytes,
            network: NetworkPolicy::allowing(settings.allow_networks.clone()),
            trusted: settings.trusted.clone(),
        })
        .map_err(|e| Failure(e.to_string(), 2))?;
        let policy = ApplyPolicy {
            hold: HoldPolicy { max_share: settings.hold_share, ..HoldPolicy::default() },
            keep_history_secs: settings.keep_history,
        };
        let open_vault = vault_opener(store.clone(), &store_path, settings.key_file.clone());
        let notifier = crate::notify::Notifier::new(settings.webhook.clone(), crate::notify::default_retries())
            .map_err(|e| Failure(e, 2))?;
        let public_url = settings.public_url.clone();
        let services = Services::new(store, clock, client, policy, public_url, notifier, open_vault);
        Ok(Context { services: Arc::new(services), store_path, settings })
    }

    /// The store as messages show it (a URL without its password).
    fn store_shown(&self) -> String {
        crate::store::shown(&self.store_path.to_string_lossy())
    }

    /// The vault, opened now: a failure is a setup error.
    fn vault(&self) -> Result<Arc<Vault>, Failure> {
        self.services.vault().map_err(|e| Failure(e, 2))
    }
}

/// How the commands open the vault that seals credentials: from TIB_KEY, or the key file (beside an
/// SQLite store unless given), made only where nothing sealed could be lost by it.
fn vault_opener(
    store: Arc<dyn Store>,
    store_path: &std::path::Path,
    key_file: Option<PathBuf>,
) -> crate::services::OpenVault {
    let location = store_path.to_string_lossy().into_owned();
    let given = key_file.is_some();
    let key_file = key_file.unwrap_or_else(|| store_path.with_file_name("tib.key"));
    Box::new(move || {
        let env_key = std::env::var("TIB_KEY").ok();
        let postgres = crate::store::postgres::is_url(&location);
        if postgres && env_key.is_none() && !given {
            // A key made beside a URL would be one instance's alone: every other would fail to open it.
            return Err("with a PostgreSQL store, give the key that seals credentials: --key-file or TIB_KEY (every \
                        instance on the database needs the same key)"
                .to_owned());
        }
        // A new key is made only for a store that holds nothing sealed: made in silence for one
        // that does, every connection would fail to open its credentials, sync after sync.
        if env_key.is_none() && !key_file.exists() {
            let sealed = store.connections().map_err(|e| e.to_string())?.len();
            // Looked at again after counting: a `tib connect` running beside this process makes
            // its key before it seals a connection, so a connection seen here with no key file
            // after it means the key really is gone, not that it was being made.
            if sealed > 0 && !key_file.exists() {
                return Err(format!(
                    "the key file {} is missing, but the store {} holds {sealed} connections sealed with a key: \
                     restore the key file (or set TIB_KEY to the key), or connect the accounts again",
                    key_file.display(),
                    crate::store::shown(&location)
                ));
            }
        }
        Vault::open(env_key.as_deref(), &key_file)
    })
}
