//! `molt bench`: WASM-vs-native measurements.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::bench;
use crate::builtin;
use molt_runtime::Executor;
use molt_runtime::{Grants, Runtime, RuntimeConfig};

#[derive(Debug, Subcommand)]
pub(super) enum BenchCommand {
    /// The execution module on ERC-20 transfers, a compute-heavy contract and contract
    /// deployments, as WebAssembly and natively.
    Execution(ExecutionArgs),
    /// JSON-RPC load: transfer throughput and read latency of `molt dev` (both
    /// engines) and of anvil, in the same run.
    Rpc(RpcArgs),
    /// Transfer throughput and time per block as the state grows (storage slots and
    /// accounts), of `molt dev` and of anvil, in the same run.
    State(StateArgs),
    /// Validator networks of several sizes on loopback against `molt dev`: finalised
    /// blocks/s, transfers/s, submit-to-receipt latency.
    Network(NetworkArgs),
    /// Hot swaps of the rpc slot: activation latency, call p99 across swaps vs steady
    /// state, and the gate's cost.
    Swap(SwapArgs),
}

#[derive(Debug, Args)]
pub(super) struct SwapArgs {
    /// Client calls per phase (steady, swapping).
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// Timed swaps for the activation latency.
    #[arg(long, default_value_t = 1_000)]
    swaps: usize,
}

