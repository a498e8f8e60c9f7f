//! `compiler lsp`: the Language Server Protocol over stdio, on the same front
//! end as `compiler check`: diagnostics as the author types, hover from the
//! language reference, completion, go to definition and references for
//! credentials, formatting, and the diagnostics' replacements as quick fixes.
//!
//! Documents are synchronised whole (each change sends the full text): specs
//! are small, and the front end checks one in well under a millisecond.
//!
//! The server never dies of what a client sends: frames are read within
//! bounds ([`framing`]), a frame or message it cannot read is answered with
//! a JSON-RPC error, positions are clamped to the text, and a handler that
//! fails anyway answers an internal error instead of taking the server down.

mod complete;
mod credentials;
mod document;
pub mod framing;
mod reference;
mod semantic;

use std::collections::HashMap;
use std::error::Error;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use framing::Frame;
use lsp_server::{ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Exit, Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, FoldingRangeRequest, Formatting, GotoDefinition,
    HoverRequest, Initialize, References, Rename, Request as _, SemanticTokensFullRequest, Shutdown,
};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionProviderCapability, CompletionOptions,
    CompletionParams, DiagnosticRelatedInformation, DiagnosticSeverity, DidChangeTextDocumentParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DocumentFormattingParams, GotoDefinitionParams,
    GotoDefinitionResponse, Hover, HoverContents, HoverParams, HoverProviderCapability, InitializeParams,
    InitializeResult, Location, MarkupContent, MarkupKind, NumberOrString, OneOf, PublishDiagnosticsParams,
    ReferenceParams, ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri,
    WorkspaceEdit,
};
use lsp_types::{
    DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, FoldingRange, FoldingRangeParams,
    FoldingRangeProviderCapability, RenameParams, SemanticTokens, SemanticTokensFullOptions, SemanticTokensOptions,
    SemanticTokensParams, SemanticTokensResult, SemanticTokensServerCapabilities, SymbolKind,
};
use tib_front::diag::{self, Severity};
use tib_front::span::Span;

use document::Document;

type Failure = Box<dyn Error + Send + Sync>;

/// Serves one client over stdin and stdout until it asks to exit. Stdin is
/// read on a thread of its own, so that changes that arrived while a check
/// ran are seen at once, and only the latest is checked.
pub fn run() -> Result<(), Failure> {
    let stdin = std::io::BufReader::new(std::io::stdin());
    serve_from(framing::Arriving::spawn(stdin), std::io::stdout().lock())
}

/// Serves one client whose whole input is `input` (a test's, a fuzz target's).
pub fn serve(input: impl BufRead, output: impl Write) -> Result<(), Failure> {
    serve_from(framing::InMemory(framing::Frames::new(input)), output)
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["{".to_owned(), " ".to_owned(), "\"".to_owned()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: semantic::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                ..SemanticTokensOptions::default()
            },
        )),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..ServerCapabilities::default()
    }
}

/// JSON-RPC's codes for what could not be read (the protocol's crate names only the others).
const PARSE_ERROR: i32 = -32700;
const INVALID_REQUEST: i32 = -32600;

