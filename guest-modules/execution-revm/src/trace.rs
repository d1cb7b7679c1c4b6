//! `molt_execute_trace`: a block's transactions, or a message, executed again with a
//! tracer from `revm-inspectors` — geth's `debug_trace*` tracers (struct logs,
//! `callTracer`, `prestateTracer`, `4byteTracer`, `flatCallTracer`, which gives
//! Parity's `trace_transaction`) and the access-list inspector behind
//! `eth_createAccessList`.
//!
//! Nothing reaches the host: each transaction is committed to revm's cache only, so
//! the next one runs on the state it left, and a tracer reads the state before its
//! transaction from that cache.

use std::collections::BTreeMap;

use alloy_eips::eip2930::{AccessList, AccessListResult};
use alloy_primitives::{Bytes, U256};
use alloy_rpc_types_trace::geth::{GethDebugTracingOptions, GethTrace};
use molt_abi::GuestError;
use molt_abi::execution::{self, CallInput, TraceInput, trace};
use molt_abi::imports::StateHost;
use revm::context::result::{EVMError, ExecutionResult, ResultAndState};
use revm::context::{BlockEnv as RevmBlock, Evm, TxEnv};
use revm::database::State;
use revm::{Context, DatabaseCommit, DatabaseRef, InspectEvm, MainBuilder, MainContext};
use revm_inspectors::access_list::AccessListInspector;
use revm_inspectors::tracing::{DebugInspector, TransactionContext};
use serde_json::Value;

use crate::db::HostDb;
use crate::{call, dispatch, env, tx};

/// Most runs `eth_createAccessList` makes to reach a list that no longer grows.
const ACCESS_LIST_ROUNDS: usize = 16;

/// Executes a [`TraceInput`] and returns its traces: an RLP list of JSON texts.
pub fn execute_trace<H: StateHost + ?Sized>(host: &H, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    let input: TraceInput = execution::decode(input)
        .map_err(|e| GuestError::new(format!("malformed trace input: {e}")))?;
    let mut state = State::builder().with_database(HostDb(host)).build();
    let traces = match input.style {
        trace::TRACE => {
            let options = match input.options.is_empty() {
                true => GethDebugTracingOptions::default(),
                false => serde_json::from_slice(&input.options)
                    .map_err(|e| GuestError::new(format!("invalid tracing options: {e}")))?,
            };
            let mut traces = trace_txs(&mut state, &input, &options)?;
            if let Some(message) = &input.call {
                traces.push(trace_message(host, &mut state, message, options)?);
            }
            traces
        }
        trace::ACCESS_LIST => {
            let message = input.call.as_ref().ok_or_else(|| {
                GuestError::new("an access list is made for a message, and none was given")
            })?;
            trace_txs(&mut state, &input, &GethDebugTracingOptions::default())?;
            vec![access_list(host, &mut state, message)?]
        }
        other => return Err(GuestError::new(format!("unknown trace style {other}"))),
    };
    Ok(execution::encode(&traces))
}

/// Runs `input`'s transactions in order and traces those from `traced_from` on
/// (none when the input carries a message: they only lead up to it).
fn trace_txs<H: StateHost + ?Sized>(
    state: &mut State<HostDb<'_, H>>,
    input: &TraceInput,
    options: &GethDebugTracingOptions,
) -> Result<Vec<Bytes>, GuestError> {
    let (cfg, block) = env::revm_env(&input.env)?;
    let mut evm = Context::mainnet()
        .with_db(state)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet_with_inspector(debug_inspector(options.clone())?);
    let traced_from = match input.call {
        Some(_) => u64::MAX,
        None => input.traced_from,
    };
    let mut traces = Vec::new();
    for (index, raw) in input.txs.iter().enumerate() {
        let decoded = tx::decode(raw, input.impersonation).map_err(|r| {
            GuestError::new(format!("transaction {index} cannot run: {}", r.message))
        })?;
        let failed = |e: EVMError<_>| GuestError::new(format!("transaction {index} failed: {e}"));
        if (index as u64) < traced_from {
            dispatch::transact_commit(&mut evm, decoded.env).map_err(failed)?;
            continue;
        }
        let result = evm.inspect_tx(decoded.env.clone()).map_err(failed)?;
        let context = TransactionContext {
            block_hash: Some(input.block_hash),
            tx_index: Some(index),
            tx_hash: Some(decoded.hash),
        };
        let Evm { ctx, inspector, .. } = &mut evm;
        traces.push(report(
            inspector,
            Some(context),
            &decoded.env,
            &ctx.block,
            result,
            &mut *ctx.journaled_state.database,
        )?);
    }
    Ok(traces)
}

