//! `molt bench`: WASM-vs-native measurements in one process, on the same workload.
//!
//! `molt bench execution` runs each [`workloads`] block through the execution module
//! as WebAssembly and through its native twin, alternating the two for several rounds,
//! and reports the median time and the peak memory of each: the guest's peak linear
//! memory, and the native run's peak heap (counted by [`alloc::PeakAlloc`], which the
//! crate installs as the global allocator).

pub mod alloc;
pub mod network;
pub mod rpc;
pub mod state;
pub mod swap;
pub mod workloads;

use std::sync::Arc;
use std::time::{Duration, Instant};

use molt_abi::execution;

use molt_runtime::{EngineError, Executor};
use workloads::Workload;

/// Why a bench could not measure.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// An engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The output does not decode.
    #[error("malformed output: {0}")]
    Output(#[from] alloy_rlp::Error),
    /// The two engines disagree, or the workload did not run as written.
    #[error("{workload}: {what}")]
    Wrong {
        /// Which workload.
        workload: String,
        /// What went wrong.
        what: String,
    },
}

/// The process's allocator: the system allocator, counting live and peak heap bytes
/// (two relaxed atomic operations per allocation) so native runs can be measured.
#[global_allocator]
pub static ALLOC: alloc::PeakAlloc = alloc::PeakAlloc::new();

/// One workload's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    /// Workload name.
    pub workload: String,
    /// Transactions in the block.
    pub txs: usize,
    /// Gas the block used.
    pub gas_used: u64,
    /// Median wall time of the WebAssembly run, ms.
    pub wasm_ms: f64,
    /// Median wall time of the native run, ms.
    pub native_ms: f64,
    /// `wasm_ms / native_ms`.
    pub time_ratio: f64,
    /// Peak linear memory of the guest, bytes.
    pub wasm_peak_bytes: u64,
    /// Peak heap growth of the native run, bytes (0 if the allocator is not counting).
    pub native_peak_bytes: u64,
    /// `wasm_peak_bytes / native_peak_bytes`.
    pub memory_ratio: f64,
    /// The guest's peak above its initial memory (its shadow stack and static data),
    /// bytes: the part of `wasm_peak_bytes` comparable with the native heap.
    pub wasm_heap_bytes: u64,
    /// `wasm_heap_bytes / native_peak_bytes`.
    pub heap_ratio: f64,
    /// Fuel the guest used.
    pub fuel: u64,
}

/// Runs every workload `rounds` times on each engine, alternating.
pub fn execution(
    wasm: &Executor,
    workloads: &[Workload],
    rounds: usize,
) -> Result<Vec<Row>, BenchError> {
    let initial = match wasm {
        molt_runtime::Engine::Wasm(m) => m.initial_memory(),
        molt_runtime::Engine::Native(_) => 0,
    };
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let mut rows = Vec::new();
    for w in workloads {
        let input = execution::encode(&w.block);
        let mut wasm_times = Vec::new();
        let mut native_times = Vec::new();
        let (mut wasm_peak, mut native_peak, mut fuel) = (0, 0, 0);
        let mut reference = None;
        for _ in 0..rounds.max(1) {
            let state = Arc::new(w.pre.clone());
            let started = Instant::now();
            let (out, stats) = wasm.execute_block_raw(state, &input)?;
            wasm_times.push(started.elapsed());
            if let Some(s) = stats {
                wasm_peak = wasm_peak.max(s.peak_memory);
                fuel = s.fuel_used;
            }
            reference.get_or_insert(out);

            let state = Arc::new(w.pre.clone());
            let before = ALLOC.live();
            ALLOC.reset_peak();
            let started = Instant::now();
            let (out, _) = crate::builtin::native_executor().execute_block_raw(state, &input)?;
            native_times.push(started.elapsed());
            native_peak = native_peak.max(ALLOC.peak().saturating_sub(before) as u64);
            if reference.as_ref() != Some(&out) {
                return Err(BenchError::Wrong {
                    workload: w.name.clone(),
                    what: "WASM and native outputs differ".into(),
                });
            }
        }
        let decoded: execution::BlockOutput =
            execution::decode(reference.as_deref().unwrap_or_default())?;
        let included = decoded
            .outcomes
            .iter()
            .filter(|o| matches!(o, execution::TxOutcome::Included(r) if r.success))
            .count();
        if w.must_succeed && included != w.block.txs.len() {
            return Err(BenchError::Wrong {
                workload: w.name.clone(),
                what: format!(
                    "only {included} of {} transactions succeeded",
                    w.block.txs.len()
                ),
            });
        }
        let (wasm_ms, native_ms) = (median_ms(wasm_times), median_ms(native_times));
        let wasm_heap = wasm_peak.saturating_sub(initial);
        rows.push(Row {
            workload: w.name.clone(),
            txs: w.block.txs.len(),
            gas_used: decoded.gas_used,
            wasm_ms,
            native_ms,
            time_ratio: wasm_ms / native_ms,
            wasm_peak_bytes: wasm_peak,
            native_peak_bytes: native_peak,
            memory_ratio: ratio(wasm_peak, native_peak),
            wasm_heap_bytes: wasm_heap,
            heap_ratio: ratio(wasm_heap, native_peak),
            fuel,
        });
    }
    Ok(rows)
}

