//! `compiler lsp` driven as an editor drives it: the real binary, JSON-RPC
//! over its stdin and stdout, from initialize to exit.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
    /// Notifications read while waiting for a response.
    notifications: Vec<Value>,
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_compiler"))
            .arg("lsp")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the language server starts");
        // A server that hangs fails the test instead of holding it up.
        let pid = child.id().to_string();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(60));
            let _ = Command::new("kill").args(["-9", &pid]).status();
        });
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Client { child, stdin, stdout, next_id: 0, notifications: Vec::new() }
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("the server reads");
        self.stdin.flush().expect("flushed");
    }

    fn read(&mut self) -> Value {
        let mut length = None;
        loop {
            let mut header = String::new();
            assert!(self.stdout.read_line(&mut header).expect("the server writes") > 0, "the server closed its output");
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some(n) = header.strip_prefix("Content-Length: ") {
                length = Some(n.parse::<usize>().expect("a length"));
            }
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        self.stdout.read_exact(&mut body).expect("the whole message");
        serde_json::from_slice(&body).expect("JSON")
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.read();
            if message["id"] == json!(id) {
                assert!(message.get("error").is_none(), "{method} failed: {message}");
                return message["result"].clone();
            }
            self.notifications.push(message);
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let position = self
                .notifications
                .iter()
                .position(|n| n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri);
            if let Some(i) = position {
                let published = self.notifications.remove(i);
                return published["params"]["diagnostics"].as_array().expect("a list").clone();
            }
            let message = self.read();
            self.notifications.push(message);
        }
    }
}

/// The LSP position of the first `needle` in `text`, `delta` bytes on (the text is ASCII).
fn at(text: &str, needle: &str, delta: usize) -> Value {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle:?} is in the text")) + delta;
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": column})
}

fn labels(items: &Value) -> Vec<String> {
    let items = items.get("items").unwrap_or(items);
    items
        .as_array()
        .expect("completion items")
        .iter()
        .map(|i| i["label"].as_str().expect("a label").to_owned())
        .collect()
}

const SPEC: &str = r#"app "Okta"
base_url "https://{okta_domain}/api/v1"

credentials {
  okta_domain text   "Your Okta domain"
  api_token   secret "An API token"
}

auth headers { "Authorization" = "SSWS {api_token}" }

request GET "/users"

paginate offset {
  offset_param = "offset"
  limit_param  = "limit"
  page_sise    = 100
  stop when empty_page
}

users at .

fields {
  id    = id
  email = profile.email
}

active when { status is not "DEPROVISIONED" }

custom_fields {
  "Department" = profile.department
}
"#;

