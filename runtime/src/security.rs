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
    let in_path = percent_encoding::percent_decode_str(uri.path()).any(|byte| byte == 0);
    let in_query =
        |query: &str| url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k.contains('\0') || v.contains('\0'));
    if !in_path && !uri.query().is_some_and(in_query) {
        return next.run(request).await;
    }
    let detail = "a parameter holds a NUL character, which no name or value here has";
    if uri.path().starts_with("/scim/") {
        return crate::api::scim::error(StatusCode::BAD_REQUEST, Some("invalidValue"), detail).into_response();
    }
    crate::api::problem::Problem::bad_request(detail).into_response()
}
