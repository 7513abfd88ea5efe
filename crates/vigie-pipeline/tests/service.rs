//! The live service's configuration and sources: the shipped example
//! configuration is valid, mistakes are named, and a source added through
//! the `Source` shape alone (tests/support/toy_source.rs, one registration
//! line) has its bins in the store and in every added sink.

#[path = "support/toy_source.rs"]
mod toy_source;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vigie_model::{
    BinSink, BinSize, Entity, SeriesKey, SignalBin, SignalKind, SinkError, TimeRange,
};
use vigie_pipeline::{Registry, Service, ServiceConfig, SourceContext, Unit};
use vigie_store::Store;

use toy_source::{ToySource, TOY_START};

fn context() -> SourceContext {
    SourceContext {
        geo: Arc::new(vigie_geo::GeoDb::embedded()),
        bin: BinSize::default(),
        block_log: None,
    }
}

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/vigie.example.toml")
}

#[test]
fn the_example_configuration_is_valid() {
    let config = ServiceConfig::load(&example()).unwrap();
    assert_eq!(config.bin.secs(), 300);
    assert_eq!(config.api.as_ref().unwrap().token_env, "VIGIE_API_TOKEN");
    let smtp = config.alerts.smtp.as_ref().unwrap();
    assert_eq!(smtp.password_env.as_deref(), Some("VIGIE_SMTP_PASSWORD"));
    assert!(config.detect.enabled);
    assert_eq!(config.detect.checkpoint_secs, 300);
    assert_eq!(
        config.detect.vigie_config(),
        vigie_detect::VigieConfig::default()
    );
    let units = config.units(&Registry::builtin(), &context()).unwrap();
    let bgp = units.iter().filter(|u| matches!(u, Unit::Bgp(_))).count();
    let bins: Vec<String> = units
        .iter()
        .filter_map(|u| match u {
            Unit::Bins(source) => Some(source.store_source()),
            Unit::Bgp(_) => None,
        })
        .collect();
    assert_eq!(bgp, 3);
    assert_eq!(bins, ["flows", "www.example.org"]);
}

#[test]
fn mistakes_name_what_is_accepted() {
    let error = |text: &str| {
        let config = ServiceConfig::parse(text)?;
        config.units(&Registry::builtin(), &context()).map(|_| ())
    };
    let message = format!(
        "{:#}",
        error("[[source]]\nkind = \"netflow\"\n").unwrap_err()
    );
    assert!(
        message.contains("unknown kind \"netflow\"")
            && message.contains("access-log, bgp-session, bmp, flows, probe, ris-live, telescope"),
        "{message}"
    );
    let message = format!(
        "{:#}",
        error("[[source]]\nkind = \"bmp\"\nlisten = \"127.0.0.1:1\"\nport = 2\n").unwrap_err()
    );
    assert!(
        message.contains("[[source]] number 1")
            && message.contains("unknown field `port`, expected `listen`"),
        "{message}"
    );
    let message = format!("{:#}", error("data_dir = \"x\"\n").unwrap_err());
    assert!(
        message.contains("unknown field `data_dir`") && message.contains("`store`"),
        "{message}"
    );
    let message = format!("{:#}", error("bin_secs = 7\n").unwrap_err());
    assert!(message.contains("7"), "{message}");
}

/// Counts what it is given (a second sink beside the store, as a live
/// detector would be).
#[derive(Default)]
struct Counted(usize);

impl BinSink for Counted {
    fn write(&mut self, _bin: &SignalBin) -> Result<(), SinkError> {
        self.0 += 1;
        Ok(())
    }
}

#[test]
fn a_toy_source_added_through_the_source_shape_reaches_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::builtin();
    registry.register::<ToySource>();
    let config =
        ServiceConfig::parse("[[source]]\nkind = \"toy\"\nentity = \"KZ\"\nvalue = 7\nbins = 3\n")
            .unwrap();
    let mut service = Service::new(config, registry);
    let counted = Arc::new(Mutex::new(Counted::default()));
    service.add_sink(counted.clone());
    let store = Store::open(dir.path()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // The toy ends after its bins, which ends the service.
    service
        .run(store, Some(Duration::from_secs(60)), stop)
        .unwrap();
    assert_eq!(counted.lock().unwrap().0, 3);
    let store = Store::open(dir.path()).unwrap();
    let key = SeriesKey {
        entity: "KZ".parse::<Entity>().unwrap(),
        signal: SignalKind::HttpRequests,
    };
    let series = store
        .read_series(
            &key,
            BinSize::default(),
            TimeRange::new(TOY_START, TOY_START + 900).unwrap(),
        )
        .unwrap();
    assert_eq!(series.values, vec![Some(7.0); 3]);
}