#[test]
fn an_editor_gets_diagnostics_fixes_hover_completion_navigation_and_formatting() {
    let root = tempfile::tempdir().expect("dir");
    std::fs::copy(common::root().join("custom-fields.toml"), root.path().join("custom-fields.toml")).expect("catalog");
    std::fs::create_dir(root.path().join("specs")).expect("specs/");
    let uri = format!("file://{}/specs/okta.tib", root.path().display());
    let mut client = Client::start(root.path());

    let init = client.request(
        "initialize",
        json!({"processId": null, "rootUri": format!("file://{}", root.path().display()), "capabilities": {}}),
    );
    let capabilities = &init["capabilities"];
    for capability in [
        "hoverProvider",
        "completionProvider",
        "definitionProvider",
        "referencesProvider",
        "documentFormattingProvider",
        "codeActionProvider",
    ] {
        assert!(!capabilities[capability].is_null(), "{capability}: {capabilities}");
    }
    client.notify("initialized", json!({}));

    // Opened with a typo: the checker's diagnostic, where it is, with its quick fix.
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "tib", "version": 1, "text": SPEC}}),
    );
    let diagnostics = client.diagnostics(&uri);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:#?}");
    let typo = diagnostics.iter().find(|d| d["code"] == "tib::unknown-setting").expect("the typo is reported");
    assert_eq!(typo["range"]["start"], at(SPEC, "page_sise", 0));
    assert_eq!(typo["severity"], 1);
    assert!(typo["message"].as_str().expect("text").contains("help: did you mean `page_size`?"), "{typo}");
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri}, "range": typo["range"], "context": {"diagnostics": [typo]}
        }),
    );
    let fix = &actions[0];
    assert_eq!(fix["kind"], "quickfix");
    assert_eq!(fix["edit"]["changes"][&uri][0]["newText"], "page_size", "{actions}");

    // Fixed as the editor types: the diagnostics clear.
    let fixed = SPEC.replace("page_sise", "page_size");
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]
        }),
    );
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());

    // Hover: the reference's words for a section, a two-word operator, a stop condition.
    let hover = |client: &mut Client, needle: &str, delta: usize| {
        let answer = client.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": at(&fixed, needle, delta)}),
        );
        answer["contents"]["value"].as_str().unwrap_or_default().to_owned()
    };
    assert!(hover(&mut client, "paginate", 2).contains("How to get the next page"));
    assert!(hover(&mut client, "is not", 4).contains("the value is missing or differs"));
    assert!(hover(&mut client, "empty_page", 3).contains("a page with no users"));
    assert!(hover(&mut client, "stop when", 1).contains("- `short_page`"));
    assert!(hover(&mut client, "page_size", 2).contains("is among the settings of `offset`, `page`"));

    // Semantic tokens: five numbers a token, the first the `app` keyword at 0:0 (type 0, keyword).
    let tokens = client.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}}));
    let data = tokens["data"].as_array().expect("token data").clone();
    assert!(data.len() > 50 && data.len().is_multiple_of(5), "{tokens}");
    assert_eq!(data[..5], [json!(0), json!(0), json!(3), json!(0), json!(0)], "{tokens}");

    // Completion, by where the cursor is.
    let mut complete = |text: &str, needle: &str, delta: usize| {
        client.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": text}]
            }),
        );
        labels(&client.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": at(text, needle, delta)}),
        ))
    };
    let top = complete(&format!("{fixed}\nlic"), "\nlic", 4);
    assert!(top.contains(&"licenses".to_owned()) && top.contains(&"status".to_owned()), "{top:?}");
    let in_pagination = complete(&fixed.replace("  stop when empty_page\n", "  \n"), "limit\"\n  ", 9);
    assert!(
        in_pagination.contains(&"start".to_owned()) && in_pagination.contains(&"stop when".to_owned()),
        "{in_pagination:?}"
    );
    assert!(!in_pagination.contains(&"page_param".to_owned()), "offset's settings only: {in_pagination:?}");
    let stops = complete(&fixed.replace("stop when empty_page", "stop when "), "stop when ", 10);
    assert!(stops.contains(&"short_page".to_owned()) && !stops.contains(&"missing_token".to_owned()), "{stops:?}");
    let placeholders = complete(&fixed.replace("SSWS {api_token}", "SSWS {"), "SSWS {", 6);
    assert_eq!(placeholders, ["okta_domain", "api_token"]);
    let operators = complete(&fixed.replace("status is not", "status "), "{ status ", 9);
    assert!(operators.contains(&"is not".to_owned()) && operators.contains(&"any of".to_owned()), "{operators:?}");
    let status = complete(&format!("{fixed}\nstatus "), "\nstatus ", 8);
    assert_eq!(status, ["auto", "field", "if"]);
    let licenses = complete(&format!("{fixed}\nlicenses "), "\nlicenses ", 10);
    assert_eq!(licenses, ["auto", "none"]);
    let users = complete(&format!("{fixed}\nusers at data "), "\nusers at data ", 15);
    assert_eq!(users, ["or none"]);
    let client_auth =
        complete(&format!("{fixed}\nauth oauth_client_credentials {{\n  client_auth = "), "client_auth = ", 14);
    assert_eq!(client_auth, ["\"basic\"", "\"post\"", "\"private_key_jwt\""]);
    let grant_type =
        complete(&format!("{fixed}\nauth oauth_client_credentials {{\n  grant_type = "), "grant_type = ", 13);
    assert_eq!(grant_type, ["\"client_credentials\"", "\"jwt_bearer\""]);
    let api_error = format!("{fixed}\napi_error when {{ ok is false }} message error\n");
    let classes = complete(&api_error, "message error\n", 14);
    assert!(
        classes.contains(&"rate_limited when".to_owned()) && classes.contains(&"refused when".to_owned()),
        "{classes:?}"
    );
    let custom = complete(&fixed.replace("  \"Department\" = profile.department\n", "  \n"), "custom_fields {\n  ", 18);
    assert!(
        custom.contains(&"\"Department\"".to_owned()) && custom.contains(&"\"Hire date\"".to_owned()),
        "{custom:?}"
    );

    // Credentials: from a placeholder to its declaration, and every use.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": 4}, "contentChanges": [{"text": fixed}]
        }),
    );
    let definition = client.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": at(&fixed, "{api_token}", 3)}),
    );
    assert_eq!(definition["range"]["start"], at(&fixed, "api_token   secret", 0), "{definition}");
    let references = client.request("textDocument/references", json!({
        "textDocument": {"uri": uri}, "position": at(&fixed, "okta_domain text", 2), "context": {"includeDeclaration": true}
    }));
    let starts: Vec<&Value> = references.as_array().expect("locations").iter().map(|l| &l["range"]["start"]).collect();
    assert_eq!(starts, [&at(&fixed, "okta_domain text", 0), &at(&fixed, "{okta_domain}", 1)]);

    // Formatting: one edit, the canonical text.
    let messy = fixed.replace("  offset_param = \"offset\"", "      offset_param=\"offset\"");
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": 5}, "contentChanges": [{"text": messy}]
        }),
    );
    let edits = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits.as_array().expect("edits").len(), 1);
    assert_eq!(edits[0]["newText"], fixed);

    assert_eq!(client.request("shutdown", Value::Null), Value::Null);
    client.notify("exit", Value::Null);
    let status = client.child.wait().expect("the server exits");
    assert!(status.success(), "{status}");
}

