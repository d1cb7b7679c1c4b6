//! The node's database: one sled tree under the data directory.
//!
//! Everything the chain keeps lives in a single tree with one-byte key prefixes, so
//! that a block and everything it changes commit in one atomic batch
//! (`Tree::apply_batch`): either all of it is on disk after a crash, or none of it.
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `a` | address (20) | account: RLP `[nonce, balance, code_hash]` |
//! | `s` | address (20) ‖ slot (32) | value (32, big-endian; zero slots are absent) |
//! | `c` | code hash (32) | code |
//! | `n` | block number (8, big-endian) | block hash (32) |
//!
//! Chain data (headers, bodies, receipts, indexes) joins this table with the dev node.

use std::path::Path;

use alloy_primitives::{Address, B256, Bytes, U256};
use molt_abi::execution::{self, AccountChange, AccountInfo, NewCode};
use molt_abi::imports::Account;

use crate::state::{MemState, StateError, StateView};

const ACCOUNT: u8 = b'a';
const STORAGE: u8 = b's';
const CODE: u8 = b'c';
const BLOCK_HASH: u8 = b'n';

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// sled failed (I/O, corruption).
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value does not decode: the database is corrupt.
    #[error("corrupt database entry under {key}: {reason}")]
    Corrupt {
        /// The key, hex.
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
}

impl From<StorageError> for StateError {
    fn from(e: StorageError) -> Self {
        StateError(e.to_string())
    }
}

/// The node's database.
#[derive(Clone, Debug)]
pub struct Db {
    tree: sled::Tree,
    _db: sled::Db,
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

impl Db {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Db, StorageError> {
        let db = sled::open(dir)?;
        Ok(Db {
            tree: db.open_tree("chain")?,
            _db: db,
        })
    }

    /// A database that lives only as long as this value (tests, `--ephemeral`).
    pub fn temporary() -> Result<Db, StorageError> {
        let db = sled::Config::new().temporary(true).open()?;
        Ok(Db {
            tree: db.open_tree("chain")?,
            _db: db,
        })
    }

    /// Applies a block's state diff (and records its hash) in one atomic batch.
    pub fn apply(
        &self,
        number: u64,
        hash: B256,
        accounts: &[AccountChange],
        codes: &[NewCode],
    ) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for code in codes {
            batch.insert(key(CODE, &[code.hash.as_slice()]), code.code.as_ref());
        }
        for change in accounts {
            let address = change.address.as_slice();
            if change.deleted || change.storage_wiped {
                for k in self.tree.scan_prefix(key(STORAGE, &[address])).keys() {
                    batch.remove(k?);
                }
            }
            if change.deleted {
                batch.remove(key(ACCOUNT, &[address]));
                continue;
            }
            batch.insert(key(ACCOUNT, &[address]), execution::encode(&change.info));
            for s in &change.storage {
                let k = key(STORAGE, &[address, &s.slot.to_be_bytes::<32>()]);
                if s.value.is_zero() {
                    batch.remove(k);
                } else {
                    batch.insert(k, s.value.to_be_bytes::<32>().as_slice());
                }
            }
        }
        batch.insert(key(BLOCK_HASH, &[&number.to_be_bytes()]), hash.as_slice());
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Flushes to disk; returns once everything applied so far is durable.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.tree.flush()?;
        Ok(())
    }

    /// The whole state, in memory (for roots and tests; the dev node's state is small).
    pub fn snapshot(&self) -> Result<MemState, StorageError> {
        let mut state = MemState::new();
        for entry in self.tree.scan_prefix([ACCOUNT]) {
            let (k, v) = entry?;
            let address = Address::from_slice(&k[1..]);
            let info = decode_account(&k, &v)?;
            let storage = self
                .tree
                .scan_prefix(key(STORAGE, &[address.as_slice()]))
                .map(|e| {
                    let (k, v) = e?;
                    Ok((U256::from_be_slice(&k[21..]), U256::from_be_slice(&v)))
                })
                .collect::<Result<Vec<_>, StorageError>>()?;
            let code = match self.tree.get(key(CODE, &[info.code_hash.as_slice()]))? {
                Some(c) => Bytes::copy_from_slice(&c),
                None => Bytes::new(),
            };
            state.insert_account(address, info.balance, info.nonce, code, storage);
        }
        Ok(state)
    }

    /// The Ethereum state root of the stored state.
    pub fn state_root(&self) -> Result<B256, StorageError> {
        Ok(self.snapshot()?.state_root())
    }
}

fn decode_account(k: &[u8], v: &[u8]) -> Result<AccountInfo, StorageError> {
    execution::decode::<AccountInfo>(v).map_err(|e| StorageError::Corrupt {
        key: hex::encode(k),
        reason: e.to_string(),
    })
}

impl StateView for Db {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        let k = key(ACCOUNT, &[address.as_slice()]);
        let Some(v) = self.tree.get(&k).map_err(StorageError::from)? else {
            return Ok(None);
        };
        let info = decode_account(&k, &v)?;
        Ok(Some(Account {
            balance: info.balance,
            nonce: info.nonce,
            code_hash: info.code_hash,
        }))
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        let k = key(STORAGE, &[address.as_slice(), &slot.to_be_bytes::<32>()]);
        Ok(self
            .tree
            .get(k)
            .map_err(StorageError::from)?
            .map(|v| U256::from_be_slice(&v))
            .unwrap_or_default())
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(self
            .tree
            .get(key(CODE, &[hash.as_slice()]))
            .map_err(StorageError::from)?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        Ok(self
            .tree
            .get(key(BLOCK_HASH, &[&number.to_be_bytes()]))
            .map_err(StorageError::from)?
            .map(|v| B256::from_slice(&v)))
    }
}

#[cfg(test)]
mod tests;
