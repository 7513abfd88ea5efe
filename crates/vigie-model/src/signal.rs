use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Where a signal comes from, which decides how detection treats it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalFamily {
    /// Control plane: what BGP says is routed.
    Bgp,
    /// Active probing: which blocks answer.
    Probing,
    /// Unsolicited traffic reaching a network telescope (darknet).
    Telescope,
    /// Traffic volumes: flows, web requests, third-party traffic indices.
    Traffic,
}

/// One measurement of an entity, one value per time bin.
///
/// Names follow IODA's where IODA has the signal (`bgp`, `ping-slash24`,
/// `merit-nt`, `gtr`), so imported data and vigie's own data line up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SignalKind {
    /// Unique IPv4 /24 blocks visible in BGP (IODA's `bgp`).
    BgpVisibleSlash24s,
    /// Unique IPv6 /48 blocks visible in BGP.
    BgpVisibleSlash48s,
    /// BGP announcements seen in the bin for the entity's prefixes.
    BgpAnnouncements,
    /// BGP withdrawals seen in the bin for the entity's prefixes.
    BgpWithdrawals,
    /// IPv4 /24 blocks that answer active probes (IODA's `ping-slash24`).
    ProbeUpSlash24s,
    /// Unique source addresses seen by a network telescope (IODA's `merit-nt`).
    TelescopeUniqueSources,
    /// Google Transparency Report traffic (IODA's `gtr`), imported.
    GoogleTraffic,
    /// Google traffic normalised by IODA (`gtr-norm`), imported.
    GoogleTrafficNormalised,
    /// Bytes from the entity seen in flow records, corrected for sampling.
    FlowBytesFrom,
    /// Bytes to the entity seen in flow records, corrected for sampling.
    FlowBytesTo,
    /// Packets from the entity seen in flow records, corrected for sampling.
    FlowPacketsFrom,
    /// Packets to the entity seen in flow records, corrected for sampling.
    FlowPacketsTo,
    /// Flows from the entity, corrected for sampling.
    FlowsFrom,
    /// Flows to the entity, corrected for sampling.
    FlowsTo,
    /// HTTP requests from the entity in web access logs.
    HttpRequests,
    /// Unique client /24s from the entity in web access logs.
    HttpUniqueClientSlash24s,
    /// Cities from which Mozilla sees Firefox clients (IODA's `mozilla`,
    /// "Mozilla (City Count)" on its dashboard), imported.
    MozillaCities,
    /// A connectivity index, 100 = normal and 0 = effectively offline, from
    /// probing a region's addresses (Monash IP Observatory), imported.
    ConnectivityIndex,
    /// A latency index, 100 = the recent long-run average latency and higher
    /// = slower (Monash IP Observatory), imported. Context, not a level: its
    /// rise is degradation and its fall is no outage.
    LatencyIndex,
    /// Distinct addresses that answered a ping in the bin (Monash IP
    /// Observatory's raw observations), imported.
    ProbeUpAddresses,
}

impl SignalKind {
    /// Every signal kind, in a stable order.
    pub const ALL: [SignalKind; 20] = [
        SignalKind::BgpVisibleSlash24s,
        SignalKind::BgpVisibleSlash48s,
        SignalKind::BgpAnnouncements,
        SignalKind::BgpWithdrawals,
        SignalKind::ProbeUpSlash24s,
        SignalKind::TelescopeUniqueSources,
        SignalKind::GoogleTraffic,
        SignalKind::GoogleTrafficNormalised,
        SignalKind::FlowBytesFrom,
        SignalKind::FlowBytesTo,
        SignalKind::FlowPacketsFrom,
        SignalKind::FlowPacketsTo,
        SignalKind::FlowsFrom,
        SignalKind::FlowsTo,
        SignalKind::HttpRequests,
        SignalKind::HttpUniqueClientSlash24s,
        SignalKind::MozillaCities,
        SignalKind::ConnectivityIndex,
        SignalKind::LatencyIndex,
        SignalKind::ProbeUpAddresses,
    ];

