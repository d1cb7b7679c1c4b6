//! The `molt` command line: argument definitions and dispatch.

mod bench;
mod dev;
mod module;
mod node;
mod probe;
mod shutdown;
mod statetest;
mod testnet;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// molt: a blockchain node whose logic upgrades without a restart.
#[derive(Debug, Parser)]
#[command(name = "molt", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as text for people or as one JSON object per line for collectors
    /// (with the slot, module and version of the guest call a line comes from).
    #[arg(long = "log.format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written (`--log.format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`, and `span`
    /// with the guest call's `slot`, `module`, `version`.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a dev node: chain in a data directory, JSON-RPC on 127.0.0.1:8545.
    Dev(dev::DevArgs),
    /// Start one node of a validator network from its data directory.
    Node(node::NodeArgs),
    /// Write or run a local network of validators.
    #[command(subcommand)]
    Testnet(testnet::TestnetCommand),
    /// Create, sign, verify, inspect and call module packages.
    #[command(subcommand)]
    Module(module::ModuleCommand),
    /// Run Ethereum GeneralStateTests against the execution module.
    Statetest(statetest::StatetestArgs),
    /// Measure guest modules as WebAssembly against their native twins.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// GET a probe (`http://127.0.0.1:8545/readyz`); exit 0 on a 2xx answer: the
    /// health check of an image with no shell.
    Probe(probe::ProbeArgs),
    /// Re-execute a stopped node's chain with the modules in force at each height and
    /// check every block against what is stored.
    Verify(verify::VerifyArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Node(args) => node::run(args),
        Command::Testnet(cmd) => testnet::run(cmd),
        Command::Module(cmd) => module::run(cmd),
        Command::Statetest(args) => statetest::run(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Verify(args) => verify::run(args),
        Command::Probe(args) => probe::run(args),
    }
}

/// Logs go to stderr in `format`; `RUST_LOG` filters them (default: `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// The default data directory.
fn default_datadir() -> PathBuf {
    PathBuf::from(".molt")
}

/// What modules that ask for capabilities get (`molt dev`, `molt node`; abi/ABI.md
/// section 6). Nothing unless granted.
#[derive(Debug, Default, Args)]
pub(super) struct GrantArgs {
    /// Forward the stdout and stderr of modules whose manifest asks for `stdio` into
    /// the node log.
    #[arg(long = "module.stdio")]
    stdio: bool,
    /// Give each module whose manifest asks for `preopen-dir` the directory
    /// DIR/<module name> as /data (created if missing).
    #[arg(long = "module.dir", value_name = "DIR")]
    dir: Option<PathBuf>,
}

impl GrantArgs {
    fn grants(&self) -> crate::node::ModuleGrants {
        crate::node::ModuleGrants {
            stdio: self.stdio,
            dir: self.dir.clone(),
        }
    }
}
