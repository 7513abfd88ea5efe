//! Mapping other observatories' signal names onto vigie's [`SignalKind`].

use vigie_model::SignalKind;

/// Maps an IODA datasource name (or a vigie signal name) to a signal kind.
///
/// IODA API v2 datasources: `bgp` (visible /24s), `ping-slash24` (/24s up),
/// `merit-nt` and `ucsd-nt` (telescope unique source IPs), `gtr` and
/// `gtr-norm` (Google Transparency Report traffic). Datasources with no vigie
/// equivalent (`ping-slash24-loss`, `ping-slash24-latency`, `gtr-sarima`,
/// `upstream-delay-*`, `mozilla`, ...) return `None`.
pub fn signal_from_name(name: &str) -> Option<SignalKind> {
    let cleaned = name.trim().to_ascii_lowercase();
    match cleaned.as_str() {
        "bgp" | "bgp-visible-slash24" | "visible-slash24" => Some(SignalKind::BgpVisibleSlash24s),
        "ping-slash24" | "active-probing" | "probing" => Some(SignalKind::ProbeUpSlash24s),
        "merit-nt" | "ucsd-nt" | "telescope" | "darknet" => {
            Some(SignalKind::TelescopeUniqueSources)
        }
        "gtr" => Some(SignalKind::GoogleTraffic),
        "gtr-norm" | "gtr-normalized" | "gtr-normalised" => {
            Some(SignalKind::GoogleTrafficNormalised)
        }
        other => other.parse::<SignalKind>().ok(),
    }
}

/// Reads a dashboard column header as a signal, noting whether the header says
/// the values are normalised (`bgp (normalized)`, `bgp_norm`...).
///
/// `gtr-norm` is its own signal in IODA, not a normalised `gtr`.
pub fn signal_from_column(header: &str) -> Option<(SignalKind, bool)> {
    if let Some(kind) = signal_from_name(header) {
        return Some((kind, false));
    }
    let lower = header.trim().to_ascii_lowercase();
    for suffix in [
        "(normalized)",
        "(normalised)",
        "_normalized",
        "_normalised",
        "-normalized",
        "-normalised",
        " normalized",
        " normalised",
        "_norm",
    ] {
        if let Some(stem) = lower.strip_suffix(suffix) {
            if let Some(kind) = signal_from_name(stem.trim_end()) {
                return Some((kind, true));
            }
        }
    }
    None
}

/// True for column headers that hold the time of the row.
pub fn is_time_column(header: &str) -> bool {
    matches!(
        header.trim().to_ascii_lowercase().as_str(),
        "timestamp" | "time" | "datetime" | "date" | "ts" | "unix" | "epoch"
    )
}

/// True for the label column of IODA's labelled exports (`LABEL`).
pub fn is_label_column(header: &str) -> bool {
    matches!(
        header.trim().to_ascii_lowercase().as_str(),
        "label" | "labels" | "outage"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioda_names_map_onto_vigie_signals() {
        assert_eq!(
            signal_from_name("bgp"),
            Some(SignalKind::BgpVisibleSlash24s)
        );
        assert_eq!(
            signal_from_name("ping-slash24"),
            Some(SignalKind::ProbeUpSlash24s)
        );
        assert_eq!(
            signal_from_name("merit-nt"),
            Some(SignalKind::TelescopeUniqueSources)
        );
        assert_eq!(
            signal_from_name("UCSD-NT"),
            Some(SignalKind::TelescopeUniqueSources)
        );
        assert_eq!(signal_from_name("gtr"), Some(SignalKind::GoogleTraffic));
        assert_eq!(
            signal_from_name("gtr-norm"),
            Some(SignalKind::GoogleTrafficNormalised)
        );
        assert_eq!(
            signal_from_name("bgp-v6"),
            Some(SignalKind::BgpVisibleSlash48s)
        );
        assert_eq!(signal_from_name("ping-slash24-latency"), None);
        assert_eq!(signal_from_name("gtr-sarima"), None);
    }

    #[test]
    fn normalised_columns_are_recognised() {
        assert_eq!(
            signal_from_column("bgp (normalized)"),
            Some((SignalKind::BgpVisibleSlash24s, true))
        );
        assert_eq!(
            signal_from_column("gtr-norm"),
            Some((SignalKind::GoogleTrafficNormalised, false))
        );
        assert_eq!(signal_from_column("DATETIME"), None);
        assert!(is_time_column("DATETIME"));
        assert!(is_label_column("LABEL"));
    }
}
