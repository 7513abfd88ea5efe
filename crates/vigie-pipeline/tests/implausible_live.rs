//! Issue 14, finding 1, for live sources: a source of `vigie serve` whose
//! clock (an exporter's, a peer's) goes wrong writes nothing dated before
//! 1990 or more than an hour past the clock; the store and every added
//! sink see only the plausible bins.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use serde::Deserialize;
use vigie_model::{
    clock_now, BinSink, BinSize, SeriesKey, SignalBin, SignalKind, SinkError, TimeWindow,
};
use vigie_pipeline::{Registry, Service, ServiceConfig, Source, SourceContext, Stop};
use vigie_store::Store;

/// Bins at 2022-01-05, then 2100-01-01, then 1970, then an hour and a half
/// past the clock.
struct WrongClock {
    bin: BinSize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrongClockConfig {}

const GOOD: i64 = 1_641_340_800;

impl Source for WrongClock {
    const KIND: &'static str = "wrong-clock";
    type Config = WrongClockConfig;

    fn build(_config: WrongClockConfig, context: &SourceContext) -> Result<Self> {
        Ok(WrongClock { bin: context.bin })
    }

    fn store_source(&self) -> String {
        "wrong-clock".into()
    }

    fn run(self, _stop: &Stop, sink: &mut dyn BinSink) -> Result<()> {
        let key = SeriesKey {
            entity: "KZ".parse()?,
            signal: SignalKind::HttpRequests,
        };
        let soon = self.bin.floor(clock_now() + 5_400);
        for bin_start in [GOOD, 4_102_444_800, 300, soon] {
            let bin = SignalBin {
                bin: self.bin,
                bin_start,
                values: vec![(key.clone(), Some(1.0))],
            };
            sink.write_provisional(&bin)?;
            sink.write(&bin)?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Seen(Vec<i64>);

impl BinSink for Seen {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.0.push(bin.bin_start);
        Ok(())
    }
}

#[test]
fn a_live_source_with_a_wrong_clock_stores_only_plausible_bins() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::builtin();
    registry.register::<WrongClock>();
    let config = ServiceConfig::parse("[[source]]\nkind = \"wrong-clock\"\n").unwrap();
    let mut service = Service::new(config, registry);
    let seen = Arc::new(Mutex::new(Seen::default()));
    service.add_sink(seen.clone());
    let stop = Arc::new(AtomicBool::new(false));
    service
        .run(
            Store::open(dir.path()).unwrap(),
            Some(Duration::from_secs(60)),
            stop,
        )
        .unwrap();
    assert_eq!(seen.lock().unwrap().0, [GOOD]);
    let store = Store::open(dir.path()).unwrap();
    let check = store.check(TimeWindow::live_now()).unwrap();
    assert!(check.is_clean(), "{check:?}");
    let info = store.list_series().unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(
        (info[0].first_bin, info[0].last_bin),
        (Some(GOOD), Some(GOOD))
    );
}
