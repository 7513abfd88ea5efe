//! MRT archives (RouteViews, RIPE RIS, any BGP daemon's dumps) as a source of
//! routing events: file discovery and ordering, decompression, record
//! decoding with `bgpkit-parser`, and the ingest loop.

mod archive;
mod ingest;
mod reader;
mod records;

pub use archive::{discover, time_in_name, update_gaps, CollectorFiles, FileKind, MrtFile};
pub use ingest::{ingest_mrt, FileReport, IngestObserver, IngestOptions, IngestSummary};
pub use reader::{open_mrt, ByteCounter, Compression, CountingReader, OpenedMrt, StreamDamage};
pub use records::{
    origin_asn, update_events, DecodeIssue, PeerStateEvent, RecordClass, RecordDecoder,
    RouteAction, RouteEvent,
};
