//! The execution module from the host's side: WASM and native agree byte for byte,
//! bad transactions get precise rejections, and a guest out of fuel fails the block
//! cleanly.

use std::sync::{Arc, OnceLock};

use alloy_consensus::{TxEip1559, TxLegacy};
use alloy_primitives::{Address, Bytes, TxKind, U256, address};
use molt_abi::execution::{BlockEnv, BlockInput, TxOutcome, reject};

use crate::builtin;
use molt_chain::signer::Signer;
use molt_runtime::{CallError, EngineError, Executor};
use molt_runtime::{Grants, Runtime, RuntimeConfig};
use molt_storage::state::MemState;

const ETH: u128 = 1_000_000_000_000_000_000;
const GWEI: u128 = 1_000_000_000;
const CHAIN_ID: u64 = 31337;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime"))
}

pub(super) fn wasm() -> Executor {
    let m = builtin::EXECUTION;
    Executor::Wasm(
        runtime()
            .load(&m.manifest(), &m.wasm(), &Grants::default())
            .expect("loads"),
    )
}

/// Anvil's first dev key, so failures can be replayed with real tools.
fn signer() -> Signer {
    let secret = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    Signer::from_secret(&secret.parse().unwrap()).unwrap()
}

const SENDER: Address = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const RECIPIENT: Address = address!("00000000000000000000000000000000000000b0");

fn legacy(nonce: u64, chain_id: u64, value: u128, gas_limit: u64) -> Bytes {
    signer().sign(TxLegacy {
        chain_id: Some(chain_id),
        nonce,
        gas_price: 2 * GWEI,
        gas_limit,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(value),
        input: Bytes::new(),
    })
}

fn dynamic_fee(nonce: u64, gas_limit: u64, to: TxKind, input: Bytes) -> Bytes {
    signer().sign(TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 3 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    })
}

fn env() -> BlockEnv {
    BlockEnv {
        spec: "Cancun".into(),
        chain_id: CHAIN_ID,
        number: 1,
        timestamp: 1_700_000_000,
        coinbase: address!("00000000000000000000000000000000000000c0"),
        gas_limit: 30_000_000,
        base_fee: GWEI as u64,
        ..BlockEnv::default()
    }
}

/// A block of `txs` in [`env`], without impersonation.
fn block(txs: Vec<Bytes>) -> BlockInput {
    BlockInput {
        env: env(),
        txs,
        impersonation: None,
    }
}

fn state() -> Arc<MemState> {
    let mut s = MemState::new();
    s.insert_account(SENDER, U256::from(ETH), 5, Bytes::new(), []);
    Arc::new(s)
}

/// Runs a block on both engines, checks they agree byte for byte, returns the output.
fn run_both(state: Arc<MemState>, input: &BlockInput) -> molt_abi::execution::BlockOutput {
    let encoded = molt_abi::execution::encode(input);
    let (native, _) = crate::builtin::native_executor()
        .execute_block_raw(state.clone(), &encoded)
        .expect("native");
    let (wasm_out, stats) = wasm().execute_block_raw(state, &encoded).expect("wasm");
    assert_eq!(native, wasm_out, "WASM and native outputs differ");
    assert!(stats.is_some_and(|s| s.fuel_used > 0 && s.peak_memory > 0));
    molt_abi::execution::decode(&native).expect("decodes")
}

fn codes(out: &molt_abi::execution::BlockOutput) -> Vec<String> {
    out.outcomes
        .iter()
        .map(|o| match o {
            TxOutcome::Included(r) => format!("included:{}", r.success),
            TxOutcome::Rejected(r) => r.code.clone(),
        })
        .collect()
}

