//! What an interpreted spec lends out as `'static`: the request side's
//! [`Spec`](tib_support::Spec), which the support crate's requests borrow, and
//! the label, license and field names that user records borrow. Each distinct
//! value is kept once for the process's life, so that a runtime checking a
//! spec again at every save keeps no more than what the saves made new; the
//! rest of a version (its IR, its compiled rules) is freed with it.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Mutex, PoisonError};

static TEXTS: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// Slices and specs by their type and their `Debug` text: the spec's types are
/// plain data, whose derived `Debug` shows all of a value and nothing else.
type Values = HashMap<(TypeId, String), &'static (dyn Any + Send + Sync)>;
static VALUES: Mutex<Option<Values>> = Mutex::new(None);

/// `text`, kept once.
pub fn text(text: &str) -> &'static str {
    let mut texts = TEXTS.lock().unwrap_or_else(PoisonError::into_inner);
    let texts = texts.get_or_insert_with(HashSet::new);
    if let Some(kept) = texts.get(text) {
        return kept;
    }
    let kept: &'static str = Box::leak(text.to_owned().into_boxed_str());
    texts.insert(kept);
    kept
}

/// `value`, kept once: an equal one kept before is given instead.
pub fn value<T: Debug + Send + Sync + 'static>(value: T) -> &'static T {
    let key = (TypeId::of::<T>(), format!("{value:?}"));
    let mut values = VALUES.lock().unwrap_or_else(PoisonError::into_inner);
    let values = values.get_or_insert_with(HashMap::new);
    if let Some(kept) = values.get(&key).and_then(|kept| kept.downcast_ref::<T>()) {
        return kept;
    }
    let kept: &'static T = Box::leak(Box::new(value));
    values.insert(key, kept);
    kept
}

/// `items`, kept once.
pub fn slice<T: Debug + Send + Sync + 'static>(items: Vec<T>) -> &'static [T] {
    value(items).as_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_are_kept_once() {
        let a = text(&String::from("Enterprise plan"));
        assert!(std::ptr::eq(a, text("Enterprise plan")));
        assert!(!std::ptr::eq(a, text("Free")));
        let one = slice(vec![("a", 1), ("b", 2)]);
        assert!(std::ptr::eq(one, slice(vec![("a", 1), ("b", 2)])));
        assert!(!std::ptr::eq(one, slice(vec![("a", 1)])));
        assert_eq!(slice::<u8>(vec![]), &[] as &[u8]);
        assert!(!std::ptr::eq(value(1u32) as *const u32 as *const u8, value(1u64) as *const u64 as *const u8));
    }
}
