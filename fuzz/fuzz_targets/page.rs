//! A page through every generated connector: any body gives users, dropped users or a page error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    for (_, connector) in tib_connectors::CONNECTORS {
        let mut users = 0usize;
        let _ = connector.parse_page(body, &mut |_| users += 1);
    }
});
