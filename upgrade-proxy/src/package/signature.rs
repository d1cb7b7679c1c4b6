//! The `molt.signature` section: who signed the module, and the signature.
//!
//! Payload (RLP): `[scheme: "ed25519", public_key: 32 bytes, signature: 64 bytes]`.
//! The signed message is `SIGNING_CONTEXT || sha256(module without molt.signature)`.

use alloy_rlp::{Decodable, Encodable, Header};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

/// Prefix of every signed message, so a publisher key's module signatures can never
/// be mistaken for signatures over anything else.
pub const SIGNING_CONTEXT: &[u8] = b"molt.module.v1\0";

/// The only signature scheme ABI v1 knows.
pub const SCHEME: &str = "ed25519";

/// A decoded `molt.signature` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureSection {
    /// The signer's public key.
    pub signer: VerifyingKey,
    /// The signature over [`message`].
    pub signature: Signature,
}

/// The message a publisher signs for a module whose digest is `digest`.
pub fn message(digest: &[u8; 32]) -> Vec<u8> {
    [SIGNING_CONTEXT, digest.as_slice()].concat()
}

impl SignatureSection {
    /// Signs `digest` with `key`.
    pub fn sign(key: &SigningKey, digest: &[u8; 32]) -> Self {
        SignatureSection {
            signer: key.verifying_key(),
            signature: key.sign(&message(digest)),
        }
    }

    /// Whether the signature is valid for `digest` under the embedded key.
    pub fn is_valid_for(&self, digest: &[u8; 32]) -> bool {
        self.signer
            .verify_strict(&message(digest), &self.signature)
            .is_ok()
    }

    /// The canonical encoding.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let key = self.signer.to_bytes();
        let sig = self.signature.to_bytes();
        let payload_length = SCHEME.length() + key[..].length() + sig[..].length();
        let mut out = Vec::new();
        Header {
            list: true,
            payload_length,
        }
        .encode(&mut out);
        SCHEME.encode(&mut out);
        key[..].encode(&mut out);
        sig[..].encode(&mut out);
        out
    }

    /// Decodes the canonical encoding; the reason is given on failure.
    pub fn decode_exact(mut bytes: &[u8]) -> Result<Self, String> {
        let header = Header::decode(&mut bytes).map_err(|e| e.to_string())?;
        if !header.list || header.payload_length != bytes.len() {
            return Err("not a single RLP list".into());
        }
        let scheme = String::decode(&mut bytes).map_err(|e| e.to_string())?;
        if scheme != SCHEME {
            return Err(format!("unknown signature scheme {scheme:?}"));
        }
        let key = <[u8; 32]>::decode(&mut bytes).map_err(|e| e.to_string())?;
        let sig = <[u8; 64]>::decode(&mut bytes).map_err(|e| e.to_string())?;
        if !bytes.is_empty() {
            return Err("trailing fields".into());
        }
        let signer = VerifyingKey::from_bytes(&key).map_err(|_| "invalid public key")?;
        Ok(SignatureSection {
            signer,
            signature: Signature::from_bytes(&sig),
        })
    }
}
