//! Mapping other observatories' signal names onto vigie's [`SignalKind`].

use vigie_model::SignalKind;

/// Maps an IODA datasource name (or a vigie signal name) to a signal kind.
///
/// IODA API v2 datasources: `bgp` (visible /24s), `ping-slash24` (/24s up),
/// `merit-nt` and `ucsd-nt` (telescope unique source IPs), `gtr` and
/// `gtr-norm` (Google Transparency Report traffic). Datasources with no vigie
/// equivalent (`ping-slash24-loss`, `ping-slash24-latency`, `gtr-sarima`,
/// `upstream-delay-*`, ...) return `None`. vigie's own signal names
/// (`mozilla`, `connectivity-index`...) map onto themselves.
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

/// What a column of an IODA dashboard export holds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum ColumnKind {
    /// The time of the row.
    Time,
    /// IODA's labelled exports' 0/1 outage column.
    Label,
    /// A signal; `true` when the header says the values are normalised.
    Signal(SignalKind, bool),
    /// A datasource vigie knows but does not import, with why.
    Ignored(String),
    /// Not a column vigie knows.
    Unknown,
}

/// Classifies a dashboard column header: the API names (`bgp`, `gtr-norm`,
/// `ping-slash24`...) and the human names IODA's dashboard download uses
/// (`Time (UTC)`, `BGP (#Visible /24s)`, `Active Probing (#/24s Up)`,
/// `Telescope (# Unique Source IPs)`, `Merit-NT`, `UCSD-NT`, `Google
/// (Search)` and the other Google products, `Mozilla (City Count)`), with
/// `(normalized)`, `%` or `_norm` marking normalised values.
pub(crate) fn classify_column(header: &str) -> ColumnKind {
    let header = header.trim().trim_start_matches('\u{feff}').trim();
    if is_time_column(header) {
        return ColumnKind::Time;
    }
    if is_label_column(header) {
        return ColumnKind::Label;
    }
    // `gtr-norm` is its own signal in IODA, not a normalised `gtr`.
    if let Some(kind) = signal_from_name(header) {
        return ColumnKind::Signal(kind, false);
    }
    let lower = header.to_lowercase();
    let (stem, normalised) = strip_normalised(&lower);
    let (base, detail) = match stem.split_once('(') {
        Some((base, rest)) => (base.trim(), rest.trim_end_matches(')').trim()),
        None => (stem.trim(), ""),
    };
    // IODA's API names Google products `gtr.WEB_SEARCH`, `gtr.MAPS`...
    let (base, detail) = match base.split_once('.') {
        Some(("gtr", product)) => ("google", product),
        _ => (base, detail),
    };
    let signal = |kind| ColumnKind::Signal(kind, normalised);
    match base {
        "google" | "gtr" | "google transparency report" => {
            let product = detail.replace(['_', '-'], " ");
            if product.is_empty() || product.contains("search") {
                signal(SignalKind::GoogleTraffic)
            } else {
                ColumnKind::Ignored(format!(
                    "Google product '{detail}': vigie keeps Google Search as gtr"
                ))
            }
        }
        "telescope" | "network telescope" | "darknet" | "merit-nt" | "merit nt" | "ucsd-nt"
        | "ucsd nt" => signal(SignalKind::TelescopeUniqueSources),
        "bgp" if detail.contains("/48") => signal(SignalKind::BgpVisibleSlash48s),
        "bgp" => signal(SignalKind::BgpVisibleSlash24s),
        "active probing" | "active-probing" | "probing" | "ping-slash24" => {
            signal(SignalKind::ProbeUpSlash24s)
        }
        "mozilla" => signal(SignalKind::MozillaCities),
        other => match signal_from_name(other) {
            Some(kind) => signal(kind),
            None => ColumnKind::Unknown,
        },
    }
}

