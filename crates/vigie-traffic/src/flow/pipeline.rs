//! Decoder and aggregator together: datagrams in, closed bins out.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use ipnet::IpNet;
use vigie_geo::GeoDb;
use vigie_model::{BinSize, SignalBin, UnixSecs};

use super::aggregate::{AggregateStats, FlowAggregator};
use super::decode::{FlowDecoder, FlowRecord};
use super::health::{DatagramOutcome, ExporterHealth};
use super::limits::{FlowLimits, Limit, LimitStats, Notices};

/// Datagrams from any exporters → per-bin, per-entity flow signals.
#[derive(Debug)]
pub struct FlowPipeline {
    decoder: FlowDecoder,
    aggregator: FlowAggregator,
    scratch: Vec<FlowRecord>,
    notices: Notices,
}

impl FlowPipeline {
    /// A pipeline over `geo`, bins of `bin`, and the operator's `own_prefixes`.
    pub fn new(geo: GeoDb, bin: BinSize, own_prefixes: Vec<IpNet>) -> Self {
        FlowPipeline {
            decoder: FlowDecoder::new(),
            aggregator: FlowAggregator::new(geo, bin, own_prefixes),
            scratch: Vec::new(),
            notices: Notices::default(),
        }
    }

    /// Replaces the decoder (to change its limits or silence it).
    pub fn with_decoder(mut self, decoder: FlowDecoder) -> Self {
        if decoder.is_quiet() {
            self.notices = Notices::quiet();
        }
        self.decoder = decoder;
        self
    }

    /// Applies `limits` ([`FlowLimits`]) to the decoder and the aggregator.
    pub fn with_limits(mut self, limits: FlowLimits) -> Self {
        self.set_limits(limits);
        self
    }

    /// Applies `limits` in place (templates learnt so far are forgotten).
    pub fn set_limits(&mut self, limits: FlowLimits) {
        self.aggregator
            .set_max_link_bits_per_second(limits.max_link_bits_per_second);
        self.decoder.set_limits(limits);
    }

    /// The decoder (templates and exporters kept, limits).
    pub fn decoder(&self) -> &FlowDecoder {
        &self.decoder
    }

    /// Decodes one datagram from `exporter`, received (or captured) at
    /// `at`, and counts its records in the bin of `at`.
    pub fn ingest(
        &mut self,
        exporter: SocketAddr,
        at: UnixSecs,
        datagram: &[u8],
    ) -> DatagramOutcome {
        self.scratch.clear();
        if self.decoder.limits().allows(exporter.ip()) {
            self.aggregator.heard(exporter.ip(), at);
        }
        let outcome = self
            .decoder
            .decode(exporter, at, datagram, &mut self.scratch);
        let implausible = self.aggregator.stats().implausible_records;
        for record in &self.scratch {
            self.aggregator.add_from(exporter.ip(), at, record);
        }
        if self.aggregator.stats().implausible_records > implausible {
            let max = self.aggregator.max_bytes_per_bin();
            self.notices.once(Limit::Implausible, || {
                format!("records that would take an exporter past {max} bytes in a bin are implausible and dropped (from {exporter})")
            });
        }
        outcome
    }

    /// Closes every bin that ends at or before `t`.
    pub fn close_until(&mut self, t: UnixSecs) -> Vec<SignalBin> {
        self.aggregator.close_until(t)
    }

    /// Closes every open bin.
    pub fn close_all(&mut self) -> Vec<SignalBin> {
        self.aggregator.close_all()
    }

    /// Per-exporter health.
    pub fn health(&self) -> &BTreeMap<SocketAddr, ExporterHealth> {
        self.decoder.health()
    }

    /// The summed health of exporter addresses past the health cap.
    pub fn other_exporters(&self) -> &ExporterHealth {
        self.decoder.other_exporters()
    }

    /// What the decoder's limits refused or dropped.
    pub fn limit_stats(&self) -> LimitStats {
        self.decoder.limit_stats()
    }

    /// The log lines the limits wrote: one per limit reached, the first time.
    pub fn limit_notices(&self) -> Vec<String> {
        let mut lines = self.decoder.limit_notices().to_vec();
        lines.extend_from_slice(self.notices.lines());
        lines
    }

    /// The log lines about exporters falling silent (their entities get
    /// gaps, not zeros) or heard again, since the last call.
    pub fn take_feed_notices(&mut self) -> Vec<String> {
        self.aggregator.take_feed_notices()
    }

    /// The exporters silent now, with the start of the first bin they were
    /// not heard in.
    pub fn silent_exporters(&self) -> Vec<(std::net::IpAddr, UnixSecs)> {
        self.aggregator.silent_exporters()
    }

    /// What the aggregator counted and refused.
    pub fn stats(&self) -> AggregateStats {
        self.aggregator.stats()
    }
}
