//! Replacing the `rpc` module of a running `molt dev` from the command line, under
//! load: nothing fails, answers switch to the new version, rollback returns, and
//! bad packages are refused with their reason.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{DevNode, admin_addr, http_get, molt_module};
use molt_abi::{ABI_VERSION, Budgets, Capability, Kind, Manifest};
use molt_upgrade_proxy::{keys, package};
use serde_json::json;

/// The upgrade contract, from genesis.
const UPGRADE_CONTRACT: &str = "0x000000000000000000000000000000006d6f6c74";

/// Calldata of `schedule(bytes32 digest, uint64 height)`.
fn schedule_calldata(digest_hex: &str, height: u64) -> String {
    format!("0x2eb9fbb1{digest_hex}{height:064x}")
}

fn manifest(kind: Kind, name: &str, version: &str) -> Manifest {
    Manifest {
        abi_version: ABI_VERSION,
        kind,
        name: name.into(),
        version: version.into(),
        budgets: Budgets::default(),
        capabilities: vec![],
    }
}

#[test]
fn the_rpc_module_swaps_under_load_rolls_back_and_refuses_bad_packages() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--admin.port", "0"]);
    let admin = admin_addr(&node);
    let key = keys::read_signing_key(&dir.path().join("keys/dev.key")).unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let echo = &molt_host::builtin::ECHO.wasm();
    let wat_module = |file: &str, source: &str, name: &str| {
        let wasm = wat::parse_str(source).unwrap();
        write(
            file,
            package::sign(&wasm, &manifest(Kind::Rpc, name, "1.0.0"), &key).unwrap(),
        )
    };
    let v2 = write(
        "echo-0.2.0.wasm",
        package::sign(echo, &manifest(Kind::Rpc, "echo", "0.2.0"), &key).unwrap(),
    );

    // Clients call continuously while the module is replaced.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let addr = node.addr;
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            let answered = answered.clone();
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                let body = br#"{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion"}"#;
                while !stop.load(Ordering::SeqCst) {
                    let (status, body) = common::post(addr, body);
                    assert_eq!(status, 200, "{body}");
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    answers.push(v["result"].as_str().expect("no failed request").to_string());
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                answers
            })
        })
        .collect();
    // Some answers before the deploy, some after (counted, not timed).
    let answers_after = |n: usize| {
        let target = answered.load(Ordering::SeqCst) + n;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while answered.load(Ordering::SeqCst) < target {
            assert!(std::time::Instant::now() < deadline, "the clients stopped");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    answers_after(40);
    let (ok, out) = molt_module(&["deploy", &v2], &admin, dir.path());
    assert!(ok, "{out}");
    assert!(out.contains(r#""version": "0.2.0""#), "{out}");
    let deployed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        deployed["gate"]["requests"].as_u64().unwrap() > 5,
        "the gate replayed live requests too: {out}"
    );
    answers_after(40);
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        let answers = client.join().unwrap();
        let first_new = answers.iter().position(|a| a.starts_with("molt-echo/"));
        let first_new = first_new.expect("answers from the new version");
        assert!(first_new > 0, "answers from the old version first");
        assert!(answers[..first_new].iter().all(|a| a.starts_with("molt/")));
        assert!(
            answers[first_new..]
                .iter()
                .all(|a| a.starts_with("molt-echo/"))
        );
    }

    let (ok, status) = molt_module(&["status"], &admin, dir.path());
    assert!(ok, "{status}");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["rpc"]["active"]["version"], "0.2.0");
    assert_eq!(status["rpc"]["previous"]["name"], "rpc-eth");
    assert_eq!(status["execution"]["active"]["name"], "execution-revm");

    let (ok, out) = molt_module(&["rollback", "rpc"], &admin, dir.path());
    assert!(ok, "{out}");
    let version = node.ok("web3_clientVersion", json!([]));
    assert!(version.as_str().unwrap().starts_with("molt/"), "{version}");

    // Refusals, each with its reason; the active version keeps serving.
    let other = keys::generate();
    let refusals = [
        (write("unsigned.wasm", echo.to_vec()), "signature"),
        (
            write(
                "untrusted.wasm",
                package::sign(echo, &manifest(Kind::Rpc, "echo", "0.3.0"), &other).unwrap(),
            ),
            "not among the trusted",
        ),
        (
            write("tampered.wasm", {
                let mut b =
                    package::sign(echo, &manifest(Kind::Rpc, "echo", "0.3.0"), &key).unwrap();
                let n = b.len();
                b[n / 2] ^= 0x01;
                b
            }),
            "",
        ),
        (
            write(
                "old.wasm",
                package::sign(echo, &manifest(Kind::Rpc, "echo", "0.0.1"), &key).unwrap(),
            ),
            "downgrade",
        ),
        (
            write(
                "exec.wasm",
                package::sign(
                    &molt_host::builtin::EXECUTION.wasm(),
                    &manifest(Kind::Execution, "execution-revm", "9.0.0"),
                    &key,
                )
                .unwrap(),
            ),
            "at a block height",
        ),
        (
            wat_module("trap.wasm", TRAPPING_RPC, "trap"),
            // The refusal names the request the candidate failed on.
            "refused by the gate: guest trapped",
        ),
        (
            // Over its own manifest budget (16 MiB): its growth is refused, and it
            // cannot go on without the memory.
            write("hungry.wasm", {
                let mut m = manifest(Kind::Rpc, "hungry", "1.0.0");
                m.budgets.memory_bytes = 16 << 20;
                package::sign(
                    &wat::parse_str(growing_rpc("hungry", 512)).unwrap(),
                    &m,
                    &key,
                )
                .unwrap()
            }),
            "memory budget exceeded",
        ),
        (
            // Slow (2^31 rounds: well over 200 ms) on the gate's 98-byte batch request.
            // Refused on its p99, by either latency rule (whichever a loaded machine
            // trips first).
            wat_module("slow.wasm", &spinning_rpc(98, 1 << 31), "slow"),
            "refused by the gate: p99",
        ),
        (
            wat_module("migrate.wasm", FAILING_MIGRATION, "migrate"),
            "molt_migrate failed: refused by the module: cannot migrate from that version",
        ),
    ];
    for (path, reason) in &refusals {
        let (ok, out) = molt_module(&["deploy", path], &admin, dir.path());
        assert!(!ok, "{path} was accepted: {out}");
        assert!(out.contains("refused"), "{out}");
        assert!(out.to_lowercase().contains(reason), "{path}: {out}");
        if path.ends_with("trap.wasm") {
            assert!(out.contains("(on web3_clientVersion (id 1))"), "{out}");
        }
    }
    let version = node.ok("web3_clientVersion", json!([]));
    assert!(version.as_str().unwrap().starts_with("molt/"), "{version}");

    // A canary takes half the calls and is promoted after enough good answers.
    let v4 = write(
        "echo-0.4.0.wasm",
        package::sign(echo, &manifest(Kind::Rpc, "echo", "0.4.0"), &key).unwrap(),
    );
    let (ok, out) = molt_module(&["deploy", &v4, "--canary", "50%"], &admin, dir.path());
    assert!(ok, "{out}");
    let versions: Vec<String> = (0..20)
        .map(|_| {
            node.ok("web3_clientVersion", json!([]))
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        versions.iter().any(|v| v.starts_with("molt-echo/")),
        "{versions:?}"
    );
    assert!(
        versions.iter().any(|v| v.starts_with("molt/")),
        "{versions:?}"
    );
    // While it runs, the watch's figures are gauges: its share, the calls it answered,
    // its p99 and peak memory next to the active version's.
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let (_, text) = http_get(&admin, "/metrics", Some(&token));
    let series = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let canary = "{slot=\"rpc\",version=\"0.4.0\"";
    assert_eq!(series(&format!("molt_canary_percent{canary}}}")), 50.0);
    let calls = series(&format!("molt_canary_calls{canary}}}"));
    let from_canary = versions
        .iter()
        .filter(|v| v.starts_with("molt-echo/"))
        .count();
    assert_eq!(calls, from_canary as f64, "{text}");
    assert!(
        series(&format!(
            "molt_canary_p99_seconds{canary},role=\"canary\"}}"
        )) > 0.0
    );
    assert!(
        series(&format!(
            "molt_canary_peak_memory_bytes{canary},role=\"canary\"}}"
        )) > 0.0
    );
    // And the figures its gate judged before it took any traffic.
    for role in ["candidate", "active"] {
        let p99 = format!("molt_gate_latency_seconds{canary},role=\"{role}\",measure=\"p99\"}}");
        assert!(series(&p99) > 0.0, "{p99}");
        let memory = format!("molt_gate_peak_memory_bytes{canary},role=\"{role}\"}}");
        assert!(series(&memory) > 0.0, "{memory}");
    }
    for _ in 0..600 {
        node.ok("web3_clientVersion", json!([]));
    }
    let (_, status) = molt_module(&["status"], &admin, dir.path());
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["rpc"]["active"]["version"], "0.4.0", "{status}");
    assert!(status["rpc"]["canary"].is_null());

    // A canary that passes the gate but fails a live call is rolled back at once.
    let flaky = wat_module("flaky.wasm", &flaky_rpc(), "flaky");
    let (ok, out) = molt_module(&["deploy", &flaky, "--canary", "100%"], &admin, dir.path());
    assert!(ok, "{out}");
    assert_eq!(node.ok("web3_clientVersion", json!([])), "flaky");
    let long = json!([format!("0x{}", "00".repeat(300))]);
    let e = node.call("web3_sha3", long);
    assert_eq!(e["error"]["code"], -32603, "{e}");
    let version = node.ok("web3_clientVersion", json!([]));
    assert!(
        version.as_str().unwrap().starts_with("molt-echo/"),
        "{version}"
    );

    // A canary that answers but far more slowly than the active version is rolled
    // back by the watch on its figures (p99 over 2× the active one's, above 50 ms).
    let sluggish = wat_module(
        "sluggish.wasm",
        // Slow (2^28 rounds: well over 50 ms) only on the 103-byte request below: it
        // passes the gate, then the watch sees it.
        &spinning_rpc(103, 1 << 28),
        "sluggish",
    );
    let (ok, out) = molt_module(
        &["deploy", &sluggish, "--canary", "50%"],
        &admin,
        dir.path(),
    );
    assert!(ok, "{out}");
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"molt_sluggish","params":["{}"]}}"#,
        "x".repeat(40)
    );
    assert_eq!(body.len(), 103, "the length the sluggish module is slow on");
    let mut sent = 0;
    loop {
        let (status, _) = common::post(node.addr, body.as_bytes());
        assert_eq!(status, 200);
        sent += 1;
        let (_, s) = molt_module(&["status"], &admin, dir.path());
        let s: serde_json::Value = serde_json::from_str(&s).unwrap();
        if s["rpc"]["canary"].is_null() {
            assert_eq!(s["rpc"]["active"]["version"], "0.4.0", "{s}");
            break;
        }
        assert!(sent < 200, "the slow canary was never rolled back: {s}");
    }

    // Everything is in the audit log: who signed what, the gate's figures, why.
    let (ok, log) = molt_module(&["log"], &admin, dir.path());
    assert!(ok, "{log}");
    let log: Vec<serde_json::Value> = serde_json::from_str(&log).unwrap();
    let deploys: Vec<_> = log.iter().filter(|e| e["action"] == "deploy").collect();
    assert_eq!(deploys.len(), 13, "{log:?}");
    assert_eq!(deploys[0]["decision"], "accepted");
    assert_eq!(deploys[0]["package"]["version"], "0.2.0");
    assert_eq!(
        deploys[0]["package"]["signer"],
        hex::encode(key.verifying_key().to_bytes())
    );
    assert!(deploys[0]["result"]["gate"]["p99Ms"].is_number());
    assert!(
        log.iter()
            .any(|e| e["action"] == "rollback" && e["decision"] == "accepted")
    );
    assert!(log.iter().any(|e| e["action"] == "canary-promoted"));
    let rolled_back: Vec<_> = log
        .iter()
        .filter(|e| e["action"] == "canary-rolled-back")
        .collect();
    assert_eq!(rolled_back.len(), 2, "{log:?}");
    assert!(
        rolled_back[0]["reason"]
            .as_str()
            .unwrap()
            .contains("a live call failed"),
        "{log:?}"
    );
    // Rolled back on its latency: by the ratio or by the absolute rule, whichever a
    // loaded machine trips first (both are right).
    let reason = rolled_back[1]["reason"].as_str().unwrap();
    assert!(
        reason.contains("p99") && reason.contains("the active version's"),
        "{reason}"
    );
    let refused = deploys
        .iter()
        .filter(|e| e["decision"] == "refused")
        .count();
    assert_eq!(refused, 9);

    // And in the counters.
    let (ok, metrics) = molt_module(&["metrics"], &admin, dir.path());
    assert!(ok, "{metrics}");
    let metrics: serde_json::Value = serde_json::from_str(&metrics).unwrap();
    assert_eq!(metrics["packages_received"], 13, "{metrics}");
    assert_eq!(metrics["canary_promoted"], 1, "{metrics}");
    assert_eq!(metrics["canary_rolled_back"], 2, "{metrics}");
    assert_eq!(metrics["rollbacks"], 1, "{metrics}");
    assert!(metrics["gate_refused"].as_u64().unwrap() >= 3, "{metrics}");
    assert!(
        metrics["verify_refused"].as_u64().unwrap() >= 4,
        "{metrics}"
    );
    assert!(metrics["rpc_failures"].as_u64().unwrap() >= 1, "{metrics}");
    assert!(metrics["rpc_calls"].as_u64().unwrap() > 600, "{metrics}");
    // The same counters for Prometheus, with the token (`authorization` in a scrape
    // config), and nothing without it.
    let (status, text) = http_get(&admin, "/metrics", Some(&token));
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("# TYPE molt_rpc_calls_total counter"),
        "{text}"
    );
    assert!(text.contains("molt_canary_promoted_total 1\n"), "{text}");
    assert!(
        !text.contains("molt_canary_calls"),
        "no canary runs now: {text}"
    );
    assert!(
        text.contains("molt_module_info{slot=\"rpc\",name=\"echo\""),
        "{text}"
    );
    assert!(text.contains("molt_chain_head "), "{text}");
    assert_eq!(http_get(&admin, "/metrics", None).0, 401);
    assert_eq!(http_get(&admin, "/other", Some(&token)).0, 405);

    // Without the token, nothing.
    let (ok, out) = {
        let out = Command::new(env!("CARGO_BIN_EXE_molt"))
            .args(["module", "status", "--admin", &admin, "--token", "wrong"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(!ok);
    assert!(out.contains("401") || out.contains("token"), "{out}");
    node.stop();

    // A restart comes back on the version that served last.
    let node = DevNode::start(dir.path(), &[]);
    let version = node.ok("web3_clientVersion", json!([]));
    assert!(
        version.as_str().unwrap().starts_with("molt-echo/"),
        "{version}"
    );
    node.stop();
}

/// An rpc module that traps on every call.
const TRAPPING_RPC: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "molt_abi_version") (result i32) i32.const 1)
  (func (export "molt_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "molt_free") (param i32 i32))
  (func (export "molt_rpc_handle") (param i32 i32) (result i64) unreachable))"#;

/// An rpc module that runs `before` (WAT instructions; `$len` is the request's
/// length), then answers `{"jsonrpc":"2.0","id":1,"result":"<result>"}`. `imports`
/// come first in the module, `data` segments after the answer's.
fn answering_rpc(result: &str, imports: &str, data: &str, before: &str) -> String {
    let answer = format!(r#"{{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"{result}\"}}"#);
    // The status byte, then the JSON (each `\"` is one byte).
    let len = 1 + answer.len() - answer.matches('\\').count();
    format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  (data (i32.const 64) "\00{answer}")
  {data}
  (func (export "molt_abi_version") (result i32) i32.const 1)
  (func (export "molt_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "molt_free") (param i32 i32))
  (func (export "molt_rpc_handle") (param $ptr i32) (param $len i32) (result i64)
    {before}
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const {len}))))"#
    )
}

