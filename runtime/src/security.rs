//! The layers over every request and answer `serve` gives. Requests whose
//! path or query holds a NUL character are refused before any handler (no
//! name or parameter has one, and a database would refuse it with an error of
//! its own). Every answer carries the security headers: the console's pages,
//! the OAuth callback's, the API's, and the 404 of a path that is nothing.
//! Pages are self-contained (their style inline, the one script served here),
//! so the policy allows nothing from elsewhere, and no page may be framed.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
                      form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to an answer; a handler's own `Cache-Control` stays.
pub async fn headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Refuses a request whose path or query, percent-decoded, holds a NUL: 400, as a problem document (as a
/// SCIM error under `/scim`).
pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let decoded =
        |text: &str| url::form_urlencoded::parse(text.as_bytes()).any(|(k, v)| k.contains('\0') || v.contains('\0'));
    let in_path = percent_decoded(uri.path()).contains(&0);
    if !in_path && !uri.query().is_some_and(decoded) {
        return next.run(request).await;
    }
    let detail = "a parameter holds a NUL character, which no name or value here has";
    if uri.path().starts_with("/scim/") {
        let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
            "scimType": "invalidValue", "detail": detail});
        return (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/scim+json")], body.to_string())
            .into_response();
    }
    crate::api::problem::Problem::bad_request(detail).into_response()
}

/// A path's bytes with its percent-escapes decoded.
fn percent_decoded(path: &str) -> Vec<u8> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes.get(at + 1..at + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    out
}
