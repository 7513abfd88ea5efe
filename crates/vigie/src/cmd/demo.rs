//! `vigie demo`: maps its flags onto `vigie_pipeline::run_demo` and, with
//! `--serve`, serves the demo's store with `vigie_pipeline::Service`.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use vigie_pipeline::{run_demo, ApiSettings, DemoOptions, Registry, Service, ServiceConfig};
use vigie_scenario::{builtin, Scenario};
use vigie_store::Store;

use crate::cli::DemoArgs;

/// Reads the scenario the arguments name.
fn scenario_of(args: &DemoArgs) -> Result<Scenario> {
    if let Some(path) = &args.scenario_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the scenario file {}", path.display()))?;
        return Ok(Scenario::parse(&text, &path.display().to_string())?);
    }
    let name = args.scenario.as_deref().unwrap_or("kazakhstan-2022");
    Ok(builtin::load(name)?)
}

/// Runs `vigie demo`.
pub fn run(args: DemoArgs) -> Result<ExitCode> {
    if args.list {
        println!("Built-in scenarios (vigie demo NAME):");
        for (name, description, _) in builtin::BUILTIN {
            println!("  {name:<18} {description}");
        }
        println!("Or describe your own world and events in TOML: vigie demo --scenario-file FILE");
        return Ok(ExitCode::SUCCESS);
    }
    let demo = run_demo(DemoOptions {
        scenario: scenario_of(&args)?,
        keep: args.keep.clone(),
        report_dir: args.report_dir.clone(),
    })?;
    if args.serve {
        eprintln!(
            "serving the demo's store on http://{}/ until Ctrl-C",
            args.listen
        );
        let config = ServiceConfig {
            api: Some(ApiSettings::on(args.listen)),
            ..ServiceConfig::default()
        };
        let store = Store::open(&demo.data_dir)?;
        Service::new(config, Registry::builtin()).run(
            store,
            &demo.data_dir,
            None,
            Arc::new(AtomicBool::new(false)),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