/// Answers `"flaky"` to short requests (the gate's) and traps on any request over 300
/// bytes.
fn flaky_rpc() -> String {
    answering_rpc(
        "flaky",
        "",
        "",
        "(if (i32.gt_u (local.get $len) (i32.const 300)) (then unreachable))",
    )
}

/// Grows its memory by `pages` on every call and traps if it cannot (as a Rust
/// allocator aborts), then answers `result`.
fn growing_rpc(result: &str, pages: u32) -> String {
    answering_rpc(
        result,
        "",
        "",
        &format!(
            "(if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then unreachable))"
        ),
    )
}

/// On every call, mines a block and sets the balance of `0xaa…aa` to 1 wei through
/// the chain queries, then answers `"writer"`.
fn writer_rpc() -> String {
    answering_rpc(
        "writer",
        r#"(import "molt" "chain" (func $chain (param i32 i32) (result i32)))"#,
        &format!(
            r#"(data (i32.const 0) "\0d\c2\01\80") (data (i32.const 16) "\10\d6\94{}\01")"#,
            "\\aa".repeat(20)
        ),
        "(drop (call $chain (i32.const 0) (i32.const 4))) \
         (drop (call $chain (i32.const 16) (i32.const 24)))",
    )
}

/// Answers `"picky"`, but traps on requests of exactly 77 bytes.
fn picky_rpc() -> String {
    answering_rpc(
        "picky",
        "",
        "",
        "(if (i32.eq (local.get $len) (i32.const 77)) (then unreachable))",
    )
}

