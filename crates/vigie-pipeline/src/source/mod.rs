//! Sources as units: every input of the live service has the same shape, a
//! [`Source`] — a `kind` name, a configuration deserialised from its
//! `[[source]]` table, and a run function that writes closed bins to a
//! [`BinSink`] until the stop signal is raised.
//!
//! Adding a source is one file of that shape and one line in
//! [`Registry::builtin`] (or, for a program of its own, one
//! [`Registry::register`] call). The BGP feeds (`bgp-session`, `bmp`,
//! `ris-live`) are registered the same way but feed the one routing model
//! of the service ([`BgpFeed`]), whose bins are written as `bgp-live`.

mod access_log;
mod bgp;
mod flows;
mod probe;
mod telescope;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use serde::de::DeserializeOwned;
use vigie_geo::GeoDb;
use vigie_model::{BinSink, BinSize};

pub use access_log::{AccessLogConfig, AccessLogSource};
pub use bgp::{
    BgpFeed, BmpFeedConfig, FeedTask, RisLiveFeedConfig, SessionFeedConfig, SessionPeer,
};
pub use flows::{FlowsConfig, FlowsSource};
pub use probe::ProbeSource;
pub use telescope::{TelescopeConfig, TelescopeSource};

/// The stop signal the service raises for every source.
pub type Stop = Arc<AtomicBool>;

/// What every source of the service shares.
#[derive(Clone)]
pub struct SourceContext {
    /// The geo database (embedded, with the configured tables on top).
    pub geo: Arc<GeoDb>,
    /// The service's bin width.
    pub bin: BinSize,
    /// Where a prober logs its blocks' state changes (the store's block
    /// log, on a connection of its own); `None` outside the service.
    pub block_log: Option<Arc<crate::BlockLog>>,
}

/// One kind of input of the live service.
pub trait Source: Send + Sized + 'static {
    /// The `kind` of its `[[source]]` tables, such as `flows`.
    const KIND: &'static str;
    /// The keys of its `[[source]]` table (besides `kind`); unknown keys
    /// should be refused (`#[serde(deny_unknown_fields)]`).
    type Config: DeserializeOwned;

    /// Checks the configuration and makes the source (opening what must
    /// work before the service starts, such as a capture interface).
    fn build(config: Self::Config, context: &SourceContext) -> Result<Self>;

    /// The store's name for its bins, such as `flows`.
    fn store_source(&self) -> String;

    /// Reads its input until `stop` is raised (or the input ends), writing
    /// each closed bin to `sink`.
    fn run(self, stop: &Stop, sink: &mut dyn BinSink) -> Result<()>;
}

/// A built source, whatever its kind.
pub trait RunnableSource: Send {
    /// The store's name for its bins.
    fn store_source(&self) -> String;
    /// Runs it (see [`Source::run`]).
    fn run_boxed(self: Box<Self>, stop: &Stop, sink: &mut dyn BinSink) -> Result<()>;
}

impl<S: Source> RunnableSource for S {
    fn store_source(&self) -> String {
        Source::store_source(self)
    }

    fn run_boxed(self: Box<Self>, stop: &Stop, sink: &mut dyn BinSink) -> Result<()> {
        (*self).run(stop, sink)
    }
}

/// A `[[source]]` table made into what the service runs.
pub enum Unit {
    /// A source writing its own bins (run on a thread of its own).
    Bins(Box<dyn RunnableSource>),
    /// A feed of the service's BGP routing model.
    Bgp(BgpFeed),
}

type Builder = Box<dyn Fn(toml::Table, &SourceContext) -> Result<Unit> + Send + Sync>;

/// The source kinds a service accepts, by `kind`.
pub struct Registry {
    kinds: BTreeMap<&'static str, Builder>,
}

impl Registry {
    /// vigie's own sources.
    pub fn builtin() -> Registry {
        let mut registry = Registry {
            kinds: BTreeMap::new(),
        };
        registry.register_bgp::<SessionFeedConfig>("bgp-session");
        registry.register_bgp::<BmpFeedConfig>("bmp");
        registry.register_bgp::<RisLiveFeedConfig>("ris-live");
        registry.register::<FlowsSource>();
        registry.register::<AccessLogSource>();
        registry.register::<TelescopeSource>();
        registry.register::<ProbeSource>();
        registry
    }

    /// Accepts `[[source]]` tables of `S::KIND`.
    pub fn register<S: Source>(&mut self) {
        self.kinds.insert(
            S::KIND,
            Box::new(|table, context| {
                let config = deserialize::<S::Config>(table)?;
                Ok(Unit::Bins(Box::new(S::build(config, context)?)))
            }),
        );
    }

    /// Accepts `[[source]]` tables of a BGP feed of `kind`.
    fn register_bgp<C: DeserializeOwned + Into<BgpFeed>>(&mut self, kind: &'static str) {
        self.kinds.insert(
            kind,
            Box::new(|table, _| {
                let feed: BgpFeed = deserialize::<C>(table)?.into();
                feed.check()?;
                Ok(Unit::Bgp(feed))
            }),
        );
    }

    /// The accepted kinds, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }

    /// Builds the unit a `[[source]]` table describes (its `kind` says which).
    pub fn build(&self, mut table: toml::Table, context: &SourceContext) -> Result<Unit> {
        let kind = match table.remove("kind") {
            Some(toml::Value::String(kind)) => kind,
            Some(other) => return Err(anyhow!("kind = {other}: a string is needed")),
            None => return Err(anyhow!("no kind: give one of {}", self.kinds().join(", "))),
        };
        let Some(builder) = self.kinds.get(kind.as_str()) else {
            return Err(anyhow!(
                "unknown kind {kind:?}: the accepted kinds are {}",
                self.kinds().join(", ")
            ));
        };
        builder(table, context).map_err(|e| anyhow!("kind = {kind:?}: {e:#}"))
    }
}

/// A `[[source]]` table (without `kind`) as `T`.
fn deserialize<T: DeserializeOwned>(table: toml::Table) -> Result<T> {
    T::deserialize(toml::Value::Table(table)).map_err(|e| anyhow!("{}", e.message()))
}
