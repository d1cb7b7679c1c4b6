//! Ethereum state as the host holds it, and the narrow trait through which the
//! `execution` module reads it.
//!
//! [`StateView`] is what a block executes on; [`MemState`] is the in-memory
//! implementation (tests, the conformance runner, benches); the sled-backed one is
//! [`Db`](crate::Db), and [`Overridden`] lays one call's state overrides over any. Roots are computed here with `alloy-trie`, so they are real
//! Ethereum state roots.

mod memory;
mod overlay;

pub use memory::MemState;
pub use overlay::Overridden;

use alloy_primitives::{Address, B256, Bytes, U256};
use molt_abi::imports::Account;

/// A state read that failed (storage I/O, corruption). The call that needed it fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateError(pub String);

/// Read access to the state a block executes on.
pub trait StateView: Send + Sync {
    /// The account at `address`, if it exists.
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError>;

    /// Storage slot `slot` of `address` (zero if unset).
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError>;

    /// Code by its Keccak-256 hash.
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StateError>;

    /// The hash of block `number`, if known.
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError>;
}
