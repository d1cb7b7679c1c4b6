//! The rpc module as WebAssembly and as its native twin answer byte for byte the same,
//! over the same chain.

use std::sync::Arc;

use alloy_consensus::TxEip1559;
use alloy_primitives::{Bytes, TxKind, U256};

use super::*;
use molt_runtime::CallContext;

const GWEI: u128 = 1_000_000_000;

#[test]
fn wasm_and_native_rpc_answer_identically() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let rpc = runtime
        .load(
            &builtin::RPC_ETH.manifest(),
            &builtin::RPC_ETH.wasm(),
            &Grants::default(),
        )
        .unwrap();
    let signers = crate::dev_accounts::signers(2).unwrap();
    let alloc: Vec<_> = signers
        .iter()
        .map(|s| (s.address(), U256::from(10u128.pow(22))))
        .collect();
    let chain = Arc::new(
        builtin::native_chain(
            Db::temporary().unwrap(),
            ChainConfig {
                genesis_timestamp: 1_700_000_000,
                ..ChainConfig::dev()
            },
            keys::generate(),
            &alloc,
        )
        .unwrap(),
    );
    // A contract that emits a log with one topic (0x2a), and a transfer.
    let emit = Bytes::from_static(&[
        0x60, 0x2a, 0x60, 0x00, 0x60, 0x00, 0xa1, 0x00, // LOG1(0, 0, 0x2a)
    ]);
    let s = &signers[0];
    for (nonce, (to, input)) in [
        (
            TxKind::Create,
            Bytes::from_static(&[
                0x60, 0x08, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x08, 0x60, 0x00, 0xf3,
            ]),
        ),
        (TxKind::Call(signers[1].address()), Bytes::new()),
    ]
    .into_iter()
    .enumerate()
    {
        let init = if nonce == 0 {
            [input.as_ref(), emit.as_ref()].concat().into()
        } else {
            input
        };
        chain
            .submit(s.sign(TxEip1559 {
                chain_id: 31337,
                nonce: nonce as u64,
                gas_limit: 100_000,
                max_fee_per_gas: 10 * GWEI,
                max_priority_fee_per_gas: GWEI,
                to,
                input: init,
                ..TxEip1559::default()
            }))
            .unwrap();
    }
    chain.mine(1_700_000_012).unwrap();
    let contract = s.address().create(0);
    let logger = s.sign(TxEip1559 {
        chain_id: 31337,
        nonce: 2,
        gas_limit: 100_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(contract),
        ..TxEip1559::default()
    });
    chain.submit(logger).unwrap();
    chain.mine(1_700_000_024).unwrap();

    let queries: Arc<dyn ChainService> = Arc::new(Queries::new(
        chain.clone(),
        signers.clone(),
        false,
        Default::default(),
    ));
    let a0 = s.address();
    let requests = [
        r#"{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion"}"#.to_string(),
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":"x","method":"eth_blockNumber"}]"#.into(),
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["{a0}","latest"]}}"#),
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionCount","params":["{a0}","pending"]}}"#),
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getCode","params":["{contract}"]}}"#),
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1",true]}"#.into(),
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]}"#.into(),
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockReceipts","params":["0x1"]}"#.into(),
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x0","topics":["0x000000000000000000000000000000000000000000000000000000000000002a"]}]}"#.into(),
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_feeHistory","params":["0x3","latest",[10,90]]}"#.into(),
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_estimateGas","params":[{{"from":"{a0}","to":"{contract}"}}]}}"#),
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{{"from":"{a0}","data":"0x60006000fd"}}]}}"#),
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["{a0}","0x1"]}}"#),
        r#"{"jsonrpc":"2.0","id":1,"method":"evm_mine"}"#.into(),
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[7]}"#.into(),
        "{oops".into(),
    ];
    let host = molt_runtime::native::NativeChainHost::new("rpc-eth", queries.as_ref());
    for request in &requests {
        let (wasm, _) = rpc
            .call_with(
                "molt_rpc_handle",
                request.as_bytes(),
                CallContext::Chain(queries.clone()),
            )
            .unwrap();
        let native = molt_rpc_eth::native::handle(&host, request.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&wasm),
            String::from_utf8_lossy(&native),
            "{request}"
        );
    }
    // And the answers are the right ones.
    let answer = |request: &str| -> serde_json::Value {
        serde_json::from_slice(&molt_rpc_eth::native::handle(&host, request.as_bytes()).unwrap())
            .unwrap()
    };
    let logs = answer(&requests[8]);
    assert_eq!(logs["result"].as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(logs["result"][0]["address"], format!("{contract:#x}"));
    assert_eq!(logs["result"][0]["blockNumber"], "0x2");
    let block = answer(&requests[5]);
    assert_eq!(block["result"]["transactions"].as_array().unwrap().len(), 2);
    assert_eq!(
        block["result"]["hash"],
        format!(
            "{:#x}",
            molt_storage::state::StateView::block_hash(chain.db(), 1)
                .unwrap()
                .unwrap()
        )
    );
    let past = answer(&requests[12]);
    assert!(past["result"].is_string(), "the state at block 1: {past}");
    assert_eq!(
        answer(&requests[13])["error"]["message"],
        "dev methods are disabled on this node"
    );
    assert_eq!(answer(&requests[14])["error"]["code"], -32602);
}

