//! Dev helpers a dev node's clients expect of it (anvil's and hardhat's): balances set
//! outside any block, and snapshots the chain returns to — blocks, edits and pool.

use std::collections::BTreeSet;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY as KECCAK_EMPTY, U256, keccak256};

use crate::chain::{Before, Chain, DevEdit};
use crate::error::ChainError;
use crate::pool::Pool;
use molt_storage::state::StateView;

/// What `evm_snapshot` remembers: the head, how many dev edits had been made, the
/// pool, the dev controls and who is impersonated.
#[derive(Clone, Debug)]
pub struct DevSnapshot {
    head: u64,
    edits: usize,
    pool: Pool,
    controls: DevControls,
    impersonating: Impersonating,
}

/// Who may send transactions without a key on a chain that takes impersonated ones
/// (`anvil_impersonateAccount`, `anvil_autoImpersonateAccount`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Impersonating {
    /// The accounts impersonated.
    pub accounts: BTreeSet<Address>,
    /// Whether every account is.
    pub all: bool,
}

impl Impersonating {
    /// Whether `address` may be impersonated.
    pub fn allows(&self, address: &Address) -> bool {
        self.all || self.accounts.contains(address)
    }
}

/// The fields of an account a dev edit sets (`None`: left as they are).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountEdit {
    /// Balance, wei.
    pub balance: Option<U256>,
    /// Nonce.
    pub nonce: Option<u64>,
    /// Code (empty: none).
    pub code: Option<Bytes>,
}

/// A dev node's controls (anvil's and hardhat's): its clock, the next block's
/// timestamp and coinbase, and when it seals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevControls {
    /// Seconds added to the wall clock (`evm_increaseTime`).
    pub time_offset: u64,
    /// The next block's timestamp (`evm_setNextBlockTimestamp`), used once.
    pub next_timestamp: Option<u64>,
    /// The next block's base fee (`anvil_setNextBlockBaseFeePerGas`), used once.
    pub next_base_fee: Option<u64>,
    /// Who blocks pay (`anvil_setCoinbase`); the chain's configured coinbase if unset.
    pub coinbase: Option<Address>,
    /// Whether blocks are sealed as soon as transactions are pending
    /// (`evm_setAutomine`) when there is no block time.
    pub automine: bool,
    /// Seconds between blocks; 0 seals on demand (`anvil_setIntervalMining`, and
    /// `--block-time` at start).
    pub block_time: u64,
}

impl Default for DevControls {
    fn default() -> Self {
        DevControls {
            time_offset: 0,
            next_timestamp: None,
            next_base_fee: None,
            coinbase: None,
            automine: true,
            block_time: 0,
        }
    }
}

impl Chain {
    /// Sets an account's balance directly, outside any block (a dev helper; the next
    /// block's state root includes it).
    pub fn set_balance(&self, address: Address, balance: U256) -> Result<(), ChainError> {
        self.edit_account(
            address,
            &AccountEdit {
                balance: Some(balance),
                ..AccountEdit::default()
            },
        )
    }

    /// Sets an account's balance, nonce or code directly, outside any block
    /// (`anvil_setBalance`, `anvil_setNonce`, `anvil_setCode`); the next block's state
    /// root includes it and `evm_revert` undoes it.
    pub fn edit_account(&self, address: Address, edit: &AccountEdit) -> Result<(), ChainError> {
        let _write = self.write.lock();
        let before = self.db.edit_account(address, edit.code.as_ref(), |info| {
            if let Some(balance) = edit.balance {
                info.balance = balance;
            }
            if let Some(nonce) = edit.nonce {
                info.nonce = nonce;
            }
            if let Some(code) = &edit.code {
                info.code_hash = match code.is_empty() {
                    true => KECCAK_EMPTY,
                    false => keccak256(code),
                };
            }
        })?;
        self.executed.lock().clear();
        self.dev_edits.lock().push(DevEdit {
            head: self.head_number(),
            address,
            before: Before::Account(before),
        });
        Ok(())
    }

