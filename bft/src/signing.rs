//! A validator's key signing and checking votes, proposals and its network identity.
//!
//! The validator key is its own ed25519 key (`keys/validator.key`), apart from the key
//! that signs modules. Votes and proposals are signed over their
//! [`signing_bytes`](crate::context::Vote::signing_bytes), which carry a domain tag.

use async_trait::async_trait;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use malachitebft_core_types::{SignedMessage, ValidatorProof, VoteExtensionScope};
use malachitebft_signing::{Error, Signer, VerificationResult, Verifier};

use crate::context::{Address, MoltContext, Proposal, PublicKey, Signature, Vote};

/// Signs with a validator's key.
pub struct KeySigner {
    key: SigningKey,
}

impl KeySigner {
    /// A signer with `key`.
    pub fn new(key: SigningKey) -> Self {
        KeySigner { key }
    }

    fn sign(&self, bytes: &[u8]) -> Signature {
        Signature(self.key.sign(bytes).to_bytes())
    }
}

/// The public key of `key`.
pub fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// The validator address of `key`.
pub fn address(key: &SigningKey) -> Address {
    Address::of(&public_key(key))
}

/// Whether `signature` is `key`'s over `bytes` (strict ed25519: no malleable or
/// small-order forms).
pub fn verify(key: &PublicKey, bytes: &[u8], signature: &Signature) -> VerificationResult {
    let valid = VerifyingKey::from_bytes(&key.0)
        .map(|k| {
            k.verify_strict(bytes, &ed25519_dalek::Signature::from_bytes(&signature.0))
                .is_ok()
        })
        .unwrap_or(false);
    VerificationResult::from_bool(valid)
}

#[async_trait]
impl Signer<MoltContext> for KeySigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<MoltContext, Vote>, Error> {
        let signature = self.sign(&vote.signing_bytes());
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<MoltContext, Proposal>, Error> {
        let signature = self.sign(&proposal.signing_bytes());
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<MoltContext>,
        extension: (),
    ) -> Result<SignedMessage<MoltContext, ()>, Error> {
        let signature = self.sign(&extension_bytes(&scope));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<MoltContext>, Error> {
        let signature = self.sign(&ValidatorProof::<MoltContext>::signing_bytes(
            &public_key,
            &peer_id,
        ));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Checks signatures against validators' public keys.
pub struct KeyVerifier;

#[async_trait]
impl Verifier<MoltContext> for KeyVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(verify(public_key, &vote.signing_bytes(), signature))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(verify(public_key, &proposal.signing_bytes(), signature))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<MoltContext>,
        _extension: &(),
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(verify(public_key, &extension_bytes(scope), signature))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<MoltContext>,
    ) -> Result<VerificationResult, Error> {
        let Ok(key) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(verify(&PublicKey(key), &proof.preimage(), &proof.signature))
    }
}

/// What a vote extension's signature covers (molt's extensions are empty).
fn extension_bytes(scope: &VoteExtensionScope<MoltContext>) -> Vec<u8> {
    let fields = (
        scope.height,
        scope.round,
        scope.value_id,
        scope.validator_address,
    );
    [
        b"molt/extension/1:".as_slice(),
        &borsh::to_vec(&fields).unwrap_or_default(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{BlockId, Height};
    use malachitebft_core_types::{Context as _, NilOrVal, Round};

    #[tokio::test]
    async fn a_vote_verifies_only_with_its_signer_and_its_contents() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let signer = KeySigner::new(key.clone());
        let vote = MoltContext.new_precommit(
            Height(3),
            Round::new(0),
            NilOrVal::Val(BlockId([1; 32])),
            address(&key),
        );
        let signed = signer.sign_vote(vote.clone()).await.expect("sign");
        async fn check(v: &Vote, s: &Signature, k: &SigningKey) -> bool {
            KeyVerifier
                .verify_signed_vote(v, s, &public_key(k))
                .await
                .expect("verify")
                .is_valid()
        }
        assert!(check(&vote, &signed.signature, &key).await);
        assert!(
            !check(&vote, &signed.signature, &other).await,
            "another key"
        );
        let nil = Vote {
            value: NilOrVal::Nil,
            ..vote.clone()
        };
        assert!(!check(&nil, &signed.signature, &key).await, "another value");
        // A vote's signature does not pass for a proposal with the same fields.
        let proposal = MoltContext.new_proposal(
            Height(3),
            Round::new(0),
            BlockId([1; 32]),
            Round::Nil,
            address(&key),
        );
        let as_proposal = KeyVerifier
            .verify_signed_proposal(&proposal, &signed.signature, &public_key(&key))
            .await
            .expect("verify");
        assert!(as_proposal.is_invalid());
    }
}
