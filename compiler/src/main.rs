//! `compiler`: the command line of the tib compiler.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use compiler::diag::{self, Severity, Style};
use compiler::workspace::{self, CatalogFile};

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
    },
    /// Check every spec in specs/ and write its connector crate into connectors/ (the default).
    Generate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check { files }) => check(&cli.root, files).0,
        None | Some(Command::Generate) => generate(&cli.root),
    }
}

fn generate(root: &std::path::Path) -> ExitCode {
    let (code, specs) = check(root, Vec::new());
    let Some(specs) = specs else { return code };
    let specs: Vec<&compiler::ir::Spec> = specs.iter().filter_map(|s| s.compiled.spec.as_ref()).collect();
    let files = compiler::generate::files(&specs);
    match compiler::generate::write(root, &files) {
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

/// Checks and reports; the checked files come back when there were no errors.
fn check(root: &std::path::Path, files: Vec<PathBuf>) -> (ExitCode, Option<Vec<workspace::SpecFile>>) {
    let style = if std::io::stderr().is_terminal() { Style::Color } else { Style::Plain };
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
    if let CatalogFile::Invalid { display, text, diagnostics } = &catalog_file {
        eprint!("{}", diag::render(diagnostics, display, text, style));
        count(diagnostics);
    }
    let specs = match workspace::compile_files(root, &paths, &catalog_file.catalog()) {
        Ok(specs) => specs,
        Err(error) => {
            eprintln!("error: {error}");
            return (ExitCode::from(2), None);
        }
    };
    for spec in &specs {
        eprint!("{}", diag::render(&spec.compiled.diagnostics, &spec.display, &spec.text, style));
        count(&spec.compiled.diagnostics);
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    eprintln!("checked {}: {}, {}", plural(specs.len(), "spec"), plural(errors, "error"), plural(warnings, "warning"));
    if errors > 0 { (ExitCode::FAILURE, None) } else { (ExitCode::SUCCESS, Some(specs)) }
}
