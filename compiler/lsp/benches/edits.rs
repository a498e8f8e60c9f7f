//! Benchmark: a 5,000-line spec edited by 21 keys faster than checks, as
//! `cargo bench -p tib-lsp --bench edits` prints it, side by side in one run:
//! the edits back to back (a check already outdated by a newer change is
//! dropped), and the same edits each answered before the next (every one
//! checked, as the server did before). Goal: the author sees the last
//! edit's diagnostics within about 100 ms, that is two checks at most.

use std::time::{Duration, Instant};

const EDITS: usize = 21;
const ROUNDS: usize = 5;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let base = std::fs::read_to_string(root.join("specs/pagerduty.tib")).expect("the PagerDuty example");
    // About 5,000 lines: the example with a license per line.
    let licenses: String = (0..5_000).map(|i| format!("  \"L{i}\" when {{ role is \"r{i}\" }}\n")).collect();
    let spec = base.replace("licenses auto", &format!("licenses {{\n{licenses}}}"));
    let lines = spec.lines().count();
    let version = |n: usize| spec.replace("\"L0\"", &format!("\"L0 {}\"", "x".repeat(n)));

    let frame = |message: serde_json::Value| {
        let body = message.to_string();
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    };
    let change = |n: usize| {
        frame(serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": "file:///p.tib", "version": n}, "contentChanges": [{"text": version(n)}]}}))
    };
    let hover = |id: usize| {
        frame(serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": "file:///p.tib"}, "position": {"line": 0, "character": 1}}}))
    };
    let start =
        frame(serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}}))
            + &frame(
                serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": "file:///p.tib", "languageId": "tib", "version": 1, "text": spec}}}),
            );
    // Back to back: each change is outdated by the next when it is read.
    let coalesced: String = start.clone() + &(2..2 + EDITS).map(change).collect::<String>();
    // Answered in turn: a request after each change makes the server check it first.
    let each: String = start + &(2..2 + EDITS).map(|n| change(n) + &hover(n)).collect::<String>();

    let time = |input: &str| {
        let mut rounds: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let mut output = Vec::new();
                let began = Instant::now();
                tib_lsp::serve(input.as_bytes(), &mut output).expect("served");
                let took = began.elapsed();
                let published = String::from_utf8_lossy(&output).matches("publishDiagnostics").count();
                (took, published)
            })
            .map(|(took, published)| {
                assert!(published >= 1, "diagnostics are published");
                took
            })
            .collect();
        rounds.sort();
        rounds[ROUNDS / 2]
    };
    let (fast, slow) = (time(&coalesced), time(&each));
    println!(
        "{EDITS} edits of a {lines}-line spec: back to back {:.0} ms, each answered in turn {:.0} ms (ratio {:.1}×); \
         one check about {:.0} ms, so the last edit's diagnostics come within two checks (goal ~100 ms)",
        fast.as_secs_f64() * 1e3,
        slow.as_secs_f64() * 1e3,
        slow.as_secs_f64() / fast.as_secs_f64(),
        slow.as_secs_f64() * 1e3 / (EDITS + 1) as f64,
    );
}
