//! Timestamps as APIs send them, as text and as numbers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tib_support::value::Leaf;

fuzz_target!(|text: &str| {
    let _ = tib_support::time::timestamp(&Leaf::Text(text.into()));
    let _ = tib_support::time::timestamp(&Leaf::Number(text.into()));
});
