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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check specs and report every problem (all of specs/ when none are named).
    Check {
        /// Spec files to check.
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { files } => check(&cli.root, files),
    }
}

fn check(root: &std::path::Path, files: Vec<PathBuf>) -> ExitCode {
    let style = if std::io::stderr().is_terminal() { Style::Color } else { Style::Plain };
    let loaded = CatalogFile::load(root).and_then(|catalog| {
        let paths = if files.is_empty() { workspace::spec_paths(root)? } else { files };
        Ok((catalog, paths))
    });
    let (catalog_file, paths) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
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
            return ExitCode::from(2);
        }
    };
    for spec in &specs {
        eprint!("{}", diag::render(&spec.compiled.diagnostics, &spec.display, &spec.text, style));
        count(&spec.compiled.diagnostics);
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    eprintln!("checked {}: {}, {}", plural(specs.len(), "spec"), plural(errors, "error"), plural(warnings, "warning"));
    if errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
