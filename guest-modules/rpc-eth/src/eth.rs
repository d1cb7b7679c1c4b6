//! The methods: `web3_*`, `net_*`, `eth_*` and the dev helpers anvil users expect.

use alloy_consensus::{SignableTransaction, Transaction as _};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256, keccak256};
use alloy_rpc_types_eth::{
    FeeHistory, Filter, FilterBlockOption, Log, SyncInfo, SyncStatus, TransactionRequest,
};
use molt_abi::execution::CallOutput;
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{
    AccountState, BlockQuery, CallRequest, ChainInfo, ChainQueries, DevControl, MineRequest,
    SetBalance, dev,
};
use serde::Serialize;
use serde_json::Value;

use crate::blocks::{self, info, load, location, number_of, receipts, resolve};
use crate::params::Params;
use crate::request::CallParams;
use crate::state::{self, At, Overrides};
use crate::{CLIENT_VERSION, RpcError};

/// The priority fee the node suggests (`eth_maxPriorityFeePerGas`), wei: 1 gwei, as
/// anvil suggests.
pub const SUGGESTED_TIP: u128 = 1_000_000_000;

/// Most blocks one `eth_getLogs` may scan.
pub const MAX_LOG_RANGE: u64 = 100_000;

/// Most blocks one `eth_feeHistory` reports (geth's limit).
pub const MAX_FEE_HISTORY: u64 = 1024;

type Answer = Result<Value, RpcError>;

fn to<T: Serialize>(value: T) -> Answer {
    serde_json::to_value(value).map_err(RpcError::internal)
}

/// `eth_syncing`: `false`, or where the node's sync began, where it is and how far
/// its peers are.
fn syncing(host: &(impl ChainHost + ?Sized)) -> Result<SyncStatus, RpcError> {
    let status = host.node_status()?;
    if !status.syncing {
        return Ok(SyncStatus::None);
    }
    Ok(SyncStatus::Info(Box::new(SyncInfo {
        starting_block: U256::from(status.starting),
        current_block: U256::from(info(host)?.head),
        highest_block: U256::from(status.highest),
        ..SyncInfo::default()
    })))
}

