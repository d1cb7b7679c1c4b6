//! A running node: database, chain, block producer, the `rpc` module behind the HTTP
//! endpoint — what `molt dev` starts.
//!
//! [`Node::start`] wires the pieces the other modules own: it signs the built-in
//! guests with the node's dev key and loads them through the verifier like any
//! deployed module, opens (or creates) the chain in the data directory, starts the
//! producer thread and serves JSON-RPC. Dropping the [`Node`] stops it; every block it
//! committed is on disk.
//!
//! ```text
//!  HTTP ─▶ rpc::RpcModule ─▶ rpc slot (router lease) ─▶ rpc module ─▶ molt_chain::queries
//!                 └─▶ shadow sample            watch: promote / roll back a canary
//!  admin API ─▶ admin::Admin ─▶ pipeline (receive → verify → compile → gate → migrate
//!                 │              → keep → activate | canary | announce), gate (rpc
//!                 │              shadow runs, execution and consensus replays)
//!                 └─▶ Ledger: the audit entry and the counters of every operation
//!  staging::Staging: the chain's ModuleStore (staged packages under `<datadir>/modules`)
//! ```

pub mod admin;
pub mod gate;
pub mod health;
pub mod pipeline;
pub mod pubsub;
pub mod relay;
pub mod rpc;
pub mod staging;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy_primitives::U256;
use anyhow::Context;
use ed25519_dalek::SigningKey;
use molt_upgrade_proxy::audit::{Audit, AuditError, AuditStore};
use molt_upgrade_proxy::keys;
use molt_upgrade_proxy::metrics::Metrics;
use molt_upgrade_proxy::package::{self, Package, Verifier};
use molt_upgrade_proxy::pipeline::Ledger;
use molt_upgrade_proxy::registry::SlotFiles;
use molt_upgrade_proxy::router::{Version, VersionInfo};
use molt_upgrade_proxy::shadow::Sample;

use crate::builtin::{self, Builtin};
use crate::http::{HttpConfig, Server};
use admin::Builtins;
use molt_chain::clock;
use molt_chain::producer::Producer;
use molt_chain::queries::Queries;
use molt_chain::signer::Signer;
use molt_chain::{CallLimits, Chain, ChainConfig, Modules};
use molt_runtime::services::ChainService;
use molt_runtime::{
    Consensus, Engine, Executor, Grants, LoadedModule, RpcEngine, Runtime, RuntimeConfig,
};
use molt_storage::Db;
use rpc::RpcModule;

/// Which engine runs the guests (also the `--engine` flag's values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// The signed WebAssembly modules, in wasmtime.
    Wasm,
    /// The guest crates linked into the host (their native twins).
    Native,
}

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Data directory: database, keys, signed modules, compiled-module cache.
    pub datadir: PathBuf,
    /// Engine for every guest.
    pub engine: EngineKind,
    /// Seconds between blocks; 0 seals a block as soon as transactions are pending.
    pub block_time: u64,
    /// The JSON-RPC endpoint.
    pub http: HttpConfig,
    /// Chain parameters (used when the data directory holds no chain yet).
    pub chain: ChainConfig,
    /// How many dev accounts to fund and unlock.
    pub accounts: u32,
    /// Balance of each dev account at genesis, wei.
    pub balance: U256,
    /// The admin API, if enabled (its `bearer_token` should be set).
    pub admin: Option<HttpConfig>,
    /// Where to serve the admin API's `GET /metrics` alone, without a token.
    pub metrics: Option<SocketAddr>,
    /// The upgrade gate's red lines.
    pub budget: molt_upgrade_proxy::budget::Budget,
    /// Gas cap and timeout of `eth_call` and `eth_estimateGas`.
    pub call_limits: CallLimits,
    /// Keep the state of the last this many blocks only (`None`: of every block, as an
    /// archive node and anvil do).
    pub history: Option<u64>,
    /// Who decides blocks: the node alone (`molt dev`) or a validator network
    /// (`molt node`).
    pub driver: Driver,
    /// What modules that ask for capabilities get.
    pub grants: ModuleGrants,
    /// Faults to inject (`--chaos.*`; none by default).
    pub chaos: ChaosPlan,
}