#[test]
fn every_bad_transaction_gets_a_precise_rejection() {
    let txs = vec![
        Bytes::from_static(b"\x02\xc0garbage"),
        legacy(5, 1, 1, 21_000),               // signed for chain 1
        legacy(4, CHAIN_ID, 1, 21_000),        // nonce already used
        legacy(5, CHAIN_ID, 10 * ETH, 21_000), // more value than balance
        legacy(5, CHAIN_ID, 1, 20_000),        // below the intrinsic 21000
        legacy(5, CHAIN_ID, 1, 40_000_000),    // above the block gas limit
        legacy(5, CHAIN_ID, 1, 21_000),        // fine
        legacy(6, CHAIN_ID, 1, 29_990_000),    // more than the block has left
        legacy(8, CHAIN_ID, 1, 21_000),        // skips nonce 6 and 7
        dynamic_fee(6, 21_000, TxKind::Call(RECIPIENT), Bytes::new()), // fine
    ];
    let out = run_both(state(), &block(txs));
    assert_eq!(
        codes(&out),
        [
            reject::MALFORMED,
            reject::WRONG_CHAIN_ID,
            reject::NONCE_TOO_LOW,
            reject::INSUFFICIENT_FUNDS,
            reject::INTRINSIC_GAS_TOO_LOW,
            reject::GAS_LIMIT_EXCEEDS_BLOCK,
            "included:true",
            reject::BLOCK_GAS_EXHAUSTED,
            reject::NONCE_TOO_HIGH,
            "included:true",
        ]
    );
    assert_eq!(out.gas_used, 42_000);
    // Only the two included transfers changed anything.
    let mut post = (*state()).clone();
    post.apply(&out.accounts, &out.codes);
    let sender = molt_storage::state::StateView::account(&post, &SENDER)
        .unwrap()
        .unwrap();
    assert_eq!(sender.nonce, 7);
    let recipient = molt_storage::state::StateView::account(&post, &RECIPIENT)
        .unwrap()
        .unwrap();
    assert_eq!(recipient.balance, U256::from(1));
}

#[test]
fn contract_creation_returns_its_address_and_code() {
    // Init code that stores 0x01 at memory 0 and returns that byte as the runtime code.
    let init = Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x53, 0x60, 0x01, 0x60, 0x00, 0xf3]);
    let txs = vec![dynamic_fee(5, 100_000, TxKind::Create, init)];
    let out = run_both(state(), &block(txs));
    let TxOutcome::Included(receipt) = &out.outcomes[0] else {
        panic!("rejected: {:?}", out.outcomes[0]);
    };
    assert!(receipt.success);
    assert_eq!(
        receipt.contract_address.as_ref(),
        SENDER.create(5).as_slice()
    );
    assert_eq!(out.codes.len(), 1);
    assert_eq!(out.codes[0].code.as_ref(), &[0x01]);
}

#[test]
fn a_guest_out_of_fuel_fails_the_block_cleanly() {
    let m = builtin::EXECUTION;
    let mut manifest = m.manifest();
    manifest.budgets.fuel = 100_000;
    let starved = Executor::Wasm(
        runtime()
            .load(&manifest, &m.wasm(), &Grants::default())
            .unwrap(),
    );
    let input = block(vec![legacy(5, CHAIN_ID, 1, 21_000)]);
    let err = starved.execute_block(state(), &input).unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Call(CallError::OutOfFuel { budget: 100_000 })
        ),
        "{err}"
    );
    // The node is fine and the normal module still executes the same block.
    let out = wasm().execute_block(state(), &input).unwrap();
    assert_eq!(codes(&out), ["included:true"]);
}

#[test]
fn a_malformed_block_is_refused_not_trapped() {
    let err = wasm().execute_block_raw(state(), b"\xff\x00").unwrap_err();
    assert!(
        matches!(&err, EngineError::Call(CallError::Refused(m)) if m.starts_with("malformed block input")),
        "{err}"
    );
    let mut bad_fork = block(vec![]);
    bad_fork.env.spec = "Atlantis".into();
    let err = crate::builtin::native_executor()
        .execute_block(state(), &bad_fork)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by the module: unknown spec \"Atlantis\""
    );
}