/// Runs `method`.
pub fn dispatch(host: &(impl ChainHost + ?Sized), method: &str, p: Params) -> Answer {
    match method {
        "web3_clientVersion" => {
            p.at_most(0)?;
            to(CLIENT_VERSION)
        }
        "web3_sha3" => {
            p.at_most(1)?;
            to(keccak256(p.required::<Bytes>(0)?))
        }
        "net_version" => to(info(host)?.chain_id.to_string()),
        "net_listening" => to(true),
        "net_peerCount" => to(U64::from(host.node_status()?.peers)),
        "eth_chainId" => to(U64::from(info(host)?.chain_id)),
        "eth_blockNumber" => to(U64::from(info(host)?.head)),
        "eth_syncing" => to(syncing(host)?),
        "eth_accounts" => to(host.accounts()?),
        "eth_getBalance" => {
            p.at_most(2)?;
            to(account(host, &p)?.balance)
        }
        "eth_getTransactionCount" => {
            p.at_most(2)?;
            let address: Address = p.required(0)?;
            let block: Option<BlockId> = p.optional(1)?;
            if block == Some(BlockId::Number(BlockNumberOrTag::Pending)) {
                return to(U64::from(host.pending_nonce(&address)?));
            }
            to(U64::from(account(host, &p)?.nonce))
        }
        "eth_getCode" => {
            p.at_most(2)?;
            let address: Address = p.required(0)?;
            let at = At::of(host, p.optional(1)?)?;
            to(state::code(host, at, address)?)
        }
        "eth_getStorageAt" => {
            p.at_most(3)?;
            let address: Address = p.required(0)?;
            let slot: U256 = p.required(1)?;
            let at = At::of(host, p.optional(2)?)?;
            to(B256::from(state::storage(host, at, address, slot)?))
        }
        "eth_getProof" => {
            p.at_most(3)?;
            let address: Address = p.required(0)?;
            let keys = p.required(1)?;
            let at = At::of(host, p.optional(2)?)?;
            to(state::proof(host, at, address, keys)?)
        }
        "eth_call" => {
            p.at_most(4)?;
            let request = p.required::<CallParams>(0)?.into_request()?;
            let at = At::of(host, p.optional(1)?)?;
            let overrides = Overrides::new(p.optional(2)?, p.optional(3)?)?;
            let info = info(host)?;
            let out = state::call(host, at, &overrides, &call_request(&request, &info)?)?;
            to(succeeded(out)?)
        }
        "eth_estimateGas" => {
            p.at_most(4)?;
            let request = p.required::<CallParams>(0)?.into_request()?;
            let at = At::of(host, p.optional(1)?)?;
            let overrides = Overrides::new(p.optional(2)?, p.optional(3)?)?;
            to(U64::from(estimate_gas(host, at, &overrides, &request)?))
        }
        "eth_gasPrice" => to(U256::from(
            u128::from(info(host)?.next_base_fee) + SUGGESTED_TIP,
        )),
        "eth_maxPriorityFeePerGas" => to(U256::from(SUGGESTED_TIP)),
        "eth_blobBaseFee" => to(U256::from(1)),
        "eth_feeHistory" => fee_history(host, &p),
        "eth_sendRawTransaction" => {
            p.at_most(1)?;
            let raw: Bytes = p.required(0)?;
            to(host.send_raw(&raw)?)
        }
        "eth_sendTransaction" => {
            p.at_most(1)?;
            send_transaction(host, p.required::<CallParams>(0)?.into_request()?)
        }
        "eth_getTransactionByHash" => {
            p.at_most(1)?;
            let hash = p.required(0)?;
            let Some(at) = location(host, hash)? else {
                return to(blocks::pooled(host, hash)?);
            };
            to(load(host, at.number)?.and_then(|b| b.rpc_tx(at.index as usize)))
        }
        "eth_getTransactionReceipt" => {
            p.at_most(1)?;
            let Some(at) = location(host, p.required(0)?)? else {
                return Ok(Value::Null);
            };
            let Some(block) = load(host, at.number)? else {
                return Ok(Value::Null);
            };
            let receipts = block.rpc_receipts(receipts(host, at.number)?);
            to(receipts.into_iter().nth(at.index as usize))
        }
        "eth_getTransactionByBlockNumberAndIndex" | "eth_getTransactionByBlockHashAndIndex" => {
            p.at_most(2)?;
            let index: U64 = p.required(1)?;
            let Some(block) = block_param(host, &p, method.contains("Hash"))? else {
                return Ok(Value::Null);
            };
            to(block.rpc_tx(index.to::<usize>()))
        }
        "eth_getBlockByNumber" | "eth_getBlockByHash" => {
            p.at_most(2)?;
            let full: bool = p.required(1)?;
            let block = block_param(host, &p, method == "eth_getBlockByHash")?;
            to(block.map(|b| b.rpc_block(full)))
        }
        "eth_getBlockReceipts" => {
            p.at_most(1)?;
            let id: BlockId = p.required(0)?;
            let block = resolve(host, id)?.map(|n| load(host, n)).transpose()?;
            let Some(block) = block.flatten() else {
                return Ok(Value::Null);
            };
            to(block.rpc_receipts(receipts(host, block.header.number)?))
        }
        "eth_getBlockTransactionCountByNumber" | "eth_getBlockTransactionCountByHash" => {
            p.at_most(1)?;
            let block = block_param(host, &p, method.ends_with("Hash"))?;
            to(block.map(|b| U64::from(b.txs.len())))
        }
        "eth_getUncleCountByBlockNumber" | "eth_getUncleCountByBlockHash" => to(U64::ZERO),
        "eth_getLogs" => {
            p.at_most(1)?;
            to(logs(host, &p.required(0)?)?)
        }
        "evm_mine" => {
            p.at_most(1)?;
            let request = match p.optional::<Value>(0)? {
                None => MineRequest {
                    blocks: 1,
                    timestamp: 0,
                },
                Some(Value::Object(o)) => MineRequest {
                    blocks: quantity(o.get("blocks"))?.unwrap_or(1),
                    timestamp: quantity(o.get("timestamp"))?.unwrap_or(0),
                },
                Some(v) => MineRequest {
                    blocks: 1,
                    timestamp: quantity(Some(&v))?.unwrap_or(0),
                },
            };
            dev_only(host)?;
            host.mine(&request)?;
            to("0x0")
        }
        "anvil_mine" | "hardhat_mine" => {
            p.at_most(2)?;
            let blocks: Option<U64> = p.optional(0)?;
            dev_only(host)?;
            let request = MineRequest {
                blocks: blocks.map_or(1, |b| b.to::<u64>()),
                timestamp: 0,
            };
            host.mine(&request)?;
            Ok(Value::Null)
        }
        "evm_snapshot" | "anvil_snapshot" => {
            dev_only(host)?;
            to(U64::from(host.snapshot()?))
        }
        "evm_revert" | "anvil_revert" => {
            p.at_most(1)?;
            let id: U64 = p.required(0)?;
            dev_only(host)?;
            to(host.revert(id.to::<u64>())?)
        }
        "anvil_setBalance" | "hardhat_setBalance" => {
            p.at_most(2)?;
            let request = SetBalance {
                address: p.required(0)?,
                balance: p.required(1)?,
            };
            dev_only(host)?;
            host.set_balance(&request)?;
            Ok(Value::Null)
        }
        _ => crate::filters::dispatch(host, method, &p)
            .or_else(|| crate::sign::dispatch(host, method, &p))
            .or_else(|| crate::pool::dispatch(host, method, &p))
            .or_else(|| crate::cheats::dispatch(host, method, &p))
            .or_else(|| crate::trace::dispatch(host, method, &p))
            .or_else(|| crate::dump::dispatch(host, method, &p))
            .or_else(|| crate::ots::dispatch(host, method, &p))
            .unwrap_or_else(|| Err(RpcError::method_not_found(method))),
    }
}

