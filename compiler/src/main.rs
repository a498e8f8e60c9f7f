//! `compiler`: the command line of the tib compiler.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tib_front::diag::{self, Severity, Style};
use tib_front::workspace::{self, CatalogFile};

#[derive(Parser)]
#[command(name = "compiler", about = "Checks .tib specs and generates tib connectors")]
struct Cli {
    /// The workspace root: it holds specs/ and custom-fields.toml.
    #[arg(long, global = true, default_value = ".")]
    root: PathBuf,
    /// What to do; without one, generate every connector.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check specs and report every problem (all of specs/ when none are named).
    Check {
        /// Spec files to check.
        files: Vec<PathBuf>,
        /// `json`: one JSON document on stdout, for editors and CI annotations.
        #[arg(long, value_enum, default_value_t = Format::Plain)]
        format: Format,
    },
    /// Check every spec in specs/ and write its connector crate into connectors/ (the default).
    Generate,
    /// Explain a diagnostic code (`tib::unknown-setting` or `unknown-setting`) with a wrong and a right
    /// example; without one, list every code.
    Explain {
        /// The code, as a report names it.
        code: Option<String>,
    },
    /// Speak the Language Server Protocol on stdin and stdout, for editors.
    Lsp,
    /// Draft a spec from another description of the API.
    #[command(subcommand)]
    Import(Import),
    /// Rewrite specs in the canonical layout (all of specs/ when none are named).
    Fmt {
        /// Spec files to format.
        files: Vec<PathBuf>,
        /// Change nothing: show how each unformatted spec differs, and exit 1 if one does.
        #[arg(long)]
        check: bool,
    },
    /// Call a spec's users endpoint once: show the request, the answer, and where the users are in it.
    Test {
        /// The spec to try.
        spec: PathBuf,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Follow a spec's pages and show every user as its connector would store it, with the problems.
    Preview {
        /// The spec to try.
        spec: PathBuf,
        #[command(flatten)]
        connect: ConnectArgs,
        /// The most pages to fetch.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        pages: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Try a spec at a prompt: for OAuth authorization code specs, authorize in the browser first (the
    /// tokens stay in memory), then test, preview, see the token's lifetime, authorize again or clear.
    Session {
        /// The spec to try.
        spec: PathBuf,
        #[command(flatten)]
        connect: ConnectArgs,
        /// The port of the loopback redirect URL the provider must allow: http://127.0.0.1:PORT/callback.
        #[arg(long, default_value_t = tib_support::oauth::TEST_REDIRECT_PORT)]
        port: u16,
        /// The runtime's public URL, to show the production redirect URL the provider must also allow.
        #[arg(long, env = "TIB_PUBLIC_URL", default_value = "http://127.0.0.1:8421")]
        public_url: url::Url,
    },
}

#[derive(Subcommand)]
enum Import {
    /// Draft a spec from an OpenAPI document (3.0, 3.1 or Swagger 2.0; JSON or YAML): the base URL,
    /// auth, request, paging, users path and fields it shows. What it cannot tell is left as
    /// `todo "…"`, which the checker refuses until it is filled in.
    Openapi {
        /// The OpenAPI document.
        file: PathBuf,
        /// The operation that lists the users, by its operationId (otherwise the likeliest).
        #[arg(long, conflicts_with = "path")]
        operation: Option<String>,
        /// The operation that lists the users, by its path (e.g. /users).
        #[arg(long)]
        path: Option<String>,
        /// The app's name (otherwise the document's title).
        #[arg(long)]
        app: Option<String>,
        /// Write the draft here (a new file) instead of to standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// How `check` reports.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Rendered reports on stderr, with colour on a terminal.
    Plain,
    /// Per file, per diagnostic: code, severity, message, labels (byte offsets, lines and columns),
    /// help and replacements.
    Json,
}

/// What `test` and `preview` connect with.
#[derive(Args)]
struct ConnectArgs {
    /// A credential the spec declares, as NAME=VALUE; repeat for each. A credential not given here is
    /// read from the environment variable TIB_<NAME> (which keeps secrets out of the shell history).
    #[arg(long = "cred", value_name = "NAME=VALUE", value_parser = tib_support::name_value)]
    credentials: Vec<(String, String)>,
    /// For OAuth 2.0 specs: an access token (otherwise read from TIB_ACCESS_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    access_token: Option<String>,
    /// Send the requests here instead of the spec's base_url: a sandbox, or a local server.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// For OAuth 2.0 specs: fetch tokens here instead of the spec's token_url (a sandbox, a
    /// regional endpoint, or a local server), as `tib connect --token-url` does.
    #[arg(long, value_name = "URL")]
    token_url: Option<String>,
    /// For OAuth 2.0 authorization code specs: send the user here instead of the spec's authorize_url.
    #[arg(long, value_name = "URL")]
    authorize_url: Option<String>,
    /// Requests go to public addresses only; this allows a network besides (a local server, an
    /// on-premise API): a CIDR or one address, repeatable, or comma-separated in TIB_ALLOW_NETWORKS.
    #[arg(long = "allow-network", env = "TIB_ALLOW_NETWORKS", value_name = "CIDR", value_delimiter = ',',
          value_parser = tib_support::network::parse_network)]
    allow_networks: Vec<ipnet::IpNet>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check { files, format }) => check(&cli.root, files, format).0,
        None | Some(Command::Generate) => generate(&cli.root),
        Some(Command::Fmt { files, check }) => fmt(&cli.root, files, check),
        Some(Command::Explain { code }) => explain(code.as_deref()),
        Some(Command::Import(Import::Openapi { file, operation, path, app, output })) => {
            let choice = match (&operation, &path) {
                (Some(id), _) => compiler::import::Choice::Id(id),
                (None, Some(path)) => compiler::import::Choice::Path(path),
                (None, None) => compiler::import::Choice::Likeliest,
            };
            import_openapi(&file, choice, app.as_deref(), output.as_deref())
        }
        Some(Command::Lsp) => match tib_lsp::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: the language server stopped: {error}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Test { spec, connect }) => live(&cli.root, spec, connect, Live::Test),
        Some(Command::Preview { spec, connect, pages, json }) => {
            live(&cli.root, spec, connect, Live::Preview { pages, json })
        }
        Some(Command::Session { spec, connect, port, public_url }) => {
            live(&cli.root, spec, connect, Live::Session { port, public_url })
        }
    }
}

