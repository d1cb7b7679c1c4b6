//! Tracing: geth's `debug_traceTransaction`, `debug_traceBlockByNumber`,
//! `debug_traceBlockByHash` and `debug_traceCall` (struct logs, `callTracer`,
//! `prestateTracer`, `4byteTracer`, … as the options name them), Parity's
//! `trace_transaction` and `trace_block` (geth's `flatCallTracer`), and
//! `eth_createAccessList`.
//!
//! The execution module in force at the block does the tracing and writes the JSON
//! (`TRACE_BLOCK`, `TRACE_CALL`); this module finds the block and the transaction,
//! passes the options through and shapes the answer.

use alloy_eips::BlockId;
use alloy_primitives::{B256, Bytes, keccak256};
use molt_abi::execution::trace;
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{ChainQueries, TraceBlock, TraceCall};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::RpcError;
use crate::blocks::{info, location, resolve};
use crate::eth::call_request;
use crate::params::Params;
use crate::request::CallParams;
use crate::state::{At, Overrides};

type Answer = Result<Value, RpcError>;

/// The options that give Parity's traces.
const PARITY: &str = r#"{"tracer":"flatCallTracer"}"#;

/// Runs tracing method `method`, or `None` if it is not one.
pub fn dispatch(host: &(impl ChainHost + ?Sized), method: &str, p: &Params) -> Option<Answer> {
    Some(match method {
        "debug_traceTransaction" => (|| {
            p.at_most(2)?;
            trace_tx(host, p.required(0)?, options(p.optional(1)?)?)
        })(),
        "debug_traceBlockByNumber" | "debug_traceBlockByHash" => (|| {
            p.at_most(2)?;
            let number = block(host, p.required(0)?)?;
            let options = options(p.optional(1)?)?;
            let hashes = tx_hashes(host, number)?;
            let traces = trace_block(host, number, None, options)?;
            Ok(Value::Array(
                hashes
                    .into_iter()
                    .zip(traces)
                    .map(|(hash, result)| json!({ "txHash": hash, "result": result }))
                    .collect(),
            ))
        })(),
        "debug_traceCall" => trace_call(host, p),
        "trace_transaction" => (|| {
            p.at_most(1)?;
            trace_tx(host, p.required(0)?, PARITY.into())
        })(),
        "trace_block" => (|| {
            p.at_most(1)?;
            let number = block(host, p.required(0)?)?;
            let traces = trace_block(host, number, None, PARITY.into())?;
            let mut all = Vec::new();
            for per_tx in traces {
                match per_tx {
                    Value::Array(t) => all.extend(t),
                    other => return Err(RpcError::internal(format!("not a list: {other}"))),
                }
            }
            Ok(Value::Array(all))
        })(),
        "eth_createAccessList" => (|| {
            p.at_most(2)?;
            let request = p.required::<CallParams>(0)?.into_request()?;
            let at = At::of(host, p.optional(1)?)?;
            let request = call_request(&request, &info(host)?)?;
            let call = Overrides::default().call_at(at.number(host)?, &request);
            message(host, call, trace::ACCESS_LIST, Bytes::new())
        })(),
        _ => return None,
    })
}

/// geth's tracing options as the execution module takes them: their JSON, or nothing
/// for the default (struct logs).
fn options(given: Option<Value>) -> Result<Bytes, RpcError> {
    match given {
        None => Ok(Bytes::new()),
        Some(Value::Object(o)) => Ok(Value::Object(o).to_string().into_bytes().into()),
        Some(other) => Err(RpcError::invalid_params(format!(
            "tracing options must be an object, not {other}"
        ))),
    }
}

/// The block a parameter names; "header not found" (geth's words) if there is none.
fn block(host: &(impl ChainHost + ?Sized), id: BlockId) -> Result<u64, RpcError> {
    resolve(host, id)?.ok_or_else(|| RpcError::server("header not found"))
}

/// The hashes of block `number`'s transactions, in order.
fn tx_hashes(host: &(impl ChainHost + ?Sized), number: u64) -> Result<Vec<B256>, RpcError> {
    let body = host.body(number)?.unwrap_or_default();
    Ok(body.iter().map(|tx| keccak256(&tx.raw)).collect())
}

/// The traces of block `number`'s transactions (only transaction `index`'s with it).
pub(crate) fn trace_block(
    host: &(impl ChainHost + ?Sized),
    number: u64,
    index: Option<u64>,
    options: Bytes,
) -> Result<Vec<Value>, RpcError> {
    let traces = host.trace_block(&TraceBlock {
        block: number,
        options,
        index,
    })?;
    traces.iter().map(|t| json_of(t)).collect()
}

/// One included transaction's trace.
pub(crate) fn trace_tx(host: &(impl ChainHost + ?Sized), hash: B256, options: Bytes) -> Answer {
    let place = location(host, hash)?
        .ok_or_else(|| RpcError::server(format!("transaction {hash} not found")))?;
    trace_block(host, place.number, Some(place.index), options)?
        .pop()
        .ok_or_else(|| RpcError::internal("no trace for the transaction"))
}

/// `debug_traceCall(call, block, options)`: the options may carry geth's
/// `stateOverrides` and `blockOverrides`, which `eth_call` takes as parameters.
fn trace_call(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    p.at_most(3)?;
    let request = p.required::<CallParams>(0)?.into_request()?;
    let at = At::of(host, p.optional(1)?)?;
    let mut options: Map<String, Value> = p.optional(2)?.unwrap_or_default();
    let overrides = Overrides::new(
        take(&mut options, "stateOverrides")?,
        take(&mut options, "blockOverrides")?,
    )?;
    if take::<Value>(&mut options, "txIndex")?.is_some() {
        return Err(RpcError::invalid_params(
            "txIndex is not supported: the call runs on the state after the block",
        ));
    }
    let request = call_request(&request, &info(host)?)?;
    let call = overrides.call_at(at.number(host)?, &request);
    let options = match options.is_empty() {
        true => Bytes::new(),
        false => Value::Object(options).to_string().into_bytes().into(),
    };
    message(host, call, trace::TRACE, options)
}

/// Option `key`, removed from `options`.
fn take<T: DeserializeOwned>(
    options: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<T>, RpcError> {
    options
        .remove(key)
        .filter(|v| !v.is_null())
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| RpcError::invalid_params(format!("{key}: {e}")))
}

/// A message traced, or its access list.
fn message(
    host: &(impl ChainHost + ?Sized),
    call: molt_abi::rpc::CallAt,
    style: u8,
    options: Bytes,
) -> Answer {
    json_of(&host.trace_call(&TraceCall {
        call,
        style,
        options,
    })?)
}

fn json_of(text: &[u8]) -> Answer {
    serde_json::from_slice(text)
        .map_err(|e| RpcError::internal(format!("a trace that is not JSON: {e}")))
}