/// Faults a node injects from its start (`--chaos.*`): into its modules' calls, and
/// into a block's commit.
#[derive(Clone, Debug, Default)]
pub struct ChaosPlan {
    /// Faults by slot.
    pub faults: molt_runtime::chaos::Faults,
    /// The rates' seed.
    pub seed: u64,
    /// A commit fault.
    pub commit: Option<molt_chain::CommitFault>,
}

/// Who decides the node's blocks.
#[derive(Clone, Debug)]
pub enum Driver {
    /// The node seals its own blocks (`molt dev`): at once or every `block_time`
    /// seconds.
    Dev,
    /// The BFT engine, with the other validators of a network; the genesis gives the
    /// chain's parameters and funded accounts.
    Network {
        /// How to join.
        network: Box<molt_bft::NetworkConfig>,
        /// The funded accounts of the genesis.
        alloc: Vec<(alloy_primitives::Address, U256)>,
        /// The peers' JSON-RPC addresses, to relay client transactions to.
        relay: Vec<String>,
    },
}

impl Default for NodeConfig {
    /// `molt dev`'s defaults: `.molt`, WebAssembly, instant sealing, 127.0.0.1:8545,
    /// anvil's chain and accounts with 10 000 ETH each, no admin API.
    fn default() -> Self {
        NodeConfig {
            datadir: PathBuf::from(".molt"),
            engine: EngineKind::Wasm,
            block_time: 0,
            http: HttpConfig::default(),
            chain: ChainConfig::dev(),
            accounts: crate::dev_accounts::COUNT,
            balance: U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18)),
            admin: None,
            metrics: None,
            budget: molt_upgrade_proxy::budget::Budget::default(),
            call_limits: CallLimits {
                gas_cap: 50_000_000,
                timeout: Some(std::time::Duration::from_secs(5)),
            },
            history: None,
            driver: Driver::Dev,
            grants: ModuleGrants::default(),
            chaos: Default::default(),
        }
    }
}

/// What [`Node::open`] opens.
struct Opened {
    chain: Arc<Chain>,
    runtime: Arc<Runtime>,
    verifier: Verifier,
    files: SlotFiles,
    staging: Arc<staging::Staging>,
    builtins: Builtins,
    accounts: Vec<Signer>,
    resumed: bool,
    rpc: RpcEngine,
}

/// What the operator grants the modules a node loads, each only if its manifest asks
/// for it: `--module.stdio` forwards their stdout and stderr into the node log;
/// `--module.dir DIR` gives a module that asks for `preopen-dir` the directory
/// `DIR/<module name>` as `/data` (every version of a name shares it).
#[derive(Clone, Debug, Default)]
pub struct ModuleGrants {
    /// Forward stdout and stderr of modules asking for `stdio`.
    pub stdio: bool,
    /// Where the directories of modules asking for `preopen-dir` live.
    pub dir: Option<PathBuf>,
}

impl ModuleGrants {
    /// The grants of a module with `manifest`, its directory created.
    pub fn of(&self, manifest: &molt_abi::Manifest) -> std::io::Result<Grants> {
        let dir = match &self.dir {
            Some(root) if manifest.wants(molt_abi::Capability::PreopenDir) => {
                // A manifest's name is [a-z0-9._-]; only dots would leave `root`.
                if manifest.name.bytes().all(|b| b == b'.') {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "the module name {:?} cannot name a directory",
                            manifest.name
                        ),
                    ));
                }
                let dir = root.join(&manifest.name);
                std::fs::create_dir_all(&dir)?;
                Some(dir)
            }
            _ => None,
        };
        Ok(Grants {
            stdio: self.stdio,
            dir,
        })
    }
}

/// A node's chain opened without producing or serving ([`Node::open_offline`]).
pub struct Offline {
    /// The chain.
    pub chain: Arc<Chain>,
    /// Its answers to the rpc kind's chain queries (dev helpers on a dev chain).
    pub queries: Arc<Queries>,
    /// The built-in rpc module, on the node's engine.
    pub rpc: RpcEngine,
}

/// A running node.
pub struct Node {
    chain: Arc<Chain>,
    accounts: Vec<Signer>,
    modules: [VersionInfo; 3],
    resumed: bool,
    health: Arc<health::Health>,
    // Field order is drop order: stop serving, then stop producing.
    server: Server,
    admin: Option<Server>,
    metrics: Option<Server>,
    driver: Running,
}

