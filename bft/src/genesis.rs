//! The genesis every validator of a network starts from (`genesis.json`): the chain's
//! parameters, the funded accounts and the first validator set.
//!
//! Every node of a network must hold the same file: the genesis block is built from
//! it, so a node with another file has another genesis hash and never agrees with the
//! others.

use std::path::Path;

use alloy_primitives::{Address, U256};
use molt_chain::ChainConfig;
use serde::{Deserialize, Serialize};

use molt_abi::consensus::ValidatorEntry;

use crate::context::PublicKey;
use crate::error::BftError;

/// The shared genesis of a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Fork rules (`Prague`, …).
    pub spec: String,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Base fee of block 1, wei.
    pub initial_base_fee: u64,
    /// Fee recipient of every block.
    pub coinbase: Address,
    /// Genesis timestamp, unix seconds.
    pub timestamp: u64,
    /// Who may schedule module upgrades on chain.
    pub upgrade_authorities: Vec<Address>,
    /// The ed25519 keys (hex) execution and consensus modules must be signed with.
    pub module_publishers: Vec<String>,
    /// Funded accounts and their balances, wei.
    pub alloc: Vec<(Address, U256)>,
    /// The validators of height 1.
    pub validators: Vec<GenesisValidator>,
}

/// A validator in the genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// Its ed25519 public key, hex.
    pub public_key: String,
    /// Its voting power.
    pub power: u64,
}

impl Genesis {
    /// Reads and checks `path`.
    pub fn read(path: &Path) -> Result<Self, BftError> {
        let text = std::fs::read_to_string(path).map_err(|e| BftError::io(path, e))?;
        let genesis: Genesis = serde_json::from_str(&text).map_err(|e| BftError::Config {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        genesis.validators().map_err(|reason| BftError::Config {
            path: path.to_owned(),
            reason,
        })?;
        Ok(genesis)
    }

    /// Writes it to `path`.
    pub fn write(&self, path: &Path) -> Result<(), BftError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| BftError::Config {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        std::fs::write(path, text).map_err(|e| BftError::io(path, e))
    }

    /// The genesis validators, for the consensus module; an error says why there are
    /// none.
    pub fn validators(&self) -> Result<Vec<ValidatorEntry>, String> {
        let validators: Vec<_> = self
            .validators
            .iter()
            .map(|v| {
                Ok(ValidatorEntry {
                    public_key: parse_key(&v.public_key)?.0.to_vec().into(),
                    power: v.power,
                })
            })
            .collect::<Result<_, String>>()?;
        if validators.iter().all(|v| v.power == 0) {
            return Err("the genesis names no validator with voting power".into());
        }
        Ok(validators)
    }

    /// The chain parameters.
    pub fn chain_config(&self) -> Result<ChainConfig, String> {
        Ok(ChainConfig {
            chain_id: self.chain_id,
            spec: self.spec.clone(),
            gas_limit: self.gas_limit,
            initial_base_fee: self.initial_base_fee,
            coinbase: self.coinbase,
            genesis_timestamp: self.timestamp,
            upgrade_authorities: self.upgrade_authorities.clone(),
            module_publishers: self
                .module_publishers
                .iter()
                .map(|k| parse_key(k).map(|k| k.0))
                .collect::<Result<_, _>>()?,
            impersonation: false,
        })
    }
}

/// A 32-byte key from hex (with or without `0x`).
fn parse_key(text: &str) -> Result<PublicKey, String> {
    let bytes = hex::decode(text.trim_start_matches("0x"))
        .map_err(|e| format!("key {text:?} is not hex: {e}"))?;
    bytes
        .try_into()
        .map(PublicKey)
        .map_err(|_| format!("key {text:?} is not 32 bytes"))
}
