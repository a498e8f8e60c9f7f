//! Tolerant JSON values: what generated serde types hold, so that what real
//! APIs send (numbers as strings, null, missing keys, a string where an object
//! was expected) never fails a page.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A scalar, or an array of scalars, as the API sent it. Strings borrow from
/// the response where they have no escapes; numbers keep their exact digits.
/// A missing key reads as null: generated structs hold a `Leaf`, not an
/// `Option<Leaf>`, since serde's `Option` costs a second look at every value.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Leaf<'a> {
    #[default]
    Null,
    Bool(bool),
    /// The number's decimal text, exact for every integer up to 64 bits.
    Number(Cow<'a, str>),
    Text(Cow<'a, str>),
    List(Vec<Leaf<'a>>),
    /// An object where a value was expected: present, but not comparable.
    Object,
}

impl<'a> Leaf<'a> {
    /// The value, unless it is null or missing: what rules and mappings read.
    pub fn present(&self) -> Option<&Self> {
        if matches!(self, Leaf::Null) { None } else { Some(self) }
    }

    /// The value as text: strings, numbers and booleans; `None` for the rest.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Leaf::Text(t) => Some(Cow::Borrowed(t.as_ref())),
            Leaf::Number(n) => Some(Cow::Borrowed(n.as_ref())),
            Leaf::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Leaf::Null | Leaf::List(_) | Leaf::Object => None,
        }
    }

    /// The value as a number: numbers, and strings that hold one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Leaf::Number(n) => n.parse().ok(),
            Leaf::Text(t) => t.trim().parse().ok().filter(|n: &f64| n.is_finite()),
            _ => None,
        }
    }

    /// What kind of JSON this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Leaf::Null => "null",
            Leaf::Bool(_) => "a boolean",
            Leaf::Number(_) => "a number",
            Leaf::Text(_) => "a string",
            Leaf::List(_) => "an array",
            Leaf::Object => "an object",
        }
    }
}

impl Leaf<'_> {
    /// A JSON value already read as `serde_json::Value` (preview, listings) as the generated types
    /// would have read it from the text: strings borrowed, numbers as the visitor writes them.
    pub fn of_json(value: &serde_json::Value) -> Leaf<'_> {
        match value {
            serde_json::Value::Null => Leaf::Null,
            serde_json::Value::Bool(b) => Leaf::Bool(*b),
            serde_json::Value::Number(n) => Leaf::Number(Cow::Owned(number_text(n))),
            serde_json::Value::String(s) => Leaf::Text(Cow::Borrowed(s)),
            serde_json::Value::Array(items) => Leaf::List(items.iter().map(Leaf::of_json).collect()),
            serde_json::Value::Object(_) => Leaf::Object,
        }
    }
}

/// The text [`LeafVisitor`] makes of a number: integers exactly, floats as Rust prints them.
fn number_text(n: &serde_json::Number) -> String {
    match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(u), _, _) => u.to_string(),
        (None, Some(i), _) => i.to_string(),
        (None, None, Some(f)) => f.to_string(),
        (None, None, None) => n.to_string(),
    }
}

// `'de: 'a`, as serde's own `Cow<'a, str>`: a leaf may borrow from any input that outlives it.
impl<'de: 'a, 'a> Deserialize<'de> for Leaf<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LeafVisitor(PhantomData))
    }
}

struct LeafVisitor<'a>(PhantomData<Leaf<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for LeafVisitor<'a> {
    type Value = Leaf<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Leaf<'a>, E> {
        Ok(Leaf::Null)
    }

    fn visit_none<E>(self) -> Result<Leaf<'a>, E> {
        Ok(Leaf::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Leaf<'a>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Leaf<'a>, E> {
        Ok(Leaf::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Leaf<'a>, E> {
        Ok(Leaf::Number(Cow::Owned(n.to_string())))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Leaf<'a>, E> {
        Ok(Leaf::Number(Cow::Owned(n.to_string())))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Leaf<'a>, E> {
        Ok(Leaf::Number(Cow::Owned(n.to_string())))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Leaf<'a>, E> {
        Ok(Leaf::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Leaf<'a>, E> {
        Ok(Leaf::Text(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Leaf<'a>, E> {
        Ok(Leaf::Text(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Leaf<'a>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Leaf::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Leaf<'a>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Leaf::Object)
    }
}

/// What kind of JSON a value is, for messages (as [`Leaf::kind`] says it).
pub fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// An object that may be missing or be something else: then it is `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tolerant<T>(pub Option<T>);

impl<T> Default for Tolerant<T> {
    fn default() -> Self {
        Tolerant(None)
    }
}

impl<T> Tolerant<T> {
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }

    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.0.as_mut()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Tolerant<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Skipping::<Tolerant<T>>(PhantomData))
    }
}

/// An array that may be missing or be something else: then it is empty.
#[derive(Clone, Debug, PartialEq)]
pub struct Many<T>(pub Vec<T>);

impl<T> Default for Many<T> {
    fn default() -> Self {
        Many(Vec::new())
    }
}

impl<T> Many<T> {
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.0.get(index)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.0.get_mut(index)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Many<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Skipping::<Many<T>>(PhantomData))
    }
}

/// The users array of a response, or what stood at its path instead.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum UsersAt<T> {
    /// Nothing at the path.
    #[default]
    Missing,
    Array(Vec<Tolerant<T>>),
    /// Not an array: what was found (`a string`, `null`, ...).
    Found(&'static str),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for UsersAt<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Skipping::<UsersAt<T>>(PhantomData))
    }
}

