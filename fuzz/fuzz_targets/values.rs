//! Tolerant values: any JSON (or not) read as a `Leaf`, then read as text, number, flag, count, token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tib_support::value::Leaf;

fuzz_target!(|body: &[u8]| {
    if let Ok(leaf) = tib_support::page::read::<Leaf<'_>>(body) {
        let _ = (leaf.text(), leaf.number(), leaf.kind(), leaf.present());
        let _ = (tib_support::page::flag(Some(&leaf)), tib_support::page::count(Some(&leaf)));
        let _ = tib_support::page::token(Some(&leaf));
    }
});
