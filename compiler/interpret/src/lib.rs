//! The IR evaluated over `serde_json::Value`: a connector without a cargo
//! build, for the compiler's `test` and `preview` and for the runtime's
//! integrations given as specs.
//!
//! It walks each path with the spec's shapes exactly as the generated types
//! read it (an object that is not an object is absent, an array that is not
//! an array is empty, null is no value) and hands the same values to the same
//! support functions, so it maps users as the generated connector does; a
//! differential test holds the two to that.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;
use tib_support::map::{self, Draft, Label, NameParts};
use tib_support::record::{DropReason, FieldType};
use tib_support::rules::{self, Lit};
use tib_support::value::Leaf;
use tib_support::{ApiErrorKind, CompactString, Connector, Dropped, Joined, PageError, PageInfo, Spec, User, page};

use tib_front::ir::{self, Shape, Test};

mod keep;
mod shaped;
pub mod spec;

/// A connector that interprets one checked spec.
pub struct Interpreted {
    ir: ir::Spec,
    spec: &'static Spec,
    /// Labels, license and custom-field names as the `'static` text the record holds.
    names: BTreeMap<String, &'static str>,
    /// The users path as errors name it.
    users_path: &'static str,
    /// For each mapped user path, how many users had a value there; counted
    /// only when asked for ([`Interpreted::count_presence`]), as preview does.
    presence: Option<Mutex<BTreeMap<String, usize>>>,
}

impl Interpreted {
    pub fn new(ir: ir::Spec) -> Self {
        let spec = spec::spec(&ir);
        let mut labels: Vec<&str> = vec!["Active", "Deleted"];
        fn conditions(labelled: &Option<ir::Labelled>) -> Option<&ir::Branches> {
            match labelled {
                Some(ir::Labelled::Conditions(b)) => Some(b),
                _ => None,
            }
        }
        for branches in [
            if let ir::StatusInApp::Conditions(b) = &ir.status { Some(b) } else { None },
            conditions(&ir.fields.role),
            conditions(&ir.fields.account_type),
        ]
        .into_iter()
        .flatten()
        {
            labels.extend(branches.branches.iter().map(|b| b.label.as_str()));
            labels.push(&branches.otherwise);
        }
        for labelled in [&ir.fields.role, &ir.fields.account_type] {
            if let Some(ir::Labelled::Decided { branches, .. }) = labelled {
                labels.extend(branches.iter().map(|b| b.label.as_str()));
            }
        }
        if let ir::StatusInApp::Fixed(label) = &ir.status {
            labels.push(label);
        }
        match &ir.licenses {
            ir::Licenses::Auto { name } => labels.push(name),
            ir::Licenses::None => {}
            ir::Licenses::Conditions { licenses, catch_all } => {
                labels.extend(licenses.iter().map(|l| l.name.as_str()));
                labels.extend(catch_all.as_deref());
            }
        }
        labels.extend(ir.custom_fields.iter().map(|f| f.name.as_str()));
        let names = labels.into_iter().map(|l| (l.to_owned(), keep::text(l))).collect();
        let users_path = keep::text(&ir.users_path.to_string());
        Interpreted { ir, spec, names, users_path, presence: None }
    }

    /// Also counts, for each mapped path, how many users have a value there.
    pub fn count_presence(mut self) -> Self {
        self.presence = Some(Mutex::new(BTreeMap::new()));
        self
    }

    pub fn ir(&self) -> &ir::Spec {
        &self.ir
    }

    /// Mapped user paths and how many users so far had a value there.
    pub fn presence(&self) -> BTreeMap<String, usize> {
        self.presence.as_ref().and_then(|p| p.lock().ok()).map(|p| p.clone()).unwrap_or_default()
    }

