//! `molt dev`: a persistent dev node, the way `anvil` or `geth --dev` starts one.
//!
//! Prints the funded dev accounts and their keys, the chain id, the modules it runs
//! and the RPC URL, then serves until Ctrl-C or SIGTERM. The last line printed before
//! serving is `Listening on ADDR`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use alloy_primitives::U256;
use clap::Args;

use crate::dev_accounts;
use crate::http::HttpConfig;
use crate::node::{Driver, EngineKind, Node, NodeConfig};
use molt_chain::{CallLimits, ChainConfig};

#[derive(Debug, Args)]
pub(super) struct DevArgs {
    /// Data directory: database, node key, signed modules, compiled-module cache.
    #[arg(long, default_value_os_t = super::default_datadir())]
    datadir: PathBuf,
    /// Use a temporary data directory, removed on exit.
    #[arg(long)]
    ephemeral: bool,
    /// Run the guests as WebAssembly (default) or natively linked.
    #[arg(long, value_enum, default_value_t = EngineKind::Wasm)]
    engine: EngineKind,
    /// Seconds between blocks; 0 (default) seals a block as soon as a transaction
    /// arrives.
    #[arg(long, default_value_t = 0)]
    block_time: u64,
    /// Address to serve JSON-RPC on.
    #[arg(long = "http.addr", default_value = "127.0.0.1")]
    http_addr: IpAddr,
    /// Port to serve JSON-RPC on (0: any free port).
    #[arg(long = "http.port", default_value_t = 8545)]
    http_port: u16,
    /// `Access-Control-Allow-Origin` for browsers ("*" allows every origin).
    #[arg(long = "http.corsdomain", default_value = "*")]
    cors: String,
    /// Send no CORS headers.
    #[arg(long = "no-cors")]
    no_cors: bool,
    /// Chain id of a new chain.
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,
    /// Number of dev accounts to fund and unlock.
    #[arg(long, default_value_t = dev_accounts::COUNT)]
    accounts: u32,
    /// Balance of each dev account at genesis, in ether.
    #[arg(long, default_value_t = 10_000)]
    balance: u64,
    /// Serve the admin API (module deploy, status, rollback) on this port; off by
    /// default. Its bearer token is written to `<datadir>/admin.token`.
    #[arg(long = "admin.port")]
    admin_port: Option<u16>,
    /// Address for the admin API.
    #[arg(long = "admin.addr", default_value = "127.0.0.1")]
    admin_addr: IpAddr,
    /// Also serve the admin API's `GET /metrics` here, without a token
    /// (`0.0.0.0:9001`; port 0: any free port). Off by default.
    #[arg(long = "metrics.addr")]
    metrics_addr: Option<SocketAddr>,
    /// An address allowed to schedule execution and consensus upgrades on a new chain
    /// (repeatable; default: the first dev account). Written into the upgrade
    /// contract at genesis.
    #[arg(long = "upgrade.authority")]
    upgrade_authority: Vec<alloy_primitives::Address>,
    /// An ed25519 public key (hex, or a `.pub` file) execution and consensus modules
    /// may be signed with,
    /// for a new chain (repeatable; default: the node's key). Written into the upgrade
    /// contract at genesis; every node of the chain trusts the same publishers.
    #[arg(long = "module.publisher", value_parser = parse_key)]
    module_publisher: Vec<[u8; 32]>,
    /// The gate refuses a candidate whose p99 is over this many times the active
    /// version's (for latencies above 50 ms), besides the +200 ms rule.
    #[arg(long = "gate.p99-ratio", default_value_t = 2.0)]
    gate_p99_ratio: f64,
    /// Refuse a candidate whose peak memory is over this many times the active
    /// version's (off by default: a candidate is held to its own manifest budget).
    #[arg(long = "gate.memory-ratio")]
    gate_memory_ratio: Option<f64>,
    /// Most gas `eth_call` and `eth_estimateGas` may use (0: no cap but the block's).
    #[arg(long = "rpc.gascap", default_value_t = 50_000_000)]
    rpc_gascap: u64,
    /// Longest `eth_call` and `eth_estimateGas` may run ("5s", "500ms"; 0: no limit).
    #[arg(long = "rpc.evmtimeout", default_value = "5s", value_parser = parse_duration)]
    rpc_evmtimeout: std::time::Duration,
    /// Keep the state of the last N blocks only, for queries at past blocks,
    /// `eth_getProof` and `evm_revert` (default: every block, as anvil keeps it).
    #[arg(long, value_name = "N")]
    history: Option<u64>,
    /// Longest a graceful shutdown (SIGTERM, Ctrl-C) may take: in-flight requests,
    /// the block being built, the database flush. Then, or on a second signal, the
    /// process exits at once.
    #[arg(long = "shutdown.timeout", default_value = "20s", value_parser = parse_duration)]
    shutdown_timeout: std::time::Duration,
    #[command(flatten)]
    grants: super::GrantArgs,
    #[command(flatten)]
    chaos: super::chaos::ChaosArgs,
}

