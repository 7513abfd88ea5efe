//! What `vigie serve` counts for `/metrics`, through the `metrics` facade
//! (rendered by `vigie_publish::metrics`): per source, the bins it wrote;
//! per BGP feed (`bgp-session`, `bmp`, `ris-live`), the UPDATEs (or RIS
//! Live messages), route changes, peers up and their session downs, and
//! the feed's own health; the flow exporters' datagrams and bad datagrams;
//! the prober's rounds, probes and replies; the live detector's bins and
//! time per bin; the alert worker's deliveries.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use vigie_bgp::live::LiveEvent;

/// Installs the recorder and describes every metric (its `# HELP`).
pub fn install() {
    vigie_publish::metrics::install_recorder();
    for (name, help) in [
        (
            "vigie_source_bins_total",
            "Closed bins a source wrote (label source: its store name).",
        ),
        (
            "vigie_source_values_total",
            "Entity values in the closed bins a source wrote.",
        ),
        (
            "vigie_source_provisional_bins_total",
            "Open-bin (provisional) values a source published.",
        ),
        (
            "vigie_source_bins_dropped_total",
            "Bins dropped for an implausible time (a clock gone wrong).",
        ),
        (
            "vigie_bgp_updates_total",
            "BGP UPDATE messages (RIS Live: route messages) per feed: bgp-session, bmp, ris-live.",
        ),
        (
            "vigie_bgp_route_changes_total",
            "Announcements and withdrawals in those messages, per feed.",
        ),
        (
            "vigie_bgp_peer_downs_total",
            "BGP sessions (peers) that went down, per feed.",
        ),
        (
            "vigie_bgp_feed_downs_total",
            "Times a feed stopped delivering (stall, disconnect).",
        ),
        (
            "vigie_flow_datagrams_total",
            "Flow export datagrams received, per exporter.",
        ),
        (
            "vigie_flow_records_total",
            "Flow records (or sFlow samples) decoded and used, per exporter.",
        ),
        (
            "vigie_flow_bad_datagrams_total",
            "Flow datagrams that could not be decoded, wholly or partly, per exporter.",
        ),
        (
            "vigie_flow_template_misses_total",
            "Flow data sets that arrived before their template, per exporter.",
        ),
        (
            "vigie_access_log_lines_total",
            "Lines read from a followed access log (label log: its path).",
        ),
        (
            "vigie_access_log_requests_total",
            "Requests counted from a followed access log.",
        ),
        (
            "vigie_access_log_bad_lines_total",
            "Lines of a followed access log that could not be used.",
        ),
        (
            "vigie_access_log_late_lines_total",
            "Lines that came after their bin had closed.",
        ),
        (
            "vigie_telescope_packets_total",
            "Packets the live telescope saw.",
        ),
        (
            "vigie_telescope_packets_kept_total",
            "Packets that passed every telescope filter.",
        ),
        (
            "vigie_telescope_packets_dropped_total",
            "Packets a telescope filter dropped (label filter).",
        ),
        ("vigie_probe_rounds_total", "Probing rounds completed."),
        (
            "vigie_probe_probes_total",
            "ICMP echo probes sent (periodic and adaptive).",
        ),
        ("vigie_probe_replies_total", "Matched echo replies."),
        ("vigie_probe_timeouts_total", "Probes that timed out."),
        (
            "vigie_detector_bins_total",
            "Closed bins pushed to the live detector.",
        ),
        (
            "vigie_detector_publishes_total",
            "Times the live detector published its incidents.",
        ),
        (
            "vigie_detector_provisional_incidents_total",
            "Provisional incidents raised from open bins.",
        ),
        (
            "vigie_alerts_enqueued_total",
            "Alert notices added to the outbox.",
        ),
        (
            "vigie_alerts_sent_total",
            "Alert deliveries accepted by their receiver.",
        ),
        (
            "vigie_alerts_retries_total",
            "Alert deliveries that failed and will be retried.",
        ),
        (
            "vigie_alerts_failed_total",
            "Alert deliveries given up after their last attempt.",
        ),
        (
            "vigie_alerts_deferred_total",
            "Alert deliveries put off to the next pass (receiver unreachable).",
        ),
        (
            "vigie_alerts_pass_errors_total",
            "Alert worker passes that failed (store errors).",
        ),
    ] {
        describe_counter!(name, help);
    }
    describe_gauge!(
        "vigie_source_last_bin_end_timestamp_seconds",
        Unit::Seconds,
        "End of the latest closed bin a source wrote, Unix seconds."
    );
    describe_gauge!(
        "vigie_bgp_peers_up",
        "Peers whose session is up (routes received since their last down), per feed."
    );
    describe_gauge!(
        "vigie_bgp_feed_up",
        "1 while a feed delivers, 0 after it stopped (per feed name)."
    );
    describe_gauge!("vigie_detector_series", "Series the live detector follows.");
    describe_histogram!(
        "vigie_detector_bin_seconds",
        Unit::Seconds,
        "Time the live detector took for one closed bin."
    );
}

/// The kind of BGP feed a peer's collector names: `speaker` → `bgp-session`,
/// `bmp:<router>` → `bmp`, a RIS collector → `ris-live`.
pub fn feed_kind(collector: &str) -> &'static str {
    if collector == "speaker" {
        "bgp-session"
    } else if collector.starts_with("bmp") {
        "bmp"
    } else {
        "ris-live"
    }
}

/// Counts the BGP feeds' events on their way to the driver, and which
/// peers are up.
#[derive(Default)]
pub struct BgpCounts {
    up: BTreeMap<&'static str, BTreeSet<(String, IpAddr, u32)>>,
}

impl BgpCounts {
    /// Counts one event.
    pub fn count(&mut self, event: &LiveEvent) {
        match event {
            LiveEvent::Routes { peer, changes, .. } => {
                let kind = feed_kind(&peer.collector);
                counter!("vigie_bgp_updates_total", "feed" => kind).increment(1);
                counter!("vigie_bgp_route_changes_total", "feed" => kind)
                    .increment(changes.len() as u64);
                let up = self.up.entry(kind).or_default();
                if up.insert((peer.collector.to_string(), peer.ip, peer.asn)) {
                    gauge!("vigie_bgp_peers_up", "feed" => kind).set(up.len() as f64);
                }
            }
            LiveEvent::PeerDown { peer, .. } => {
                let kind = feed_kind(&peer.collector);
                counter!("vigie_bgp_peer_downs_total", "feed" => kind).increment(1);
                let up = self.up.entry(kind).or_default();
                up.remove(&(peer.collector.to_string(), peer.ip, peer.asn));
                gauge!("vigie_bgp_peers_up", "feed" => kind).set(up.len() as f64);
            }
            LiveEvent::FeedDown { feed, .. } => {
                counter!("vigie_bgp_feed_downs_total", "feed" => feed.to_string()).increment(1);
                gauge!("vigie_bgp_feed_up", "feed" => feed.to_string()).set(0.0);
            }
            LiveEvent::FeedUp { feed, .. } => {
                gauge!("vigie_bgp_feed_up", "feed" => feed.to_string()).set(1.0);
            }
        }
    }
}
