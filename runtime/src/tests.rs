//! The hostile-module suite: every way a guest can misbehave fails that one call with
//! a typed error, the next call on a fresh instance succeeds, and the host — one
//! [`Runtime`] for the whole suite — stays up.

use std::sync::OnceLock;

use molt_abi::interface::InterfaceError;
use molt_abi::{ABI_VERSION, Budgets, Capability, Kind, Manifest};

use super::*;

/// One runtime for every test in this file: the host must survive them all.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeConfig {
            max_fuel: 50_000_000,
            max_time_ms: 200,
            max_io_bytes: 1 << 20,
            ..RuntimeConfig::default()
        })
        .expect("runtime")
    })
}

fn manifest(kind: Kind, budgets: Budgets, capabilities: Vec<Capability>) -> Manifest {
    Manifest {
        abi_version: ABI_VERSION,
        kind,
        name: "hostile".into(),
        version: "0.0.1".into(),
        budgets,
        capabilities,
    }
}

/// A module of `kind` whose entry points answer an empty input with "ok" and run
/// `hostile` (WAT instructions leaving an i64) on any other input. `extra` adds
/// module fields (imports first).
fn wat_module(kind: Kind, imports: &str, extra: &str, hostile: &str) -> Vec<u8> {
    let entries: String = molt_abi::interface::entry_points(kind)
        .iter()
        .map(|name| {
            format!(
                r#"(func (export "{name}") (param $ptr i32) (param $len i32) (result i64)
                    (if (i32.eqz (local.get $len)) (then (return (i64.const 0x0000001000000003))))
                    {hostile})"#
            )
        })
        .collect();
    wat::parse_str(format!(
        r#"(module
            {imports}
            (memory (export "memory") 1)
            (global $next (mut i32) (i32.const 1024))
            (data (i32.const 16) "\00ok")
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_alloc") (param $n i32) (result i32)
                (local $p i32)
                (local.set $p (global.get $next))
                (global.set $next (i32.add (global.get $next) (local.get $n)))
                (local.get $p))
            (func (export "molt_free") (param i32 i32))
            {extra}
            {entries})"#
    ))
    .expect("valid wat")
}

fn load(kind: Kind, budgets: Budgets, bytes: &[u8]) -> LoadedModule {
    runtime()
        .load(&manifest(kind, budgets, vec![]), bytes, &Grants::default())
        .expect("loads")
}

/// The call fails with `expected`, then a benign call on a fresh instance succeeds.
fn fails_then_recovers(module: &LoadedModule, expected: CallError) {
    let entry = molt_abi::interface::entry_points(module.kind())[0];
    assert_eq!(module.call(entry, b"attack"), Err(expected));
    assert_eq!(module.call(entry, b"").as_deref(), Ok(&b"ok"[..]));
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let m = load(
        Kind::Execution,
        Budgets {
            fuel: 1_000_000,
            ..Budgets::default()
        },
        &wat_module(Kind::Execution, "", "", "(loop $l (br $l)) unreachable"),
    );
    fails_then_recovers(&m, CallError::OutOfFuel { budget: 1_000_000 });
}

#[test]
fn infinite_loop_times_out_by_epoch() {
    let m = load(
        Kind::Rpc,
        Budgets {
            time_ms: 20,
            ..Budgets::default()
        },
        &wat_module(Kind::Rpc, "", "", "(loop $l (br $l)) unreachable"),
    );
    fails_then_recovers(&m, CallError::Timeout { budget_ms: 20 });
}