/// What decides blocks while the node runs, held to be stopped with the node.
enum Running {
    Dev {
        _producer: Producer,
    },
    Network {
        _engine: molt_bft::Network,
        _relay: relay::Relay,
    },
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("rpc", &self.server.local_addr())
            .finish_non_exhaustive()
    }
}

/// Where compiled modules are cached: one directory per user (`$MOLT_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/molt/modules`, else `~/.cache/molt/modules`), shared by every data
/// directory, so that a fresh node — a new data directory, `--ephemeral` — loads the
/// built-in modules compiled instead of compiling them again; the data directory's own
/// without a home. Entries are keyed by the module's hash under the engine's
/// compatibility fingerprint, written atomically, and checked by wasmtime on load.
fn module_cache_dir(datadir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("MOLT_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let user = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    match user {
        Some(base) => base.join("molt").join("modules"),
        None => datadir.join("module-cache"),
    }
}

impl Node {
    /// Opens what a node runs on — keys, runtime, modules, the chain in the data
    /// directory — without producing or serving.
    fn open(config: &NodeConfig) -> anyhow::Result<Opened> {
        let datadir = &config.datadir;
        std::fs::create_dir_all(datadir)
            .with_context(|| format!("creating {}", datadir.display()))?;
        let key = dev_key(datadir)?;
        let verifier = Verifier::new([key.verifying_key()]);
        let runtime = Arc::new(Runtime::new(RuntimeConfig {
            cache_dir: Some(module_cache_dir(datadir)),
            ..RuntimeConfig::default()
        })?);
        let load = |b: &Builtin| load_builtin(&runtime, datadir, &key, &verifier, b);
        let (execution, execution_info) = load(&builtin::EXECUTION)?;
        let (consensus, consensus_info) = load(&builtin::CONSENSUS)?;
        let (rpc, rpc_info) = load(&builtin::RPC_ETH)?;
        let builtins = Builtins {
            execution: execution_info,
            consensus: consensus_info,
            rpc: rpc_info,
        };
        let (executor, consensus, rpc): (Executor, Consensus, RpcEngine) = match config.engine {
            EngineKind::Wasm => (
                Engine::Wasm(execution),
                Engine::Wasm(consensus),
                Engine::Wasm(rpc),
            ),
            EngineKind::Native => (
                builtin::native_executor(),
                builtin::native_consensus(),
                builtin::native_rpc(),
            ),
        };

        let accounts = crate::dev_accounts::signers(config.accounts)?;
        let alloc: Vec<_> = match &config.driver {
            Driver::Dev => accounts
                .iter()
                .map(|s| (s.address(), config.balance))
                .collect(),
            Driver::Network { alloc, .. } => alloc.clone(),
        };
        let db_dir = datadir.join("db");
        let db = Db::open(&db_dir)
            .with_context(|| {
                format!(
                    "opening the database in {} (is another node using this data directory?)",
                    db_dir.display()
                )
            })?
            .with_history(config.history);
        let resumed = db.head()?.is_some();
        let mut chain_config = config.chain.clone();
        if !resumed && chain_config.genesis_timestamp == 0 {
            chain_config.genesis_timestamp = clock::now();
        }
        if chain_config.upgrade_authorities.is_empty() {
            chain_config.upgrade_authorities =
                accounts.iter().take(1).map(Signer::address).collect();
        }
        if chain_config.module_publishers.is_empty() {
            chain_config.module_publishers = vec![key.verifying_key().to_bytes()];
        }
        // Upgrades announced on the chain name packages staged in `<datadir>/modules`:
        // block h is executed and decided by the versions in force at h, now and after
        // any restart.
        let files = SlotFiles::new(datadir);
        let staging = Arc::new(staging::Staging::new(
            files.clone(),
            db.clone(),
            runtime.clone(),
            audit(&db),
            config.grants.clone(),
        ));
        let modules = Modules {
            execution: executor,
            consensus,
            store: staging.clone(),
        };
        let chain = Arc::new(Chain::open(db, modules, chain_config, key, &alloc)?);
        Ok(Opened {
            chain,
            runtime,
            verifier,
            files,
            staging,
            builtins,
            accounts,
            resumed,
            rpc,
        })
    }

