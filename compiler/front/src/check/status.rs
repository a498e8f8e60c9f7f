//! Calculated Status, Status in App and License Status; and the warning when
//! a status branch can label "Active" a user the active rules exclude.

use crate::ast;
use crate::diag::Diagnostic;
use crate::ir::{self, Literal, Test};

use super::rules;

pub fn active(group: Option<&ast::RuleGroup>, d: &mut Vec<Diagnostic>) -> Option<ir::Active> {
    match group {
        None => Some(ir::Active::Everyone),
        Some(group) => rules::group(group, "`active when`", d).map(ir::Active::When),
    }
}

pub fn status(status: &ast::Status, d: &mut Vec<Diagnostic>) -> Option<ir::StatusInApp> {
    match status {
        ast::Status::Auto(_) => Some(ir::StatusInApp::Auto),
        ast::Status::Fixed(label) => rules::label(label, d).map(ir::StatusInApp::Fixed),
        ast::Status::Field(path) => super::values::path(path, d).map(|p| ir::StatusInApp::Field(ir::Mapped::path(p))),
        ast::Status::Branches(branches) => rules::branches(branches, "`status`", d).map(ir::StatusInApp::Conditions),
    }
}

/// `None` on error; the caller defaults a missing section to `auto`.
pub fn licenses(licenses: &ast::Licenses, app: Option<&ir::App>, d: &mut Vec<Diagnostic>) -> Option<ir::Licenses> {
    match licenses {
        ast::Licenses::Auto { name, .. } => {
            let name = match name {
                Some(s) => super::values::plain(s, "a license name", d)?,
                None => app?.name.clone(),
            };
            Some(ir::Licenses::Auto { name })
        }
        ast::Licenses::None(_) => Some(ir::Licenses::None),
        ast::Licenses::List { entries, span } => {
            if entries.is_empty() {
                d.push(
                    Diagnostic::error("tib::empty-licenses", "`licenses` lists no license", *span, "empty").with_help(
                        "list licenses as \"Name\" when { rules }; an app without license tiers is \
                             `licenses none`, one license for every active user `licenses auto`",
                    ),
                );
                return None;
            }
            let mut licenses = Vec::new();
            let mut catch_all: Option<(String, &ast::License)> = None;
            // A map, not a list: a spec may list tens of thousands of licenses.
            let mut seen: std::collections::HashMap<String, &ast::License> = std::collections::HashMap::new();
            let mut ok = true;
            for entry in entries {
                let Some(name) = super::values::plain(&entry.name, "a license name", d) else {
                    ok = false;
                    continue;
                };
                if let Some(first) = seen.get(&name) {
                    d.push(
                        Diagnostic::error(
                            "tib::duplicate-license",
                            format!("license `{name}` is listed twice"),
                            entry.name.span,
                            "listed again here",
                        )
                        .with_label(first.name.span, "first listed here")
                        .with_help("give each license one entry; put alternatives in one rule with `any of`"),
                    );
                    ok = false;
                    continue;
                }
                seen.insert(name.clone(), entry);
                if let Some((_, all)) = &catch_all {
                    d.push(
                        Diagnostic::error(
                            "tib::unreachable-license",
                            format!("license `{name}` comes after the catch-all"),
                            entry.span,
                            "never reached",
                        )
                        .with_label(all.span, "this `otherwise` catches every user left")
                        .with_help("move the catch-all to the end of the list"),
                    );
                    ok = false;
                    continue;
                }
                match &entry.when {
                    Some(group) => match rules::group(group, &format!("license `{name}`"), d) {
                        Some(when) => licenses.push(ir::License { name, when }),
                        None => ok = false,
                    },
                    None => catch_all = Some((name, entry)),
                }
            }
            if !ok {
                return None;
            }
            Some(ir::Licenses::Conditions { licenses, catch_all: catch_all.map(|(name, _)| name) })
        }
    }
}

