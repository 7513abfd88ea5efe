//! A toy source, the worked example of ARCHITECTURE.md's "Adding a
//! source": one file of the `Source` shape. It writes `bins` bins of one
//! constant value for one entity, then ends.

use anyhow::Result;
use serde::Deserialize;
use vigie_model::{BinSink, BinSize, Entity, SeriesKey, SignalBin, SignalKind};
use vigie_pipeline::{Source, SourceContext, Stop};

/// The keys of a `toy` source.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToyConfig {
    /// The entity, such as `KZ`.
    pub entity: String,
    /// The value of every bin.
    pub value: f64,
    /// How many bins, from 2022-01-05T00:00:00Z.
    pub bins: u32,
}

/// The toy source, ready to run.
pub struct ToySource {
    config: ToyConfig,
    entity: Entity,
    bin: BinSize,
}

impl Source for ToySource {
    const KIND: &'static str = "toy";
    type Config = ToyConfig;

    fn build(config: ToyConfig, context: &SourceContext) -> Result<Self> {
        Ok(ToySource {
            entity: config.entity.parse()?,
            config,
            bin: context.bin,
        })
    }

    fn store_source(&self) -> String {
        "toy".into()
    }

    fn run(self, stop: &Stop, sink: &mut dyn BinSink) -> Result<()> {
        let key = SeriesKey {
            entity: self.entity.clone(),
            signal: SignalKind::HttpRequests,
        };
        for i in 0..self.config.bins {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            sink.write(&SignalBin {
                bin: self.bin,
                bin_start: TOY_START + i64::from(i) * i64::from(self.bin.secs()),
                values: vec![(key.clone(), Some(self.config.value))],
            })?;
        }
        Ok(())
    }
}

/// The toy's first bin: 2022-01-05T00:00:00Z.
pub const TOY_START: i64 = 1_641_340_800;
