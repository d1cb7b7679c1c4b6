//! `molt bench`: WASM-vs-native measurements.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::bench;
use crate::builtin;
use crate::execution::Executor;
use crate::runtime::{Grants, Runtime, RuntimeConfig};

#[derive(Debug, Subcommand)]
pub(super) enum BenchCommand {
    /// The execution module on ERC-20 transfers, a compute-heavy contract and contract
    /// deployments, as WebAssembly and natively.
    Execution(ExecutionArgs),
}

#[derive(Debug, Args)]
pub(super) struct ExecutionArgs {
    /// Rounds per workload and engine (the median is reported).
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub(super) fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    let BenchCommand::Execution(args) = cmd;
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this molt was built without optimisations; for figures worth quoting run\n  \
             cargo run --release -p molt-host -- bench execution"
        );
    }
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let m = builtin::EXECUTION;
    let wasm = Executor::Wasm(runtime.load(&m.manifest(), m.wasm, &Grants::default())?);
    let rows = bench::execution(&wasm, &bench::workloads::standard(), args.rounds)?;
    print!("{}", bench::table(&rows));
    println!(
        "median of {} alternating rounds; time x and mem x are WASM / native",
        args.rounds
    );
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&rows)?)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
