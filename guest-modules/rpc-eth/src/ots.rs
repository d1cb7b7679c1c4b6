//! Otterscan's `ots_*` methods (API level 8), so a local Otterscan explorer works
//! against the node: block details and pages, a transaction's call tree, internal
//! operations and revert data (from the execution module's `callTracer`), the
//! creator of a contract, and an address's transactions page by page.
//!
//! The searches scan blocks (as anvil does: there is no address index), at most
//! [`MAX_SCAN`] per call, and see the transactions an address sent or was called by at
//! the top level.

use alloy_consensus::Transaction as _;
use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, U64, U256};
use molt_abi::imports::ChainHost;
use molt_abi::rpc::BlockQuery;
use serde_json::{Map, Value, json};

use crate::RpcError;
use crate::blocks::{Stored, header, info, load, receipts};
use crate::params::Params;
use crate::state::{self, At};
use crate::trace::{trace_block, trace_tx};

type Answer = Result<Value, RpcError>;

/// Most blocks one search looks at.
pub const MAX_SCAN: u64 = 100_000;

const CALL_TRACER: &str = r#"{"tracer":"callTracer"}"#;

fn to<T: serde::Serialize>(value: T) -> Answer {
    serde_json::to_value(value).map_err(RpcError::internal)
}

/// Runs Otterscan method `method`, or `None` if it is not one.
pub fn dispatch(host: &(impl ChainHost + ?Sized), method: &str, p: &Params) -> Option<Answer> {
    Some(match method {
        "ots_getApiLevel" => p.at_most(0).map(|()| Value::from(8)),
        "ots_hasCode" => (|| {
            p.at_most(2)?;
            let at = At::of(host, p.optional(1)?)?;
            Ok(Value::Bool(
                !state::code(host, at, p.required(0)?)?.is_empty(),
            ))
        })(),
        "ots_getTransactionError" => (|| {
            p.at_most(1)?;
            let root = trace_tx(host, p.required(0)?, CALL_TRACER.into())?;
            Ok(match root.get("error") {
                Some(_) => root.get("output").cloned().unwrap_or(json!("0x")),
                None => json!("0x"),
            })
        })(),
        "ots_getBlockDetails" => (|| {
            p.at_most(1)?;
            details(host, number(host, p.required(0)?)?)
        })(),
        "ots_getBlockDetailsByHash" => (|| {
            p.at_most(1)?;
            let hash: B256 = p.required(0)?;
            let found = header(host, BlockQuery::hash(hash))?;
            details(host, found.map(|(h, _)| h.number))
        })(),
        "ots_getBlockTransactions" => block_transactions(host, p),
        "ots_getTransactionBySenderAndNonce" => (|| {
            p.at_most(2)?;
            let nonce = p.required::<U64>(1)?.to::<u64>();
            let tx = crate::pool::sent_with(host, p.required(0)?, nonce)?;
            Ok(tx.map_or(Value::Null, |t| json!(t.inner.tx_hash())))
        })(),
        "ots_traceTransaction" => (|| {
            p.at_most(1)?;
            let root = trace_tx(host, p.required(0)?, CALL_TRACER.into())?;
            let mut flat = Vec::new();
            walk(&root, 0, &mut |frame, depth| {
                flat.push(ots_trace(frame, depth))
            });
            Ok(Value::Array(flat))
        })(),
        "ots_getInternalOperations" => (|| {
            p.at_most(1)?;
            let root = trace_tx(host, p.required(0)?, CALL_TRACER.into())?;
            let mut ops = Vec::new();
            walk(&root, 0, &mut |frame, depth| {
                if let Some(op) = internal_operation(frame, depth) {
                    ops.push(op);
                }
            });
            Ok(Value::Array(ops))
        })(),
        "ots_getContractCreator" => (|| {
            p.at_most(1)?;
            creator(host, p.required(0)?)
        })(),
        "ots_searchTransactionsBefore" => search(host, p, Direction::Before),
        "ots_searchTransactionsAfter" => search(host, p, Direction::After),
        _ => return None,
    })
}

