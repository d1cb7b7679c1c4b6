//! The dev node's controls as anvil and hardhat name them: the clock
//! (`evm_increaseTime`, `evm_setNextBlockTimestamp`), the coinbase
//! (`anvil_setCoinbase`), when blocks are sealed (`evm_setAutomine`,
//! `anvil_setIntervalMining`), the pool (`anvil_dropTransaction`,
//! `anvil_dropAllTransactions`), accounts (`anvil_setNonce`, `anvil_setCode`,
//! `anvil_setStorageAt`) and who
//! may send without a key (`anvil_impersonateAccount`, `anvil_autoImpersonateAccount`).
//! The node keeps them (`DEV_CONTROL`, `SET_ACCOUNT`), and `evm_revert` undoes them
//! with everything else.

use alloy_primitives::{Address, B256, U256};
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{AccountOverride, ChainQueries, DevControl, SlotValue, dev, set};
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
        "anvil_setNextBlockBaseFeePerGas" | "hardhat_setNextBlockBaseFeePerGas" => number(p)
            .and_then(|fee| control(host, dev::NEXT_BASE_FEE, fee, none))
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
        "anvil_setNonce" | "hardhat_setNonce" => (|| {
            p.at_most(2)?;
            let address: Address = p.required(0)?;
            let nonce = quantity(Some(&p.required::<Value>(1)?))?.unwrap_or_default();
            edit(
                host,
                AccountOverride {
                    address,
                    set: set::NONCE,
                    nonce,
                    ..AccountOverride::default()
                },
            )
        })(),
        "anvil_setCode" | "hardhat_setCode" => (|| {
            p.at_most(2)?;
            edit(
                host,
                AccountOverride {
                    address: p.required(0)?,
                    set: set::CODE,
                    code: p.required(1)?,
                    ..AccountOverride::default()
                },
            )
        })(),
        "anvil_impersonateAccount" | "hardhat_impersonateAccount" => (|| {
            p.at_most(1)?;
            control(host, dev::IMPERSONATE, 0, (p.required(0)?, B256::ZERO))?;
            Ok(Value::Null)
        })(),
        "anvil_stopImpersonatingAccount" | "hardhat_stopImpersonatingAccount" => (|| {
            p.at_most(1)?;
            control(
                host,
                dev::STOP_IMPERSONATING,
                0,
                (p.required(0)?, B256::ZERO),
            )?;
            Ok(Value::Null)
        })(),
        "anvil_autoImpersonateAccount" | "hardhat_autoImpersonateAccount" => (|| {
            p.at_most(1)?;
            let on: bool = p.required(0)?;
            control(host, dev::AUTO_IMPERSONATE, u64::from(on), none)?;
            Ok(Value::Null)
        })(),
        "anvil_setStorageAt" | "hardhat_setStorageAt" => (|| {
            p.at_most(3)?;
            let slot: U256 = p.required(1)?;
            let value: B256 = p.required(2)?;
            edit(
                host,
                AccountOverride {
                    address: p.required(0)?,
                    storage: vec![SlotValue {
                        slot,
                        value: value.into(),
                    }],
                    ..AccountOverride::default()
                },
            )?;
            Ok(Value::Bool(true))
        })(),
        "anvil_dropAllTransactions" => p
            .at_most(0)
            .and_then(|()| control(host, dev::DROP_ALL, 0, none))
            .map(|_| Value::Null),
        _ => return None,
    })
}

/// Edits an account on a dev node.
fn edit(host: &(impl ChainHost + ?Sized), account: AccountOverride) -> Answer {
    dev_only(host)?;
    host.set_account(&account)?;
    Ok(Value::Null)
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