/// Serves one client reading `input` and writing `output`, until it asks to
/// exit or its input ends. Only writing can fail it: a client that cannot be
/// answered is gone.
fn serve_from(mut incoming: impl framing::Incoming, mut output: impl Write) -> Result<(), Failure> {
    let mut server: Option<Server> = None;
    let mut shut_down = false;
    // Frames read ahead, to see whether a change is outdated already.
    let mut ahead: std::collections::VecDeque<std::io::Result<Frame>> = std::collections::VecDeque::new();
    loop {
        let frame = match ahead.pop_front() {
            Some(frame) => frame,
            None => incoming.next(),
        };
        let body = match frame? {
            Frame::End => return Ok(()),
            Frame::Bad(why) => {
                answer_unread(&mut output, serde_json::Value::Null, PARSE_ERROR, &why)?;
                continue;
            }
            Frame::Body(body) => body,
        };
        let message = match serde_json::from_slice::<Message>(&body) {
            Ok(message) => message,
            Err(error) => {
                // Valid JSON that is not a message: its id, when it has one, is answered.
                let (code, id) = match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(value) => (INVALID_REQUEST, value.get("id").cloned().unwrap_or_default()),
                    Err(_) => (PARSE_ERROR, serde_json::Value::Null),
                };
                answer_unread(&mut output, id, code, &format!("not a message of the protocol: {error}"))?;
                continue;
            }
        };
        match message {
            Message::Request(request) => {
                let id = request.id.clone();
                let response = match (&mut server, request.method.as_str()) {
                    (None, Initialize::METHOD) => match serde_json::from_value::<InitializeParams>(request.params) {
                        Ok(params) => {
                            server = Some(Server::new(params));
                            let result = InitializeResult { capabilities: capabilities(), server_info: None };
                            Response::new_ok(id, result)
                        }
                        Err(e) => Response::new_err(id, ErrorCode::InvalidParams as i32, format!("initialize: {e}")),
                    },
                    (None, _) => Response::new_err(
                        id,
                        ErrorCode::ServerNotInitialized as i32,
                        "the server is not initialized: send initialize first".to_owned(),
                    ),
                    (Some(_), Initialize::METHOD) => {
                        Response::new_err(id, ErrorCode::InvalidRequest as i32, "already initialized".to_owned())
                    }
                    (Some(_), Shutdown::METHOD) => {
                        shut_down = true;
                        Response::new_ok(id, ())
                    }
                    (Some(_), _) if shut_down => {
                        Response::new_err(id, ErrorCode::InvalidRequest as i32, "the server is shut down".to_owned())
                    }
                    (Some(server), _) => {
                        let method = request.method.clone();
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.request(request)))
                            .unwrap_or_else(|_| {
                                let message = format!("{method} failed inside the server; it goes on");
                                Response::new_err(id, ErrorCode::InternalError as i32, message)
                            })
                    }
                };
                Message::Response(response).write(&mut output)?;
            }
            Message::Notification(notification) if notification.method == Exit::METHOD => return Ok(()),
            Message::Notification(notification) => {
                let Some(server) = &mut server else { continue };
                // A change that the next message, arrived already, replaces is not checked.
                if superseded(&notification, &mut incoming, &mut ahead) {
                    continue;
                }
                let published =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.notification(notification)));
                if let Ok(Some(published)) = published {
                    Message::Notification(published).write(&mut output)?;
                }
            }
            Message::Response(_) => {}
        }
    }
}

/// Whether `notification` opens or changes a document that the next message
/// (read ahead as far as it has arrived) changes again: documents are sent
/// whole, so the later text stands for both.
fn superseded(
    notification: &Notification,
    incoming: &mut impl framing::Incoming,
    ahead: &mut std::collections::VecDeque<std::io::Result<Frame>>,
) -> bool {
    let changes = |method: &str| method == DidOpenTextDocument::METHOD || method == DidChangeTextDocument::METHOD;
    if !changes(&notification.method) {
        return false;
    }
    if ahead.is_empty()
        && let Some(frame) = incoming.arrived()
    {
        ahead.push_back(frame);
    }
    let uri = |params: &serde_json::Value| params.pointer("/textDocument/uri").cloned();
    let Some(Ok(Frame::Body(next))) = ahead.front() else { return false };
    match serde_json::from_slice::<Message>(next) {
        Ok(Message::Notification(next)) => {
            next.method == DidChangeTextDocument::METHOD && uri(&next.params) == uri(&notification.params)
        }
        _ => false,
    }
}

/// Whether `offset` is inside a `#` comment: after a `#` that no string holds, on its line.
fn in_comment(text: &str, offset: usize) -> bool {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    document::comment_start(&text[line_start..offset]).is_some()
}

/// A credential's declaration, by name.
fn credential<'f>(file: &'f tib_front::ast::File, name: &str) -> Option<&'f tib_front::ast::CredentialDecl> {
    file.sections.iter().find_map(|section| match &section.kind {
        tib_front::ast::SectionKind::Credentials(decls) => decls.iter().find(|d| d.name.text == name),
        _ => None,
    })
}

