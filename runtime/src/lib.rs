//! # molt-runtime — the sandbox that runs guest modules
//!
//! wasmtime engines, the compiled-module cache, budgets, WASI without ambient
//! authority, and the host imports of every kind.
//!
//! [`Runtime::load`] compiles (or finds in the cache) a module, checks it against the
//! ABI for its kind, and returns a [`LoadedModule`]. Every [`LoadedModule::call`] runs in
//! a fresh instance (the pooling allocator makes that cheap), so a call that traps,
//! runs out of fuel or time, or exceeds its memory fails alone with a [`CallError`]
//! and the next call starts clean. What an import does for the guest is in
//! [`services`], shared with the native twins.
//!
//! This crate owns execution of guest code; it does not decide which module to run
//! (the router does), whether a module is trusted (`molt-upgrade-proxy` does), nor
//! what the chain is (the host serves a [`services::ChainService`] and a
//! [`StateView`]). Start at [`Runtime::load`], then
//! [`LoadedModule::call_with`].

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

mod cache;
mod engine;
mod error;
mod imports;
mod limits;
mod wasi;

pub mod services;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use molt_abi::envelope::decode_output;
use molt_abi::interface::{self, OwnedItem, ValType};
use molt_abi::{ABI_VERSION, Capability, Kind, Manifest, unpack};
use wasmtime::{ExternType, Instance, InstancePre, Linker, Module, Store, Trap};

pub use cache::CacheHit;
pub use engine::{EPOCH_TICK, Metering};
pub use error::{CallError, LoadError};
pub use imports::GuestFault;
pub use limits::MemoryLimitExceeded;
pub use wasi::{GUEST_DIR, Grants};

use crate::services::ChainService;
use limits::Limiter;
use molt_storage::state::StateView;
use wasi::WasiPlan;

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
        }
    }
}

/// The state each guest store carries.
pub struct StoreData {
    /// The module's name, for log lines.
    pub module: Arc<str>,
    wasi: wasi_common::WasiCtx,
    limiter: Limiter,
    context: CallContext,
    /// The last `molt.chain` response, until `molt.chain_read` copies it out.
    chain_response: Vec<u8>,
}

/// What a call's kind-specific imports serve.
#[derive(Clone, Default)]
pub enum CallContext {
    /// Nothing: only the common imports work.
    #[default]
    None,
    /// The `execution` kind's state reads.
    State(Arc<dyn StateView>),
    /// The `rpc` kind's chain queries.
    Chain(Arc<dyn ChainService>),
}

impl From<Option<Arc<dyn StateView>>> for CallContext {
    fn from(state: Option<Arc<dyn StateView>>) -> Self {
        state.map_or(CallContext::None, CallContext::State)
    }
}

/// Engines and caches for both metering modes.
#[derive(Debug)]
pub struct Runtime {
    config: RuntimeConfig,
    fuel: cache::ModuleCache,
    epoch: cache::ModuleCache,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    /// Builds the engines and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let wt = |e: wasmtime::Error| anyhow::anyhow!("{e}");
        let fuel_engine = engine::build(Metering::Fuel, &config).map_err(wt)?;
        let epoch_engine = engine::build(Metering::Epoch, &config).map_err(wt)?;
        let dir = config.cache_dir.as_deref();
        Ok(Runtime {
            _ticker: engine::EpochTicker::start(vec![epoch_engine.clone(), fuel_engine.clone()])?,
            fuel: cache::ModuleCache::new(fuel_engine, dir),
            epoch: cache::ModuleCache::new(epoch_engine, dir),
            config,
        })
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
        let (pre, hit) = prepare(cache, manifest.kind, bytes)?;

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
            pre,
            wasi: WasiPlan::new(name, stdio, dir)?,
            memory_bytes: pick(
                manifest.budgets.memory_bytes,
                c.default_memory_bytes,
                c.max_memory_bytes,
            ),
            fuel: pick(manifest.budgets.fuel, c.max_fuel, c.max_fuel),
            time_ms: pick(manifest.budgets.time_ms, c.max_time_ms, c.max_time_ms),
            max_io_bytes: c.max_io_bytes,
            metering,
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

/// Epoch ticks that never come: the deadline of a call that has none.
const NEVER: u64 = u64::MAX / 2;

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
/// links the host imports.
fn prepare(
    cache: &cache::ModuleCache,
    kind: Kind,
    bytes: &[u8],
) -> Result<(InstancePre<StoreData>, CacheHit), LoadError> {
    let (module, hit) = cache
        .get(bytes)
        .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
    check_interface(kind, &module)?;
    let mut linker = Linker::new(module.engine());
    let link = |e: wasmtime::Error| LoadError::Link(format!("{e:#}"));
    wasi_common::sync::add_to_linker(&mut linker, |s: &mut StoreData| &mut s.wasi).map_err(link)?;
    imports::add_common(&mut linker).map_err(link)?;
    imports::add_execution(&mut linker).map_err(link)?;
    imports::add_rpc(&mut linker).map_err(link)?;
    let pre = linker.instantiate_pre(&module).map_err(link)?;
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

/// Figures from one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Largest linear memory the instance had, in bytes.
    pub peak_memory: u64,
    /// Fuel consumed (deterministic kinds; 0 for `rpc`).
    pub fuel_used: u64,
    /// Wall-clock time of the whole call, instantiation included.
    pub elapsed: Duration,
}

/// A compiled, checked module, ready to be called any number of times, from any
/// number of threads.
#[derive(Clone)]
pub struct LoadedModule {
    kind: Kind,
    name: Arc<str>,
    pre: InstancePre<StoreData>,
    wasi: WasiPlan,
    memory_bytes: u64,
    fuel: u64,
    time_ms: u64,
    max_io_bytes: usize,
    metering: Metering,
    cache_hit: CacheHit,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("memory_bytes", &self.memory_bytes)
            .field("fuel", &self.fuel)
            .field("time_ms", &self.time_ms)
            .finish_non_exhaustive()
    }
}