/// Refuses dev methods on a node that does not offer them.
pub(crate) fn dev_only(host: &(impl ChainHost + ?Sized)) -> Result<(), RpcError> {
    if info(host)?.dev {
        Ok(())
    } else {
        Err(RpcError::server("dev methods are disabled on this node"))
    }
}

/// A number given as a JSON number or a hex quantity.
pub(crate) fn quantity(v: Option<&Value>) -> Result<Option<u64>, RpcError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| RpcError::invalid_params("expected a non-negative integer")),
        Some(v) => serde_json::from_value::<U64>(v.clone())
            .map(|q| Some(q.to::<u64>()))
            .map_err(|e| RpcError::invalid_params(e.to_string())),
    }
}

/// The account of parameter 0 at the block of parameter 1.
fn account(host: &(impl ChainHost + ?Sized), p: &Params) -> Result<AccountState, RpcError> {
    let address: Address = p.required(0)?;
    state::account(host, At::of(host, p.optional(1)?)?, address)
}

/// The block parameter 0 names (by hash or by number/tag), loaded.
fn block_param(
    host: &(impl ChainHost + ?Sized),
    p: &Params,
    by_hash: bool,
) -> Result<Option<blocks::Stored>, RpcError> {
    let number = if by_hash {
        let hash: B256 = p.required(0)?;
        blocks::header(host, BlockQuery::hash(hash))?.map(|(h, _)| h.number)
    } else {
        let tag: BlockNumberOrTag = p.required(0)?;
        number_of(tag, info(host)?.head)
    };
    number
        .map(|n| load(host, n))
        .transpose()
        .map(Option::flatten)
}

