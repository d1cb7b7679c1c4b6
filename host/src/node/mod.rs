//! A running node: database, chain, block producer, the `rpc` module behind the HTTP
//! endpoint — what `molt dev` starts.
//!
//! [`Node::start`] wires the pieces the other modules own: it signs the built-in
//! guests with the node's dev key and loads them through the verifier like any
//! deployed module, opens (or creates) the chain in the data directory, starts the
//! producer thread and serves JSON-RPC. Dropping the [`Node`] stops it; every block it
//! committed is on disk.

pub mod admin;
pub mod announce;
pub mod audit;
pub mod clock;
pub mod gate;
pub mod metrics;
pub mod producer;
pub mod queries;
pub mod rpc;
pub mod slots;
pub mod staging;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use alloy_primitives::U256;
use anyhow::Context;
use ed25519_dalek::SigningKey;
use molt_upgrade_proxy::keys;
use molt_upgrade_proxy::package::{self, Package, Verifier};
use molt_upgrade_proxy::router::{Version, VersionInfo};

use crate::builtin::{self, Builtin};
use crate::chain::driver::{CallLimits, Chain, ChainConfig};
use crate::consensus::Consensus;
use crate::execution::Executor;
use crate::http::{HttpConfig, Server};
use crate::signer::Signer;
use molt_runtime::{Grants, LoadedModule, Runtime, RuntimeConfig};
use molt_storage::Db;
use producer::Producer;
use queries::Queries;
use rpc::{RpcEngine, RpcModule};

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
    /// The upgrade gate's red lines.
    pub budget: molt_upgrade_proxy::budget::Budget,
    /// Gas cap and timeout of `eth_call` and `eth_estimateGas`.
    pub call_limits: CallLimits,
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
            budget: molt_upgrade_proxy::budget::Budget::default(),
            call_limits: CallLimits {
                gas_cap: 50_000_000,
                timeout: Some(std::time::Duration::from_secs(5)),
            },
        }
    }
}

/// A loaded built-in module, for the start banner.
#[derive(Clone, Debug)]
pub struct ModuleInfo {
    /// Kind.
    pub kind: molt_abi::Kind,
    /// Name.
    pub name: &'static str,
    /// Version.
    pub version: &'static str,
    /// SHA-256 of the signed module, hex.
    pub digest: String,
}

/// What [`Node::open`] opens.
struct Opened {
    chain: Arc<Chain>,
    runtime: Arc<Runtime>,
    verifier: Verifier,
    files: slots::SlotFiles,
    staging: Arc<staging::Staging>,
    builtins: [VersionInfo; 2],
    modules: Vec<ModuleInfo>,
    accounts: Vec<Signer>,
    resumed: bool,
    rpc: RpcEngine,
    rpc_info: ModuleInfo,
}

