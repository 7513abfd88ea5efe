//! vigie's publication layer: what vigie knows, told to people.
//!
//! # Map of the crate
//!
//! - [`server`]: the HTTP server. [`router`] (every route, listed in
//!   [`paths`]), [`serve`] and [`bind`]. `vigie serve --listen ADDR` runs it
//!   (`VIGIE_API_TOKEN` enables writes).
//! - [`state`]: [`AppState`], what every handler shares (a pool of store
//!   connections, the metrics, the write token, the limits).
//! - [`limits`]: [`ServerLimits`] (timeouts, caps on connections, bodies,
//!   heavy reads and response sizes, the wrong-token throttle), the
//!   heavy-read gate, the cancellation of work whose client has gone and
//!   [`limits::ClientAddr`]; [`read_limits`]: what one series read may use.
//! - [`api`]: the native JSON API under `/api/v1/`: entities (search),
//!   signals (JSON, and CSV for any series), events, incidents (ids
//!   `ENTITY@START`), summary. Ranges of years are served, downsampled with
//!   `maxPoints`; page sizes, ranges and bodies are bounded with clear 4xx
//!   ([`params`] has the limits).
//! - [`feed`]: Atom feeds of incidents (`/api/v1/incidents.atom`, `?entity=`
//!   for one entity's), written with `atom_syndication`.
//! - [`ioda`]: IODA API v2-compatible endpoints (`/v2/signals/{raw,events}/…`,
//!   `/v2/outages/{alerts,events,summary}`, `/v2/entities/query`,
//!   `/v2/datasources`, `/v2/topo/…`) with IODA's parameters and envelope,
//!   so IODA clients work unchanged; [`continents`] for its entity ids.
//! - [`writes`]: the endpoints that write, behind `Authorization: Bearer`:
//!   annotations and alert subscriptions.
//! - [`annotations`]: external events attached to an entity and a time
//!   (store migration 3), shown in reports; `vigie annotate` writes them too.
//! - [`alerts`]: subscriptions, the durable outbox (store migration 4) and
//!   signed webhook delivery with retries and SSRF checks.
//! - [`report`]: incident reports (`vigie report`): self-contained HTML,
//!   Markdown, an SVG figure and a CSV appendix, in English and French, with
//!   local times ([`report::tz`]: IANA zones from `chrono-tz`, with DST).
//! - [`dashboard`]: the dashboard, a static page embedded in the binary and
//!   served at `/` (files under `/dashboard/`, libraries vendored from npm
//!   by `dashboard/vendor.sh`), and `/api/v1/coverage` for its map.
//! - [`cors`]: `Access-Control-Allow-Origin: *` on the read API (as IODA),
//!   never on writes or the dashboard.
//! - [`openapi`]: the OpenAPI document served at `/api/v1/openapi.json`.
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`data`]: store reads shared by the API, reports and alerts, with no
//!   HTTP: downsampling, entity search, decoded incidents and their JSON,
//!   summaries.
//! - [`window`]: the series windows that the native and IODA signal
//!   endpoints read.
//! - [`listing`]: the store's series listing, cached until the next write
//!   (entities, coverage, summary and IODA's entity query read it).
//! - [`params`]: query parameters and their bounds; [`error`]: [`ApiError`].
//!
//! Reading is public. The server writes only annotations, subscriptions and
//! the outbox; signals and detection results are written by other commands.

#![warn(missing_docs)]

pub mod alerts;
pub mod annotations;
pub mod api;
pub mod continents;
pub mod cors;
pub mod dashboard;
pub mod data;
pub mod error;
pub mod feed;
pub mod ioda;
pub mod limits;
pub mod listing;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod paths;
pub mod read_limits;
pub mod report;
pub mod server;
pub mod state;
pub mod window;
pub mod writes;

pub use error::ApiError;
pub use limits::ServerLimits;
pub use server::{bind, router, serve};
pub use state::AppState;
