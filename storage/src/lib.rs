//! # molt-storage — the node's database and its state
//!
//! Owns what the chain keeps on disk: accounts, storage and code, blocks with their
//! transactions, senders, receipts and seals, the indexes, the state trie, the change
//! sets that revert a block and give the state after any kept block, the chain's fork and the router's audit log — in sled, committed one block
//! per atomic batch. Also the [`state`] the execution module reads ([`StateView`], with
//! the in-memory [`MemState`]), the state [`trie`] on disk (roots updated per block
//! along the changed paths, proofs) and the state [`history`].
//!
//! It must not know how blocks are built or decided (that is `molt-chain`) nor touch
//! wasmtime or the guests. Start reading at [`Db`]: [`Db::state_update`],
//! [`Db::commit_block`] and [`Db::revert_to`]; then [`state`], [`trie`], [`history`].
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
//! | `o` | address (20) | the account's storage root (32), absent when its storage is empty |
//! | `T` | node hash (32) | a state trie node ([`trie`]) |
//! | `d` | address (20) | (empty): an account edited outside any block, not yet in the trie |
//! | `A` `S` `x` `y` | | state history: change sets and their index ([`history`]) |
//! | `m` | `head` | number of the last committed block (8) |
//! | `m` | `spec` | the fork the chain was created with (`Prague`, …) |
//! | `m` | `root` | the state trie's root for the stored state, less the edited accounts (32) |
//! | `m` | `floor` | the oldest block whose state is kept (8; absent: 0) |

use std::collections::BTreeMap;
use std::path::Path;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount};
use molt_abi::execution::{self, AccountChange, AccountInfo, NewCode, StorageChange};
use molt_abi::imports::Account;

mod block;
pub mod history;
pub mod state;
pub mod trie;

pub use block::SealedBlock;
pub use history::StateAt;
pub use trie::StateUpdate;

use crate::history::{ACCOUNT_CHANGES, ACCOUNT_HISTORY, STORAGE_CHANGES, STORAGE_HISTORY};
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
const STORAGE_ROOT: u8 = b'o';
const EDITED: u8 = b'd';
/// Undo records of data directories from before the state history (removed on open).
const OLD_UNDO: u8 = b'u';
const META_HEAD: &[u8] = b"mhead";
const META_SPEC: &[u8] = b"mspec";
const META_ROOT: &[u8] = b"mroot";
const META_FLOOR: &[u8] = b"mfloor";
/// At most this many blocks' history is pruned per committed block, so that turning
/// pruning on for a long archive does not make one batch of it all.
const PRUNE_PER_BLOCK: u64 = 64;

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
    /// The state trie is missing a node or holds one that does not decode.
    #[error("state trie: {0}")]
    Trie(#[from] eth_trie::TrieError),
    /// The state at a block older than the kept history was asked for.
    #[error(
        "the state at block {number} is not kept: this node keeps the state of blocks \
         {floor} to {head} (--history)"
    )]
    Pruned {
        /// The block asked for.
        number: u64,
        /// The oldest block whose state is kept.
        floor: u64,
        /// The head.
        head: u64,
    },
    /// The state at a block above the head was asked for.
    #[error("block {number} is not on the chain yet (the head is {head})")]
    AboveHead {
        /// The block asked for.
        number: u64,
        /// The head.
        head: u64,
    },
    /// A state update was computed on another state than the stored one (a block
    /// committed in between): compute it again.
    #[error("the state update was computed on root {computed_on}, the state is at {current}")]
    StaleUpdate {
        /// The root the update started from.
        computed_on: B256,
        /// The stored state's root.
        current: B256,
    },
    /// A block's header and its state update disagree on the state root.
    #[error("block {number}'s header has state root {header}, its state diff gives {computed}")]
    RootMismatch {
        /// The block.
        number: u64,
        /// The header's root.
        header: B256,
        /// The update's root.
        computed: B256,
    },
}

impl From<StorageError> for StateError {
    fn from(e: StorageError) -> Self {
        StateError(e.to_string())
    }
}