    /// The items at the users path of a body, when they are an array.
    pub fn users<'v>(&self, body: &'v Value) -> Option<&'v [Value]> {
        match users_at(body, &self.ir.shapes.body, &self.ir.users_path) {
            UsersAt::Array(items) => Some(items),
            UsersAt::Missing | UsersAt::Found(_) => None,
        }
    }

    fn name(&self, text: &str) -> &'static str {
        self.names.get(text).copied().unwrap_or("")
    }

    fn map_user<'v>(&'v self, user: &'v Value) -> Result<User, Dropped> {
        let shape = &self.ir.shapes.user;
        let fields = &self.ir.fields;
        let get = |value: &'v ir::Mapped| mapped(Some(user), shape, value);
        let opt = |value: &'v Option<ir::Mapped>| value.as_ref().and_then(get);
        let (id, email) = (get(&fields.id), get(&fields.email));
        let (username, created_at, last_seen_at) =
            (opt(&fields.username), opt(&fields.created_at), opt(&fields.last_seen_at));
        let name_leaves = match &fields.name {
            None => (None, None),
            Some(ir::Name::Full(full)) => (get(full), None),
            Some(ir::Name::Split { first, last }) => (get(first), get(last)),
        };
        let (roles, groups, last_activity_at) =
            (opt(&fields.roles), opt(&fields.groups), opt(&fields.last_activity_at));
        let own = |labelled: &'v Option<ir::Labelled>| match labelled {
            Some(ir::Labelled::Field(value) | ir::Labelled::Decided { otherwise: value, .. }) => get(value),
            _ => None,
        };
        let (role_leaf, account_type_leaf) = (own(&fields.role), own(&fields.account_type));
        let status_leaf = match &self.ir.status {
            ir::StatusInApp::Field(value) => get(value),
            _ => None,
        };
        let custom_leaves: Vec<Option<Leaf<'_>>> = self.ir.custom_fields.iter().map(|f| get(&f.value)).collect();
        self.tally(user);

        let active = match &self.ir.active {
            ir::Active::Everyone => true,
            ir::Active::When(rules) => all(Some(user), shape, rules),
        };
        let branch_label = |b: &ir::Branches| {
            let label = b.branches.iter().find(|b| all(Some(user), shape, &b.when)).map_or(&b.otherwise, |b| &b.label);
            Label::Fixed(self.name(label))
        };
        // Given: the label the rules chose, or none where the user's own value stands.
        let decide = |labelled: &Option<ir::Labelled>| -> Option<Option<Label<'static, 'static>>> {
            match labelled {
                None => None,
                Some(ir::Labelled::Field(_)) => Some(None),
                Some(ir::Labelled::Conditions(b)) => Some(Some(branch_label(b))),
                Some(ir::Labelled::Decided { branches, .. }) => Some(
                    branches
                        .iter()
                        .find(|b| all(Some(user), shape, &b.when))
                        .map(|branch| Label::Fixed(self.name(&branch.label))),
                ),
            }
        };
        let role = decide(&fields.role).map(|fixed| fixed.unwrap_or(Label::Leaf(role_leaf.as_ref())));
        let account_type =
            decide(&fields.account_type).map(|fixed| fixed.unwrap_or(Label::Leaf(account_type_leaf.as_ref())));
        let status = match &self.ir.status {
            ir::StatusInApp::Auto => Label::Fixed(if active { "Active" } else { "Deleted" }),
            ir::StatusInApp::Fixed(label) => Label::Fixed(self.name(label)),
            ir::StatusInApp::Field(_) => Label::Leaf(status_leaf.as_ref()),
            ir::StatusInApp::Conditions(b) => branch_label(b),
        };
        let licenses = match &self.ir.licenses {
            ir::Licenses::Auto { name } => {
                if active {
                    vec![self.name(name)]
                } else {
                    Vec::new()
                }
            }
            ir::Licenses::None => Vec::new(),
            ir::Licenses::Conditions { licenses, catch_all } => {
                let mut held: Vec<&'static str> =
                    licenses.iter().filter(|l| all(Some(user), shape, &l.when)).map(|l| self.name(&l.name)).collect();
                if let (true, Some(all_others)) = (held.is_empty(), catch_all) {
                    held.push(self.name(all_others));
                }
                held
            }
        };
        let custom: Vec<(&'static str, FieldType, Option<&Leaf<'_>>)> = self
            .ir
            .custom_fields
            .iter()
            .zip(&custom_leaves)
            .map(|(f, value)| (self.name(&f.name), field_type(f.kind), value.as_ref()))
            .collect();
        let name = match &fields.name {
            None => NameParts::None,
            Some(ir::Name::Full(_)) => NameParts::Full(name_leaves.0.as_ref()),
            Some(ir::Name::Split { .. }) => {
                NameParts::Split { first: name_leaves.0.as_ref(), last: name_leaves.1.as_ref() }
            }
        };
        Draft {
            id: id.as_ref(),
            email: email.as_ref(),
            username: username.as_ref(),
            name,
            role,
            created_at: created_at.as_ref(),
            last_seen_at: last_seen_at.as_ref(),
            active,
            status,
            licenses: Cow::Owned(licenses),
            custom_fields: &custom,
            roles: roles.as_ref(),
            groups: groups.as_ref(),
            account_type,
            last_activity_at: last_activity_at.as_ref(),
        }
        .finish()
    }

    /// The listed user with each lookup's answer and listing's items under their names, read
    /// through the shape the spec reads them with; one without an answer leaves nothing there, as
    /// the users listing's own key of that name is never read.
    fn join(&self, user: &Value, index: usize, joined: &Joined) -> Result<Value, PageError> {
        let mut user = user.clone();
        let (Value::Object(object), Shape::Object(shape)) = (&mut user, &self.ir.shapes.user) else { return Ok(user) };
        for (joined_index, name) in self.ir.joined_names().enumerate() {
            object.remove(name);
            let Some(field) = shape.fields.iter().find(|field| field.joined && field.key == name) else {
                continue;
            };
            if let Some(answer) = joined.answer(index, joined_index) {
                let value = shaped::read(answer, &field.shape, &self.ir.shapes.user)
                    .map_err(|error| PageError::lookup(keep::text(name), index, error))?;
                object.insert(name.to_owned(), value);
            }
        }
        Ok(user)
    }

    /// Counts, for each mapped path, whether this user has a value there.
    fn tally(&self, user: &Value) {
        let Some(presence) = &self.presence else { return };
        let shape = &self.ir.shapes.user;
        let values = self.ir.mapped();
        let paths = values.into_iter().flat_map(ir::Mapped::paths);
        if let Ok(mut presence) = presence.lock() {
            for path in paths {
                let present = rules::has_value(leaf(at(Some(user), shape, path).0).as_ref());
                *presence.entry(path.to_string()).or_default() += usize::from(present);
            }
        }
    }
}

