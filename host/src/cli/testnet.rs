//! `molt testnet init | run`: a local network of validators on 127.0.0.1.
//!
//! `init` writes one data directory per node (`node0 … nodeN-1`, then the full
//! nodes), each with its validator key, its `molt.toml` (ports, peers) and the shared
//! `genesis.json`: the ten dev accounts of `molt dev` funded, the first of them the
//! upgrade authority, a module publisher key (`DIR/publisher.key`) named in the
//! genesis, and the validators with equal voting power. Node i listens for peers on
//! `base-port + i`, serves JSON-RPC on `base-port + 1000 + i` and its admin API (module
//! staging, for upgrades) on `base-port + 2000 + i`.
//!
//! `run` does `init` into a temporary directory and starts every node as a child
//! process, prints their RPC URLs, and stops them on Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::U256;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::node::{
    AdminSection, CONFIG_FILE, ConsensusSection, GENESIS_FILE, NodeFile, P2pSection, RPC_FILE,
    RpcSection, VALIDATOR_KEY,
};
use crate::dev_accounts;
use molt_bft::{Genesis, GenesisValidator};
use molt_chain::ChainConfig;
use molt_upgrade_proxy::keys;

#[derive(Debug, Subcommand)]
pub(super) enum TestnetCommand {
    /// Write the data directories of a local network.
    Init(InitArgs),
    /// Init into a temporary directory and run every node as a child process.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub(super) struct Layout {
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Number of full nodes (they sync and serve RPC without voting).
    #[arg(long, default_value_t = 0)]
    full_nodes: usize,
    /// First p2p port; node i listens on base-port + i, serves RPC on
    /// base-port + 1000 + i and the admin API on base-port + 2000 + i.
    #[arg(long, default_value_t = 26000)]
    base_port: u16,
    /// Least time between blocks, ms.
    #[arg(long, default_value_t = 1000)]
    block_time_ms: u64,
    /// Chain id.
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,
    /// One host per node (names or IPv4 addresses, comma-separated), for nodes in
    /// containers or pods: each listens on 0.0.0.0 with the same ports (p2p
    /// base-port, RPC base-port + 1000, admin base-port + 2000) and reaches the
    /// others by these names.
    #[arg(long, value_delimiter = ',')]
    hosts: Vec<String>,
}

#[derive(Debug, Args)]
pub(super) struct InitArgs {
    /// Where to write the nodes' data directories.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    layout: Layout,
}

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    #[command(flatten)]
    layout: Layout,
}

