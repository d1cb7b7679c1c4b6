//! `molt_execute_block`: a block's transactions, in order, on the host's state.

use std::collections::BTreeMap;

use molt_abi::GuestError;
use molt_abi::execution::{
    self, AccountChange, AccountInfo, BlockInput, BlockOutput, NewCode, Receipt, Rejection,
    StorageChange, TxOutcome, reject,
};
use molt_abi::imports::StateHost;
use revm::context::result::{EVMError, ExecutionResult, InvalidTransaction, Output};
use revm::database::states::bundle_state::BundleRetention;
use revm::database::{BundleState, State};
use revm::primitives::KECCAK_EMPTY;
use revm::{Context, MainBuilder, MainContext};

use crate::db::HostDb;
use crate::{dispatch, env, tx};

/// Executes a [`BlockInput`] and returns its encoded [`BlockOutput`].
///
/// A transaction that cannot be included is rejected with a reason and changes
/// nothing; the block goes on. Only a problem with the block itself (unknown fork,
/// malformed input, a state read the host cannot serve) refuses the whole call.
pub fn execute_block<H: StateHost + ?Sized>(host: &H, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    let input: BlockInput = execution::decode(input)
        .map_err(|e| GuestError::new(format!("malformed block input: {e}")))?;
    let (cfg, block) = env::revm_env(&input.env)?;
    let block_gas_limit = block.gas_limit;
    let impersonation = input.impersonation.unwrap_or(false);
    let mut state = State::builder()
        .with_database(HostDb(host))
        .with_bundle_update()
        .build();
    let mut outcomes = Vec::with_capacity(input.txs.len());
    let mut cumulative: u64 = 0;
    {
        let mut evm = Context::mainnet()
            .with_db(&mut state)
            .with_block(block)
            .with_cfg(cfg)
            .build_mainnet();
        for raw in &input.txs {
            let decoded = match tx::decode(raw, impersonation) {
                Ok(d) => d,
                Err(rejection) => {
                    outcomes.push(TxOutcome::Rejected(rejection));
                    continue;
                }
            };
            let gas_limit = decoded.env.gas_limit;
            if gas_limit <= block_gas_limit && cumulative + gas_limit > block_gas_limit {
                outcomes.push(TxOutcome::Rejected(Rejection {
                    code: reject::BLOCK_GAS_EXHAUSTED.into(),
                    message: format!(
                        "gas limit {gas_limit} exceeds the {} gas left in the block",
                        block_gas_limit - cumulative
                    ),
                }));
                continue;
            }
            match dispatch::transact_commit(&mut evm, decoded.env) {
                Ok(result) => {
                    cumulative += result.tx_gas_used();
                    outcomes.push(TxOutcome::Included(receipt(
                        &result,
                        cumulative,
                        decoded.tx_type,
                        decoded.hash,
                        decoded.sender,
                    )));
                }
                Err(EVMError::Transaction(invalid)) => {
                    outcomes.push(TxOutcome::Rejected(rejection(&invalid)));
                }
                Err(EVMError::Header(h)) => {
                    return Err(GuestError::new(format!("invalid block: {h}")));
                }
                Err(e) => return Err(GuestError::new(format!("execution failed: {e}"))),
            }
        }
    }
    state.merge_transitions(BundleRetention::PlainState);
    let (accounts, codes) = diff(state.take_bundle());
    Ok(execution::encode(&BlockOutput {
        outcomes,
        gas_used: cumulative,
        accounts,
        codes,
    }))
}

fn receipt(
    result: &ExecutionResult,
    cumulative_gas_used: u64,
    tx_type: u8,
    tx_hash: revm::primitives::B256,
    sender: revm::primitives::Address,
) -> Receipt {
    let contract_address = match result {
        ExecutionResult::Success {
            output: Output::Create(_, Some(address)),
            ..
        } => address.to_vec().into(),
        _ => Default::default(),
    };
    Receipt {
        tx_type,
        tx_hash,
        sender,
        success: result.is_success(),
        gas_used: result.tx_gas_used(),
        cumulative_gas_used,
        logs: result.logs().to_vec(),
        contract_address,
        output: result.output().cloned().unwrap_or_default(),
    }
}

/// The ABI's rejection code for one of revm's validity verdicts.
pub(crate) fn rejection(invalid: &InvalidTransaction) -> Rejection {
    use InvalidTransaction as I;
    let code = match invalid {
        I::NonceTooLow { .. } => reject::NONCE_TOO_LOW,
        I::NonceTooHigh { .. } => reject::NONCE_TOO_HIGH,
        I::LackOfFundForMaxFee { .. } | I::OverflowPaymentInTransaction => {
            reject::INSUFFICIENT_FUNDS
        }
        I::CallGasCostMoreThanGasLimit { .. } | I::GasFloorMoreThanGasLimit { .. } => {
            reject::INTRINSIC_GAS_TOO_LOW
        }
        I::CallerGasLimitMoreThanBlock | I::TxGasLimitGreaterThanCap { .. } => {
            reject::GAS_LIMIT_EXCEEDS_BLOCK
        }
        I::InvalidChainId | I::MissingChainId => reject::WRONG_CHAIN_ID,
        I::GasPriceLessThanBasefee | I::PriorityFeeGreaterThanMaxFee => reject::FEE_TOO_LOW,
        I::RejectCallerWithCode => reject::SENDER_NOT_EOA,
        I::Eip2930NotSupported
        | I::Eip1559NotSupported
        | I::Eip4844NotSupported
        | I::Eip7702NotSupported
        | I::Eip7873NotSupported => reject::TYPE_NOT_SUPPORTED,
        _ => reject::INVALID,
    };
    Rejection {
        code: code.into(),
        message: invalid.to_string(),
    }
}

/// The block's effect on the state: changed accounts and new code, in canonical order.
fn diff(bundle: BundleState) -> (Vec<AccountChange>, Vec<NewCode>) {
    let mut accounts = BTreeMap::new();
    for (address, acc) in bundle.state {
        let wiped = acc.status.was_destroyed();
        let mut storage: Vec<StorageChange> = acc
            .storage
            .iter()
            .filter(|(_, slot)| slot.is_changed() || (wiped && !slot.present_value.is_zero()))
            .map(|(slot, s)| StorageChange {
                slot: *slot,
                value: s.present_value,
            })
            .collect();
        storage.sort_unstable_by_key(|s| s.slot);
        let change = match &acc.info {
            None if acc.original_info.is_none() && !wiped => continue,
            None => AccountChange {
                address,
                deleted: true,
                info: AccountInfo::default(),
                storage_wiped: true,
                storage: Vec::new(),
            },
            Some(info) => {
                if !wiped && storage.is_empty() && acc.original_info.as_ref() == Some(info) {
                    continue;
                }
                AccountChange {
                    address,
                    deleted: false,
                    info: AccountInfo {
                        nonce: info.nonce,
                        balance: info.balance,
                        code_hash: info.code_hash,
                    },
                    storage_wiped: wiped,
                    storage,
                }
            }
        };
        accounts.insert(address, change);
    }
    let mut codes: Vec<NewCode> = bundle
        .contracts
        .into_iter()
        .filter(|(hash, _)| *hash != KECCAK_EMPTY)
        .map(|(hash, code)| NewCode {
            hash,
            code: code.original_bytes(),
        })
        .collect();
    codes.sort_unstable_by_key(|c| c.hash);
    (accounts.into_values().collect(), codes)
}