    /// Opens the chain in `config.datadir` with the chain queries and the built-in rpc
    /// engine a node would serve, without producing blocks or serving: `molt module
    /// check`'s fixture chain and `molt module call --chain`.
    pub fn open_offline(config: &NodeConfig) -> anyhow::Result<Offline> {
        let opened = Self::open(config)?;
        let queries = Queries::new(
            opened.chain.clone(),
            opened.accounts,
            matches!(config.driver, Driver::Dev),
            config.call_limits,
        );
        Ok(Offline {
            chain: opened.chain,
            queries: Arc::new(queries),
            rpc: opened.rpc,
        })
    }

    /// Opens the chain in `config.datadir` as a node would (its modules, its upgrade
    /// schedule), without producing blocks or serving: for offline work such as
    /// `molt verify`.
    pub fn open_chain(config: &NodeConfig) -> anyhow::Result<Arc<Chain>> {
        Ok(Self::open(config)?.chain)
    }

    /// Starts a node as `config` says.
    pub fn start(config: NodeConfig) -> anyhow::Result<Node> {
        let Opened {
            chain,
            runtime,
            verifier,
            files,
            staging,
            builtins,
            accounts,
            resumed,
            rpc,
        } = Self::open(&config)?;
        runtime
            .chaos()
            .set(config.chaos.faults.clone(), config.chaos.seed);
        chain.set_commit_fault(config.chaos.commit);
        let driver = match &config.driver {
            Driver::Dev => Running::Dev {
                _producer: Producer::start(chain.clone(), config.block_time)?,
            },
            Driver::Network { network, relay, .. } => Running::Network {
                _engine: molt_bft::Network::start(chain.clone(), (**network).clone())
                    .context("starting the consensus engine")?,
                _relay: relay::Relay::start(&chain, relay.clone())?,
            },
        };
        // Dev helpers (evm_mine, snapshots, setBalance) edit the chain: only a node
        // that decides its blocks alone may offer them.
        let dev = matches!(config.driver, Driver::Dev);
        let network_metrics = match &config.driver {
            Driver::Dev => None,
            Driver::Network { network, .. } => Some(network.metrics.clone()),
        };
        let mut queries = Queries::new(chain.clone(), accounts.clone(), dev, config.call_limits);
        if let Some(metrics) = network_metrics.clone() {
            // Syncing by the readiness probe's rule, from the head this process began at.
            let starting = chain.head_number();
            queries = queries.with_network(Arc::new(move || {
                metrics.node_status(health::MAX_SYNC_LAG, starting)
            }));
        }
        let queries: Arc<dyn ChainService> = Arc::new(queries);
        let rpc_slot = Arc::new(rpc::RpcSlot::new(Version {
            info: builtins.rpc.clone(),
            module: rpc,
        }));
        // Come back on the rpc version that served last (the built-in stays as the
        // rollback target).
        if let Some((digest, bytes)) = files.active("rpc")?
            && digest != builtins.rpc.digest
        {
            let verified = verifier
                .verify(Package::parse(bytes)?, Some(molt_abi::Kind::Rpc), &[])
                .with_context(|| format!("the rpc module active before the restart ({digest})"))?;
            let grants = config.grants.of(&verified.manifest)?;
            let loaded = runtime.load(&verified.manifest, &verified.bytes, &grants)?;
            rpc_slot.activate(Version {
                info: verified.info(),
                module: Engine::Wasm(loaded),
            });
        }
        let health = Arc::new(health::Health::new(chain.clone(), network_metrics.clone()));
        let sample = Arc::new(Sample::default());
        let ledger = Ledger::new(audit(chain.db()), Arc::new(Metrics::default()));
        let server = crate::http::serve(
            config.http.clone(),
            Arc::new(RpcModule::new(
                rpc_slot.clone(),
                queries.clone(),
                rpc::RpcParts {
                    files: files.clone(),
                    ledger: ledger.clone(),
                    sample: sample.clone(),
                    budget: config.budget,
                    relay: (!dev).then(|| chain.clone()),
                    events: chain.events().clone(),
                    health: health.clone(),
                },
            )),
        )
        .with_context(|| format!("serving JSON-RPC on {}", config.http.addr))?;
        let modules = [
            builtins.execution.clone(),
            builtins.consensus.clone(),
            builtins.rpc.clone(),
        ];
        let handler = Arc::new(admin::Admin::new(admin::AdminParts {
            runtime,
            verifier,
            rpc: rpc_slot,
            queries,
            chain: chain.clone(),
            files,
            staging,
            ledger,
            builtins,
            accounts: accounts.clone(),
            sample,
            budget: config.budget,
            grants: config.grants.clone(),
            network: network_metrics,
        }));
        let admin = match &config.admin {
            Some(http) => Some(
                crate::http::serve(http.clone(), handler.clone())
                    .with_context(|| format!("serving the admin API on {}", http.addr))?,
            ),
            None => None,
        };
        let metrics = match config.metrics {
            Some(addr) => Some(
                crate::http::serve(
                    HttpConfig {
                        addr,
                        ..HttpConfig::default()
                    },
                    Arc::new(admin::MetricsOnly(handler)),
                )
                .with_context(|| format!("serving metrics on {addr}"))?,
            ),
            None => None,
        };
        Ok(Node {
            chain,
            accounts,
            modules,
            resumed,
            health,
            server,
            admin,
            metrics,
            driver,
        })
    }