pub(super) fn run(cmd: TestnetCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TestnetCommand::Init(args) => {
            let dirs = init(&args.out, &args.layout)?;
            for dir in dirs {
                println!("{}", dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        TestnetCommand::Run(args) => run_all(&args.layout),
    }
}

/// Writes the network's data directories under `out`; returns them in node order.
fn init(out: &Path, layout: &Layout) -> anyhow::Result<Vec<PathBuf>> {
    if layout.validators == 0 {
        bail!("a network needs at least one validator");
    }
    let nodes = layout.validators + layout.full_nodes;
    if usize::from(layout.base_port) + 2000 + nodes > usize::from(u16::MAX) {
        bail!(
            "--base-port {} leaves no room for {nodes} nodes",
            layout.base_port
        );
    }
    if out.join("node0").exists() {
        bail!("{} already holds a network", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let publisher = keys::generate();
    keys::write_signing_key(&out.join("publisher.key"), &publisher)?;
    let node_keys: Vec<_> = (0..nodes).map(|_| keys::generate()).collect();
    let accounts = dev_accounts::signers(dev_accounts::COUNT)?;
    let balance = U256::from(10_000u64) * U256::from(super::dev::WEI_PER_ETH);
    let dev = ChainConfig::dev();
    let genesis = Genesis {
        chain_id: layout.chain_id,
        spec: dev.spec,
        gas_limit: dev.gas_limit,
        initial_base_fee: dev.initial_base_fee,
        coinbase: dev.coinbase,
        timestamp: molt_chain::clock::now(),
        upgrade_authorities: accounts.iter().take(1).map(|s| s.address()).collect(),
        module_publishers: vec![hex::encode(publisher.verifying_key().as_bytes())],
        alloc: accounts.iter().map(|s| (s.address(), balance)).collect(),
        validators: node_keys[..layout.validators]
            .iter()
            .map(|k| GenesisValidator {
                public_key: hex::encode(k.verifying_key().as_bytes()),
                power: 1,
            })
            .collect(),
    };
    let hosts = Hosts::new(layout, nodes)?;
    let mut dirs = Vec::new();
    for (i, key) in node_keys.iter().enumerate() {
        let dir = out.join(format!("node{i}"));
        std::fs::create_dir_all(dir.join("keys"))?;
        keys::write_signing_key(&dir.join(VALIDATOR_KEY), key)?;
        genesis.write(&dir.join(GENESIS_FILE))?;
        NodeFile {
            moniker: format!("node{i}"),
            validator: i < layout.validators,
            rpc: RpcSection {
                addr: hosts.bind(i, RPC_OFFSET),
            },
            admin: Some(AdminSection {
                addr: hosts.bind(i, ADMIN_OFFSET),
            }),
            p2p: P2pSection {
                listen: hosts.listen(i),
                peers: (0..nodes)
                    .filter(|j| *j != i)
                    .map(|j| hosts.p2p(j))
                    .collect(),
                relay: (0..nodes)
                    .filter(|j| *j != i)
                    .map(|j| hosts.reach(j, RPC_OFFSET))
                    .collect(),
            },
            consensus: ConsensusSection {
                block_time_ms: layout.block_time_ms,
                timeout_propose_ms: 3000,
                timeout_prevote_ms: 1000,
                timeout_precommit_ms: 1000,
            },
        }
        .write(&dir.join(CONFIG_FILE))?;
        dirs.push(dir);
    }
    Ok(dirs)
}

/// Where node i's JSON-RPC port is, from its p2p port.
const RPC_OFFSET: u16 = 1000;
/// Where node i's admin port is, from its p2p port.
const ADMIN_OFFSET: u16 = 2000;

/// Where the nodes of a layout listen and how they reach each other: all on
/// 127.0.0.1 with a port each (node i on `base-port + i`), or, with `--hosts`, each on
/// a host of its own (a container, a pod) listening on 0.0.0.0 with the same ports.
struct Hosts<'a> {
    layout: &'a Layout,
}

impl<'a> Hosts<'a> {
    fn new(layout: &'a Layout, nodes: usize) -> anyhow::Result<Self> {
        if !layout.hosts.is_empty() && layout.hosts.len() != nodes {
            bail!(
                "--hosts names {} hosts for {nodes} nodes",
                layout.hosts.len()
            );
        }
        Ok(Hosts { layout })
    }

    /// Node i's port at `offset` from its p2p port.
    fn port(&self, i: usize, offset: u16) -> u16 {
        let own = if self.layout.hosts.is_empty() {
            i as u16
        } else {
            0
        };
        self.layout.base_port + own + offset
    }

    /// The address node i binds for the port at `offset`.
    fn bind(&self, i: usize, offset: u16) -> std::net::SocketAddr {
        let ip: [u8; 4] = if self.layout.hosts.is_empty() {
            [127, 0, 0, 1]
        } else {
            [0, 0, 0, 0]
        };
        (ip, self.port(i, offset)).into()
    }

    /// Node i's host as its peers reach it.
    fn host(&self, i: usize) -> &str {
        self.layout.hosts.get(i).map_or("127.0.0.1", String::as_str)
    }

    /// `host:port` of node i's port at `offset`, as its peers reach it.
    fn reach(&self, i: usize, offset: u16) -> String {
        format!("{}:{}", self.host(i), self.port(i, offset))
    }

    /// Node i's p2p listen multiaddr.
    fn listen(&self, i: usize) -> String {
        let bind = self.bind(i, 0);
        format!("/ip4/{}/tcp/{}", bind.ip(), bind.port())
    }

    /// Node i's p2p multiaddr as its peers dial it (`/dns4/…` for a host name).
    fn p2p(&self, i: usize) -> String {
        let host = self.host(i);
        let proto = if host.parse::<std::net::Ipv4Addr>().is_ok() {
            "ip4"
        } else {
            "dns4"
        };
        format!("/{proto}/{host}/tcp/{}", self.port(i, 0))
    }
}

/// Child processes, killed when dropped.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run_all(layout: &Layout) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let dirs = init(tmp.path(), layout)?;
    let exe = std::env::current_exe().context("finding the molt binary")?;
    let mut children = Children(Vec::new());
    for dir in &dirs {
        let log = std::fs::File::create(dir.join("node.log"))?;
        children.0.push(
            Command::new(&exe)
                .arg("node")
                .arg("--datadir")
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting {}", exe.display()))?,
        );
    }
    println!(
        "molt testnet: {} validators, {} full nodes in {}",
        layout.validators,
        layout.full_nodes,
        tmp.path().display()
    );
    for (i, dir) in dirs.iter().enumerate() {
        let url = wait_for_rpc(dir, Duration::from_secs(120))?;
        println!("node{i}  {url}  (log: {})", dir.join("node.log").display());
    }
    println!("Ctrl-C stops the network.");
    super::shutdown::listen(Duration::from_secs(60))?.wait();
    drop(children);
    Ok(ExitCode::SUCCESS)
}

/// The RPC URL node `dir` writes once it listens.
fn wait_for_rpc(dir: &Path, timeout: Duration) -> anyhow::Result<String> {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join(RPC_FILE))
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(url) = value["url"].as_str()
        {
            return Ok(url.to_owned());
        }
        if start.elapsed() > timeout {
            bail!(
                "{} did not start within {timeout:?} (see its node.log)",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