    /// The stable name used on the command line, in the store and in the API.
    pub fn name(self) -> &'static str {
        match self {
            SignalKind::BgpVisibleSlash24s => "bgp",
            SignalKind::BgpVisibleSlash48s => "bgp-v6",
            SignalKind::BgpAnnouncements => "bgp-announcements",
            SignalKind::BgpWithdrawals => "bgp-withdrawals",
            SignalKind::ProbeUpSlash24s => "ping-slash24",
            SignalKind::TelescopeUniqueSources => "merit-nt",
            SignalKind::GoogleTraffic => "gtr",
            SignalKind::GoogleTrafficNormalised => "gtr-norm",
            SignalKind::FlowBytesFrom => "flow-bytes-from",
            SignalKind::FlowBytesTo => "flow-bytes-to",
            SignalKind::FlowPacketsFrom => "flow-packets-from",
            SignalKind::FlowPacketsTo => "flow-packets-to",
            SignalKind::FlowsFrom => "flows-from",
            SignalKind::FlowsTo => "flows-to",
            SignalKind::HttpRequests => "http-requests",
            SignalKind::HttpUniqueClientSlash24s => "http-client-slash24s",
            SignalKind::MozillaCities => "mozilla",
            SignalKind::ConnectivityIndex => "connectivity-index",
            SignalKind::LatencyIndex => "latency-index",
            SignalKind::ProbeUpAddresses => "ping-addresses",
        }
    }

    /// What one unit of the signal is, for axis labels and reports.
    pub fn unit(self) -> &'static str {
        match self {
            SignalKind::BgpVisibleSlash24s | SignalKind::ProbeUpSlash24s => "/24 blocks",
            SignalKind::HttpUniqueClientSlash24s => "/24 blocks",
            SignalKind::BgpVisibleSlash48s => "/48 blocks",
            SignalKind::BgpAnnouncements => "announcements",
            SignalKind::BgpWithdrawals => "withdrawals",
            SignalKind::TelescopeUniqueSources => "unique source IPs",
            SignalKind::GoogleTraffic | SignalKind::GoogleTrafficNormalised => "index",
            SignalKind::ConnectivityIndex | SignalKind::LatencyIndex => "index",
            SignalKind::MozillaCities => "cities",
            SignalKind::ProbeUpAddresses => "addresses",
            SignalKind::FlowBytesFrom | SignalKind::FlowBytesTo => "bytes",
            SignalKind::FlowPacketsFrom | SignalKind::FlowPacketsTo => "packets",
            SignalKind::FlowsFrom | SignalKind::FlowsTo => "flows",
            SignalKind::HttpRequests => "requests",
        }
    }

    /// The family, which decides detection defaults.
    pub fn family(self) -> SignalFamily {
        match self {
            SignalKind::BgpVisibleSlash24s
            | SignalKind::BgpVisibleSlash48s
            | SignalKind::BgpAnnouncements
            | SignalKind::BgpWithdrawals => SignalFamily::Bgp,
            SignalKind::ProbeUpSlash24s
            | SignalKind::ProbeUpAddresses
            | SignalKind::ConnectivityIndex
            | SignalKind::LatencyIndex => SignalFamily::Probing,
            SignalKind::TelescopeUniqueSources => SignalFamily::Telescope,
            SignalKind::GoogleTraffic
            | SignalKind::GoogleTrafficNormalised
            | SignalKind::FlowBytesFrom
            | SignalKind::FlowBytesTo
            | SignalKind::FlowPacketsFrom
            | SignalKind::FlowPacketsTo
            | SignalKind::FlowsFrom
            | SignalKind::FlowsTo
            | SignalKind::HttpRequests
            | SignalKind::HttpUniqueClientSlash24s
            | SignalKind::MozillaCities => SignalFamily::Traffic,
        }
    }

    /// True for level signals whose fall means lost connectivity; false for
    /// event counts such as announcements, which are context, not health, and
    /// for the latency index, whose fall means faster answers.
    pub fn is_connectivity_level(self) -> bool {
        !matches!(
            self,
            SignalKind::BgpAnnouncements | SignalKind::BgpWithdrawals | SignalKind::LatencyIndex
        )
    }

    fn known_names() -> String {
        SignalKind::ALL
            .iter()
            .map(|kind| kind.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SignalKind {
    type Err = ModelError;
    fn from_str(text: &str) -> Result<Self, ModelError> {
        let wanted = text.trim().to_ascii_lowercase();
        SignalKind::ALL
            .into_iter()
            .find(|kind| kind.name() == wanted)
            .ok_or_else(|| ModelError::BadSignal(text.to_string(), SignalKind::known_names()))
    }
}

impl TryFrom<String> for SignalKind {
    type Error = ModelError;
    fn try_from(text: String) -> Result<Self, ModelError> {
        text.parse()
    }
}

impl From<SignalKind> for String {
    fn from(kind: SignalKind) -> String {
        kind.name().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in SignalKind::ALL {
            assert_eq!(kind.name().parse::<SignalKind>(), Ok(kind));
            assert!(seen.insert(kind.name()));
        }
        assert!("nope".parse::<SignalKind>().is_err());
    }

    #[test]
    fn stored_names_stay_stable() {
        // The store keys series by these names: renaming one orphans data.
        let names: Vec<&str> = SignalKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "bgp",
                "bgp-v6",
                "bgp-announcements",
                "bgp-withdrawals",
                "ping-slash24",
                "merit-nt",
                "gtr",
                "gtr-norm",
                "flow-bytes-from",
                "flow-bytes-to",
                "flow-packets-from",
                "flow-packets-to",
                "flows-from",
                "flows-to",
                "http-requests",
                "http-client-slash24s",
                "mozilla",
                "connectivity-index",
                "latency-index",
                "ping-addresses",
            ]
        );
    }

    #[test]
    fn imported_indices_are_unitless_probing_or_traffic() {
        assert_eq!(SignalKind::ConnectivityIndex.unit(), "index");
        assert_eq!(
            SignalKind::ConnectivityIndex.family(),
            SignalFamily::Probing
        );
        assert!(!SignalKind::LatencyIndex.is_connectivity_level());
        assert_eq!(SignalKind::MozillaCities.family(), SignalFamily::Traffic);
        assert_eq!(SignalKind::ProbeUpAddresses.family(), SignalFamily::Probing);
    }
}
