//! `molt statetest`: Ethereum GeneralStateTests against the execution module.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::builtin;
use crate::node::EngineKind;
use crate::statetest::{self, Options};
use molt_runtime::Executor;
use molt_runtime::{Grants, Runtime, RuntimeConfig};

#[derive(Debug, Args)]
pub(super) struct StatetestArgs {
    /// Test files or directories (searched for `.json` files).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Run the execution module as WebAssembly or natively.
    #[arg(long, value_enum, default_value_t = EngineKind::Wasm)]
    engine: EngineKind,
    /// Only this fork (repeatable), named as in the test files, e.g. `Cancun`.
    #[arg(long = "fork")]
    forks: Vec<String>,
    /// Worker threads (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: StatetestArgs) -> anyhow::Result<ExitCode> {
    let files = statetest::collect_files(&args.paths)?;
    let executor = match args.engine {
        EngineKind::Native => crate::builtin::native_executor(),
        EngineKind::Wasm => {
            let runtime = Runtime::new(RuntimeConfig::default())?;
            let m = builtin::EXECUTION;
            Executor::Wasm(runtime.load(&m.manifest(), &m.wasm(), &Grants::default())?)
        }
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let started = std::time::Instant::now();
    let report = statetest::run(
        &executor,
        &files,
        &Options {
            forks: args.forks,
            jobs,
        },
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
        println!(
            "{} files, engine {:?}, {:.1} s",
            files.len(),
            args.engine,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if report.total().failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
