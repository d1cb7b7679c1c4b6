//! The state at every block, through the real binary and its JSON-RPC: balances,
//! nonces, code, storage and calls at past blocks (by number, tag and hash), proofs
//! that verify against each block's `stateRoot` with an independent verifier
//! (`alloy-trie`), history across a restart and a `kill -9`, and `--history N`'s
//! clear error past its window.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::proof::verify_proof;
use alloy_trie::{Nibbles, TrieAccount};
use common::{ACCOUNT0, DevNode, quantity};
use serde_json::{Value, json};

/// A contract that returns slot 0 when called with less than a word of data (none, or
/// a selector) and stores its first calldata word in slot 0 otherwise.
const RUNTIME: &str = "601f361160125760005460005260206000f35b60003560005500";
/// Init code: copies [`RUNTIME`] (26 bytes, after these 11) out as the contract's code.
const INIT: &str = "601a80600b6000396000f3";

fn word(n: u64) -> String {
    format!("0x{:064x}", n)
}

/// Sends a transaction from the first dev account and waits for its receipt.
fn send(node: &DevNode, tx: Value) -> Value {
    let hash = node.ok("eth_sendTransaction", json!([tx]));
    node.wait_for("eth_getTransactionReceipt", json!([hash]))
}

fn head(node: &DevNode) -> u64 {
    quantity(&node.ok("eth_blockNumber", json!([])))
}

fn u256(v: &Value) -> U256 {
    v.as_str().unwrap().parse().unwrap()
}

fn bytes(v: &Value) -> Vec<Bytes> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().parse().unwrap())
        .collect()
}

/// What the chain looked like as it was built.
struct History {
    contract: String,
    /// The block that deployed the contract.
    deployed: u64,
    /// Blocks after which slot 0 held 1 and 2.
    one: u64,
    two: u64,
    /// The recipient of a transfer, and the blocks before and after it.
    recipient: String,
    before_transfer: u64,
    after_transfer: u64,
}

fn build(node: &DevNode) -> History {
    let receipt = send(
        node,
        json!({"from": ACCOUNT0, "data": format!("0x{INIT}{RUNTIME}"), "gas": "0x30000"}),
    );
    let contract = receipt["contractAddress"].as_str().unwrap().to_string();
    let deployed = quantity(&receipt["blockNumber"]);
    let set = |n: u64| {
        let r = send(
            node,
            json!({"from": ACCOUNT0, "to": contract, "data": word(n), "gas": "0x20000"}),
        );
        assert_eq!(r["status"], "0x1");
        quantity(&r["blockNumber"])
    };
    let one = set(1);
    let recipient = "0x00000000000000000000000000000000000000b0".to_string();
    let before_transfer = head(node);
    send(
        node,
        json!({"from": ACCOUNT0, "to": recipient, "value": "0x2a"}),
    );
    let after_transfer = head(node);
    let two = set(2);
    History {
        contract,
        deployed,
        one,
        two,
        recipient,
        before_transfer,
        after_transfer,
    }
}