/// What an editor's bug or a hostile peer writes to the server: frames it
/// cannot read, a length of a terabyte, a message that is not one. Each gets
/// a JSON-RPC error, and the server serves on to a clean exit.
#[test]
fn malformed_frames_and_an_enormous_length_are_answered_and_the_server_goes_on() {
    let root = tempfile::tempdir().expect("dir");
    let mut client = Client::start(root.path());
    client.request("initialize", json!({"processId": null, "capabilities": {}}));
    client.notify("initialized", json!({}));
    for raw in [
        &b"Content-Length: 1000000000000\r\n\r\n"[..],
        b"Content-Type: nothing\r\n\r\n",
        b"Content-Length: 5\r\n\r\n{{{{{",
        b"Content-Length: 14\r\n\r\n{\"method\": 42}",
    ] {
        client.stdin.write_all(raw).expect("the server reads");
        let error = client.read();
        let code = error["error"]["code"].as_i64();
        assert!(matches!(code, Some(-32700 | -32600)), "{error}");
    }
    let uri = "file:///x/a.tib";
    let text = "app \"😀\"\n😀😀 x\n";
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "tib", "version": 1, "text": text}}),
    );
    // Inside a surrogate pair, and far past the text: clamped.
    for (line, character) in [(1, 1), (1, 3), (0, 6), (40, 900)] {
        let position = json!({"line": line, "character": character});
        client.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": position}));
    }
    assert_eq!(client.request("shutdown", Value::Null), Value::Null);
    client.notify("exit", Value::Null);
    let status = client.child.wait().expect("the server exits");
    assert!(status.success(), "{status}");
}

/// The language server in an editor no one here wrote: Neovim, headless, as its own LSP client
/// (`tests/neovim/client.lua`) opens a spec with a misspelt section, shows the server's diagnostics
/// at their lines, and asks for a hover. It runs where `nvim` is installed; `.ci/run` installs
/// Debian's and sets TIB_REQUIRE_NEOVIM, so CI never skips it.
#[test]
fn neovim_shows_the_servers_diagnostics_and_hover() {
    let Ok(version) = Command::new("nvim").arg("--version").output() else {
        assert!(
            std::env::var_os("TIB_REQUIRE_NEOVIM").is_none(),
            "TIB_REQUIRE_NEOVIM is set, but nvim is not installed"
        );
        eprintln!("skipped: install Neovim (apt-get install neovim) to drive the language server from a real editor");
        return;
    };
    assert!(version.status.success());
    let dir = tempfile::tempdir().expect("a directory");
    let spec = dir.path().join("spec.tib");
    std::fs::write(&spec, "app \"Acme\"\nbase_url \"https://api.acme.example\"\npaginaton none\n").expect("spec");
    let out = dir.path().join("out.txt");
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/neovim/client.lua");
    let run = Command::new("timeout")
        .args(["60", "nvim", "--headless", "-u", "NONE", "-c"])
        .arg(format!("luafile {}", client.display()))
        .env("COMPILER", env!("CARGO_BIN_EXE_compiler"))
        .env("SPEC", &spec)
        .env("OUT", &out)
        .stdin(Stdio::null())
        .output()
        .expect("nvim runs");
    assert!(run.status.success(), "{run:?}");
    let seen = std::fs::read_to_string(&out).expect("the client wrote what it saw");
    assert!(seen.contains("diagnostic 3:1 `paginaton` does not start a section"), "{seen}");
    assert!(!seen.contains("no `paginate` section"), "the typo, not a follow-on: {seen}");
    assert!(seen.contains("hover **app** (section)"), "{seen}");
    assert!(!seen.contains("error:"), "{seen}");
}
