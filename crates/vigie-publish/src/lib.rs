//! vigie's publication layer: what vigie knows, told to people.
//!
//! # Map of the crate
//!
//! - [`server`]: the HTTP server. [`AppState`] (a pool of store connections
//!   and the metrics), [`router`] (every route, listed in [`server::paths`]),
//!   [`serve`] and [`bind`]. `vigie serve --listen ADDR` runs it.
//! - [`api`]: the native JSON API under `/api/v1/`: entities (search),
//!   signals (JSON, and CSV for any series), events, incidents (ids
//!   `ENTITY@START`), summary. Ranges of years are served, downsampled with
//!   `maxPoints`; page sizes and ranges are bounded with clear 400s
//!   ([`params`] has the limits).
//! - [`ioda`]: IODA API v2-compatible endpoints (`/v2/signals/raw/…`,
//!   `/v2/outages/{alerts,events,summary}`, `/v2/entities/query`) with IODA's
//!   parameters and envelope, so IODA clients work unchanged.
//! - [`openapi`]: the OpenAPI document served at `/api/v1/openapi.json`.
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`data`]: store reads shared by the API and the reports, with no HTTP:
//!   downsampling, entity search, decoded incidents, summaries.
//! - [`params`]: query parameters and their bounds; [`error`]: [`ApiError`].
//!
//! Reading is public; the server only reads the store (detection results are
//! written by `vigie detect`).

#![warn(missing_docs)]

pub mod alerts;
pub mod annotations;
pub mod api;
pub mod data;
pub mod error;
pub mod ioda;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod report;
pub mod server;
pub mod writes;

pub use error::ApiError;
pub use server::{bind, router, serve, AppState};
