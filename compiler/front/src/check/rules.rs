//! Condition rules: each operator with an operand of the right kind, groups
//! never empty, `some` with rules for the array's items; and label branches.

use crate::ast::{self, Op, Operand, Value};
use crate::diag::Diagnostic;
use crate::ir;
use crate::suggest;

use super::values;

/// Operators as written, for "did you mean".
/// The operators of a rule, as written.
pub const OPERATORS: &[&str] = &["is", "is not", "any of", "contains", "not contains", ">=", "has value", "some"];

/// A non-empty group of ANDed rules.
pub fn group(group: &ast::RuleGroup, owner: &str, d: &mut Vec<Diagnostic>) -> Option<Vec<ir::Rule>> {
    if group.rules.is_empty() {
        d.push(
            Diagnostic::error("tib::empty-rules", format!("{owner} has no rules"), group.span, "empty")
                .with_help("write at least one rule, e.g. { status is \"active\" }"),
        );
        return None;
    }
    // `admin is true or suspended is false` reads as a rule on a path `or`: after a string the
    // parser names this mistake; after other values it is named here the same way.
    let or = group.rules.iter().find(|r| {
        matches!(r.path.segments.as_slice(), [ast::Segment::Key { name, quoted: false, .. }] if name == "or")
            && matches!(r.op, Op::Unknown(_))
    });
    if let Some(or) = or {
        d.push(
            Diagnostic::error("tib::syntax", "`or` does not join the rules of a group", or.path.span, "here")
                .with_help("the rules of a `{ }` group must all hold; for alternatives write `any { rule  rule }`"),
        );
        return None;
    }
    let rules: Vec<Option<ir::Rule>> = group.rules.iter().map(|r| rule(r, d)).collect();
    let rules: Vec<ir::Rule> = rules.into_iter().collect::<Option<_>>()?;
    never_holds(group, &rules, owner, d).then_some(rules)
}

/// Two rules of one group on one value that cannot both hold (`type is 1`
/// and `type is 4`): the group never holds, and what it decides never
/// happens. Only literals of one kind are compared (`"1"` may equal `1`).
/// Returns whether the group can hold.
fn never_holds(group: &ast::RuleGroup, rules: &[ir::Rule], owner: &str, d: &mut Vec<Diagnostic>) -> bool {
    use ir::Test::{AnyOf, Is, IsNot};
    let differ = |a: &ir::Literal, b: &ir::Literal| match (a, b) {
        (ir::Literal::Text(x), ir::Literal::Text(y)) => x != y,
        (ir::Literal::Number { value: x, .. }, ir::Literal::Number { value: y, .. }) => x != y,
        (ir::Literal::Bool(x), ir::Literal::Bool(y)) => x != y,
        _ => false,
    };
    let outside = |a: &ir::Literal, list: &[ir::Literal]| list.iter().all(|b| differ(a, b));
    for (i, first) in rules.iter().enumerate() {
        for (j, second) in rules.iter().enumerate().skip(i + 1) {
            if first.path != second.path {
                continue;
            }
            let clash = match (&first.test, &second.test) {
                (Is(a), Is(b)) => differ(a, b),
                (Is(a), IsNot(b)) | (IsNot(b), Is(a)) => a == b,
                (Is(a), AnyOf(list)) | (AnyOf(list), Is(a)) => outside(a, list),
                (AnyOf(one), AnyOf(other)) => one.iter().all(|a| outside(a, other)),
                _ => false,
            };
            if clash {
                d.push(
                    Diagnostic::error(
                        "tib::never-holds",
                        format!("{owner} can never hold: `{}` cannot pass both rules", first.path),
                        group.rules[j].span,
                        "and this one",
                    )
                    .with_label(group.rules[i].span, "this rule")
                    .with_help("one value is tested twice: keep the one you mean, or list the values with `any of`"),
                );
                return false;
            }
        }
    }
    true
}

fn rule(rule: &ast::Rule, d: &mut Vec<Diagnostic>) -> Option<ir::Rule> {
    let path = values::path(&rule.path, d);
    let test = test(rule, d);
    Some(ir::Rule { path: path?, test: test? })
}

