//! The filter methods (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`, `eth_getFilterChanges`, `eth_getFilterLogs`,
//! `eth_uninstallFilter`). The node keeps the filters and their cursors (ABI ops
//! 23–25); this module keeps nothing between requests: a log filter's criteria travel
//! to the node as the client's JSON and come back with each poll, and the logs are
//! read here as `eth_getLogs` reads them.

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Bytes, U64};
use alloy_rpc_types_eth::{Filter, FilterBlockOption};
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{ChainQueries, FilterChanges, FilterPoll, NewFilter, filter_kind};
use serde_json::Value;

use crate::RpcError;
use crate::blocks::info;
use crate::eth::logs;
use crate::params::Params;

type Answer = Result<Value, RpcError>;

/// Runs filter method `method`, or `None` if it is not one.
pub fn dispatch(host: &(impl ChainHost + ?Sized), method: &str, p: &Params) -> Option<Answer> {
    Some(match method {
        "eth_newFilter" => new_log_filter(host, p),
        "eth_newBlockFilter" => install(host, filter_kind::BLOCKS, Bytes::new(), None),
        "eth_newPendingTransactionFilter" => {
            install(host, filter_kind::PENDING, Bytes::new(), None)
        }
        "eth_getFilterChanges" => changes(host, p),
        "eth_getFilterLogs" => filter_logs(host, p),
        "eth_uninstallFilter" => uninstall(host, p),
        _ => return None,
    })
}

fn new_log_filter(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    p.at_most(1)?;
    let criteria: Value = p.required(0)?;
    let filter = parse(&criteria)?;
    let FilterBlockOption::Range { from_block, .. } = filter.block_option else {
        return Err(RpcError::invalid_params(
            "a filter reports new blocks: it cannot name a blockHash (use eth_getLogs)",
        ));
    };
    // A `fromBlock` in the past: the first poll reports the logs since then.
    let criteria = Bytes::from(criteria.to_string().into_bytes());
    install(host, filter_kind::LOGS, criteria, bound(from_block))
}

/// Installs a filter reporting from block `start`, or from the next block.
fn install(
    host: &(impl ChainHost + ?Sized),
    kind: u8,
    criteria: Bytes,
    start: Option<u64>,
) -> Answer {
    let start = match start {
        Some(n) => n,
        None => info(host)?.head + 1,
    };
    let id = host.new_filter(&NewFilter {
        kind,
        criteria,
        start,
    })?;
    Ok(Value::String(format!("{:#x}", id)))
}

fn changes(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    let c = poll(host, p, true)?;
    match c.kind {
        filter_kind::LOGS => {
            let filter = stored(&c)?;
            // Within the range the criteria name, if they name numbers: tags
            // ("latest", absent) follow the head.
            let (from_block, to_block) = match filter.block_option {
                FilterBlockOption::Range {
                    from_block,
                    to_block,
                } => (bound(from_block), bound(to_block)),
                FilterBlockOption::AtBlockHash(_) => (None, None),
            };
            let from = c.from.max(from_block.unwrap_or(0));
            let to = c.to.min(to_block.unwrap_or(u64::MAX));
            if from > to {
                return Ok(Value::Array(Vec::new()));
            }
            let filter = filter.from_block(from).to_block(to);
            serde_json::to_value(logs(host, &filter)?).map_err(RpcError::internal)
        }
        _ => serde_json::to_value(c.hashes).map_err(RpcError::internal),
    }
}

fn filter_logs(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    let c = poll(host, p, false)?;
    if c.kind != filter_kind::LOGS {
        return Err(RpcError::server("filter not found"));
    }
    let filter = stored(&c)?;
    serde_json::to_value(logs(host, &filter)?).map_err(RpcError::internal)
}

fn uninstall(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    p.at_most(1)?;
    let Some(id) = id(p)? else {
        return Ok(Value::Bool(false));
    };
    Ok(Value::Bool(host.uninstall_filter(id)?))
}

fn poll(
    host: &(impl ChainHost + ?Sized),
    p: &Params,
    advance: bool,
) -> Result<FilterChanges, RpcError> {
    p.at_most(1)?;
    let id = id(p)?.ok_or_else(|| RpcError::server("filter not found"))?;
    Ok(host.poll_filter(&FilterPoll { id, advance })?)
}

/// The filter id of parameter 0; `None` for a string that is no id this node gives.
fn id(p: &Params) -> Result<Option<u64>, RpcError> {
    let id: String = p.required(0)?;
    Ok(serde_json::from_value::<U64>(Value::String(id))
        .ok()
        .map(|id| id.to::<u64>()))
}

/// A block the criteria name by number; `None` for a tag that follows the head.
fn bound(b: Option<BlockNumberOrTag>) -> Option<u64> {
    match b {
        Some(BlockNumberOrTag::Number(n)) => Some(n),
        Some(BlockNumberOrTag::Earliest) => Some(0),
        _ => None,
    }
}

/// A log filter's criteria as the node kept them.
fn stored(c: &FilterChanges) -> Result<Filter, RpcError> {
    parse(&serde_json::from_slice(&c.criteria).map_err(RpcError::internal)?)
}

fn parse(criteria: &Value) -> Result<Filter, RpcError> {
    serde_json::from_value(criteria.clone())
        .map_err(|e| RpcError::invalid_params(format!("argument 0: {e}")))
}
