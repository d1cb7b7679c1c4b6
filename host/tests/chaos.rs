//! Chaos mode through the real binary: injected faults degrade the node the way it is
//! designed to degrade, it recovers when they stop, and the metrics show it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use common::{ACCOUNT1, DevNode, KEY0, admin_addr, http_get, metrics_addr, quantity};
use molt_chain::signer::Signer;
use serde_json::{Value, json};

fn transfer(nonce: u64) -> String {
    let signer = Signer::from_secret(&KEY0.parse().unwrap()).unwrap();
    let raw: Bytes = signer.sign(TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(ACCOUNT1.parse::<Address>().unwrap()),
        value: U256::from(1),
        ..TxEip1559::default()
    });
    format!("0x{}", alloy_primitives::hex::encode(raw))
}

/// An admin API call with the node's token; its result.
fn admin(node: &DevNode, dir: &std::path::Path, method: &str, params: Value) -> Value {
    let token = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let addr = admin_addr(node).parse().unwrap();
    let (status, answer) =
        molt_host::http::post_json(addr, Some(&token), body.to_string().as_bytes()).unwrap();
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    answer
        .get("result")
        .cloned()
        .unwrap_or_else(|| panic!("{method}: {answer}"))
}

/// Sums the samples of `name` whose labels contain every one of `labels`.
fn metric(node_metrics: &str, name: &str, labels: &[&str]) -> f64 {
    let (_, text) = http_get(node_metrics, "/metrics", None);
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|m| l.contains(m)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until `ready()` holds (the node's own threads are doing the work).
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_trapping_execution_module_leaves_blocks_out_and_the_chain_goes_on_once_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(
        dir.path(),
        &["--admin.port", "0", "--metrics.addr", "127.0.0.1:0"],
    );
    let metrics = metrics_addr(&node);

    // Step 1: every execution call traps; a transaction is pooled but no block comes.
    let set = admin(
        &node,
        dir.path(),
        "molt_chaos",
        json!([{"execution": {"trap": 1}}]),
    );
    assert_eq!(set["execution"]["trap"], 1.0);
    let hash = node.ok("eth_sendRawTransaction", json!([transfer(0)]));
    let traps = || {
        metric(
            &metrics,
            "molt_module_failures_total",
            &["slot=\"execution\"", "kind=\"trap\""],
        )
    };
    wait_until("an execution trap", || traps() >= 1.0);
    assert_eq!(quantity(&node.ok("eth_blockNumber", json!([]))), 0);
    assert!(
        node.ok("eth_getTransactionReceipt", json!([hash]))
            .is_null()
    );
    // The node still serves and is alive.
    assert_eq!(http_get(&node.addr.to_string(), "/healthz", None).0, 200);

    // Step 2: the fault stops; the pooled transaction is mined and the chain goes on.
    admin(&node, dir.path(), "molt_chaos", json!([{}]));
    let receipt = node.wait_for("eth_getTransactionReceipt", json!([hash]));
    assert_eq!(receipt["status"], "0x1");
    node.ok("eth_sendRawTransaction", json!([transfer(1)]));
    wait_until("block 2", || {
        quantity(&node.ok("eth_blockNumber", json!([]))) == 2
    });
    node.stop();
}

#[test]
fn a_trapping_or_slow_rpc_module_answers_errors_and_the_figures_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(
        dir.path(),
        &[
            "--chaos.delay",
            "rpc=30ms",
            "--chaos.trap",
            "rpc=1",
            "--metrics.addr",
            "127.0.0.1:0",
        ],
    );
    let metrics = metrics_addr(&node);

    // Every call fails as a trap would, with a JSON-RPC error, not a dropped request.
    let error = node.err("eth_chainId", json!([]));
    assert_eq!(error["code"], -32603);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("chaos: injected trap"),
        "{error}"
    );
    node.err("eth_blockNumber", json!([]));
    let failures = metric(
        &metrics,
        "molt_module_failures_total",
        &["slot=\"rpc\"", "kind=\"trap\""],
    );
    assert_eq!(failures, 2.0);
    // The delay is in the latency histogram: two calls took at least 30 ms each.
    let seconds = metric(&metrics, "molt_module_call_seconds_sum", &["slot=\"rpc\""]);
    assert!(seconds >= 0.06, "{seconds}");
    node.stop();
}

