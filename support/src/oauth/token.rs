//! The token endpoint (RFC 6749 sections 3.2, 4.1.3, 4.4, 5 and 6): one POST
//! of a form, the client authenticated as the spec says, the answer read
//! within the size bound and classified.
//!
//! Written here rather than through the oauth2 crate because providers differ
//! where that crate is fixed: the grant type (Zoom's `account_credentials`),
//! the client's authentication (body or Basic), and fields beside the token
//! (Salesforce's `instance_url`).

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use url::Url;

use crate::http::{Client, Unread, read_body};
use crate::spec::ClientAuth;

/// What a token request carries besides its grant.
pub(super) struct Endpoint<'a> {
    pub url: &'a Url,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub client_auth: ClientAuth,
    /// The `kid` of a `private_key_jwt` assertion.
    pub key_id: Option<&'a str>,
    pub http: &'a Client,
}

/// A successful answer: the token and what came with it.
#[derive(Debug)]
pub(super) struct Granted {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    /// The whole answer, for fields a spec reads beside the token.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Why no token was had; `permanent` when the provider refused the client,
/// the grant or its parameters (RFC 6749 section 5.2), which retrying will not mend.
pub(super) struct Refused {
    pub message: String,
    pub permanent: bool,
}

/// The error codes of RFC 6749 section 5.2: the request itself was refused.
const REFUSALS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// The pair an HTTP Basic header carries for the client (RFC 6749 section
/// 2.3.1): id and secret form-encoded, then joined by `:` and base64-encoded.
/// Letters, digits and `-._~` are left as they are, so that a pair made only
/// of them is the same whether or not the server decodes it.
pub(super) fn basic_pair(client_id: &str, client_secret: &str) -> String {
    fn encode(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for byte in text.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                out.push(byte as char);
            } else if byte == b' ' {
                out.push('+');
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    }
    base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", encode(client_id), encode(client_secret)),
    )
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    error_description: Option<String>,
}