/// The call the node executes for a transaction request.
pub(crate) fn call_request(
    request: &TransactionRequest,
    info: &ChainInfo,
) -> Result<CallRequest, RpcError> {
    let data = request
        .input
        .clone()
        .try_into_unique_input()
        .map_err(|e| RpcError::invalid_params(e.to_string()))?
        .unwrap_or_default();
    let gas_price = match (request.gas_price, request.max_fee_per_gas) {
        (Some(price), _) => price,
        (None, Some(max_fee)) => max_fee
            .min(u128::from(info.next_base_fee) + request.max_priority_fee_per_gas.unwrap_or(0)),
        (None, None) => 0,
    };
    Ok(CallRequest {
        from: request.from.unwrap_or_default(),
        to: match request.to {
            Some(TxKind::Call(to)) => Bytes::copy_from_slice(to.as_slice()),
            _ => Bytes::new(),
        },
        value: request.value.unwrap_or_default(),
        data,
        gas_limit: request.gas.unwrap_or(0),
        gas_price,
        access_list: request
            .access_list
            .as_ref()
            .map(|l| alloy_rlp::encode(l).into()),
        authorization_list: request
            .authorization_list
            .as_ref()
            .map(|l| alloy_rlp::encode(l).into()),
    })
}

/// The return data of a successful call, or the error a client expects.
fn succeeded(out: CallOutput) -> Result<Bytes, RpcError> {
    match out.status {
        0 => Ok(out.output),
        1 => Err(RpcError::reverted(&out.output)),
        _ if out.message.is_empty() => Err(RpcError::server("execution halted")),
        _ => Err(RpcError::server(out.message)),
    }
}

/// Gas of a plain value transfer.
const TRANSFER_GAS: u64 = 21_000;

