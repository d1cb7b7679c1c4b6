//! An in-memory state: ordered maps, applied block diffs, real state roots.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::root::{state_root_unhashed, storage_root_unhashed};
use alloy_trie::{KECCAK_EMPTY, TrieAccount};
use molt_abi::execution::{AccountChange, NewCode};
use molt_abi::imports::Account;

use super::{StateError, StateView};

/// The whole state in ordered maps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemState {
    accounts: BTreeMap<Address, Account>,
    storage: BTreeMap<Address, BTreeMap<U256, U256>>,
    codes: BTreeMap<B256, Bytes>,
    block_hashes: BTreeMap<u64, B256>,
}

impl MemState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates or replaces an account with this balance, nonce, code and storage.
    pub fn insert_account(
        &mut self,
        address: Address,
        balance: U256,
        nonce: u64,
        code: Bytes,
        storage: impl IntoIterator<Item = (U256, U256)>,
    ) {
        let code_hash = if code.is_empty() {
            KECCAK_EMPTY
        } else {
            let hash = keccak256(&code);
            self.codes.insert(hash, code);
            hash
        };
        self.accounts.insert(
            address,
            Account {
                balance,
                nonce,
                code_hash,
            },
        );
        let slots: BTreeMap<U256, U256> =
            storage.into_iter().filter(|(_, v)| !v.is_zero()).collect();
        if slots.is_empty() {
            self.storage.remove(&address);
        } else {
            self.storage.insert(address, slots);
        }
    }

    /// Records the hash of block `number`.
    pub fn set_block_hash(&mut self, number: u64, hash: B256) {
        self.block_hashes.insert(number, hash);
    }

    /// Applies a block's state diff.
    pub fn apply(&mut self, accounts: &[AccountChange], codes: &[NewCode]) {
        for code in codes {
            self.codes.insert(code.hash, code.code.clone());
        }
        for change in accounts {
            if change.deleted {
                self.accounts.remove(&change.address);
                self.storage.remove(&change.address);
                continue;
            }
            self.accounts.insert(
                change.address,
                Account {
                    balance: change.info.balance,
                    nonce: change.info.nonce,
                    code_hash: change.info.code_hash,
                },
            );
            if change.storage_wiped {
                self.storage.remove(&change.address);
            }
            let slots = self.storage.entry(change.address).or_default();
            for s in &change.storage {
                if s.value.is_zero() {
                    slots.remove(&s.slot);
                } else {
                    slots.insert(s.slot, s.value);
                }
            }
            if slots.is_empty() {
                self.storage.remove(&change.address);
            }
        }
    }

    /// The Ethereum state root (Merkle-Patricia trie of all accounts).
    pub fn state_root(&self) -> B256 {
        state_root_unhashed(self.accounts.iter().map(|(address, a)| {
            let storage_root = storage_root_unhashed(
                self.storage
                    .get(address)
                    .into_iter()
                    .flatten()
                    .map(|(slot, value)| (B256::from(*slot), *value)),
            );
            (
                *address,
                TrieAccount {
                    nonce: a.nonce,
                    balance: a.balance,
                    storage_root,
                    code_hash: a.code_hash,
                },
            )
        }))
    }

    /// Every account, ascending by address.
    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &Account)> {
        self.accounts.iter()
    }

    /// The non-zero storage slots of `address`.
    pub fn storage_of(&self, address: &Address) -> impl Iterator<Item = (&U256, &U256)> {
        self.storage.get(address).into_iter().flatten()
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

impl StateView for MemState {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.accounts.get(address).copied())
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(self
            .storage
            .get(address)
            .and_then(|s| s.get(slot))
            .copied()
            .unwrap_or_default())
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(self.codes.get(hash).cloned())
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        Ok(self.block_hashes.get(&number).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};
    use molt_abi::execution::{AccountInfo, StorageChange};

    #[test]
    fn empty_state_has_the_empty_trie_root() {
        assert_eq!(
            MemState::new().state_root(),
            b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
        );
    }

    #[test]
    fn applying_a_diff_matches_building_the_state_directly() {
        let a = address!("00000000000000000000000000000000000000aa");
        let b = address!("00000000000000000000000000000000000000bb");
        let mut applied = MemState::new();
        applied.insert_account(
            a,
            U256::from(5),
            0,
            Bytes::new(),
            [(U256::from(1), U256::from(9))],
        );
        applied.insert_account(b, U256::from(1), 0, Bytes::new(), []);
        applied.apply(
            &[
                AccountChange {
                    address: a,
                    info: AccountInfo {
                        nonce: 1,
                        balance: U256::from(4),
                        code_hash: KECCAK_EMPTY,
                    },
                    storage: vec![
                        StorageChange {
                            slot: U256::from(1),
                            value: U256::ZERO,
                        },
                        StorageChange {
                            slot: U256::from(2),
                            value: U256::from(7),
                        },
                    ],
                    ..AccountChange::default()
                },
                AccountChange {
                    address: b,
                    deleted: true,
                    ..AccountChange::default()
                },
            ],
            &[],
        );
        let mut direct = MemState::new();
        direct.insert_account(
            a,
            U256::from(4),
            1,
            Bytes::new(),
            [(U256::from(2), U256::from(7))],
        );
        assert_eq!(applied, direct);
        assert_eq!(applied.state_root(), direct.state_root());
        assert_ne!(applied.state_root(), MemState::new().state_root());
    }
}