impl Connector for Interpreted {
    fn spec(&self) -> &'static Spec {
        self.spec
    }

    fn parse_page(&self, bytes: &[u8], users: &mut dyn FnMut(Result<User, Dropped>)) -> Result<PageInfo, PageError> {
        self.parse_joined(bytes, &Joined::default(), users)
    }

    fn lookup_keys(&self, bytes: &[u8], keys: &mut dyn FnMut(Vec<Option<CompactString>>)) {
        if !self.ir.joins() {
            return;
        }
        let Ok(body) = shaped::read(bytes, &self.ir.shapes.body, &self.ir.shapes.user) else { return };
        let UsersAt::Array(items) = users_at(&body, &self.ir.shapes.body, &self.ir.users_path) else { return };
        for item in items {
            keys(
                self.ir
                    .lookup_keys
                    .iter()
                    .map(|path| match item {
                        Value::Object(_) => page::key(leaf(at(Some(item), &self.ir.shapes.user, path).0).as_ref()),
                        _ => None,
                    })
                    .collect(),
            );
        }
    }

    fn parse_joined(
        &self,
        bytes: &[u8],
        joined: &Joined,
        users: &mut dyn FnMut(Result<User, Dropped>),
    ) -> Result<PageInfo, PageError> {
        let shape = &self.ir.shapes.body;
        let body = shaped::read(bytes, shape, &self.ir.shapes.user)?;
        if let Some(api_error) = &self.ir.api_error
            && all(Some(&body), shape, &api_error.when)
        {
            let holds = |rules: &Option<Vec<ir::Rule>>| rules.as_ref().is_some_and(|r| all(Some(&body), shape, r));
            let kind = if holds(&api_error.refused) {
                ApiErrorKind::Refused
            } else if holds(&api_error.rate_limited) {
                ApiErrorKind::RateLimited
            } else {
                ApiErrorKind::Other
            };
            return Err(page::api_error(leaf(at(Some(&body), shape, &api_error.message).0).as_ref(), kind));
        }
        let path = self.users_path;
        // `or none` is about the users key: a body that is not an object is still an error.
        let optional = self.ir.users_optional && (body.is_object() || !matches!(shape, Shape::Object(_)));
        let items = match users_at(&body, shape, &self.ir.users_path) {
            UsersAt::Array(items) => items,
            UsersAt::Missing | UsersAt::Found("null") if optional => &[],
            UsersAt::Missing => return Err(PageError::MissingUsers { path }),
            UsersAt::Found(found) => return Err(PageError::NotAnArray { path, found }),
        };
        for (index, item) in items.iter().enumerate() {
            users(if !item.is_object() {
                Err(Dropped { external_id: None, reason: DropReason::NotAnObject })
            } else if !self.ir.joins() {
                self.map_user(item)
            } else {
                self.map_user(&self.join(item, index, joined)?)
            });
        }
        let body_leaf = |path: &ir::Path| leaf(at(Some(&body), shape, path).0);
        let paths = self.ir.pagination.body_paths();
        Ok(PageInfo {
            count: items.len(),
            next: paths.next.and_then(|p| page::token(body_leaf(p).as_ref())),
            more: paths.more.and_then(|p| page::flag(body_leaf(p).as_ref())),
            total: paths.total.and_then(|p| page::count(body_leaf(p).as_ref())),
        })
    }
}