/// A block number parameter (a number, or a hex quantity).
fn number(host: &(impl ChainHost + ?Sized), id: Value) -> Result<Option<u64>, RpcError> {
    let id: BlockId = match id {
        Value::Number(n) => BlockId::number(
            n.as_u64()
                .ok_or_else(|| RpcError::invalid_params("not a block number"))?,
        ),
        other => {
            serde_json::from_value(other).map_err(|e| RpcError::invalid_params(e.to_string()))?
        }
    };
    crate::blocks::resolve(host, id)
}

/// `ots_getBlockDetails`: the block without its transactions, their count, what it
/// issued (nothing after the merge) and the fees it paid.
fn details(host: &(impl ChainHost + ?Sized), number: Option<u64>) -> Answer {
    let Some(block) = number.map(|n| load(host, n)).transpose()?.flatten() else {
        return Ok(Value::Null);
    };
    let receipts = block.rpc_receipts(receipts(host, block.header.number)?);
    let fees: U256 = receipts
        .iter()
        .map(|r| U256::from(r.gas_used) * U256::from(r.effective_gas_price))
        .sum();
    let mut json = to(block.rpc_block(false))?;
    if let Value::Object(o) = &mut json {
        o.remove("transactions");
        o.insert("transactionCount".into(), json!(block.txs.len()));
    }
    Ok(json!({
        "block": json,
        "issuance": { "blockReward": "0x0", "uncleReward": "0x0", "issuance": "0x0" },
        "totalFees": fees,
    }))
}

/// `ots_getBlockTransactions(number, page, pageSize)`: page `page` of the block's
/// transactions (from the first) with their receipts.
fn block_transactions(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    p.at_most(3)?;
    let Some(block) = number(host, p.required(0)?)?
        .map(|n| load(host, n))
        .transpose()?
        .flatten()
    else {
        return Ok(Value::Null);
    };
    let page = p.required::<u64>(1)? as usize;
    let size = p.required::<u64>(2)? as usize;
    let range = page.saturating_mul(size).min(block.txs.len())
        ..page
            .saturating_add(1)
            .saturating_mul(size)
            .min(block.txs.len());
    let receipts = block.rpc_receipts(receipts(host, block.header.number)?);
    let mut full = to(block.rpc_block(true))?;
    if let Value::Object(o) = &mut full {
        if let Some(Value::Array(txs)) = o.get_mut("transactions") {
            *txs = txs[range.clone()].to_vec();
        }
        o.insert("transactionCount".into(), json!(block.txs.len()));
    }
    let receipts: Vec<Value> = receipts[range]
        .iter()
        .map(|r| with_timestamp(to(r)?, &block))
        .collect::<Result<_, _>>()?;
    Ok(json!({ "fullblock": full, "receipts": receipts }))
}

/// A receipt as Otterscan's searches give it: with its block's timestamp.
fn with_timestamp(mut receipt: Value, block: &Stored) -> Answer {
    if let Value::Object(o) = &mut receipt {
        o.insert("timestamp".into(), json!(U64::from(block.header.timestamp)));
    }
    Ok(receipt)
}

/// Calls `f` with every frame of a `callTracer` tree, depth first, with its depth.
fn walk(frame: &Value, depth: usize, f: &mut impl FnMut(&Value, usize)) {
    f(frame, depth);
    for call in frame
        .get("calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        walk(call, depth + 1, f);
    }
}

/// One frame as `ots_traceTransaction` lists it.
fn ots_trace(frame: &Value, depth: usize) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), frame["type"].clone());
    out.insert("depth".into(), json!(depth));
    for key in ["from", "to", "value", "input", "output"] {
        if let Some(v) = frame.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if frame.get("value").is_none() && frame["type"] == "CALL" {
        out.insert("value".into(), json!("0x0"));
    }
    Value::Object(out)
}

