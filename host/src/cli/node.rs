//! `molt node`: one node of a validator network, from a data directory that
//! `molt testnet init` (or an operator) prepared:
//!
//! ```text
//! <datadir>/molt.toml            moniker, validator or full node, RPC address, p2p
//!                                listen address and peers, block time and timeouts
//! <datadir>/genesis.json         the network's genesis (the same file on every node)
//! <datadir>/keys/validator.key   the validator's ed25519 key (votes, p2p identity)
//! ```
//!
//! It serves the same JSON-RPC as `molt dev`; blocks are decided by the BFT engine.
//! Once it listens it writes `<datadir>/rpc.json` (`{"url": "http://…"}`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::http::HttpConfig;
use crate::node::{Driver, EngineKind, Node, NodeConfig};
use molt_bft::{Genesis, LinearTimeouts, Multiaddr, NetworkConfig};

/// The node's configuration file in its data directory.
pub(super) const CONFIG_FILE: &str = "molt.toml";
/// The genesis file in a node's data directory.
pub(super) const GENESIS_FILE: &str = "genesis.json";
/// The validator key in a node's data directory.
pub(super) const VALIDATOR_KEY: &str = "keys/validator.key";
/// Where a node writes its RPC URL once it listens.
pub(super) const RPC_FILE: &str = "rpc.json";

#[derive(Debug, Args)]
pub(super) struct NodeArgs {
    /// Data directory with molt.toml, genesis.json and keys/validator.key.
    #[arg(long)]
    datadir: PathBuf,
    /// Run the guests as WebAssembly (default) or natively linked.
    #[arg(long, value_enum, default_value_t = EngineKind::Wasm)]
    engine: EngineKind,
    /// Tests only: propose blocks with a wrong state root, so that the other
    /// validators' defences can be seen at work.
    #[arg(long = "test.bad-proposals", hide = true)]
    bad_proposals: bool,
    /// Also serve the admin API's `GET /metrics` here, without a token
    /// (`0.0.0.0:9001`; port 0: any free port). Off by default.
    #[arg(long = "metrics.addr")]
    metrics_addr: Option<SocketAddr>,
    /// Longest a graceful shutdown (SIGTERM, Ctrl-C) may take; then, or on a second
    /// signal, the process exits at once.
    #[arg(long = "shutdown.timeout", default_value = "20s", value_parser = super::dev::parse_duration)]
    shutdown_timeout: Duration,
    #[command(flatten)]
    grants: super::GrantArgs,
    #[command(flatten)]
    chaos: super::chaos::ChaosArgs,
}

/// `molt.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NodeFile {
    /// The node's name in logs.
    pub moniker: String,
    /// Whether it votes (else a full node: it syncs and serves RPC).
    pub validator: bool,
    /// JSON-RPC.
    pub rpc: RpcSection,
    /// The admin API (module staging and status), if served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<AdminSection>,
    /// The peer-to-peer network.
    pub p2p: P2pSection,
    /// Block pacing and round timeouts.
    pub consensus: ConsensusSection,
}

/// `[rpc]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RpcSection {
    /// Address to serve JSON-RPC on (port 0: any free port; see `rpc.json`).
    pub addr: SocketAddr,
}

/// `[admin]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AdminSection {
    /// Address to serve the admin API on; its bearer token is written to
    /// `<datadir>/admin.token` at every start.
    pub addr: SocketAddr,
}

/// `[p2p]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct P2pSection {
    /// Where to listen for peers, as a multiaddr (`/ip4/127.0.0.1/tcp/26656`).
    pub listen: String,
    /// The peers to keep connections to.
    pub peers: Vec<String>,
    /// The peers' JSON-RPC addresses (`host:port`): transactions this node's clients
    /// submit are relayed to their pools.
    #[serde(default)]
    pub relay: Vec<String>,
}

/// `[consensus]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsensusSection {
    /// Least time from one height's start to the next, ms (0: as fast as decided).
    pub block_time_ms: u64,
    /// How long to wait for a proposal in round 0, ms (+ half of it per round).
    pub timeout_propose_ms: u64,
    /// How long to wait for prevotes, ms.
    pub timeout_prevote_ms: u64,
    /// How long to wait for precommits, ms.
    pub timeout_precommit_ms: u64,
}

