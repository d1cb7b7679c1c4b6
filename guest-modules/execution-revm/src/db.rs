//! revm's view of the state: every read goes to the host.

use core::fmt;

use molt_abi::imports::StateHost;
use revm::bytecode::Bytecode;
use revm::database_interface::{DBErrorMarker, Database, DatabaseRef};
use revm::primitives::{Address, B256, KECCAK_EMPTY, StorageKey, StorageValue};
use revm::state::AccountInfo;

/// A state read the host could not serve; it fails the whole call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDbError(pub String);

impl fmt::Display for HostDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for HostDbError {}
impl DBErrorMarker for HostDbError {}

/// The host's state, read lazily. revm's `State` caches what it reads, so each
/// account, slot and code is asked for at most once per call.
pub struct HostDb<'h, H: ?Sized>(pub &'h H);

impl<H: StateHost + ?Sized> DatabaseRef for HostDb<'_, H> {
    type Error = HostDbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        // `code: None` makes revm ask `code_by_hash` when it needs the code (the
        // default `AccountInfo` would claim empty code).
        Ok(self
            .0
            .account(&address)
            .map(|a| AccountInfo::new(a.balance, a.nonce, a.code_hash, Bytecode::default()))
            .map(|mut info| {
                info.code = None;
                info
            }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY || code_hash == B256::ZERO {
            return Ok(Bytecode::default());
        }
        let code = self
            .0
            .code(&code_hash)
            .ok_or_else(|| HostDbError(format!("host has no code with hash {code_hash}")))?;
        Ok(Bytecode::new_raw(code.into()))
    }

    fn storage_ref(
        &self,
        address: Address,
        index: StorageKey,
    ) -> Result<StorageValue, Self::Error> {
        Ok(self.0.storage(&address, &index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.0.block_hash(number).unwrap_or_default())
    }
}

/// The host's reads take `&self`, so reading through `&mut` is reading by reference
/// (tracers read the state before a transaction through [`DatabaseRef`]).
impl<H: StateHost + ?Sized> Database for HostDb<'_, H> {
    type Error = HostDbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.basic_ref(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.code_by_hash_ref(code_hash)
    }

    fn storage(
        &mut self,
        address: Address,
        index: StorageKey,
    ) -> Result<StorageValue, Self::Error> {
        self.storage_ref(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.block_hash_ref(number)
    }
}