/// The one visitor behind [`Tolerant`], [`Many`] and [`UsersAt`]: it reads the
/// kind of JSON its target wants and skips every other kind unread.
struct Skipping<T>(PhantomData<T>);

/// How a skipping target is built from what it accepts, and what it is otherwise.
trait Skippable<'de>: Sized {
    fn from_map<A: MapAccess<'de>>(_map: A) -> Result<Option<Self>, A::Error> {
        Ok(None)
    }
    fn from_seq<A: SeqAccess<'de>>(_seq: A) -> Result<Option<Self>, A::Error> {
        Ok(None)
    }
    fn otherwise(found: &'static str) -> Self;
}

impl<'de, T: Deserialize<'de>> Skippable<'de> for Tolerant<T> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Some(Tolerant(Some(t))))
    }
    fn otherwise(_: &'static str) -> Self {
        Tolerant(None)
    }
}

impl<'de, T: Deserialize<'de>> Skippable<'de> for Many<T> {
    fn from_seq<A: SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        collect(seq, 0).map(|items| Some(Many(items)))
    }
    fn otherwise(_: &'static str) -> Self {
        Many(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Skippable<'de> for UsersAt<T> {
    fn from_seq<A: SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        collect(seq, USERS_CAPACITY).map(|items| Some(UsersAt::Array(items)))
    }
    fn otherwise(found: &'static str) -> Self {
        UsersAt::Found(found)
    }
}

/// Room for a typical page of users from the start: serde_json cannot say how
/// long an array is, and growing a vector of user objects one doubling at a
/// time copies each of them again.
const USERS_CAPACITY: usize = 128;

/// The items of an array, with room for `expected` of them at first.
fn collect<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(mut seq: A, expected: usize) -> Result<Vec<T>, A::Error> {
    let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(expected).min(1024));
    while let Some(item) = seq.next_element()? {
        items.push(item);
    }
    Ok(items)
}

impl<'de, T: Skippable<'de>> Visitor<'de> for Skipping<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        // Only `Tolerant` reads a map; the others skip it entry by entry.
        match T::from_map(&mut map)? {
            Some(value) => Ok(value),
            None => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(T::otherwise("an object"))
            }
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        match T::from_seq(&mut seq)? {
            Some(value) => Ok(value),
            None => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(T::otherwise("an array"))
            }
        }
    }

    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::otherwise("null"))
    }

    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::otherwise("null"))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::otherwise("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::otherwise("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::otherwise("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::otherwise("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<T, E> {
        Ok(T::otherwise("a string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct User<'a> {
        #[serde(borrow)]
        id: Option<Leaf<'a>>,
        #[serde(default, borrow)]
        profile: Tolerant<Profile<'a>>,
        #[serde(default, borrow)]
        roles: Many<Tolerant<Role<'a>>>,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Profile<'a> {
        #[serde(borrow)]
        email: Option<Leaf<'a>>,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Role<'a> {
        #[serde(borrow)]
        name: Option<Leaf<'a>>,
    }

    fn parse(json: &str) -> User<'_> {
        serde_json::from_str(json).expect("tolerant types accept any JSON value")
    }

    #[test]
    fn leaves_keep_what_was_sent() {
        let u = parse(r#"{"id": 18446744073709551615, "profile": {"email": "a@b.co"}, "extra": [1, {"x": 2}]}"#);
        assert_eq!(u.id, Some(Leaf::Number(Cow::Borrowed("18446744073709551615"))));
        let email = u.profile.get().and_then(|p| p.email.as_ref());
        assert!(matches!(email, Some(Leaf::Text(Cow::Borrowed("a@b.co")))), "unescaped strings borrow: {email:?}");
        assert_eq!(parse(r#"{"id": "x\"y"}"#).id, Some(Leaf::Text(Cow::Owned("x\"y".into()))));
        assert_eq!(parse(r#"{"id": null}"#).id, None);
        assert_eq!(parse(r#"{"id": {"a": 1}}"#).id, Some(Leaf::Object));
        assert_eq!(parse(r#"{"id": [1, "a"]}"#).id.and_then(|l| l.text().map(|t| t.into_owned())), None);
    }

    #[test]
    fn wrong_kinds_become_empty_not_errors() {
        let u = parse(r#"{"id": 1, "profile": "none", "roles": {"name": "admin"}}"#);
        assert_eq!(u.profile, Tolerant(None));
        assert!(u.roles.is_empty());
        let u = parse(r#"{"profile": [1, 2], "roles": [{"name": "admin"}, 3]}"#);
        assert_eq!(u.profile, Tolerant(None));
        assert_eq!(u.roles.0.len(), 2);
        assert_eq!(u.roles.0[1], Tolerant(None));
    }

    #[test]
    fn users_at_says_what_it_found() {
        let found: UsersAt<Role<'_>> = serde_json::from_str(r#"{"a": 1}"#).expect("any JSON");
        assert_eq!(found, UsersAt::Found("an object"));
        let found: UsersAt<Role<'_>> = serde_json::from_str(r#""users""#).expect("any JSON");
        assert_eq!(found, UsersAt::Found("a string"));
        let array: UsersAt<Role<'_>> = serde_json::from_str(r#"[{"name": "a"}, 5]"#).expect("any JSON");
        assert!(matches!(array, UsersAt::Array(items) if items.len() == 2));
    }

    #[test]
    fn numbers_read_from_strings() {
        assert_eq!(Leaf::Text(" 42 ".into()).number(), Some(42.0));
        assert_eq!(Leaf::Number("1.5".into()).number(), Some(1.5));
        assert_eq!(Leaf::Text("many".into()).number(), None);
        assert_eq!(Leaf::Bool(true).text().as_deref(), Some("true"));
    }
}
