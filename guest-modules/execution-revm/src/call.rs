//! `molt_execute_call`: one unsigned message, executed and thrown away (`eth_call`,
//! gas estimation).

use alloy_eips::eip2930::AccessList;
use alloy_eips::eip7702::SignedAuthorization;
use alloy_primitives::{Address, TxKind};
use molt_abi::GuestError;
use molt_abi::execution::{self, CallInput, CallOutput};
use molt_abi::imports::StateHost;
use revm::context::either::Either;
use revm::context::result::{EVMError, ExecutionResult, HaltReason};
use revm::context::{BlockEnv as RevmBlock, CfgEnv, TxEnv};
use revm::database::State;
use revm::{Context, MainBuilder, MainContext};

use crate::db::HostDb;
use crate::{dispatch, env};

/// Executes a [`CallInput`] without committing and returns its encoded [`CallOutput`].
///
/// Like `eth_call` in geth: the sender's nonce is not checked, and with a zero gas
/// price no fee is charged, so the sender needs a balance only for the value.
pub fn execute_call<H: StateHost + ?Sized>(host: &H, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    let input: CallInput = execution::decode(input)
        .map_err(|e| GuestError::new(format!("malformed call input: {e}")))?;
    let (cfg, block, tx) = message(host, &input)?;
    let mut state = State::builder().with_database(HostDb(host)).build();
    let mut evm = Context::mainnet()
        .with_db(&mut state)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet();
    let out = match dispatch::transact(&mut evm, tx) {
        Ok(r) => {
            let gas_used = r.result.tx_gas_used();
            match r.result {
                ExecutionResult::Success { output, logs, .. } => CallOutput {
                    status: 0,
                    gas_used,
                    output: output.into_data(),
                    logs,
                    message: String::new(),
                },
                ExecutionResult::Revert { output, .. } => CallOutput {
                    status: 1,
                    gas_used,
                    output,
                    ..CallOutput::default()
                },
                ExecutionResult::Halt { reason, .. } => CallOutput {
                    status: 2,
                    gas_used,
                    message: halt_message(&reason),
                    ..CallOutput::default()
                },
            }
        }
        Err(EVMError::Transaction(invalid)) => CallOutput {
            status: 3,
            message: invalid.to_string(),
            ..CallOutput::default()
        },
        Err(e) => return Err(GuestError::new(format!("call failed: {e}"))),
    };
    Ok(execution::encode(&out))
}

/// revm's configuration, block and transaction for the message `input`.
///
/// Like `eth_call` in geth: the sender's nonce is not checked, and with a zero gas
/// price no fee is charged, so the sender needs a balance only for the value.
pub(crate) fn message<H: StateHost + ?Sized>(
    host: &H,
    input: &CallInput,
) -> Result<(CfgEnv, RevmBlock, TxEnv), GuestError> {
    let kind = match input.to.len() {
        0 => TxKind::Create,
        20 => TxKind::Call(Address::from_slice(&input.to)),
        n => {
            return Err(GuestError::new(format!(
                "`to` must be empty or 20 bytes, not {n}"
            )));
        }
    };
    let (mut cfg, block) = env::revm_env(&input.env)?;
    cfg.disable_nonce_check = true;
    cfg.disable_block_gas_limit = true;
    // A message may run in an older block than the one its price was set for; its
    // price is charged, never checked against the base fee (as reth runs calls).
    cfg.disable_base_fee = true;
    let nonce = host
        .account(&input.from)
        .map(|a| a.nonce)
        .unwrap_or_default();
    let access_list: Option<AccessList> = list("access list", &input.access_list)?;
    let authorizations: Option<Vec<SignedAuthorization>> =
        list("authorization list", &input.authorization_list)?;
    let mut tx = TxEnv {
        caller: input.from,
        kind,
        value: input.value,
        data: input.data.clone(),
        gas_limit: input.gas_limit,
        gas_price: input.gas_price,
        nonce,
        chain_id: None,
        ..TxEnv::default()
    };
    if let Some(access_list) = access_list {
        tx.tx_type = 1;
        tx.chain_id = Some(input.env.chain_id);
        tx.access_list = access_list;
    }
    if let Some(authorizations) = authorizations {
        // Executed as the set-code transaction it would be.
        tx.tx_type = 4;
        tx.chain_id = Some(input.env.chain_id);
        tx.gas_priority_fee = Some(0);
        tx.authorization_list = authorizations.into_iter().map(Either::Left).collect();
    }
    Ok((cfg, block, tx))
}

/// Why a message halted, in geth's words, which clients match on.
pub(crate) fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".into(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".into(),
        reason => format!("{reason:?}"),
    }
}

/// An optional RLP-encoded list of the call input.
fn list<T: alloy_rlp::Decodable>(
    what: &str,
    rlp: &Option<alloy_primitives::Bytes>,
) -> Result<Option<T>, GuestError> {
    rlp.as_ref()
        .map(|b| T::decode(&mut b.as_ref()))
        .transpose()
        .map_err(|e| GuestError::new(format!("malformed {what}: {e}")))
}
