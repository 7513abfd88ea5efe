//! The dashboard: a static single-page application embedded in the binary
//! and served at `/` (the page) and `/dashboard/…` (its scripts, styles and
//! vendored libraries), plus `/api/v1/coverage`, the one read it needs that
//! the rest of the API lacks (what the store covers, per country).
//!
//! The files live in `crates/vigie-publish/assets/`: the page's own HTML,
//! CSS and ES modules, and under `vendor/` the libraries copied from npm by
//! `dashboard/vendor.sh` (uPlot, topojson-client, world-atlas's
//! `countries-110m.json`, an ISO 3166 numeric → alpha-2 table), with their
//! licences. Everything is compiled in with `include_bytes!`: a user needs
//! no npm and no network, and the page loads nothing from another origin
//! (its Content-Security-Policy says so).
//!
//! Text files are served gzip-compressed to clients that accept it
//! (compressed once, on first use). `/embed/{entityType}/{code}` is one
//! entity's chart alone, for a news article: the only page that may be
//! framed, by the origins [`AppState::embed_origins`] lists (any by default).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vigie_model::{format_utc, Entity, UnixSecs};

use crate::error::ApiError;
use crate::state::AppState;

/// One embedded file of the dashboard.
#[derive(Debug)]
pub struct Asset {
    /// Its path under `/dashboard/`, such as `app.js` or `vendor/uPlot.min.css`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes, as committed under `assets/`.
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            bytes: include_bytes!(concat!("../assets/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const JSON_TYPE: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file the dashboard serves (the page itself is `index.html`).
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("embed.html", "text/html; charset=utf-8"),
    asset!("i18n.js", JS),
    asset!("embed.js", JS),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("util.js", JS),
    asset!("map.js", JS),
    asset!("entity.js", JS),
    asset!("vendor/uPlot.iife.min.js", JS),
    asset!("vendor/uPlot.min.css", "text/css; charset=utf-8"),
    asset!("vendor/topojson-client.min.js", JS),
    asset!("vendor/countries-110m.json", JSON_TYPE),
    asset!("vendor/country-codes.json", JSON_TYPE),
    asset!("vendor/VERSIONS.txt", TEXT),
    asset!("vendor/licenses/uplot-LICENSE", TEXT),
    asset!("vendor/licenses/topojson-client-LICENSE", TEXT),
    asset!("vendor/licenses/world-atlas-LICENSE", TEXT),
    asset!("vendor/licenses/i18n-iso-countries-LICENSE", TEXT),
];

/// The page's Content-Security-Policy: nothing from another origin, no
/// inline script or style, plots exported as `blob:` downloads.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The embed page's Content-Security-Policy: the dashboard's, except that
/// the page may be framed by `ancestors` (a `frame-ancestors` source list
/// such as `*` or `https://news.example https://blog.example`).
pub fn embed_content_security_policy(ancestors: &str) -> String {
    CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'",
        &format!("frame-ancestors {ancestors}"),
    )
}

/// The asset at `path` (under `/dashboard/`), if there is one.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The strong ETag of each asset (hex SHA-256 prefix), computed once.
fn etag(asset: &Asset) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.bytes);
                let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    });
    ASSETS
        .iter()
        .position(|a| a.path == asset.path)
        .and_then(|i| tags.get(i))
        .map(String::as_str)
        .unwrap_or("\"0\"")
}

/// Whether an asset is worth compressing (text; not already compressed).
fn compressible(asset: &Asset) -> bool {
    asset.content_type.starts_with("text/")
        || asset.content_type == JSON_TYPE
        || asset.content_type == "image/svg+xml"
}

/// An asset's gzip bytes and their ETag.
type Gzipped = (Vec<u8>, String);

/// The gzip form of each compressible asset (and its ETag), made once.
fn gzipped(asset: &Asset) -> Option<&'static Gzipped> {
    static GZ: OnceLock<Vec<Option<Gzipped>>> = OnceLock::new();
    let all = GZ.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                if !compressible(a) {
                    return None;
                }
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                encoder.write_all(a.bytes).ok()?;
                let bytes = encoder.finish().ok()?;
                let tag = format!("{}-gzip\"", etag(a).trim_end_matches('"'));
                (bytes.len() < a.bytes.len()).then_some((bytes, tag))
            })
            .collect()
    });
    ASSETS
        .iter()
        .position(|a| a.path == asset.path)
        .and_then(|i| all.get(i))
        .and_then(Option::as_ref)
}

/// Whether the request's `Accept-Encoding` takes gzip (with a non-zero q).
pub fn accepts_gzip(request_headers: &HeaderMap) -> bool {
    request_headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
        })
}

/// Answers one asset, with an ETag (304 when the client has it), revalidated
/// on each load (`no-cache`) so an upgraded binary is picked up at once;
/// gzip-compressed when the client accepts it.
fn respond(asset: &'static Asset, request_headers: &HeaderMap) -> Response {
    respond_with(asset, request_headers, None)
}