impl LoadedModule {
    /// The module's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Where the compiled code came from when this module was loaded.
    pub fn cache_hit(&self) -> CacheHit {
        self.cache_hit
    }

    /// The memory budget in bytes.
    pub fn memory_budget(&self) -> u64 {
        self.memory_bytes
    }

    /// Calls entry point `entry` with `input` and returns the payload of a
    /// successful result.
    pub fn call(&self, entry: &str, input: &[u8]) -> Result<Vec<u8>, CallError> {
        self.call_measured(entry, input).map(|(out, _)| out)
    }

    /// Like [`call`](Self::call), with the call's figures.
    pub fn call_measured(
        &self,
        entry: &str,
        input: &[u8],
    ) -> Result<(Vec<u8>, CallStats), CallError> {
        self.call_with(entry, input, CallContext::None)
    }

    /// Like [`call_measured`](Self::call_measured), serving the `execution` kind's
    /// state imports from `state`.
    pub fn call_with_state(
        &self,
        entry: &str,
        input: &[u8],
        state: Option<Arc<dyn StateView>>,
    ) -> Result<(Vec<u8>, CallStats), CallError> {
        self.call_with(entry, input, state.into())
    }

    /// Like [`call_measured`](Self::call_measured), serving the kind's imports from
    /// `context`.
    pub fn call_with(
        &self,
        entry: &str,
        input: &[u8],
        context: CallContext,
    ) -> Result<(Vec<u8>, CallStats), CallError> {
        self.call_on(entry, input, context, None)
    }

    /// Like [`call_with`](Self::call_with), interrupted after `timeout` with
    /// [`CallError::Timeout`], besides its budget. For calls made for clients
    /// (`eth_call`); a deterministic kind's outcome then depends on the clock too.
    pub fn call_interruptible(
        &self,
        entry: &str,
        input: &[u8],
        context: CallContext,
        timeout: Duration,
    ) -> Result<(Vec<u8>, CallStats), CallError> {
        self.call_on(entry, input, context, Some(Instant::now() + timeout))
    }

    fn call_on(
        &self,
        entry: &str,
        input: &[u8],
        context: CallContext,
        deadline: Option<Instant>,
    ) -> Result<(Vec<u8>, CallStats), CallError> {
        let start = Instant::now();
        let max = self.max_io_bytes;
        if input.len() > max {
            return Err(CallError::InputTooLarge {
                len: input.len(),
                limit: max,
            });
        }
        let (mut store, instance) = self.instantiate(context, deadline)?;
        let budget = deadline.map(|d| d - start);
        let func = instance
            .get_typed_func::<(u32, u32), u64>(&mut store, entry)
            .map_err(|_| CallError::NoEntry(entry.to_string()))?;
        let len = input.len() as u32;
        let in_ptr = if input.is_empty() {
            0
        } else {
            let alloc = instance
                .get_typed_func::<u32, u32>(&mut store, "molt_alloc")
                .map_err(|e| CallError::Host(format!("{e}")))?;
            let ptr = alloc
                .call(&mut store, len)
                .map_err(|e| self.fail(&store, e, budget))?;
            if ptr == 0 {
                return Err(store
                    .data()
                    .limiter
                    .refused()
                    .map_or(CallError::AllocFailed { len }, CallError::from));
            }
            let memory = memory(&instance, &mut store)?;
            memory
                .write(&mut store, ptr as usize, input)
                .map_err(|_| CallError::BadPointer {
                    ptr,
                    len,
                    memory: memory.data_size(&store) as u64,
                })?;
            ptr
        };
        let (ptr, out_len) = unpack(
            func.call(&mut store, (in_ptr, len))
                .map_err(|e| self.fail(&store, e, budget))?,
        );
        if out_len as usize > max {
            return Err(CallError::OutputTooLarge {
                len: out_len as usize,
                limit: max,
            });
        }
        let memory = memory(&instance, &mut store)?;
        let mut out = vec![0u8; out_len as usize];
        memory
            .read(&store, ptr as usize, &mut out)
            .map_err(|_| CallError::BadPointer {
                ptr,
                len: out_len,
                memory: memory.data_size(&store) as u64,
            })?;
        let stats = CallStats {
            peak_memory: store.data().limiter.peak_memory() as u64,
            fuel_used: match self.metering {
                Metering::Fuel => self.fuel - store.get_fuel().unwrap_or(0),
                Metering::Epoch => 0,
            },
            elapsed: start.elapsed(),
        };
        match decode_output(&out) {
            Ok(_) => {
                out.remove(0);
                Ok((out, stats))
            }
            Err(Some(msg)) => Err(CallError::Refused(msg)),
            Err(None) => Err(CallError::BadOutput(format!(
                "{} bytes without a known status byte",
                out.len()
            ))),
        }
    }