/// An account's Merkle proof and its storage slots' (EIP-1186), at some block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountProof {
    /// The account at the block (`None`: absent).
    pub account: Option<TrieAccount>,
    /// The state trie's nodes from the root to the account.
    pub proof: Vec<Bytes>,
    /// The slots asked for: value and the storage trie's nodes to it.
    pub storage: Vec<(U256, U256, Vec<Bytes>)>,
}

/// The node's database.
#[derive(Clone, Debug)]
pub struct Db {
    tree: sled::Tree,
    /// The router's audit log: id (8, big-endian, increasing) → JSON entry.
    audit: sled::Tree,
    /// Keep the state of the last this many blocks only (`None`: all of them).
    history: Option<u64>,
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
        // sled releases a closed database's file lock from its flusher thread, a moment
        // after the last handle is dropped: a reopen right after a close waits for it
        // (up to a second) rather than failing. Another process holding it still fails.
        let mut waited = std::time::Duration::ZERO;
        let db = loop {
            match sled::open(dir) {
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::Other
                        && e.to_string().contains("could not acquire lock")
                        && waited < std::time::Duration::from_secs(1) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    waited += std::time::Duration::from_millis(20);
                }
                opened => break opened?,
            }
        };
        Self::with(db)
    }

    /// A database that lives only as long as this value (tests, `--ephemeral`).
    pub fn temporary() -> Result<Db, StorageError> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::with(db)
    }

    fn with(db: sled::Db) -> Result<Db, StorageError> {
        let db = Db {
            tree: db.open_tree("chain")?,
            audit: db.open_tree("audit")?,
            history: None,
            _db: db,
        };
        db.build_trie_if_missing()?;
        Ok(db)
    }

    /// Keeps the state of the last `blocks` blocks below the head only (`None`: of every
    /// block); older history is pruned as blocks commit.
    pub fn with_history(mut self, blocks: Option<u64>) -> Db {
        self.history = blocks;
        self
    }

    /// A data directory from before the state trie: build the trie from the stored
    /// state once; its history starts at its head.
    fn build_trie_if_missing(&self) -> Result<(), StorageError> {
        let Some(head) = self.head()? else {
            return Ok(());
        };
        if self.tree.get(META_ROOT)?.is_some() {
            return Ok(());
        }
        let all: Vec<AccountChange> = self
            .snapshot()?
            .accounts()
            .map(|(address, a)| AccountChange {
                address: *address,
                info: AccountInfo {
                    nonce: a.nonce,
                    balance: a.balance,
                    code_hash: a.code_hash,
                },
                storage_wiped: true,
                storage: self
                    .snapshot_storage(address)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(slot, value)| StorageChange { slot, value })
                    .collect(),
                deleted: false,
            })
            .collect();
        let changes = trie::update(&self.tree, EMPTY_ROOT_HASH, &[], &all, &|_| {
            Ok(EMPTY_ROOT_HASH)
        })?;
        let mut batch = sled::Batch::default();
        write_trie(&mut batch, &changes.nodes, &changes.storage_roots);
        for k in self.tree.scan_prefix([OLD_UNDO]).keys() {
            batch.remove(k?);
        }
        batch.insert(META_ROOT, changes.root.as_slice());
        batch.insert(META_FLOOR, head.to_be_bytes().as_slice());
        self.tree.apply_batch(batch)?;
        self.tree.flush()?;
        Ok(())
    }

    fn snapshot_storage(&self, address: &Address) -> Result<Vec<(U256, U256)>, StorageError> {
        self.tree
            .scan_prefix(key(STORAGE, &[address.as_slice()]))
            .map(|e| {
                let (k, v) = e?;
                Ok((U256::from_be_slice(&k[21..]), U256::from_be_slice(&v)))
            })
            .collect()
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

    /// The state trie's root for the stored state, less the accounts edited outside
    /// any block since.
    fn trie_root(&self) -> Result<B256, StorageError> {
        Ok(match self.tree.get(META_ROOT)? {
            Some(v) if v.len() == 32 => B256::from_slice(&v),
            Some(_) => return Err(corrupt(META_ROOT, "expected 32 bytes")),
            None => EMPTY_ROOT_HASH,
        })
    }

    /// The oldest block whose state is kept.
    pub fn history_floor(&self) -> Result<u64, StorageError> {
        self.tree
            .get(META_FLOOR)?
            .map(|v| be_u64(META_FLOOR, &v))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// The state after block `number`, which must be kept (from
    /// [`history_floor`](Self::history_floor) to the head).
    pub fn state_at(&self, number: u64) -> Result<StateAt, StorageError> {
        let head = self.head()?.unwrap_or_default();
        if number > head {
            return Err(StorageError::AboveHead { number, head });
        }
        let floor = self.history_floor()?;
        if number < floor {
            return Err(StorageError::Pruned {
                number,
                floor,
                head,
            });
        }
        Ok(StateAt::new(self.clone(), number))
    }

    /// The account as the state trie holds it now (with its storage root).
    pub(crate) fn current_trie_account(
        &self,
        address: &Address,
    ) -> Result<Option<TrieAccount>, StorageError> {
        let k = key(ACCOUNT, &[address.as_slice()]);
        let Some(v) = self.tree.get(&k)? else {
            return Ok(None);
        };
        let info = decode_account(&k, &v)?;
        Ok(Some(trie::leaf(&info, self.storage_root(address)?)))
    }

    fn storage_root(&self, address: &Address) -> Result<B256, StorageError> {
        Ok(
            match self.tree.get(key(STORAGE_ROOT, &[address.as_slice()]))? {
                Some(v) => B256::from_slice(&v),
                None => EMPTY_ROOT_HASH,
            },
        )
    }

    pub(crate) fn current_slot(
        &self,
        address: &Address,
        slot: &U256,
    ) -> Result<U256, StorageError> {
        let k = key(STORAGE, &[address.as_slice(), &slot.to_be_bytes::<32>()]);
        Ok(self
            .tree
            .get(k)?
            .map(|v| U256::from_be_slice(&v))
            .unwrap_or_default())
    }

    /// What applying a block's state diff to the stored state does to the state trie:
    /// its root after, the nodes to write. Reads only; commit the result with the
    /// block ([`commit_block`](Self::commit_block)).
    pub fn state_update(
        &self,
        accounts: Vec<AccountChange>,
        codes: Vec<NewCode>,
    ) -> Result<StateUpdate, StorageError> {
        let edits = self
            .tree
            .scan_prefix([EDITED])
            .keys()
            .map(|k| {
                let address = Address::from_slice(&k?[1..]);
                Ok((address, self.current_trie_account(&address)?))
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        let parent_root = self.trie_root()?;
        let changes = trie::update(&self.tree, parent_root, &edits, &accounts, &|a| {
            self.storage_root(a)
        })?;
        Ok(StateUpdate {
            accounts,
            codes,
            parent_root,
            root: changes.root,
            nodes: changes.nodes,
            storage_roots: changes.storage_roots,
            edits: edits.into_iter().map(|(a, _)| a).collect(),
        })
    }

    /// The state root after applying `accounts` to the state after kept block
    /// `number` (re-execution of block `number + 1`); writes nothing.
    pub fn state_root_after(
        &self,
        number: u64,
        accounts: &[AccountChange],
    ) -> Result<B256, StorageError> {
        let at = self.state_at(number)?;
        let changes = trie::update(&self.tree, at.state_root()?, &[], accounts, &|a| {
            Ok(at
                .trie_account(a)?
                .map_or(EMPTY_ROOT_HASH, |a| a.storage_root))
        })?;
        Ok(changes.root)
    }

    /// The proof of `address` and its `slots` at kept block `number`, against that
    /// block's state root.
    pub fn proof(
        &self,
        number: u64,
        address: &Address,
        slots: &[U256],
    ) -> Result<AccountProof, StorageError> {
        let at = self.state_at(number)?;
        let account = at.trie_account(address)?;
        let proof = trie::proof(&self.tree, at.state_root()?, keccak256(address))?;
        let storage_root = account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        let storage = slots
            .iter()
            .map(|slot| {
                let value = at.slot(address, slot)?;
                let nodes = trie::proof(
                    &self.tree,
                    storage_root,
                    keccak256(slot.to_be_bytes::<32>()),
                )?;
                Ok((*slot, value, nodes))
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(AccountProof {
            account,
            proof,
            storage,
        })
    }

    /// Applies a state diff (and records block `number`'s hash) in one atomic batch,
    /// outside the block history (tests, genesis allocations).
    pub fn apply(
        &self,
        number: u64,
        hash: B256,
        accounts: &[AccountChange],
        codes: &[NewCode],
    ) -> Result<(), StorageError> {
        let update = self.state_update(accounts.to_vec(), codes.to_vec())?;
        let mut batch = sled::Batch::default();
        self.state_into(&mut batch, &update)?;
        batch.insert(key(BLOCK_HASH, &[&number.to_be_bytes()]), hash.as_slice());
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Commits a block — header, seal, transactions, receipts, indexes, its state
    /// update with its change sets, and the new head — in one atomic batch. `update`
    /// must have been computed on the state as it is, and give the header's root.
    pub fn commit_block(
        &self,
        block: &SealedBlock,
        seal: &[u8],
        update: &StateUpdate,
    ) -> Result<(), StorageError> {
        use alloy_eips::eip2718::Encodable2718;
        let number = block.header.number;
        if update.root != block.header.state_root {
            return Err(StorageError::RootMismatch {
                number,
                header: block.header.state_root,
                computed: update.root,
            });
        }
        let n = number.to_be_bytes();
        let mut batch = sled::Batch::default();
        self.change_sets_into(&mut batch, number, update)?;
        self.state_into(&mut batch, update)?;
        self.prune_into(&mut batch, number)?;
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
            batch.insert(key(TX_LOCATION, &[keccak256(tx).as_slice()]), location);
        }
        batch.insert(META_HEAD, n.as_slice());
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// The head's state as the trie must hold it, unless an update was computed on
    /// another state.
    fn check_parent(&self, update: &StateUpdate) -> Result<(), StorageError> {
        let current = self.trie_root()?;
        if update.parent_root != current {
            return Err(StorageError::StaleUpdate {
                computed_on: update.parent_root,
                current,
            });
        }
        Ok(())
    }

    /// Block `number`'s change sets: what each account and slot it changes is now.
    /// Accounts edited outside blocks that the update folds into the trie get an entry
    /// too (as they are now: the edit belongs to the state before the block), so that
    /// reverting the block marks them edited again.
    fn change_sets_into(
        &self,
        batch: &mut sled::Batch,
        number: u64,
        update: &StateUpdate,
    ) -> Result<(), StorageError> {
        let n = number.to_be_bytes();
        for address in &update.edits {
            if update.accounts.iter().any(|c| c.address == *address) {
                continue;
            }
            let now = self.current_trie_account(address)?;
            let address = address.as_slice();
            batch.insert(
                key(ACCOUNT_CHANGES, &[&n, address]),
                history::encode_account(now.as_ref()),
            );
            batch.insert(key(ACCOUNT_HISTORY, &[address, &n]), &[]);
        }
        for change in &update.accounts {
            let address = change.address.as_slice();
            let before = self.current_trie_account(&change.address)?;
            batch.insert(
                key(ACCOUNT_CHANGES, &[&n, address]),
                history::encode_account(before.as_ref()),
            );
            batch.insert(key(ACCOUNT_HISTORY, &[address, &n]), &[]);
            let mut slots: BTreeMap<U256, U256> = BTreeMap::new();
            if change.deleted || change.storage_wiped {
                slots.extend(self.snapshot_storage(&change.address)?);
            }
            for s in &change.storage {
                if let std::collections::btree_map::Entry::Vacant(e) = slots.entry(s.slot) {
                    e.insert(self.current_slot(&change.address, &s.slot)?);
                }
            }
            for (slot, before) in slots {
                let s = slot.to_be_bytes::<32>();
                batch.insert(
                    key(STORAGE_CHANGES, &[&n, address, &s]),
                    history::encode_slot(before),
                );
                batch.insert(key(STORAGE_HISTORY, &[address, &s, &n]), &[]);
            }
        }
        Ok(())
    }

    /// With a history limit, drops the change sets of blocks that fell out of it (a
    /// bounded number per block) and raises the floor.
    fn prune_into(&self, batch: &mut sled::Batch, head: u64) -> Result<(), StorageError> {
        let Some(keep) = self.history else {
            return Ok(());
        };
        let floor = self.history_floor()?;
        let target = head.saturating_sub(keep).min(floor + PRUNE_PER_BLOCK);
        if target <= floor {
            return Ok(());
        }
        // The state after block b needs the change sets of the blocks above it.
        for b in floor + 1..=target {
            self.block_history(b, |k, address, slot, _| {
                let n = b.to_be_bytes();
                batch.remove(k);
                match slot {
                    None => batch.remove(key(ACCOUNT_HISTORY, &[address, &n])),
                    Some(s) => batch.remove(key(STORAGE_HISTORY, &[address, s, &n])),
                }
                Ok(())
            })?;
        }
        batch.insert(META_FLOOR, target.to_be_bytes().as_slice());
        Ok(())
    }

    /// Calls `f` with each change set entry of block `number`: its key, the address,
    /// the slot (`None` for the account) and the value before the block.
    fn block_history(
        &self,
        number: u64,
        mut f: impl FnMut(&[u8], &[u8], Option<&[u8]>, &[u8]) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let n = number.to_be_bytes();
        for entry in self.tree.scan_prefix(key(ACCOUNT_CHANGES, &[&n])) {
            let (k, v) = entry?;
            f(&k, &k[9..29], None, &v)?;
        }
        for entry in self.tree.scan_prefix(key(STORAGE_CHANGES, &[&n])) {
            let (k, v) = entry?;
            f(&k, &k[9..29], Some(&k[29..61]), &v)?;
        }
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

    /// Removes every block above `number` and undoes their state changes from their
    /// change sets, in one atomic batch, flushed; `number` becomes the head. Does nothing if
    /// `number` is the head or above it; refuses if `number`'s state is not kept.
    pub fn revert_to(&self, number: u64) -> Result<(), StorageError> {
        let Some(head) = self.head()? else {
            return Ok(());
        };
        if number >= head {
            return Ok(());
        }
        let floor = self.history_floor()?;
        if number < floor {
            return Err(StorageError::Pruned {
                number,
                floor,
                head,
            });
        }
        let mut batch = sled::Batch::default();
        // From the head down: for a key several blocks touched, the lowest block's
        // change set is written last and wins, which is the state after block `number`.
        for b in (number + 1..=head).rev() {
            let n = b.to_be_bytes();
            self.block_history(b, |k, address, slot, before| {
                batch.remove(k);
                match slot {
                    None => {
                        batch.remove(key(ACCOUNT_HISTORY, &[address, &n]));
                        // The trie of block `number` may lack edits made outside
                        // blocks since: take the account from the state again.
                        batch.insert(key(EDITED, &[address]), &[]);
                        match history::decode_account(k, before)? {
                            Some(a) => {
                                let info = AccountInfo {
                                    nonce: a.nonce,
                                    balance: a.balance,
                                    code_hash: a.code_hash,
                                };
                                batch.insert(key(ACCOUNT, &[address]), execution::encode(&info));
                                set_storage_root(&mut batch, address, a.storage_root);
                            }
                            None => {
                                batch.remove(key(ACCOUNT, &[address]));
                                batch.remove(key(STORAGE_ROOT, &[address]));
                            }
                        }
                    }
                    Some(s) => {
                        batch.remove(key(STORAGE_HISTORY, &[address, s, &n]));
                        let k = key(STORAGE, &[address, s]);
                        match before.is_empty() {
                            true => batch.remove(k),
                            false => batch.insert(k, before),
                        }
                    }
                }
                Ok(())
            })?;
            for tx in self.transactions(b)?.unwrap_or_default() {
                batch.remove(key(TX_LOCATION, &[keccak256(&tx).as_slice()]));
            }
            if let Some(hash) = self.block_hash_at(b)? {
                batch.remove(key(NUMBER_BY_HASH, &[hash.as_slice()]));
            }
            for prefix in [BLOCK_HASH, HEADER, SEAL, BODY, SENDERS, RECEIPTS] {
                batch.remove(key(prefix, &[&n]));
            }
        }
        let k = key(HEADER, &[&number.to_be_bytes()]);
        let header = self
            .header(number)?
            .ok_or_else(|| corrupt(&k, "a kept block without a header"))?;
        batch.insert(META_ROOT, header.state_root.as_slice());
        batch.insert(META_HEAD, number.to_be_bytes().as_slice());
        self.tree.apply_batch(batch)?;
        self.tree.flush()?;
        Ok(())
    }

    /// Sets an account's balance directly, outside any block (a dev edit, folded into
    /// the next block's state root); the account as it was (`None`: absent).
    pub fn set_balance(
        &self,
        address: Address,
        balance: U256,
    ) -> Result<Option<AccountInfo>, StorageError> {
        self.edit_account(address, None, |info| info.balance = balance)
    }

    /// Changes an account's fields directly, outside any block (a dev edit: balance,
    /// nonce, code — `code` is stored and `edit` should set `code_hash` to its hash);
    /// its storage is untouched. The account as it was (`None`: absent).
    pub fn edit_account(
        &self,
        address: Address,
        code: Option<&Bytes>,
        edit: impl FnOnce(&mut AccountInfo),
    ) -> Result<Option<AccountInfo>, StorageError> {
        let k = key(ACCOUNT, &[address.as_slice()]);
        let before = self
            .tree
            .get(&k)?
            .map(|v| decode_account(&k, &v))
            .transpose()?;
        let mut info = before.unwrap_or(AccountInfo {
            code_hash: KECCAK_EMPTY,
            ..AccountInfo::default()
        });
        edit(&mut info);
        let mut batch = sled::Batch::default();
        if let Some(code) = code.filter(|c| !c.is_empty()) {
            batch.insert(key(CODE, &[keccak256(code).as_slice()]), code.as_ref());
        }
        batch.insert(k, execution::encode(&info));
        batch.insert(key(EDITED, &[address.as_slice()]), &[]);
        self.tree.apply_batch(batch)?;
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
        let mut batch = sled::Batch::default();
        match before {
            Some(info) => batch.insert(k, execution::encode(info)),
            None => batch.remove(k),
        };
        batch.insert(key(EDITED, &[address.as_slice()]), &[]);
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Sets one storage slot directly, outside any block (a dev edit:
    /// `anvil_setStorageAt`), with the account's storage root; the account must exist.
    /// The slot's value and the storage root as they were.
    pub fn edit_slot(
        &self,
        address: Address,
        slot: U256,
        value: U256,
    ) -> Result<(U256, B256), StorageError> {
        let before = (
            self.current_slot(&address, &slot)?,
            self.storage_root(&address)?,
        );
        let (root, nodes) = trie::set_slot(&self.tree, before.1, slot, value)?;
        let mut batch = sled::Batch::default();
        write_trie(&mut batch, &nodes, &[]);
        put_slot(&mut batch, address, slot, value, root);
        self.tree.apply_batch(batch)?;
        Ok(before)
    }

    /// Puts a slot and its account's storage root back as a dev edit found them.
    pub fn restore_slot(
        &self,
        address: Address,
        slot: U256,
        (value, root): (U256, B256),
    ) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        put_slot(&mut batch, address, slot, value, root);
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    fn block_hash_at(&self, number: u64) -> Result<Option<B256>, StorageError> {
        Ok(self
            .tree
            .get(key(BLOCK_HASH, &[&number.to_be_bytes()]))?
            .map(|v| B256::from_slice(&v)))
    }

    /// Writes a state update: the accounts, slots and code, the trie's new nodes and
    /// roots, and clears the edits it folded in.
    fn state_into(
        &self,
        batch: &mut sled::Batch,
        update: &StateUpdate,
    ) -> Result<(), StorageError> {
        self.check_parent(update)?;
        for code in &update.codes {
            batch.insert(key(CODE, &[code.hash.as_slice()]), code.code.as_ref());
        }
        for change in &update.accounts {
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
        write_trie(batch, &update.nodes, &update.storage_roots);
        for address in &update.edits {
            batch.remove(key(EDITED, &[address.as_slice()]));
        }
        batch.insert(META_ROOT, update.root.as_slice());
        Ok(())
    }

    /// Flushes to disk; returns once everything applied so far is durable.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.tree.flush()?;
        Ok(())
    }

    /// The whole state, in memory (tests and a one-time trie build: it is O(state)).
    pub fn snapshot(&self) -> Result<MemState, StorageError> {
        let mut state = MemState::new();
        self.for_each_account(|address, info, code, storage| {
            state.insert_account(address, info.balance, info.nonce, code, storage);
        })?;
        Ok(state)
    }

    /// Calls `f` with every account, its code and its storage slots, in address order
    /// (O(state): `anvil_dumpState`, [`snapshot`](Self::snapshot)).
    pub fn for_each_account(
        &self,
        mut f: impl FnMut(Address, AccountInfo, Bytes, Vec<(U256, U256)>),
    ) -> Result<(), StorageError> {
        for entry in self.tree.scan_prefix([ACCOUNT]) {
            let (k, v) = entry?;
            let address = Address::from_slice(&k[1..]);
            let info = decode_account(&k, &v)?;
            let storage = self.snapshot_storage(&address)?;
            let code = match self.tree.get(key(CODE, &[info.code_hash.as_slice()]))? {
                Some(c) => Bytes::copy_from_slice(&c),
                None => Bytes::new(),
            };
            f(address, info, code, storage);
        }
        Ok(())
    }

    /// The Ethereum state root of the stored state (with edits made outside blocks).
    pub fn state_root(&self) -> Result<B256, StorageError> {
        Ok(self.state_update(Vec::new(), Vec::new())?.root)
    }
}

/// Writes `slot`'s value and the account's storage root, and marks the account
/// for the next block's state root.
fn put_slot(batch: &mut sled::Batch, address: Address, slot: U256, value: U256, root: B256) {
    let a = address.as_slice();
    let k = key(STORAGE, &[a, &slot.to_be_bytes::<32>()]);
    match value.is_zero() {
        true => batch.remove(k),
        false => batch.insert(k, value.to_be_bytes::<32>().as_slice()),
    }
    set_storage_root(batch, a, root);
    batch.insert(key(EDITED, &[a]), &[]);
}

fn set_storage_root(batch: &mut sled::Batch, address: &[u8], root: B256) {
    let k = key(STORAGE_ROOT, &[address]);
    match root == EMPTY_ROOT_HASH {
        true => batch.remove(k),
        false => batch.insert(k, root.as_slice()),
    }
}

fn write_trie(
    batch: &mut sled::Batch,
    nodes: &std::collections::HashMap<Vec<u8>, Vec<u8>>,
    storage_roots: &[(Address, Option<B256>)],
) {
    for (hash, node) in nodes {
        batch.insert(trie::node_key(hash), node.as_slice());
    }
    for (address, root) in storage_roots {
        set_storage_root(batch, address.as_slice(), root.unwrap_or(EMPTY_ROOT_HASH));
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
