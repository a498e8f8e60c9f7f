//! Shapes: every path the spec reads, merged into one tree per document (the
//! response body, a user object), so that a value read two incompatible ways
//! (`manager is "x"` and `manager.id`) is an error here, not in generated code.

use crate::ast::{self, PaginationItem, SectionKind, Value};
use crate::diag::Diagnostic;
use crate::ident::Namespace;
use crate::ir::{Object, ObjectField, Shape};
use crate::span::Span;

use super::values::as_written;

/// A tree being built, remembering where each node was first given its kind.
#[derive(Default)]
struct Node {
    kind: Option<(Kind, Span)>,
    children: Vec<(String, Node)>,
    item: Option<Box<Node>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Leaf,
    Object,
    Array,
    Users,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Leaf => "a value",
            Kind::Object => "an object",
            Kind::Array => "an array of items",
            Kind::Users => "the users array",
        }
    }
}

/// How a path is used at its end.
#[derive(Clone, Copy)]
enum Use {
    Any,
    Leaf,
    Users,
}

/// Builds the body and user shapes from the sections of a spec that checked, the values of the
/// user its lookups are asked with (`lookup_keys`), and its lookups' names, whose keys of the
/// user are their answers.
pub fn shapes(
    file: &ast::File,
    lookup_keys: &[&ast::Path],
    lookups: &[&str],
    d: &mut Vec<Diagnostic>,
) -> Option<crate::ir::Shapes> {
    let mut body = Node::default();
    let mut user = Node::default();
    let before = d.len();
    for path in lookup_keys {
        user.add(path, &path.segments, Use::Leaf, d);
    }
    for section in &file.sections {
        match &section.kind {
            SectionKind::Users { path, .. } => body.add(path, &path.segments, Use::Users, d),
            SectionKind::ApiError { when, message, classes } => {
                body.group(when, d);
                for class in classes {
                    body.group(&class.when, d);
                }
                if let Some(message) = message {
                    body.add(message, &message.segments, Use::Leaf, d);
                }
            }
            SectionKind::Paginate { body: Some(pagination), .. } => {
                for item in &pagination.items {
                    match item {
                        PaginationItem::Stop { path: Some(path), .. } => body.add(path, &path.segments, Use::Leaf, d),
                        PaginationItem::From { source, arg: Some(value), .. } if source.text == "body" => {
                            body.value(value, d)
                        }
                        _ => {}
                    }
                }
            }
            SectionKind::Fields(block) | SectionKind::CustomFields(block) => {
                for entry in &block.entries {
                    user.value(&entry.value, d);
                }
            }
            SectionKind::Active(group) => user.group(group, d),
            SectionKind::Status(ast::Status::Field(path)) => user.add(path, &path.segments, Use::Leaf, d),
            SectionKind::Status(ast::Status::Branches(branches)) => user.branches(branches, d),
            SectionKind::Licenses(ast::Licenses::List { entries, .. }) => {
                for group in entries.iter().filter_map(|l| l.when.as_ref()) {
                    user.group(group, d);
                }
            }
            _ => {}
        }
    }
    if d.len() != before {
        return None;
    }
    let mut types = Namespace::default();
    let mut user = user.finish("User", &mut types);
    if let Shape::Object(object) = &mut user {
        for field in &mut object.fields {
            field.joined = lookups.contains(&field.key.as_str());
        }
    }
    let body = body.finish("Body", &mut types);
    Some(crate::ir::Shapes { body, user })
}

