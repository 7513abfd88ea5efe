//! What each datagram and each exporter gave, and what went wrong with them.

use vigie_model::UnixSecs;

/// What one datagram gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatagramOutcome {
    /// Records appended to the output.
    pub records: u64,
    /// Whether the datagram (or part of it) could not be decoded.
    pub decode_error: bool,
    /// Data sets skipped because their template is not known yet.
    pub template_misses: u64,
    /// Records dropped because their sampling rate was absurd.
    pub bad_sampling_rate: u64,
    /// Records without an IPv4/IPv6 source and destination (layer-2 only, options…).
    pub records_without_addresses: u64,
}

/// Counters of one exporter since the collector started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExporterHealth {
    /// When the first datagram arrived.
    pub first_packet_at: Option<UnixSecs>,
    /// When the latest datagram arrived.
    pub last_packet_at: Option<UnixSecs>,
    /// Datagrams received.
    pub datagrams: u64,
    /// Flow records (or sFlow samples) decoded and used.
    pub records: u64,
    /// Datagrams that could not be decoded, wholly or partly (garbage,
    /// truncated, unknown version).
    pub decode_errors: u64,
    /// Data sets that arrived before their template and were skipped.
    pub template_misses: u64,
    /// Records dropped for an absurd sampling rate.
    pub bad_sampling_rates: u64,
    /// Records skipped for lack of IP source and destination addresses.
    pub records_without_addresses: u64,
    /// The latest decode error, for the operator.
    pub last_error: Option<String>,
}

impl ExporterHealth {
    pub(crate) fn record(&mut self, at: UnixSecs, outcome: &DatagramOutcome) {
        self.first_packet_at.get_or_insert(at);
        self.last_packet_at = Some(self.last_packet_at.map_or(at, |t| t.max(at)));
        self.datagrams += 1;
        self.records += outcome.records;
        self.decode_errors += u64::from(outcome.decode_error);
        self.template_misses += outcome.template_misses;
        self.bad_sampling_rates += outcome.bad_sampling_rate;
        self.records_without_addresses += outcome.records_without_addresses;
    }
}
