//! `kind = "access-log"`: one followed web-server log (nginx/Apache
//! combined or common format) → HTTP requests and unique client /24s.

use std::path::PathBuf;

use anyhow::Result;
use serde::Deserialize;
use vigie_geo::GeoDb;
use vigie_model::BinSink;

use super::{Source, SourceContext, Stop};
use crate::{read_access_logs, AccessLogInput, AccessLogOptions};

/// The keys of an `access-log` source.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    /// The log file; followed across rotation like `tail -F`.
    pub path: PathBuf,
    /// The store's name for its bins (one per website).
    #[serde(default = "default_source")]
    pub source: String,
    /// Read the file from its start instead of its end.
    #[serde(default)]
    pub from_start: bool,
    /// Seconds a bin stays open for late lines after it ends.
    #[serde(default = "default_grace")]
    pub grace_secs: i64,
}

fn default_source() -> String {
    AccessLogOptions::default().source
}

fn default_grace() -> i64 {
    AccessLogOptions::default().grace_secs
}

/// A followed access log ready to run.
pub struct AccessLogSource {
    config: AccessLogConfig,
    options: AccessLogOptions,
    geo: GeoDb,
}

impl Source for AccessLogSource {
    const KIND: &'static str = "access-log";
    type Config = AccessLogConfig;

    fn build(config: AccessLogConfig, context: &SourceContext) -> Result<Self> {
        let options = AccessLogOptions {
            bin: context.bin,
            grace_secs: config.grace_secs,
            source: config.source.clone(),
        };
        options.check()?;
        Ok(AccessLogSource {
            config,
            options,
            geo: GeoDb::clone(&context.geo),
        })
    }

    fn store_source(&self) -> String {
        self.config.source.clone()
    }

    fn run(self, stop: &Stop, sink: &mut dyn BinSink) -> Result<()> {
        let path = &self.config.path;
        eprintln!(
            "vigie serve: following {} as source {}",
            path.display(),
            self.config.source
        );
        let input = AccessLogInput::Follow {
            path,
            from_start: self.config.from_start,
            stop,
        };
        let stats = read_access_logs(input, &self.options, self.geo, sink)?;
        if stats.bad_lines > 0 {
            eprintln!(
                "vigie serve: {}: {} bad lines skipped (is it the combined or common log format?)",
                path.display(),
                stats.bad_lines
            );
        }
        Ok(())
    }
}
