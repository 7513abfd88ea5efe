//! CORS on the read API, as IODA sends it: `Access-Control-Allow-Origin: *`
//! on GET and HEAD answers and on preflight OPTIONS asking for them, so that
//! browser clients of IODA's API (or vigie's) on another origin can read.
//!
//! [`router`](crate::router) applies [`read_only`] to the read routes only:
//! never to the writes ([`crate::writes`]: `POST /api/v1/annotations`,
//! `/api/v1/subscriptions`, all behind the token) nor to the dashboard's
//! pages and files.

use std::time::Duration;

use axum::http::Method;
use tower_http::cors::{Any, CorsLayer};

/// How long a browser may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The CORS layer of the read API: any origin, GET and HEAD, any request
/// header but `Authorization` (a wildcard never covers it), no credentials.
pub fn read_only() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers(Any)
        .max_age(PREFLIGHT_MAX_AGE)
}
