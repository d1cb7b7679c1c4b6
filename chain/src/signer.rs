//! Ethereum transaction signing with a local secp256k1 key: the dev accounts' keys,
//! benches and tests. Uses `alloy-consensus` for the transactions and `k256` for the
//! signatures.

use alloy_consensus::{SignableTransaction, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, Signature};
use k256::ecdsa::SigningKey;

/// A secp256k1 key that signs transactions.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    address: Address,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// The key is not a valid secp256k1 secret key.
#[derive(Debug, thiserror::Error)]
#[error("not a valid secp256k1 secret key")]
pub struct BadKey;

impl Signer {
    /// A signer for a 32-byte secret key.
    pub fn from_secret(secret: &B256) -> Result<Self, BadKey> {
        let key = SigningKey::from_slice(secret.as_slice()).map_err(|_| BadKey)?;
        let address = Address::from_public_key(key.verifying_key());
        Ok(Signer { key, address })
    }

    /// The account this key controls.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte hash: `r ‖ s ‖ y_parity` (65 bytes).
    pub fn sign_hash(&self, hash: &B256) -> [u8; 65] {
        // Signing a 32-byte prehash with a valid key cannot fail.
        let (sig, recid) = self
            .key
            .sign_prehash_recoverable(hash.as_slice())
            .expect("prehash signing");
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = u8::from(recid.is_y_odd());
        out
    }

    /// Signs `tx` and returns its EIP-2718 encoding.
    pub fn sign<T>(&self, tx: T) -> Bytes
    where
        T: SignableTransaction<Signature>,
        TxEnvelope: From<alloy_consensus::Signed<T>>,
    {
        let sig = self.sign_hash(&tx.signature_hash());
        let signature = Signature::from_bytes_and_parity(&sig[..64], sig[64] != 0);
        TxEnvelope::from(tx.into_signed(signature))
            .encoded_2718()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anvils_first_dev_key_controls_its_known_address() {
        let secret: B256 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
            .parse()
            .unwrap();
        let signer = Signer::from_secret(&secret).unwrap();
        assert_eq!(
            signer.address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .unwrap()
        );
        assert!(Signer::from_secret(&B256::ZERO).is_err());
    }
}

#[cfg(test)]
/// The runtime's `secp256k1_recover` agrees with alloy on a transaction signed here.
mod recovery_tests {
    #[test]
    fn recovers_the_signer_of_a_real_transaction() {
        use alloy_consensus::transaction::SignerRecoverable;
        use alloy_eips::eip2718::Decodable2718;
        let secret = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let signer = super::Signer::from_secret(&secret.parse().unwrap()).unwrap();
        let raw = signer.sign(alloy_consensus::TxLegacy {
            chain_id: Some(1),
            gas_limit: 21_000,
            ..Default::default()
        });
        let tx = alloy_consensus::TxEnvelope::decode_2718_exact(&raw).unwrap();
        let sig = tx.signature();
        let mut rs = [0u8; 64];
        rs[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
        rs[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
        let got =
            molt_runtime::services::secp256k1_recover(&tx.signature_hash().0, &rs, sig.v() as u8);
        assert_eq!(got, Some(signer.address().into_array()));
        assert_eq!(tx.recover_signer().unwrap(), signer.address());
        assert_eq!(
            molt_runtime::services::secp256k1_recover(&[0; 32], &[0; 64], 0),
            None
        );
        assert_eq!(
            molt_runtime::services::secp256k1_recover(&tx.signature_hash().0, &rs, 9),
            None
        );
    }
}
