//! `anvil_dumpState` and `anvil_loadState`: the whole state in anvil's format, gzipped
//! JSON `{block, accounts: {address: {nonce, balance, code, storage: {slot: value}}},
//! best_block_number, blocks, transactions}`, so a state saved from anvil loads into
//! molt and one saved from molt loads into anvil. Only the accounts are carried: a
//! loaded state is laid over the chain as dev edits (`SET_ACCOUNT`), which the next
//! block's state root includes and `evm_revert` undoes.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use alloy_primitives::{Address, B256, Bytes, U256};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{AccountOverride, ChainQueries, SlotValue, set};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::RpcError;
use crate::blocks::info;
use crate::eth::{dev_only, quantity};
use crate::params::Params;

type Answer = Result<Value, RpcError>;

/// Largest state a dump may unpack to (a defence against a small gzip bomb).
const MAX_STATE_BYTES: u64 = 1 << 30;

/// Runs state dump method `method`, or `None` if it is not one.
pub fn dispatch(host: &(impl ChainHost + ?Sized), method: &str, p: &Params) -> Option<Answer> {
    Some(match method {
        "anvil_dumpState" => dump(host, p),
        "anvil_loadState" => load(host, p),
        _ => return None,
    })
}

/// One account as anvil writes it.
#[derive(Serialize, Deserialize)]
struct Record {
    /// A number (anvil) or a hex quantity.
    nonce: Value,
    balance: U256,
    #[serde(default)]
    code: Bytes,
    #[serde(default)]
    storage: BTreeMap<B256, B256>,
}

/// What a dump must hold; anvil's other fields (blocks, transactions) are ignored.
#[derive(Deserialize)]
struct Dump {
    accounts: BTreeMap<Address, Record>,
}

fn dump(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    // anvil takes an optional `preserve_historical_states`; there is no history in a dump.
    p.at_most(1)?;
    dev_only(host)?;
    let accounts: BTreeMap<Address, Record> = host
        .dump_state()?
        .into_iter()
        .map(|a| {
            let record = Record {
                nonce: Value::from(a.nonce),
                balance: a.balance,
                code: a.code,
                storage: a
                    .storage
                    .into_iter()
                    .map(|s| (B256::from(s.slot), B256::from(s.value)))
                    .collect(),
            };
            (a.address, record)
        })
        .collect();
    let state = json!({
        "block": null,
        "accounts": accounts,
        "best_block_number": info(host)?.head,
        "blocks": [],
        "transactions": [],
        "historical_states": null,
    });
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(state.to_string().as_bytes())
        .map_err(RpcError::internal)?;
    let packed = gz.finish().map_err(RpcError::internal)?;
    Ok(Value::String(Bytes::from(packed).to_string()))
}

fn load(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    p.at_most(1)?;
    dev_only(host)?;
    let given: Bytes = p.required(0)?;
    let text = match given.starts_with(&[0x1f, 0x8b]) {
        true => {
            let mut text = Vec::new();
            GzDecoder::new(given.as_ref())
                .take(MAX_STATE_BYTES)
                .read_to_end(&mut text)
                .map_err(|e| RpcError::invalid_params(format!("not a gzipped state: {e}")))?;
            text
        }
        false => given.to_vec(),
    };
    let state: Dump = serde_json::from_slice(&text)
        .map_err(|e| RpcError::invalid_params(format!("not a state dump: {e}")))?;
    for (address, record) in state.accounts {
        let nonce = quantity(Some(&record.nonce))?
            .ok_or_else(|| RpcError::invalid_params(format!("{address}: no nonce")))?;
        host.set_account(&AccountOverride {
            address,
            set: set::BALANCE | set::NONCE | set::CODE,
            balance: record.balance,
            nonce,
            code: record.code,
            storage: record
                .storage
                .into_iter()
                .map(|(slot, value)| SlotValue {
                    slot: slot.into(),
                    value: value.into(),
                })
                .collect(),
        })?;
    }
    Ok(Value::Bool(true))
}
