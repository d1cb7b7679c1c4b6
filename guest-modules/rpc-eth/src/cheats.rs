//! The dev node's controls as anvil and hardhat name them: the clock
//! (`evm_increaseTime`, `evm_setNextBlockTimestamp`), the coinbase
//! (`anvil_setCoinbase`), when blocks are sealed (`evm_setAutomine`,
//! `anvil_setIntervalMining`) and the pool (`anvil_dropTransaction`,
//! `anvil_dropAllTransactions`). The node keeps them (`DEV_CONTROL`), and `evm_revert`
//! undoes them with everything else.

use alloy_primitives::{Address, B256};
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{ChainQueries, DevControl, dev};
use serde_json::Value;

use crate::RpcError;
use crate::eth::{dev_only, quantity};
use crate::params::Params;

type Answer = Result<Value, RpcError>;

/// Runs dev control method `method`, or `None` if it is not one.
pub fn dispatch(host: &(impl ChainHost + ?Sized), method: &str, p: &Params) -> Option<Answer> {
    let none = (Address::ZERO, B256::ZERO);
    Some(match method {
        "evm_increaseTime" | "anvil_increaseTime" => number(p)
            .and_then(|secs| control(host, dev::INCREASE_TIME, secs, none))
            .map(Value::from),
        "evm_setNextBlockTimestamp" | "anvil_setNextBlockTimestamp" => number(p)
            .and_then(|t| control(host, dev::NEXT_TIMESTAMP, t, none))
            .map(|_| Value::Null),
        "anvil_setCoinbase" | "hardhat_setCoinbase" => (|| {
            p.at_most(1)?;
            control(host, dev::COINBASE, 0, (p.required(0)?, B256::ZERO))?;
            Ok(Value::Null)
        })(),
        "evm_setAutomine" | "anvil_setAutomine" => (|| {
            p.at_most(1)?;
            let on: bool = p.required(0)?;
            control(host, dev::AUTOMINE, u64::from(on), none)?;
            Ok(Value::Null)
        })(),
        "anvil_setIntervalMining" | "evm_setIntervalMining" => number(p)
            .and_then(|secs| control(host, dev::INTERVAL, secs, none))
            .map(|_| Value::Null),
        "anvil_dropTransaction" | "hardhat_dropTransaction" => (|| {
            p.at_most(1)?;
            let hash: B256 = p.required(0)?;
            Ok(
                match control(host, dev::DROP_TX, 0, (Address::ZERO, hash))? {
                    0 => Value::Null,
                    _ => Value::String(hash.to_string()),
                },
            )
        })(),
        "anvil_dropAllTransactions" => p
            .at_most(0)
            .and_then(|()| control(host, dev::DROP_ALL, 0, none))
            .map(|_| Value::Null),
        _ => return None,
    })
}

/// Uses control `what` on a dev node.
fn control(
    host: &(impl ChainHost + ?Sized),
    what: u8,
    value: u64,
    (address, hash): (Address, B256),
) -> Result<u64, RpcError> {
    dev_only(host)?;
    Ok(host.dev_control(&DevControl {
        what,
        value,
        address,
        hash,
    })?)
}

/// The one parameter, a number (JSON or hex).
fn number(p: &Params) -> Result<u64, RpcError> {
    p.at_most(1)?;
    quantity(Some(&p.required::<Value>(0)?))?
        .ok_or_else(|| RpcError::invalid_params("missing value for required argument 0"))
}
