//! Runs the `vigie` binary the way a user does and reads its CSV output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use vigie_model::{format_utc, parse_utc};

/// One vigie data directory, ingested and queried through the CLI.
pub struct Vigie {
    exe: PathBuf,
    data_dir: PathBuf,
    bin_secs: Option<u32>,
}

impl Vigie {
    /// A data directory at `data_dir`; `bin_secs` overrides the 300 s bins.
    pub fn new(exe: &Path, data_dir: PathBuf, bin_secs: Option<u32>) -> Vigie {
        Vigie {
            exe: exe.to_path_buf(),
            data_dir,
            bin_secs,
        }
    }

    fn run(&self, args: &[String]) -> Result<String, String> {
        let mut command = Command::new(&self.exe);
        command.arg("--data-dir").arg(&self.data_dir).args(args);
        let shown = format!(
            "vigie --data-dir {} {}",
            self.data_dir.display(),
            args.join(" ")
        );
        let output = command
            .output()
            .map_err(|e| format!("cannot run {shown}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "`{shown}` failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `vigie ingest mrt <paths…> [extra…]` with every peer full-feed
    /// (thresholds 0: the lab's peers carry a handful of prefixes, not a
    /// full table).
    pub fn ingest(&self, paths: &[PathBuf], extra: &[&str]) -> Result<(), String> {
        let mut args: Vec<String> = vec!["ingest".into(), "mrt".into()];
        args.extend(paths.iter().map(|p| p.display().to_string()));
        args.extend(
            [
                "--full-feed-v4",
                "0",
                "--full-feed-v6",
                "0",
                "--no-progress",
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|arg| arg.to_string()));
        if let Some(secs) = self.bin_secs {
            args.extend(["--bin-secs".to_string(), secs.to_string()]);
        }
        self.run(&args).map(drop)
    }

    /// `vigie series <entity> --signal <signal> --from … --until … --format csv`:
    /// each bin's start time with its value (`None`: no data).
    pub fn series(
        &self,
        entity: &str,
        signal: &str,
        from: i64,
        until: i64,
    ) -> Result<BTreeMap<i64, Option<f64>>, String> {
        let mut args: Vec<String> = vec![
            "series".into(),
            entity.into(),
            "--signal".into(),
            signal.into(),
            "--from".into(),
            format_utc(from),
            "--until".into(),
            format_utc(until),
            "--format".into(),
            "csv".into(),
        ];
        if let Some(secs) = self.bin_secs {
            args.extend(["--bin-secs".to_string(), secs.to_string()]);
        }
        let text = self.run(&args)?;
        parse_series_csv(&text, entity, signal)
    }
}

/// Parses `time,entity,signal,value` rows (with that header) for one series.
pub fn parse_series_csv(
    text: &str,
    entity: &str,
    signal: &str,
) -> Result<BTreeMap<i64, Option<f64>>, String> {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let header = lines.next().ok_or("vigie printed no CSV header")?;
    if header.trim() != "time,entity,signal,value" {
        return Err(format!("unexpected CSV header '{header}'"));
    }
    let mut points = BTreeMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [time, row_entity, row_signal, value] = fields[..] else {
            return Err(format!("CSV row '{line}' has not 4 fields"));
        };
        if !row_entity.eq_ignore_ascii_case(entity) || row_signal != signal {
            return Err(format!("CSV row '{line}' is not {entity} {signal}"));
        }
        let time = parse_utc(time).map_err(|e| format!("CSV row '{line}': {e}"))?;
        let value = if value.is_empty() {
            None
        } else {
            Some(
                value
                    .parse::<f64>()
                    .map_err(|_| format!("CSV row '{line}': bad value"))?,
            )
        };
        points.insert(time, value);
    }
    Ok(points)
}
