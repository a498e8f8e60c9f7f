//! A page read as the spec's shapes say, into `serde_json::Value`: the keys
//! the spec reads are kept, the rest is skipped unread, as the generated
//! connectors' types skip it. So a value nested thousands deep where the spec
//! reads nothing fails neither (serde_json skips it without recursing), and
//! one where the spec reads a value fails both at the same place.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use tib_support::PageError;

use tib_front::ir::Shape;

/// The body of a page, read as `body` (the root shape) with users read as `user`.
pub fn read(bytes: &[u8], body: &Shape, user: &Shape) -> Result<Value, PageError> {
    let text = std::str::from_utf8(bytes).map_err(|e| PageError::Json(format!("the body is not UTF-8: {e}")))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value =
        Shaped { shape: body, user }.deserialize(&mut deserializer).map_err(|e| PageError::Json(e.to_string()))?;
    deserializer.end().map_err(|e| PageError::Json(e.to_string()))?;
    Ok(value)
}

/// One value read as `shape`.
#[derive(Clone, Copy)]
struct Shaped<'s> {
    shape: &'s Shape,
    /// What each item of the users array is read as.
    user: &'s Shape,
}

impl<'de> DeserializeSeed<'de> for Shaped<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shaped<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    /// An array: its items read as the shape says; where the shape is an
    /// object, an array is the wrong kind, kept empty and skipped unread.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let item = match self.shape {
            Shape::Any | Shape::Leaf => Some(self),
            Shape::Array(item) => Some(Shaped { shape: item, ..self }),
            Shape::Users => Some(Shaped { shape: self.user, ..self }),
            Shape::Object(_) => None,
        };
        let mut items = Vec::new();
        match item {
            Some(item) => {
                while let Some(value) = seq.next_element_seed(item)? {
                    items.push(value);
                }
            }
            None => while seq.next_element::<IgnoredAny>()?.is_some() {},
        }
        Ok(Value::Array(items))
    }

    /// An object: the keys the shape reads, read; the others (and a lookup's name) skipped. Where
    /// the shape is not an object, an object is kept empty, skipped unread.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        let Shape::Object(object) = self.shape else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Value::Object(kept));
        };
        while let Some(key) = map.next_key::<String>()? {
            // A lookup's answer is joined later: the listing's own key of its name is not read.
            match object.fields.iter().find(|field| field.key == key && !field.joined) {
                Some(field) => {
                    let value = map.next_value_seed(Shaped { shape: &field.shape, ..self })?;
                    kept.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }
}
