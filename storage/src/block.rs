//! The block as the database stores it.

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::{Address, B256, Bytes};

/// A block with its hash, transactions and receipts: what
/// [`Db::commit_block`](crate::Db::commit_block) writes and the chain builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedBlock {
    /// The header.
    pub header: Header,
    /// keccak256 of the RLP header.
    pub hash: B256,
    /// Included transactions, EIP-2718 encoded, in order.
    pub transactions: Vec<Bytes>,
    /// The sender of each transaction, as the execution module recovered it.
    pub senders: Vec<Address>,
    /// One receipt per included transaction.
    pub receipts: Vec<ReceiptEnvelope>,
}