/// Every state method at past blocks answers what the state was then.
fn check_history(node: &DevNode, h: &History) {
    let slot = |block: Value| u256(&node.ok("eth_getStorageAt", json!([h.contract, "0x0", block])));
    let n = |b: u64| json!(format!("0x{b:x}"));
    assert_eq!(slot(n(h.deployed)), U256::ZERO);
    assert_eq!(slot(n(h.one)), U256::from(1));
    assert_eq!(slot(n(h.two)), U256::from(2));
    assert_eq!(slot(json!("latest")), U256::from(2));
    // EIP-1898: by hash.
    let block_one = node.ok("eth_getBlockByNumber", json!([n(h.one), false]));
    assert_eq!(slot(json!({"blockHash": block_one["hash"]})), U256::from(1));

    let call = |block: Value| u256(&node.ok("eth_call", json!([{"to": h.contract}, block])));
    assert_eq!(call(n(h.one)), U256::from(1));
    assert_eq!(call(n(h.two)), U256::from(2));
    assert_eq!(call(json!("latest")), U256::from(2));

    let code = |b: u64| node.ok("eth_getCode", json!([h.contract, n(b)]));
    assert_eq!(code(h.deployed - 1), "0x");
    assert_eq!(code(h.deployed), format!("0x{RUNTIME}"));

    let balance = |b: u64| u256(&node.ok("eth_getBalance", json!([h.recipient, n(b)])));
    assert_eq!(balance(h.before_transfer), U256::ZERO);
    assert_eq!(balance(h.after_transfer), U256::from(42));
    let nonce = |b: u64| quantity(&node.ok("eth_getTransactionCount", json!([ACCOUNT0, n(b)])));
    assert_eq!(nonce(h.two) - nonce(h.one), 2);
    assert_eq!(nonce(0), 0);

    // Gas estimation at a past block runs on that block's state.
    let estimate = node.ok(
        "eth_estimateGas",
        json!([{"from": ACCOUNT0, "to": h.contract, "data": word(7)}, n(h.one)]),
    );
    assert!(quantity(&estimate) > 21_000);

    let e = node.err("eth_getBalance", json!([h.recipient, n(head(node) + 100)]));
    assert_eq!(e["message"], "header not found");
}

/// `eth_getProof` at `block` for the contract's slot 0 and an absent slot, and for an
/// absent account, verified against the block's state root.
fn check_proofs(node: &DevNode, h: &History, block: u64, expected_slot: u64) {
    let b = json!(format!("0x{block:x}"));
    let root: B256 = node.ok("eth_getBlockByNumber", json!([b, false]))["stateRoot"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let absent = "0x00000000000000000000000000000000000000c1";
    for (address, slots) in [
        (h.contract.as_str(), vec!["0x0", "0x5"]),
        (absent, vec!["0x0"]),
    ] {
        let p = node.ok("eth_getProof", json!([address, slots, b]));
        let a: Address = address.parse().unwrap();
        let account = TrieAccount {
            nonce: quantity(&p["nonce"]),
            balance: u256(&p["balance"]),
            storage_root: p["storageHash"].as_str().unwrap().parse().unwrap(),
            code_hash: p["codeHash"].as_str().unwrap().parse().unwrap(),
        };
        let exists = address != absent;
        verify_proof(
            root,
            Nibbles::unpack(keccak256(a)),
            exists.then(|| alloy_rlp::encode(account)),
            &bytes(&p["accountProof"]),
        )
        .unwrap_or_else(|e| panic!("account proof of {address} at {block}: {e}"));
        for s in p["storageProof"].as_array().unwrap() {
            let key: U256 = s["key"].as_str().unwrap().parse().unwrap();
            let value = u256(&s["value"]);
            if exists && key.is_zero() {
                assert_eq!(value, U256::from(expected_slot));
            }
            verify_proof(
                account.storage_root,
                Nibbles::unpack(keccak256(B256::from(key))),
                (!value.is_zero()).then(|| alloy_rlp::encode(value)),
                &bytes(&s["proof"]),
            )
            .unwrap_or_else(|e| panic!("slot {key} of {address} at {block}: {e}"));
        }
    }
}

#[test]
fn state_at_every_block_with_proofs_across_restart_and_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    // step: build a history on a fresh node (WebAssembly rpc module)
    let node = DevNode::start(dir.path(), &[]);
    let h = build(&node);
    check_history(&node, &h);
    check_proofs(&node, &h, h.one, 1);
    check_proofs(&node, &h, h.two, 2);

    // step: a restart keeps it
    node.stop();
    let node = DevNode::start(dir.path(), &["--engine", "native"]);
    check_history(&node, &h);
    check_proofs(&node, &h, h.one, 1);

    // step: evm_revert to a snapshot drops the later blocks' history with them, and
    // a kill -9 afterwards keeps what was committed
    let snapshot = node.ok("evm_snapshot", json!([]));
    let three = {
        let r = send(
            &node,
            json!({"from": ACCOUNT0, "to": h.contract, "data": word(3), "gas": "0x20000"}),
        );
        quantity(&r["blockNumber"])
    };
    assert_eq!(
        u256(&node.ok(
            "eth_getStorageAt",
            json!([h.contract, "0x0", format!("0x{three:x}")])
        )),
        U256::from(3)
    );
    assert_eq!(node.ok("evm_revert", json!([snapshot])), true);
    let e = node.err(
        "eth_getStorageAt",
        json!([h.contract, "0x0", format!("0x{three:x}")]),
    );
    assert_eq!(e["message"], "header not found");
    node.kill();
    let node = DevNode::start(dir.path(), &["--engine", "native"]);
    check_history(&node, &h);
    check_proofs(&node, &h, h.two, 2);
    node.stop();
}