/// [`respond`], with the page's Content-Security-Policy when it is not the
/// dashboard's (the embed page's).
fn respond_with(
    asset: &'static Asset,
    request_headers: &HeaderMap,
    policy: Option<String>,
) -> Response {
    let gzip = gzipped(asset).filter(|_| accepts_gzip(request_headers));
    let tag = gzip.map_or(etag(asset), |(_, tag)| tag.as_str());
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static(tag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if compressible(asset) {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if asset.content_type.starts_with("text/html") {
        let policy = policy
            .and_then(|p| HeaderValue::from_str(&p).ok())
            .unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    match gzip {
        Some((bytes, _)) => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (headers, bytes.as_slice()).into_response()
        }
        None => (headers, asset.bytes).into_response(),
    }
}

/// `GET /`: the dashboard page.
pub async fn index(request_headers: HeaderMap) -> Response {
    match asset("index.html") {
        Some(page) => respond(page, &request_headers),
        None => ApiError::internal("the dashboard page is not built in").into_response(),
    }
}

/// `GET /dashboard/{*path}`: one of the dashboard's files.
pub async fn file(Path(path): Path<String>, request_headers: HeaderMap) -> Response {
    match asset(&path) {
        Some(found) => respond(found, &request_headers),
        None => ApiError::not_found(format!("no dashboard file '{path}': the dashboard is at /"))
            .into_response(),
    }
}

/// `GET /embed/{entityType}/{code}`: one entity's chart alone, framable by
/// the configured origins (`entityType` is `country`, `region` or `asn`; a
/// region's code is vigie's, such as `PS/Gaza Strip`). The page reads the
/// entity from its own path, and `from`, `until`, `scale=raw` and `lang`
/// from its query.
#[utoipa::path(
    get,
    path = crate::paths::EMBED,
    summary = "Embeddable chart",
    description = "One entity's chart alone (HTML), framable by the configured origins; query: from, until, scale=raw, lang=fr.",
    params(crate::schemas::EmbedPath, crate::schemas::EmbedQuery),
    responses((status = 200, description = "Success.", body = String, content_type = "text/html"), crate::schemas::ReadErrors),
)]
pub async fn embed(
    State(state): State<AppState>,
    Path((kind, code)): Path<(String, String)>,
    request_headers: HeaderMap,
) -> Response {
    let entity = match kind.as_str() {
        "country" | "region" => code.parse::<Entity>().ok(),
        "asn" => format!("AS{}", code.trim_start_matches("AS"))
            .parse::<Entity>()
            .ok(),
        _ => None,
    };
    let fits = entity.as_ref().is_some_and(|e| {
        matches!(
            (kind.as_str(), e),
            ("country", Entity::Country(_))
                | ("region", Entity::Region(_))
                | ("asn", Entity::Asn(_))
        )
    });
    if !fits {
        return ApiError::not_found(format!(
            "no entity '{kind}/{code}': use /embed/country/IQ, /embed/region/PS/Gaza Strip or /embed/asn/9198"
        ))
        .into_response();
    }
    match asset("embed.html") {
        Some(page) => respond_with(
            page,
            &request_headers,
            Some(embed_content_security_policy(
                &state.embed_origins().join(" "),
            )),
        ),
        None => ApiError::internal("the embed page is not built in").into_response(),
    }
}

/// What the store covers for one country: its own series and its regions'.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CountryCoverage {
    /// Series of the country itself.
    pub country_series: usize,
    /// Regions of the country with at least one series.
    pub regions: usize,
    /// The end of the latest bin with data among them, Unix seconds.
    pub latest_end: Option<UnixSecs>,
}

/// The store's coverage: its data span and, per country (ISO alpha-2), the
/// series of the country and of its regions. ASes carry no country in the
/// store and are only counted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    /// Series in the store.
    pub series: usize,
    /// The first bin with data, Unix seconds.
    pub first_bin: Option<UnixSecs>,
    /// The end of the last bin with data, Unix seconds.
    pub data_end: Option<UnixSecs>,
    /// Per country code.
    pub countries: BTreeMap<String, CountryCoverage>,
    /// ASes with at least one series.
    pub asns: usize,
}

/// Gathers the [`Coverage`] from the store's series list.
pub fn coverage_of(series: &[vigie_store::SeriesInfo]) -> Coverage {
    let mut out = Coverage {
        series: series.len(),
        ..Default::default()
    };
    let mut regions: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut asns = std::collections::BTreeSet::new();
    for info in series {
        let end = info.last_bin.map(|t| t + i64::from(info.bin.secs()));
        out.first_bin = match (out.first_bin, info.first_bin) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        out.data_end = out.data_end.max(end);
        let country = match &info.key.entity {
            Entity::Country(cc) => cc.as_str().to_string(),
            Entity::Region(region) => {
                let cc = region.country.as_str().to_string();
                regions
                    .entry(cc.clone())
                    .or_default()
                    .insert(region.name.clone());
                cc
            }
            Entity::Asn(asn) => {
                asns.insert(*asn);
                continue;
            }
        };
        let entry = out.countries.entry(country).or_default();
        if matches!(info.key.entity, Entity::Country(_)) {
            entry.country_series += 1;
        }
        entry.latest_end = entry.latest_end.max(end);
    }
    for (cc, names) in regions {
        if let Some(entry) = out.countries.get_mut(&cc) {
            entry.regions = names.len();
        }
    }
    out.asns = asns.len();
    out
}

