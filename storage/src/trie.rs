//! The state trie on disk: Ethereum's Merkle-Patricia trie of accounts and one trie
//! per account's storage, kept as content-addressed nodes (keccak256 of a node's RLP →
//! the RLP) through the `eth_trie` crate.
//!
//! A block's root is computed from the parent's root by updating the paths of what the
//! block changed — its cost grows with the block, not with the state. The nodes a
//! block creates are committed with it, in its atomic batch; no node is ever removed,
//! since two tries may share one and every kept block's root must still open its state
//! (for proofs at that block).

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use eth_trie::{EthTrie, Trie};
use molt_abi::execution::{AccountChange, AccountInfo, NewCode};
use parking_lot::RwLock;

use crate::StorageError;

/// Trie nodes by hash, made by an update and not yet written.
pub(crate) type NodeMap = HashMap<Vec<u8>, Vec<u8>>;

/// Key prefix of trie nodes: node hash (32) → node RLP.
pub(crate) const NODE: u8 = b'T';

/// The trie nodes in the database, with the nodes an update creates held in memory
/// until they are committed with their block (or dropped with a proposal that lost).
pub(crate) struct Nodes {
    tree: sled::Tree,
    pending: RwLock<HashMap<Vec<u8>, Vec<u8>>>,
}

impl Nodes {
    pub(crate) fn new(tree: &sled::Tree) -> Arc<Nodes> {
        Arc::new(Nodes {
            tree: tree.clone(),
            pending: RwLock::new(HashMap::new()),
        })
    }

    fn take(&self) -> HashMap<Vec<u8>, Vec<u8>> {
        std::mem::take(&mut self.pending.write())
    }
}

pub(crate) fn node_key(hash: &[u8]) -> Vec<u8> {
    [&[NODE], hash].concat()
}

