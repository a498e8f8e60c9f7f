//! Credential values: never shown by Debug or Display, and scrubbed from
//! anything tib prints about a failed request.

use std::fmt;

/// A secret string. Read it with [`Secret::expose`], only where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The values of a connection's credentials, in the spec's index order.
#[derive(Clone, Debug)]
pub struct CredentialValues {
    values: Vec<Secret>,
    secret: Vec<bool>,
}

impl CredentialValues {
    /// Values paired with whether each is secret (from the spec).
    pub fn new(values: Vec<(Secret, bool)>) -> Self {
        let (values, secret) = values.into_iter().unzip();
        CredentialValues { values, secret }
    }

    /// The value at `index`; empty when the connection lacks it.
    pub fn get(&self, index: usize) -> &str {
        self.values.get(index).map_or("", Secret::expose)
    }

    /// Replaces every secret value in `text` with `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, secret) in self.values.iter().zip(&self.secret) {
            // Very short values would redact ordinary words; they are not secrets anyone relies on.
            if *secret && value.expose().len() >= 4 {
                out = out.replace(value.expose(), "[redacted]");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show() {
        let creds = CredentialValues::new(vec![(Secret::new("tok-123456"), true), (Secret::new("acme"), false)]);
        assert!(!format!("{creds:?}").contains("tok-123456"));
        assert_eq!(creds.redact("bad token tok-123456 for acme"), "bad token [redacted] for acme");
        assert_eq!(creds.get(1), "acme");
        assert_eq!(creds.get(7), "");
    }
}
