//! Decoder and aggregator together: datagrams in, closed bins out.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use ipnet::IpNet;
use vigie_geo::GeoDb;
use vigie_model::{BinSize, SignalBin, UnixSecs};

use super::aggregate::{AggregateStats, FlowAggregator};
use super::decode::{FlowDecoder, FlowRecord};
use super::health::{DatagramOutcome, ExporterHealth};

/// Datagrams from any exporters → per-bin, per-entity flow signals.
#[derive(Debug)]
pub struct FlowPipeline {
    decoder: FlowDecoder,
    aggregator: FlowAggregator,
    scratch: Vec<FlowRecord>,
}

impl FlowPipeline {
    /// A pipeline over `geo`, bins of `bin`, and the operator's `own_prefixes`.
    pub fn new(geo: GeoDb, bin: BinSize, own_prefixes: Vec<IpNet>) -> Self {
        FlowPipeline {
            decoder: FlowDecoder::new(),
            aggregator: FlowAggregator::new(geo, bin, own_prefixes),
            scratch: Vec::new(),
        }
    }

    /// Replaces the decoder (to change its limits or silence it).
    pub fn with_decoder(mut self, decoder: FlowDecoder) -> Self {
        self.decoder = decoder;
        self
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
        let outcome = self
            .decoder
            .decode(exporter, at, datagram, &mut self.scratch);
        for record in &self.scratch {
            self.aggregator.add(at, record);
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

    /// What the aggregator counted and refused.
    pub fn stats(&self) -> AggregateStats {
        self.aggregator.stats()
    }
}