#[derive(Debug, Args)]
pub(super) struct NetworkArgs {
    /// Network sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,7")]
    validators: Vec<usize>,
    /// Concurrent clients, each sending from its own dev account (1-10); client i
    /// sends to node i mod n.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Transfers per client.
    #[arg(long, default_value_t = 200)]
    txs: u64,
    /// The networks' least time between blocks, ms.
    #[arg(long, default_value_t = 100)]
    block_time_ms: u64,
    /// Engine for the guests: wasm or native.
    #[arg(long, default_value = "wasm")]
    engine: String,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct RpcArgs {
    /// Concurrent clients, each sending from its own dev account (1-9).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Transfers per client.
    #[arg(long, default_value_t = 250)]
    txs: u64,
    /// `eth_getBalance` and `eth_call` requests per client.
    #[arg(long, default_value_t = 500)]
    reads: usize,
    /// The anvil binary (`npm ci` in host/tests/e2e installs it there).
    #[arg(long, default_value_os_t = bench::rpc::default_anvil())]
    anvil: PathBuf,
    /// Measure molt only.
    #[arg(long)]
    no_anvil: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct StateArgs {
    /// Storage slots to fill (in one contract).
    #[arg(long, default_value_t = 1_000_000)]
    slots: u64,
    /// Accounts to create.
    #[arg(long, default_value_t = 100_000)]
    accounts: u64,
    /// Fill steps; throughput is measured before the first and after each.
    #[arg(long, default_value_t = 4)]
    steps: u64,
    /// Concurrent transfer clients (1-8).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Transfers per client per measurement (shorter measurements are noisy: a
    /// measurement should span tens of blocks).
    #[arg(long, default_value_t = 2500)]
    txs: u64,
    /// The molt engine to measure.
    #[arg(long, value_enum, default_value_t = crate::node::EngineKind::Wasm)]
    engine: crate::node::EngineKind,
    /// The anvil binary (`npm ci` in host/tests/e2e installs it there).
    #[arg(long, default_value_os_t = bench::rpc::default_anvil())]
    anvil: PathBuf,
    /// Measure molt only.
    #[arg(long)]
    no_anvil: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct ExecutionArgs {
    /// Rounds per workload and engine (the median is reported).
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Only the workloads whose name contains this (repeatable): `erc20`,
    /// `snailtracer`, `loopExp`, `vmPerformance` for the three state tests.
    #[arg(long)]
    only: Vec<String>,
    /// Run the WebAssembly module without fuel, to measure what metering costs (no
    /// node runs this way: fuel is what bounds a module's own code deterministically).
    #[arg(long)]
    no_fuel: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub(super) fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    let (args, name) = match cmd {
        BenchCommand::Execution(args) => (args, "execution"),
        BenchCommand::Rpc(args) => return rpc(args),
        BenchCommand::State(args) => return state(args),
        BenchCommand::Network(args) => return network(args),
        BenchCommand::Swap(args) => {
            warn_if_debug("swap");
            let f = bench::swap::run(args.calls, args.swaps)?;
            println!(
                "activation (activate -> first call on the new version): p50 {:.1} us, max {:.1} us over {} swaps",
                f.activation_p50_us, f.activation_max_us, f.swaps
            );
            println!(
                "eth_blockNumber, 2 clients, {} calls: steady p50 {:.0} us p99 {:.0} us; swapping every 2 ms p50 {:.0} us p99 {:.0} us ({:.2}x)",
                f.calls,
                f.steady_p50_us,
                f.steady_p99_us,
                f.swapping_p50_us,
                f.swapping_p99_us,
                f.swapping_p99_us / f.steady_p99_us
            );
            println!(
                "gate on an idle node (fixed requests on active + candidate, 50 ms listening for live ones): {:.2} ms",
                f.gate_ms
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    warn_if_debug(name);
    let runtime = Runtime::new(RuntimeConfig {
        fuel: !args.no_fuel,
        ..RuntimeConfig::default()
    })?;
    let m = builtin::EXECUTION;
    let wasm = Executor::Wasm(runtime.load(&m.manifest(), &m.wasm(), &Grants::default())?);
    let mut workloads = bench::workloads::standard();
    workloads.push(bench::workloads::tracer(32, 32));
    workloads.push(bench::workloads::memory_growth(2048));
    workloads.extend(bench::workloads::vm_performance().map_err(anyhow::Error::msg)?);
    let state_tests = ["loopMul", "loopExp", "performanceTester"];
    workloads.retain(|w| {
        args.only.is_empty()
            || args.only.iter().any(|o| {
                w.name.contains(o.as_str())
                    || (o == "vmPerformance" && state_tests.iter().any(|t| w.name.starts_with(t)))
            })
    });
    let rows = bench::execution(&wasm, &workloads, args.rounds)?;
    print!("{}", bench::table(&rows));
    println!(
        "median of {} alternating rounds; time x and mem x are WASM / native; heap x leaves \
         out the guest's initial memory (shadow stack, static data)",
        args.rounds
    );
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&rows)?)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn warn_if_debug(bench: &str) {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this molt was built without optimisations; for figures worth quoting run\n  \
             cargo run --release -p molt-host -- bench {bench}"
        );
    }
}

fn network(args: NetworkArgs) -> anyhow::Result<ExitCode> {
    let config = bench::network::Config {
        sizes: args.validators.clone(),
        workers: args.workers,
        txs_per_worker: args.txs,
        block_time_ms: args.block_time_ms,
        engine: args.engine.clone(),
    };
    eprintln!(
        "{} clients x {} transfers; networks of {:?} validators (block time {} ms) against molt dev, engine {}",
        config.workers, config.txs_per_worker, config.sizes, config.block_time_ms, config.engine
    );
    let mut rows = vec![bench::network::measure(None, &config)?];
    for n in &config.sizes {
        rows.push(bench::network::measure(Some(*n), &config)?);
    }
    print!("{}", bench::network::table(&rows));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn state(args: StateArgs) -> anyhow::Result<ExitCode> {
    warn_if_debug("state");
    let engine = format!("{:?}", args.engine).to_lowercase();
    let mut targets = vec![molt_target(&engine)?];
    if !args.no_anvil {
        targets.push(anvil_target(&args.anvil));
    }
    let config = bench::state::Config {
        workers: args.workers,
        txs_per_worker: args.txs,
        slots: args.slots,
        accounts: args.accounts,
        steps: args.steps,
    };
    let mut rows = Vec::new();
    for t in &targets {
        eprintln!("measuring {} ...", t.name);
        rows.push(bench::state::measure(t, &config)?);
    }
    report(&bench::state::table(&rows), &rows, args.json)
}

fn rpc(args: RpcArgs) -> anyhow::Result<ExitCode> {
    warn_if_debug("rpc");
    let mut targets = Vec::new();
    if !args.no_anvil {
        targets.push(anvil_target(&args.anvil));
    }
    for engine in ["wasm", "native"] {
        targets.push(molt_target(engine)?);
    }
    let config = bench::rpc::Config {
        workers: args.workers,
        txs_per_worker: args.txs,
        reads_per_worker: args.reads,
    };
    let mut rows = Vec::new();
    for t in &targets {
        eprintln!("measuring {} ...", t.name);
        rows.push(bench::rpc::measure(t, &config)?);
    }
    report(&bench::rpc::table(&rows), &rows, args.json)
}

/// `molt dev` on a fresh temporary chain with `engine`, this binary.
fn molt_target(engine: &str) -> anyhow::Result<bench::rpc::Target> {
    let molt = std::env::current_exe()?.display().to_string();
    Ok(bench::rpc::Target {
        name: format!("molt {engine}"),
        command: [
            &molt,
            "dev",
            "--ephemeral",
            "--http.port",
            "{port}",
            "--engine",
            engine,
        ]
        .map(String::from)
        .to_vec(),
    })
}

/// anvil (the binary at `path`).
fn anvil_target(path: &std::path::Path) -> bench::rpc::Target {
    bench::rpc::Target {
        name: "anvil".into(),
        command: vec![
            path.display().to_string(),
            "--port".into(),
            "{port}".into(),
            "--silent".into(),
        ],
    }
}

/// Prints a bench's `table` and writes its `rows` as JSON to `json`, if given.
fn report<R: serde::Serialize>(
    table: &str,
    rows: &[R],
    json: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    print!("{table}");
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(rows)?)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
