//! `molt_execute_call`: one unsigned message, executed and thrown away (`eth_call`,
//! gas estimation).

use alloy_primitives::{Address, TxKind};
use molt_abi::GuestError;
use molt_abi::execution::{self, CallInput, CallOutput};
use molt_abi::imports::StateHost;
use revm::context::TxEnv;
use revm::context::result::{EVMError, ExecutionResult};
use revm::database::State;
use revm::{Context, ExecuteEvm, MainBuilder, MainContext};

use crate::db::HostDb;
use crate::env;

/// Executes a [`CallInput`] without committing and returns its encoded [`CallOutput`].
///
/// Like `eth_call` in geth: the sender's nonce is not checked, and with a zero gas
/// price no fee is charged, so the sender needs a balance only for the value.
pub fn execute_call<H: StateHost + ?Sized>(host: &H, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    let input: CallInput = execution::decode(input)
        .map_err(|e| GuestError::new(format!("malformed call input: {e}")))?;
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
    if input.gas_price == 0 {
        cfg.disable_base_fee = true;
    }
    let nonce = host
        .account(&input.from)
        .map(|a| a.nonce)
        .unwrap_or_default();
    let tx = TxEnv {
        caller: input.from,
        kind,
        value: input.value,
        data: input.data,
        gas_limit: input.gas_limit,
        gas_price: input.gas_price,
        nonce,
        chain_id: None,
        ..TxEnv::default()
    };
    let mut state = State::builder().with_database(HostDb(host)).build();
    let mut evm = Context::mainnet()
        .with_db(&mut state)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet();
    let out = match evm.transact(tx) {
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
                    message: format!("{reason:?}"),
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
