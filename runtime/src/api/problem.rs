//! Errors as RFC 9457 problem details: `application/problem+json` with the
//! status, its title and what went wrong in this request. An operation's
//! error becomes one here, by its kind, and nowhere else.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::operate::{self, ErrorKind};

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

    /// A request that cannot be read: a body that is not the schema's JSON, a parameter of the wrong type.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    /// A request read, whose values are refused.
    pub fn invalid(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }
}

impl From<operate::Error> for Problem {
    fn from(error: operate::Error) -> Problem {
        let status = match error.kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::Failed => {
                // The store's or the vault's own words stay in the server's log: a client learns only
                // that the server failed.
                tracing::error!(error = %error.message, "a request failed");
                return Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the server could not do it; the server's log says why",
                );
            }
        };
        Problem::new(status, error.message)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = super::views::Problem {
            kind: "about:blank".to_owned(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        let json = serde_json::to_string(&body).unwrap_or_default();
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], json).into_response()
    }
}
