//! The host services of native twins: guest crates linked into the node as ordinary
//! Rust libraries.
//!
//! A guest's logic is written against [`molt_abi::imports::Host`]; here the host
//! implements that trait directly, so the same code runs without WebAssembly. This is
//! the baseline of every WASM-vs-native measurement.

use std::cell::RefCell;

use alloy_primitives::{Address, B256, U256};
use molt_abi::imports::{Account, Host, Level, StateHost};

use crate::services::{self, ChainService};
use molt_storage::state::{StateError, StateView};

/// The host services for a guest running natively.
#[derive(Clone, Debug)]
pub struct NativeHost {
    module: String,
}

impl NativeHost {
    /// Services for the module called `module` (its name tags its log lines).
    pub fn new(module: impl Into<String>) -> Self {
        NativeHost {
            module: module.into(),
        }
    }
}

impl Host for NativeHost {
    fn log(&self, level: Level, message: &str) {
        services::log(&self.module, level, message);
    }

    fn keccak256(&self, data: &[u8]) -> [u8; 32] {
        services::keccak256(data)
    }

    fn secp256k1_recover(&self, msg: &[u8; 32], sig: &[u8; 64], recid: u8) -> Option<[u8; 20]> {
        services::secp256k1_recover(msg, sig, recid)
    }

    fn ed25519_verify(&self, msg: &[u8], sig: &[u8; 64], key: &[u8; 32]) -> bool {
        services::ed25519_verify(msg, sig, key)
    }
}

/// The `execution` kind's host services for a native twin: state reads from a
/// [`StateView`]. A failed read is remembered and reported after the call, the way
/// the WebAssembly host fails the call.
pub struct NativeStateHost<'a> {
    host: NativeHost,
    state: &'a dyn StateView,
    error: RefCell<Option<StateError>>,
}

impl<'a> NativeStateHost<'a> {
    /// Services for module `module` reading `state`.
    pub fn new(module: impl Into<String>, state: &'a dyn StateView) -> Self {
        NativeStateHost {
            host: NativeHost::new(module),
            state,
            error: RefCell::new(None),
        }
    }

    /// The first state read that failed, if any.
    pub fn take_error(&self) -> Option<StateError> {
        self.error.borrow_mut().take()
    }

    fn read<T: Default>(&self, r: Result<T, StateError>) -> T {
        r.unwrap_or_else(|e| {
            self.error.borrow_mut().get_or_insert(e);
            T::default()
        })
    }
}

/// Implements [`Host`] for a kind's native services by forwarding to their `host`
/// field (a [`NativeHost`]).
macro_rules! forward_host {
    ($t:ty) => {
        impl Host for $t {
            fn log(&self, level: Level, message: &str) {
                self.host.log(level, message);
            }

            fn keccak256(&self, data: &[u8]) -> [u8; 32] {
                self.host.keccak256(data)
            }

            fn secp256k1_recover(
                &self,
                msg: &[u8; 32],
                sig: &[u8; 64],
                recid: u8,
            ) -> Option<[u8; 20]> {
                self.host.secp256k1_recover(msg, sig, recid)
            }

            fn ed25519_verify(&self, msg: &[u8], sig: &[u8; 64], key: &[u8; 32]) -> bool {
                self.host.ed25519_verify(msg, sig, key)
            }
        }
    };
}

forward_host!(NativeStateHost<'_>);

impl StateHost for NativeStateHost<'_> {
    fn account(&self, address: &Address) -> Option<Account> {
        self.read(self.state.account(address))
    }

    fn storage(&self, address: &Address, slot: &U256) -> U256 {
        self.read(self.state.storage(address, slot))
    }

    fn code(&self, code_hash: &B256) -> Option<Vec<u8>> {
        self.read(self.state.code(code_hash)).map(|c| c.to_vec())
    }

    fn block_hash(&self, number: u64) -> Option<B256> {
        self.read(self.state.block_hash(number))
    }
}

/// The `rpc` kind's host services for a native twin: chain queries answered by a
/// [`ChainService`], with the same bytes the
/// WebAssembly import passes.
pub struct NativeChainHost<'a> {
    host: NativeHost,
    chain: &'a dyn ChainService,
}

impl<'a> NativeChainHost<'a> {
    /// Services for module `module` querying `chain`.
    pub fn new(module: impl Into<String>, chain: &'a dyn ChainService) -> Self {
        NativeChainHost {
            host: NativeHost::new(module),
            chain,
        }
    }
}

forward_host!(NativeChainHost<'_>);

impl molt_abi::imports::ChainHost for NativeChainHost<'_> {
    fn chain(&self, request: &[u8]) -> Vec<u8> {
        self.chain.query(request)
    }
}