fn test(rule: &ast::Rule, d: &mut Vec<Diagnostic>) -> Option<ir::Test> {
    let operand = rule.operand.as_ref();
    match &rule.op {
        Op::Is => single(rule, "is", operand, d).map(ir::Test::Is),
        Op::IsNot => single(rule, "is not", operand, d).map(ir::Test::IsNot),
        Op::Contains => single(rule, "contains", operand, d).map(ir::Test::Contains),
        Op::NotContains => single(rule, "not contains", operand, d).map(ir::Test::NotContains),
        Op::AnyOf => match operand {
            Some(Operand::Value(Value::List(items, span))) => {
                if items.is_empty() {
                    d.push(
                        Diagnostic::error(
                            "tib::wrong-operand",
                            "`any of` needs at least one value",
                            *span,
                            "empty list",
                        )
                        .with_help("list the values, e.g. role any of [\"admin\", \"owner\"]"),
                    );
                    return None;
                }
                let literals: Vec<Option<ir::Literal>> = items.iter().map(|item| values::literal(item, d)).collect();
                literals.into_iter().collect::<Option<Vec<_>>>().map(ir::Test::AnyOf)
            }
            Some(other) => {
                d.push(
                    Diagnostic::error("tib::wrong-operand", "`any of` takes a list", other.span(), "not a list")
                        .with_help("write the values in brackets, e.g. role any of [\"admin\", \"owner\"]"),
                );
                None
            }
            None => missing_operand(rule, "any of", "[\"admin\", \"owner\"]", d),
        },
        Op::AtLeast => match operand {
            Some(Operand::Value(Value::Number(n))) => values::number(n, d).map(ir::Test::AtLeast),
            Some(Operand::Value(Value::Str(s))) => {
                let mut diagnostic =
                    Diagnostic::error("tib::wrong-operand", "`>=` compares numbers, not text", s.span, "this is text");
                diagnostic = match s.plain().filter(|t| t.trim().parse::<f64>().is_ok()) {
                    Some(t) => diagnostic
                        .with_help(format!("write {} without quotes; numbers sent as strings still compare", t.trim())),
                    None => diagnostic.with_help("use `is` or `contains` to compare text"),
                };
                d.push(diagnostic);
                None
            }
            Some(other) => {
                d.push(
                    Diagnostic::error("tib::wrong-operand", "`>=` takes a number", other.span(), "not a number")
                        .with_help("write one number, e.g. seats >= 1"),
                );
                None
            }
            None => missing_operand(rule, ">=", "1", d),
        },
        Op::HasValue => match operand {
            None => Some(ir::Test::HasValue),
            Some(other) => {
                d.push(
                    Diagnostic::error("tib::wrong-operand", "`has value` takes no value", other.span(), "remove this")
                        .with_help(
                            "`has value` holds when the field is present, not null and not empty; to compare, use `is`",
                        ),
                );
                None
            }
        },
        Op::Some => match operand {
            Some(Operand::Rules(rules)) => group(rules, "`some`", d).map(ir::Test::Some),
            Some(other) => {
                d.push(
                    Diagnostic::error(
                        "tib::wrong-operand",
                        "`some` takes rules for the array's items",
                        other.span(),
                        "not rules",
                    )
                    .with_help("e.g. roles some { name is \"admin\" }; to test a plain array, use `contains`"),
                );
                None
            }
            None => missing_operand(rule, "some", "{ name is \"admin\" }", d),
        },
        Op::Any => match operand {
            Some(Operand::Alternatives(alternatives, span)) => {
                if alternatives.is_empty() {
                    d.push(
                        Diagnostic::error("tib::empty-rules", "`any` has no alternatives", *span, "empty").with_help(
                            "list the alternatives, e.g. any { is_restricted is true  is_ultra_restricted is true }",
                        ),
                    );
                    return None;
                }
                let groups: Vec<Option<Vec<ir::Rule>>> =
                    alternatives.iter().map(|g| group(g, "an alternative of `any`", d)).collect();
                groups.into_iter().collect::<Option<Vec<_>>>().map(ir::Test::Any)
            }
            _ => unreachable!("the parser gives `any` its alternatives"),
        },
        Op::Unknown(word) => {
            let help = match word.as_str() {
                "==" | "=" | "equals" | "eq" => "did you mean `is`?".to_owned(),
                "!=" | "<>" | "isnt" | "ne" => "did you mean `is not`?".to_owned(),
                ">" | "=>" | "gte" | "ge" => "did you mean `>=`?".to_owned(),
                "in" | "one_of" | "oneof" | "anyof" => "did you mean `any of`?".to_owned(),
                "exists" | "present" => "did you mean `has value`?".to_owned(),
                "includes" | "has" => "did you mean `contains`?".to_owned(),
                other => suggest::help(other, OPERATORS, "operators are"),
            };
            d.push(
                Diagnostic::error(
                    "tib::unknown-operator",
                    format!("`{word}` is not an operator"),
                    rule.op_span,
                    "unknown operator",
                )
                .with_help(help),
            );
            None
        }
    }
}