    /// Calls `molt_abi_version`.
    pub fn abi_version(&self) -> Result<u32, CallError> {
        let (mut store, instance) = self.instantiate(CallContext::None, None)?;
        let f = instance
            .get_typed_func::<(), u32>(&mut store, "molt_abi_version")
            .map_err(|_| CallError::NoEntry("molt_abi_version".into()))?;
        f.call(&mut store, ())
            .map_err(|e| self.fail(&store, e, None))
    }

    /// A fresh store and instance with this module's budgets (and `deadline`, if
    /// given), initialised.
    fn instantiate(
        &self,
        context: CallContext,
        deadline: Option<Instant>,
    ) -> Result<(Store<StoreData>, Instance), CallError> {
        let wasi = self.wasi.context().map_err(CallError::Host)?;
        let engine = self.pre.module().engine();
        let mut store = Store::new(
            engine,
            StoreData {
                module: self.name.clone(),
                wasi,
                limiter: Limiter::new(self.memory_bytes as usize),
                context,
                chain_response: Vec::new(),
            },
        );
        store.limiter(|s| &mut s.limiter);
        let ticks = |ms: u64| ms.div_ceil(EPOCH_TICK.as_millis() as u64).max(1);
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()).as_millis() as u64);
        let limit_ms = match self.metering {
            Metering::Epoch => Some(left.map_or(self.time_ms, |l| l.min(self.time_ms))),
            Metering::Fuel => {
                store
                    .set_fuel(self.fuel)
                    .map_err(|e| CallError::Host(format!("{e}")))?;
                left
            }
        };
        // Without a deadline (every block), the epoch never interrupts.
        store.set_epoch_deadline(limit_ms.map_or(NEVER, ticks));
        store.epoch_deadline_trap();
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.fail(&store, e, None))?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())
                .map_err(|e| self.fail(&store, e, None))?;
        }
        Ok((store, instance))
    }

    /// Why a call on `store` failed with `e`: [`classify`](Self::classify), except
    /// that an interruption of a call with a deadline (`budget` after its start) is
    /// its timeout, and a guest that failed after its memory budget refused to grow
    /// (a Rust allocator aborts, for one) failed for its memory.
    fn fail(
        &self,
        store: &Store<StoreData>,
        e: wasmtime::Error,
        budget: Option<Duration>,
    ) -> CallError {
        if let Some(m) = store.data().limiter.refused() {
            return m.into();
        }
        match (e.downcast_ref::<Trap>(), budget) {
            (Some(Trap::Interrupt), Some(budget)) => CallError::Timeout {
                budget_ms: budget.as_millis() as u64,
            },
            _ => self.classify(e),
        }
    }

    /// Turns a wasmtime error into the reason the call failed.
    fn classify(&self, e: wasmtime::Error) -> CallError {
        match e.downcast_ref::<GuestFault>() {
            Some(GuestFault::BadPointer { ptr, len, memory }) => {
                return CallError::BadPointer {
                    ptr: *ptr,
                    len: *len,
                    memory: *memory,
                };
            }
            Some(GuestFault::State(msg)) => return CallError::State(msg.clone()),
            None => {}
        }
        if let Some(exit) = e.downcast_ref::<wasi_common::I32Exit>() {
            return CallError::Exited(exit.0);
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => CallError::OutOfFuel { budget: self.fuel },
            Some(Trap::Interrupt) => CallError::Timeout {
                budget_ms: self.time_ms,
            },
            Some(Trap::StackOverflow) => CallError::StackOverflow,
            Some(trap) => {
                tracing::debug!("{} trapped: {e:?}", self.name);
                CallError::Trap(trap.to_string())
            }
            None => CallError::Trap(format!("{e:#}")),
        }
    }
}

fn memory(
    instance: &Instance,
    store: &mut Store<StoreData>,
) -> Result<wasmtime::Memory, CallError> {
    instance
        .get_memory(&mut *store, "memory")
        .ok_or_else(|| CallError::Host("module exports no memory".into()))
}