/// A running node.
pub struct Node {
    chain: Arc<Chain>,
    accounts: Vec<Signer>,
    modules: Vec<ModuleInfo>,
    resumed: bool,
    // Field order is drop order: stop serving, then stop producing.
    server: Server,
    admin: Option<Server>,
    _producer: Producer,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("rpc", &self.server.local_addr())
            .finish_non_exhaustive()
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
            cache_dir: Some(datadir.join("module-cache")),
            ..RuntimeConfig::default()
        })?);
        let mut modules = Vec::new();
        let mut load = |b: &Builtin| -> anyhow::Result<LoadedModule> {
            let (loaded, info) = load_builtin(&runtime, datadir, &key, &verifier, b)?;
            modules.push(info);
            Ok(loaded)
        };
        let execution = load(&builtin::EXECUTION)?;
        let consensus = load(&builtin::CONSENSUS)?;
        let rpc = load(&builtin::RPC_ETH)?;
        let rpc_info = modules
            .last()
            .cloned()
            .context("the rpc module was loaded")?;
        let (executor, consensus, rpc) = match config.engine {
            EngineKind::Wasm => (
                Executor::Wasm(execution),
                Consensus::Wasm(consensus),
                RpcEngine::Wasm(rpc),
            ),
            EngineKind::Native => (Executor::Native, Consensus::Native, RpcEngine::Native),
        };

        let accounts = crate::dev_accounts::signers(config.accounts)?;
        let alloc: Vec<_> = accounts
            .iter()
            .map(|s| (s.address(), config.balance))
            .collect();
        let db_dir = datadir.join("db");
        let db = Db::open(&db_dir).with_context(|| {
            format!(
                "opening the database in {} (is another node using this data directory?)",
                db_dir.display()
            )
        })?;
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
        let files = slots::SlotFiles::new(datadir);
        let staging = Arc::new(staging::Staging::new(
            files.clone(),
            db.clone(),
            runtime.clone(),
            audit::Audit::new(db.clone()),
        ));
        let chain = Arc::new(
            Chain::open(db, executor, consensus, chain_config, key, &alloc)?
                .with_module_store(staging.clone())?,
        );
        let builtin_info = |kind| -> anyhow::Result<VersionInfo> {
            let b = modules
                .iter()
                .find(|m| m.kind == kind)
                .context("the built-in modules were loaded")?;
            Ok(VersionInfo {
                name: b.name.into(),
                version: b.version.into(),
                digest: b.digest.clone(),
            })
        };
        let builtins = [
            builtin_info(molt_abi::Kind::Execution)?,
            builtin_info(molt_abi::Kind::Consensus)?,
        ];

        Ok(Opened {
            chain,
            runtime,
            verifier,
            files,
            staging,
            builtins,
            modules,
            accounts,
            resumed,
            rpc,
            rpc_info,
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
            modules,
            accounts,
            resumed,
            rpc,
            rpc_info,
        } = Self::open(&config)?;
        let producer = Producer::start(chain.clone(), config.block_time)?;
        let queries: Arc<dyn molt_runtime::services::ChainService> = Arc::new(Queries::new(
            chain.clone(),
            accounts.clone(),
            true,
            config.call_limits,
        ));
        let builtin_rpc = VersionInfo {
            name: rpc_info.name.into(),
            version: rpc_info.version.into(),
            digest: rpc_info.digest.clone(),
        };
        let rpc_slot = Arc::new(rpc::RpcSlot::new(Version {
            info: builtin_rpc.clone(),
            module: rpc,
        }));
        // Come back on the rpc version that served last (the built-in stays as the
        // rollback target).
        if let Some((digest, bytes)) = files.active("rpc")?
            && digest != rpc_info.digest
        {
            let verified = verifier
                .verify(Package::parse(bytes)?, Some(molt_abi::Kind::Rpc), &[])
                .with_context(|| format!("the rpc module active before the restart ({digest})"))?;
            let loaded = runtime.load(&verified.manifest, &verified.bytes, &Grants::default())?;
            rpc_slot.activate(Version {
                info: VersionInfo {
                    name: verified.manifest.name.clone(),
                    version: verified.manifest.version.clone(),
                    digest,
                },
                module: RpcEngine::Wasm(loaded),
            });
        }
        let sample = Arc::new(rpc::Sample::default());
        let metrics = Arc::new(metrics::Metrics::default());
        let server = crate::http::serve(
            config.http.clone(),
            Arc::new(RpcModule::new(
                rpc_slot.clone(),
                queries.clone(),
                rpc::RpcParts {
                    files: files.clone(),
                    audit: audit::Audit::new(chain.db().clone()),
                    sample: sample.clone(),
                    metrics: metrics.clone(),
                    budget: config.budget,
                },
            )),
        )
        .with_context(|| format!("serving JSON-RPC on {}", config.http.addr))?;
        let admin = match &config.admin {
            Some(http) => {
                let handler = admin::Admin::new(admin::AdminParts {
                    runtime,
                    verifier,
                    rpc: rpc_slot,
                    queries,
                    chain: chain.clone(),
                    files,
                    staging,
                    audit: audit::Audit::new(chain.db().clone()),
                    builtins,
                    builtin_rpc,
                    accounts: accounts.clone(),
                    sample,
                    metrics,
                    budget: config.budget,
                });
                Some(
                    crate::http::serve(http.clone(), Arc::new(handler))
                        .with_context(|| format!("serving the admin API on {}", http.addr))?,
                )
            }
            None => None,
        };
        Ok(Node {
            chain,
            accounts,
            modules,
            resumed,
            server,
            admin,
            _producer: producer,
        })
    }

    /// Where JSON-RPC is served.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Where the admin API is served, if enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(Server::local_addr)
    }

    /// The chain.
    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }

    /// The unlocked dev accounts.
    pub fn accounts(&self) -> &[Signer] {
        &self.accounts
    }

    /// The built-in modules the node runs.
    pub fn modules(&self) -> &[ModuleInfo] {
        &self.modules
    }

    /// Whether the node resumed an existing chain (rather than creating genesis).
    pub fn resumed(&self) -> bool {
        self.resumed
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
) -> anyhow::Result<(LoadedModule, ModuleInfo)> {
    let dir = datadir.join("modules");
    std::fs::create_dir_all(&dir)?;
    let signed = package::sign(b.wasm, &b.manifest(), key)?;
    std::fs::write(dir.join(format!("{}-{}.wasm", b.name, b.version)), &signed)?;
    let verified = verifier.verify(Package::parse(signed)?, Some(b.kind), &[])?;
    let loaded = runtime.load(
        &verified.manifest,
        &verified.bytes,
        &Grants {
            stdio: true,
            dir: None,
        },
    )?;
    Ok((
        loaded,
        ModuleInfo {
            kind: b.kind,
            name: b.name,
            version: b.version,
            digest: hex::encode(verified.digest),
        },
    ))
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
