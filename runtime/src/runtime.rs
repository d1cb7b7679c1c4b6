//! The runtime: one wasmtime engine (and compiled-module cache) per metering mode,
//! and loading — compile or find, check against the ABI, link the imports, resolve the
//! budgets and authority a manifest asks for.

use std::path::PathBuf;
use std::sync::Arc;

use molt_abi::interface::{self, OwnedItem, ValType};
use molt_abi::{ABI_VERSION, Capability, Kind, Manifest};
use wasmtime::{ExternType, InstancePre, Linker, Module};

use crate::cache::{self, CacheHit};
use crate::engine::{self, Metering};
use crate::error::LoadError;
use crate::imports;
use crate::module::LoadedModule;
use crate::store::StoreData;
use crate::wasi::{Grants, WasiPlan};

/// Operator settings for the runtime. The defaults suit a dev node.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Where compiled modules are cached across restarts (`None`: memory only).
    pub cache_dir: Option<PathBuf>,
    /// Use the pooling instance allocator (copy-on-write memory images, fast
    /// instantiation) instead of allocating each instance on demand.
    pub pooling: bool,
    /// Instance slots in the pool, per engine: how many calls can run at once.
    pub pool_slots: u32,
    /// Ceiling on any module's linear memory, in bytes; a manifest may ask for less.
    pub max_memory_bytes: u64,
    /// Default memory budget for a manifest that asks for none.
    pub default_memory_bytes: u64,
    /// Ceiling and default of the fuel budget per call (deterministic kinds).
    pub max_fuel: u64,
    /// Ceiling and default of the time budget per call, in ms (`rpc`).
    pub max_time_ms: u64,
    /// Largest input or output the host passes across the boundary, in bytes.
    pub max_io_bytes: usize,
    /// Wasm stack size, in bytes.
    pub max_wasm_stack: usize,
    /// Meter deterministic kinds with fuel. Off only to measure what fuel costs
    /// (`molt bench execution --no-fuel`): their calls are then bounded by nothing
    /// but a caller's deadline.
    pub fuel: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            pooling: true,
            pool_slots: 64,
            max_memory_bytes: 1 << 30,
            default_memory_bytes: 256 << 20,
            // Fuel guards against a module that never returns; EVM gas already bounds
            // the EVM's own work, and the worst valid blocks (precompile-heavy ones)
            // need tens of billions of units, so the default ceiling is far above.
            max_fuel: 1_000_000_000_000,
            max_time_ms: 10_000,
            max_io_bytes: 64 << 20,
            max_wasm_stack: 1 << 20,
            fuel: true,
        }
    }
}

/// Engines and caches for both metering modes.
#[derive(Debug)]
pub struct Runtime {
    config: RuntimeConfig,
    fuel: cache::ModuleCache,
    epoch: cache::ModuleCache,
    /// One linker per kind, populated once with the imports of that kind only (and
    /// WASI and the common imports), on the engine that kind runs on.
    linkers: Linkers,
    /// What every loaded module's calls cost.
    metrics: Arc<crate::metrics::ModuleMetrics>,
    /// Faults injected into every loaded module's calls (none unless set).
    chaos: Arc<crate::chaos::Chaos>,
    _ticker: engine::EpochTicker,
}

/// The linkers of the three kinds.
struct Linkers {
    execution: Linker<StoreData>,
    consensus: Linker<StoreData>,
    rpc: Linker<StoreData>,
}

impl std::fmt::Debug for Linkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linkers").finish_non_exhaustive()
    }
}

impl Linkers {
    fn new(fuel: &wasmtime::Engine, epoch: &wasmtime::Engine) -> wasmtime::Result<Self> {
        Ok(Linkers {
            execution: linker(fuel, Kind::Execution)?,
            consensus: linker(fuel, Kind::Consensus)?,
            rpc: linker(epoch, Kind::Rpc)?,
        })
    }

    fn of(&self, kind: Kind) -> &Linker<StoreData> {
        match kind {
            Kind::Execution => &self.execution,
            Kind::Consensus => &self.consensus,
            Kind::Rpc => &self.rpc,
        }
    }
}

/// WASI, the common imports and those of `kind`, for modules compiled by `engine`.
fn linker(engine: &wasmtime::Engine, kind: Kind) -> wasmtime::Result<Linker<StoreData>> {
    let mut linker = Linker::new(engine);
    wasi_common::sync::add_to_linker(&mut linker, |s: &mut StoreData| &mut s.wasi)?;
    imports::add_common(&mut linker)?;
    match kind {
        Kind::Execution => imports::add_execution(&mut linker)?,
        Kind::Rpc => imports::add_rpc(&mut linker)?,
        Kind::Consensus => {}
    }
    Ok(linker)
}