/// The outline: each section, named by its keyword and what it holds (`app "Okta"`, `auth bearer`).
fn symbols(doc: &Document) -> Vec<DocumentSymbol> {
    let Some(file) = doc.compiled.ast.as_ref() else { return Vec::new() };
    file.sections
        .iter()
        .filter(|s| !matches!(s.kind, tib_front::ast::SectionKind::Unknown))
        .map(|section| {
            let text = &doc.text[section.span.start..section.span.end];
            // The section's first line, without the brace that opens its block.
            let line = text.lines().next().unwrap_or_default().trim_end();
            let head = line.strip_suffix('{').unwrap_or(line).trim();
            #[allow(deprecated)] // `deprecated` is a field the protocol still has; `tags` replaces it.
            DocumentSymbol {
                name: if head.is_empty() { section.keyword.text.clone() } else { head.to_owned() },
                detail: None,
                kind: SymbolKind::MODULE,
                tags: None,
                deprecated: None,
                range: doc.range(section.span),
                selection_range: doc.range(section.keyword.span),
                children: None,
            }
        })
        .collect()
}

/// Each section and block that spans lines folds.
fn folding(doc: &Document) -> Vec<FoldingRange> {
    let Some(file) = doc.compiled.ast.as_ref() else { return Vec::new() };
    file.sections
        .iter()
        .filter_map(|section| {
            let text = doc.text[section.span.start..section.span.end].trim_end();
            let (start, end) = (doc.position(section.span.start), doc.position(section.span.start + text.len()));
            (end.line > start.line).then(|| FoldingRange {
                start_line: start.line,
                end_line: end.line,
                ..FoldingRange::default()
            })
        })
        .collect()
}

/// The answer to a frame or message that could not be read.
fn answer_unread(output: &mut impl Write, id: serde_json::Value, code: i32, why: &str) -> std::io::Result<()> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": why}}).to_string();
    write!(output, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    output.flush()
}

struct Server {
    /// The client's workspace root: where the catalog is when none is found up from a spec.
    root: Option<PathBuf>,
    documents: HashMap<Uri, Document>,
}

impl Server {
    fn new(params: InitializeParams) -> Server {
        #[allow(deprecated)] // Clients still send root_uri; workspace_folders is its successor.
        let root = params
            .workspace_folders
            .and_then(|folders| folders.into_iter().next().map(|f| f.uri))
            .or(params.root_uri)
            .and_then(|uri| document::file_path(uri.as_str()));
        Server { root, documents: HashMap::new() }
    }