    /// Stops the node in order: no longer ready, stop accepting and finish the
    /// requests in flight, stop deciding blocks (a block being built is finished and
    /// committed), then flush the database.
    pub fn shutdown(self) -> anyhow::Result<()> {
        let Node {
            chain,
            health,
            server,
            admin,
            metrics,
            driver,
            ..
        } = self;
        health.drain();
        drop(server);
        drop(admin);
        drop(metrics);
        drop(driver);
        chain.db().flush().context("flushing the database")?;
        Ok(())
    }

    /// What the probes read.
    pub fn health(&self) -> &Arc<health::Health> {
        &self.health
    }

    /// Where JSON-RPC is served.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Where the admin API is served, if enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(Server::local_addr)
    }

    /// Where `GET /metrics` is served without a token, if enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(Server::local_addr)
    }

    /// The chain.
    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }

    /// The unlocked dev accounts.
    pub fn accounts(&self) -> &[Signer] {
        &self.accounts
    }

    /// The built-in modules the node runs: execution, consensus, rpc.
    pub fn modules(&self) -> &[VersionInfo] {
        &self.modules
    }

    /// Whether the node resumed an existing chain (rather than creating genesis).
    pub fn resumed(&self) -> bool {
        self.resumed
    }
}

/// The audit log in the node's database.
pub(crate) fn audit(db: &Db) -> Audit {
    Audit::new(Arc::new(DbAudit(db.clone())))
}

/// The node's database as the audit log's store.
struct DbAudit(Db);

impl AuditStore for DbAudit {
    fn append(&self, entry: &[u8]) -> Result<(), AuditError> {
        self.0
            .append_audit(entry)
            .map_err(|e| AuditError(e.to_string()))
    }

    fn last(&self, limit: usize) -> Result<Vec<Vec<u8>>, AuditError> {
        self.0
            .audit_log(limit)
            .map_err(|e| AuditError(e.to_string()))
    }
}

/// Signs a built-in with the node's key, writes it to `<datadir>/modules`, and loads
/// it through the verifier, as an operator's module would be.
fn load_builtin(
    runtime: &Runtime,
    datadir: &Path,
    key: &SigningKey,
    verifier: &Verifier,
    b: &Builtin,
) -> anyhow::Result<(LoadedModule, VersionInfo)> {
    let dir = datadir.join("modules");
    std::fs::create_dir_all(&dir)?;
    let wasm = b.wasm();
    let signed = package::sign(&wasm, &b.manifest(), key)?;
    std::fs::write(dir.join(format!("{}-{}.wasm", b.name, b.version)), &signed)?;
    let verified = verifier.verify(Package::parse(signed)?, Some(b.kind), &[])?;
    // The module itself, without this node's signature sections: the same bytes on
    // every node, so one compiled artifact in the per-user cache serves every data
    // directory.
    let loaded = runtime.load(
        &verified.manifest,
        &wasm,
        &Grants {
            stdio: true,
            dir: None,
        },
    )?;
    Ok((loaded, verified.info()))
}

/// The node's ed25519 key (module signing, block seals), created on first use.
pub fn dev_key(datadir: &Path) -> anyhow::Result<SigningKey> {
    let dir = datadir.join("keys");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("dev.key");
    if path.exists() {
        return Ok(keys::read_signing_key(&path)?);
    }
    let key = keys::generate();
    keys::write_signing_key(&path, &key)?;
    Ok(key)
}

#[cfg(test)]
mod tests;
