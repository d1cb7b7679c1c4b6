//! Native twins: guest crates linked into the host as ordinary Rust libraries.
//!
//! A guest's logic is written against [`molt_abi::imports::Host`]; here the host
//! implements that trait directly, so the same code runs without WebAssembly. This is
//! the baseline of every WASM-vs-native measurement.

use molt_abi::imports::{Host, Level};

use crate::services;

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
}