#[test]
fn memory_grow_past_the_budget_returns_minus_one() {
    // Grows 16 pages at a time until `memory.grow` answers -1, as WebAssembly
    // specifies for a refused growth (it does not trap); then answers "ok" if it holds
    // all the budget allowed.
    let grows = "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))";
    let polite = format!(
        "{grows} (if (result i64) (i32.eq (memory.size) (i32.const 49)) \
         (then (i64.const 0x0000001000000003)) (else unreachable))"
    );
    let m = load(
        Kind::Execution,
        Budgets {
            memory_bytes: 4 << 20,
            ..Budgets::default()
        },
        &wat_module(Kind::Execution, "", "", &polite),
    );
    // 1 + 3 × 16 pages fit in 4 MiB (64 pages); the fourth growth was refused.
    assert_eq!(
        m.call("molt_execute_block", b"attack").as_deref(),
        Ok(&b"ok"[..])
    );

    // A guest that cannot go on without the memory (a Rust allocator aborts) fails
    // the call for its memory, with the figures.
    let bomb = format!("{grows} unreachable");
    let m = load(
        Kind::Execution,
        Budgets {
            memory_bytes: 4 << 20,
            ..Budgets::default()
        },
        &wat_module(Kind::Execution, "", "", &bomb),
    );
    fails_then_recovers(
        &m,
        CallError::MemoryLimit {
            requested: (1 + 16 * 4) * 65536,
            limit: 4 << 20,
        },
    );
}

#[test]
fn memory_budget_is_capped_by_the_operator() {
    let m = load(
        Kind::Rpc,
        Budgets {
            memory_bytes: u64::MAX,
            ..Budgets::default()
        },
        &wat_module(Kind::Rpc, "", "", "(i64.const 0)"),
    );
    assert_eq!(m.memory_budget(), runtime().config().max_memory_bytes);
}

#[test]
fn stack_overflow_is_caught() {
    let m = load(
        Kind::Execution,
        Budgets::default(),
        &wat_module(
            Kind::Execution,
            "",
            "(func $deep (param i32) (result i32) (call $deep (i32.add (local.get 0) (i32.const 1))))",
            "(drop (call $deep (i32.const 0))) (i64.const 0)",
        ),
    );
    fails_then_recovers(&m, CallError::StackOverflow);
}

#[test]
fn a_trap_fails_the_call() {
    let m = load(
        Kind::Rpc,
        Budgets::default(),
        &wat_module(Kind::Rpc, "", "", "unreachable"),
    );
    fails_then_recovers(
        &m,
        CallError::Trap("wasm trap: wasm `unreachable` instruction executed".into()),
    );
    let m = load(
        Kind::Rpc,
        Budgets::default(),
        &wat_module(
            Kind::Rpc,
            "",
            "",
            "(drop (i32.div_u (i32.const 1) (i32.const 0))) (i64.const 0)",
        ),
    );
    fails_then_recovers(
        &m,
        CallError::Trap("wasm trap: integer divide by zero".into()),
    );
}

#[test]
fn out_of_bounds_return_pointer_is_refused() {
    let m = load(
        Kind::Rpc,
        Budgets::default(),
        &wat_module(Kind::Rpc, "", "", "(i64.const 0xffff000000000100)"),
    );
    fails_then_recovers(
        &m,
        CallError::BadPointer {
            ptr: 0xffff_0000,
            len: 0x100,
            memory: 65536,
        },
    );
}

#[test]
fn out_of_bounds_pointer_to_a_host_import_is_refused() {
    let m = load(
        Kind::Execution,
        Budgets::default(),
        &wat_module(
            Kind::Execution,
            r#"(import "molt" "log" (func $log (param i32 i32 i32)))"#,
            "",
            "(call $log (i32.const 2) (i32.const 0xffffff00) (i32.const 1000)) (i64.const 0)",
        ),
    );
    fails_then_recovers(
        &m,
        CallError::BadPointer {
            ptr: 0xffff_ff00,
            len: 1000,
            memory: 65536,
        },
    );
}

#[test]
fn forbidden_wasi_import_is_refused_at_load() {
    let bytes = wat_module(
        Kind::Execution,
        r#"(import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))"#,
        "",
        "(i64.const 0)",
    );
    let err = runtime()
        .load(
            &manifest(Kind::Execution, Budgets::default(), vec![]),
            &bytes,
            &Grants::default(),
        )
        .unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::Interface(InterfaceError::ImportNotAllowed { module, name, kind: Kind::Execution })
                if module == "wasi_snapshot_preview1" && name == "random_get"
        ),
        "{err}"
    );
}

