//! Credential values: never shown by Debug or Display, and scrubbed from
//! anything tib prints about a failed request.

use std::fmt;

use crate::spec::CredentialSpec;

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

    /// Replaces every secret value in `text` with `[redacted]`, in whatever
    /// form an API or a token endpoint quotes it ([`crate::redact`]): as
    /// written, percent-, JSON- or HTML-escaped, over one another, or cut short.
    pub fn redact(&self, text: &str) -> String {
        let secrets = self.values.iter().zip(&self.secret).filter(|(_, secret)| **secret);
        crate::redact::redact(text, secrets.map(|(value, _)| value.expose()))
    }

    /// These values and one more secret (an OAuth token a request carries,
    /// say), for redacting what comes back.
    pub fn with_secret(&self, extra: &str) -> CredentialValues {
        let mut all = self.clone();
        all.values.push(Secret::new(extra));
        all.secret.push(true);
        all
    }
}

/// Why the values given for a connection do not fit its spec.
#[derive(Debug)]
pub enum CredentialsError {
    /// A value for a credential the spec does not declare.
    Unknown { name: String, declared: Vec<&'static str> },
    /// Credentials given nowhere.
    Missing(Vec<&'static CredentialSpec>),
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::Unknown { name, declared } if declared.is_empty() => {
                write!(f, "the spec declares no credentials, but `{name}` was given")
            }
            CredentialsError::Unknown { name, declared } => {
                write!(f, "the spec has no credential `{name}`; it declares {}", declared.join(", "))
            }
            CredentialsError::Missing(missing) => {
                f.write_str("the spec needs credentials that were not given:")?;
                for c in missing {
                    write!(f, "\n  --cred {}=… (or {})", c.name, env_name(c.name))?;
                    if !c.description.is_empty() {
                        write!(f, ": {}", c.description)?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for CredentialsError {}

/// A `--cred NAME=VALUE` argument as its name and value.
pub fn name_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{arg}` is not NAME=VALUE")),
    }
}

/// The environment variable that supplies credential `name`: `TIB_` and the name in upper case.
pub fn env_name(name: &str) -> String {
    format!("TIB_{}", name.to_ascii_uppercase())
}

impl CredentialValues {
    /// The values of `declared` (a spec's credentials): from `flags`
    /// (`NAME=VALUE` pairs; the last one of a name wins), else from
    /// `otherwise` (the environment, a prompt...). A flag the spec does not
    /// declare, or a value found nowhere, is an error that says what to give.
    pub fn collect(
        declared: &'static [CredentialSpec],
        flags: &[(String, String)],
        mut otherwise: impl FnMut(&CredentialSpec) -> Option<String>,
    ) -> Result<CredentialValues, CredentialsError> {
        if let Some((name, _)) = flags.iter().find(|(name, _)| !declared.iter().any(|c| c.name == name)) {
            return Err(CredentialsError::Unknown {
                name: name.clone(),
                declared: declared.iter().map(|c| c.name).collect(),
            });
        }
        let mut values = Vec::new();
        let mut missing = Vec::new();
        for credential in declared {
            let flag = flags.iter().rev().find(|(name, _)| name == credential.name).map(|(_, v)| v.clone());
            match flag.or_else(|| otherwise(credential)) {
                Some(value) => values.push((Secret::new(value), credential.secret)),
                None => missing.push(credential),
            }
        }
        if missing.is_empty() { Ok(CredentialValues::new(values)) } else { Err(CredentialsError::Missing(missing)) }
    }

    /// The values in spec order, for sealing.
    pub fn values(&self) -> &[Secret] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DECLARED: [CredentialSpec; 2] = [
        CredentialSpec { name: "user", secret: false, description: "Your login" },
        CredentialSpec { name: "token", secret: true, description: "" },
    ];

    #[test]
    fn secrets_are_redacted_as_written_and_as_a_query_string_writes_them() {
        let values = CredentialValues::new(vec![
            (Secret::new("ann"), false),
            (Secret::new("k3y/with+a space="), true),
            (Secret::new("abc"), true),
        ]);
        assert_eq!(
            values.redact("https://x.io/u?api_key=k3y%2Fwith%2Ba+space%3D&by=ann said k3y/with+a space= abc"),
            "https://x.io/u?api_key=[redacted]&by=ann said [redacted] abc",
            "too short a secret is left: it would redact ordinary words"
        );
        let with_token = values.with_secret("access-token-1");
        let tricky = CredentialValues::new(vec![(Secret::new("s3c/r\"e<t>&'k"), true)]);
        for quoted in [
            r#"s3c/r"e<t>&'k"#,
            r#"s3c\/r\"e<t>&'k"#,
            r#"s3c/r\"e<t>&'k"#,
            r"s3c\u002fr\u0022e\u003ct\u003e\u0026\u0027k",
            r"s3c\u002Fr\u0022e\u003Ct\u003E\u0026\u0027k",
            "s3c/r&quot;e&lt;t&gt;&amp;&#39;k",
            "s3c/r&quot;e&lt;t&gt;&amp;&#x27;k",
            "s3c%2Fr%22e%3Ct%3E%26%27k",
        ] {
            assert_eq!(tricky.redact(&format!("<{quoted}>")), "<[redacted]>", "{quoted}");
        }
        assert_eq!(with_token.redact("access-token-1 k3y/with+a space="), "[redacted] [redacted]");
        assert_eq!(values.redact("access-token-1"), "access-token-1", "the values themselves are unchanged");
    }

    #[test]
    fn collects_from_flags_then_elsewhere_and_says_what_is_missing() {
        let flags = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        };
        let env = |c: &CredentialSpec| (c.name == "token").then(|| "from-env-secret".to_owned());
        let values = CredentialValues::collect(&DECLARED, &flags(&[("user", "ann")]), env).expect("collected");
        assert_eq!((values.get(0), values.get(1)), ("ann", "from-env-secret"));
        assert_eq!(values.redact("ann from-env-secret"), "ann [redacted]");
        let values =
            CredentialValues::collect(&DECLARED, &flags(&[("user", "a"), ("token", "1"), ("token", "2")]), env)
                .expect("collected");
        assert_eq!(values.get(1), "2", "the last flag wins");

        let missing = CredentialValues::collect(&DECLARED, &[], |_| None).expect_err("missing");
        assert_eq!(
            missing.to_string(),
            "the spec needs credentials that were not given:\n  --cred user=… (or TIB_USER): Your login\n  --cred token=… (or TIB_TOKEN)"
        );
        let unknown = CredentialValues::collect(&DECLARED, &flags(&[("tokn", "x")]), |_| None).expect_err("unknown");
        assert_eq!(name_value("token=a=b"), Ok(("token".to_owned(), "a=b".to_owned())));
        assert!(name_value("=x").is_err() && name_value("token").is_err());
        assert_eq!(unknown.to_string(), "the spec has no credential `tokn`; it declares user, token");
    }

    #[test]
    fn secrets_never_show() {
        let creds = CredentialValues::new(vec![(Secret::new("tok-123456"), true), (Secret::new("acme"), false)]);
        assert!(!format!("{creds:?}").contains("tok-123456"));
        assert_eq!(creds.redact("bad token tok-123456 for acme"), "bad token [redacted] for acme");
        assert_eq!(creds.get(1), "acme");
        assert_eq!(creds.get(7), "");
    }
}
