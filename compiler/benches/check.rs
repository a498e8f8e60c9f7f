//! Benchmark: parse and check 1,000 specs (the example specs, cycled), as
//! `cargo bench -p compiler --bench check` prints it. Goal: under 1 ms per typical spec.
//! Then one very large spec: 100,000 licenses and 100,000 query keys, whose
//! duplicate checks must stay linear. Goal: under a second.

use std::path::Path;
use std::time::{Duration, Instant};

use tib_front::catalog::Catalog;

const SPECS: usize = 1_000;
const ROUNDS: usize = 15;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("compiler/ has a parent");
    let catalog_text = std::fs::read_to_string(root.join("custom-fields.toml")).expect("catalog");
    let catalog = Catalog::parse(&catalog_text).expect("valid catalog");
    let mut examples: Vec<(String, String)> = std::fs::read_dir(root.join("specs"))
        .expect("specs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "tib"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).expect("readable")))
        .collect();
    examples.sort();
    let specs: Vec<&(String, String)> = examples.iter().cycle().take(SPECS).collect();
    let bytes: usize = specs.iter().map(|(_, text)| text.len()).sum();

    let mut rounds: Vec<Duration> = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut clean = 0;
        for (path, text) in &specs {
            let compiled = tib_front::compile(path, text, &catalog);
            clean += usize::from(compiled.spec.is_some());
        }
        rounds.push(start.elapsed());
        assert_eq!(clean, SPECS, "every example spec checks clean");
    }
    rounds.sort();
    let median = rounds[ROUNDS / 2];
    let per_spec = median / SPECS as u32;
    println!(
        "check {SPECS} specs ({} examples cycled, {:.1} KiB each on average): median {:.1} ms of {ROUNDS} rounds, {:.1} µs per spec (min {:.1} µs, max {:.1} µs)",
        examples.len(),
        bytes as f64 / SPECS as f64 / 1024.0,
        median.as_secs_f64() * 1e3,
        per_spec.as_secs_f64() * 1e6,
        (rounds[0] / SPECS as u32).as_secs_f64() * 1e6,
        (rounds[ROUNDS - 1] / SPECS as u32).as_secs_f64() * 1e6,
    );
    large(&examples, &catalog);
}

/// The PagerDuty example with 100,000 licenses and 100,000 query keys.
fn large(examples: &[(String, String)], catalog: &Catalog) {
    const ENTRIES: usize = 100_000;
    let (path, text) = examples.iter().find(|(p, _)| p.ends_with("pagerduty.tib")).expect("the PagerDuty example");
    let licenses: String = (0..ENTRIES).map(|i| format!("  \"L{i}\" when {{ role is \"r{i}\" }}\n")).collect();
    let keys: String = (0..ENTRIES).map(|i| format!("\n    \"k{i}\" = \"v\"")).collect();
    let text = text
        .replace("licenses auto", &format!("licenses {{\n{licenses}}}"))
        .replace(r#"query = { "include[]" = "teams" }"#, &format!("query = {{{keys} \"include[]\" = \"teams\" }}"));
    assert!(text.len() > 4 << 20, "the large spec holds its entries");
    let mut rounds: Vec<Duration> = (0..3)
        .map(|_| {
            let start = Instant::now();
            let compiled = tib_front::compile(path, &text, catalog);
            let took = start.elapsed();
            assert!(compiled.spec.is_some(), "{:?}", compiled.diagnostics.first());
            took
        })
        .collect();
    rounds.sort();
    println!(
        "check one spec of {ENTRIES} licenses and {ENTRIES} query keys ({:.1} MiB): median {:.0} ms of 3 (goal < 1 s)",
        text.len() as f64 / (1 << 20) as f64,
        rounds[1].as_secs_f64() * 1e3
    );
}