/// Signs a hand-written rpc module with `key`, memory budget `memory` (0: default),
/// into `dir/file`; its path.
fn signed_wat(
    dir: &Path,
    key: &ed25519_dalek::SigningKey,
    (file, source): (&str, &str),
    (name, version): (&str, &str),
    memory: u64,
) -> String {
    let mut m = manifest(Kind::Rpc, name, version);
    m.budgets.memory_bytes = memory;
    let path = dir.join(file);
    std::fs::write(
        &path,
        package::sign(&wat::parse_str(source).unwrap(), &m, key).unwrap(),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn the_gate_runs_candidates_on_a_read_only_chain_and_judges_each_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--admin.port", "0"]);
    let admin = admin_addr(&node);
    let key = keys::read_signing_key(&dir.path().join("keys/dev.key")).unwrap();
    let deploy = |path: &str| molt_module(&["deploy", path], &admin, dir.path());
    let target = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    // Grows to 4 MiB on every call; signed with a budget of 8 MiB.
    let large_wat = growing_rpc("large", 63);
    let head = || node.ok("eth_blockNumber", json!([]));
    let balance = || node.ok("eth_getBalance", json!([target, "latest"]));
    let (head0, balance0) = (head(), balance());

    // A candidate that mines and sets a balance on each call: the gate's shadow runs
    // are refused those operations, so nothing changed when it takes over. Roll back
    // before any live call reaches it, and look.
    let writer = signed_wat(
        dir.path(),
        &key,
        ("writer.wasm", &writer_rpc()),
        ("writer", "1.0.0"),
        0,
    );
    let (ok, out) = deploy(&writer);
    assert!(ok, "{out}");
    let (ok, out) = molt_module(&["rollback", "rpc"], &admin, dir.path());
    assert!(ok, "{out}");
    assert_eq!(head(), head0, "the gate's runs mined no block");
    assert_eq!(balance(), balance0, "the gate's runs set no balance");

    // Requests the active version fails on are no reason to refuse a candidate.
    let picky = signed_wat(
        dir.path(),
        &key,
        ("picky.wasm", &picky_rpc()),
        ("picky", "1.0.0"),
        0,
    );
    let (ok, out) = deploy(&picky);
    assert!(ok, "{out}");
    let bad = r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x01",1]}"#;
    let bad = format!("{bad}{}", " ".repeat(77 - bad.len()));
    // Enough of them that the gate's sample of recent requests holds several.
    for _ in 0..64 {
        assert_eq!(node.call_raw(&bad)["error"]["code"], -32603);
    }
    let large = signed_wat(
        dir.path(),
        &key,
        ("large.wasm", &large_wat),
        ("large", "1.0.0"),
        8 << 20,
    );
    let (ok, out) = deploy(&large);
    assert!(ok, "{out}");
    let gate: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(gate["gate"]["activeFailed"].as_u64().unwrap() > 0, "{out}");
    assert!(
        gate["gate"]["candidateAnswered"].as_u64().unwrap() > 0,
        "{out}"
    );
    // And it was judged on its own memory budget (8 MiB), not on the active
    // version's 64 KiB.
    assert!(
        gate["gate"]["peakMemory"].as_u64().unwrap() >= 4 << 20,
        "{out}"
    );

    // Version rules: against the newest version of the same name that ran.
    let v = |file: &str, version: &str, memory: u64| {
        signed_wat(
            dir.path(),
            &key,
            (file, &large_wat),
            ("large", version),
            memory,
        )
    };
    let (ok, out) = deploy(&v("large-same.wasm", "1.0.0", 16 << 20));
    assert!(
        !ok && out.contains("same version, different code: large 1.0.0"),
        "{out}"
    );
    let (ok, out) = deploy(&v("large-old.wasm", "0.9.0", 8 << 20));
    assert!(
        !ok && out.contains("downgrade refused: large 0.9.0 is older than 1.0.0"),
        "{out}"
    );
    // The very package that ran may come again; a newer one of course; and a module
    // of another name at any version ("picky" 0.1.0 after "picky" 1.0.0 would be a
    // downgrade, "small" 0.1.0 is not; it answers everything).
    let (ok, out) = deploy(&large);
    assert!(ok, "{out}");
    let (ok, out) = deploy(&v("large-new.wasm", "1.0.1", 8 << 20));
    assert!(ok, "{out}");
    let small = signed_wat(
        dir.path(),
        &key,
        ("small.wasm", &large_wat),
        ("small", "0.1.0"),
        8 << 20,
    );
    let (ok, out) = deploy(&small);
    assert!(ok, "{out}");
    node.stop();

    // Where the operator asks for it, memory is also held to a ratio of the active
    // version's peak.
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(
        dir.path(),
        &["--admin.port", "0", "--gate.memory-ratio", "1.5"],
    );
    let admin = admin_addr(&node);
    let key = keys::read_signing_key(&dir.path().join("keys/dev.key")).unwrap();
    let picky = signed_wat(
        dir.path(),
        &key,
        ("picky.wasm", &picky_rpc()),
        ("picky", "1.0.0"),
        0,
    );
    assert!(molt_module(&["deploy", &picky], &admin, dir.path()).0);
    let large = signed_wat(
        dir.path(),
        &key,
        ("large.wasm", &large_wat),
        ("large", "1.0.0"),
        8 << 20,
    );
    let (ok, out) = molt_module(&["deploy", &large], &admin, dir.path());
    assert!(!ok, "{out}");
    assert!(
        out.contains("peak memory 4194304 bytes is over 150% of the active version's 65536"),
        "{out}"
    );
    node.stop();
}

#[test]
fn execution_and_consensus_modules_take_over_at_their_scheduled_heights_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--admin.port", "0"]);
    let admin = admin_addr(&node);
    let send = |node: &DevNode| {
        let hash = node.ok(
            "eth_sendTransaction",
            json!([{"from": common::ACCOUNT0, "to": common::ACCOUNT1, "value": "0x1"}]),
        );
        let r = node.wait_for("eth_getTransactionReceipt", json!([hash]));
        assert_eq!(r["status"], "0x1");
        common::quantity(&r["blockNumber"])
    };
    for _ in 0..3 {
        send(&node);
    }
    let head = common::quantity(&node.ok("eth_blockNumber", json!([])));
    let key = keys::read_signing_key(&dir.path().join("keys/dev.key")).unwrap();
    let write = |name: &str, version: &str, kind: Kind| {
        let path = dir.path().join(name);
        let m = manifest(kind, "execution-revm", version);
        std::fs::write(
            &path,
            package::sign(&molt_host::builtin::EXECUTION.wasm(), &m, &key).unwrap(),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let v2 = write("exec-0.2.0.wasm", "0.2.0", Kind::Execution);

    let next = (head + 1).to_string();
    let (ok, out) = molt_module(&["schedule", &v2, "--height", &next], &admin, dir.path());
    assert!(!ok && out.contains("must be above the next block"), "{out}");
    let at = (head + 2).to_string();
    let (ok, out) = molt_module(&["schedule", &v2, "--height", &at], &admin, dir.path());
    assert!(ok, "{out}");
    let scheduled: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        scheduled["gate"]["blocks"], head,
        "the gate replayed the chain: {out}"
    );
    assert!(scheduled["gate"]["mismatch"].is_null());
    // The schedule is a transaction on the chain: from the authority (the first dev
    // account), to the upgrade contract, which logged the digest and the height.
    let tx = &scheduled["announcement"]["transaction"];
    let receipt = node.ok("eth_getTransactionReceipt", json!([tx]));
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(
        receipt["from"].as_str().unwrap(),
        common::ACCOUNT0.to_lowercase()
    );
    assert_eq!(receipt["to"], UPGRADE_CONTRACT);
    assert_eq!(receipt["logs"][0]["address"], UPGRADE_CONTRACT);
    assert_eq!(
        receipt["logs"][0]["topics"][1].as_str().unwrap(),
        format!("0x{}", scheduled["scheduled"]["digest"].as_str().unwrap())
    );
    assert_eq!(common::quantity(&receipt["blockNumber"]), head + 1);
    // Anyone else is refused by the contract, in the words every client shows.
    let calldata = schedule_calldata(
        scheduled["scheduled"]["digest"].as_str().unwrap(),
        head + 50,
    );
    let refused = node.err(
        "eth_estimateGas",
        json!([{"from": common::ACCOUNT1, "to": UPGRADE_CONTRACT, "data": calldata}]),
    );
    assert_eq!(refused["code"], 3, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("molt: not an upgrade authority"),
        "{refused}"
    );
    let activation = head + 2;

    let status = |admin: &str| -> serde_json::Value {
        let (ok, out) = molt_module(&["status"], admin, dir.path());
        assert!(ok, "{out}");
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(status(&admin)["execution"]["active"]["version"], "0.1.0");
    let mut mined = Vec::new();
    for _ in 0..3 {
        mined.push(send(&node));
    }
    assert!(mined.iter().any(|b| *b >= activation), "{mined:?}");
    let s = status(&admin);
    assert_eq!(s["execution"]["active"]["version"], "0.2.0", "{s}");
    assert_eq!(s["execution"]["active"]["since"], activation);

    // A module that computes something else is refused by the replay.
    let wrong = {
        let path = dir.path().join("wrong.wasm");
        let m = manifest(Kind::Execution, "wrong", "3.0.0");
        let wasm = wat::parse_str(WRONG_EXECUTION).unwrap();
        std::fs::write(&path, package::sign(&wasm, &m, &key).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let far = (head + 100).to_string();
    let (ok, out) = molt_module(&["schedule", &wrong, "--height", &far], &admin, dir.path());
    assert!(!ok && out.contains("refused by the gate: block"), "{out}");
    assert!(out.contains("differ"), "{out}");

    // Its migration hook runs when it is staged; a failure refuses it.
    let failing = {
        let path = dir.path().join("failing-migration.wasm");
        let m = manifest(Kind::Execution, "wrong", "4.0.0");
        let wat = WRONG_EXECUTION.replace(
            "(func (export \"molt_execute_block\")",
            "(data (i32.const 128) \"\\01cannot migrate from that version\")\n  \
             (func (export \"molt_migrate\") (param i32 i32) (result i64)\n    \
             (i64.or (i64.shl (i64.const 128) (i64.const 32)) (i64.const 33)))\n  \
             (func (export \"molt_execute_block\")",
        );
        let wasm = wat::parse_str(&wat).unwrap();
        std::fs::write(&path, package::sign(&wasm, &m, &key).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (ok, out) = molt_module(&["stage", &failing], &admin, dir.path());
    assert!(!ok && out.contains("molt_migrate failed"), "{out}");
    assert!(out.contains("cannot migrate from that version"), "{out}");

    let old = write("exec-0.1.5.wasm", "0.1.5", Kind::Execution);
    let (ok, out) = molt_module(&["schedule", &old, "--height", &far], &admin, dir.path());
    assert!(!ok && out.to_lowercase().contains("downgrade"), "{out}");
    let consensus = {
        let path = dir.path().join("consensus.wasm");
        let m = manifest(Kind::Consensus, "consensus-poa", "9.0.0");
        std::fs::write(
            &path,
            package::sign(&molt_host::builtin::CONSENSUS.wasm(), &m, &key).unwrap(),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let (ok, out) = molt_module(&["deploy", &consensus], &admin, dir.path());
    assert!(!ok && out.contains("molt module schedule"), "{out}");
    // Consensus changes at a height too. Staged first (its decisions on recent blocks
    // replayed and found identical), then announced by hand, as any wallet or `cast
    // send` would: the authority's transaction names the package by its digest.
    let (ok, out) = molt_module(&["stage", &consensus], &admin, dir.path());
    assert!(ok, "{out}");
    let staged: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(staged["gate"]["decisions"].as_u64().unwrap() >= 3, "{out}");
    let head = common::quantity(&node.ok("eth_blockNumber", json!([])));
    let calldata = schedule_calldata(staged["staged"]["digest"].as_str().unwrap(), head + 2);
    let hash = node.ok(
        "eth_sendTransaction",
        json!([{"from": common::ACCOUNT0, "to": UPGRADE_CONTRACT, "data": calldata}]),
    );
    let r = node.wait_for("eth_getTransactionReceipt", json!([hash]));
    assert_eq!(r["status"], "0x1", "{r}");
    assert_eq!(
        status(&admin)["consensus"]["schedule"][1]["height"],
        head + 2
    );
    // The announcements the chain committed are in the audit log, whoever sent them.
    let (ok, log) = molt_module(&["log"], &admin, dir.path());
    assert!(ok, "{log}");
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    let announced: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "announced")
        .collect();
    assert_eq!(announced.len(), 2, "{log}");
    assert_eq!(announced[1]["slot"], "consensus");
    assert_eq!(announced[1]["module"]["version"], "9.0.0");
    assert_eq!(announced[1]["decision"], "scheduled");
    assert_eq!(announced[1]["transaction"], hash);
    send(&node);
    assert_eq!(status(&admin)["consensus"]["active"]["version"], "9.0.0");
    node.stop();

    // After a restart the schedule is still there, and the chain keeps going on it.
    let node = DevNode::start(dir.path(), &["--admin.port", "0"]);
    let admin = admin_addr(&node);
    let s = status(&admin);
    assert_eq!(s["execution"]["active"]["version"], "0.2.0", "{s}");
    assert_eq!(s["consensus"]["active"]["version"], "9.0.0", "{s}");
    assert_eq!(s["unresolved"], json!([]), "{s}");
    send(&node);
    node.stop();

    // The whole chain re-executes offline with the versions in force at each height,
    // to the stored receipts, state roots and seals.
    let out = Command::new(env!("CARGO_BIN_EXE_molt"))
        .args(["verify", "--datadir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "execution execution-revm 0.2.0 from block {activation}"
        )),
        "{text}"
    );
    assert!(
        text.contains("consensus consensus-poa 9.0.0 from block"),
        "{text}"
    );
    assert!(
        text.contains("receipts, state roots and seals match"),
        "{text}"
    );
}

/// An rpc module that answers the gate but whose migration hook refuses.
const FAILING_MIGRATION: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 64) "\00{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"m\"}")
  (data (i32.const 128) "\01cannot migrate from that version")
  (func (export "molt_abi_version") (result i32) i32.const 1)
  (func (export "molt_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "molt_free") (param i32 i32))
  (func (export "molt_migrate") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 128) (i64.const 32)) (i64.const 33)))
  (func (export "molt_rpc_handle") (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 38))))"#;

#[test]
fn rpc_and_execution_upgrade_under_a_stream_of_transactions_loses_nothing() {
    use alloy_consensus::TxEip1559;
    use alloy_primitives::{Address, TxKind, U256};

    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--admin.port", "0"]);
    let admin = admin_addr(&node);
    let key = keys::read_signing_key(&dir.path().join("keys/dev.key")).unwrap();
    let signed = |name: &str, wasm: &[u8], kind: Kind, module: &str| {
        let path = dir.path().join(name);
        let m = manifest(kind, module, "0.2.0");
        std::fs::write(&path, package::sign(wasm, &m, &key).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let rpc = signed(
        "rpc.wasm",
        &molt_host::builtin::RPC_ETH.wasm(),
        Kind::Rpc,
        "rpc-eth",
    );
    let exec = signed(
        "exec.wasm",
        &molt_host::builtin::EXECUTION.wasm(),
        Kind::Execution,
        "execution-revm",
    );

    // A sender (dev account 2): send, wait for the receipt, next; and a reader.
    let stop = Arc::new(AtomicBool::new(false));
    let addr = node.addr;
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let secret = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
            let s = molt_chain::signer::Signer::from_secret(&secret.parse().unwrap()).unwrap();
            let mut mined = Vec::new();
            for nonce in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let raw = s.sign(TxEip1559 {
                    chain_id: 31337,
                    nonce,
                    gas_limit: 21_000,
                    max_fee_per_gas: 100_000_000_000,
                    max_priority_fee_per_gas: 1_000_000_000,
                    to: TxKind::Call(Address::repeat_byte(0x42)),
                    value: U256::from(1),
                    ..TxEip1559::default()
                });
                let hex = format!("0x{}", hex::encode(&raw));
                let body = json!({"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[hex]});
                let (status, out) = common::post(addr, body.to_string().as_bytes());
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert_eq!(status, 200);
                let hash = v["result"].clone();
                assert!(hash.is_string(), "send failed: {v}");
                loop {
                    let body = json!({"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":[hash]});
                    let (_, out) = common::post(addr, body.to_string().as_bytes());
                    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                    assert!(v.get("error").is_none(), "{v}");
                    if !v["result"].is_null() {
                        assert_eq!(v["result"]["status"], "0x1");
                        mined.push(common::quantity(&v["result"]["blockNumber"]));
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            mined
        })
    };
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let body = br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#;
                let (status, out) = common::post(addr, body);
                assert_eq!(status, 200);
                assert!(out.contains("\"result\""), "{out}");
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The gate replays while transactions keep coming (a block each): the height is
    // relative to the head when the announcement goes out.
    let (ok, out) = molt_module(&["schedule", &exec, "--after", "20"], &admin, dir.path());
    assert!(ok, "{out}");
    let scheduled: serde_json::Value = serde_json::from_str(&out).unwrap();
    let activation = scheduled["height"].as_u64().unwrap();
    assert!(
        scheduled["announcement"]["block"].as_u64().unwrap() < activation,
        "{out}"
    );
    let (ok, out) = molt_module(&["deploy", &rpc], &admin, dir.path());
    assert!(ok, "{out}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while common::quantity(&node.ok("eth_blockNumber", json!([]))) < activation + 3 {
        assert!(std::time::Instant::now() < deadline, "the chain stopped");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    let mined = sender.join().unwrap();
    let reads = reader.join().unwrap();
    assert!(reads > 0);
    assert!(
        mined.iter().any(|b| *b >= activation),
        "transactions were mined past the activation height: {mined:?}"
    );
    let (_, status) = molt_module(&["status"], &admin, dir.path());
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        status["execution"]["active"]["version"], "0.2.0",
        "{status}"
    );
    assert_eq!(status["rpc"]["active"]["version"], "0.2.0", "{status}");
    // Every transaction the sender saw mined is in the chain.
    let count = node.ok(
        "eth_getTransactionCount",
        json!(["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "latest"]),
    );
    assert_eq!(common::quantity(&count), mined.len() as u64);
    node.stop();
}

/// An execution module that answers every block with an empty output: what a module
/// computing a different state would look like to the gate.
const WRONG_EXECUTION: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 64) "\00\c4\80\c0\80\c0")
  (func (export "molt_abi_version") (result i32) i32.const 1)
  (func (export "molt_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "molt_free") (param i32 i32))
  (func (export "molt_execute_block") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 6)))
  (func (export "molt_execute_call") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 6))))"#;

/// An rpc module that answers at once, except requests of `len` bytes, on which it
/// first spins for `iterations` rounds of a loop.
fn spinning_rpc(len: u32, iterations: u64) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 64) "\00{{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"slow\"}}")
  (func (export "molt_abi_version") (result i32) i32.const 1)
  (func (export "molt_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "molt_free") (param i32 i32))
  (func (export "molt_rpc_handle") (param $ptr i32) (param $len i32) (result i64)
    (local $i i64)
    (if (i32.eq (local.get $len) (i32.const {len}))
      (then
        (loop $spin
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br_if $spin (i64.lt_u (local.get $i) (i64.const {iterations}))))))
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 41))))"#
    )
}

