//! The spec author's tools around the [`tib_front`] library: trying a spec
//! against its real API ([`preview`]: `compiler test`, `preview` and
//! `session`), and the editor's language server ([`lsp`]).
//!
//! They bring an HTTP client, tokio and a loopback listener, which the front
//! end (parse, check, IR, emit) must not depend on: the runtime and the fuzz
//! targets link the front end alone.

pub mod lsp;
pub mod preview;