#[test]
fn a_deterministic_module_reads_a_clock_frozen_at_the_epoch() {
    let clock = r#"(import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))"#;
    // The realtime clock's nanoseconds into bytes 512..520 (filled with 0xff first),
    // answered as the output (its status byte, 0, at 511).
    let read = r#"
        (if (i32.ne (call $clock (i32.const 0) (i64.const 1) (i32.const 512)) (i32.const 0))
            (then unreachable))
        (i64.const 0x000001ff00000009)"#;
    let prefill = r#"(data (i32.const 512) "\ff\ff\ff\ff\ff\ff\ff\ff")"#;
    let module = load(
        Kind::Consensus,
        Budgets::default(),
        &wat_module(Kind::Consensus, clock, prefill, read),
    );
    let entry = molt_abi::interface::entry_points(Kind::Consensus)[0];
    assert_eq!(module.call(entry, b"now").as_deref(), Ok(&[0u8; 8][..]));
    // An rpc module reads the real clock.
    let module = load(
        Kind::Rpc,
        Budgets::default(),
        &wat_module(Kind::Rpc, clock, prefill, read),
    );
    let now = module
        .call("molt_rpc_handle", b"now")
        .expect("reads the clock");
    let nanos = u64::from_le_bytes(now.as_slice().try_into().expect("8 bytes"));
    assert!(nanos > 1_700_000_000 * 1_000_000_000, "{nanos}");
}

#[test]
fn huge_allocation_requests_fail_cleanly() {
    // The module cannot allocate room for the input.
    let bytes = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_alloc") (param i32) (result i32) i32.const 0)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_rpc_handle") (param i32 i32) (result i64) i64.const 0))"#,
    )
    .unwrap();
    let m = load(Kind::Rpc, Budgets::default(), &bytes);
    assert_eq!(
        m.call("molt_rpc_handle", &[7; 100]),
        Err(CallError::AllocFailed { len: 100 })
    );
    // The host never passes more than its limit in, nor takes more than it out.
    let m = load(
        Kind::Rpc,
        Budgets::default(),
        &wat_module(Kind::Rpc, "", "", "(i64.const 0x00000010fffffff0)"),
    );
    let limit = runtime().config().max_io_bytes;
    assert_eq!(
        m.call("molt_rpc_handle", &vec![1; limit + 1]),
        Err(CallError::InputTooLarge {
            len: limit + 1,
            limit
        })
    );
    fails_then_recovers(
        &m,
        CallError::OutputTooLarge {
            len: 0xffff_fff0,
            limit,
        },
    );
}

#[test]
fn module_without_molt_alloc_is_refused_at_load() {
    let bytes = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_rpc_handle") (param i32 i32) (result i64) i64.const 0))"#,
    )
    .unwrap();
    let err = runtime()
        .load(
            &manifest(Kind::Rpc, Budgets::default(), vec![]),
            &bytes,
            &Grants::default(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Interface(InterfaceError::MissingExport("molt_alloc"))
        ),
        "{err}"
    );
}

#[test]
fn malformed_output_exit_and_unknown_abi_are_reported() {
    let m = load(
        Kind::Rpc,
        Budgets::default(),
        &wat_module(
            Kind::Rpc,
            "",
            "(data (i32.const 32) \"\\07\")",
            "(i64.const 0x0000002000000001)",
        ),
    );
    fails_then_recovers(
        &m,
        CallError::BadOutput("1 bytes without a known status byte".into()),
    );
    let m = load(
        Kind::Rpc,
        Budgets::default(),
        &wat_module(
            Kind::Rpc,
            r#"(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))"#,
            "",
            "(call $exit (i32.const 3)) unreachable",
        ),
    );
    fails_then_recovers(&m, CallError::Exited(3));
    let liar = wat_module(Kind::Rpc, "", "", "(i64.const 0)");
    let mut m = manifest(Kind::Rpc, Budgets::default(), vec![]);
    m.abi_version = 2;
    assert!(matches!(
        runtime().load(&m, &liar, &Grants::default()),
        Err(LoadError::UnknownAbi(2))
    ));
}

