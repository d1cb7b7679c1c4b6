//! # molt-storage — the node's database and its state
//!
//! Owns what the chain keeps on disk: accounts, storage and code, blocks with their
//! transactions, senders, receipts and seals, the indexes, the undo records that revert
//! a block, the chain's fork and the router's audit log — in sled, committed one block
//! per atomic batch. Also the [`state`] the execution module reads ([`StateView`], with
//! the in-memory [`MemState`]) and real Ethereum state roots (`alloy-trie`).
//!
//! It must not know how blocks are built or decided (that is `molt-chain`) nor touch
//! wasmtime or the guests. Start reading at [`Db`]: [`Db::commit_block`] and
//! [`Db::revert_to`]; then [`state`].
//!
//! One sled tree under the data directory holds it all.
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
//! | `h` | block number (8) | header (RLP) |
//! | `H` | block hash (32) | block number (8) |
//! | `b` | block number (8) | transactions: RLP list of EIP-2718 encodings |
//! | `f` | block number (8) | senders: RLP list of the transactions' addresses |
//! | `r` | block number (8) | receipts: RLP list of EIP-2718 receipt encodings |
//! | `t` | transaction hash (32) | block number (8) ‖ index (4) |
//! | `e` | block number (8) | the block's finality evidence: today the proposer's seal, ed25519 signature (64) ‖ public key (32) over the block hash |
//! | `u` | block number (8) | how to undo the block's state diff: RLP list of the touched accounts as they were before it (an `AccountChange` each) |
//! | `m` | `head` | number of the last committed block (8) |
//! | `m` | `spec` | the fork the chain was created with (`Prague`, …) |

use std::path::Path;

use alloy_primitives::{Address, B256, Bytes, U256};
use molt_abi::execution::{self, AccountChange, AccountInfo, NewCode, StorageChange};
use molt_abi::imports::Account;

mod block;
pub mod state;

pub use block::SealedBlock;

use crate::state::{MemState, StateError, StateView};