impl Runtime {
    /// Builds the engines and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let wt = |e: wasmtime::Error| anyhow::anyhow!("{e}");
        let fuel_engine = engine::build(Metering::Fuel, &config).map_err(wt)?;
        let epoch_engine = engine::build(Metering::Epoch, &config).map_err(wt)?;
        let dir = config.cache_dir.as_deref();
        Ok(Runtime {
            linkers: Linkers::new(&fuel_engine, &epoch_engine).map_err(wt)?,
            _ticker: engine::EpochTicker::start(vec![epoch_engine.clone(), fuel_engine.clone()])?,
            fuel: cache::ModuleCache::new(fuel_engine, dir),
            epoch: cache::ModuleCache::new(epoch_engine, dir),
            metrics: crate::metrics::ModuleMetrics::new(),
            chaos: Arc::default(),
            config,
        })
    }

    /// The faults injected into the calls of every module this runtime loads.
    pub fn chaos(&self) -> &Arc<crate::chaos::Chaos> {
        &self.chaos
    }

    /// The call figures of every module this runtime loaded.
    pub fn metrics(&self) -> &Arc<crate::metrics::ModuleMetrics> {
        &self.metrics
    }

    /// The runtime's settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// How calls of a module of `kind` are metered.
    pub fn metering(kind: Kind) -> Metering {
        if kind.is_deterministic() {
            Metering::Fuel
        } else {
            Metering::Epoch
        }
    }

    /// Compiles (or finds) `bytes`, checks it against the ABI for `manifest.kind`,
    /// resolves its budgets and authority, and makes one call to `molt_abi_version`.
    ///
    /// `bytes` should come from a verified package; this function does not check
    /// signatures.
    pub fn load(
        &self,
        manifest: &Manifest,
        bytes: &[u8],
        grants: &Grants,
    ) -> Result<LoadedModule, LoadError> {
        if manifest.abi_version != ABI_VERSION {
            return Err(LoadError::UnknownAbi(manifest.abi_version));
        }
        let metering = Self::metering(manifest.kind);
        let cache = match metering {
            Metering::Fuel => &self.fuel,
            Metering::Epoch => &self.epoch,
        };
        let (pre, hit) = prepare(cache, self.linkers.of(manifest.kind), manifest.kind, bytes)?;

        let name: Arc<str> = manifest.name.as_str().into();
        let stdio = grants.stdio && manifest.wants(Capability::Stdio);
        let dir = grants
            .dir
            .as_ref()
            .filter(|_| manifest.wants(Capability::PreopenDir));
        let c = &self.config;
        let pick =
            |asked: u64, default: u64, max: u64| if asked == 0 { default } else { asked.min(max) };
        let loaded = LoadedModule {
            kind: manifest.kind,
            name: name.clone(),
            metrics: self.metrics.clone(),
            chaos: self.chaos.clone(),
            labels: Arc::new(crate::metrics::ModuleLabels {
                slot: manifest.kind.as_str().into(),
                module: manifest.name.clone(),
                version: manifest.version.clone(),
            }),
            pre,
            wasi: WasiPlan::new(name, stdio, dir, manifest.kind.is_deterministic())?,
            memory_bytes: pick(
                manifest.budgets.memory_bytes,
                c.default_memory_bytes,
                c.max_memory_bytes,
            ),
            fuel: pick(manifest.budgets.fuel, c.max_fuel, c.max_fuel),
            time_ms: pick(manifest.budgets.time_ms, c.max_time_ms, c.max_time_ms),
            max_io_bytes: c.max_io_bytes,
            metering,
            fueled: metering == Metering::Fuel && c.fuel,
            cache_hit: hit,
        };
        let found = loaded.abi_version()?;
        if found != manifest.abi_version {
            return Err(LoadError::AbiMismatch {
                expected: manifest.abi_version,
                found,
            });
        }
        Ok(loaded)
    }
}

/// Fuel (and milliseconds, for `rpc`) a module gets to answer `molt_abi_version` in
/// [`probe_abi_version`]: initialisation and one call of a constant function.
const PROBE_BUDGET: u64 = 10_000_000;

/// Compiles `bytes` on an engine of its own, instantiates it under a tiny budget and
/// calls `molt_abi_version`, which must agree with `manifest`: what
/// `molt module verify` and `inspect` check, so that an operator learns of a module
/// that would fail only when called before deploying it.
pub fn probe_abi_version(manifest: &Manifest, bytes: &[u8]) -> Result<u32, LoadError> {
    let runtime = Runtime::new(RuntimeConfig {
        pooling: false,
        ..RuntimeConfig::default()
    })
    .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
    let mut manifest = manifest.clone();
    manifest.budgets.fuel = PROBE_BUDGET;
    manifest.budgets.time_ms = 100;
    runtime.load(&manifest, bytes, &Grants::default())?;
    Ok(manifest.abi_version)
}

/// Compiles (or finds) `bytes` in `cache`, checks it against the ABI for `kind` and
/// links the host imports of that kind (`linker`).
fn prepare(
    cache: &cache::ModuleCache,
    linker: &Linker<StoreData>,
    kind: Kind,
    bytes: &[u8],
) -> Result<(InstancePre<StoreData>, CacheHit), LoadError> {
    let (module, hit) = cache
        .get(bytes)
        .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
    check_interface(kind, &module)?;
    let pre = linker
        .instantiate_pre(&module)
        .map_err(|e| LoadError::Link(format!("{e:#}")))?;
    Ok((pre, hit))
}

fn check_interface(kind: Kind, module: &Module) -> Result<(), LoadError> {
    fn owned(ty: &ExternType) -> OwnedItem {
        let v = |t: wasmtime::ValType| match t {
            wasmtime::ValType::I32 => ValType::I32,
            wasmtime::ValType::I64 => ValType::I64,
            _ => ValType::Other,
        };
        match ty {
            ExternType::Func(f) => {
                OwnedItem::Func(f.params().map(v).collect(), f.results().map(v).collect())
            }
            ExternType::Memory(_) => OwnedItem::Memory,
            _ => OwnedItem::Other,
        }
    }
    let imports: Vec<_> = module
        .imports()
        .map(|i| (i.module(), i.name(), owned(&i.ty())))
        .collect();
    let exports: Vec<_> = module
        .exports()
        .map(|e| (e.name(), owned(&e.ty())))
        .collect();
    interface::check(
        kind,
        imports.iter().map(|(m, n, t)| (*m, *n, t.as_item())),
        exports.iter().map(|(n, t)| (*n, t.as_item())),
    )?;
    Ok(())
}
