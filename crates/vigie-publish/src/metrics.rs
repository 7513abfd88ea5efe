//! Prometheus metrics: request counts and latencies per route, rendered in
//! the text exposition format at `/metrics` with the store's own gauges,
//! followed by what the rest of the process counts through the `metrics`
//! facade (the sources, the live detector, the alert worker: see
//! [`install_recorder`]), rendered by `metrics-exporter-prometheus`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds (seconds) of the live detector's time-per-bin histogram
/// (`vigie_detector_bin_seconds`).
pub const DETECTOR_BIN_BUCKETS_SECS: [f64; 10] =
    [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// Installs the process's `metrics` recorder (once; later calls return the
/// same handle) so that the counters and gauges other crates record with
/// `metrics::counter!` and `metrics::gauge!` are rendered at `/metrics`.
/// `None` when another recorder was installed first. `vigie serve` calls
/// it before starting its sources; [`crate::AppState`] does too.
pub fn install_recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("vigie_detector_bin_seconds".into()),
                    &DETECTOR_BIN_BUCKETS_SECS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// What the rest of the process recorded, in the text exposition format
/// (empty when no recorder is installed).
pub fn render_process_metrics() -> String {
    match install_recorder() {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => String::new(),
    }
}

/// Upper bounds (seconds) of the request-duration histogram buckets.
pub const LATENCY_BUCKETS_SECS: [f64; 10] =
    [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; LATENCY_BUCKETS_SECS.len()],
    count: u64,
    sum_secs: f64,
}

/// Request counters and latency histograms, shared by every handler, and
/// the counters of the server's limits.
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
    heavy_refused: AtomicU64,
    cancelled: AtomicU64,
    token_throttled: AtomicU64,
    connections_evicted: AtomicU64,
    connections_refused: AtomicU64,
    connections_open: AtomicU64,
}

impl Metrics {
    /// Counts a heavy read refused because every heavy slot was taken.
    pub fn count_heavy_refused(&self) {
        self.heavy_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a read stopped because its client went away.
    pub fn count_cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a write refused because its address gave too many wrong tokens.
    pub fn count_token_throttled(&self) {
        self.token_throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an idle connection closed to make room for a new one.
    pub fn count_connection_evicted(&self) {
        self.connections_evicted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection refused because every held one was busy.
    pub fn count_connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the number of open connections.
    pub fn set_connections_open(&self, open: usize) {
        self.connections_open.store(open as u64, Ordering::Relaxed);
    }

    /// Reads stopped because their client went away, so far.
    pub fn cancelled(&self) -> u64 {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Records one answered request: its route template (such as
    /// `/v2/signals/raw/{entityType}/{entityCode}`), status and duration.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        let stats = routes.entry(route.to_string()).or_default();
        *stats.by_status.entry(status).or_insert(0) += 1;
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in stats.buckets.iter_mut().zip(LATENCY_BUCKETS_SECS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        stats.count += 1;
        stats.sum_secs += secs;
    }

    /// Renders the request metrics, then `gauges` (name, help, value), in
    /// the Prometheus text format.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP vigie_http_requests_total HTTP requests answered, by route template and status.\n");
        out.push_str("# TYPE vigie_http_requests_total counter\n");
        let routes = match self.routes.lock() {
            Ok(routes) => routes,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (route, stats) in routes.iter() {
            for (status, count) in &stats.by_status {
                let _ = writeln!(
                    out,
                    "vigie_http_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP vigie_http_request_duration_seconds Time to answer a request, by route template.\n");
        out.push_str("# TYPE vigie_http_request_duration_seconds histogram\n");
        for (route, stats) in routes.iter() {
            let route = escape(route);
            for (count, bound) in stats.buckets.iter().zip(LATENCY_BUCKETS_SECS) {
                let _ = writeln!(
                    out,
                    "vigie_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "vigie_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(
                out,
                "vigie_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                stats.sum_secs
            );
            let _ = writeln!(
                out,
                "vigie_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                stats.count
            );
        }
        for (name, help, value) in [
            (
                "vigie_http_heavy_refused_total",
                "Heavy series reads refused with 503 because every heavy slot was taken.",
                &self.heavy_refused,
            ),
            (
                "vigie_http_cancelled_total",
                "Series reads stopped because their client went away.",
                &self.cancelled,
            ),
            (
                "vigie_http_token_throttled_total",
                "Writes refused with 429 after too many wrong tokens from one address.",
                &self.token_throttled,
            ),
            (
                "vigie_http_connections_evicted_total",
                "Idle connections closed to make room for new ones.",
                &self.connections_evicted,
            ),
            (
                "vigie_http_connections_refused_total",
                "Connections refused because every held connection was busy.",
                &self.connections_refused,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP vigie_http_connections_open HTTP connections open.\n# TYPE vigie_http_connections_open gauge\nvigie_http_connections_open {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record("/api/v1/signals", 200, Duration::from_millis(3));
        metrics.record("/api/v1/signals", 200, Duration::from_millis(30));
        metrics.record("/api/v1/signals", 400, Duration::from_micros(500));
        let text = metrics.render(&[("vigie_store_series", "Series held.", 4.0)]);
        assert!(text
            .contains("vigie_http_requests_total{route=\"/api/v1/signals\",status=\"200\"} 2\n"));
        assert!(text
            .contains("vigie_http_requests_total{route=\"/api/v1/signals\",status=\"400\"} 1\n"));
        assert!(text.contains("vigie_http_request_duration_seconds_bucket{route=\"/api/v1/signals\",le=\"0.001\"} 1\n"));
        assert!(text.contains("vigie_http_request_duration_seconds_bucket{route=\"/api/v1/signals\",le=\"0.005\"} 2\n"));
        assert!(text.contains(
            "vigie_http_request_duration_seconds_bucket{route=\"/api/v1/signals\",le=\"+Inf\"} 3\n"
        ));
        assert!(text.contains("# TYPE vigie_store_series gauge\nvigie_store_series 4\n"));
    }
}