    /// Sets storage slots of an account directly, outside any block
    /// (`anvil_setStorageAt`), creating the account if it is absent; the next block's
    /// state root includes them and `evm_revert` undoes them.
    pub fn edit_storage(&self, address: Address, slots: &[(U256, U256)]) -> Result<(), ChainError> {
        if self.db.account(&address)?.is_none() {
            self.edit_account(address, &AccountEdit::default())?;
        }
        let _write = self.write.lock();
        for (slot, value) in slots {
            let (before, storage_root) = self.db.edit_slot(address, *slot, *value)?;
            self.dev_edits.lock().push(DevEdit {
                head: self.head_number(),
                address,
                before: Before::Slot {
                    slot: *slot,
                    value: before,
                    storage_root,
                },
            });
        }
        self.executed.lock().clear();
        Ok(())
    }

    /// Remembers the head, the dev edits so far and the pool (`evm_snapshot`).
    pub fn dev_snapshot(&self) -> DevSnapshot {
        let _write = self.write.lock();
        DevSnapshot {
            head: self.head_number(),
            edits: self.dev_edits.lock().len(),
            pool: self.pool.lock().clone(),
            controls: self.dev_controls(),
            impersonating: self.impersonating.lock().clone(),
        }
    }

    /// Returns to `snapshot` (`evm_revert`): the blocks after it are removed, the dev
    /// edits made since are undone (each after the blocks above its head), and the pool
    /// is what it was, less what no longer fits the state.
    pub fn revert_to_snapshot(&self, snapshot: &DevSnapshot) -> Result<(), ChainError> {
        let _write = self.write.lock();
        let mut edits = self.dev_edits.lock();
        while edits.len() > snapshot.edits {
            let Some(edit) = edits.pop() else { break };
            if edit.head < self.head_number() {
                self.revert_blocks(edit.head)?;
            }
            match edit.before {
                Before::Account(before) => {
                    self.db.restore_account(edit.address, before.as_ref())?
                }
                Before::Slot {
                    slot,
                    value,
                    storage_root,
                } => self
                    .db
                    .restore_slot(edit.address, slot, (value, storage_root))?,
            }
        }
        if snapshot.head < self.head_number() {
            self.revert_blocks(snapshot.head)?;
        }
        // Durable before the client hears it went back.
        self.db.flush()?;
        self.executed.lock().clear();
        let mut pool = self.pool.lock();
        *pool = snapshot.pool.clone();
        pool.prune(&self.db)?;
        *self.controls.lock() = snapshot.controls;
        *self.impersonating.lock() = snapshot.impersonating.clone();
        self.wake().notify();
        Ok(())
    }

    /// The dev controls now.
    pub fn dev_controls(&self) -> DevControls {
        *self.controls.lock()
    }

    /// Changes the dev controls with `change`, which may refuse; the block producer
    /// hears of it.
    pub fn set_dev_controls<T>(
        &self,
        change: impl FnOnce(&mut DevControls) -> Result<T, ChainError>,
    ) -> Result<T, ChainError> {
        let answer = change(&mut self.controls.lock())?;
        self.wake().notify();
        Ok(answer)
    }

    /// Changes who may be impersonated with `change`; an error on a chain that takes
    /// no impersonated transactions.
    pub fn impersonate<T>(
        &self,
        change: impl FnOnce(&mut Impersonating) -> T,
    ) -> Result<T, ChainError> {
        if !self.config.impersonation {
            return Err(ChainError::NoImpersonation);
        }
        Ok(change(&mut self.impersonating.lock()))
    }

    /// `now` on the dev clock (the wall clock moved by `evm_increaseTime`).
    pub fn dev_now(&self, now: u64) -> u64 {
        now.saturating_add(self.controls.lock().time_offset)
    }

    /// Drops a pooled transaction (`anvil_dropTransaction`); whether it was pooled.
    pub fn drop_pooled(&self, hash: &B256) -> bool {
        self.pool.lock().remove(hash).is_some()
    }

    /// Empties the pool (`anvil_dropAllTransactions`); how many were dropped.
    pub fn drop_all_pooled(&self) -> usize {
        let mut pool = self.pool.lock();
        let n = pool.len();
        *pool = Pool::new();
        n
    }
}
