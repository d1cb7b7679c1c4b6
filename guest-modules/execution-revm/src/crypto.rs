//! In WebAssembly, secp256k1 public-key recovery — the costliest step of checking a
//! transaction, and the ECRECOVER precompile — runs natively in the host through
//! `molt.secp256k1_recover`. alloy (transaction senders) and revm (the precompile)
//! both accept a crypto provider; [`install`] gives them one that calls the host.
//! Natively nothing is installed and both use k256 directly — the same computation.

use alloy_consensus::crypto::RecoveryError;
use alloy_consensus::crypto::backend::{CryptoProvider, install_default_provider};
use alloy_primitives::Address;
use molt_abi::guest::WasmHost;
use molt_abi::imports::Host;
use revm::precompile::{Crypto, PrecompileHalt, install_crypto};
use std::sync::Arc;

#[derive(Debug)]
struct HostCrypto;

impl Crypto for HostCrypto {
    fn secp256k1_ecrecover(
        &self,
        sig: &[u8; 64],
        recid: u8,
        msg: &[u8; 32],
    ) -> Result<[u8; 32], PrecompileHalt> {
        let address = WasmHost
            .secp256k1_recover(msg, sig, recid)
            .ok_or(PrecompileHalt::Secp256k1RecoverFailed)?;
        let mut out = [0u8; 32];
        out[12..].copy_from_slice(&address);
        Ok(out)
    }
}

impl CryptoProvider for HostCrypto {
    fn recover_signer_unchecked(
        &self,
        sig: &[u8; 65],
        msg: &[u8; 32],
    ) -> Result<Address, RecoveryError> {
        let mut rs = [0u8; 64];
        rs.copy_from_slice(&sig[..64]);
        WasmHost
            .secp256k1_recover(msg, &rs, sig[64])
            .map(Address::from)
            .ok_or_else(RecoveryError::new)
    }

    fn verify_and_compute_signer_unchecked(
        &self,
        pubkey: &[u8; 65],
        sig: &[u8; 64],
        msg: &[u8; 32],
    ) -> Result<Address, RecoveryError> {
        // Not on this module's paths; computed in WebAssembly, as alloy would.
        use k256::ecdsa::signature::hazmat::PrehashVerifier;
        let key =
            k256::ecdsa::VerifyingKey::from_sec1_bytes(pubkey).map_err(|_| RecoveryError::new())?;
        let signature =
            k256::ecdsa::Signature::from_slice(sig).map_err(|_| RecoveryError::new())?;
        key.verify_prehash(msg, &signature)
            .map_err(|_| RecoveryError::new())?;
        Ok(Address::from_public_key(&key))
    }
}

/// Routes secp256k1 recovery to the host for the rest of this instance's life. Every
/// call runs in a fresh instance, so every entry point calls this first.
pub fn install() {
    // Both return `false` when a provider is already installed, which is fine.
    let _ = install_crypto(HostCrypto);
    let _ = install_default_provider(Arc::new(HostCrypto));
}
