//! Payloads of the `consensus` kind (`ABI.md` §9), as RLP structures.

use alloc::string::String;
use alloc::vec::Vec;
use alloy_primitives::{B256, Bytes};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// Input of `molt_consensus_propose`: should the node seal a block now, and with
/// which of the pending transactions?
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ProposeInput {
    /// The host's clock, unix seconds (the module has no clock of its own).
    pub now: u64,
    /// Seconds between blocks; 0 seals as soon as there is a transaction.
    pub block_time: u64,
    /// The head block.
    pub head: Head,
    /// Pending transactions in the pool's order (nonces already respected).
    pub pending: Vec<Candidate>,
}

/// What a proposer needs to know of the head block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Head {
    /// Block number.
    pub number: u64,
    /// Timestamp, unix seconds.
    pub timestamp: u64,
    /// Gas limit of the next block.
    pub gas_limit: u64,
}

/// A pending transaction, as the proposer sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Candidate {
    /// Transaction hash.
    pub hash: B256,
    /// Its gas limit.
    pub gas_limit: u64,
    /// Its tip cap per gas.
    pub tip: u128,
}

/// Output of `molt_consensus_propose`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Proposal {
    /// Whether to seal a block now.
    pub seal: bool,
    /// The block's timestamp.
    pub timestamp: u64,
    /// Indexes into `pending` of the transactions to offer the block, in order.
    pub selected: Vec<u64>,
}

/// Input of `molt_consensus_validate`: is `header` a valid child of `parent`, sealed
/// by one of `authorities`? With no authorities (and an empty seal) the block's
/// finality is a BFT engine's commit certificate, checked by the host: the module
/// judges the header alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ValidateInput {
    /// The parent's header, RLP.
    pub parent: Bytes,
    /// The header to check, RLP.
    pub header: Bytes,
    /// The seal: ed25519 signature (64) over the header hash, then the signer's public
    /// key (32).
    pub seal: Bytes,
    /// Public keys (32 bytes each) allowed to seal.
    pub authorities: Vec<Bytes>,
}

/// Output of `molt_consensus_validate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Verdict {
    /// Whether the header is valid.
    pub valid: bool,
    /// Why not; empty when valid.
    pub reason: String,
}

/// Input of `molt_consensus_validators` (optional export): the validators of block
/// `height`, decided on the chain as committed up to `height - 1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ValidatorsInput {
    /// The height the set is for (at least 1).
    pub height: u64,
    /// The validators the network's genesis names.
    pub genesis: Vec<ValidatorEntry>,
}

/// A validator: its ed25519 public key and its voting power.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ValidatorEntry {
    /// ed25519 public key, 32 bytes.
    pub public_key: Bytes,
    /// Voting power; 0 leaves the validator out.
    pub power: u64,
}

/// Output of `molt_consensus_validators`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Validators {
    /// The set; it must hold at least one validator with power.
    pub validators: Vec<ValidatorEntry>,
}