/// The operand of `is`, `is not`, `contains`, `not contains`: one literal.
fn single(rule: &ast::Rule, op: &str, operand: Option<&Operand>, d: &mut Vec<Diagnostic>) -> Option<ir::Literal> {
    match operand {
        Some(Operand::Value(Value::List(_, span))) => {
            let help = match op {
                "is" => "to match any of several values, use `any of`",
                _ => "write one value; combine several rules to test more",
            };
            d.push(
                Diagnostic::error("tib::wrong-operand", format!("`{op}` takes one value, not a list"), *span, "a list")
                    .with_help(help),
            );
            None
        }
        Some(Operand::Alternatives(_, span)) => {
            d.push(
                Diagnostic::error("tib::wrong-operand", format!("`{op}` takes a value"), *span, "alternatives")
                    .with_help("alternatives are written as a rule of their own: `any { rule  rule }`"),
            );
            None
        }
        Some(Operand::Rules(group)) => {
            d.push(
                Diagnostic::error(
                    "tib::wrong-operand",
                    format!("`{op}` takes a value, not rules"),
                    group.span,
                    "rules",
                )
                .with_help("rules in braces go with `some`"),
            );
            None
        }
        Some(Operand::Value(value)) => values::literal(value, d),
        None => missing_operand(rule, op, "\"active\"", d),
    }
}

fn missing_operand<T>(rule: &ast::Rule, op: &str, example: &str, d: &mut Vec<Diagnostic>) -> Option<T> {
    d.push(
        Diagnostic::error("tib::missing-operand", format!("`{op}` needs a value"), rule.op_span, "compared with what?")
            .with_help(format!("e.g. {} {op} {example}", values::as_written(&rule.path))),
    );
    None
}

/// `if { ... } then "A" else if ... else "C"`: rules in every branch, labels
/// non-empty, an `else` label present.
pub fn branches(branches: &ast::Branches, owner: &str, d: &mut Vec<Diagnostic>) -> Option<ir::Branches> {
    let out = branch_list(branches, owner, d);
    let otherwise = match &branches.otherwise {
        Some(ast::Otherwise::Label(s)) => label(s, d),
        Some(ast::Otherwise::Value(value)) => {
            d.push(
                Diagnostic::error(
                    "tib::else-value",
                    format!("{owner} ends with a label, not a value of the user"),
                    value.span(),
                    "a path",
                )
                .with_help(
                    "end the branches with else \"Label\"; only a field (`role`) may end at the user's own \
                     value, as in role = if { owner is true } then \"Owner\" else role_name",
                ),
            );
            None
        }
        None => {
            d.push(
                Diagnostic::error(
                    "tib::missing-else",
                    format!("{owner} has no `else` label"),
                    branches.span,
                    "what if no branch holds?",
                )
                .with_help("end the branches with else \"Label\""),
            );
            None
        }
    };
    Some(ir::Branches { branches: out?, otherwise: otherwise? })
}

/// The branches' rules and labels, each checked.
pub fn branch_list(branches: &ast::Branches, owner: &str, d: &mut Vec<Diagnostic>) -> Option<Vec<ir::Branch>> {
    let mut out = Vec::new();
    let mut ok = true;
    for branch in &branches.branches {
        let when = group(&branch.when, &format!("a branch of {owner}"), d);
        let label = label(&branch.label, d);
        match (when, label) {
            (Some(when), Some(label)) => out.push(ir::Branch { when, label }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

pub fn label(s: &ast::Str, d: &mut Vec<Diagnostic>) -> Option<String> {
    let text = values::plain(s, "a label", d)?;
    if text.trim().is_empty() {
        d.push(
            Diagnostic::error("tib::empty-label", "a label cannot be empty", s.span, "empty")
                .with_help("write the label people see, e.g. \"Active\""),
        );
        return None;
    }
    Some(text)
}