    /// Opens, changes or closes a document; what to publish about it.
    fn notification(&mut self, notification: Notification) -> Option<Notification> {
        let (uri, text) = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let params: DidOpenTextDocumentParams = serde_json::from_value(notification.params).ok()?;
                (params.text_document.uri, params.text_document.text)
            }
            DidChangeTextDocument::METHOD => {
                let params: DidChangeTextDocumentParams = serde_json::from_value(notification.params).ok()?;
                (params.text_document.uri, params.content_changes.into_iter().last()?.text)
            }
            DidCloseTextDocument::METHOD => {
                let params: DidCloseTextDocumentParams = serde_json::from_value(notification.params).ok()?;
                self.documents.remove(&params.text_document.uri);
                // Closed: its diagnostics go with it.
                return Some(publish(params.text_document.uri, Vec::new()));
            }
            _ => return None,
        };
        let path = document::file_path(uri.as_str());
        let document = Document::new(path.as_deref(), self.root.as_deref(), text);
        let diagnostics = diagnostics(&uri, &document);
        self.documents.insert(uri.clone(), document);
        Some(publish(uri, diagnostics))
    }

    fn request(&self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => self.answer(request, |s, p: HoverParams| {
                let at = &p.text_document_position_params;
                s.documents.get(&at.text_document.uri).and_then(|d| hover(d, d.offset(at.position)))
            }),
            Completion::METHOD => self.answer(request, |s, p: CompletionParams| {
                let at = &p.text_document_position;
                s.documents.get(&at.text_document.uri).map(|d| complete::complete(d, d.offset(at.position)))
            }),
            GotoDefinition::METHOD => self.answer(request, |s, p: GotoDefinitionParams| {
                let at = p.text_document_position_params;
                let doc = s.documents.get(&at.text_document.uri)?;
                let name = credentials::at(&doc.text, doc.compiled.ast.as_ref(), doc.offset(at.position))?;
                let declarations = credentials::declarations(doc.compiled.ast.as_ref()?);
                let (_, span) = declarations.into_iter().find(|(declared, _)| *declared == name)?;
                Some(GotoDefinitionResponse::Scalar(Location::new(at.text_document.uri.clone(), doc.range(span))))
            }),
            References::METHOD => self.answer(request, |s, p: ReferenceParams| {
                let at = p.text_document_position;
                let doc = s.documents.get(&at.text_document.uri)?;
                let name = credentials::at(&doc.text, doc.compiled.ast.as_ref(), doc.offset(at.position))?;
                let mut spans: Vec<Span> = Vec::new();
                if p.context.include_declaration {
                    let declared = doc.compiled.ast.as_ref().map(credentials::declarations).unwrap_or_default();
                    spans.extend(declared.into_iter().filter(|(n, _)| *n == name).map(|(_, span)| span));
                }
                let uses = credentials::placeholders(&doc.text);
                spans.extend(uses.into_iter().filter(|(n, _)| *n == name).map(|(_, span)| span));
                let uri = &at.text_document.uri;
                Some(spans.into_iter().map(|span| Location::new(uri.clone(), doc.range(span))).collect::<Vec<_>>())
            }),
            Rename::METHOD => self.answer(request, |s, p: RenameParams| {
                let at = p.text_document_position;
                let doc = s.documents.get(&at.text_document.uri)?;
                let name = credentials::at(&doc.text, doc.compiled.ast.as_ref(), doc.offset(at.position))?;
                // A credential's name is a snake_case word: anything else would not read back as one.
                let fits = p.new_name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                    && p.new_name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !fits {
                    return None;
                }
                let declared = doc.compiled.ast.as_ref().map(credentials::declarations).unwrap_or_default();
                let uses = credentials::placeholders(&doc.text);
                let edits: Vec<TextEdit> = declared
                    .into_iter()
                    .chain(uses)
                    .filter(|(n, _)| *n == name)
                    .map(|(_, span)| TextEdit::new(doc.range(span), p.new_name.clone()))
                    .collect();
                Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(at.text_document.uri.clone(), edits)])),
                    ..WorkspaceEdit::default()
                })
            }),
            DocumentSymbolRequest::METHOD => self.answer(request, |s, p: DocumentSymbolParams| {
                let doc = s.documents.get(&p.text_document.uri)?;
                Some(DocumentSymbolResponse::Nested(symbols(doc)))
            }),
            SemanticTokensFullRequest::METHOD => self.answer(request, |s, p: SemanticTokensParams| {
                let doc = s.documents.get(&p.text_document.uri)?;
                let data = semantic::tokens(doc);
                Some(SemanticTokensResult::Tokens(SemanticTokens { result_id: None, data }))
            }),
            FoldingRangeRequest::METHOD => self.answer(request, |s, p: FoldingRangeParams| {
                let doc = s.documents.get(&p.text_document.uri)?;
                Some(folding(doc))
            }),
            Formatting::METHOD => self.answer(request, |s, p: DocumentFormattingParams| {
                let doc = s.documents.get(&p.text_document.uri)?;
                // A spec with syntax errors is left as it is: its diagnostics say why.
                let formatted = tib_front::format::format(&doc.text).ok()?;
                let edits =
                    if formatted == doc.text { Vec::new() } else { vec![TextEdit::new(doc.full_range(), formatted)] };
                Some(edits)
            }),
            CodeActionRequest::METHOD => self.answer(request, |s, p: CodeActionParams| {
                let doc = s.documents.get(&p.text_document.uri)?;
                Some(quick_fixes(&p.text_document.uri, doc, p.range))
            }),
            _ => {
                return Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("no method {}", request.method),
                );
            }
        };
        match result {
            Ok(value) => Response { id, response_result: Ok(value) },
            Err(message) => Response::new_err(id, ErrorCode::InvalidParams as i32, message),
        }
    }

    /// Reads a request's parameters and answers it; `null` when there is nothing to say.
    fn answer<P, R>(
        &self,
        request: Request,
        handle: impl FnOnce(&Self, P) -> Option<R>,
    ) -> Result<serde_json::Value, String>
    where
        P: serde::de::DeserializeOwned,
        R: serde::Serialize,
    {
        let params: P = serde_json::from_value(request.params).map_err(|e| format!("{}: {e}", request.method))?;
        serde_json::to_value(handle(self, params)).map_err(|e| e.to_string())
    }
}