#[test]
fn wasm_and_native_agree_on_conformance_blocks() {
    // Every Cancun transaction of a unit, as one block: nonces clash, so blocks mix
    // inclusions and rejections, which is the point.
    let root = crate::statetest::fixtures_dir();
    let mut blocks = 0;
    for dir in [
        "stExample",
        "stLogTests",
        "Pyspecs/cancun/eip1153_tstore",
        "stCreateTest",
    ] {
        for file in crate::statetest::collect_files(&[root.join(dir)]).unwrap() {
            for (name, pre, input) in crate::statetest::blocks(&file, "Cancun").unwrap() {
                let encoded = molt_abi::execution::encode(&input);
                let state = Arc::new(pre);
                let (native, _) = crate::builtin::native_executor()
                    .execute_block_raw(state.clone(), &encoded)
                    .unwrap();
                let (wasm_out, _) = wasm().execute_block_raw(state, &encoded).unwrap();
                assert!(
                    native == wasm_out,
                    "{}::{name}: outputs differ",
                    file.display()
                );
                blocks += 1;
            }
        }
    }
    assert!(blocks > 100, "only {blocks} blocks compared");
}

#[test]
fn calls_return_data_and_revert_reasons_without_committing() {
    use crate::bench::workloads;
    use molt_abi::execution::CallInput;
    let w = workloads::erc20_transfers(1);
    let holder = workloads::sender().address();
    let state = Arc::new(w.pre.clone());
    let call = |signature: &str, args: &[alloy_primitives::B256]| CallInput {
        env: w.block.env.clone(),
        from: holder,
        to: workloads::TOKEN.to_vec().into(),
        data: workloads::calldata::call(signature, args),
        gas_limit: 1_000_000,
        ..CallInput::default()
    };
    let balance_of = call("balanceOf(address)", &[holder.into_word()]);
    let too_much = call(
        "transfer(address,uint256)",
        &[RECIPIENT.into_word(), U256::MAX.into()],
    );
    for engine in [wasm(), crate::builtin::native_executor()] {
        let out = engine.execute_call(state.clone(), &balance_of).unwrap();
        assert_eq!(out.status, 0, "{}", out.message);
        assert_eq!(U256::from_be_slice(&out.output), U256::from(10u128.pow(24)));
        let out = engine.execute_call(state.clone(), &too_much).unwrap();
        assert_eq!(out.status, 1);
        // Error(string) with the contract's reason.
        assert!(out.output.windows(20).any(|w| w == b"insufficient balance"));
        assert!(out.gas_used > 21_000);
    }
}

/// A type-3 transaction in its network form (with the blobs, commitments and proofs
/// `cast send --blob` sends), one zero blob.
pub(super) fn blob_with_sidecar(nonce: u64) -> Bytes {
    use alloy_consensus::{TxEip4844, TxEip4844Variant, TxEip4844WithSidecar};
    use alloy_eips::eip4844::{BlobTransactionSidecar, Bytes48};
    use alloy_eips::eip7594::BlobTransactionSidecarVariant;
    let sidecar = BlobTransactionSidecar::new(
        vec![Default::default()],
        vec![Bytes48::ZERO],
        vec![Bytes48::ZERO],
    );
    let tx = TxEip4844 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 3 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: RECIPIENT,
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: 10,
        ..TxEip4844::default()
    };
    signer().sign(TxEip4844Variant::TxEip4844WithSidecar(
        TxEip4844WithSidecar::from_tx_and_sidecar(
            tx,
            BlobTransactionSidecarVariant::Eip4844(sidecar),
        ),
    ))
}

#[test]
fn a_blob_transaction_with_its_sidecar_is_rejected_alike_on_both_engines() {
    let txs = vec![blob_with_sidecar(5), legacy(5, CHAIN_ID, 1, 21_000)];
    let out = run_both(state(), &block(txs));
    assert_eq!(codes(&out), [reject::MALFORMED, "included:true"]);
}

