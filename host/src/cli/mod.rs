//! The `molt` command line: argument definitions and dispatch.

mod bench;
pub mod chaos;
mod dev;
mod module;
mod node;
mod probe;
mod shutdown;
mod statetest;
pub mod telemetry;
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
    /// Export OpenTelemetry traces (HTTP requests, the router, guest calls, their chain
    /// queries) over OTLP/HTTP to this collector (`http://127.0.0.1:4318`). Off by
    /// default.
    #[arg(long = "otlp.endpoint", global = true, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
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

/// Logs go to stderr in `format`; `RUST_LOG` filters them (default: `info`). With an
/// OTLP endpoint, spans are exported too (the node's own at debug level, whatever
/// `RUST_LOG` says); the returned [`telemetry::Telemetry`] flushes them when dropped.
pub fn init_logging(
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<Option<telemetry::Telemetry>> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Text => fmt
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
    };
    let (otel, guard) = match otlp_endpoint {
        Some(endpoint) => {
            let (layer, guard) = telemetry::layer(endpoint)?;
            let spans = tracing_subscriber::filter::Targets::new()
                .with_target("molt", tracing::Level::DEBUG)
                .with_target("molt_host", tracing::Level::DEBUG)
                .with_target("molt_runtime", tracing::Level::DEBUG)
                .with_target("molt_chain", tracing::Level::DEBUG);
            (Some(layer.with_filter(spans)), Some(guard))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init();
    Ok(guard)
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