#[test]
fn a_failed_block_write_is_retried_and_an_aborted_commit_loses_no_committed_block() {
    let dir = tempfile::tempdir().unwrap();

    // Step 1: the first write of block 1 fails; the producer tries again and it lands.
    let node = DevNode::start(dir.path(), &["--chaos.commit", "fail@1"]);
    let first = node.ok("eth_sendRawTransaction", json!([transfer(0)]));
    let receipt = node.wait_for("eth_getTransactionReceipt", json!([first]));
    assert_eq!(receipt["blockNumber"], "0x1");
    node.stop();

    // Step 2: the process aborts inside the commit of block 2, after the write and
    // before the flush.
    let node = DevNode::start(dir.path(), &["--chaos.commit", "abort@2"]);
    node.ok("eth_sendRawTransaction", json!([transfer(1)]));
    assert_eq!(node.wait(), None, "killed by SIGABRT");

    // Step 3: restarted, the chain has block 1 with its receipt, its head (1 or the
    // written block 2) recomputes to its state root, and blocks come again.
    let db = molt_storage::Db::open(&dir.path().join("db")).unwrap();
    let head = db.head().unwrap().unwrap();
    assert!((1..=2).contains(&head), "head {head}");
    let header = db.header(head).unwrap().unwrap();
    assert_eq!(db.state_root().unwrap(), header.state_root);
    drop(db);
    let node = DevNode::start(dir.path(), &[]);
    assert_eq!(
        node.ok("eth_getTransactionReceipt", json!([first]))["status"],
        "0x1"
    );
    let nonce = quantity(&node.ok(
        "eth_getTransactionCount",
        json!([common::ACCOUNT0, "latest"]),
    ));
    let next = node.ok("eth_sendRawTransaction", json!([transfer(nonce)]));
    let receipt = node.wait_for("eth_getTransactionReceipt", json!([next]));
    assert_eq!(quantity(&receipt["blockNumber"]), head + 1);
    node.stop();
}

#[test]
fn a_canary_made_to_trap_is_rolled_back_and_the_active_version_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(
        dir.path(),
        &["--admin.port", "0", "--metrics.addr", "127.0.0.1:0"],
    );
    let (admin_api, metrics) = (admin_addr(&node), metrics_addr(&node));

    // Step 1: the built-in rpc module, signed again as 9.9.9, becomes a 50 % canary.
    let key = molt_upgrade_proxy::keys::read_signing_key(&dir.path().join("keys/dev.key")).unwrap();
    let builtin = molt_host::builtin::RPC_ETH;
    let mut manifest = builtin.manifest();
    manifest.version = "9.9.9".into();
    let package = dir.path().join("canary.wasm");
    std::fs::write(
        &package,
        molt_upgrade_proxy::package::sign(&builtin.wasm(), &manifest, &key).unwrap(),
    )
    .unwrap();
    let (ok, out) = common::molt_module(
        &["deploy", package.to_str().unwrap(), "--canary", "50%"],
        &admin_api,
        dir.path(),
    );
    assert!(ok, "{out}");

    // Step 2: chaos makes that version alone trap; the watch rolls it back at its
    // first failed call, and the active version answers everything after.
    admin(
        &node,
        dir.path(),
        "molt_chaos",
        json!([{"rpc": {"trap": 1, "version": "9.9.9"}}]),
    );
    let mut failed = 0;
    for _ in 0..200 {
        if node.call("eth_chainId", json!([])).get("error").is_some() {
            failed += 1;
        }
        if admin(&node, dir.path(), "molt_moduleStatus", json!([]))["rpc"]["canary"].is_null() {
            break;
        }
    }
    assert_eq!(
        failed, 1,
        "one call reached the trapping canary before its rollback"
    );
    let status = admin(&node, dir.path(), "molt_moduleStatus", json!([]));
    assert!(status["rpc"]["canary"].is_null(), "{status}");
    assert_ne!(status["rpc"]["active"]["version"], "9.9.9");
    for _ in 0..20 {
        node.ok("eth_chainId", json!([]));
    }

    // Step 3: the metrics show the canary's failure and its rollback.
    assert_eq!(
        metric(
            &metrics,
            "molt_module_failures_total",
            &["version=\"9.9.9\"", "kind=\"trap\""]
        ),
        1.0
    );
    let (_, text) = http_get(&metrics, "/metrics", None);
    assert!(
        text.contains("\nmolt_canary_rolled_back_total 1\n"),
        "{text}"
    );
    node.stop();
}