/// A duration as geth writes it: `5s`, `500ms`, `1m`, or plain seconds.
pub(super) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 5s or 500ms)"))?;
    let seconds = match unit {
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s or m)")),
    };
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| format!("{s:?}: {e}"))
}

/// An ed25519 public key: hex, or the path of a `.pub` file.
fn parse_key(s: &str) -> Result<[u8; 32], String> {
    molt_upgrade_proxy::keys::parse_verifying_key(s)
        .map(|k| k.to_bytes())
        .map_err(|e| e.to_string())
}

pub(super) const WEI_PER_ETH: u128 = 1_000_000_000_000_000_000;

/// Where `molt dev` writes the admin API's token, in the data directory.
pub(super) const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Writes a secret readable by the owner only.
fn write_secret(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(secret.as_bytes())
}

/// The admin API on `addr`, with a new bearer token written to
/// `<datadir>/admin.token`.
pub(super) fn admin_api(datadir: &std::path::Path, addr: SocketAddr) -> anyhow::Result<HttpConfig> {
    std::fs::create_dir_all(datadir)?;
    let token = hex::encode(molt_upgrade_proxy::keys::generate().to_bytes());
    write_secret(&datadir.join(ADMIN_TOKEN_FILE), &token)?;
    Ok(HttpConfig {
        addr,
        max_body: 64 << 20,
        cors_origin: None,
        bearer_token: Some(token),
    })
}

pub(super) fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    let tmp;
    let datadir = if args.ephemeral {
        tmp = tempfile::tempdir()?;
        tmp.path().to_path_buf()
    } else {
        args.datadir.clone()
    };
    if args.gate_p99_ratio.is_nan() || args.gate_p99_ratio < 1.0 {
        anyhow::bail!("--gate.p99-ratio must be at least 1");
    }
    if args
        .gate_memory_ratio
        .is_some_and(|r| r.is_nan() || r < 1.0)
    {
        anyhow::bail!("--gate.memory-ratio must be at least 1");
    }
    let chain = ChainConfig {
        chain_id: args.chain_id,
        upgrade_authorities: args.upgrade_authority.clone(),
        module_publishers: args.module_publisher.clone(),
        ..ChainConfig::dev()
    };
    let balance = U256::from(args.balance) * U256::from(WEI_PER_ETH);
    let admin = match args.admin_port {
        Some(port) => Some(admin_api(&datadir, SocketAddr::new(args.admin_addr, port))?),
        None => None,
    };
    let signals = super::shutdown::listen(args.shutdown_timeout)?;
    let node = Node::start(NodeConfig {
        datadir: datadir.clone(),
        engine: args.engine,
        block_time: args.block_time,
        http: HttpConfig {
            addr: SocketAddr::new(args.http_addr, args.http_port),
            cors_origin: (!args.no_cors).then(|| args.cors.clone()),
            ..HttpConfig::default()
        },
        chain: chain.clone(),
        accounts: args.accounts,
        balance,
        admin,
        metrics: args.metrics_addr,
        budget: molt_upgrade_proxy::budget::Budget {
            p99_ratio: args.gate_p99_ratio,
            memory_ratio: args.gate_memory_ratio,
            ..Default::default()
        },
        call_limits: CallLimits {
            gas_cap: args.rpc_gascap,
            timeout: (!args.rpc_evmtimeout.is_zero()).then_some(args.rpc_evmtimeout),
        },
        history: args.history,
        grants: args.grants.grants(),
        driver: Driver::Dev,
        chaos: args.chaos.plan(),
    })?;
    banner(&node, &args, &datadir)?;
    signals.wait();
    println!("\nShutting down (a second Ctrl-C exits at once)");
    node.shutdown()?;
    println!("Stopped; every committed block is on disk.");
    Ok(ExitCode::SUCCESS)
}

