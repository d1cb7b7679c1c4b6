//! What the host does for a guest when it calls one of the `molt` imports, shared by
//! the WebAssembly glue (`runtime::imports`) and the native twins (`native`).

use molt_abi::imports::Level;
use sha3::{Digest, Keccak256};

/// Writes one guest log line into the node log, tagged with the module's name.
pub fn log(module: &str, level: Level, message: &str) {
    match level {
        Level::Error => tracing::error!(target: "molt::guest", module, "{message}"),
        Level::Warn => tracing::warn!(target: "molt::guest", module, "{message}"),
        Level::Info => tracing::info!(target: "molt::guest", module, "{message}"),
        Level::Debug => tracing::debug!(target: "molt::guest", module, "{message}"),
        Level::Trace => tracing::trace!(target: "molt::guest", module, "{message}"),
    }
}

/// Keccak-256 of `data`.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keccak_of_empty_input_is_the_known_constant() {
        assert_eq!(
            hex::encode(super::keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }
}