enum Live {
    Test,
    Preview { pages: u32, json: bool },
    Session { port: u16, public_url: url::Url },
}

/// `test` and `preview`: check the spec, then try it against the API.
fn live(root: &std::path::Path, spec: PathBuf, connect: ConnectArgs, command: Live) -> ExitCode {
    let (code, specs) = check(root, vec![spec], Format::Plain);
    let Some(spec) = specs.and_then(|specs| specs.into_iter().next()).and_then(|s| s.compiled.spec) else {
        return code;
    };
    let given = compiler::preview::connect::Given {
        credentials: connect.credentials,
        access_token: connect.access_token,
        base_url: connect.base_url,
        token_url: connect.token_url,
        authorize_url: connect.authorize_url,
        allow_networks: connect.allow_networks,
    };
    let app_id = spec.app.id.clone();
    let authorization_code = matches!(spec.auth, tib_front::ir::Auth::OAuthAuthorizationCode(_));
    let mut session = match compiler::preview::Session::new(spec, given, |name| std::env::var(name).ok()) {
        Ok(session) => session,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async {
        match command {
            Live::Test => session.test().await,
            Live::Preview { pages, json } => session.preview(pages, json, &mut |part| print(part)).await,
            Live::Session { port, public_url } => {
                let production = tib_support::oauth::production_redirect_url(&public_url, &app_id);
                prompt(&mut session, port, authorization_code, &production).await
            }
        }
    });
    print(&outcome.text);
    if outcome.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Writes what a command shows. What the API sent is in there: its control
/// characters are shown, not obeyed.
fn print(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(tib_support::printable(text).as_bytes());
    let _ = stdout.flush();
}

/// `session`: commands read from standard input until `quit` or its end.
async fn prompt(
    session: &mut compiler::preview::Session,
    port: u16,
    authorization_code: bool,
    production: &url::Url,
) -> compiler::preview::Outcome {
    use tokio::io::AsyncBufReadExt;
    let say = print;
    let authorize = async |session: &mut compiler::preview::Session| {
        let result = session
            .authorize(port, |url| {
                say(&format!(
                    "open this link to authorize (it redirects to http://127.0.0.1:{port}/callback):\n  {url}\n"
                ));
            })
            .await;
        match result {
            Ok(()) => say(&format!("authorized: {}\n", session.token_status(chrono::Utc::now().timestamp()))),
            Err(error) => say(&format!("error: {error}\n")),
        }
    };
    if authorization_code {
        say(&format!(
            "the provider must allow these redirect URLs:\n  {production} (production: tib serve)\n  {} (test: this session)\n",
            tib_support::oauth::test_redirect_url(port)
        ));
        authorize(session).await;
    }
    say("commands: test | preview [PAGES] [json] | token | authorize | clear | quit\n> ");
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["quit" | "exit"] => break,
            ["test"] => say(&session.test().await.text),
            ["preview", rest @ ..] => {
                let pages = rest.iter().find_map(|w| w.parse().ok()).unwrap_or(3);
                say(&session.preview(pages, rest.contains(&"json"), &mut |part| say(part)).await.text);
            }
            ["token"] => say(&format!("{}\n", session.token_status(chrono::Utc::now().timestamp()))),
            ["authorize"] => authorize(session).await,
            ["clear"] => {
                session.clear();
                say("cleared: the session holds no token\n");
            }
            other => say(&format!("unknown command `{}`\n", other.join(" "))),
        }
        say("> ");
    }
    compiler::preview::Outcome { text: String::new(), ok: true }
}

