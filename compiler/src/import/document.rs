//! An OpenAPI document as JSON, whichever it was written in, with its local
//! `$ref`s followed, and the few questions of a JSON Schema the importer asks.

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::Error;

/// The document, read.
pub struct Document {
    pub root: Value,
    pub version: Version,
    /// `$ref`s that point outside the document or at nothing, as written: said in the draft.
    unresolved: RefCell<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Swagger 2.0: `host`, `basePath`, `securityDefinitions`, schemas in `definitions`.
    Swagger2,
    /// OpenAPI 3.0 and 3.1: `servers`, `components`.
    OpenApi3,
}

static NULL: Value = Value::Null;

/// How many `$ref`s in a row are followed before the chain is taken for a loop.
const REF_CHAIN: usize = 32;

impl Document {
    /// Reads a JSON or YAML document (YAML's mapping keys, `200:` among them, become strings).
    pub fn read(text: &str) -> Result<Document, Error> {
        let root: Value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| Error::Unreadable(format!("as JSON: {e}")))?
        } else {
            let yaml: yaml_serde::Value =
                yaml_serde::from_str(text).map_err(|e| Error::Unreadable(format!("as YAML: {e}")))?;
            from_yaml(yaml)
        };
        let version = if root.get("swagger").is_some_and(|v| v.as_str().is_some_and(|s| s.starts_with('2'))) {
            Version::Swagger2
        } else if root.get("openapi").and_then(Value::as_str).is_some_and(|s| s.starts_with('3')) {
            Version::OpenApi3
        } else {
            return Err(Error::NotOpenApi);
        };
        if !root.get("paths").is_some_and(Value::is_object) {
            return Err(Error::Unreadable("it has no `paths`".to_owned()));
        }
        Ok(Document { root, version, unresolved: RefCell::default() })
    }

    /// The value itself, or what its `$ref` (and theirs) points at. A reference
    /// outside the document, to nothing or in a loop reads as null.
    pub fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..REF_CHAIN {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else { return value };
            match reference.strip_prefix('#').and_then(|pointer| self.root.pointer(pointer)) {
                Some(target) => value = target,
                None => {
                    let mut unresolved = self.unresolved.borrow_mut();
                    if !unresolved.iter().any(|r| r == reference) {
                        unresolved.push(reference.to_owned());
                    }
                    return &NULL;
                }
            }
        }
        &NULL
    }

    /// A member of an object, resolved.
    pub fn get<'a>(&'a self, value: &'a Value, key: &str) -> &'a Value {
        self.resolve(value.get(key).unwrap_or(&NULL))
    }

    pub fn unresolved(&self) -> Vec<String> {
        self.unresolved.borrow().clone()
    }

    /// A schema's type: 3.1 writes `["string", "null"]`, and a schema with
    /// `properties` or `items` and no type is an object or an array.
    pub fn schema_type<'a>(&'a self, schema: &'a Value) -> Option<&'a str> {
        let schema = self.resolve(schema);
        match schema.get("type") {
            Some(Value::String(t)) => Some(t),
            Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
            _ if schema.get("properties").is_some() || schema.get("allOf").is_some() => Some("object"),
            _ if schema.get("items").is_some() => Some("array"),
            _ => None,
        }
    }

    /// An object schema's properties in the order written, `allOf` parts
    /// merged and the first `oneOf`/`anyOf` alternative taken.
    pub fn properties<'a>(&'a self, schema: &'a Value) -> Vec<(&'a str, &'a Value)> {
        let mut found: Vec<(&str, &Value)> = Vec::new();
        self.collect_properties(self.resolve(schema), &mut found, 0);
        found
    }

    fn collect_properties<'a>(&'a self, schema: &'a Value, found: &mut Vec<(&'a str, &'a Value)>, depth: usize) {
        if depth > REF_CHAIN {
            return;
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                if !found.iter().any(|(n, _)| n == name) {
                    found.push((name, self.resolve(property)));
                }
            }
        }
        for parts in ["allOf"].iter().filter_map(|k| schema.get(*k).and_then(Value::as_array)) {
            for part in parts {
                self.collect_properties(self.resolve(part), found, depth + 1);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = schema.get(key).and_then(Value::as_array).and_then(|a| a.first()) {
                self.collect_properties(self.resolve(first), found, depth + 1);
            }
        }
    }

    /// An array schema's item schema.
    pub fn items<'a>(&'a self, schema: &'a Value) -> Option<&'a Value> {
        let schema = self.resolve(schema);
        if self.schema_type(schema) != Some("array") {
            return None;
        }
        schema.get("items").map(|items| self.resolve(items))
    }
}

/// YAML's value as JSON: keys of any kind as their text, tags dropped.
fn from_yaml(value: yaml_serde::Value) -> Value {
    use yaml_serde::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(from_yaml).collect()),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Null => "null".to_owned(),
                    other => format!("{other:?}"),
                };
                object.insert(key, from_yaml(value));
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => from_yaml(tagged.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_status_codes_become_keys_and_refs_are_followed() {
        let doc = Document::read(
            "openapi: 3.0.3\npaths:\n  /users:\n    get:\n      responses:\n        200:\n          description: ok\n\
             components:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {type: object, properties: {id: {type: string}}}\n",
        )
        .expect("a document");
        assert_eq!(doc.version, Version::OpenApi3);
        assert!(doc.root.pointer("/paths/~1users/get/responses/200").is_some());
        let a = doc.root.pointer("/components/schemas/A").expect("A");
        assert_eq!(doc.properties(a).iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["id"]);
    }

    #[test]
    fn a_loop_or_an_outside_ref_reads_as_nothing_and_is_remembered() {
        let doc = Document::read(
            r##"{"swagger": "2.0", "paths": {}, "definitions": {"L": {"$ref": "#/definitions/L"}},
                "x": {"$ref": "other.yaml#/User"}}"##,
        )
        .expect("a document");
        assert!(doc.resolve(&doc.root["definitions"]["L"]).is_null());
        assert!(doc.resolve(&doc.root["x"]).is_null());
        assert_eq!(doc.unresolved(), ["other.yaml#/User"]);
    }

    #[test]
    fn what_is_not_openapi_says_so() {
        assert!(matches!(Document::read("{\"paths\": {}}"), Err(Error::NotOpenApi)));
        assert!(matches!(Document::read("openapi: [unclosed"), Err(Error::Unreadable(_))));
    }
}
