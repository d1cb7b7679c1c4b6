//! The pool and the rest of the second-day surface: `txpool_status`,
//! `txpool_content`, `txpool_inspect` (geth's shapes), `eth_getTransactionBySenderAndNonce`,
//! `eth_coinbase`, `eth_mining`, `eth_hashrate` and the uncle lookups (a chain without
//! uncles answers `null`).

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, U64};
use alloy_rpc_types_eth::Transaction;
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{BlockQuery, BodyTx, ChainQueries};
use serde_json::{Map, Value, json};

use crate::RpcError;
use crate::blocks::{self, info, load};
use crate::params::Params;
use crate::state::{self, At};

type Answer = Result<Value, RpcError>;

/// Runs method `method`, or `None` if it is not one of these.
pub fn dispatch(host: &(impl ChainHost + ?Sized), method: &str, p: &Params) -> Option<Answer> {
    Some(match method {
        "txpool_status" => (|| {
            let content = host.pool_content()?;
            Ok(json!({
                "pending": U64::from(content.pending.len()),
                "queued": U64::from(content.queued.len()),
            }))
        })(),
        "txpool_content" => content(host, |tx| {
            serde_json::to_value(tx).map_err(RpcError::internal)
        }),
        "txpool_inspect" => content(host, |tx| Ok(Value::String(summary(&tx)))),
        "eth_getTransactionBySenderAndNonce" => by_sender_and_nonce(host, p),
        "eth_coinbase" => (|| {
            let head = info(host)?.head;
            let (header, _) = blocks::header(host, BlockQuery::number(head))?
                .ok_or_else(|| RpcError::server("no head block"))?;
            serde_json::to_value(header.beneficiary).map_err(RpcError::internal)
        })(),
        "eth_mining" => Ok(Value::Bool(true)),
        "eth_hashrate" => Ok(json!("0x0")),
        "eth_getUncleByBlockNumberAndIndex" | "eth_getUncleByBlockHashAndIndex" => Ok(Value::Null),
        _ => return None,
    })
}

/// `{pending: {sender: {nonce: shown}}, queued: {…}}` with each transaction shown by
/// `show`, as geth's `txpool_content` and `txpool_inspect` nest them.
fn content(
    host: &(impl ChainHost + ?Sized),
    show: impl Fn(Transaction) -> Result<Value, RpcError>,
) -> Answer {
    let content = host.pool_content()?;
    let nest = |txs: Vec<BodyTx>| -> Result<Value, RpcError> {
        let mut by_sender = Map::new();
        for body in txs {
            let tx = blocks::pooled_tx(&body)?;
            let nonces = by_sender
                .entry(body.sender.to_checksum(None))
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(nonces) = nonces {
                nonces.insert(tx.inner.nonce().to_string(), show(tx)?);
            }
        }
        Ok(Value::Object(by_sender))
    };
    Ok(json!({
        "pending": nest(content.pending)?,
        "queued": nest(content.queued)?,
    }))
}

/// geth's one-line summary: `to: value wei + gas gas × price wei`.
fn summary(tx: &Transaction) -> String {
    let to = match tx.inner.to() {
        Some(to) => to.to_checksum(None),
        None => "contract creation".into(),
    };
    format!(
        "{to}: {} wei + {} gas × {} wei",
        tx.inner.value(),
        tx.inner.gas_limit(),
        tx.inner.max_fee_per_gas()
    )
}

/// The transaction `sender` sent with `nonce`: from the pool, or from the block where
/// the sender's nonce passed it (a binary search over the state at past blocks).
fn by_sender_and_nonce(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    p.at_most(2)?;
    let sender: Address = p.required(0)?;
    let nonce = p.required::<U64>(1)?.to::<u64>();
    serde_json::to_value(sent_with(host, sender, nonce)?).map_err(RpcError::internal)
}

/// The transaction `sender` sent with `nonce`, pooled or included.
pub(crate) fn sent_with(
    host: &(impl ChainHost + ?Sized),
    sender: Address,
    nonce: u64,
) -> Result<Option<Transaction>, RpcError> {
    let content = host.pool_content()?;
    if let Some(body) = content.pending.iter().chain(&content.queued).find(|b| {
        b.sender == sender && blocks::pooled_tx(b).is_ok_and(|t| t.inner.nonce() == nonce)
    }) {
        return Ok(Some(blocks::pooled_tx(body)?));
    }
    let nonce_at =
        |n: u64| -> Result<u64, RpcError> { Ok(state::account(host, At::Block(n), sender)?.nonce) };
    let head = info(host)?.head;
    if nonce_at(head)? <= nonce {
        return Ok(None);
    }
    // The first block after which the sender's nonce is past `nonce`.
    let (mut lo, mut hi) = (0, head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if nonce_at(mid)? > nonce {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let Some(block) = load(host, lo)? else {
        return Ok(None);
    };
    let index = block
        .txs
        .iter()
        .position(|(body, tx)| body.sender == sender && tx.nonce() == nonce);
    Ok(index.and_then(|i| block.rpc_tx(i)))
}
