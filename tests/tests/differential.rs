//! One semantics: for every example spec, the generated connector and the
//! IR interpreter that `test` and `preview` use read the same pages into the
//! same users, statuses, licenses, custom fields and dropped-user reasons.
//!
//! Pages are generated from each spec's shapes with a seeded generator that
//! mixes in what real APIs send: the rules' own literals, numbers as strings,
//! nulls, missing keys, values of the wrong kind, non-object users. A spec's
//! lookups get answers generated the same way (or none, or one that is not JSON),
//! and both must ask them with the same values of each user.

use serde_json::{Value, json};
use tib_front::ir::{self, Shape};
use tib_interpret::Interpreted;
use tib_support::{CompactString, Connector, Dropped, Joined, PageError, PageInfo, User};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Values worth trying: every literal in the spec's rules, and the awkward ones.
fn pool(spec: &ir::Spec) -> Vec<Value> {
    let mut pool = vec![
        json!("a@example.com"),
        json!("b.c@example.org"),
        json!("not-an-email"),
        json!(""),
        json!("2024-03-05T12:00:00Z"),
        json!("2024-03-05T12:00:00+0000"),
        json!(1709640000),
        json!(1709640000000_u64),
        json!("someday"),
        json!(0),
        json!(1),
        json!(5),
        json!(1.5),
        json!("12"),
        json!(18446744073709551615_u64),
        json!(-3),
        json!(true),
        json!(false),
        json!("true"),
        json!("false"),
        json!(null),
        json!({}),
        json!(["x", "y"]),
        json!([1, "a", null]),
    ];
    let mut rules: Vec<&ir::Rule> = Vec::new();
    if let ir::Active::When(r) = &spec.active {
        rules.extend(r);
    }
    if let Some(e) = &spec.api_error {
        rules.extend(&e.when);
        rules.extend(e.refused.iter().chain(&e.rate_limited).flatten());
    }
    // What `except` names as none, and fallbacks: values the mapping must tell apart.
    let mut mapped: Vec<&ir::Mapped> = vec![&spec.fields.id, &spec.fields.email];
    mapped.extend([&spec.fields.username, &spec.fields.created_at, &spec.fields.last_seen_at].into_iter().flatten());
    mapped.extend(spec.custom_fields.iter().map(|f| &f.value));
    if let Some(ir::Labelled::Field(role)) = &spec.fields.role {
        mapped.push(role);
    }
    let mut literals: Vec<&ir::Literal> =
        mapped.iter().flat_map(|m| m.sources.iter().flat_map(|s| &s.except).chain(&m.fallback)).collect();
    for b in [
        if let ir::StatusInApp::Conditions(b) = &spec.status { Some(b) } else { None },
        if let Some(ir::Labelled::Conditions(b)) = &spec.fields.role { Some(b) } else { None },
    ]
    .into_iter()
    .flatten()
    {
        rules.extend(b.branches.iter().flat_map(|b| &b.when));
    }
    if let ir::Licenses::Conditions { licenses, .. } = &spec.licenses {
        rules.extend(licenses.iter().flat_map(|l| &l.when));
    }
    while let Some(rule) = rules.pop() {
        match &rule.test {
            ir::Test::Is(l) | ir::Test::IsNot(l) | ir::Test::Contains(l) | ir::Test::NotContains(l) => literals.push(l),
            ir::Test::AnyOf(ls) => literals.extend(ls),
            ir::Test::AtLeast(n) => pool.extend([json!(n), json!(n.to_string()), json!(n - 1.0)]),
            ir::Test::HasValue => {}
            ir::Test::Some(inner) => rules.extend(inner),
            ir::Test::Any(groups) => rules.extend(groups.iter().flatten()),
        }
    }
    for literal in literals {
        match literal {
            ir::Literal::Text(t) => pool.extend([json!(t), json!([t, "other"])]),
            ir::Literal::Number { value, text } => pool.extend([json!(value), json!(text)]),
            ir::Literal::Bool(b) => pool.extend([json!(b), json!(b.to_string())]),
        }
    }
    pool
}

fn generate(shape: &Shape, user: &Shape, pool: &[Value], rng: &mut Rng) -> Value {
    // Sometimes the wrong kind of value altogether.
    if rng.chance(6) {
        return pool[rng.below(pool.len())].clone();
    }
    match shape {
        Shape::Any | Shape::Leaf => pool[rng.below(pool.len())].clone(),
        Shape::Object(object) => {
            let mut map = serde_json::Map::new();
            for field in &object.fields {
                if !rng.chance(12) {
                    map.insert(field.key.clone(), generate(&field.shape, user, pool, rng));
                }
            }
            map.insert("ignored".into(), json!({"deep": [1, 2, {"x": "y"}]}));
            Value::Object(map)
        }
        Shape::Array(item) => {
            let n = rng.below(4);
            Value::Array((0..n).map(|_| generate(item, user, pool, rng)).collect())
        }
        Shape::Users => {
            let n = rng.below(6);
            Value::Array(
                (0..n)
                    .map(|_| if rng.chance(5) { json!("not a user") } else { generate(user, user, pool, rng) })
                    .collect(),
            )
        }
    }
}