fn publish(uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) -> Notification {
    Notification::new(
        PublishDiagnostics::METHOD.to_owned(),
        PublishDiagnosticsParams { uri, diagnostics, version: None },
    )
}

/// The front end's diagnostics in the protocol's terms; the help goes under the message.
fn diagnostics(uri: &Uri, doc: &Document) -> Vec<lsp_types::Diagnostic> {
    doc.compiled.diagnostics.iter().map(|d| to_lsp(uri, doc, d)).collect()
}

fn to_lsp(uri: &Uri, doc: &Document, d: &diag::Diagnostic) -> lsp_types::Diagnostic {
    let message = match &d.help {
        Some(help) => format!("{}\nhelp: {help}", d.message),
        None => d.message.clone(),
    };
    let related = d
        .secondary
        .iter()
        .map(|label| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), doc.range(label.span)),
            message: label.text.clone(),
        })
        .collect::<Vec<_>>();
    lsp_types::Diagnostic {
        range: doc.range(d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.to_owned())),
        source: Some("tib".to_owned()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

/// The replacements of the diagnostics in `range`, as quick fixes.
fn quick_fixes(uri: &Uri, doc: &Document, range: lsp_types::Range) -> Vec<CodeActionOrCommand> {
    let (from, to) = (doc.offset(range.start), doc.offset(range.end));
    doc.compiled
        .diagnostics
        .iter()
        .filter(|d| d.primary.span.start <= to && from <= d.primary.span.end)
        .filter_map(|d| {
            let replacement = d.replacement.as_ref()?;
            let span = d.primary.span;
            let written = &doc.text[span.start..span.end];
            let title = if replacement.is_empty() {
                format!("Delete `{written}`")
            } else {
                format!("Replace `{written}` with `{replacement}`")
            };
            let edit = TextEdit::new(doc.range(span), replacement.clone());
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![to_lsp(uri, doc, d)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
                ..CodeAction::default()
            }))
        })
        .collect()
}

/// What the reference says of the word at `offset`, with two-word operators (`is not`) whole.
fn hover(doc: &Document, offset: usize) -> Option<Hover> {
    let text = &doc.text;
    if in_comment(text, offset) {
        return None;
    }
    // A placeholder: the credential it stands for, as its declaration says.
    if let Some(name) = credentials::at(text, doc.compiled.ast.as_ref(), offset)
        && let Some(decl) = doc.compiled.ast.as_ref().and_then(|file| credential(file, name))
    {
        let kind = if decl.kind.text == "secret" { "a secret" } else { "text" };
        let description = decl.description.as_ref().and_then(tib_front::ast::Str::plain).unwrap_or_default();
        let value = format!("credential `{name}` ({kind}, asked at connect): {description}");
        return Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }),
            range: None,
        });
    }
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '>' || c == '=';
    let start = word_start(&text[..offset], is_word);
    let end = text[offset..].find(|c: char| !is_word(c)).map_or(text.len(), |i| offset + i);
    if start >= end {
        return None;
    }
    // Two-word operators: the word with the one after it, or with the one before it.
    let after = &text[end..];
    let gap = after.len() - after.trim_start_matches(' ').len();
    let next = after[gap..].find(|c: char| !is_word(c)).unwrap_or(after.len() - gap);
    let before = &text[..start];
    let trimmed = before.trim_end_matches(' ');
    let previous = word_start(trimmed, is_word);
    let candidates = [
        (gap > 0 && next > 0).then_some((start, end + gap + next)),
        (trimmed.len() < before.len() && previous < trimmed.len()).then_some((previous, end)),
        Some((start, end)),
    ];
    candidates.into_iter().flatten().find_map(|(from, to)| {
        let term = text[from..to].split_whitespace().collect::<Vec<_>>().join(" ");
        let two_words = term.contains(' ');
        let known =
            !two_words || term == "stop when" || tib_front::check::vocabulary::OPERATORS.contains(&term.as_str());
        let described = known.then(|| reference::describe(&term)).flatten()?;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: described }),
            range: Some(doc.range(Span::new(from, to))),
        })
    })
}