const ACCOUNT: u8 = b'a';
const STORAGE: u8 = b's';
const CODE: u8 = b'c';
const BLOCK_HASH: u8 = b'n';
const HEADER: u8 = b'h';
const NUMBER_BY_HASH: u8 = b'H';
const BODY: u8 = b'b';
const RECEIPTS: u8 = b'r';
const SENDERS: u8 = b'f';
const TX_LOCATION: u8 = b't';
const SEAL: u8 = b'e';
const UNDO: u8 = b'u';
const META_HEAD: &[u8] = b"mhead";
const META_SPEC: &[u8] = b"mspec";

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
    /// The router's audit log: id (8, big-endian, increasing) → JSON entry.
    audit: sled::Tree,
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
        Self::with(db)
    }

    /// A database that lives only as long as this value (tests, `--ephemeral`).
    pub fn temporary() -> Result<Db, StorageError> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::with(db)
    }

    fn with(db: sled::Db) -> Result<Db, StorageError> {
        Ok(Db {
            tree: db.open_tree("chain")?,
            audit: db.open_tree("audit")?,
            _db: db,
        })
    }

    /// Appends an entry (JSON) to the router's audit log and flushes it.
    pub fn append_audit(&self, entry: &[u8]) -> Result<(), StorageError> {
        let id = self._db.generate_id()?;
        self.audit.insert(id.to_be_bytes(), entry)?;
        self.audit.flush()?;
        Ok(())
    }

    /// The last `limit` audit entries, oldest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut entries = self
            .audit
            .iter()
            .rev()
            .take(limit)
            .map(|e| Ok(e?.1.to_vec()))
            .collect::<Result<Vec<_>, StorageError>>()?;
        entries.reverse();
        Ok(entries)
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
        self.state_into(&mut batch, accounts, codes)?;
        batch.insert(key(BLOCK_HASH, &[&number.to_be_bytes()]), hash.as_slice());
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Commits a block — header, seal, transactions, receipts, indexes, its state
    /// diff and the new head — in one atomic batch.
    pub fn commit_block(
        &self,
        block: &SealedBlock,
        seal: &[u8],
        accounts: &[AccountChange],
        codes: &[NewCode],
    ) -> Result<(), StorageError> {
        use alloy_eips::eip2718::Encodable2718;
        let number = block.header.number;
        let n = number.to_be_bytes();
        let mut batch = sled::Batch::default();
        batch.insert(key(UNDO, &[&n]), alloy_rlp::encode(self.undo_of(accounts)?));
        self.state_into(&mut batch, accounts, codes)?;
        batch.insert(key(BLOCK_HASH, &[&n]), block.hash.as_slice());
        batch.insert(key(HEADER, &[&n]), alloy_rlp::encode(&block.header));
        batch.insert(key(SEAL, &[&n]), seal);
        batch.insert(key(NUMBER_BY_HASH, &[block.hash.as_slice()]), n.as_slice());
        batch.insert(key(BODY, &[&n]), alloy_rlp::encode(&block.transactions));
        batch.insert(key(SENDERS, &[&n]), alloy_rlp::encode(&block.senders));
        let receipts: Vec<Bytes> = block
            .receipts
            .iter()
            .map(|r| r.encoded_2718().into())
            .collect();
        batch.insert(key(RECEIPTS, &[&n]), alloy_rlp::encode(&receipts));
        for (i, tx) in block.transactions.iter().enumerate() {
            let location = [n.as_slice(), &(i as u32).to_be_bytes()].concat();
            batch.insert(
                key(TX_LOCATION, &[alloy_primitives::keccak256(tx).as_slice()]),
                location,
            );
        }
        batch.insert(META_HEAD, n.as_slice());
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// The number of the last committed block, if any.
    pub fn head(&self) -> Result<Option<u64>, StorageError> {
        self.tree
            .get(META_HEAD)?
            .map(|v| be_u64(META_HEAD, &v))
            .transpose()
    }

    /// The fork rules the chain was created with (`None` for chains created before
    /// the fork was recorded).
    pub fn spec(&self) -> Result<Option<String>, StorageError> {
        Ok(self
            .tree
            .get(META_SPEC)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Records the chain's fork rules.
    pub fn set_spec(&self, spec: &str) -> Result<(), StorageError> {
        self.tree.insert(META_SPEC, spec.as_bytes())?;
        Ok(())
    }

    /// The header of block `number`.
    pub fn header(&self, number: u64) -> Result<Option<alloy_consensus::Header>, StorageError> {
        let k = key(HEADER, &[&number.to_be_bytes()]);
        self.tree.get(&k)?.map(|v| decode_rlp(&k, &v)).transpose()
    }

    /// The node's seal of block `number`.
    pub fn seal(&self, number: u64) -> Result<Option<Bytes>, StorageError> {
        Ok(self
            .tree
            .get(key(SEAL, &[&number.to_be_bytes()]))?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    /// The number of the block with hash `hash`.
    pub fn block_number(&self, hash: &B256) -> Result<Option<u64>, StorageError> {
        let k = key(NUMBER_BY_HASH, &[hash.as_slice()]);
        self.tree.get(&k)?.map(|v| be_u64(&k, &v)).transpose()
    }

    /// The transactions of block `number`, EIP-2718 encoded.
    pub fn transactions(&self, number: u64) -> Result<Option<Vec<Bytes>>, StorageError> {
        let k = key(BODY, &[&number.to_be_bytes()]);
        self.tree.get(&k)?.map(|v| decode_rlp(&k, &v)).transpose()
    }

    /// The senders of block `number`'s transactions, in order.
    pub fn senders(&self, number: u64) -> Result<Option<Vec<Address>>, StorageError> {
        let k = key(SENDERS, &[&number.to_be_bytes()]);
        self.tree.get(&k)?.map(|v| decode_rlp(&k, &v)).transpose()
    }

    /// The receipts of block `number`.
    pub fn receipts(
        &self,
        number: u64,
    ) -> Result<Option<Vec<alloy_consensus::ReceiptEnvelope>>, StorageError> {
        use alloy_eips::eip2718::Decodable2718;
        let k = key(RECEIPTS, &[&number.to_be_bytes()]);
        let Some(v) = self.tree.get(&k)? else {
            return Ok(None);
        };
        let encoded: Vec<Bytes> = decode_rlp(&k, &v)?;
        encoded
            .iter()
            .map(|r| {
                alloy_consensus::ReceiptEnvelope::decode_2718_exact(r).map_err(|e| {
                    StorageError::Corrupt {
                        key: hex::encode(&k),
                        reason: e.to_string(),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Where transaction `hash` is: block number and index.
    pub fn transaction_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, StorageError> {
        let k = key(TX_LOCATION, &[hash.as_slice()]);
        let Some(v) = self.tree.get(&k)? else {
            return Ok(None);
        };
        if v.len() != 12 {
            return Err(corrupt(&k, "expected 12 bytes"));
        }
        let number = be_u64(&k, &v[..8])?;
        let index = u32::from_be_bytes([v[8], v[9], v[10], v[11]]);
        Ok(Some((number, index)))
    }

    /// The accounts `changes` touch, as they are now: applying this diff later undoes
    /// `changes`. A wiped account's undo restores all its slots.
    fn undo_of(&self, changes: &[AccountChange]) -> Result<Vec<AccountChange>, StorageError> {
        changes
            .iter()
            .map(|change| {
                let address = change.address.as_slice();
                let k = key(ACCOUNT, &[address]);
                let before = self
                    .tree
                    .get(&k)?
                    .map(|v| decode_account(&k, &v))
                    .transpose()?;
                let wiped = change.deleted || change.storage_wiped;
                let storage = if wiped {
                    self.tree
                        .scan_prefix(key(STORAGE, &[address]))
                        .map(|e| {
                            let (k, v) = e?;
                            Ok(StorageChange {
                                slot: U256::from_be_slice(&k[21..]),
                                value: U256::from_be_slice(&v),
                            })
                        })
                        .collect::<Result<Vec<_>, StorageError>>()?
                } else {
                    change
                        .storage
                        .iter()
                        .map(|s| {
                            let k = key(STORAGE, &[address, &s.slot.to_be_bytes::<32>()]);
                            Ok(StorageChange {
                                slot: s.slot,
                                value: self
                                    .tree
                                    .get(k)?
                                    .map(|v| U256::from_be_slice(&v))
                                    .unwrap_or_default(),
                            })
                        })
                        .collect::<Result<Vec<_>, StorageError>>()?
                };
                Ok(AccountChange {
                    address: change.address,
                    deleted: before.is_none(),
                    info: before.unwrap_or_default(),
                    storage_wiped: wiped,
                    storage,
                })
            })
            .collect()
    }

    /// Removes every block above `number` and undoes their state changes, in one
    /// atomic batch; `number` becomes the head. Does nothing if `number` is the head or
    /// above it.
    pub fn revert_to(&self, number: u64) -> Result<(), StorageError> {
        let Some(head) = self.head()? else {
            return Ok(());
        };
        let mut batch = sled::Batch::default();
        // From the head down: for a key several blocks touched, the lowest block's
        // undo is written last and wins, which is the state after block `number`.
        for b in (number + 1..=head).rev() {
            let n = b.to_be_bytes();
            let k = key(UNDO, &[&n]);
            let undo: Vec<AccountChange> = match self.tree.get(&k)? {
                Some(v) => decode_rlp(&k, &v)?,
                None => return Err(corrupt(&k, "no undo record for a committed block")),
            };
            self.state_into(&mut batch, &undo, &[])?;
            for tx in self.transactions(b)?.unwrap_or_default() {
                batch.remove(key(
                    TX_LOCATION,
                    &[alloy_primitives::keccak256(&tx).as_slice()],
                ));
            }
            if let Some(hash) = self.block_hash_at(b)? {
                batch.remove(key(NUMBER_BY_HASH, &[hash.as_slice()]));
            }
            for prefix in [BLOCK_HASH, HEADER, SEAL, BODY, SENDERS, RECEIPTS, UNDO] {
                batch.remove(key(prefix, &[&n]));
            }
        }
        if number < head {
            batch.insert(META_HEAD, number.to_be_bytes().as_slice());
            self.tree.apply_batch(batch)?;
        }
        Ok(())
    }

    /// The state as it was before block `first` (from the head's state and the undo
    /// records of blocks `first..=head`), in memory, with the known block hashes.
    pub fn state_before(&self, first: u64) -> Result<MemState, StorageError> {
        let mut state = self.snapshot()?;
        let head = self.head()?.unwrap_or_default();
        for b in (first..=head).rev() {
            let k = key(UNDO, &[&b.to_be_bytes()]);
            let undo: Vec<AccountChange> = match self.tree.get(&k)? {
                Some(v) => decode_rlp(&k, &v)?,
                None => return Err(corrupt(&k, "no undo record for a committed block")),
            };
            state.apply(&undo, &[]);
        }
        for n in first.saturating_sub(256)..first {
            if let Some(h) = self.block_hash_at(n)? {
                state.set_block_hash(n, h);
            }
        }
        Ok(state)
    }

    /// Sets an account's balance outside any block (`anvil_setBalance`). Returns the
    /// account as it was (`None`: absent), for [`restore_account`](Self::restore_account).
    pub fn set_balance(
        &self,
        address: Address,
        balance: U256,
    ) -> Result<Option<AccountInfo>, StorageError> {
        let k = key(ACCOUNT, &[address.as_slice()]);
        let before = self
            .tree
            .get(&k)?
            .map(|v| decode_account(&k, &v))
            .transpose()?;
        let mut info = before.unwrap_or(AccountInfo {
            code_hash: alloy_trie::KECCAK_EMPTY,
            ..AccountInfo::default()
        });
        info.balance = balance;
        self.tree.insert(k, execution::encode(&info))?;
        Ok(before)
    }

    /// Puts an account's fields back as a dev edit found them (`None`: absent); its
    /// storage is untouched.
    pub fn restore_account(
        &self,
        address: Address,
        before: Option<&AccountInfo>,
    ) -> Result<(), StorageError> {
        let k = key(ACCOUNT, &[address.as_slice()]);
        match before {
            Some(info) => self.tree.insert(k, execution::encode(info))?,
            None => self.tree.remove(k)?,
        };
        Ok(())
    }

    fn block_hash_at(&self, number: u64) -> Result<Option<B256>, StorageError> {
        Ok(self
            .tree
            .get(key(BLOCK_HASH, &[&number.to_be_bytes()]))?
            .map(|v| B256::from_slice(&v)))
    }

    fn state_into(
        &self,
        batch: &mut sled::Batch,
        accounts: &[AccountChange],
        codes: &[NewCode],
    ) -> Result<(), StorageError> {
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

fn corrupt(k: &[u8], reason: &str) -> StorageError {
    StorageError::Corrupt {
        key: hex::encode(k),
        reason: reason.to_string(),
    }
}

fn be_u64(k: &[u8], v: &[u8]) -> Result<u64, StorageError> {
    let bytes: [u8; 8] = v.try_into().map_err(|_| corrupt(k, "expected 8 bytes"))?;
    Ok(u64::from_be_bytes(bytes))
}

fn decode_rlp<T: alloy_rlp::Decodable>(k: &[u8], v: &[u8]) -> Result<T, StorageError> {
    execution::decode::<T>(v).map_err(|e| corrupt(k, &e.to_string()))
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
        Ok(self.block_hash_at(number)?)
    }
}

#[cfg(test)]
mod tests;