/// `GET /api/v1/coverage`: the store's data span and, per country, how many
/// series the country and its regions have and until when (the map greys out
/// countries with no data).
#[utoipa::path(
    get,
    path = crate::paths::COVERAGE,
    summary = "Store coverage",
    description = "The data span (from, until) and, per country, the number of its own series, of its regions with series, and the end of its latest data (latestEnd); ASes are only counted (asns).",
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn coverage(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let listing = state.listing();
    let coverage = state
        .with_store(move |store| Ok(coverage_of(&listing.series(store)?)))
        .await?;
    let countries: Vec<Value> = coverage
        .countries
        .iter()
        .map(|(cc, c)| {
            json!({
                "country": cc,
                "countrySeries": c.country_series,
                "regions": c.regions,
                "latestEnd": c.latest_end.map(format_utc),
            })
        })
        .collect();
    Ok(Json(json!({
        "series": coverage.series,
        "from": coverage.first_bin.map(format_utc),
        "until": coverage.data_end.map(format_utc),
        "fromUnix": coverage.first_bin,
        "untilUnix": coverage.data_end,
        "asns": coverage.asns,
        "countries": countries,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::{BinSize, SeriesKey, SignalKind};
    use vigie_store::SeriesInfo;

    #[test]
    fn every_asset_is_embedded_and_typed() {
        for a in ASSETS {
            assert!(!a.bytes.is_empty(), "{} is empty", a.path);
            assert!(asset(a.path).is_some());
        }
        let page = std::str::from_utf8(asset("index.html").unwrap().bytes).unwrap();
        // Every file the page names is served, and nothing comes from elsewhere.
        for reference in page.split('"').filter(|s| s.starts_with("/dashboard/")) {
            let path = reference.trim_start_matches("/dashboard/");
            assert!(asset(path).is_some(), "index.html names {reference}");
        }
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert_ne!(
            etag(asset("app.js").unwrap()),
            etag(asset("map.js").unwrap())
        );
        assert!(asset("../Cargo.toml").is_none());
    }

    /// The vendored files are the npm packages' files, as `vendor.sh`
    /// copies them (checked when `npm ci` has run in dashboard/).
    #[test]
    fn vendored_files_match_the_npm_packages() {
        let modules =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dashboard/node_modules");
        if !modules.is_dir() {
            eprintln!("SKIP: no dashboard/node_modules (npm ci in dashboard/)");
            return;
        }
        for (vendored, original) in [
            ("vendor/uPlot.iife.min.js", "uplot/dist/uPlot.iife.min.js"),
            ("vendor/uPlot.min.css", "uplot/dist/uPlot.min.css"),
            (
                "vendor/topojson-client.min.js",
                "topojson-client/dist/topojson-client.min.js",
            ),
            (
                "vendor/countries-110m.json",
                "world-atlas/countries-110m.json",
            ),
        ] {
            let from_npm = std::fs::read(modules.join(original)).unwrap();
            assert!(
                asset(vendored).unwrap().bytes == from_npm.as_slice(),
                "{vendored} differs from node_modules/{original}: run dashboard/vendor.sh"
            );
        }
    }

    #[test]
    fn coverage_groups_regions_under_their_country() {
        let info = |entity: &str, first: i64, last: i64| SeriesInfo {
            key: SeriesKey {
                entity: entity.parse().unwrap(),
                signal: SignalKind::BgpVisibleSlash24s,
            },
            bin: BinSize::default(),
            first_bin: Some(first),
            last_bin: Some(last),
            latest_value: Some(1.0),
        };
        let c = coverage_of(&[
            info("IQ", 1000, 2000),
            info("PS/Gaza Strip", 500, 9000),
            info("PS/Gaza Strip", 600, 9300),
            info("PS/West Bank", 600, 900),
            info("AS9198", 100, 100),
        ]);
        assert_eq!(c.series, 5);
        assert_eq!(c.first_bin, Some(100));
        assert_eq!(c.data_end, Some(9600));
        assert_eq!(c.asns, 1);
        assert_eq!(
            c.countries["IQ"],
            CountryCoverage {
                country_series: 1,
                regions: 0,
                latest_end: Some(2300)
            }
        );
        assert_eq!(
            c.countries["PS"],
            CountryCoverage {
                country_series: 0,
                regions: 2,
                latest_end: Some(9600)
            }
        );
        assert_eq!(coverage_of(&[]), Coverage::default());
    }
}
