//! A spec's templates with a connection's credential values put in: as
//! text (a header, a query value, a token request's field), and as the part
//! of a URL (where only URL-safe values may go).

use crate::error::SyncError;
use crate::secret::CredentialValues;
use crate::spec::{Part, Template};

/// A template's text with the credential values put in.
pub(crate) fn render(template: &Template, creds: &CredentialValues) -> String {
    template
        .0
        .iter()
        .map(|part| match part {
            Part::Text(text) => *text,
            Part::Credential(index) => creds.get(*index),
        })
        .collect()
}

/// A URL template's text. Values put into a URL may only be URL-safe text, so
/// a tenant name cannot move the request to another host or path.
pub(crate) fn render_url(template: &Template, creds: &CredentialValues) -> Result<String, SyncError> {
    for part in template.0 {
        if let Part::Credential(index) = part {
            let value = creds.get(*index);
            let safe = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
            if !safe {
                return Err(SyncError::Config(creds.redact(&format!(
                    "the credential put into the base URL must be letters, digits, `-`, `.`, `_` or `~`, got `{value}`"
                ))));
            }
        }
    }
    Ok(render(template, creds))
}
