//! The Link and Retry-After headers as any API may send them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    let _ = tib_support::headers::link_next(value);
    let _ = tib_support::headers::retry_after(value);
});