type Read = (Vec<Result<User, Dropped>>, Result<PageInfo, PageError>);

fn read(connector: &dyn Connector, body: &[u8], joined: &Joined) -> Read {
    let mut users = Vec::new();
    let info = connector.parse_joined(body, joined, &mut |u| users.push(u));
    (users, info)
}

/// The values each listed user's lookups would be asked with.
fn keys(connector: &dyn Connector, body: &[u8]) -> Vec<Vec<Option<CompactString>>> {
    let mut keys = Vec::new();
    connector.lookup_keys(body, &mut |user| keys.push(user));
    keys
}

/// Answers to a page's lookups and listings, generated from the shapes their answers are read with.
fn answers(spec: &ir::Spec, items: usize, pool: &[Value], rng: &mut Rng) -> Joined {
    let names: Vec<&str> = spec.joined_names().collect();
    let mut joined = Joined::new(items, names.len());
    let Shape::Object(user) = &spec.shapes.user else { return joined };
    for item in 0..items {
        for (index, name) in names.iter().enumerate() {
            let shape = user.fields.iter().find(|f| f.joined && f.key == *name).map_or(&Shape::Any, |f| &f.shape);
            let answer = match rng.below(10) {
                0 => continue,
                1 => b"<html>not JSON</html>".to_vec(),
                _ => serde_json::to_vec(&generate(shape, &spec.shapes.user, pool, rng)).expect("serialisable"),
            };
            joined.set(item, index, answer.into());
        }
    }
    joined
}

/// Every example spec, compiled, with its generated connector.
fn examples() -> Vec<(ir::Spec, &'static dyn Connector)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
    let catalog = tib_front::workspace::CatalogFile::load(&root).expect("catalog").catalog();
    let paths = tib_front::workspace::spec_paths(&root).expect("specs");
    let files = tib_front::workspace::compile_files(&root, &paths, &catalog);
    assert!(files.len() >= 5);
    files
        .into_iter()
        .map(|file| {
            let spec = file.compiled.spec.expect("every example checks clean");
            let generated = tib_connectors::connector(&spec.app.id).expect("a generated connector per spec");
            (spec, generated)
        })
        .collect()
}

/// Reads `rounds` pages generated for each example through both, asserting
/// they agree; `hostile` makes a page worse before it is read. The users compared.
fn compare(rounds: usize, extra_pool: &[Value], mut hostile: impl FnMut(Vec<u8>, &mut Rng) -> Vec<u8>) -> usize {
    let examples = examples();
    let mut compared = 0;
    let seed = 0x9E37_79B9_7F4A_7C15 ^ examples.len() as u64;
    for (spec, generated) in examples {
        let mut pool = pool(&spec);
        pool.extend_from_slice(extra_pool);
        let (body_shape, user_shape) = (spec.shapes.body.clone(), spec.shapes.user.clone());
        let interpreted = Interpreted::new(spec.clone());
        let mut rng = Rng(seed);
        for round in 0..rounds {
            let body = generate(&body_shape, &user_shape, &pool, &mut rng);
            let bytes = hostile(serde_json::to_vec(&body).expect("serialisable"), &mut rng);
            let asked = keys(generated, &bytes);
            assert_eq!(asked, keys(&interpreted, &bytes), "{} asks its lookups differently", spec.app.name);
            let joined = answers(&spec, asked.len(), &pool, &mut rng);
            let (typed, interp) = (read(generated, &bytes, &joined), read(&interpreted, &bytes, &joined));
            assert_eq!(
                typed,
                interp,
                "{} disagrees on round {round}:\n{}",
                interpreted.ir().app.name,
                String::from_utf8_lossy(&bytes).chars().take(2000).collect::<String>()
            );
            compared += typed.0.len();
        }
    }
    compared
}

#[test]
fn generated_connectors_and_the_interpreter_agree_on_every_example_spec() {
    let compared = compare(300, &[], |bytes, _| bytes);
    assert!(compared > 1000, "the generated pages hold users to compare ({compared})");
}

/// An array nested `depth` deep: deeper than serde_json reads (128).
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("bottom"), |inner, _| json!([inner]))
}

#[test]
fn hostile_pages_are_read_alike_deep_nesting_invalid_utf8_and_huge_strings() {
    let huge = json!("h".repeat(64 << 10));
    let huge_email = json!(format!("{}@example.com", "e".repeat(20_000)));
    let extra = [huge, huge_email, nested(40), nested(300)];
    let mut broken = 0;
    let compared = compare(80, &extra, |mut bytes, rng| {
        // Now and then one user's string holds bytes that are not UTF-8.
        if rng.chance(15)
            && let Some(at) = bytes.windows(12).position(|w| w == b"@example.com")
        {
            bytes.splice(at..at + 1, [0xff, 0xfe]);
            broken += 1;
        }
        bytes
    });
    assert!(compared > 300, "the hostile pages still hold users to compare ({compared})");
    assert!(broken > 10, "pages with bytes that are not UTF-8 were read ({broken})");
}
