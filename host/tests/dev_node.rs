//! `molt dev` from a client's point of view: the real binary on an ephemeral port,
//! JSON-RPC over HTTP, restarts on the same data directory, SIGKILL under load.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};
use common::{ACCOUNT0, ACCOUNT1, DevNode, KEY0, quantity};
use molt_chain::signer::Signer;
use serde_json::{Value, json};

const GWEI: u128 = 1_000_000_000;

fn signer(key: &str) -> Signer {
    Signer::from_secret(&key.parse().unwrap()).unwrap()
}

fn hex(b: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(b))
}

fn transfer_1559(s: &Signer, nonce: u64, to: Address, value: u64, chain_id: u64) -> Bytes {
    s.sign(TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(to),
        value: U256::from(value),
        ..TxEip1559::default()
    })
}

fn send(node: &DevNode, raw: &Bytes) -> Value {
    node.call("eth_sendRawTransaction", json!([hex(raw)]))
}

fn balance(node: &DevNode, address: &str) -> U256 {
    node.ok("eth_getBalance", json!([address, "latest"]))
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Opens the stopped node's database and checks what a crash must never break: the
/// head's state root recomputes from the stored state, every block links to its
/// parent, and every transaction is indexed where it is.
fn assert_consistent(datadir: &std::path::Path) -> u64 {
    let db = molt_storage::Db::open(&datadir.join("db")).unwrap();
    let head = db.head().unwrap().unwrap();
    let header = db.header(head).unwrap().unwrap();
    assert_eq!(
        db.state_root().unwrap(),
        header.state_root,
        "head state root"
    );
    for n in 1..=head {
        let h = db.header(n).unwrap().unwrap();
        let parent = db.header(n - 1).unwrap().unwrap();
        assert_eq!(
            h.parent_hash,
            parent.hash_slow(),
            "block {n} links to {}",
            n - 1
        );
        for (i, tx) in db.transactions(n).unwrap().unwrap().iter().enumerate() {
            let hash = alloy_primitives::keccak256(tx);
            assert_eq!(db.transaction_location(&hash).unwrap(), Some((n, i as u32)));
        }
    }
    head
}

#[test]
fn serves_real_transactions_and_keeps_everything_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    assert!(
        node.banner
            .contains(&format!("(0) {ACCOUNT0} (10000.000000000000000000 ETH)"))
    );
    assert!(node.banner.contains(KEY0), "{}", node.banner);
    assert!(node.banner.contains("new chain"), "{}", node.banner);
    assert_eq!(node.ok("eth_chainId", json!([])), "0x7a69");
    assert_eq!(node.ok("net_version", json!([])), "31337");
    assert!(
        node.ok("web3_clientVersion", json!([]))
            .as_str()
            .unwrap()
            .starts_with("molt/")
    );
    assert_eq!(
        node.ok("eth_accounts", json!([]))[1],
        ACCOUNT1.to_lowercase()
    );

    // One transaction of each type, signed here, mined by the node.
    let s = signer(KEY0);
    let to: Address = ACCOUNT1.parse().unwrap();
    let to_before = balance(&node, ACCOUNT1);
    let raws = [
        s.sign(TxLegacy {
            chain_id: Some(31337),
            nonce: 0,
            gas_price: 3 * GWEI,
            gas_limit: 21_000,
            to: TxKind::Call(to),
            value: U256::from(1),
            input: Bytes::new(),
        }),
        s.sign(TxEip2930 {
            chain_id: 31337,
            nonce: 1,
            gas_price: 3 * GWEI,
            gas_limit: 21_000,
            to: TxKind::Call(to),
            value: U256::from(2),
            ..TxEip2930::default()
        }),
        transfer_1559(&s, 2, to, 4, 31337),
    ];
    let mut receipts = Vec::new();
    for (ty, raw) in raws.iter().enumerate() {
        let hash = send(&node, raw)["result"].clone();
        assert_eq!(hash, hex(alloy_primitives::keccak256(raw).as_slice()));
        let receipt = node.wait_for("eth_getTransactionReceipt", json!([hash]));
        assert_eq!(receipt["status"], "0x1");
        assert_eq!(quantity(&receipt["type"]), ty as u64);
        assert_eq!(receipt["from"], ACCOUNT0.to_lowercase());
        let tx = node.ok("eth_getTransactionByHash", json!([hash]));
        assert_eq!(tx["blockHash"], receipt["blockHash"]);
        receipts.push(receipt);
    }
    assert_eq!(balance(&node, ACCOUNT1), to_before + U256::from(7));
    assert_eq!(
        node.ok("eth_getTransactionCount", json!([ACCOUNT0, "latest"])),
        "0x3"
    );
    let head = node.ok("eth_getBlockByNumber", json!(["latest", true]));
    let before = (
        node.ok("eth_blockNumber", json!([])),
        balance(&node, ACCOUNT0),
        balance(&node, ACCOUNT1),
    );
    node.stop();

    // Same data directory: the chain resumes where it stopped.
    let node = DevNode::start(dir.path(), &[]);
    assert!(node.banner.contains("resumed at block"), "{}", node.banner);
    let after = (
        node.ok("eth_blockNumber", json!([])),
        balance(&node, ACCOUNT0),
        balance(&node, ACCOUNT1),
    );
    assert_eq!(before, after);
    assert_eq!(
        node.ok("eth_getBlockByNumber", json!(["latest", true])),
        head
    );
    for r in &receipts {
        assert_eq!(
            &node.ok("eth_getTransactionReceipt", json!([r["transactionHash"]])),
            r
        );
    }
    // And keeps going.
    let hash = send(&node, &transfer_1559(&s, 3, to, 8, 31337))["result"].clone();
    node.wait_for("eth_getTransactionReceipt", json!([hash]));
    node.stop();
    assert_consistent(dir.path());
}