/// The least gas limit at which `request` succeeds: exactly 21000 for a plain transfer
/// (geth's fast path), otherwise found by bisection between what the call used and
/// what it was allowed, as anvil does (geth stops within 1.5%).
fn estimate_gas(
    host: &(impl ChainHost + ?Sized),
    at: At,
    overrides: &Overrides,
    request: &TransactionRequest,
) -> Result<u64, RpcError> {
    let info = info(host)?;
    let mut msg = call_request(request, &info)?;
    let mut hi = match request.gas {
        Some(g) => g.min(info.gas_limit),
        None => info.gas_limit,
    };
    let plain = msg.data.is_empty()
        && msg.to.len() == 20
        && msg.access_list.is_none()
        && msg.authorization_list.is_none();
    if plain && hi >= TRANSFER_GAS {
        let to = Address::from_slice(&msg.to);
        if state::code(host, at, to)?.is_empty() {
            msg.gas_limit = TRANSFER_GAS;
            let out = state::call(host, at, overrides, &msg)?;
            if out.status == 0 {
                return Ok(TRANSFER_GAS);
            }
        }
    }
    msg.gas_limit = hi;
    let first = state::call(host, at, overrides, &msg)?;
    if first.status == 2 {
        return Err(RpcError::server(format!(
            "gas required exceeds allowance ({hi}): {}",
            first.message
        )));
    }
    let mut lo = first.gas_used.saturating_sub(1);
    succeeded(first)?;
    let mut works = |gas: u64| -> Result<bool, RpcError> {
        msg.gas_limit = gas;
        Ok(state::call(host, at, overrides, &msg)?.status == 0)
    };
    // Most calls need a little more than they use (refunds, the 63/64 rule): try that
    // first, then bisect.
    let optimistic = (lo + 1 + 2300).saturating_mul(64) / 63;
    if optimistic < hi && works(optimistic)? {
        hi = optimistic;
    }
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if works(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// `eth_sendTransaction`: fills in what the request leaves out, has the node sign it
/// with the sender's unlocked key and submits it.
/// `eth_sendTransaction`: from an unlocked account, or from one the dev node
/// impersonates (`anvil_impersonateAccount`), sent with the impersonation marker for
/// a signature.
fn send_transaction(host: &(impl ChainHost + ?Sized), request: TransactionRequest) -> Answer {
    let from = request
        .from
        .ok_or_else(|| RpcError::invalid_params("from is required"))?;
    let raw = match impersonated(host, from)? {
        true => {
            let tx = completed(host, request)?;
            let signature = molt_abi::execution::impersonation::signature(from);
            tx.into_envelope(signature).encoded_2718().into()
        }
        false => signed_transaction(host, request)?,
    };
    to(host.send_raw(&raw)?)
}

/// Whether the node takes transactions from `address` without its key.
fn impersonated(host: &(impl ChainHost + ?Sized), address: Address) -> Result<bool, RpcError> {
    if !info(host)?.dev {
        return Ok(false);
    }
    let asked = host.dev_control(&DevControl {
        what: dev::IMPERSONATING,
        address,
        ..DevControl::default()
    });
    // A node whose chain takes no impersonated transactions says so: none is.
    Ok(asked.unwrap_or(0) == 1)
}

/// `eth_signTransaction`: the request completed (nonce, fees, gas) and signed by the
/// node with the sender's unlocked key, EIP-2718 encoded.
pub(crate) fn signed_transaction(
    host: &(impl ChainHost + ?Sized),
    request: TransactionRequest,
) -> Result<Bytes, RpcError> {
    let from = request
        .from
        .ok_or_else(|| RpcError::invalid_params("from is required"))?;
    let unlocked = host.accounts()?;
    if !unlocked.contains(&from) {
        return Err(RpcError::server(format!("unknown account {from}")));
    }
    let tx = completed(host, request)?;
    let signature = crate::sign::sign(host, from, tx.signature_hash())?;
    Ok(tx.into_envelope(signature).encoded_2718().into())
}

/// The request with what the client left out filled in (chain id, nonce, fees, gas),
/// as the transaction to sign.
fn completed(
    host: &(impl ChainHost + ?Sized),
    mut request: TransactionRequest,
) -> Result<alloy_consensus::TypedTransaction, RpcError> {
    let from = request
        .from
        .ok_or_else(|| RpcError::invalid_params("from is required"))?;
    let info = info(host)?;
    if request.chain_id.is_some_and(|id| id != info.chain_id) {
        return Err(RpcError::invalid_params(format!(
            "chainId does not match the node's ({})",
            info.chain_id
        )));
    }
    request.chain_id = Some(info.chain_id);
    request.to.get_or_insert(TxKind::Create);
    if request.nonce.is_none() {
        request.nonce = Some(host.pending_nonce(&from)?);
    }
    if request.gas_price.is_none() {
        let tip = request.max_priority_fee_per_gas.unwrap_or(SUGGESTED_TIP);
        request.max_priority_fee_per_gas = Some(tip);
        request
            .max_fee_per_gas
            .get_or_insert(2 * u128::from(info.next_base_fee) + tip);
    }
    if request.gas.is_none() {
        request.gas = Some(estimate_gas(
            host,
            At::Pending,
            &Overrides::default(),
            &request,
        )?);
    }
    request
        .build_typed_tx()
        .map_err(|_| RpcError::invalid_params("the transaction request is incomplete"))
}

fn fee_history(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    p.at_most(3)?;
    let count: U64 = p.required(0)?;
    let newest: BlockNumberOrTag = p.required(1)?;
    let percentiles: Vec<f64> = p.optional(2)?.unwrap_or_default();
    if percentiles
        .windows(2)
        .any(|w| w[0] > w[1] || !(0.0..=100.0).contains(&w[1]))
        || percentiles
            .first()
            .is_some_and(|f| !(0.0..=100.0).contains(f))
    {
        return Err(RpcError::invalid_params(
            "reward percentiles must be increasing and between 0 and 100",
        ));
    }
    let head = info(host)?.head;
    let newest = number_of(newest, head).ok_or_else(|| RpcError::server("header not found"))?;
    let count = count.to::<u64>().min(MAX_FEE_HISTORY).min(newest + 1);
    let oldest = newest + 1 - count;
    let mut history = FeeHistory {
        oldest_block: oldest,
        ..FeeHistory::default()
    };
    let mut rewards = Vec::new();
    let mut last = None;
    for n in oldest..=newest {
        let block = load(host, n)?.ok_or_else(|| RpcError::server("header not found"))?;
        let base_fee = block.header.base_fee_per_gas.unwrap_or(0);
        history.base_fee_per_gas.push(u128::from(base_fee));
        history.base_fee_per_blob_gas.push(1);
        history.blob_gas_used_ratio.push(0.0);
        history
            .gas_used_ratio
            .push(block.header.gas_used as f64 / block.header.gas_limit.max(1) as f64);
        if !percentiles.is_empty() {
            rewards.push(block_rewards(host, &block, base_fee, &percentiles)?);
        }
        last = Some(block.header);
    }
    if let Some(h) = last {
        let next = h
            .next_block_base_fee(BaseFeeParams::ethereum())
            .unwrap_or(0);
        history.base_fee_per_gas.push(u128::from(next));
        history.base_fee_per_blob_gas.push(1);
    }
    if !percentiles.is_empty() {
        history.reward = Some(rewards);
    }
    to(history)
}

/// The effective tips at `percentiles` of a block's gas, as geth computes them.
fn block_rewards(
    host: &(impl ChainHost + ?Sized),
    block: &blocks::Stored,
    base_fee: u64,
    percentiles: &[f64],
) -> Result<Vec<u128>, RpcError> {
    if block.txs.is_empty() {
        return Ok(vec![0; percentiles.len()]);
    }
    let receipts = block.rpc_receipts(receipts(host, block.header.number)?);
    let mut tips: Vec<(u128, u64)> = block
        .txs
        .iter()
        .zip(&receipts)
        .map(|((_, tx), r)| (tx.effective_tip_per_gas(base_fee).unwrap_or(0), r.gas_used))
        .collect();
    tips.sort_unstable_by_key(|(tip, _)| *tip);
    let total: u64 = tips.iter().map(|(_, g)| g).sum();
    let mut out = Vec::with_capacity(percentiles.len());
    let (mut i, mut sum) = (0usize, tips[0].1);
    for pct in percentiles {
        let threshold = (total as f64 * pct / 100.0) as u64;
        while sum < threshold && i + 1 < tips.len() {
            i += 1;
            sum += tips[i].1;
        }
        out.push(tips[i].0);
    }
    Ok(out)
}

/// The logs `filter` matches (`eth_getLogs`).
pub(crate) fn logs(
    host: &(impl ChainHost + ?Sized),
    filter: &Filter,
) -> Result<Vec<Log>, RpcError> {
    let head = info(host)?.head;
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let Some((header, _)) = blocks::header(host, BlockQuery::hash(hash))? else {
                return Err(RpcError::server("unknown block"));
            };
            (header.number, header.number)
        }
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let tag = |t: Option<BlockNumberOrTag>| {
                number_of(t.unwrap_or(BlockNumberOrTag::Latest), head).unwrap_or(u64::MAX)
            };
            (tag(from_block), tag(to_block).min(head))
        }
    };
    if from == u64::MAX {
        return Ok(Vec::new());
    }
    if from > to {
        return Err(RpcError::invalid_params("invalid block range params"));
    }
    if to - from >= MAX_LOG_RANGE {
        return Err(RpcError::server(format!(
            "query exceeds max block range {MAX_LOG_RANGE}"
        )));
    }
    let mut out = Vec::new();
    for n in from..=to {
        let Some((header, _)) = blocks::header(host, BlockQuery::number(n))? else {
            continue;
        };
        if !filter.matches_bloom(header.logs_bloom) {
            continue;
        }
        let Some(block) = load(host, n)? else {
            continue;
        };
        for receipt in block.rpc_receipts(receipts(host, n)?) {
            out.extend(
                receipt
                    .inner
                    .logs()
                    .iter()
                    .filter(|l| filter.matches(&l.inner))
                    .cloned(),
            );
        }
    }
    Ok(out)
}