impl ConsensusSection {
    fn timeouts(&self) -> LinearTimeouts {
        let ms = Duration::from_millis;
        let propose = ms(self.timeout_propose_ms);
        let prevote = ms(self.timeout_prevote_ms);
        let precommit = ms(self.timeout_precommit_ms);
        LinearTimeouts {
            propose,
            propose_delta: propose / 2,
            prevote,
            prevote_delta: prevote / 2,
            precommit,
            precommit_delta: precommit / 2,
            rebroadcast: propose + prevote + precommit,
            ..LinearTimeouts::default()
        }
    }
}

impl NodeFile {
    pub(super) fn read(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a node configuration", path.display()))
    }

    pub(super) fn write(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, toml::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

fn multiaddr(text: &str) -> anyhow::Result<Multiaddr> {
    text.parse()
        .with_context(|| format!("{text:?} is not a multiaddr (try /ip4/127.0.0.1/tcp/26656)"))
}

/// The node `args.datadir` describes, started.
fn start(args: &NodeArgs) -> anyhow::Result<Node> {
    let datadir = &args.datadir;
    let file = NodeFile::read(&datadir.join(CONFIG_FILE))?;
    let genesis = Genesis::read(&datadir.join(GENESIS_FILE))?;
    let key_path = datadir.join(VALIDATOR_KEY);
    let key = molt_upgrade_proxy::keys::read_signing_key(&key_path)
        .with_context(|| format!("reading the validator key {}", key_path.display()))?;
    let chain = genesis
        .chain_config()
        .map_err(|e| anyhow::anyhow!("{}: {e}", datadir.join(GENESIS_FILE).display()))?;
    let validators = genesis
        .validators()
        .map_err(|e| anyhow::anyhow!("{}: {e}", datadir.join(GENESIS_FILE).display()))?;
    let network = NetworkConfig {
        moniker: file.moniker.clone(),
        key,
        validator: file.validator,
        listen: multiaddr(&file.p2p.listen)?,
        peers: file
            .p2p
            .peers
            .iter()
            .map(|p| multiaddr(p))
            .collect::<anyhow::Result<_>>()?,
        genesis: validators,
        timeouts: file.consensus.timeouts(),
        block_time: (file.consensus.block_time_ms > 0)
            .then(|| Duration::from_millis(file.consensus.block_time_ms)),
        dir: datadir.join("consensus"),
        bad_proposals: args.bad_proposals,
        metrics: Default::default(),
    };
    let admin = match &file.admin {
        Some(section) => Some(super::dev::admin_api(datadir, section.addr)?),
        None => None,
    };
    Node::start(NodeConfig {
        datadir: datadir.to_owned(),
        engine: args.engine,
        http: HttpConfig {
            addr: file.rpc.addr,
            ..HttpConfig::default()
        },
        admin,
        metrics: args.metrics_addr,
        chain,
        driver: Driver::Network {
            network: Box::new(network),
            alloc: genesis.alloc.clone(),
            relay: file.p2p.relay.clone(),
        },
        grants: args.grants.grants(),
        chaos: args.chaos.plan(),
        ..NodeConfig::default()
    })
}

pub(super) fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    let signals = super::shutdown::listen(args.shutdown_timeout)?;
    let node = start(&args)?;
    let url = format!("http://{}", node.rpc_addr());
    let rpc_file = args.datadir.join(RPC_FILE);
    std::fs::write(&rpc_file, serde_json::json!({ "url": url }).to_string())
        .with_context(|| format!("writing {}", rpc_file.display()))?;
    let head = node.chain().head();
    println!(
        "molt v{} — network node {}\nChain ID:  {}\nHead:      block {} ({})\nRPC URL:   {url}",
        env!("CARGO_PKG_VERSION"),
        args.datadir.display(),
        node.chain().config().chain_id,
        head.header.number,
        head.hash,
    );
    if let Some(admin) = node.admin_addr() {
        println!(
            "Admin API: http://{admin} (bearer token in {})",
            args.datadir.join(super::dev::ADMIN_TOKEN_FILE).display()
        );
    }
    if let Some(metrics) = node.metrics_addr() {
        println!("Metrics:   http://{metrics}/metrics");
    }
    println!("Listening on {}", node.rpc_addr());
    signals.wait();
    node.shutdown()?;
    Ok(ExitCode::SUCCESS)
}
