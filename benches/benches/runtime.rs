//! The guest runtime's costs, each measured against its baseline in the same run.
//!
//! `cargo bench -p molt-benches --bench runtime`
//!
//! - `instantiate_call/{pooling,on_demand}/{wat,rust}`: a fresh instance plus one
//!   trivial call, with the pooling allocator (copy-on-write images) and without; `wat`
//!   is a 1-page hand-written module, `rust` the echo guest (about 1 MiB of memory).
//! - `host_import/{log_x1000,none}`: the echo guest calling `molt.log` 1000 times vs
//!   the same request doing no calls; (difference / 1000) is one import call.
//! - `wasm_vs_native/{spin,json}/{wasm,native}`: the same guest function run as
//!   WebAssembly and natively: pure integer work, and JSON parsing + serialising.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use molt_abi::{ABI_VERSION, Budgets, Kind, Manifest};
use molt_host::builtin::ECHO;
use molt_runtime::native::NativeHost;
use molt_runtime::{Grants, LoadedModule, Runtime, RuntimeConfig};

const TRIVIAL_WAT: &str = r#"(module
    (memory (export "memory") 1)
    (data (i32.const 16) "\00ok")
    (func (export "molt_abi_version") (result i32) i32.const 1)
    (func (export "molt_alloc") (param i32) (result i32) i32.const 1024)
    (func (export "molt_free") (param i32 i32))
    (func (export "molt_rpc_handle") (param i32 i32) (result i64) i64.const 0x0000001000000003))"#;

fn runtime(pooling: bool) -> Runtime {
    Runtime::new(RuntimeConfig {
        pooling,
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

fn load_echo(rt: &Runtime) -> LoadedModule {
    rt.load(&ECHO.manifest(), &ECHO.wasm(), &Grants::default())
        .expect("echo loads")
}

fn load_trivial(rt: &Runtime) -> LoadedModule {
    let manifest = Manifest {
        abi_version: ABI_VERSION,
        kind: Kind::Rpc,
        name: "trivial".into(),
        version: "0.0.0".into(),
        budgets: Budgets::default(),
        capabilities: vec![],
    };
    let bytes = wat::parse_str(TRIVIAL_WAT).expect("wat");
    rt.load(&manifest, &bytes, &Grants::default())
        .expect("trivial loads")
}

fn request(method: &str, params: &str) -> Vec<u8> {
    format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#).into_bytes()
}

fn instantiate_call(c: &mut Criterion) {
    let mut g = c.benchmark_group("instantiate_call");
    let version = request("web3_clientVersion", "[]");
    for (name, pooling) in [("pooling", true), ("on_demand", false)] {
        let rt = runtime(pooling);
        let wat = load_trivial(&rt);
        let rust = load_echo(&rt);
        g.bench_function(BenchmarkId::new(name, "wat"), |b| {
            b.iter(|| wat.call("molt_rpc_handle", b"x").expect("call"))
        });
        g.bench_function(BenchmarkId::new(name, "rust"), |b| {
            b.iter(|| rust.call("molt_rpc_handle", &version).expect("call"))
        });
    }
    g.finish();
}

fn host_import(c: &mut Criterion) {
    let rt = runtime(true);
    let echo = load_echo(&rt);
    let mut g = c.benchmark_group("host_import");
    let with = request("molt_logLoop", "[1000]");
    let without = request("molt_logLoop", "[0]");
    g.bench_function("log_x1000", |b| {
        b.iter(|| echo.call("molt_rpc_handle", &with).expect("call"))
    });
    g.bench_function("none", |b| {
        b.iter(|| echo.call("molt_rpc_handle", &without).expect("call"))
    });
    g.finish();
}

fn wasm_vs_native(c: &mut Criterion) {
    let rt = runtime(true);
    let echo = load_echo(&rt);
    let host = NativeHost::new("echo");
    let items: Vec<String> = (0..2000)
        .map(|i| format!(r#"{{"n":{i},"s":"item-{i}"}}"#))
        .collect();
    let workloads = [
        ("spin", request("molt_spin", "[2000000]")),
        (
            "json",
            request("molt_echo", &format!("[{}]", items.join(","))),
        ),
    ];
    let mut g = c.benchmark_group("wasm_vs_native");
    for (name, req) in &workloads {
        let native = molt_echo::handle(&host, req).expect("native");
        assert_eq!(echo.call("molt_rpc_handle", req).expect("wasm"), native);
        g.bench_function(BenchmarkId::new(*name, "wasm"), |b| {
            b.iter(|| echo.call("molt_rpc_handle", req).expect("call"))
        });
        g.bench_function(BenchmarkId::new(*name, "native"), |b| {
            b.iter(|| molt_echo::handle(&host, req).expect("call"))
        });
    }
    g.finish();
}

criterion_group!(benches, instantiate_call, host_import, wasm_vs_native);
criterion_main!(benches);
