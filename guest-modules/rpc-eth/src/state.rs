//! State reads at a block: the head's state through the plain chain queries, a past
//! block's through their `_AT` forms (the node keeps the state of every block, or of
//! the last `--history N`, and says why when it cannot answer), calls with state and
//! block overrides, and `eth_getProof`.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, Bytes, U256};
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{BlockOverrides, EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy_serde::storage::JsonStorageKey;
use molt_abi::execution::CallOutput;
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{
    AccountAt, AccountOverride, AccountState, CallAt, CallRequest, ChainQueries, EnvOverride,
    ProofQuery, SlotValue, StorageAt, StorageQuery, set,
};

use crate::RpcError;
use crate::blocks::{info, number_of, resolve};

/// Whose state a method reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The head's, whatever block it is when the node answers (`latest`, `safe`,
    /// `finalized`, or no block parameter); a call runs in the head block's
    /// environment, as geth and anvil run it.
    Head,
    /// The block being built (`pending`): the head's state, and a call runs in the
    /// next block's environment (its number, timestamp, base fee).
    Pending,
    /// The state after this block.
    Block(u64),
}

impl At {
    /// What a block parameter names; "header not found" (geth's words) for a block the
    /// node does not have.
    pub fn of(host: &(impl ChainHost + ?Sized), id: Option<BlockId>) -> Result<At, RpcError> {
        let not_found = || RpcError::server("header not found");
        match id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
            BlockId::Number(BlockNumberOrTag::Pending) => Ok(At::Pending),
            BlockId::Number(
                BlockNumberOrTag::Latest | BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized,
            ) => Ok(At::Head),
            BlockId::Number(tag) => number_of(tag, info(host)?.head)
                .map(At::Block)
                .ok_or_else(not_found),
            hash => resolve(host, hash)?.map(At::Block).ok_or_else(not_found),
        }
    }

    /// The block number whose state this names (the head's number now, for
    /// [`At::Head`] and [`At::Pending`]).
    pub fn number(self, host: &(impl ChainHost + ?Sized)) -> Result<u64, RpcError> {
        match self {
            At::Head | At::Pending => Ok(info(host)?.head),
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
        At::Head | At::Pending => host.account(&address)?,
        At::Block(block) => host.account_at(&AccountAt { block, address })?,
    })
}

/// An account's code.
pub fn code(host: &(impl ChainHost + ?Sized), at: At, address: Address) -> Result<Bytes, RpcError> {
    Ok(match at {
        At::Head | At::Pending => host.code(&address)?,
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
        At::Head | At::Pending => host.storage(&StorageQuery { address, slot })?,
        At::Block(block) => host.storage_at(&StorageAt {
            block,
            address,
            slot,
        })?,
    })
}

/// What one call replaces of the state and of the block (geth's state and block
/// overrides, as `eth_call` and `eth_estimateGas` take them).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    accounts: Vec<AccountOverride>,
    env: EnvOverride,
}

impl Overrides {
    /// From the JSON-RPC parameters; an error names what molt cannot override.
    pub fn new(
        state: Option<StateOverride>,
        block: Option<BlockOverrides>,
    ) -> Result<Overrides, RpcError> {
        let mut accounts = Vec::new();
        for (address, o) in state.unwrap_or_default() {
            if o.move_precompile_to.is_some() {
                return Err(RpcError::invalid_params(
                    "movePrecompileToAddress is not supported",
                ));
            }
            let (storage, whole) = match (o.state, o.state_diff) {
                (Some(_), Some(_)) => {
                    return Err(RpcError::invalid_params(format!(
                        "account {address} has both 'state' and 'stateDiff'"
                    )));
                }
                (Some(s), None) => (s, true),
                (None, Some(s)) => (s, false),
                (None, None) => (Default::default(), false),
            };
            let mut bits = 0;
            let mut flag = |on: bool, bit: u8| bits |= if on { bit } else { 0 };
            flag(o.balance.is_some(), set::BALANCE);
            flag(o.nonce.is_some(), set::NONCE);
            flag(o.code.is_some(), set::CODE);
            flag(whole, set::WHOLE_STORAGE);
            accounts.push(AccountOverride {
                address,
                set: bits,
                balance: o.balance.unwrap_or_default(),
                nonce: o.nonce.unwrap_or_default(),
                code: o.code.unwrap_or_default(),
                storage: storage
                    .into_iter()
                    .map(|(slot, value)| SlotValue {
                        slot: slot.into(),
                        value: value.into(),
                    })
                    .collect(),
            });
        }
        let mut env = EnvOverride::default();
        if let Some(b) = block {
            if b.difficulty.is_some()
                || b.blob_base_fee.is_some()
                || b.beacon_root.is_some()
                || b.block_hash.is_some()
            {
                return Err(RpcError::invalid_params(
                    "block overrides: only number, time, gasLimit, feeRecipient (coinbase),                      prevRandao (random) and baseFeePerGas are supported",
                ));
            }
            let small = |v: alloy_primitives::U256, what: &str| -> Result<u64, RpcError> {
                u64::try_from(v)
                    .map_err(|_| RpcError::invalid_params(format!("{what} is too large")))
            };
            if let Some(n) = b.number {
                env.number = small(n, "number")?;
                env.set |= set::NUMBER;
            }
            if let Some(t) = b.time {
                env.timestamp = t;
                env.set |= set::TIMESTAMP;
            }
            if let Some(g) = b.gas_limit {
                env.gas_limit = g;
                env.set |= set::GAS_LIMIT;
            }
            if let Some(c) = b.coinbase {
                env.coinbase = c;
                env.set |= set::COINBASE;
            }
            if let Some(r) = b.random {
                env.prevrandao = r;
                env.set |= set::PREVRANDAO;
            }
            if let Some(f) = b.base_fee {
                env.base_fee = small(f, "baseFeePerGas")?;
                env.set |= set::BASE_FEE;
            }
        }
        Ok(Overrides { accounts, env })
    }

    fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.env.set == 0
    }

    /// `request` on the state after block `block`, with these overrides.
    pub fn call_at(&self, block: u64, request: &CallRequest) -> CallAt {
        CallAt {
            block,
            request: request.clone(),
            accounts: self.accounts.clone(),
            env: self.env,
        }
    }
}

/// A message executed on the state, committing nothing.
pub fn call(
    host: &(impl ChainHost + ?Sized),
    at: At,
    overrides: &Overrides,
    request: &CallRequest,
) -> Result<CallOutput, RpcError> {
    if at == At::Pending && overrides.is_empty() {
        return Ok(host.call(request)?);
    }
    Ok(host.call_at(&overrides.call_at(at.number(host)?, request))?)
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
