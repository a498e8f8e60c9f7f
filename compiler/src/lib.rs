//! The spec author's tools around the [`tib_front`] library: trying a spec
//! against its real API ([`preview`]: `compiler test`, `preview` and
//! `session`); drafting a spec from an OpenAPI document ([`import`]); the
//! editor's language server is the `tib-lsp` crate.
//!
//! They bring an HTTP client, tokio and a loopback listener, which the front
//! end (parse, check, IR, emit) must not depend on: the runtime and the fuzz
//! targets link the front end alone.

pub mod import;
pub mod preview;
