//! Which URLs a spec may name: https anywhere, plain http only on loopback,
//! absolute only, placeholders only for text credentials.

use tib_front::catalog::Catalog;

fn codes_for_base_url(url: &str) -> Vec<&'static str> {
    let spec = format!(
        "app \"A\"\nbase_url \"{url}\"\ncredentials {{ api_token secret \"t\"  tenant text \"t\" }}\n\
         auth bearer \"{{api_token}}\"\nrequest GET \"/users\"\npaginate none\nusers at .\nfields {{ id = id  email = email }}\n"
    );
    let compiled = tib_front::compile("urls.tib", &spec, &Catalog::default());
    compiled.diagnostics.iter().map(|d| d.code).filter(|c| *c != "tib::unused-credential").collect()
}

#[test]
fn base_url_table() {
    let cases: &[(&str, &[&str])] = &[
        ("https://api.example.com/v1", &[]),
        ("https://{tenant}.example.com/v1", &[]),
        ("https://api.example.com/v1/", &[]),
        ("http://localhost:8080/api", &[]),
        ("http://127.0.0.1:9000", &[]),
        ("http://[::1]:9000", &[]),
        ("http://api.example.com/v1", &["tib::insecure-url"]),
        ("ftp://api.example.com", &["tib::insecure-url"]),
        ("/v1", &["tib::relative-url"]),
        ("api.example.com/v1", &["tib::relative-url"]),
        ("https://api.example.com/v1?key=1", &["tib::base-url-query"]),
        ("https://api.example.com/#top", &["tib::bad-url"]),
        ("https://admin:hunter2@api.example.com/v1", &["tib::url-userinfo"]),
        ("https://admin@api.example.com/v1", &["tib::url-userinfo"]),
        ("https://{api_token}.example.com", &["tib::secret-in-url"]),
        ("https://{tenat}.example.com", &["tib::unknown-credential"]),
    ];
    for (url, expected) in cases {
        assert_eq!(codes_for_base_url(url), *expected, "for {url}");
    }
}

#[test]
fn trailing_slashes_of_base_url_are_dropped() {
    let spec = "app \"A\"\nbase_url \"https://api.example.com/v1//\"\ncredentials { t secret \"t\" }\nauth bearer \"{t}\"\n\
                request GET \"/users\"\npaginate none\nusers at .\nfields { id = id  email = email }\n";
    let ir = tib_front::compile("urls.tib", spec, &Catalog::default()).spec.expect("clean");
    assert_eq!(ir.base_url, tib_front::ir::Template::text("https://api.example.com/v1"));
}
