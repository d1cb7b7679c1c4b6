//! molt's types for Malachite: what a height, an address, a value, a vote and a
//! proposal are, and who proposes in a round.
//!
//! A consensus **value** is a block hash ([`BlockId`]): validators vote on hashes, and
//! the block itself travels beside the signed proposal as [`ProposalPart`]s (and as
//! raw bytes in block sync). A hash commits to the header, which commits to the
//! transactions and the post-state, so a vote for the hash is a vote for the block's
//! whole execution.

use std::fmt;

use alloy_primitives::B256;
use borsh::{BorshDeserialize, BorshSerialize};
use malachitebft_core_types::{
    self as core, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};
use sha2::{Digest, Sha256};

/// A block number decided by consensus (block 0, genesis, is never decided).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl core::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's ed25519 public key.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Signature(pub [u8; 64]);

/// A validator's address: the first 20 bytes of SHA-256 of its public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of `key`.
    pub fn of(key: &PublicKey) -> Self {
        let digest = Sha256::digest(key.0);
        let mut address = [0u8; 20];
        address.copy_from_slice(&digest[..20]);
        Address(address)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::Address for Address {}

/// The value consensus decides: the hash of a block.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct BlockId(pub [u8; 32]);

impl BlockId {
    /// The block hash.
    pub fn hash(&self) -> B256 {
        B256::from(self.0)
    }
}

impl From<B256> for BlockId {
    fn from(hash: B256) -> Self {
        BlockId(hash.0)
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.hash())
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

/// A validator: its key and its voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Derived from the key.
    pub address: Address,
    /// The key that signs its votes.
    pub public_key: PublicKey,
    /// Its weight.
    pub voting_power: VotingPower,
}

impl Validator {
    /// A validator with `public_key` and `voting_power`.
    pub fn new(public_key: PublicKey, voting_power: VotingPower) -> Self {
        Validator {
            address: Address::of(&public_key),
            public_key,
            voting_power,
        }
    }
}

impl core::Validator<MoltContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The validators of one height, sorted by address (the proposer order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
}

impl ValidatorSet {
    /// The set of `validators`, without those of no power and without duplicates.
    pub fn new(validators: impl IntoIterator<Item = Validator>) -> Self {
        let mut validators: Vec<_> = validators
            .into_iter()
            .filter(|v| v.voting_power > 0)
            .collect();
        validators.sort_by_key(|v| v.address);
        validators.dedup_by_key(|v| v.address);
        ValidatorSet { validators }
    }

    /// The validators, in proposer order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
}

impl core::ValidatorSet<MoltContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.validators.iter().map(|v| v.voting_power).sum()
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators.iter().find(|v| &v.address == address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// A proposal for a height and round: what the proposer signs.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed block's hash.
    pub value: BlockId,
    /// The round in which the value was locked, or nil.
    pub pol_round: Round,
    /// Who proposes.
    pub proposer: Address,
}

impl core::Proposal<MoltContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// A prevote or a precommit.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockId>,
    /// Who votes.
    pub validator: Address,
    /// A vote extension (molt uses none).
    pub extension: Option<SignedExtension<MoltContext>>,
}

impl Vote {
    fn new(
        vote_type: VoteType,
        height: Height,
        round: Round,
        value: NilOrVal<BlockId>,
        validator: Address,
    ) -> Self {
        Vote {
            vote_type,
            height,
            round,
            value,
            validator,
            extension: None,
        }
    }

    /// The bytes a validator signs: everything but the extension.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let unsigned = (
            self.vote_type,
            self.height,
            self.round,
            self.value,
            self.validator,
        );
        [DOMAIN_VOTE, &borsh::to_vec(&unsigned).unwrap_or_default()].concat()
    }
}

impl Proposal {
    /// The bytes a proposer signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        [DOMAIN_PROPOSAL, &borsh::to_vec(self).unwrap_or_default()].concat()
    }
}

/// Signature domains: a vote's signature can never pass for a proposal's.
const DOMAIN_VOTE: &[u8] = b"molt/vote/1:";
const DOMAIN_PROPOSAL: &[u8] = b"molt/proposal/1:";

impl core::Vote<MoltContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<MoltContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<MoltContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<MoltContext>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// A piece of a proposed block on the wire: who proposes what, then the block's bytes
/// in chunks, then the end.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalPart {
    /// The first part.
    Init {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// The round the value was locked in, or nil.
        pol_round: Round,
        /// Who proposes.
        proposer: Address,
    },
    /// A chunk of the encoded block ([`crate::wire`]).
    Data(Vec<u8>),
    /// The last part.
    Fin,
}

impl core::ProposalPart<MoltContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin)
    }
}

/// ed25519 as Malachite's signing scheme (verified by ed25519-dalek, as molt's module
/// signatures are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ed25519;

/// A key or signature of the wrong length.
#[derive(Debug, thiserror::Error)]
#[error("expected {expected} bytes, found {found}")]
pub struct BadLength {
    expected: usize,
    found: usize,
}

impl core::SigningScheme for Ed25519 {
    type DecodingError = BadLength;
    type Signature = Signature;
    type PublicKey = PublicKey;
    type PrivateKey = ed25519_dalek::SigningKey;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, BadLength> {
        bytes.try_into().map(Signature).map_err(|_| BadLength {
            expected: 64,
            found: bytes.len(),
        })
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, BadLength> {
        bytes.try_into().map(PublicKey).map_err(|_| BadLength {
            expected: 32,
            found: bytes.len(),
        })
    }

    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_vec()
    }
}

/// molt's Malachite context.
#[derive(Clone, Copy, Debug, Default)]
pub struct MoltContext;

impl core::Context for MoltContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Round robin over the set in address order, moving one place per height and
    /// per round.
    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let n = validator_set.validators.len().max(1) as u64;
        let round = u64::from(round.as_u32().unwrap_or(0));
        let index = (height.0.wrapping_add(round) % n) as usize;
        // The engine never starts a height with an empty set.
        &validator_set.validators[index]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote::new(VoteType::Prevote, height, round, value_id, address)
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote::new(VoteType::Precommit, height, round, value_id, address)
    }
}