/// An internal operation (`ots_getInternalOperations`): 0 a transfer of value by a
/// call inside the transaction, 1 a self-destruct, 2 a `CREATE`, 3 a `CREATE2`.
fn internal_operation(frame: &Value, depth: usize) -> Option<Value> {
    let value = frame.get("value").cloned().unwrap_or(json!("0x0"));
    let kind = match frame["type"].as_str()? {
        "CALL" | "CALLCODE" if depth > 0 && value != json!("0x0") => 0,
        "SELFDESTRUCT" => 1,
        "CREATE" if depth > 0 => 2,
        "CREATE2" if depth > 0 => 3,
        _ => return None,
    };
    Some(json!({ "type": kind, "from": frame["from"], "to": frame["to"], "value": value }))
}

/// `ots_getContractCreator`: the block where the code appeared (a binary search over
/// the state at past blocks), then the transaction there that created it, at the
/// top level or inside (its `callTracer` frames).
fn creator(host: &(impl ChainHost + ?Sized), address: Address) -> Answer {
    let has_code = |n: u64| -> Result<bool, RpcError> {
        Ok(!state::code(host, At::Block(n), address)?.is_empty())
    };
    let head = info(host)?.head;
    if !has_code(head)? {
        return Ok(Value::Null);
    }
    let (mut lo, mut hi) = (0, head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if has_code(mid)? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let Some(block) = load(host, lo)? else {
        return Ok(Value::Null);
    };
    let target = json!(address.to_string().to_lowercase());
    let traces = trace_block(host, lo, None, CALL_TRACER.into())?;
    for ((body, tx), root) in block.txs.iter().zip(&traces) {
        let mut found = None;
        walk(root, 0, &mut |frame, _| {
            let created = matches!(frame["type"].as_str(), Some("CREATE" | "CREATE2"));
            if found.is_none() && created && frame["to"] == target {
                found = Some(frame["from"].clone());
            }
        });
        if let Some(creator) = found {
            let creator = match root["type"].as_str() {
                Some("CREATE" | "CREATE2") if root["to"] == target => json!(body.sender),
                _ => creator,
            };
            return Ok(json!({ "hash": tx.tx_hash(), "creator": creator }));
        }
    }
    Ok(Value::Null)
}

/// Which way a search goes from its block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Before,
    After,
}

/// `ots_searchTransactionsBefore/After(address, block, pageSize)`: whole blocks of the
/// address's transactions, newest first, until a page is full; `firstPage` when the
/// page reaches the newest block, `lastPage` when it reaches the oldest.
fn search(host: &(impl ChainHost + ?Sized), p: &Params, direction: Direction) -> Answer {
    p.at_most(3)?;
    let address: Address = p.required(0)?;
    let from = p.required::<u64>(1)?;
    let size = p.required::<u64>(2)?.max(1) as usize;
    let head = info(host)?.head;
    let blocks: Box<dyn Iterator<Item = u64>> = match direction {
        // Block 0 means "from the newest".
        Direction::Before if from == 0 => Box::new((1..=head).rev()),
        Direction::Before => Box::new((1..from.min(head + 1)).rev()),
        Direction::After => Box::new(from.saturating_add(1).max(1)..=head),
    };
    let mut found: Vec<(Value, Value, u64)> = Vec::new();
    let mut reached_end = true;
    for (scanned, n) in blocks.enumerate() {
        if found.len() >= size || scanned as u64 >= MAX_SCAN {
            reached_end = false;
            break;
        }
        let Some(block) = load(host, n)? else {
            continue;
        };
        let mine: Vec<usize> = (0..block.txs.len())
            .filter(|i| {
                let (body, tx) = &block.txs[*i];
                body.sender == address || tx.to() == Some(address)
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let receipts = block.rpc_receipts(receipts(host, n)?);
        for i in mine {
            let tx = to(block.rpc_tx(i))?;
            found.push((tx, with_timestamp(to(&receipts[i])?, &block)?, n));
        }
    }
    // Newest first, whichever way the search went.
    found.sort_by_key(|f| std::cmp::Reverse(f.2));
    let (first_page, last_page) = match direction {
        Direction::Before => (from == 0, reached_end),
        Direction::After => (reached_end, from == 0),
    };
    let (txs, receipts): (Vec<Value>, Vec<Value>) =
        found.into_iter().map(|(t, r, _)| (t, r)).unzip();
    Ok(json!({ "txs": txs, "receipts": receipts, "firstPage": first_page, "lastPage": last_page }))
}
