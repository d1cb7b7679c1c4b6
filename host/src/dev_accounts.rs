//! The dev node's accounts: the ten keys of the standard test mnemonic, derived the
//! way anvil and Hardhat derive them (BIP-39 seed, BIP-44 path `m/44'/60'/0'/0/i`),
//! so every tool and tutorial that knows those accounts works unchanged.

use alloy_primitives::B256;
use alloy_signer_local::MnemonicBuilder;
use alloy_signer_local::coins_bip39::English;

use molt_chain::signer::{BadKey, Signer};

/// The mnemonic every Ethereum dev tool uses for its dev accounts.
pub const MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How many accounts the dev node funds and unlocks.
pub const COUNT: u32 = 10;

/// Why the dev accounts could not be derived.
#[derive(Debug, thiserror::Error)]
pub enum DevAccountError {
    /// The mnemonic or path was refused by the derivation library.
    #[error("deriving dev account {index}: {reason}")]
    Derive {
        /// Account index.
        index: u32,
        /// What went wrong.
        reason: String,
    },
    /// The derived key is not usable.
    #[error(transparent)]
    Key(#[from] BadKey),
}

/// The secret keys of the first `count` accounts of [`MNEMONIC`].
pub fn secrets(count: u32) -> Result<Vec<B256>, DevAccountError> {
    (0..count)
        .map(|index| {
            let derive = |reason: String| DevAccountError::Derive { index, reason };
            let wallet = MnemonicBuilder::<English>::default()
                .phrase(MNEMONIC)
                .index(index)
                .map_err(|e| derive(e.to_string()))?
                .build()
                .map_err(|e| derive(e.to_string()))?;
            Ok(B256::from_slice(&wallet.credential().to_bytes()))
        })
        .collect()
}

/// Signers for the first `count` accounts of [`MNEMONIC`].
pub fn signers(count: u32) -> Result<Vec<Signer>, DevAccountError> {
    secrets(count)?
        .iter()
        .map(|s| Ok(Signer::from_secret(s)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, address};

    #[test]
    fn derives_the_accounts_every_dev_tool_knows() {
        let accounts: Vec<Address> = signers(COUNT)
            .unwrap()
            .iter()
            .map(|s| s.address())
            .collect();
        assert_eq!(accounts.len(), 10);
        assert_eq!(
            accounts[0],
            address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            accounts[1],
            address!("70997970C51812dc3A010C7d01b50e0d17dc79C8")
        );
        assert_eq!(
            accounts[9],
            address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720")
        );
    }
}
