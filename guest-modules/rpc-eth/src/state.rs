//! State reads at a block: the head's state through the plain chain queries, a past
//! block's through their `_AT` forms (the node keeps the state of every block, or of
//! the last `--history N`, and says why when it cannot answer), and `eth_getProof`.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, Bytes, U256};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy_serde::storage::JsonStorageKey;
use molt_abi::execution::CallOutput;
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{
    AccountAt, AccountState, CallAt, CallRequest, ChainQueries, ProofQuery, StorageAt, StorageQuery,
};

use crate::RpcError;
use crate::blocks::{info, number_of, resolve};

/// Whose state a method reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The head's, whatever block it is when the node answers (`latest`, `pending`,
    /// `safe`, `finalized`, or no block parameter).
    Head,
    /// The state after this block.
    Block(u64),
}

impl At {
    /// What a block parameter names; "header not found" (geth's words) for a block the
    /// node does not have.
    pub fn of(host: &(impl ChainHost + ?Sized), id: Option<BlockId>) -> Result<At, RpcError> {
        let not_found = || RpcError::server("header not found");
        match id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
            BlockId::Number(
                BlockNumberOrTag::Latest
                | BlockNumberOrTag::Pending
                | BlockNumberOrTag::Safe
                | BlockNumberOrTag::Finalized,
            ) => Ok(At::Head),
            BlockId::Number(tag) => number_of(tag, info(host)?.head)
                .map(At::Block)
                .ok_or_else(not_found),
            hash => resolve(host, hash)?.map(At::Block).ok_or_else(not_found),
        }
    }

    /// The block number this names (the head's number now, for [`At::Head`]).
    pub fn number(self, host: &(impl ChainHost + ?Sized)) -> Result<u64, RpcError> {
        match self {
            At::Head => Ok(info(host)?.head),
            At::Block(n) => Ok(n),
        }
    }
}

/// An account.
pub fn account(
    host: &(impl ChainHost + ?Sized),
    at: At,
    address: Address,
) -> Result<AccountState, RpcError> {
    Ok(match at {
        At::Head => host.account(&address)?,
        At::Block(block) => host.account_at(&AccountAt { block, address })?,
    })
}

/// An account's code.
pub fn code(host: &(impl ChainHost + ?Sized), at: At, address: Address) -> Result<Bytes, RpcError> {
    Ok(match at {
        At::Head => host.code(&address)?,
        At::Block(block) => host.code_at(&AccountAt { block, address })?,
    })
}

/// A storage slot.
pub fn storage(
    host: &(impl ChainHost + ?Sized),
    at: At,
    address: Address,
    slot: U256,
) -> Result<U256, RpcError> {
    Ok(match at {
        At::Head => host.storage(&StorageQuery { address, slot })?,
        At::Block(block) => host.storage_at(&StorageAt {
            block,
            address,
            slot,
        })?,
    })
}

/// A message executed on the state, committing nothing.
pub fn call(
    host: &(impl ChainHost + ?Sized),
    at: At,
    request: &CallRequest,
) -> Result<CallOutput, RpcError> {
    Ok(match at {
        At::Head => host.call(request)?,
        At::Block(block) => host.call_at(&CallAt {
            block,
            request: request.clone(),
        })?,
    })
}

/// `eth_getProof`: the account's and the slots' proofs at the block.
pub fn proof(
    host: &(impl ChainHost + ?Sized),
    at: At,
    address: Address,
    keys: Vec<JsonStorageKey>,
) -> Result<EIP1186AccountProofResponse, RpcError> {
    let p = host.proof(&ProofQuery {
        block: at.number(host)?,
        address,
        slots: keys.iter().map(|k| k.as_b256().into()).collect(),
    })?;
    Ok(EIP1186AccountProofResponse {
        address,
        balance: p.balance,
        code_hash: p.code_hash,
        nonce: p.nonce,
        storage_hash: p.storage_root,
        account_proof: p.proof,
        storage_proof: keys
            .into_iter()
            .zip(p.storage)
            .map(|(key, s)| EIP1186StorageProof {
                key,
                value: s.value,
                proof: s.proof,
            })
            .collect(),
    })
}
