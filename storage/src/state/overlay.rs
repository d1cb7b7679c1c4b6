//! A state with some accounts replaced for one call: `eth_call`'s state overrides.

use std::collections::HashMap;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::KECCAK_EMPTY;
use molt_abi::imports::Account;
use molt_abi::rpc::{AccountOverride, set};

use super::{StateError, StateView};

/// `base` with the accounts of `overrides` replaced: their balance, nonce or code,
/// and their storage (whole, or slot by slot over the base's).
#[derive(Debug)]
pub struct Overridden<S> {
    base: S,
    accounts: HashMap<Address, AccountOverride>,
    codes: HashMap<B256, Bytes>,
}

impl<S: StateView> Overridden<S> {
    /// `base` as `overrides` replace it (a later entry for an address wins).
    pub fn new(base: S, overrides: &[AccountOverride]) -> Self {
        let accounts: HashMap<Address, AccountOverride> =
            overrides.iter().map(|o| (o.address, o.clone())).collect();
        let codes = accounts
            .values()
            .filter(|o| o.set & set::CODE != 0 && !o.code.is_empty())
            .map(|o| (keccak256(&o.code), o.code.clone()))
            .collect();
        Overridden {
            base,
            accounts,
            codes,
        }
    }
}

impl<S: StateView> StateView for Overridden<S> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        let base = self.base.account(address)?;
        let Some(o) = self.accounts.get(address) else {
            return Ok(base);
        };
        let mut account = base.unwrap_or(Account {
            balance: U256::ZERO,
            nonce: 0,
            code_hash: KECCAK_EMPTY,
        });
        if o.set & set::BALANCE != 0 {
            account.balance = o.balance;
        }
        if o.set & set::NONCE != 0 {
            account.nonce = o.nonce;
        }
        if o.set & set::CODE != 0 {
            account.code_hash = match o.code.is_empty() {
                true => KECCAK_EMPTY,
                false => keccak256(&o.code),
            };
        }
        Ok(Some(account))
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        let Some(o) = self.accounts.get(address) else {
            return self.base.storage(address, slot);
        };
        match o.storage.iter().rev().find(|s| s.slot == *slot) {
            Some(s) => Ok(s.value),
            None if o.set & set::WHOLE_STORAGE != 0 => Ok(U256::ZERO),
            None => self.base.storage(address, slot),
        }
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StateError> {
        match self.codes.get(hash) {
            Some(code) => Ok(Some(code.clone())),
            None => self.base.code(hash),
        }
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        self.base.block_hash(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemState;
    use molt_abi::rpc::SlotValue;

    #[test]
    fn overrides_replace_fields_and_storage_whole_or_slot_by_slot() {
        let (a, b, c) = (
            Address::with_last_byte(1),
            Address::with_last_byte(2),
            Address::with_last_byte(3),
        );
        let mut base = MemState::new();
        let slots = [
            (U256::from(1), U256::from(10)),
            (U256::from(2), U256::from(20)),
        ];
        base.insert_account(a, U256::from(5), 3, Bytes::new(), slots);
        base.insert_account(b, U256::from(6), 4, Bytes::new(), slots);
        let code = Bytes::from_static(&[0x60, 0x00]);
        let o = Overridden::new(
            base,
            &[
                AccountOverride {
                    address: a,
                    set: set::BALANCE | set::CODE,
                    balance: U256::from(99),
                    code: code.clone(),
                    storage: vec![SlotValue {
                        slot: U256::from(2),
                        value: U256::from(7),
                    }],
                    ..Default::default()
                },
                AccountOverride {
                    address: b,
                    set: set::WHOLE_STORAGE | set::NONCE,
                    nonce: 9,
                    storage: vec![SlotValue {
                        slot: U256::from(3),
                        value: U256::from(30),
                    }],
                    ..Default::default()
                },
                AccountOverride {
                    address: c,
                    set: set::BALANCE,
                    balance: U256::from(1),
                    ..Default::default()
                },
            ],
        );
        let acc = o.account(&a).unwrap().unwrap();
        assert_eq!((acc.balance, acc.nonce), (U256::from(99), 3));
        assert_eq!(o.code(&acc.code_hash).unwrap(), Some(code));
        assert_eq!(o.storage(&a, &U256::from(1)).unwrap(), U256::from(10));
        assert_eq!(o.storage(&a, &U256::from(2)).unwrap(), U256::from(7));
        let acc = o.account(&b).unwrap().unwrap();
        assert_eq!((acc.balance, acc.nonce), (U256::from(6), 9));
        assert_eq!(o.storage(&b, &U256::from(1)).unwrap(), U256::ZERO);
        assert_eq!(o.storage(&b, &U256::from(3)).unwrap(), U256::from(30));
        let acc = o.account(&c).unwrap().unwrap();
        assert_eq!((acc.balance, acc.code_hash), (U256::from(1), KECCAK_EMPTY));
    }
}
