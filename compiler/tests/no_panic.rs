//! The parser and checker never panic, whatever the input: arbitrary text,
//! and the example specs with random bytes cut, repeated or replaced.

mod common;

use proptest::prelude::*;

fn corpus() -> Vec<String> {
    let mut texts: Vec<String> =
        common::tib_files(&common::root().join("specs")).into_iter().map(|(_, _, text)| text).collect();
    texts.extend(common::tib_files(&common::root().join("compiler/tests/fail")).into_iter().map(|(_, _, t)| t));
    texts
}

/// An edit applied to a valid spec: (position fraction, length, replacement).
fn edits() -> impl Strategy<Value = Vec<(f64, usize, String)>> {
    let piece = prop_oneof![
        Just(String::new()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("[".to_owned()),
        Just(" is ".to_owned()),
        Just(" some { ".to_owned()),
        Just("\n".to_owned()),
        Just("{api_token}".to_owned()),
        "[ -~]{0,8}",
        "\\PC{0,4}",
    ];
    prop::collection::vec((0.0..1.0f64, 0usize..12, piece), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = tib_front::compile("fuzz.tib", &text, &common::catalog());
    }

    #[test]
    fn mutated_specs_never_panic(which in 0usize..64, edits in edits()) {
        let corpus = corpus();
        let mut text = corpus[which % corpus.len()].clone();
        for (at, len, replacement) in edits {
            let mut start = ((text.len() as f64) * at) as usize;
            while !text.is_char_boundary(start) { start -= 1; }
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) { end += 1; }
            text.replace_range(start..end, &replacement);
        }
        let compiled = tib_front::compile("fuzz.tib", &text, &common::catalog());
        // Whatever happened, an error-free result has IR and an erroneous one has none.
        let has_errors = compiled.diagnostics.iter().any(|d| d.is_error());
        prop_assert_eq!(compiled.spec.is_some(), !has_errors);
        // Every syntax error says what to do, and the report reads in source order.
        for d in &compiled.diagnostics {
            let syntax = matches!(d.code, "tib::syntax" | "tib::unclosed-bracket" | "tib::unmatched-bracket");
            prop_assert!(!syntax || d.help.is_some(), "{} has no help: {}", d.code, d.message);
        }
        prop_assert!(compiled.diagnostics.is_sorted_by_key(|d| d.primary.span.start));
    }

    #[test]
    fn deep_nesting_never_overflows(depth in 1usize..2000) {
        let text = format!("app \"A\"\nactive when {{ a some {}{} }}", "{ b some ".repeat(depth), "}".repeat(depth));
        let _ = tib_front::compile("deep.tib", &text, &common::catalog());
    }
}