/// Removes the markers of normalised values from a lower-case header.
fn strip_normalised(lower: &str) -> (String, bool) {
    let mut stem = lower.to_string();
    let mut normalised = false;
    for marker in [
        "(normalized)",
        "(normalised)",
        "(%)",
        "_normalized",
        "_normalised",
        "-normalized",
        "-normalised",
        " normalized",
        " normalised",
        "%",
    ] {
        if stem.contains(marker) {
            stem = stem.replace(marker, " ");
            normalised = true;
        }
    }
    if let Some(bare) = stem.trim_end().strip_suffix("_norm") {
        stem = bare.to_string();
        normalised = true;
    }
    (stem.trim().to_string(), normalised)
}

/// Reads a dashboard column header as a signal, noting whether the header says
/// the values are normalised (`bgp (normalized)`, `bgp_norm`,
/// `BGP (#Visible /24s) %`...). Understands IODA's API names and its
/// dashboard's human names (`Active Probing (#/24s Up)`, `Google (Search)`,
/// `Mozilla (City Count)`...).
///
/// `gtr-norm` is its own signal in IODA, not a normalised `gtr`.
pub fn signal_from_column(header: &str) -> Option<(SignalKind, bool)> {
    match classify_column(header) {
        ColumnKind::Signal(kind, normalised) => Some((kind, normalised)),
        _ => None,
    }
}

/// The time column names [`is_time_column`] accepts, for error messages.
pub(crate) const TIME_COLUMN_NAMES: &str =
    "'Time (UTC)', 'timestamp' (Unix seconds), 'datetime', 'time', 'date'";

/// True for column headers that hold the time of the row (`timestamp`,
/// `datetime`, IODA's dashboard `Time (UTC)`...).
pub fn is_time_column(header: &str) -> bool {
    let lower = header.trim().to_ascii_lowercase();
    let bare = lower
        .strip_suffix("(utc)")
        .or_else(|| lower.strip_suffix("_utc"))
        .or_else(|| lower.strip_suffix(" utc"))
        .unwrap_or(&lower)
        .trim();
    matches!(
        bare,
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

    #[test]
    fn dashboard_human_names_are_recognised() {
        for (header, kind) in [
            ("Google (Search)", SignalKind::GoogleTraffic),
            (
                "Telescope (# Unique Source IPs)",
                SignalKind::TelescopeUniqueSources,
            ),
            ("Merit-NT", SignalKind::TelescopeUniqueSources),
            (
                "UCSD-NT (# Unique Source IPs)",
                SignalKind::TelescopeUniqueSources,
            ),
            ("BGP (#Visible /24s)", SignalKind::BgpVisibleSlash24s),
            ("Active Probing (#/24s Up)", SignalKind::ProbeUpSlash24s),
            ("Mozilla (City Count)", SignalKind::MozillaCities),
            ("gtr.WEB_SEARCH", SignalKind::GoogleTraffic),
        ] {
            assert_eq!(signal_from_column(header), Some((kind, false)), "{header}");
        }
        for header in [
            "BGP (#Visible /24s) (normalized)",
            "Active Probing (%)",
            "Mozilla (City Count) %",
            "Telescope (normalised)",
        ] {
            assert!(
                matches!(signal_from_column(header), Some((_, true))),
                "{header}"
            );
        }
        assert!(matches!(
            classify_column("Google (Maps)"),
            ColumnKind::Ignored(_)
        ));
        assert!(matches!(
            classify_column("gtr.YOUTUBE"),
            ColumnKind::Ignored(_)
        ));
        assert_eq!(classify_column("Time (UTC)"), ColumnKind::Time);
        assert_eq!(classify_column("\u{feff}timestamp"), ColumnKind::Time);
        assert_eq!(classify_column("Weather (mm)"), ColumnKind::Unknown);
        assert_eq!(classify_column(""), ColumnKind::Unknown);
        assert_eq!(classify_column("("), ColumnKind::Unknown);
    }
}