impl Node {
    fn value(&mut self, value: &Value, d: &mut Vec<Diagnostic>) {
        match value {
            Value::Path(path) => self.add(path, &path.segments, Use::Leaf, d),
            // A string names one key (`"@odata.nextLink"`).
            Value::Str(s) => {
                if let Some(key) = s.plain() {
                    let segment = ast::Segment::Key { name: key, quoted: true, span: s.span };
                    let path = ast::Path { segments: vec![segment], span: s.span };
                    self.add(&path, &path.segments, Use::Leaf, d);
                }
            }
            Value::Branches(branches) => self.branches(branches, d),
            Value::Mapped(mapped) => {
                for source in &mapped.sources {
                    match &source.origin {
                        // The list is an array; each item's value at the item path.
                        ast::Origin::Each(each) => {
                            let list = &each.list;
                            if let Some(node) = self.walk(list, &list.segments, d)
                                && node.set(Kind::Array, list, list.segments.len(), d)
                            {
                                let item = node.item.get_or_insert_with(Box::default);
                                item.add(&each.item, &each.item.segments, Use::Leaf, d);
                            }
                        }
                        _ => {
                            for path in source.paths() {
                                self.add(path, &path.segments, Use::Leaf, d);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn branches(&mut self, branches: &ast::Branches, d: &mut Vec<Diagnostic>) {
        for branch in &branches.branches {
            self.group(&branch.when, d);
        }
        if let Some(ast::Otherwise::Value(value)) = &branches.otherwise {
            self.value(value, d);
        }
    }

    fn group(&mut self, group: &ast::RuleGroup, d: &mut Vec<Diagnostic>) {
        for rule in &group.rules {
            match (&rule.op, &rule.operand) {
                (ast::Op::Some, Some(ast::Operand::Rules(inner))) => {
                    if let Some(node) = self.walk(&rule.path, &rule.path.segments, d)
                        && node.set(Kind::Array, &rule.path, rule.path.segments.len(), d)
                    {
                        node.item.get_or_insert_with(Box::default).group(inner, d);
                    }
                }
                // The alternatives of `any` test the value itself, as the group around them does.
                (ast::Op::Any, Some(ast::Operand::Alternatives(groups, _))) => {
                    for group in groups {
                        self.group(group, d);
                    }
                }
                (ast::Op::HasValue, _) => self.add(&rule.path, &rule.path.segments, Use::Any, d),
                _ => self.add(&rule.path, &rule.path.segments, Use::Leaf, d),
            }
        }
    }

    fn add(&mut self, path: &ast::Path, segments: &[ast::Segment], usage: Use, d: &mut Vec<Diagnostic>) {
        if let Some(node) = self.walk(path, segments, d) {
            match usage {
                Use::Any => {}
                Use::Leaf => {
                    node.set(Kind::Leaf, path, path.segments.len(), d);
                }
                Use::Users => {
                    node.set(Kind::Users, path, path.segments.len(), d);
                }
            }
        }
    }

    /// The node at the end of `segments`, creating objects and arrays on the way.
    fn walk(&mut self, path: &ast::Path, segments: &[ast::Segment], d: &mut Vec<Diagnostic>) -> Option<&mut Node> {
        let Some((first, rest)) = segments.split_first() else { return Some(self) };
        let depth = path.segments.len() - segments.len();
        let child = match first {
            ast::Segment::Key { name, .. } => {
                if !self.set(Kind::Object, path, depth, d) {
                    return None;
                }
                let index = match self.children.iter().position(|(key, _)| key == name) {
                    Some(index) => index,
                    None => {
                        self.children.push((name.clone(), Node::default()));
                        self.children.len() - 1
                    }
                };
                &mut self.children[index].1
            }
            ast::Segment::Index { .. } => {
                if !self.set(Kind::Array, path, depth, d) {
                    return None;
                }
                self.item.get_or_insert_with(Box::default)
            }
        };
        child.walk(path, rest, d)
    }

    /// Gives this node, the first `depth` segments of `path`, a kind; reports a
    /// conflict with an earlier use.
    fn set(&mut self, kind: Kind, path: &ast::Path, depth: usize, d: &mut Vec<Diagnostic>) -> bool {
        match self.kind {
            None => {
                self.kind = Some((kind, path.span));
                true
            }
            Some((existing, _)) if existing == kind => true,
            Some((existing, first)) => {
                d.push(
                    Diagnostic::error(
                        "tib::shape-conflict",
                        format!(
                            "`{}` is read as {} and as {}",
                            as_written(&ast::Path { segments: path.segments[..depth].to_vec(), span: path.span }),
                            existing.describe(),
                            kind.describe()
                        ),
                        path.span,
                        format!("reads {}", kind.describe()),
                    )
                    .with_label(first, format!("reads {}", existing.describe()))
                    .with_help("a JSON value is either a value, an object or an array; `has value` works on all three"),
                );
                false
            }
        }
    }

    /// The finished shape; objects get type names starting with `name`.
    fn finish(self, name: &str, types: &mut Namespace) -> Shape {
        match self.kind.map(|(kind, _)| kind) {
            None => Shape::Any,
            Some(Kind::Leaf) => Shape::Leaf,
            Some(Kind::Users) => Shape::Users,
            Some(Kind::Object) => {
                let type_name = types.unique_type(name);
                let mut idents = Namespace::default();
                let fields = self
                    .children
                    .into_iter()
                    .map(|(key, node)| {
                        let ident = idents.unique(&key);
                        let shape = node.finish(&format!("{type_name}_{ident}"), types);
                        ObjectField { key, ident, shape, joined: false }
                    })
                    .collect();
                Shape::Object(Object { type_name, fields })
            }
            Some(Kind::Array) => {
                Shape::Array(Box::new(self.item.map_or(Shape::Any, |item| item.finish(&format!("{name}_item"), types))))
            }
        }
    }
}