/// Warns where a Status in App branch labelled "Active" can hold for a user
/// the `active when` rules exclude, when that can be seen from the rules alone:
/// a branch must imply every active rule; `else` must be reached only by
/// users whom earlier single-rule branches have shown to pass them.
pub fn warn_active_label_of_inactive(
    written: &ast::Branches,
    checked: &ir::Branches,
    active_group: &ast::RuleGroup,
    active_rules: &[ir::Rule],
    d: &mut Vec<Diagnostic>,
) {
    // The checked branches correspond one to one with the written ones.
    for (branch, label) in checked.branches.iter().zip(written.branches.iter().map(|b| &b.label)) {
        if is_active_label(label)
            && let Some(i) = active_rules.iter().position(|a| !branch.when.iter().any(|b| implies(b, a)))
        {
            d.push(warning(label, &active_group.rules[i], BRANCH_HELP));
        }
    }
    if let Some(ast::Otherwise::Label(otherwise)) = &written.otherwise
        && is_active_label(otherwise)
    {
        let excluded = |a: &ir::Rule| checked.branches.iter().any(|b| b.when.len() == 1 && negates(&b.when[0], a));
        if let Some(i) = active_rules.iter().position(|a| !excluded(a)) {
            d.push(warning(otherwise, &active_group.rules[i], BRANCH_HELP));
        }
    }
}

/// `status "Active"` labels every user "Active", the inactive ones too.
pub fn warn_fixed_active_label(label: &ast::Str, active_group: &ast::RuleGroup, d: &mut Vec<Diagnostic>) {
    if let (true, Some(rule)) = (is_active_label(label), active_group.rules.first()) {
        d.push(warning(
            label,
            rule,
            "a fixed label is every user's: write `status auto`, or label by conditions \
             (status if { … } then \"Active\" else \"Deactivated\")",
        ));
    }
}

const BRANCH_HELP: &str = "repeat the active rules in this branch, or label it differently";

fn is_active_label(label: &ast::Str) -> bool {
    label.plain().is_some_and(|text| text.trim().eq_ignore_ascii_case("active"))
}

fn warning(label: &ast::Str, active_rule: &ast::Rule, help: &str) -> Diagnostic {
    Diagnostic::warning(
        "tib::active-label-of-inactive",
        "this status can label a user \"Active\" whom `active when` excludes",
        label.span,
        "labels \"Active\"",
    )
    .with_label(active_rule.span, "a user so labelled need not pass this rule")
    .with_help(help)
}

/// Whether every value passing `b` passes `a` (same path, comparable
/// operators). An `any` group implies what each of its alternatives implies;
/// a rule implies an `any` group when it implies one of its alternatives whole.
pub(super) fn implies(b: &ir::Rule, a: &ir::Rule) -> bool {
    let on_the_value = |rule: &ir::Rule| rule.path.segments.is_empty();
    if let Test::Any(alternatives) = &b.test
        && on_the_value(b)
        && b.test != a.test
    {
        return alternatives.iter().all(|group| group.iter().any(|rule| implies(rule, a)));
    }
    if let Test::Any(alternatives) = &a.test
        && on_the_value(a)
        && b.test != a.test
    {
        return alternatives.iter().any(|group| group.iter().all(|rule| implies(b, rule)));
    }
    if b.path != a.path {
        return false;
    }
    match (&b.test, &a.test) {
        (x, y) if x == y => true,
        (Test::Is(x), Test::AnyOf(ys)) => ys.contains(x),
        (Test::Is(x), Test::IsNot(y)) => x != y,
        (Test::AnyOf(xs), Test::AnyOf(ys)) => xs.iter().all(|x| ys.contains(x)),
        (Test::AnyOf(xs), Test::IsNot(y)) => !xs.contains(y),
        (Test::AtLeast(x), Test::AtLeast(y)) => x >= y,
        (Test::Is(Literal::Number { value, .. }), Test::AtLeast(y)) => value >= y,
        (Test::Is(Literal::Text(t)), Test::HasValue) => !t.is_empty(),
        (Test::Is(_) | Test::AtLeast(_) | Test::Contains(_) | Test::Some(_), Test::HasValue) => true,
        _ => false,
    }
}