/// Where the run of word characters that ends `text` starts (after the last
/// other character, however many bytes it takes: an emoji is four).
fn word_start(text: &str, is_word: impl Fn(char) -> bool) -> usize {
    text.char_indices().rev().find(|(_, c)| !is_word(*c)).map_or(0, |(i, c)| i + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's messages as the input of [`serve`], and what the server wrote.
    fn exchange(messages: &[serde_json::Value], raw: &[u8]) -> Vec<serde_json::Value> {
        let mut input = Vec::new();
        for message in messages {
            let body = message.to_string();
            input.extend_from_slice(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
        }
        input.extend_from_slice(raw);
        let mut output = Vec::new();
        serve(input.as_slice(), &mut output).expect("served");
        let mut frames = framing::Frames::new(output.as_slice());
        let mut answers = Vec::new();
        while let Ok(Frame::Body(body)) = frames.read() {
            answers.push(serde_json::from_slice(&body).expect("JSON"));
        }
        answers
    }

    fn initialize() -> serde_json::Value {
        serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}})
    }

    #[test]
    fn bad_frames_and_messages_get_json_rpc_errors_and_the_server_goes_on() {
        let hover = serde_json::json!({"jsonrpc": "2.0", "id": 9, "method": "textDocument/hover",
            "params": {"textDocument": {"uri": "file:///a.tib"}, "position": {"line": 0, "character": 0}}});
        let raw = b"Content-Length: 1000000000000\r\n\r\nContent-Length: 3\r\n\r\n{{{Content-Length: 12\r\n\r\n{\"id\": true}";
        let before = exchange(std::slice::from_ref(&hover), b"");
        assert_eq!(before[0]["error"]["code"], -32002, "not initialized yet: {before:?}");
        let mut raw = raw.to_vec();
        let body = hover.to_string();
        raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
        let answers = exchange(&[initialize()], &raw);
        let codes: Vec<Option<i64>> = answers.iter().map(|a| a["error"]["code"].as_i64()).collect();
        assert_eq!(codes[1..4], [Some(-32700), Some(-32700), Some(-32600)], "{answers:?}");
        assert_eq!(answers[4]["id"], 9, "served after them: {answers:?}");
        assert!(answers[4].get("error").is_none(), "{answers:?}");
    }

    /// Hover says what a placeholder stands for and what a construct does, and nothing in a comment.
    #[test]
    fn hover_on_placeholders_and_constructs_and_never_in_comments() {
        let text = "app \"A\" # paginate here is a comment\ncredentials {\n  api_token secret \"An admin token\"\n}\n\
                    auth bearer \"{api_token}\"\npaginate token {\n  body_field = variables.after\n}\n";
        let hover = |id: u32, line: u32, character: u32| {
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "textDocument/hover", "params": {
                "textDocument": {"uri": "file:///a.tib"}, "position": {"line": line, "character": character}}})
        };
        let messages = vec![
            initialize(),
            serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
                "uri": "file:///a.tib", "languageId": "tib", "version": 1, "text": text}}}),
            hover(1, 0, 13),
            hover(2, 4, 16),
            hover(3, 6, 5),
        ];
        let answers = exchange(&messages, b"");
        let value = |id: u32| {
            let answer = answers.iter().find(|a| a["id"] == id).expect("answered");
            answer["result"]["contents"]["value"].as_str().map(str::to_owned)
        };
        assert_eq!(value(1), None, "`paginate` in a comment is not the section");
        assert_eq!(value(2).as_deref(), Some("credential `api_token` (a secret, asked at connect): An admin token"));
        assert!(value(3).is_some_and(|v| v.contains("puts each next token at that key path")), "{:?}", value(3));
    }

    /// The outline, folding, and renaming a credential everywhere it stands.
    #[test]
    fn symbols_folding_and_rename() {
        let text = "app \"Acme\"\nbase_url \"https://{tenant}.acme.example\"\n\ncredentials {\n  tenant text \"t\"\n  \
                    api_token secret \"k\"\n}\n\nauth bearer \"{api_token}\"\n";
        let request = |id: u32, method: &str, params: serde_json::Value| serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let document = serde_json::json!({"uri": "file:///a.tib"});
        let messages = vec![
            initialize(),
            serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
                "uri": "file:///a.tib", "languageId": "tib", "version": 1, "text": text}}}),
            request(1, "textDocument/documentSymbol", serde_json::json!({"textDocument": document})),
            request(2, "textDocument/foldingRange", serde_json::json!({"textDocument": document})),
            request(
                3,
                "textDocument/rename",
                serde_json::json!({"textDocument": document,
                "position": {"line": 8, "character": 15}, "newName": "token"}),
            ),
            request(
                4,
                "textDocument/rename",
                serde_json::json!({"textDocument": document,
                "position": {"line": 8, "character": 15}, "newName": "Not A Name"}),
            ),
        ];
        let answers = exchange(&messages, b"");
        let result = |id: u32| answers.iter().find(|a| a["id"] == id).map(|a| a["result"].clone()).expect("answered");
        let names: Vec<String> = result(1)
            .as_array()
            .expect("symbols")
            .iter()
            .map(|s| s["name"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "app \"Acme\"",
                "base_url \"https://{tenant}.acme.example\"",
                "credentials",
                "auth bearer \"{api_token}\""
            ]
        );
        assert_eq!(result(2), serde_json::json!([{"startLine": 3, "endLine": 6}]), "the credentials block folds");
        let edits = &result(3)["changes"]["file:///a.tib"];
        let at: Vec<(u64, u64)> = edits
            .as_array()
            .expect("edits")
            .iter()
            .map(|e| {
                (
                    e["range"]["start"]["line"].as_u64().unwrap_or(99),
                    e["range"]["start"]["character"].as_u64().unwrap_or(99),
                )
            })
            .collect();
        assert_eq!(at, [(5, 2), (8, 14)], "the declaration and the placeholder: {edits}");
        assert!(edits.as_array().expect("edits").iter().all(|e| e["newText"] == "token"));
        assert_eq!(result(4), serde_json::Value::Null, "a name that is no credential name is refused");
    }

    /// Changes that came faster than checks: only the latest text is checked and published, and a
    /// request between changes is answered on the text of its time.
    #[test]
    fn a_change_that_a_newer_one_replaces_is_not_checked() {
        let change = |version: u32, text: String| {
            serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": "file:///a.tib", "version": version},
                "contentChanges": [{"text": text}]}})
        };
        let mut messages = vec![
            initialize(),
            serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
                "uri": "file:///a.tib", "languageId": "tib", "version": 1, "text": "app \"A\"\n"}}}),
        ];
        // 21 quick edits, each a version of its own: `paginate` misspelt as the edits go.
        messages.extend((2..=22).map(|v| change(v, format!("app \"A\"\n{}\n", "x".repeat(v as usize)))));
        messages.push(serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": "file:///a.tib"}, "position": {"line": 0, "character": 1}}}));
        messages.push(change(23, "app \"A\"\npaginaton none\n".to_owned()));
        let answers = exchange(&messages, b"");
        let published: Vec<&serde_json::Value> =
            answers.iter().filter(|a| a["method"] == "textDocument/publishDiagnostics").collect();
        // The last edit before the hover, and the one after it.
        assert_eq!(published.len(), 2, "{published:?}");
        assert!(published[0].to_string().contains("xxxxxxxxxxxxxxxxxxxxxx"), "the 22nd version: {}", published[0]);
        assert!(published[1].to_string().contains("`paginaton` does not start a section"), "{}", published[1]);
        let hover = answers.iter().find(|a| a["id"] == 7).expect("the hover is answered");
        assert!(hover.get("error").is_none(), "{hover}");
    }

    #[test]
    fn every_position_in_and_around_the_text_is_answered() {
        let text =
            "app \"😀Acme\"\n# 👩\u{200d}👩 é\nbase_url \"https://{t😀}.x\"\ncredentials { t text \"😀\" }\n😀😀\n";
        let mut messages = vec![
            initialize(),
            serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
                "uri": "file:///a.tib", "languageId": "tib", "version": 1, "text": text}}}),
        ];
        let methods = ["textDocument/hover", "textDocument/completion", "textDocument/definition"];
        let mut id = 0;
        for line in 0..8 {
            for character in 0..40 {
                for method in methods {
                    id += 1;
                    messages.push(serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {
                        "textDocument": {"uri": "file:///a.tib"},
                        "position": {"line": line, "character": character}}}));
                }
            }
        }
        let answers = exchange(&messages, b"");
        let failed: Vec<&serde_json::Value> = answers.iter().filter(|a| a.get("error").is_some()).collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(answers.iter().filter(|a| a.get("id").is_some()).count(), id as usize + 1);
    }
}
