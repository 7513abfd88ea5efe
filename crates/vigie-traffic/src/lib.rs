//! Traffic signals: what an operator's own traffic says about each
//! country, AS and region, bin by bin.
//!
//! Three inputs, three signal families, one shape of output: every
//! aggregator hands back `vigie_model::SignalBin`s (all series of one UTC
//! bin), completed by `vigie_model::ZeroFill` so an entity that had a value
//! and falls silent reads 0, never "no data"; the readers and collectors
//! write them to a `vigie_model::BinSink` (the store, in vigie).
//!
//! | input | modules | signals |
//! |---|---|---|
//! | NetFlow v5/v9, IPFIX, sFlow v5 datagrams | [`flow::decode`] → [`flow::aggregate`], joined in [`flow::pipeline`]; live UDP in [`flow::collector`] | `flow-bytes-from/to`, `flow-packets-from/to`, `flows-from/to`, corrected for sampling |
//! | nginx/Apache access logs | [`access_log`] (files, `.gz`, stdin, `tail -F`-style follow) | `http-requests`, `http-client-slash24s` |
//! | darknet packet captures, or a live darknet interface | [`capture`] (pcap/pcapng files) or `live_capture` (AF_PACKET, Linux) → [`telescope`] | `merit-nt` (unique source IPs) |
//!
//! **Flows.** [`flow::decode::FlowDecoder`] keeps templates per exporter and
//! observation domain in `netflow_parser`'s scoped parser, learns sampling
//! rates from records, options data and headers, and counts every problem
//! per exporter in [`flow::health::ExporterHealth`] (decode errors, template
//! misses, absurd sampling rates, records without addresses), warning
//! through [`ratelog`] so a flood of bad packets cannot flood the log.
//! Datagrams holding only data sets of known templates take
//! [`flow::fastpath`], which reads the six fields vigie needs straight from
//! the bytes (and is checked equal to the parser). sFlow samples are parsed
//! with `sflow-parser` and their sampled headers with `etherparse`.
//! [`flow::aggregate::FlowAggregator`] counts each record for the far end:
//! with the operator's own prefixes configured, "from X" means sources in X
//! and "to X" destinations in X outside those prefixes.
//!
//! **Bins.** [`bins`] holds what the aggregators share: per-unit counts
//! (an IPv4 /24 or IPv6 /48, as `vigie-geo` counts) merged into entities at
//! bin close, bins kept open until the caller closes them, and late input
//! refused and counted.
//!
//! **Stopping.** [`signal::stop_on_signals`] turns Ctrl-C and SIGTERM into
//! a flag the collector and the log follower check, so open bins are
//! written before exit.

#![warn(missing_docs)]

pub mod access_log;
pub mod bins;
pub mod capture;
pub mod flow;
#[cfg(target_os = "linux")]
pub mod live_capture;
pub mod ratelog;
pub mod signal;
pub mod telescope;