/// Whether failing `b` means passing `a`.
fn negates(b: &ir::Rule, a: &ir::Rule) -> bool {
    b.path == a.path
        && match (&b.test, &a.test) {
            (Test::IsNot(x), Test::Is(y)) | (Test::Is(x), Test::IsNot(y)) => x == y,
            (Test::NotContains(x), Test::Contains(y)) | (Test::Contains(x), Test::NotContains(y)) => x == y,
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(key: &str, test: Test) -> ir::Rule {
        ir::Rule { path: ir::Path { segments: vec![ir::Segment::Key(key.to_owned())] }, test }
    }

    fn text(t: &str) -> Literal {
        Literal::Text(t.to_owned())
    }

    #[test]
    fn implication_table() {
        let num = |v: f64| Literal::Number { value: v, text: v.to_string() };
        let cases = [
            (rule("s", Test::Is(text("a"))), rule("s", Test::Is(text("a"))), true),
            (rule("s", Test::Is(text("a"))), rule("s", Test::Is(text("b"))), false),
            (rule("s", Test::Is(text("a"))), rule("t", Test::Is(text("a"))), false),
            (rule("s", Test::Is(text("a"))), rule("s", Test::AnyOf(vec![text("a"), text("b")])), true),
            (rule("s", Test::Is(text("a"))), rule("s", Test::IsNot(text("b"))), true),
            (rule("s", Test::AnyOf(vec![text("a")])), rule("s", Test::IsNot(text("a"))), false),
            (rule("n", Test::AtLeast(5.0)), rule("n", Test::AtLeast(3.0)), true),
            (rule("n", Test::AtLeast(1.0)), rule("n", Test::AtLeast(3.0)), false),
            (rule("n", Test::Is(num(4.0))), rule("n", Test::AtLeast(3.0)), true),
            (rule("s", Test::Is(text(""))), rule("s", Test::HasValue), false),
            (rule("s", Test::Contains(text("x"))), rule("s", Test::HasValue), true),
            (rule("s", Test::HasValue), rule("s", Test::Is(text("a"))), false),
        ];
        for (b, a, expected) in cases {
            assert_eq!(implies(&b, &a), expected, "{b:?} => {a:?}");
        }
    }

    #[test]
    fn any_groups_imply_what_each_alternative_implies() {
        let any = |groups: Vec<Vec<ir::Rule>>| ir::Rule { path: ir::Path::default(), test: Test::Any(groups) };
        let (a, b) = (rule("s", Test::Is(text("a"))), rule("s", Test::Is(text("b"))));
        let a_or_b = any(vec![vec![a.clone()], vec![b.clone()]]);
        let has = rule("s", Test::HasValue);
        assert!(implies(&a_or_b, &has), "either alternative gives s a value");
        assert!(!implies(&a_or_b, &a), "b need not be a");
        assert!(implies(&a, &a_or_b), "a is one of the alternatives");
        assert!(!implies(&rule("s", Test::Is(text("c"))), &a_or_b));
        assert!(implies(&a_or_b, &a_or_b));
        let both = any(vec![vec![a.clone(), rule("t", Test::Is(text("x")))]]);
        assert!(!implies(&a, &both), "a alone does not make the whole alternative hold");
    }

    #[test]
    fn negation_table() {
        assert!(negates(&rule("s", Test::IsNot(text("a"))), &rule("s", Test::Is(text("a")))));
        assert!(negates(&rule("s", Test::Contains(text("a"))), &rule("s", Test::NotContains(text("a")))));
        assert!(!negates(&rule("s", Test::IsNot(text("a"))), &rule("s", Test::Is(text("b")))));
    }
}