enum UsersAt<'v> {
    Missing,
    Found(&'static str),
    Array(&'v [Value]),
}

/// The users array, read as `UsersAt` reads it.
fn users_at<'v>(body: &'v Value, shape: &Shape, path: &ir::Path) -> UsersAt<'v> {
    match at(Some(body), shape, path).0 {
        None => UsersAt::Missing,
        Some(Value::Array(items)) => UsersAt::Array(items),
        Some(other) => UsersAt::Found(tib_support::value::kind_of(other)),
    }
}

/// The value at `path` from `base`, read through `shape` as the generated
/// types read it, and the shape it ends at.
fn at<'v, 's>(base: Option<&'v Value>, shape: &'s Shape, path: &ir::Path) -> (Option<&'v Value>, &'s Shape) {
    let mut value = base;
    let mut shape = shape;
    for segment in &path.segments {
        let (next, next_shape) = match (segment, shape) {
            (ir::Segment::Key(key), Shape::Object(object)) => {
                let field = object.fields.iter().find(|f| &f.key == key).expect("shapes hold every path");
                (value.and_then(Value::as_object).and_then(|o| o.get(key)), &field.shape)
            }
            (ir::Segment::Index(index), Shape::Array(item)) => {
                (value.and_then(Value::as_array).and_then(|items| items.get(*index)), item.as_ref())
            }
            _ => unreachable!("the checker rejects paths that read a value two ways"),
        };
        // A value of the wrong kind for its shape reads as absent (Tolerant, Many).
        value = next.filter(|v| match next_shape {
            Shape::Object(_) => v.is_object(),
            Shape::Array(_) => v.is_array(),
            Shape::Any | Shape::Leaf | Shape::Users => !v.is_null() || matches!(next_shape, Shape::Users),
        });
        shape = next_shape;
    }
    (value, shape)
}

