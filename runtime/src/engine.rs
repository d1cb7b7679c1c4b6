//! wasmtime engines: one per metering mode, configured for determinism and fast
//! instantiation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
    ProfilingStrategy, Strategy,
};

use super::RuntimeConfig;
use super::limits::MAX_TABLE_ELEMENTS;

/// How calls on an engine are bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metering {
    /// Deterministic instruction budget (consensus, execution). The engine can also
    /// interrupt a call at a deadline, which only calls made for clients have
    /// (`eth_call`); a block's call has none, so its outcome depends on fuel alone.
    /// (The epoch checks cost nothing measurable next to fuel's: with and without
    /// them, best of 7 on this machine, 200 ERC-20 transfers took 0.91× and a keccak
    /// loop 1.04× the time — noise.)
    Fuel,
    /// Wall-clock deadline via epoch interruption (rpc).
    Epoch,
}

/// How often the epoch advances; an `rpc` deadline is counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Builds an engine. Both modes canonicalise NaNs and disable threads and relaxed
/// SIMD, so the same module computes the same bits on every machine.
pub fn build(metering: Metering, config: &RuntimeConfig) -> wasmtime::Result<Engine> {
    let mut c = Config::new();
    // `MOLT_CRANELIFT_OPT=none`: compile without cranelift's optimiser, to tell a
    // miscompile from a wrong module (experiments only; nodes of one chain must agree).
    let opt = match std::env::var("MOLT_CRANELIFT_OPT").as_deref() {
        Ok("none") => OptLevel::None,
        _ => OptLevel::Speed,
    };
    c.strategy(Strategy::Cranelift)
        .cranelift_opt_level(opt)
        .cranelift_nan_canonicalization(true)
        .wasm_relaxed_simd(false)
        .wasm_simd(true)
        .wasm_wide_arithmetic(true)
        .wasm_memory64(false)
        .max_wasm_stack(config.max_wasm_stack)
        .memory_init_cow(true)
        .parallel_compilation(true);
    c.consume_fuel(metering == Metering::Fuel && config.fuel)
        .epoch_interruption(true);
    // `MOLT_PERFMAP=1`: write /tmp/perf-<pid>.map naming each guest function's machine
    // code, so `perf record` / `perf report` attribute JIT samples to wasm functions.
    if std::env::var_os("MOLT_PERFMAP").is_some() {
        c.profiler(ProfilingStrategy::PerfMap);
    }
    if config.pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(config.pool_slots)
            .total_memories(config.pool_slots)
            .total_tables(config.pool_slots)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .table_elements(MAX_TABLE_ELEMENTS)
            .max_memory_size(config.max_memory_bytes as usize)
            // A fresh instance per call touches the same first pages every time:
            // resetting them with memset is cheaper than returning them to the kernel
            // and taking a page fault for each again.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&c)
}

/// Bytes of each pooled memory and table kept mapped between instances.
const KEEP_RESIDENT: usize = 1 << 20;

/// A background thread that advances engines' epochs every [`EPOCH_TICK`] until
/// dropped.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engines`.
    pub fn start(engines: Vec<Engine>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("molt-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    for engine in &engines {
                        engine.increment_epoch();
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
