//! The operators of condition rules, once, for every connector and for preview.
//!
//! A missing value is `None`. Comparisons tolerate what APIs send: `"true"`
//! equals `true`, `"5"` equals `5`, and `>=` reads numbers sent as strings.

use crate::value::Leaf;

/// A constant of a rule (`'static` in generated code).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lit<'l> {
    Text(&'l str),
    Number(f64),
    Bool(bool),
}

/// `is`: equal to the literal.
pub fn is(value: Option<&Leaf<'_>>, lit: &Lit<'_>) -> bool {
    let Some(value) = value else { return false };
    match (value, lit) {
        (Leaf::Text(t), Lit::Text(l)) => t == l,
        (Leaf::Number(n), Lit::Text(l)) => {
            n == l || matches!((n.parse::<f64>(), l.trim().parse::<f64>()), (Ok(a), Ok(b)) if a == b)
        }
        (Leaf::Number(_) | Leaf::Text(_), Lit::Number(x)) => value.number() == Some(*x),
        (Leaf::Bool(b), Lit::Bool(x)) => b == x,
        (Leaf::Text(t), Lit::Bool(x)) => t.trim().eq_ignore_ascii_case(if *x { "true" } else { "false" }),
        (Leaf::Bool(b), Lit::Text(l)) => l.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        _ => false,
    }
}

/// `is not`: missing, or not equal.
pub fn is_not(value: Option<&Leaf<'_>>, lit: &Lit<'_>) -> bool {
    !is(value, lit)
}

/// `any of`: equal to one of the literals.
pub fn any_of(value: Option<&Leaf<'_>>, lits: &[Lit<'_>]) -> bool {
    lits.iter().any(|lit| is(value, lit))
}

/// `contains`: a string containing the text, or an array with an equal item.
pub fn contains(value: Option<&Leaf<'_>>, lit: &Lit<'_>) -> bool {
    match value {
        Some(Leaf::List(items)) => items.iter().any(|item| is(Some(item), lit)),
        Some(Leaf::Text(t)) => match lit {
            Lit::Text(l) => t.contains(l),
            Lit::Number(_) | Lit::Bool(_) => false,
        },
        _ => false,
    }
}

/// `not contains`: missing, or not containing it.
pub fn not_contains(value: Option<&Leaf<'_>>, lit: &Lit<'_>) -> bool {
    !contains(value, lit)
}

/// `>=`: a number, or a string holding one, at least `min`.
pub fn at_least(value: Option<&Leaf<'_>>, min: f64) -> bool {
    value.and_then(Leaf::number).is_some_and(|n| n >= min)
}

/// `has value`: present, not null, not an empty string or array.
pub fn has_value(value: Option<&Leaf<'_>>) -> bool {
    match value {
        None | Some(Leaf::Null) => false,
        Some(Leaf::Text(t)) => !t.is_empty(),
        Some(Leaf::List(items)) => !items.is_empty(),
        Some(Leaf::Bool(_) | Leaf::Number(_) | Leaf::Object) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &'static str) -> Leaf<'static> {
        Leaf::Text(s.into())
    }

    fn n(s: &'static str) -> Leaf<'static> {
        Leaf::Number(s.into())
    }

    #[test]
    fn is_table() {
        let cases = [
            (Some(t("active")), Lit::Text("active"), true),
            (Some(t("Active")), Lit::Text("active"), false),
            (Some(n("5")), Lit::Number(5.0), true),
            (Some(t("5")), Lit::Number(5.0), true),
            (Some(n("1")), Lit::Text("1"), true),
            (Some(n("1.0")), Lit::Text("1"), true),
            (Some(Leaf::Bool(true)), Lit::Bool(true), true),
            (Some(t("TRUE")), Lit::Bool(true), true),
            (Some(Leaf::Bool(false)), Lit::Text("false"), true),
            (Some(Leaf::Null), Lit::Text("null"), false),
            (None, Lit::Bool(false), false),
        ];
        for (value, lit, expected) in cases {
            assert_eq!(is(value.as_ref(), &lit), expected, "{value:?} is {lit:?}");
            assert_eq!(is_not(value.as_ref(), &lit), !expected, "{value:?} is not {lit:?}");
        }
    }

    #[test]
    fn other_operators() {
        let groups = Leaf::List(vec![t("eng"), t("ops")]);
        assert!(contains(Some(&groups), &Lit::Text("ops")));
        assert!(!contains(Some(&groups), &Lit::Text("op")));
        assert!(contains(Some(&t("a+test@x.io")), &Lit::Text("+test@")));
        assert!(not_contains(None, &Lit::Text("x")));
        assert!(any_of(Some(&t("b")), &[Lit::Text("a"), Lit::Text("b")]));
        assert!(!any_of(None, &[Lit::Text("a")]));
        assert!(at_least(Some(&t("12")), 10.0));
        assert!(!at_least(Some(&t("n/a")), 0.0));
        assert!(!at_least(None, 0.0));
        assert!(has_value(Some(&Leaf::Bool(false))));
        assert!(!has_value(Some(&t(""))));
        assert!(!has_value(Some(&Leaf::List(vec![]))));
        assert!(!has_value(Some(&Leaf::Null)));
    }
}
