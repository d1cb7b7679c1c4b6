//! What the host does for a guest when it calls one of the `molt` imports, shared by
//! the WebAssembly glue (`runtime::imports`) and the native twins (`native`).

use molt_abi::imports::Level;

/// The node's answer to the `rpc` kind's chain queries (`molt_abi::rpc`): takes a
/// request (operation byte ‖ RLP arguments) and returns the response (status byte ‖
/// payload). Implemented by the node; the WebAssembly glue and the native twin both
/// call it with the same bytes.
pub trait ChainService: Send + Sync {
    /// Answers one request.
    fn query(&self, request: &[u8]) -> Vec<u8>;
}

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

/// Keccak-256 of `data` (the same function as everywhere else in the node:
/// `alloy_primitives::keccak256`).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    alloy_primitives::keccak256(data).0
}

/// The address that signed `msg`, as Ethereum's `ecrecover` computes it: a high `s`
/// is normalised and the recovery id flipped; `None` if nothing recovers.
pub fn secp256k1_recover(msg: &[u8; 32], sig: &[u8; 64], recid: u8) -> Option<[u8; 20]> {
    use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
    let mut signature = Signature::from_slice(sig).ok()?;
    let mut recid = recid;
    if let Some(normalized) = signature.normalize_s() {
        signature = normalized;
        recid ^= 1;
    }
    let recid = RecoveryId::from_byte(recid)?;
    let key = VerifyingKey::recover_from_prehash(msg, &signature, recid).ok()?;
    Some(alloy_primitives::Address::from_public_key(&key).into_array())
}

/// Whether `signature` (64 bytes) is `key`'s (32 bytes) ed25519 signature of `msg`,
/// as ed25519-dalek's `verify` decides (RFC 8032, the node's own seal check).
pub fn ed25519_verify(msg: &[u8], signature: &[u8; 64], key: &[u8; 32]) -> bool {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    VerifyingKey::from_bytes(key)
        .is_ok_and(|k| k.verify(msg, &Signature::from_bytes(signature)).is_ok())
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