#[test]
fn refuses_bad_input_with_the_right_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    let code = |e: &Value| e["code"].as_i64().unwrap();
    let message = |e: &Value| e["message"].as_str().unwrap().to_string();

    let raw = |body: &str| {
        let (status, body) = common::post(node.addr, body.as_bytes());
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    assert_eq!(code(&raw("{not json")["error"]), -32700);
    assert_eq!(code(&raw("[]")["error"]), -32600);
    assert_eq!(code(&raw(r#"{"jsonrpc":"2.0","id":1}"#)["error"]), -32600);
    assert_eq!(
        code(&raw(r#"{"jsonrpc":"2.0","id":1,"method":7}"#)["error"]),
        -32600
    );
    let batch = raw(
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#,
    );
    assert_eq!(batch[0]["result"], "0x7a69");
    assert_eq!(code(&batch[1]["error"]), -32601);
    assert_eq!(code(&node.err("eth_nope", json!([]))), -32601);
    assert_eq!(code(&node.err("eth_getBalance", json!(["0x1234"]))), -32602);
    assert_eq!(code(&node.err("eth_getBalance", json!([]))), -32602);
    assert_eq!(
        code(&node.err("eth_getBlockByNumber", json!(["latest", "yes"]))),
        -32602
    );
    assert_eq!(code(&node.err("eth_blockNumber", json!({"a": 1}))), -32602);
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":["{}"]}}"#,
        "a".repeat(6 << 20)
    );
    assert_eq!(common::post(node.addr, huge.as_bytes()).0, 413);

    let s = signer(KEY0);
    let to: Address = ACCOUNT1.parse().unwrap();
    let e = send(&node, &Bytes::from_static(&[0x02, 0x12, 0x34]))["error"].clone();
    assert_eq!(code(&e), -32000);
    assert!(message(&e).starts_with("invalid transaction"), "{e}");

    let unsigned = TxEip1559 {
        chain_id: 31337,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        to: TxKind::Call(to),
        ..TxEip1559::default()
    };
    let bad_sig =
        TxEnvelope::from(unsigned.into_signed(Signature::new(U256::ZERO, U256::ZERO, false)));
    let e = send(&node, &bad_sig.encoded_2718().into())["error"].clone();
    assert!(message(&e).starts_with("invalid sender"), "{e}");

    let e = send(&node, &transfer_1559(&s, 0, to, 1, 1))["error"].clone();
    assert_eq!(message(&e), "invalid chain id: expected 31337, got 1");

    // Mined, then replayed.
    let first = transfer_1559(&s, 0, to, 1, 31337);
    let hash = send(&node, &first)["result"].clone();
    node.wait_for("eth_getTransactionReceipt", json!([hash]));
    let e = send(&node, &first)["error"].clone();
    assert_eq!(message(&e), "nonce too low: next nonce 1, tx nonce 0");

    // A nonce gap waits in the pool; a replacement must pay more; filling the gap
    // mines both.
    let gapped = transfer_1559(&s, 2, to, 3, 31337);
    let gapped_hash = send(&node, &gapped)["result"].clone();
    assert!(gapped_hash.is_string(), "{gapped_hash}");
    node.ok("evm_mine", json!([]));
    assert!(
        node.ok("eth_getTransactionReceipt", json!([gapped_hash]))
            .is_null()
    );
    let e = send(&node, &transfer_1559(&s, 2, to, 99, 31337))["error"].clone();
    assert_eq!(message(&e), "replacement transaction underpriced");
    assert_eq!(
        node.ok("eth_getTransactionCount", json!([ACCOUNT0, "pending"])),
        "0x1"
    );
    let fill = send(&node, &transfer_1559(&s, 1, to, 2, 31337))["result"].clone();
    node.wait_for("eth_getTransactionReceipt", json!([fill]));
    let r = node.wait_for("eth_getTransactionReceipt", json!([gapped_hash]));
    assert_eq!(r["status"], "0x1");

    // eth_call reverts carry their data; unknown accounts cannot sign.
    let e = node.err(
        "eth_call",
        json!([{"from": ACCOUNT0, "data": "0x60006000fd"}, "latest"]),
    );
    assert_eq!(code(&e), 3);
    assert_eq!(e["data"], "0x");
    let e = node.err(
        "eth_sendTransaction",
        json!([{"from": "0x0000000000000000000000000000000000000001", "to": ACCOUNT1}]),
    );
    assert_eq!(code(&e), -32000);
    assert!(message(&e).contains("unknown account"), "{e}");

    node.stop();
    assert_consistent(dir.path());
}

#[test]
fn dev_helpers_mine_snapshot_revert_and_set_balances() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--engine", "native"]);
    let n0 = quantity(&node.ok("eth_blockNumber", json!([])));
    node.ok("evm_mine", json!([]));
    node.ok("anvil_mine", json!(["0x2"]));
    assert_eq!(quantity(&node.ok("eth_blockNumber", json!([]))), n0 + 3);

    let snapshot = node.ok("evm_snapshot", json!([]));
    let before = balance(&node, ACCOUNT1);
    let hash = node.ok(
        "eth_sendTransaction",
        json!([{"from": ACCOUNT0, "to": ACCOUNT1, "value": "0x64"}]),
    );
    node.wait_for("eth_getTransactionReceipt", json!([hash]));
    assert_eq!(balance(&node, ACCOUNT1), before + U256::from(100));
    assert_eq!(node.ok("evm_revert", json!([snapshot])), true);
    assert_eq!(balance(&node, ACCOUNT1), before);
    assert_eq!(quantity(&node.ok("eth_blockNumber", json!([]))), n0 + 3);
    assert!(
        node.ok("eth_getTransactionReceipt", json!([hash]))
            .is_null()
    );
    assert_eq!(node.ok("evm_revert", json!([snapshot])), false);

    // A snapshot restores everything made after it: blocks, dev edits (before and
    // after a block), and the pool.
    let snapshot = node.ok("evm_snapshot", json!([]));
    let head = node.ok("eth_blockNumber", json!([]));
    let (b0, b1) = (balance(&node, ACCOUNT0), balance(&node, ACCOUNT1));
    node.ok("anvil_setBalance", json!([ACCOUNT1, "0x1"]));
    let hash = node.ok(
        "eth_sendTransaction",
        json!([{"from": ACCOUNT0, "to": ACCOUNT1, "value": "0x64"}]),
    );
    node.wait_for("eth_getTransactionReceipt", json!([hash]));
    let s = signer(KEY0);
    let to: Address = ACCOUNT1.parse().unwrap();
    let nonce = quantity(&node.ok("eth_getTransactionCount", json!([ACCOUNT0, "latest"])));
    let gapped = send(&node, &transfer_1559(&s, nonce + 1, to, 5, 31337))["result"].clone();
    node.ok("anvil_setBalance", json!([ACCOUNT0, "0x2"]));
    assert_eq!(balance(&node, ACCOUNT0), U256::from(2));
    assert_eq!(node.ok("evm_revert", json!([snapshot])), true);
    assert_eq!(node.ok("eth_blockNumber", json!([])), head);
    assert_eq!(balance(&node, ACCOUNT0), b0);
    assert_eq!(balance(&node, ACCOUNT1), b1);
    assert!(node.ok("eth_getTransactionByHash", json!([hash])).is_null());
    // The gapped transaction pooled after the snapshot is gone with it.
    assert!(
        node.ok("eth_getTransactionByHash", json!([gapped]))
            .is_null()
    );

    let rich = "0x00000000000000000000000000000000000000aa";
    node.ok("anvil_setBalance", json!([rich, "0xde0b6b3a7640000"]));
    assert_eq!(balance(&node, rich), U256::from(10u64.pow(18)));
    // The next block's state root includes the edit.
    node.ok("evm_mine", json!([]));
    node.stop();
    assert_consistent(dir.path());
}

#[test]
fn kill_9_under_load_loses_no_transaction_a_client_saw_mined() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    let addr = node.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mined = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Two senders (dev accounts 2 and 3), each: send, wait for the receipt, remember.
    let keys = [
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    ];
    let workers: Vec<_> = keys
        .iter()
        .map(|key| {
            let s = signer(key);
            let stop = stop.clone();
            let mined = mined.clone();
            std::thread::spawn(move || {
                let mut seen: Vec<B256> = Vec::new();
                let to: Address = ACCOUNT1.parse().unwrap();
                for nonce in 0.. {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let raw = transfer_1559(&s, nonce, to, 1, 31337);
                    let body = json!({"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[hex(&raw)]});
                    let Some(hash) = try_call(addr, &body) else { break };
                    loop {
                        let body = json!({"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":[hash]});
                        match try_call(addr, &body) {
                            None => return seen,
                            Some(Value::Null) => std::thread::sleep(std::time::Duration::from_millis(5)),
                            Some(_) => break,
                        }
                    }
                    seen.push(hash.as_str().unwrap().parse().unwrap());
                    mined.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                seen
            })
        })
        .collect();
    // Kill it once clients have seen some transactions mined, in the middle of more.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while mined.load(std::sync::atomic::Ordering::SeqCst) < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "transactions stopped being mined"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    node.kill();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen: Vec<B256> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        seen.len() >= 10,
        "only {} transactions got through",
        seen.len()
    );

    let node = DevNode::start(dir.path(), &[]);
    for hash in &seen {
        let r = node.ok("eth_getTransactionReceipt", json!([hash]));
        assert_eq!(r["status"], "0x1", "{hash} was seen mined before the crash");
    }
    node.stop();
    assert_consistent(dir.path());
}

/// A JSON-RPC call that may fail because the node is gone: its result, or `None`.
fn try_call(addr: std::net::SocketAddr, body: &Value) -> Option<Value> {
    let (status, body) = common::try_post(addr, body.to_string().as_bytes())?;
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    v.get("result").cloned()
}

#[test]
fn with_a_block_time_blocks_come_on_schedule_even_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--block-time", "1"]);
    assert!(node.banner.contains("a block every 1 s"), "{}", node.banner);
    let start = quantity(&node.ok("eth_blockNumber", json!([])));
    let hash = node.ok(
        "eth_sendTransaction",
        json!([{"from": ACCOUNT0, "to": ACCOUNT1, "value": "0x1"}]),
    );
    let receipt = node.wait_for("eth_getTransactionReceipt", json!([hash]));
    assert_eq!(receipt["status"], "0x1");
    // Empty blocks keep coming (waiting for them, not timing them: the machine may be
    // loaded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let head = loop {
        let head = quantity(&node.ok("eth_blockNumber", json!([])));
        if head >= start + 3 {
            break head;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "blocks stopped at {head}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let a = node.ok(
        "eth_getBlockByNumber",
        json!([format!("{:#x}", head - 1), false]),
    );
    let b = node.ok("eth_getBlockByNumber", json!([format!("{head:#x}"), false]));
    assert!(quantity(&b["timestamp"]) > quantity(&a["timestamp"]));
    node.stop();
}

#[test]
fn a_pending_transaction_is_found_by_hash_before_it_is_mined() {
    let dir = tempfile::tempdir().unwrap();
    // No block for an hour unless asked.
    let node = DevNode::start(dir.path(), &["--block-time", "3600"]);
    let hash = node.ok(
        "eth_sendTransaction",
        json!([{"from": ACCOUNT0, "to": ACCOUNT1, "value": "0x2a"}]),
    );
    let pending = node.ok("eth_getTransactionByHash", json!([hash]));
    assert_eq!(pending["hash"], hash, "{pending}");
    assert_eq!(pending["from"].as_str().unwrap(), ACCOUNT0.to_lowercase());
    assert_eq!(pending["value"], "0x2a");
    assert!(pending["blockNumber"].is_null(), "{pending}");
    assert!(pending["blockHash"].is_null(), "{pending}");
    assert!(pending["transactionIndex"].is_null(), "{pending}");
    assert!(
        node.ok("eth_getTransactionReceipt", json!([hash]))
            .is_null()
    );

    node.ok("evm_mine", json!([]));
    let mined = node.ok("eth_getTransactionByHash", json!([hash]));
    assert_eq!(mined["hash"], hash);
    assert!(mined["blockNumber"].is_string(), "{mined}");
    // Neither pooled nor mined: null, as before.
    let unknown = format!("0x{}", "77".repeat(32));
    assert!(
        node.ok("eth_getTransactionByHash", json!([unknown]))
            .is_null()
    );
    node.stop();
}

#[test]
fn eth_call_is_held_to_the_gas_cap_and_the_evm_timeout() {
    // JUMPDEST PUSH1 0 JUMP as init code: a call that loops until its gas runs out.
    let endless = json!({"from": ACCOUNT0, "data": "0x5b600056", "gas": "0xffffffffffffffff"});

    // With the defaults (50 M gas), the loop ends out of gas, in well under the
    // 5 s timeout.
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    let e = node.err("eth_call", json!([endless, "latest"]));
    assert_eq!(e["code"], -32000);
    assert_eq!(e["message"], "out of gas");
    let e = node.err("eth_estimateGas", json!([endless]));
    assert!(e["message"].as_str().unwrap().contains("out of gas"), "{e}");
    // The lowest gas that succeeds, not the bound plus a margin.
    assert_eq!(
        node.ok(
            "eth_estimateGas",
            json!([{"from": ACCOUNT0, "to": ACCOUNT1, "value": "0x1"}])
        ),
        "0x5208"
    );
    let store = json!({"from": ACCOUNT0, "data": "0x602a60005500"}); // SSTORE(0, 42) in init code
    let estimate = quantity(&node.ok("eth_estimateGas", json!([store])));
    let mut at = store.clone();
    at["gas"] = json!(format!("0x{estimate:x}"));
    node.ok("eth_call", json!([at, "latest"]));
    at["gas"] = json!(format!("0x{:x}", estimate - 1));
    assert!(node.call("eth_call", json!([at, "latest"]))["error"].is_object());
    node.stop();

    // Without a gas cap the loop would run for ever: the timeout stops it, and the
    // node answers other requests meanwhile.
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--rpc.gascap", "0", "--rpc.evmtimeout", "2s"]);
    let addr = node.addr;
    let started = std::time::Instant::now();
    let call = std::thread::spawn(move || {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [endless, "latest"]});
        let (_, body) = common::post(addr, body.to_string().as_bytes());
        (
            serde_json::from_str::<Value>(&body).unwrap(),
            started.elapsed(),
        )
    });
    let mut answered_meanwhile = 0;
    while !call.is_finished() {
        node.ok("eth_blockNumber", json!([]));
        answered_meanwhile += 1;
    }
    let (answer, elapsed) = call.join().unwrap();
    assert_eq!(answer["error"]["code"], -32000, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "execution aborted (timeout = 2s)"
    );
    assert!(elapsed >= std::time::Duration::from_secs(2), "{elapsed:?}");
    assert!(answered_meanwhile > 10, "{answered_meanwhile}");
    node.stop();
}