#[test]
fn preopened_directory_needs_both_the_ask_and_the_grant() {
    // Answers "\00" followed by the errno of fd_prestat_get(3): 0 if fd 3 is a
    // preopened directory, 8 (EBADF) if there is none.
    let probe = r#"(i32.store8 (i32.const 64) (i32.const 0))
        (i32.store8 (i32.const 65)
            (call $prestat (i32.const 3) (i32.const 128)))
        (i64.const 0x0000004000000002)"#;
    let import = r#"(import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))"#;
    let bytes = wat_module(Kind::Rpc, import, "", probe);
    let dir = tempfile::tempdir().unwrap();
    let errno = |caps: Vec<Capability>, grant: bool| {
        let grants = Grants {
            stdio: false,
            dir: grant.then(|| dir.path().to_path_buf()),
        };
        let m = runtime()
            .load(
                &manifest(Kind::Rpc, Budgets::default(), caps),
                &bytes,
                &grants,
            )
            .unwrap();
        m.call("molt_rpc_handle", b"probe").unwrap()[0]
    };
    assert_eq!(errno(vec![Capability::PreopenDir], true), 0);
    assert_eq!(errno(vec![Capability::PreopenDir], false), 8);
    assert_eq!(errno(vec![], true), 8);
}

#[test]
fn compiled_modules_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = wat_module(Kind::Rpc, "", "", "(i64.const 0)");
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        pooling: false,
        ..RuntimeConfig::default()
    };
    let m = manifest(Kind::Rpc, Budgets::default(), vec![]);
    let first = Runtime::new(config.clone()).unwrap();
    assert_eq!(
        first
            .load(&m, &bytes, &Grants::default())
            .unwrap()
            .cache_hit(),
        CacheHit::Compiled
    );
    assert_eq!(
        first
            .load(&m, &bytes, &Grants::default())
            .unwrap()
            .cache_hit(),
        CacheHit::Memory
    );
    drop(first);
    let second = Runtime::new(config).unwrap();
    let loaded = second.load(&m, &bytes, &Grants::default()).unwrap();
    assert_eq!(loaded.cache_hit(), CacheHit::Disk);
    assert_eq!(loaded.call("molt_rpc_handle", b"").unwrap(), b"ok");
}

#[test]
fn an_execution_module_runs_a_precompile_and_verifies_a_signature_through_the_host() {
    use ed25519_dalek::{Signer, SigningKey};
    let key = SigningKey::from_bytes(&[9; 32]);
    let signature = key.sign(b"abc").to_bytes();
    let hex = |b: &[u8]| b.iter().map(|x| format!("\\{x:02x}")).collect::<String>();
    // The input names the precompile's address byte; the answer is `status 0`, then
    // ed25519_verify's result byte, then precompile's answer.
    let m = load(
        Kind::Execution,
        Budgets::default(),
        &wat_module(
            Kind::Execution,
            r#"(import "molt" "precompile" (func $precompile (param i32 i32 i32 i32 i32 i64) (result i32)))
               (import "molt" "precompile_read" (func $precompile_read (param i32)))
               (import "molt" "ed25519_verify" (func $ed25519_verify (param i32 i32 i32 i32) (result i32)))"#,
            &format!(
                r#"(global $n (mut i32) (i32.const 0))
                   (data (i32.const 100) "Prague") (data (i32.const 120) "abc")
                   (data (i32.const 200) "{}") (data (i32.const 300) "{}")"#,
                hex(&signature),
                hex(key.verifying_key().as_bytes())
            ),
            r#"(i32.store8 (i32.const 179) (i32.load8_u (local.get $ptr)))
               (global.set $n (call $precompile (i32.const 100) (i32.const 6) (i32.const 160)
                 (i32.const 120) (i32.const 3) (i64.const 1000)))
               (i32.store8 (i32.const 400) (i32.const 0))
               (i32.store8 (i32.const 401)
                 (call $ed25519_verify (i32.const 120) (i32.const 3) (i32.const 200) (i32.const 300)))
               (call $precompile_read (i32.const 402))
               (i64.or (i64.const 0x0000019000000000)
                       (i64.extend_i32_u (i32.add (global.get $n) (i32.const 2))))"#,
        ),
    );
    let out = m.call("molt_execute_block", &[2]).unwrap();
    let mut address = [0u8; 20];
    address[19] = 2;
    let expected = services::precompile("Prague", &address, b"abc", 1000).unwrap();
    assert_eq!(out[0], 1, "the signature verifies");
    assert_eq!(&out[1..], &expected[..]);
    assert_eq!(expected[0], services::precompile_status::SUCCESS);
}