#[test]
fn the_gate_sample_keeps_recent_requests_and_the_shadow_chain_refuses_writes() {
    let sample = Sample::default();
    let read = br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#;
    for _ in 0..Sample::EVERY * 200 {
        sample.offer(read);
    }
    assert_eq!(sample.bodies().len(), Sample::SIZE);
    assert!(sample.bodies().iter().all(|b| b == read));

    // What a shadow run may do is decided by the operation, not by the request's words.
    struct Counting(std::sync::atomic::AtomicU32);
    impl ChainService for Counting {
        fn query(&self, _: &[u8]) -> Vec<u8> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            molt_abi::rpc::ok(&0u64)
        }
    }
    let inner = Arc::new(Counting(Default::default()));
    let shadow = super::gate::ShadowChain(inner.clone());
    use molt_abi::rpc::op;
    for write in [
        op::SEND_RAW,
        op::SIGN,
        op::MINE,
        op::SNAPSHOT,
        op::REVERT,
        op::SET_BALANCE,
        200,
    ] {
        let answer = shadow.query(&[write]);
        assert_eq!(answer[0], molt_abi::rpc::STATUS_ERR, "op {write}");
        assert_eq!(&answer[1..], b"not allowed in a shadow run");
    }
    assert_eq!(inner.0.load(std::sync::atomic::Ordering::Relaxed), 0);
    for read in [
        op::CHAIN_INFO,
        op::HEADER,
        op::ACCOUNT,
        op::CALL,
        op::POOL_TX,
    ] {
        assert_eq!(shadow.query(&[read])[0], molt_abi::rpc::STATUS_OK);
    }
    assert_eq!(inner.0.load(std::sync::atomic::Ordering::Relaxed), 5);
}

#[test]
fn granted_directories_are_per_module_name_and_only_for_modules_that_ask() {
    use molt_abi::{ABI_VERSION, Budgets, Capability, Kind, Manifest};
    let root = tempfile::tempdir().unwrap();
    let grants = ModuleGrants {
        stdio: true,
        dir: Some(root.path().to_path_buf()),
    };
    let manifest = |name: &str, capabilities: Vec<Capability>| Manifest {
        abi_version: ABI_VERSION,
        kind: Kind::Rpc,
        name: name.into(),
        version: "1.0.0".into(),
        budgets: Budgets::default(),
        capabilities,
    };
    let asks = grants
        .of(&manifest("notes", vec![Capability::PreopenDir]))
        .unwrap();
    assert_eq!(asks.dir, Some(root.path().join("notes")));
    assert!(root.path().join("notes").is_dir());
    assert!(asks.stdio);
    let not_asking = grants.of(&manifest("quiet", vec![])).unwrap();
    assert_eq!(not_asking.dir, None);
    assert!(!root.path().join("quiet").exists());
    // A name of dots would leave the granted directory.
    assert!(
        grants
            .of(&manifest("..", vec![Capability::PreopenDir]))
            .is_err()
    );
    // Nothing is granted unless the operator says so.
    let none = ModuleGrants::default()
        .of(&manifest("notes", vec![Capability::PreopenDir]))
        .unwrap();
    assert_eq!((none.stdio, none.dir), (false, None));
}