/// A mapped value as `tib_support::map::unless` and the fallback read it.
fn mapped<'v>(base: Option<&'v Value>, shape: &Shape, value: &'v ir::Mapped) -> Option<Leaf<'v>> {
    let found = value.sources.iter().find_map(|source| {
        let found = match &source.origin {
            ir::Origin::Path(path) => leaf(at(base, shape, path).0)?,
            ir::Origin::Each { list, item, .. } => {
                let (items, list_shape) = at(base, shape, list);
                let Shape::Array(item_shape) = list_shape else { unreachable!("the list of `[]` is an array") };
                // An item of another kind than its shape reads as absent, as `Tolerant` does.
                let values: Option<Vec<Option<Leaf<'v>>>> = items.and_then(Value::as_array).map(|items| {
                    items
                        .iter()
                        .map(|one| {
                            let fits = !matches!(item_shape.as_ref(), Shape::Object(_)) || one.is_object();
                            fits.then(|| leaf(at(Some(one), item_shape, item).0)).flatten()
                        })
                        .collect()
                });
                map::each(values.as_ref().map(|values| values.iter().map(Option::as_ref)))?
            }
            ir::Origin::Format { parts, .. } => {
                let values: Vec<Option<Leaf<'_>>> = parts
                    .iter()
                    .map(|part| match part {
                        ir::FormatPart::Path(path) => leaf(at(base, shape, path).0),
                        ir::FormatPart::Text(_) => None,
                    })
                    .collect();
                let pieces: Vec<map::Piece<'_, '_, '_>> = parts
                    .iter()
                    .zip(&values)
                    .map(|(part, value)| match part {
                        ir::FormatPart::Text(text) => map::Piece::Text(text),
                        ir::FormatPart::Path(_) => map::Piece::Value(value.as_ref()),
                    })
                    .collect();
                map::format(&pieces)?
            }
        };
        let except: Vec<Lit<'_>> = source.except.iter().map(lit).collect();
        (!rules::any_of(Some(&found), &except)).then_some(found)
    });
    found.or_else(|| {
        value.fallback.as_ref().map(|fallback| match fallback {
            ir::Literal::Text(t) => Leaf::Text(Cow::Borrowed(t)),
            ir::Literal::Number { text, .. } => Leaf::Number(Cow::Borrowed(text)),
            ir::Literal::Bool(b) => Leaf::Bool(*b),
        })
    })
}

fn lit(l: &ir::Literal) -> Lit<'_> {
    match l {
        ir::Literal::Text(t) => Lit::Text(t),
        ir::Literal::Number { value, .. } => Lit::Number(*value),
        ir::Literal::Bool(b) => Lit::Bool(*b),
    }
}

/// A JSON value as the `Leaf` the generated types would hold.
fn leaf(value: Option<&Value>) -> Option<Leaf<'_>> {
    match value? {
        Value::Null => None,
        other => Some(Leaf::of_json(other)),
    }
}

fn all(base: Option<&Value>, shape: &Shape, rules: &[ir::Rule]) -> bool {
    rules.iter().all(|r| rule(base, shape, r))
}

fn rule(base: Option<&Value>, shape: &Shape, rule: &ir::Rule) -> bool {
    let (value, end) = at(base, shape, &rule.path);
    let leaf_value = || leaf(value);
    match &rule.test {
        Test::Is(l) => rules::is(leaf_value().as_ref(), &lit(l)),
        Test::IsNot(l) => rules::is_not(leaf_value().as_ref(), &lit(l)),
        Test::Contains(l) => rules::contains(leaf_value().as_ref(), &lit(l)),
        Test::NotContains(l) => rules::not_contains(leaf_value().as_ref(), &lit(l)),
        Test::AnyOf(ls) => rules::any_of(leaf_value().as_ref(), &ls.iter().map(lit).collect::<Vec<_>>()),
        Test::AtLeast(min) => rules::at_least(leaf_value().as_ref(), *min),
        Test::HasValue => match end {
            Shape::Object(_) => value.is_some(),
            Shape::Array(_) | Shape::Users => value.and_then(Value::as_array).is_some_and(|items| !items.is_empty()),
            Shape::Any | Shape::Leaf => rules::has_value(leaf_value().as_ref()),
        },
        Test::Any(alternatives) => alternatives.iter().any(|group| all(value, end, group)),
        Test::Some(inner) => {
            let Shape::Array(item) = end else { unreachable!("the checker makes the target of `some` an array") };
            value.and_then(Value::as_array).is_some_and(|items| {
                items.iter().any(|i| match item.as_ref() {
                    Shape::Object(_) => i.is_object() && all(Some(i), item, inner),
                    _ => all(Some(i), item, inner),
                })
            })
        }
    }
}

fn field_type(kind: ir::FieldType) -> FieldType {
    match kind {
        ir::FieldType::Text => FieldType::Text,
        ir::FieldType::Number => FieldType::Number,
        ir::FieldType::Email => FieldType::Email,
        ir::FieldType::Date => FieldType::Date,
        ir::FieldType::MultiValue => FieldType::MultiValue,
        ir::FieldType::User => FieldType::User,
    }
}
