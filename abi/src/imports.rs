//! The services the host offers every guest, as a trait.
//!
//! A guest written against [`Host`] runs unchanged in two ways: compiled to
//! WebAssembly, where the `guest` feature's `WasmHost` forwards each method to the
//! host import of the same name in module `molt`; and natively (the "native twin"),
//! where the host passes its own implementation. Kinds with more imports (state reads
//! for `execution`, chain queries for `rpc`) extend this trait.

/// Severity of a log line, as passed to the `molt.log` import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Level {
    /// Something failed.
    Error = 0,
    /// Something looks wrong.
    Warn = 1,
    /// Normal operation.
    Info = 2,
    /// Detail for whoever debugs the module.
    Debug = 3,
    /// Very fine detail.
    Trace = 4,
}

impl Level {
    /// The level for a raw import argument; values above 4 read as `Trace`.
    pub const fn from_raw(raw: u32) -> Level {
        match raw {
            0 => Level::Error,
            1 => Level::Warn,
            2 => Level::Info,
            3 => Level::Debug,
            _ => Level::Trace,
        }
    }
}

/// Host services available to every kind of module.
pub trait Host {
    /// Writes one line to the node log, tagged with the module's name.
    fn log(&self, level: Level, message: &str);

    /// Keccak-256 of `data`, computed natively by the host.
    fn keccak256(&self, data: &[u8]) -> [u8; 32];

    /// The Ethereum address that signed the 32-byte `msg` with the 64-byte `sig`
    /// (`r || s`) and recovery id `recid` (0 or 1), or `None` if it does not recover.
    /// A high `s` is normalised (and `recid` flipped), as Ethereum's `ecrecover` does;
    /// EIP-2's low-`s` rule for transactions is the caller's to apply.
    fn secp256k1_recover(&self, msg: &[u8; 32], sig: &[u8; 64], recid: u8) -> Option<[u8; 20]>;

    /// Whether `sig` is the ed25519 signature (RFC 8032) of `msg` by public key `key`,
    /// checked by the host as it checks block seals.
    fn ed25519_verify(&self, msg: &[u8], sig: &[u8; 64], key: &[u8; 32]) -> bool;
}

/// An account as the `execution` kind's state imports report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Balance in wei.
    pub balance: alloy_primitives::U256,
    /// Nonce.
    pub nonce: u64,
    /// Keccak-256 of the account's code.
    pub code_hash: alloy_primitives::B256,
}

/// Host services of the `execution` kind: read access to the state the block executes
/// on. Reads see the state before the block; the module keeps its own changes.
pub trait StateHost: Host {
    /// The account at `address`, or `None` if it does not exist.
    fn account(&self, address: &alloy_primitives::Address) -> Option<Account>;

    /// The value of storage `slot` of `address` (zero if unset).
    fn storage(
        &self,
        address: &alloy_primitives::Address,
        slot: &alloy_primitives::U256,
    ) -> alloy_primitives::U256;

    /// The code whose Keccak-256 is `code_hash`, or `None` if the host has none.
    fn code(&self, code_hash: &alloy_primitives::B256) -> Option<alloc::vec::Vec<u8>>;

    /// The hash of block `number`, or `None` if the host does not know it.
    fn block_hash(&self, number: u64) -> Option<alloy_primitives::B256>;
}

/// Host services of the `rpc` kind: the chain queries of [`crate::rpc`].
pub trait ChainHost: Host {
    /// Runs one chain query (an operation byte and its RLP arguments) and returns the
    /// response: a status byte and its payload.
    fn chain(&self, request: &[u8]) -> alloc::vec::Vec<u8>;
}