/// Runs a trace on both engines, checks they agree byte for byte, returns the JSON.
fn trace_both(
    state: Arc<MemState>,
    input: &molt_abi::execution::TraceInput,
) -> Vec<serde_json::Value> {
    let native = crate::builtin::native_executor()
        .execute_trace(state.clone(), input, None)
        .expect("native");
    let wasm_out = wasm().execute_trace(state, input, None).expect("wasm");
    assert_eq!(native, wasm_out, "WASM and native traces differ");
    native
        .iter()
        .map(|t| serde_json::from_slice(t).expect("JSON"))
        .collect()
}

#[test]
fn wasm_and_native_trace_alike_with_every_tracer() {
    use crate::bench::workloads;
    use molt_abi::execution::{TraceInput, trace};
    let w = workloads::erc20_transfers(3);
    let state = Arc::new(w.pre.clone());
    let out = run_both(state.clone(), &w.block);
    let gas: Vec<u64> = out
        .outcomes
        .iter()
        .map(|o| match o {
            TxOutcome::Included(r) => r.gas_used,
            TxOutcome::Rejected(r) => panic!("rejected: {r:?}"),
        })
        .collect();
    let input = |options: &str, traced_from: u64| TraceInput {
        env: w.block.env.clone(),
        block_hash: alloy_primitives::B256::repeat_byte(0xbb),
        txs: w.block.txs.clone(),
        traced_from,
        style: trace::TRACE,
        options: Bytes::copy_from_slice(options.as_bytes()),
        impersonation: false,
        call: None,
    };
    let token = format!("{:#x}", workloads::TOKEN);

    // Struct logs (no tracer): one per transaction, each with the receipt's gas.
    let logs = trace_both(state.clone(), &input("", 0));
    assert_eq!(logs.len(), 3);
    for (trace, gas) in logs.iter().zip(&gas) {
        assert_eq!(trace["failed"], false);
        assert_eq!(trace["gas"], *gas);
        let steps = trace["structLogs"].as_array().expect("struct logs");
        assert!(steps.iter().any(|s| s["op"] == "SSTORE"), "{trace}");
    }

    // callTracer, from the second transaction on: the token called, the receipt's gas.
    let calls = trace_both(state.clone(), &input(r#"{"tracer":"callTracer"}"#, 1));
    assert_eq!(calls.len(), 2);
    for (call, gas) in calls.iter().zip(&gas[1..]) {
        assert_eq!(call["type"], "CALL");
        assert_eq!(call["to"], token.as_str());
        assert_eq!(call["gasUsed"], format!("{gas:#x}"));
    }

    // prestateTracer: the token's balance slots before; diffMode: before and after.
    let pre = trace_both(state.clone(), &input(r#"{"tracer":"prestateTracer"}"#, 0));
    assert!(
        pre[0][token.as_str()]["storage"]
            .as_object()
            .is_some_and(|s| !s.is_empty())
    );
    let diff = trace_both(
        state.clone(),
        &input(
            r#"{"tracer":"prestateTracer","tracerConfig":{"diffMode":true}}"#,
            0,
        ),
    );
    assert!(diff[0]["pre"][token.as_str()].is_object());
    assert!(diff[0]["post"][token.as_str()]["storage"].is_object());

    // 4byteTracer: transfer(address,uint256) with its 64 bytes of arguments.
    let four = trace_both(state.clone(), &input(r#"{"tracer":"4byteTracer"}"#, 2));
    assert_eq!(four, vec![serde_json::json!({ "0xa9059cbb-64": 1 })]);

    // flatCallTracer (Parity's trace_transaction): the call, located in the block.
    let flat = trace_both(state.clone(), &input(r#"{"tracer":"flatCallTracer"}"#, 0));
    assert_eq!(flat[1][0]["action"]["callType"], "call");
    assert_eq!(flat[1][0]["transactionPosition"], 1);

    // noopTracer answers nothing; muxTracer runs several at once.
    let noop = trace_both(state.clone(), &input(r#"{"tracer":"noopTracer"}"#, 2));
    assert_eq!(noop, vec![serde_json::json!({})]);
    let mux = trace_both(
        state.clone(),
        &input(
            r#"{"tracer":"muxTracer","tracerConfig":{"callTracer":{},"4byteTracer":null}}"#,
            2,
        ),
    );
    assert_eq!(mux[0]["4byteTracer"], four[0]);
    assert_eq!(mux[0]["callTracer"]["to"], token.as_str());

    // An unknown tracer is refused on both.
    for engine in [wasm(), crate::builtin::native_executor()] {
        let e = engine
            .execute_trace(state.clone(), &input(r#"{"tracer":"nope"}"#, 0), None)
            .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}

#[test]
fn an_access_list_names_what_the_message_touches_and_its_gas_with_it() {
    use crate::bench::workloads;
    use molt_abi::execution::{CallInput, TraceInput, trace};
    let w = workloads::erc20_transfers(1);
    let state = Arc::new(w.pre.clone());
    let message = CallInput {
        env: w.block.env.clone(),
        from: workloads::sender().address(),
        to: workloads::TOKEN.to_vec().into(),
        data: workloads::calldata::call(
            "transfer(address,uint256)",
            &[RECIPIENT.into_word(), U256::from(1).into()],
        ),
        gas_limit: 1_000_000,
        ..CallInput::default()
    };
    let plain = wasm().execute_call(state.clone(), &message).unwrap();
    let answer = trace_both(
        state,
        &TraceInput {
            env: w.block.env.clone(),
            style: trace::ACCESS_LIST,
            call: Some(message),
            ..TraceInput::default()
        },
    );
    let list = answer[0]["accessList"].as_array().expect("a list");
    assert_eq!(list.len(), 1, "{answer:?}");
    assert_eq!(list[0]["address"], format!("{:#x}", workloads::TOKEN));
    assert_eq!(list[0]["storageKeys"].as_array().map(Vec::len), Some(2));
    assert!(answer[0].get("error").is_none_or(|e| e.is_null()));
    // Declaring the token (warm already, as the recipient) and its two slots costs
    // 2400 + 2 × 1900 and saves the two slots' first cold reads (2 × 2000).
    let gas_used = u64::from_str_radix(
        answer[0]["gasUsed"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert_eq!(gas_used, plain.gas_used + 2400 + 2 * 1900 - 2 * 2000);
}

#[test]
fn an_impersonated_transaction_runs_only_on_a_chain_that_takes_them() {
    use alloy_consensus::{SignableTransaction, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    use molt_abi::execution::impersonation;
    // An account nobody holds the key of, funded.
    let whale = address!("00000000000000000000000000000000000000aa");
    let mut s = MemState::new();
    s.insert_account(whale, U256::from(ETH), 0, Bytes::new(), []);
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 3 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(5),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let raw: Bytes = TxEnvelope::from(tx.into_signed(impersonation::signature(whale)))
        .encoded_2718()
        .into();
    let block = |impersonation| BlockInput {
        env: env(),
        txs: vec![raw.clone()],
        impersonation,
    };
    let out = run_both(Arc::new(s.clone()), &block(Some(true)));
    let TxOutcome::Included(receipt) = &out.outcomes[0] else {
        panic!("rejected: {:?}", out.outcomes[0]);
    };
    assert_eq!(receipt.sender, whale);
    assert!(receipt.success);
    let moved = out.accounts.iter().find(|a| a.address == RECIPIENT);
    assert_eq!(moved.map(|a| a.info.balance), Some(U256::from(5)));
    // Without impersonation the marker is no signature at all.
    for impersonation in [None, Some(false)] {
        let out = run_both(Arc::new(s.clone()), &block(impersonation));
        assert_eq!(codes(&out), [reject::BAD_SIGNATURE]);
    }
}
