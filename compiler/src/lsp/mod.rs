//! `compiler lsp`: the Language Server Protocol over stdio, on the same front
//! end as `compiler check`: diagnostics as the author types, hover from the
//! language reference, completion, go to definition and references for
//! credentials, formatting, and the diagnostics' replacements as quick fixes.
//!
//! Documents are synchronised whole (each change sends the full text): specs
//! are small, and the front end checks one in well under a millisecond.

mod complete;
mod credentials;
mod document;
mod reference;

use std::collections::HashMap;
use std::error::Error;
use std::path::PathBuf;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, Formatting, GotoDefinition, HoverRequest, References, Request as _,
};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionProviderCapability, CompletionOptions,
    CompletionParams, DiagnosticRelatedInformation, DiagnosticSeverity, DidChangeTextDocumentParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DocumentFormattingParams, GotoDefinitionParams,
    GotoDefinitionResponse, Hover, HoverContents, HoverParams, HoverProviderCapability, InitializeParams, Location,
    MarkupContent, MarkupKind, NumberOrString, OneOf, PublishDiagnosticsParams, ReferenceParams, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri, WorkspaceEdit,
};
use tib_front::diag::{self, Severity};
use tib_front::span::Span;

use document::Document;

type Failure = Box<dyn Error + Send + Sync>;

/// Serves one client over stdin and stdout until it asks to exit.
pub fn run() -> Result<(), Failure> {
    let (connection, threads) = Connection::stdio();
    serve(&connection)?;
    drop(connection);
    threads.join()?;
    Ok(())
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
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..ServerCapabilities::default()
    }
}

fn serve(connection: &Connection) -> Result<(), Failure> {
    let params: InitializeParams =
        serde_json::from_value(connection.initialize(serde_json::to_value(capabilities())?)?)?;
    #[allow(deprecated)] // Clients still send root_uri; workspace_folders is its successor.
    let root = params
        .workspace_folders
        .and_then(|folders| folders.into_iter().next().map(|f| f.uri))
        .or(params.root_uri)
        .and_then(|uri| document::file_path(uri.as_str()));
    let mut server = Server { root, documents: HashMap::new() };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                connection.sender.send(Message::Response(server.request(request)))?;
            }
            Message::Notification(notification) => {
                if let Some(published) = server.notification(notification) {
                    connection.sender.send(Message::Notification(published))?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

struct Server {
    /// The client's workspace root: where the catalog is when none is found up from a spec.
    root: Option<PathBuf>,
    documents: HashMap<Uri, Document>,
}

impl Server {
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
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '>' || c == '=';
    let start = text[..offset].rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
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
    let previous = trimmed.rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
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
