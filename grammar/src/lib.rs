//! The pest grammar of the `.tib` language (`tib.pest`), compiled into a parser.
//!
//! This crate only recognises text; `compiler` lowers the parse tree into its AST
//! and owns every meaning. `grammar/README.md` is the language reference.

#![allow(missing_docs)] // pest_derive generates the undocumented `Rule` enum.

use pest_derive::Parser;

/// The parser for `.tib` files. Start at [`Rule::file`].
#[derive(Parser)]
#[grammar = "tib.pest"]
pub struct TibParser;