fn median_ms(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

/// The table `molt bench execution` prints.
pub fn table(rows: &[Row]) -> String {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let mut out = format!(
        "{:<22} {:>4} {:>11} {:>9} {:>10} {:>7} {:>10} {:>11} {:>6} {:>7}\n",
        "workload",
        "txs",
        "gas",
        "wasm ms",
        "native ms",
        "time x",
        "wasm MiB",
        "native MiB",
        "mem x",
        "heap x"
    );
    for r in rows {
        out += &format!(
            "{:<22} {:>4} {:>11} {:>9.2} {:>10.2} {:>7.2} {:>10.2} {:>11.2} {:>6.2} {:>7.2}\n",
            r.workload,
            r.txs,
            r.gas_used,
            r.wasm_ms,
            r.native_ms,
            r.time_ratio,
            mib(r.wasm_peak_bytes),
            mib(r.native_peak_bytes),
            r.memory_ratio,
            r.heap_ratio
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;
    use molt_runtime::{Grants, Runtime, RuntimeConfig};

    #[test]
    fn every_workload_succeeds_identically_on_both_engines() {
        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let m = builtin::EXECUTION;
        let wasm = Executor::Wasm(
            rt.load(&m.manifest(), &m.wasm(), &Grants::default())
                .unwrap(),
        );
        let small = [
            workloads::erc20_transfers(5),
            workloads::compute(2, 10),
            workloads::deployments(2),
            workloads::tracer(4, 4),
        ];
        let rows = execution(&wasm, &small, 1).unwrap();
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| r.gas_used > 0 && r.wasm_peak_bytes > 0));
        assert!(rows.iter().all(|r| r.wasm_heap_bytes < r.wasm_peak_bytes));
        assert!(rows[3].gas_used > 100_000, "{rows:?}");
    }

    /// The guest's heap must end near the live size of a buffer that doubled, not near
    /// twice it (what dlmalloc alone leaves behind: `molt_abi::heap`). Linear memory
    /// sizes are deterministic, so this bound is exact, not a timing.
    #[test]
    fn a_doubling_evm_memory_leaves_no_holes_in_the_guest_heap() {
        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let m = builtin::EXECUTION;
        let wasm = Executor::Wasm(
            rt.load(&m.manifest(), &m.wasm(), &Grants::default())
                .unwrap(),
        );
        let small = execution(&wasm, &[workloads::memory_growth(64)], 1).unwrap();
        let big = execution(&wasm, &[workloads::memory_growth(2048)], 1).unwrap();
        // What the heap holds besides the EVM memory (revm's frame stacks, the state).
        let base = small[0].wasm_heap_bytes;
        let grown = big[0].wasm_heap_bytes - base;
        let evm_memory = 2048 * 1024;
        assert!(
            grown < evm_memory + evm_memory / 8,
            "the heap grew by {grown} bytes for {evm_memory} bytes of EVM memory"
        );
    }

    #[test]
    fn the_vm_performance_state_tests_load_a_block_per_case() {
        let perf = workloads::vm_performance().unwrap();
        let names: Vec<&str> = perf.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(perf.len(), 23, "{names:?}");
        assert!(names.contains(&"loopExp/14") && names.contains(&"performanceTester/4"));
        assert!(
            perf.iter()
                .all(|w| w.block.txs.len() == 1 && !w.must_succeed)
        );
    }
}
