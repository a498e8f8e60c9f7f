//! Errors as RFC 9457 problem details: `application/problem+json` with the
//! status, its title and what went wrong in this request.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem { status, detail: detail.into() }
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Problem {
        // The database's own words stay in the server's log: a client learns only that the store failed.
        tracing::error!(%error, "a request failed in the store");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the store could not answer; the server's log says why")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
    }
}