fn generate(root: &std::path::Path) -> ExitCode {
    let (code, specs) = check(root, Vec::new(), Format::Plain);
    let Some(specs) = specs else { return code };
    let specs: Vec<&tib_front::ir::Spec> = specs.iter().filter_map(|s| s.compiled.spec.as_ref()).collect();
    let files = tib_front::generate::files(&specs);
    match tib_front::generate::write(root, &files) {
        Ok(changes) => {
            for path in &changes.written {
                eprintln!("wrote {path}");
            }
            for path in &changes.removed {
                eprintln!("removed {path} (its spec is gone)");
            }
            eprintln!(
                "generated {} connectors: {} files written, {} unchanged, {} crates removed",
                specs.len(),
                changes.written.len(),
                changes.unchanged,
                changes.removed.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// `explain`: one code's explanation, or every code with its first sentence.
fn explain(code: Option<&str>) -> ExitCode {
    // A closed pipe (`| head`) ends the listing; it is not an error.
    let print = |text: String| {
        let _ = std::io::stdout().write_all(text.as_bytes());
        ExitCode::SUCCESS
    };
    let Some(code) = code else {
        let list = tib_front::explain::all().map(|(code, text)| {
            let first = text.split_once(". ").map_or(text, |(sentence, _)| sentence).replace('\n', " ");
            format!("{code:32} {first}\n")
        });
        return print(list.collect());
    };
    if let Some(text) = tib_front::explain::explain(code) {
        let code = code.strip_prefix("tib::").unwrap_or(code);
        return print(format!("tib::{code}\n\n{text}\n"));
    }
    let hint = match tib_front::explain::closest(code) {
        Some(closest) => format!("did you mean `tib::{closest}`?"),
        None => "`compiler explain` lists every code".to_owned(),
    };
    eprintln!("error: no diagnostic has the code `{code}`\n  help: {hint}");
    ExitCode::FAILURE
}

/// `fmt`: formats specs in place, or with `check` shows the difference and changes nothing.
fn fmt(root: &std::path::Path, files: Vec<PathBuf>, check: bool) -> ExitCode {
    let paths = if files.is_empty() {
        match workspace::spec_paths(root) {
            Ok(paths) => paths,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        files
    };
    let style = report_style();
    let (mut unformatted, mut unusable, mut failed) = (0, 0, false);
    for path in &paths {
        let display = workspace::display(root, path);
        let (text, problem) = workspace::read(path, &display);
        let formatted = match problem {
            Some(problem) => Err(vec![problem]),
            None => tib_front::format::format(&text),
        };
        let formatted = match formatted {
            Ok(formatted) if formatted == text => continue,
            Ok(formatted) => formatted,
            Err(diagnostics) => {
                eprint!("{}", diag::render(&diagnostics, &display, &text, style));
                unusable += 1;
                continue;
            }
        };
        unformatted += 1;
        if check {
            let diff = similar::TextDiff::from_lines(&text, &formatted);
            // A closed pipe (`| head`) is not an error of the check.
            let _ = write!(
                std::io::stdout(),
                "{}",
                diff.unified_diff().header(&display, &format!("{display} (formatted)"))
            );
        } else if let Err(e) = write_replacing(path, &formatted) {
            eprintln!("error: could not write {display}: {e}");
            failed = true;
        } else {
            eprintln!("formatted {display}");
        }
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let verb = if check { "need formatting" } else { "formatted" };
    eprintln!("{} spec{}: {unformatted} {verb}, {unusable} not formatted for errors", paths.len(), plural(paths.len()));
    if failed {
        ExitCode::from(2)
    } else if unusable > 0 || (check && unformatted > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes a file whole or not at all: a crash midway leaves the old text, never half of the new.
fn write_replacing(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".fmt-tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// Colour on a terminal, unless NO_COLOR (no-color.org) is set to anything but empty.
fn report_style() -> Style {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if std::io::stderr().is_terminal() && !no_color { Style::Color } else { Style::Plain }
}

/// Checks and reports; the checked files come back when there were no errors.
fn check(root: &std::path::Path, files: Vec<PathBuf>, format: Format) -> (ExitCode, Option<Vec<workspace::SpecFile>>) {
    let style = report_style();
    let loaded = CatalogFile::load(root).and_then(|catalog| {
        let paths = if files.is_empty() { workspace::spec_paths(root)? } else { files };
        Ok((catalog, paths))
    });
    let (catalog_file, paths) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return (ExitCode::from(2), None);
        }
    };
    let (mut errors, mut warnings) = (0, 0);
    let mut count = |diagnostics: &[diag::Diagnostic]| {
        for d in diagnostics {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
        }
    };
    let mut json_files = Vec::new();
    let mut report = |diagnostics: &[diag::Diagnostic], display: &str, text: &str| match format {
        Format::Plain => eprint!("{}", diag::render(diagnostics, display, text, style)),
        Format::Json => json_files.push(serde_json::json!({
            "path": display,
            "diagnostics": diag::to_json(diagnostics, text),
        })),
    };
    if let CatalogFile::Invalid { display, text, diagnostics } = &catalog_file {
        report(diagnostics, display, text);
        count(diagnostics);
    }
    let specs = workspace::compile_files(root, &paths, &catalog_file.catalog());
    for spec in &specs {
        report(&spec.compiled.diagnostics, &spec.display, &spec.text);
        count(&spec.compiled.diagnostics);
    }
    if format == Format::Json {
        let document = serde_json::json!({"files": json_files, "errors": errors, "warnings": warnings});
        println!("{document:#}");
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    eprintln!("checked {}: {}, {}", plural(specs.len(), "spec"), plural(errors, "error"), plural(warnings, "warning"));
    // 2 when a file could not be read (the others were still checked), as for any bad setup.
    let unreadable = specs.iter().any(|s| s.compiled.diagnostics.iter().any(|d| d.code == workspace::UNREADABLE));
    match (unreadable, errors) {
        (true, _) => (ExitCode::from(2), None),
        (false, 0) => (ExitCode::SUCCESS, Some(specs)),
        (false, _) => (ExitCode::FAILURE, None),
    }
}

/// `compiler import openapi`: the draft on stdout or in a new file, and on
/// stderr what it was made from and each gap left, with its line.
fn import_openapi(
    file: &std::path::Path,
    choice: compiler::import::Choice<'_>,
    app: Option<&str>,
    output: Option<&std::path::Path>,
) -> ExitCode {
    let fail = |message: String| {
        eprintln!("error: {message}");
        ExitCode::FAILURE
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => return fail(format!("cannot read {}: {error}", file.display())),
    };
    let source = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
    let options = compiler::import::Options { choice, app, source: &source };
    let imported = match compiler::import::openapi(&text, &options) {
        Ok(imported) => imported,
        Err(error) => return fail(format!("{}: {error}", file.display())),
    };
    let written_to = match output {
        None => {
            print!("{}", imported.text);
            "a spec".to_owned()
        }
        Some(path) => {
            let created = std::fs::OpenOptions::new().write(true).create_new(true).open(path);
            match created.and_then(|mut f| f.write_all(imported.text.as_bytes())) {
                Ok(()) => path.display().to_string(),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    return fail(format!("{} exists: choose another name, or delete it first", path.display()));
                }
                Err(error) => return fail(format!("cannot write {}: {error}", path.display())),
            }
        }
    };
    eprintln!("drafted {written_to} from {}: {}", file.display(), imported.operation);
    let gap_lines: Vec<usize> =
        imported.text.lines().enumerate().filter(|(_, line)| line.contains("todo \"")).map(|(i, _)| i + 1).collect();
    if imported.gaps.is_empty() {
        eprintln!("no gaps: check it, then try it with `compiler test` and `compiler preview`");
    } else {
        let count = match imported.gaps.len() {
            1 => "1 gap".to_owned(),
            n => format!("{n} gaps"),
        };
        eprintln!("{count} to fill in (`compiler check` refuses the draft until they are):");
        for (i, gap) in imported.gaps.iter().enumerate() {
            match gap_lines.get(i) {
                Some(line) => eprintln!("  line {line}: {gap}"),
                None => eprintln!("  {gap}"),
            }
        }
    }
    ExitCode::SUCCESS
}
