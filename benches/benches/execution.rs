//! The execution module on whole blocks, WebAssembly against its native twin.
//!
//! `cargo bench -p molt-benches --bench execution`
//!
//! Groups `erc20_transfers`, `compute_keccak_loop`, `deploy_erc20`, each with a `wasm`
//! and a `native` function running the same block on the same pre-state. For a table
//! with ratios and peak memory, run `molt bench execution` (README).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use molt_abi::execution;
use molt_host::builtin::EXECUTION;
use molt_runtime::Executor;
use molt_runtime::{Grants, Runtime, RuntimeConfig};

fn blocks(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let wasm = Executor::Wasm(
        runtime
            .load(&EXECUTION.manifest(), &EXECUTION.wasm(), &Grants::default())
            .expect("execution module loads"),
    );
    for w in molt_host::bench::workloads::standard() {
        let input = execution::encode(&w.block);
        let mut g = c.benchmark_group(w.name);
        g.sample_size(10);
        for (name, engine) in [
            ("wasm", &wasm),
            ("native", &molt_host::builtin::native_executor()),
        ] {
            g.bench_function(name, |b| {
                b.iter_batched(
                    || Arc::new(w.pre.clone()),
                    |state| engine.execute_block_raw(state, &input).expect("block runs"),
                    criterion::BatchSize::LargeInput,
                )
            });
        }
        g.finish();
    }
}

criterion_group!(benches, blocks);
criterion_main!(benches);