/// Posts one token request: `form` holds the grant and its parameters.
pub(super) async fn request(endpoint: &Endpoint<'_>, mut form: Vec<(String, String)>) -> Result<Granted, Refused> {
    let transient = |message: String| Refused { message, permanent: false };
    let shown = endpoint.url.as_str();
    match endpoint.client_auth {
        ClientAuth::Post => {
            form.push(("client_id".to_owned(), endpoint.client_id.to_owned()));
            form.push(("client_secret".to_owned(), endpoint.client_secret.to_owned()));
        }
        ClientAuth::PrivateKeyJwt => {
            // A key that cannot sign is the connection's configuration: retrying will not mend it.
            let claims = super::assertion::Claims {
                issuer: endpoint.client_id,
                subject: endpoint.client_id,
                audience: endpoint.url.as_str(),
                scope: None,
                now_secs: super::assertion::now_secs(),
            };
            let assertion = super::assertion::signed(endpoint.client_secret, endpoint.key_id, &claims)
                .map_err(|message| Refused { message, permanent: true })?;
            form.push(("client_assertion_type".to_owned(), super::assertion::ASSERTION_TYPE.to_owned()));
            form.push(("client_assertion".to_owned(), assertion));
        }
        // The JWT bearer grant's assertion is the client's proof: nothing more is sent.
        ClientAuth::Basic | ClientAuth::None => {}
    }
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
    let mut request = endpoint
        .http
        .token_http()
        .post(endpoint.url.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .body(body);
    if endpoint.client_auth == ClientAuth::Basic {
        let mut value =
            HeaderValue::from_str(&format!("Basic {}", basic_pair(endpoint.client_id, endpoint.client_secret)))
                .map_err(|_| transient("the client id or secret holds characters a header cannot".to_owned()))?;
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    let request =
        request.build().map_err(|e| transient(format!("cannot build the token request: {}", e.without_url())))?;
    if let Err(refused) = endpoint.http.check_address(request.url()) {
        return Err(transient(format!("the token endpoint {shown}: {refused}")));
    }
    let response =
        endpoint.http.token_http().execute(request).await.map_err(|e| {
            transient(format!("no answer from the token endpoint {shown}: {}", crate::http::describe(e)))
        })?;
    let status = response.status();
    let limit = endpoint.http.max_answer_bytes();
    let body = read_body(response, limit).await.map_err(|unread| match unread {
        Unread::TooLarge => transient(format!("the token endpoint {shown}: the answer is larger than {limit} bytes")),
        Unread::Failed(e) => {
            transient(format!("no answer from the token endpoint {shown}: {}", crate::http::describe(e)))
        }
    })?;
    if !status.is_success() {
        return Err(match serde_json::from_slice::<ErrorAnswer>(&body) {
            Ok(error) => {
                let description = error.error_description.map(|d| format!(": {d}")).unwrap_or_default();
                Refused {
                    message: format!("the token endpoint {shown} answered `{}`{description}", error.error),
                    permanent: REFUSALS.contains(&error.error.as_str()),
                }
            }
            Err(_) => transient(format!("the token endpoint {shown} answered HTTP {}", status.as_u16())),
        });
    }
    granted(&body, shown)
}

/// A successful answer read (RFC 6749 section 5.1). The body, which may hold
/// a token in a shape not understood, is never shown.
fn granted(body: &[u8], shown: &str) -> Result<Granted, Refused> {
    let transient = |what: &str| Refused {
        message: format!("the token endpoint {shown} answered something else than a token: {what}"),
        permanent: false,
    };
    let serde_json::Value::Object(fields) =
        serde_json::from_slice(body).map_err(|_| transient("the answer is not a JSON object"))?
    else {
        return Err(transient("the answer is not a JSON object"));
    };
    let text = |key: &str| fields.get(key).and_then(serde_json::Value::as_str).filter(|t| !t.is_empty());
    let access_token = text("access_token").ok_or_else(|| transient("it has no `access_token`"))?.to_owned();
    // RFC 6749 section 7.1: a client must not use a token whose type it does not
    // understand. A provider that leaves the type out issues bearer tokens.
    if let Some(kind) = text("token_type").filter(|kind| !kind.eq_ignore_ascii_case("bearer")) {
        return Err(Refused {
            message: format!("the token endpoint {shown} gave a token of type `{kind}`; tib sends bearer tokens only"),
            permanent: true,
        });
    }
    let expires_in = match fields.get("expires_in") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    if expires_in.is_none() && fields.get("expires_in").is_some_and(|v| !v.is_null()) {
        return Err(transient("its `expires_in` is not a whole number of seconds"));
    }
    Ok(Granted { access_token, refresh_token: text("refresh_token").map(str::to_owned), expires_in, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_basic_pair_keeps_unreserved_characters_and_encodes_the_rest() {
        let decode = |pair: String| {
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, pair).expect("base64");
            String::from_utf8(bytes).expect("UTF-8")
        };
        assert_eq!(decode(basic_pair("id-1.a_b~c", "S3cr.et~_-")), "id-1.a_b~c:S3cr.et~_-");
        assert_eq!(decode(basic_pair("a:b", "p+q/r= s")), "a%3Ab:p%2Bq%2Fr%3D+s");
    }

    #[test]
    fn answers_are_read_as_tokens_or_refused_with_a_reason() {
        let read = |body: &str| granted(body.as_bytes(), "https://t.example/token");
        let ok = read(r#"{"access_token":"a","token_type":"Bearer","expires_in":"3600","instance_url":"https://x"}"#)
            .unwrap_or_else(|refused| panic!("a token: {}", refused.message));
        assert_eq!((ok.access_token.as_str(), ok.expires_in), ("a", Some(3600)));
        assert_eq!(ok.fields.get("instance_url").and_then(|v| v.as_str()), Some("https://x"));
        assert!(read(r#"{"access_token":"a"}"#).is_ok(), "no type is a bearer token");
        let mac = read(r#"{"access_token":"a","token_type":"mac"}"#).expect_err("refused");
        assert!(mac.permanent && mac.message.contains("`mac`"), "{}", mac.message);
        let none = read(r#"{"token_type":"bearer"}"#).expect_err("refused");
        assert!(!none.permanent && none.message.contains("no `access_token`"), "{}", none.message);
        assert!(read("[1]").is_err());
    }
}