#[test]
fn history_n_keeps_the_last_n_blocks_and_says_so_past_them() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--engine", "native", "--history", "3"]);
    node.ok("anvil_mine", json!(["0x8"]));
    let head = head(&node);
    let kept = format!("0x{:x}", head - 3);
    node.ok("eth_getBalance", json!([ACCOUNT0, kept]));
    let e = node.err("eth_getBalance", json!([ACCOUNT0, "0x1"]));
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("not kept") && message.contains("--history"),
        "{message}"
    );
    let e = node.err("eth_getProof", json!([ACCOUNT0, [], "0x1"]));
    assert!(e["message"].as_str().unwrap().contains("not kept"), "{e}");
    node.stop();
}

#[test]
fn eth_call_takes_state_and_block_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--engine", "native"]);
    let h = build(&node);
    let fresh = "0x00000000000000000000000000000000000000d1";
    let call = |overrides: Value, block: Value| {
        u256(&node.ok(
            "eth_call",
            json!([{"to": fresh}, "latest", overrides, block]),
        ))
    };
    // Code and one slot laid over an empty account.
    let code = format!("0x{RUNTIME}");
    assert_eq!(
        call(
            json!({fresh: {"code": code, "stateDiff": {word(0): word(5)}}}),
            json!({})
        ),
        U256::from(5)
    );
    // SELFBALANCE, with the balance replaced.
    assert_eq!(
        call(
            json!({fresh: {"code": "0x4760005260206000f3", "balance": "0x1234"}}),
            json!({})
        ),
        U256::from(0x1234)
    );
    // NUMBER, with the block's number replaced.
    assert_eq!(
        call(
            json!({fresh: {"code": "0x4360005260206000f3"}}),
            json!({"number": "0x99"})
        ),
        U256::from(0x99)
    );
    // The whole storage of a real contract replaced (slot 0 is 2 on the chain), at a
    // past block too; and the chain is untouched.
    let on = |block: Value| {
        u256(&node.ok(
            "eth_call",
            json!([{"to": h.contract}, block, {h.contract.clone(): {"state": {}}}]),
        ))
    };
    assert_eq!(on(json!("latest")), U256::ZERO);
    assert_eq!(on(json!(format!("0x{:x}", h.one))), U256::ZERO);
    assert_eq!(
        u256(&node.ok("eth_call", json!([{"to": h.contract}, "latest"]))),
        U256::from(2)
    );
    // Gas estimation sees the overrides too: the fresh account has no code otherwise.
    let estimate = node.ok(
        "eth_estimateGas",
        json!([{"from": ACCOUNT0, "to": fresh, "data": word(7)}, "latest", {fresh: {"code": code}}]),
    );
    assert!(quantity(&estimate) > 40_000, "{estimate}");

    let e = node.err(
        "eth_call",
        json!([{"to": fresh}, "latest", {fresh: {"state": {}, "stateDiff": {}}}]),
    );
    assert_eq!(e["code"], -32602);
    assert!(e["message"].as_str().unwrap().contains("both"), "{e}");
    node.stop();
}
