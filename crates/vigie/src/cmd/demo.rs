//! `vigie demo`: maps its flags onto `vigie_pipeline::run_demo` and, with
//! `--serve`, serves the demo's store.

use std::process::ExitCode;

use anyhow::Result;
use vigie_pipeline::{load_scenario, run_demo, scenario_list, DemoOptions};

use crate::cli::DemoArgs;

/// Runs `vigie demo`.
pub fn run(args: DemoArgs) -> Result<ExitCode> {
    if args.list {
        println!("{}", scenario_list());
        return Ok(ExitCode::SUCCESS);
    }
    let demo = run_demo(DemoOptions {
        scenario: load_scenario(args.scenario.as_deref(), args.scenario_file.as_deref())?,
        keep: args.keep.clone(),
        report_dir: args.report_dir.clone(),
    })?;
    if args.serve {
        let listen = args.listen;
        eprintln!("serving the demo's store on http://{listen}/ until Ctrl-C");
        demo.serve(listen)?;
    }
    Ok(ExitCode::SUCCESS)
}
