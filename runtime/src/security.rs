//! The security headers, as one layer over every answer `serve` gives: the
//! console's pages, the OAuth callback's, the API's, and the 404 of a path
//! that is nothing. Pages are self-contained (their style inline, the one
//! script served here), so the policy allows nothing from elsewhere, and no
//! page may be framed.

use axum::http::{HeaderValue, header};
use axum::response::Response;

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
