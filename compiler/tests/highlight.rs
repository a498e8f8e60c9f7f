//! The editor support in `editors/`: the TextMate grammar, checked with the
//! engine VS Code uses, and the VS Code extension's manifest.
//!
//! The grammar test runs `editors/test/tokenize.mjs` on node once its
//! packages are installed (`npm ci --prefix editors/test`); `.ci/run` installs
//! them and sets `TIB_REQUIRE_TEXTMATE=1`, so CI never skips it.

mod common;

use std::process::Command;

#[test]
fn the_textmate_grammar_gives_every_example_its_scopes() {
    let dir = common::root().join("editors/test");
    if !dir.join("node_modules/vscode-textmate").is_dir() {
        assert!(
            std::env::var_os("TIB_REQUIRE_TEXTMATE").is_none(),
            "TIB_REQUIRE_TEXTMATE is set, but `npm ci --prefix editors/test` has not been run"
        );
        eprintln!("skipped: run `npm ci --prefix editors/test` to tokenize the examples with vscode-textmate");
        return;
    }
    let output = Command::new("node").arg(dir.join("tokenize.mjs")).output().expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("tokenized "), "{stdout}");
}

#[test]
fn the_vscode_extension_declares_the_language_its_grammar_and_the_server() {
    let dir = common::root().join("editors/vscode");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).expect("readable")).expect("JSON");
    let contributes = &manifest["contributes"];
    assert_eq!(contributes["languages"][0]["extensions"][0], ".tib");
    let grammar = contributes["grammars"][0]["path"].as_str().expect("a grammar path");
    let grammar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(grammar)).expect("the grammar exists")).expect("JSON");
    assert_eq!(grammar["scopeName"], contributes["grammars"][0]["scopeName"]);
    let command = &contributes["configuration"]["properties"]["tib.server.command"]["default"];
    assert_eq!(command, &serde_json::json!(["compiler", "lsp"]));
    let main = manifest["main"].as_str().expect("an entry point");
    let extension = std::fs::read_to_string(dir.join(main)).expect("the extension exists");
    assert!(extension.contains("LanguageClient") && extension.contains("server.command"), "{extension}");
}