#[test]
fn execution_and_consensus_modules_must_be_signed_by_a_publisher_named_in_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let publisher = keys::generate();
    let node = DevNode::start(
        dir.path(),
        &[
            "--admin.port",
            "0",
            "--module.publisher",
            &hex::encode(publisher.verifying_key().to_bytes()),
        ],
    );
    let admin = admin_addr(&node);
    let node_key = keys::read_signing_key(&dir.path().join("keys/dev.key")).unwrap();
    let signed = |file: &str, key: &ed25519_dalek::SigningKey| {
        let path = dir.path().join(file);
        let m = manifest(Kind::Execution, "execution-revm", "0.2.0");
        std::fs::write(
            &path,
            package::sign(&molt_host::builtin::EXECUTION.wasm(), &m, key).unwrap(),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    // The node's own key signs its rpc modules, but genesis named another publisher
    // for the consensus-critical kinds.
    let (ok, out) = molt_module(
        &["stage", &signed("own.wasm", &node_key)],
        &admin,
        dir.path(),
    );
    assert!(!ok && out.contains("unknown signer"), "{out}");
    let (ok, out) = molt_module(
        &["stage", &signed("published.wasm", &publisher)],
        &admin,
        dir.path(),
    );
    assert!(ok, "{out}");
    node.stop();
}

#[test]
fn a_transaction_the_execution_module_fails_on_is_dropped_and_the_chain_keeps_sealing() {
    use alloy_consensus::{TxEip1559, TxLegacy};
    use alloy_primitives::{Address, Bytes, TxKind, U256};

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let node = DevNode::start_with_log(dir.path(), &["--admin.port", "0"], Some(&log));
    let admin = admin_addr(&node);
    let key = keys::read_signing_key(&dir.path().join("keys/dev.key")).unwrap();

    // The built-in execution module with a small fuel budget: plenty for transfers,
    // too little for a transaction that loops through 29 M gas. It takes over at a
    // height on the chain, as execution modules do.
    let mut m = manifest(Kind::Execution, "execution-revm", "0.2.0");
    m.budgets.fuel = 50_000_000;
    let path = dir.path().join("starved.wasm");
    std::fs::write(
        &path,
        package::sign(&molt_host::builtin::EXECUTION.wasm(), &m, &key).unwrap(),
    )
    .unwrap();
    let (ok, out) = molt_module(
        &["schedule", path.to_str().unwrap(), "--after", "2"],
        &admin,
        dir.path(),
    );
    assert!(ok, "{out}");
    let height = serde_json::from_str::<serde_json::Value>(&out).unwrap()["height"]
        .as_u64()
        .unwrap();
    while common::quantity(&node.ok("eth_blockNumber", json!([]))) + 1 < height {
        node.ok("evm_mine", json!([]));
    }

    // Step 1: a transaction the module runs out of fuel on, then a plain transfer from
    // another account, for the same block.
    let signer =
        |secret: &str| molt_chain::signer::Signer::from_secret(&secret.parse().unwrap()).unwrap();
    let looping = signer("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
        .sign(TxLegacy {
            chain_id: Some(31337),
            nonce: 0,
            gas_price: 10_000_000_000,
            gas_limit: 29_000_000,
            to: TxKind::Create,
            value: U256::ZERO,
            // JUMPDEST PUSH1 0 JUMP: an endless loop, until the gas runs out
            input: Bytes::from_static(&[0x5b, 0x60, 0x00, 0x56]),
        });
    let transfer = signer("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
        .sign(TxEip1559 {
            chain_id: 31337,
            nonce: 0,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(0x42)),
            value: U256::from(1),
            ..TxEip1559::default()
        });
    let hex_of = |raw: &Bytes| format!("0x{}", hex::encode(raw));
    let looping_hash = node.ok("eth_sendRawTransaction", json!([hex_of(&looping)]));
    let transfer_hash = node.ok("eth_sendRawTransaction", json!([hex_of(&transfer)]));

    // Step 2: the transfer is mined; the culprit is gone from the pool, with the
    // reason in the log; the chain goes on.
    let receipt = node.wait_for("eth_getTransactionReceipt", json!([transfer_hash]));
    assert_eq!(receipt["status"], "0x1");
    assert!(common::quantity(&receipt["blockNumber"]) >= height);
    assert!(
        node.ok("eth_getTransactionReceipt", json!([looping_hash]))
            .is_null()
    );
    assert!(
        node.ok("eth_getTransactionByHash", json!([looping_hash]))
            .is_null()
    );
    let head = common::quantity(&node.ok("eth_blockNumber", json!([])));
    node.ok("evm_mine", json!([]));
    assert_eq!(
        common::quantity(&node.ok("eth_blockNumber", json!([]))),
        head + 1
    );
    node.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    let hash = looping_hash.as_str().unwrap();
    assert!(
        log.lines().any(
            |l| l.contains("dropped: the execution module fails on this transaction")
                && l.contains("fuel")
                && l.contains(hash)
        ),
        "{log}"
    );
}

/// Writes `granted` to `/data/hello.txt` (the preopened directory is fd 3) and to
/// stdout, then answers `"granted"`: what it can do depends on the operator's grants.
fn granted_rpc() -> String {
    answering_rpc(
        "granted",
        r#"(import "wasi_snapshot_preview1" "path_open"
             (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "fd_write"
             (func $fd_write (param i32 i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 200) "hello.txt") (data (i32.const 400) "granted\n")
           (data (i32.const 320) "\90\01\00\00\08\00\00\00")"#,
        "(if (i32.eqz (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) \
            (i32.const 9) (i32.const 1) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) \
            (i32.const 300))) \
           (then (drop (call $fd_write (i32.load (i32.const 300)) (i32.const 320) \
             (i32.const 1) (i32.const 340))))) \
         (drop (call $fd_write (i32.const 1) (i32.const 320) (i32.const 1) (i32.const 340)))",
    )
}

#[test]
fn an_operator_grants_a_deployed_module_its_directory_and_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let granted = dir.path().join("granted");
    let log = dir.path().join("node.log");
    let datadir = dir.path().join("node");
    let node = DevNode::spawn(
        &[
            "dev",
            "--datadir",
            datadir.to_str().unwrap(),
            "--http.port",
            "0",
            "--admin.port",
            "0",
            "--module.stdio",
            "--module.dir",
            granted.to_str().unwrap(),
        ],
        Some(&log),
        "info",
    );
    let admin = admin_addr(&node);
    let key = keys::read_signing_key(&datadir.join("keys/dev.key")).unwrap();
    let mut m = manifest(Kind::Rpc, "writes-data", "1.0.0");
    m.capabilities = vec![Capability::Stdio, Capability::PreopenDir];
    let path = dir.path().join("writes-data.wasm");
    let wasm = wat::parse_str(granted_rpc()).unwrap();
    std::fs::write(&path, package::sign(&wasm, &m, &key).unwrap()).unwrap();
    let (ok, out) = molt_module(&["deploy", path.to_str().unwrap()], &admin, &datadir);
    assert!(ok, "{out}");
    assert_eq!(node.ok("web3_clientVersion", json!([])), "granted");
    // Its own directory, named after it, as /data.
    let written = std::fs::read_to_string(granted.join("writes-data/hello.txt")).unwrap();
    assert!(written.starts_with("granted\n"), "{written:?}");
    // Its stdout, line by line in the node log.
    node.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("writes-data") && l.contains("granted")),
        "{log}"
    );
}
