//! `compiler fmt`: the canonical layout, idempotent, and never a change of
//! meaning: the IR of a formatted spec is the IR of the spec.

mod common;

use std::sync::LazyLock;

use proptest::prelude::*;
use tib_front::format::format;

/// Every spec that parses: the examples, the corners of the language, and the fail corpus.
fn corpus() -> &'static [(String, String)] {
    static CORPUS: LazyLock<Vec<(String, String)>> = LazyLock::new(read_corpus);
    &CORPUS
}

fn read_corpus() -> Vec<(String, String)> {
    ["specs", "compiler/tests/pass", "compiler/tests/fail"]
        .iter()
        .flat_map(|dir| common::tib_files(&common::root().join(dir)))
        .filter(|(_, _, text)| format(text).is_ok())
        .map(|(_, path, text)| (path, text))
        .collect()
}

/// What a spec means: its IR, or (for a spec with errors) what its diagnostics say.
fn meaning(text: &str) -> String {
    let compiled = tib_front::compile("t.tib", text, &common::catalog());
    match compiled.spec {
        Some(spec) => format!("{spec:?}"),
        None => compiled.diagnostics.iter().map(|d| format!("{} {}\n", d.code, d.message)).collect(),
    }
}

#[test]
fn formatting_keeps_the_meaning_of_every_spec_and_is_idempotent() {
    let corpus = corpus();
    assert!(corpus.len() > 60, "the corpus holds the examples and the fail corpus: {}", corpus.len());
    for (path, text) in corpus {
        let formatted = format(text).expect("it parsed");
        assert_eq!(meaning(&formatted), meaning(text), "{path}: formatting changed what it means");
        assert_eq!(format(&formatted).expect("formatted text parses"), formatted, "{path}: formatting twice differs");
    }
}

#[test]
fn the_example_specs_are_formatted() {
    for (_, path, text) in common::tib_files(&common::root().join("specs")) {
        assert_eq!(
            format(&text).expect("examples parse"),
            text,
            "{path} is not formatted: run `cargo run -p compiler -- fmt`"
        );
    }
}

#[test]
fn a_messy_spec_gets_the_canonical_layout() {
    let messy = r#"


# Example: the header comment stays on top.
app    "Example"
base_url "https://api.example.com"
credentials {
      token  secret "The API token"
  workspace text
  region text   "Where the account lives"
}
# Comments above a section stay with it.
auth headers {"Authorization"="Bearer {token}"   "X-Workspace" = "{workspace}"}
request GET "/users" {


    query={ "limit"="100" }   # a trailing comment

    headers = {
"Accept" = "application/json"
    }
}
paginate   offset {
  offset_param = "offset"
      limit_param = "limit"
  stop when   empty_page
}
users at data.users
fields {
  id = id
    email = primary_email
      or backup_email
  role = if { admin is true } then "Admin"
    else if {   guest is  true } then "Guest"
           else "Member"
}
active when {
      state any   of [ "active","invited" ]
  seats >= 1
}
status if { active is true } then "Active"
   else "Inactive"
licenses {
  "Pro" when { plan is "pro" }
  "Enterprise plan" when {
    plan is "enterprise"
  }
  "Free" otherwise
}



"#;
    let formatted = format(messy).expect("it parses");
    insta::assert_snapshot!(formatted, @r#"
    # Example: the header comment stays on top.
    app "Example"
    base_url "https://api.example.com"

    credentials {
      token     secret "The API token"
      workspace text
      region    text   "Where the account lives"
    }

    # Comments above a section stay with it.
    auth headers { "Authorization" = "Bearer {token}" "X-Workspace" = "{workspace}" }

    request GET "/users" {
      query = { "limit" = "100" } # a trailing comment

      headers = {
        "Accept" = "application/json"
      }
    }

    paginate offset {
      offset_param = "offset"
      limit_param  = "limit"
      stop when empty_page
    }

    users at data.users

    fields {
      id    = id
      email = primary_email
        or backup_email
      role  = if { admin is true } then "Admin"
              else if { guest is true } then "Guest"
              else "Member"
    }

    active when {
      state any of ["active", "invited"]
      seats >= 1
    }

    status if { active is true } then "Active"
           else "Inactive"

    licenses {
      "Pro"             when { plan is "pro" }
      "Enterprise plan" when {
        plan is "enterprise"
      }
      "Free"            otherwise
    }
    "#);
    assert_eq!(meaning(&formatted), meaning(messy));
}

#[test]
fn a_spec_that_does_not_parse_is_not_formatted() {
    let errors = format("app \"A\"\nfields { id = id\n").expect_err("an unclosed block does not parse");
    assert!(errors.iter().any(|d| d.is_error()), "{errors:?}");
}

/// The spans of a spec's white space outside strings and comments: the only
/// text a re-layout may change.
fn gaps(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let (mut gaps, mut at) = (Vec::new(), 0);
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'#' => at = text[at..].find('\n').map_or(bytes.len(), |n| at + n),
            b' ' | b'\t' | b'\n' => {
                let start = at;
                while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\n') {
                    at += 1;
                }
                gaps.push((start, at));
            }
            _ => at += 1,
        }
    }
    gaps
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any layout of an example with the same lines formats to the same text,
    /// and means the same: spaces, tabs and no-break spaces between tokens and
    /// in indentation, and trailing white space.
    #[test]
    fn every_layout_of_a_spec_formats_alike(which in 0usize..64, seeds in prop::collection::vec(0u8..=255, 64..512)) {
        let corpus = corpus();
        let (path, text) = &corpus[which % corpus.len()];
        let mut relaid = String::with_capacity(text.len() * 2);
        let mut last = 0;
        for (i, (start, end)) in gaps(text).into_iter().enumerate() {
            relaid.push_str(&text[last..start]);
            let seed = seeds[i % seeds.len()];
            let spaces = [" ", "  ", "\t", " \u{a0}", "    "][usize::from(seed % 5)];
            let newlines = text[start..end].matches('\n').count();
            if newlines == 0 {
                relaid.push_str(spaces);
            } else {
                relaid.push_str(spaces);
                relaid.push_str(&"\n".repeat(newlines));
                relaid.push_str(&spaces.repeat(usize::from(seed / 16 % 4)));
            }
            last = end;
        }
        relaid.push_str(&text[last..]);
        let original = format(text).expect("the corpus parses");
        let formatted = format(&relaid).map_err(|e| TestCaseError::fail(format!("{path}: {e:?}\n{relaid}")))?;
        prop_assert_eq!(&formatted, &original, "{}: another layout formats otherwise", path);
        prop_assert_eq!(meaning(&relaid), meaning(text), "{}: the new layout changed the meaning", path);
    }
}