/// Traces a message (`debug_traceCall`).
fn trace_message<H: StateHost + ?Sized>(
    host: &H,
    state: &mut State<HostDb<'_, H>>,
    message: &CallInput,
    options: GethDebugTracingOptions,
) -> Result<Bytes, GuestError> {
    let (cfg, block, tx) = call::message(host, message)?;
    let mut evm = Context::mainnet()
        .with_db(state)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet_with_inspector(debug_inspector(options)?);
    let result = evm
        .inspect_tx(tx.clone())
        .map_err(|e| GuestError::new(format!("the call cannot run: {e}")))?;
    let Evm { ctx, inspector, .. } = &mut evm;
    report(
        inspector,
        None,
        &tx,
        &ctx.block,
        result,
        &mut *ctx.journaled_state.database,
    )
}

/// geth's tracer for `options`, or why there is none.
fn debug_inspector(options: GethDebugTracingOptions) -> Result<DebugInspector, GuestError> {
    let tracer = options.tracer.clone();
    DebugInspector::new(options).map_err(|e| match tracer {
        Some(name) => GuestError::new(format!("tracer {name:?}: {e}")),
        None => GuestError::new(format!("tracing options: {e}")),
    })
}

/// The traced transaction's report as JSON; its changes are then committed to the
/// cache `db` (which still holds the state before it, read by `prestateTracer`) and
/// the inspector is made ready for the next one.
fn report<DB>(
    inspector: &mut DebugInspector,
    context: Option<TransactionContext>,
    tx: &TxEnv,
    block: &RevmBlock,
    result: ResultAndState,
    db: &mut DB,
) -> Result<Bytes, GuestError>
where
    DB: DatabaseRef + DatabaseCommit,
    DB::Error: core::fmt::Display,
{
    let trace = inspector
        .get_result(context, tx, block, &result, db)
        .map_err(|e| GuestError::new(format!("tracing failed: {e}")))?;
    inspector
        .fuse()
        .map_err(|e| GuestError::new(format!("tracing failed: {e}")))?;
    db.commit(result.state);
    let json = match trace {
        // Their frames hold hash maps, whose order differs between runs and engines:
        // written with sorted keys, the same everywhere.
        GethTrace::MuxTracer(_) | GethTrace::Erc7562Tracer(_) => {
            serde_json::to_value(&trace).and_then(|v| serde_json::to_vec(&sorted(v)))
        }
        trace => serde_json::to_vec(&trace),
    };
    json.map(Bytes::from)
        .map_err(|e| GuestError::new(format!("a trace that does not serialize: {e}")))
}

/// `value` with every object's keys in order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let ordered: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// `eth_createAccessList` for `message`, as geth makes it: run with the list given,
/// then again with the list that run touched, until the two are the same; the gas is
/// the last run's, which used exactly that list.
fn access_list<H: StateHost + ?Sized>(
    host: &H,
    state: &mut State<HostDb<'_, H>>,
    message: &CallInput,
) -> Result<Bytes, GuestError> {
    let (cfg, block, mut tx) = call::message(host, message)?;
    if tx.tx_type == 0 {
        tx.tx_type = 1;
        tx.chain_id = Some(message.env.chain_id);
    }
    let mut list = tx.access_list.clone();
    let mut evm = Context::mainnet()
        .with_db(state)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet_with_inspector(AccessListInspector::new(list.clone()));
    for _ in 0..ACCESS_LIST_ROUNDS {
        tx.access_list = list.clone();
        evm.inspector = AccessListInspector::new(list.clone());
        let result = evm
            .inspect_tx(tx.clone())
            .map_err(|e| GuestError::new(format!("the call cannot run: {e}")))?;
        let touched = evm.inspector.access_list();
        if touched == list {
            return access_list_json(list, &result.result);
        }
        list = touched;
    }
    Err(GuestError::new(format!(
        "the access list did not settle after {ACCESS_LIST_ROUNDS} runs"
    )))
}

fn access_list_json(
    access_list: AccessList,
    result: &ExecutionResult,
) -> Result<Bytes, GuestError> {
    let error = match result {
        ExecutionResult::Success { .. } => None,
        ExecutionResult::Revert { .. } => Some("execution reverted".into()),
        ExecutionResult::Halt { reason, .. } => Some(call::halt_message(reason)),
    };
    let answer = AccessListResult {
        access_list,
        gas_used: U256::from(result.tx_gas_used()),
        error,
    };
    serde_json::to_vec(&answer)
        .map(Bytes::from)
        .map_err(|e| GuestError::new(format!("an access list that does not serialize: {e}")))
}
