//! Test and preview for spec authors: a spec tried against the live API
//! without a cargo build, through the same support crate the generated
//! connectors use.

pub mod interpret;
mod spec;
