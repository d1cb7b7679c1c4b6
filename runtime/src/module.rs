//! A loaded module and its calls: each call in a fresh instance with the module's
//! budgets, input and output copied across the boundary, and failures classified.

use std::sync::Arc;
use std::time::{Duration, Instant};

use molt_abi::envelope::decode_output;
use molt_abi::{Kind, unpack};
use molt_storage::state::StateView;
use wasmtime::{Instance, InstancePre, Store, Trap};

use crate::cache::CacheHit;
use crate::engine::{EPOCH_TICK, Metering};
use crate::error::CallError;
use crate::imports::GuestFault;
use crate::limits::Limiter;
use crate::store::{CallContext, StoreData};
use crate::wasi::WasiPlan;

/// Epoch ticks that never come: the deadline of a call that has none.
const NEVER: u64 = u64::MAX / 2;

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
    pub(crate) kind: Kind,
    pub(crate) name: Arc<str>,
    pub(crate) metrics: Arc<crate::metrics::ModuleMetrics>,
    pub(crate) chaos: Arc<crate::chaos::Chaos>,
    /// Slot, name and version: the metrics' labels and the log span's fields.
    pub(crate) labels: Arc<crate::metrics::ModuleLabels>,
    pub(crate) pre: InstancePre<StoreData>,
    pub(crate) wasi: WasiPlan,
    pub(crate) memory_bytes: u64,
    pub(crate) fuel: u64,
    pub(crate) time_ms: u64,
    pub(crate) max_io_bytes: usize,
    pub(crate) metering: Metering,
    /// Whether the engine counts fuel (always, but in `molt bench execution --no-fuel`).
    pub(crate) fueled: bool,
    pub(crate) cache_hit: CacheHit,
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
    /// Whether the module exports `name`.
    pub fn exports(&self, name: &str) -> bool {
        self.pre.module().get_export(name).is_some()
    }

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

    /// The fuel budget per call (deterministic kinds).
    pub fn fuel_budget(&self) -> u64 {
        self.fuel
    }

    /// The time budget per call in ms (`rpc`).
    pub fn time_budget_ms(&self) -> u64 {
        self.time_ms
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
        // Every log line of the call — the guest's own, its chain queries' — carries
        // the slot, the module and its version.
        let _span = tracing::info_span!(
            target: "molt::guest",
            "guest",
            slot = self.kind.as_str(),
            module = &*self.name,
            version = self.labels.version.as_str(),
            entry
        )
        .entered();
        let start = Instant::now();
        let mut instantiation = None;
        let fault = self.chaos.call(&self.labels.slot, &self.labels.version);
        if let Some(f) = &fault {
            std::thread::sleep(f.delay);
        }
        let result = match fault.is_some_and(|f| f.trap) {
            true => Err(CallError::Trap("chaos: injected trap".into())),
            false => self.call_instance(entry, input, context, deadline, &mut instantiation),
        };
        self.metrics.record(
            &self.labels,
            result.as_ref().map(|(_, stats)| stats),
            instantiation,
            start.elapsed(),
        );
        result
    }

    /// [`call_on`](Self::call_on)'s work; `instantiation` gets how long instantiating
    /// took, once it has.
    fn call_instance(
        &self,
        entry: &str,
        input: &[u8],
        context: CallContext,
        deadline: Option<Instant>,
        instantiation: &mut Option<Duration>,
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
        *instantiation = Some(start.elapsed());
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
        tracing::debug!(
            target: "molt::guest",
            elapsed_us = stats.elapsed.as_micros() as u64,
            fuel = stats.fuel_used,
            peak_memory = stats.peak_memory,
            "call returned"
        );
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
    pub(crate) fn instantiate(
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
                chaos: (self.chaos.clone(), self.labels.clone()),
                wasi,
                limiter: Limiter::new(self.memory_bytes as usize),
                context,
                chain_response: Vec::new(),
                precompile_answer: Vec::new(),
            },
        );
        store.limiter(|s| &mut s.limiter);
        let ticks = |ms: u64| ms.div_ceil(EPOCH_TICK.as_millis() as u64).max(1);
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()).as_millis() as u64);
        let limit_ms = match self.metering {
            Metering::Epoch => Some(left.map_or(self.time_ms, |l| l.min(self.time_ms))),
            Metering::Fuel => {
                if self.fueled {
                    store
                        .set_fuel(self.fuel)
                        .map_err(|e| CallError::Host(format!("{e}")))?;
                }
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
    pub(crate) fn fail(
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
