//! Response paths as a spec writes them (`data.members`, `"@odata.nextLink"`, `roles[0].name`), put
//! where paths stand in a valid spec: the users path and a mapped field.
#![no_main]

use std::sync::OnceLock;

use tib_front::catalog::Catalog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|path: &str| {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    let catalog =
        CATALOG.get_or_init(|| Catalog::parse(include_str!("../../custom-fields.toml")).expect("the catalog"));
    let spec = format!(
        "app \"Fuzz\"\nbase_url \"https://api.example.com\"\ncredentials {{\n  token secret \"t\"\n}}\n\
         auth bearer \"{{token}}\"\nrequest GET \"/users\"\npaginate none\nusers at {path}\nfields {{\n  id = {path}\n  email = email\n}}\n"
    );
    let _ = tib_front::compile("fuzz.tib", &spec, catalog);
});
