//! The language server fed what any client could send: raw frames after an
//! initialize (even first byte), or a document made of the input with hover,
//! completion and definition asked at positions read from it (odd), which
//! fall inside characters, surrogate pairs and past the text's end.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn frame(message: &serde_json::Value) -> Vec<u8> {
    let body = message.to_string();
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut input = frame(&serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"capabilities": {}}}));
    if mode % 2 == 0 {
        input.extend_from_slice(rest);
    } else {
        let (positions, text) = rest.split_at(rest.len().min(32));
        let uri = "file:///fuzz/a.tib";
        input.extend(frame(&serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "tib", "version": 1, "text": String::from_utf8_lossy(text)}}})));
        for (id, pair) in positions.chunks(2).enumerate() {
            let (line, character) = (pair[0] % 16, pair.get(1).copied().unwrap_or(0));
            let method = ["textDocument/hover", "textDocument/completion", "textDocument/definition"][id % 3];
            input.extend(frame(&serde_json::json!({"jsonrpc": "2.0", "id": id + 1, "method": method, "params": {
                "textDocument": {"uri": uri}, "position": {"line": line, "character": character}}})));
        }
    }
    let mut output = Vec::new();
    tib_lsp::serve(input.as_slice(), &mut output).expect("writing to memory does not fail");
});