fn banner(node: &Node, args: &DevArgs, datadir: &std::path::Path) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let head = node.chain().head();
    writeln!(out, "molt v{} — dev node\n", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "Available Accounts\n==================")?;
    for (i, s) in node.accounts().iter().enumerate() {
        let balance = molt_storage::state::StateView::account(node.chain().db(), &s.address())?
            .map(|a| a.balance)
            .unwrap_or_default();
        writeln!(out, "({i}) {} ({} ETH)", s.address(), ether(balance))?;
    }
    writeln!(out, "\nPrivate Keys\n==================")?;
    for (i, key) in dev_accounts::secrets(args.accounts)?.iter().enumerate() {
        writeln!(out, "({i}) {key}")?;
    }
    writeln!(
        out,
        "\nWallet\n==================\nMnemonic:          {}\nDerivation path:   m/44'/60'/0'/0/",
        dev_accounts::MNEMONIC
    )?;
    writeln!(
        out,
        "\nChain ID\n==================\n{}",
        node.chain().config().chain_id
    )?;
    writeln!(
        out,
        "\nGas Limit\n==================\n{}",
        node.chain().config().gas_limit
    )?;
    writeln!(
        out,
        "\nModules (signed with the node key)\n=================="
    )?;
    for m in node.modules() {
        writeln!(out, "{} {} sha256:{}", m.name, m.version, &m.digest[..16])?;
    }
    let engine = match args.engine {
        EngineKind::Wasm => "wasm",
        EngineKind::Native => "native",
    };
    let mining = match args.block_time {
        0 => "a block per arrival of transactions".to_string(),
        n => format!("a block every {n} s"),
    };
    writeln!(out, "\nEngine:    {engine}\nMining:    {mining}")?;
    let authorities: std::collections::BTreeSet<String> = node
        .accounts()
        .iter()
        .map(|s| s.address())
        .chain(args.upgrade_authority.iter().copied())
        .filter(|a| node.chain().is_upgrade_authority(a).unwrap_or(false))
        .map(|a| a.to_string())
        .collect();
    writeln!(
        out,
        "Upgrades:  contract {}, authority {}",
        molt_chain::upgrades::UPGRADE_ADDRESS,
        match authorities.is_empty() {
            true => "not a dev account".to_string(),
            false => Vec::from_iter(authorities).join(", "),
        }
    )?;
    let data = if args.ephemeral {
        format!("{} (ephemeral)", datadir.display())
    } else {
        datadir.display().to_string()
    };
    let chain_state = if node.resumed() {
        format!("resumed at block {} ({})", head.header.number, head.hash)
    } else {
        format!("new chain, genesis {}", head.hash)
    };
    writeln!(out, "Data dir:  {data}, {chain_state}")?;
    writeln!(out, "RPC URL:   http://{}", node.rpc_addr())?;
    if let Some(admin) = node.admin_addr() {
        writeln!(
            out,
            "Admin API: http://{admin} (bearer token in {})",
            datadir.join(ADMIN_TOKEN_FILE).display()
        )?;
    }
    if let Some(metrics) = node.metrics_addr() {
        writeln!(out, "Metrics:   http://{metrics}/metrics")?;
    }
    writeln!(out)?;
    writeln!(out, "Listening on {}", node.rpc_addr())?;
    out.flush()?;
    Ok(())
}

/// `balance` wei in ether with 18 decimals, as anvil prints it.
fn ether(balance: U256) -> String {
    let unit = U256::from(WEI_PER_ETH);
    format!("{}.{:018}", balance / unit, balance % unit)
}
