//! API errors: an HTTP status and a message that says what to change.

use std::time::Duration;

use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use vigie_store::StoreError;

/// An error answered to an HTTP client as `{"error": message}` with a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status (4xx for the client's mistakes, 5xx for the server's).
    pub status: StatusCode,
    /// What went wrong and what to do about it.
    pub message: String,
    /// When to try again, sent as `Retry-After` (503, 429).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// A 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 401 Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl ApiError {
    /// A 503 Service Unavailable, to retry after `retry_after`.
    pub fn busy(message: impl Into<String>, retry_after: Duration) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            retry_after: Some(retry_after),
        }
    }

    /// The answer to a request whose client has gone (nobody reads it).
    pub fn client_gone() -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the client went away; the work was stopped".into(),
            retry_after: None,
        }
    }

    /// A 429 Too Many Requests, to retry after `retry_after`.
    pub fn too_many_requests(message: impl Into<String>, retry_after: Duration) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: message.into(),
            retry_after: Some(retry_after),
        }
    }

    /// The `Retry-After` header's value (whole seconds, at least 1).
    pub fn retry_after_header(&self) -> Option<(HeaderName, HeaderValue)> {
        self.retry_after.map(|wait| {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            (header::RETRY_AFTER, HeaderValue::from(secs.max(1)))
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Busy { .. } => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: format!("the store is busy, retry shortly: {error}"),
                retry_after: Some(Duration::from_secs(1)),
            },
            other => ApiError::internal(format!("store error: {other}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after_header();
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some((name, value)) = retry_after {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
