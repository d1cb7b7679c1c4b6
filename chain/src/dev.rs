//! Dev helpers a dev node's clients expect of it (anvil's and hardhat's): balances set
//! outside any block, and snapshots the chain returns to — blocks, edits and pool.

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY as KECCAK_EMPTY, U256, keccak256};

use crate::chain::{Chain, DevEdit};
use crate::error::ChainError;
use crate::pool::Pool;

/// What `evm_snapshot` remembers: the head, how many dev edits had been made, the
/// pool and the dev controls.
#[derive(Clone, Debug)]
pub struct DevSnapshot {
    head: u64,
    edits: usize,
    pool: Pool,
    controls: DevControls,
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
            before,
        });
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
            self.db
                .restore_account(edit.address, edit.before.as_ref())?;
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