impl eth_trie::DB for Nodes {
    type Error = sled::Error;

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, sled::Error> {
        if let Some(node) = self.pending.read().get(key) {
            return Ok(Some(node.clone()));
        }
        Ok(self.tree.get(node_key(key))?.map(|v| v.to_vec()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), sled::Error> {
        self.pending.write().insert(key.to_vec(), value);
        Ok(())
    }

    /// Nodes stay: another trie may share this one, and older roots still use it.
    fn remove(&self, _key: &[u8]) -> Result<(), sled::Error> {
        Ok(())
    }

    fn flush(&self) -> Result<(), sled::Error> {
        Ok(())
    }
}

/// The trie with root `root` (the empty root needs no stored node).
pub(crate) fn open(nodes: &Arc<Nodes>, root: B256) -> Result<EthTrie<Nodes>, StorageError> {
    if root == EMPTY_ROOT_HASH {
        return Ok(EthTrie::new(nodes.clone()));
    }
    Ok(EthTrie::from(nodes.clone(), root)?)
}

/// A block's state diff made ready to commit: the diff itself, and what it does to the
/// tries — the root after it, the nodes it creates, each changed account's new
/// storage root. Computed by [`Db::state_update`](crate::Db::state_update) on the
/// state as it is; commit it with [`Db::commit_block`](crate::Db::commit_block).
#[derive(Clone, Debug, Default)]
pub struct StateUpdate {
    /// The accounts the block changed (their state after it).
    pub accounts: Vec<AccountChange>,
    /// The code the block deployed.
    pub codes: Vec<NewCode>,
    /// The state root the update was computed on.
    pub parent_root: B256,
    /// The state root after the block.
    pub root: B256,
    pub(crate) nodes: HashMap<Vec<u8>, Vec<u8>>,
    /// Each changed account's storage root after the block (`None`: deleted).
    pub(crate) storage_roots: Vec<(Address, Option<B256>)>,
    /// The accounts edited outside any block that this update folded into the trie.
    pub(crate) edits: Vec<Address>,
}

/// An account's leaf in the state trie.
pub(crate) fn leaf(info: &AccountInfo, storage_root: B256) -> TrieAccount {
    TrieAccount {
        nonce: info.nonce,
        balance: info.balance,
        storage_root,
        code_hash: info.code_hash,
    }
}

/// What an update does to the tries.
pub(crate) struct Changes {
    /// The state root after it.
    pub(crate) root: B256,
    /// The nodes it creates.
    pub(crate) nodes: HashMap<Vec<u8>, Vec<u8>>,
    /// Each changed account's storage root (`None`: deleted).
    pub(crate) storage_roots: Vec<(Address, Option<B256>)>,
}

/// Applies `changes` to the tries under `parent`: first the accounts edited outside
/// any block (`edits`, as they are now: `None` absent), then the block's changes.
/// `storage_root_of` gives an account's storage root before the block.
pub(crate) fn update(
    tree: &sled::Tree,
    parent: B256,
    edits: &[(Address, Option<TrieAccount>)],
    changes: &[AccountChange],
    storage_root_of: &dyn Fn(&Address) -> Result<B256, StorageError>,
) -> Result<Changes, StorageError> {
    let nodes = Nodes::new(tree);
    let mut accounts = open(&nodes, parent)?;
    for (address, account) in edits {
        let key = keccak256(address);
        match account {
            Some(a) => accounts.insert(key.as_slice(), &alloy_rlp::encode(a))?,
            None => {
                accounts.remove(key.as_slice())?;
            }
        }
    }
    let mut storage_roots = Vec::with_capacity(changes.len());
    for change in changes {
        let key = keccak256(change.address);
        if change.deleted {
            accounts.remove(key.as_slice())?;
            storage_roots.push((change.address, None));
            continue;
        }
        let before = match change.storage_wiped {
            true => EMPTY_ROOT_HASH,
            false => storage_root_of(&change.address)?,
        };
        let root = if change.storage.is_empty() {
            before
        } else {
            let mut storage = open(&nodes, before)?;
            for s in &change.storage {
                let slot = keccak256(s.slot.to_be_bytes::<32>());
                match s.value.is_zero() {
                    true => {
                        storage.remove(slot.as_slice())?;
                    }
                    false => storage.insert(slot.as_slice(), &alloy_rlp::encode(s.value))?,
                }
            }
            storage.root_hash()?
        };
        storage_roots.push((change.address, Some(root)));
        accounts.insert(key.as_slice(), &alloy_rlp::encode(leaf(&change.info, root)))?;
    }
    let root = accounts.root_hash()?;
    Ok(Changes {
        root,
        nodes: nodes.take(),
        storage_roots,
    })
}

/// The storage trie `root` with `slot` set to `value` (0 removes it): the root after,
/// and the nodes that creates.
pub(crate) fn set_slot(
    tree: &sled::Tree,
    root: B256,
    slot: U256,
    value: U256,
) -> Result<(B256, NodeMap), StorageError> {
    let nodes = Nodes::new(tree);
    let mut storage = open(&nodes, root)?;
    let key = keccak256(slot.to_be_bytes::<32>());
    match value.is_zero() {
        true => {
            storage.remove(key.as_slice())?;
        }
        false => storage.insert(key.as_slice(), &alloy_rlp::encode(value))?,
    }
    let root = storage.root_hash()?;
    Ok((root, nodes.take()))
}

/// The nodes from the root of the trie `root` down to `key` (EIP-1186): they prove
/// the key's value, or that it is absent.
pub(crate) fn proof(tree: &sled::Tree, root: B256, key: B256) -> Result<Vec<Bytes>, StorageError> {
    if root == EMPTY_ROOT_HASH {
        return Ok(Vec::new());
    }
    let nodes = Nodes::new(tree);
    let mut trie = open(&nodes, root)?;
    Ok(trie
        .get_proof(key.as_slice())?
        .into_iter()
        .map(Bytes::from)
        .collect())
}
