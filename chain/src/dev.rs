//! Dev helpers a dev node's clients expect of it (anvil's and hardhat's): balances set
//! outside any block, and snapshots the chain returns to — blocks, edits and pool.

use alloy_primitives::{Address, U256};

use crate::chain::{Chain, DevEdit};
use crate::error::ChainError;
use crate::pool::Pool;

/// What `evm_snapshot` remembers: the head, how many dev edits had been made, and the
/// pool.
#[derive(Clone, Debug)]
pub struct DevSnapshot {
    head: u64,
    edits: usize,
    pool: Pool,
}

impl Chain {
    /// Sets an account's balance directly, outside any block (a dev helper; the next
    /// block's state root includes it).
    pub fn set_balance(&self, address: Address, balance: U256) -> Result<(), ChainError> {
        let _write = self.write.lock();
        let before = self.db.set_balance(address, balance)?;
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
        Ok(())
    }
}
