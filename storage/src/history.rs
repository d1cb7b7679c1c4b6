//! State history, kept the way reth keeps it: a change set per block (the value each
//! account and slot had before the block changed it) and an index from each account
//! and slot to the blocks that changed it. The state after block `n` is then a seek
//! per read: the first block above `n` that changed the key holds, in its change set,
//! the value the key had at `n`; if no block above `n` changed it, it is the current
//! value. The same change sets undo blocks ([`Db::revert_to`](crate::Db::revert_to)).
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `A` | block (8) ‖ address (20) | the account before the block: RLP `[nonce, balance, storage_root, code_hash]`, empty if absent |
//! | `S` | block (8) ‖ address (20) ‖ slot (32) | the slot before the block (32), empty if zero |
//! | `x` | address (20) ‖ block (8) | (empty) |
//! | `y` | address (20) ‖ slot (32) ‖ block (8) | (empty) |

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_trie::TrieAccount;
use molt_abi::imports::Account;

use crate::state::{StateError, StateView};
use crate::{Db, StorageError, corrupt, key};

pub(crate) const ACCOUNT_CHANGES: u8 = b'A';
pub(crate) const STORAGE_CHANGES: u8 = b'S';
pub(crate) const ACCOUNT_HISTORY: u8 = b'x';
pub(crate) const STORAGE_HISTORY: u8 = b'y';

/// The value a change set records for an account: its trie leaf, or nothing.
pub(crate) fn encode_account(account: Option<&TrieAccount>) -> Vec<u8> {
    account.map(alloy_rlp::encode).unwrap_or_default()
}

pub(crate) fn decode_account(k: &[u8], v: &[u8]) -> Result<Option<TrieAccount>, StorageError> {
    if v.is_empty() {
        return Ok(None);
    }
    alloy_rlp::Decodable::decode(&mut &v[..])
        .map(Some)
        .map_err(|e| corrupt(k, &e.to_string()))
}

pub(crate) fn encode_slot(value: U256) -> Vec<u8> {
    match value.is_zero() {
        true => Vec::new(),
        false => value.to_be_bytes::<32>().to_vec(),
    }
}

/// The first block above `after` whose change set holds `id` (an index key without its
/// block), if any.
fn first_change_above(
    tree: &sled::Tree,
    index: u8,
    id: &[&[u8]],
    after: u64,
) -> Result<Option<u64>, StorageError> {
    let Some(start) = after.checked_add(1) else {
        return Ok(None);
    };
    let prefix = key(index, id);
    let from = [prefix.as_slice(), &start.to_be_bytes()].concat();
    match tree.range(from..).next().transpose()? {
        Some((k, _)) if k.starts_with(&prefix) && k.len() == prefix.len() + 8 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&k[prefix.len()..]);
            Ok(Some(u64::from_be_bytes(n)))
        }
        _ => Ok(None),
    }
}

/// The state after a kept block, read from the current state and the change sets
/// above it. Obtain one with [`Db::state_at`].
#[derive(Clone, Debug)]
pub struct StateAt {
    db: Db,
    number: u64,
}

impl StateAt {
    pub(crate) fn new(db: Db, number: u64) -> StateAt {
        StateAt { db, number }
    }

    /// The block whose state this is.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The account's trie leaf at this block (with its storage root), if it exists.
    pub fn trie_account(&self, address: &Address) -> Result<Option<TrieAccount>, StorageError> {
        let tree = &self.db.tree;
        // The current value first, the index second: a block committing in between
        // shows in the index, so the answer is never a value from above this block.
        let current = self.db.current_trie_account(address)?;
        match first_change_above(tree, ACCOUNT_HISTORY, &[address.as_slice()], self.number)? {
            Some(b) => {
                let k = key(ACCOUNT_CHANGES, &[&b.to_be_bytes(), address.as_slice()]);
                let v = tree
                    .get(&k)?
                    .ok_or_else(|| corrupt(&k, "indexed change set entry is missing"))?;
                decode_account(&k, &v)
            }
            None => Ok(current),
        }
    }

    /// Storage slot `slot` of `address` at this block.
    pub fn slot(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        let tree = &self.db.tree;
        let s = slot.to_be_bytes::<32>();
        let current = self.db.current_slot(address, slot)?;
        match first_change_above(
            tree,
            STORAGE_HISTORY,
            &[address.as_slice(), &s],
            self.number,
        )? {
            Some(b) => {
                let k = key(STORAGE_CHANGES, &[&b.to_be_bytes(), address.as_slice(), &s]);
                let v = tree
                    .get(&k)?
                    .ok_or_else(|| corrupt(&k, "indexed change set entry is missing"))?;
                Ok(U256::from_be_slice(&v))
            }
            None => Ok(current),
        }
    }

    /// The state root of this block.
    pub fn state_root(&self) -> Result<B256, StorageError> {
        let k = key(crate::HEADER, &[&self.number.to_be_bytes()]);
        let header: alloy_consensus::Header = self
            .db
            .header(self.number)?
            .ok_or_else(|| corrupt(&k, "a kept block without a header"))?;
        Ok(header.state_root)
    }
}

impl StateView for StateAt {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.trie_account(address)?.map(|a| Account {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
        }))
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(self.slot(address, slot)?)
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StateError> {
        StateView::code(&self.db, hash)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        if number > self.number {
            return Ok(None);
        }
        StateView::block_hash(&self.db, number)
    }
}
