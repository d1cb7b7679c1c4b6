//! Why the chain could not do what it was asked: one enum for the crate, and the ways
//! a block from elsewhere can be invalid.

use alloy_primitives::B256;
use molt_runtime::EngineError;
use molt_storage::StorageError;
use molt_storage::state::StateError;

use crate::upgrades::Missing;

/// Why a block could not be built, verified or committed, or a query answered.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The execution or consensus module failed.
    #[error(transparent)]
    Exec(#[from] EngineError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// An upgrade in force at this height names a module this node cannot run.
    #[error(transparent)]
    Missing(#[from] Missing),
    /// The module included a transaction the host cannot decode.
    #[error("included transaction does not decode: {0}")]
    Decode(String),
    /// A block from elsewhere breaks a rule or differs from its re-execution.
    #[error("block {number} is invalid: {reason}")]
    Invalid {
        /// Its number.
        number: u64,
        /// What is wrong with it.
        reason: InvalidBlock,
    },
    /// Commit of a block that was neither proposed nor verified on the current head.
    #[error("block {0} was neither proposed nor verified on the current head")]
    NotExecuted(B256),
    /// `evm_setNextBlockTimestamp` with a timestamp the next block cannot have.
    #[error("timestamp {timestamp} is not above the latest block's ({head})")]
    NextTimestamp {
        /// The timestamp asked for.
        timestamp: u64,
        /// The head's timestamp.
        head: u64,
    },
    /// Genesis has no transactions to trace (geth's words).
    #[error("genesis is not traceable")]
    Genesis,
    /// No block with this number is on the chain.
    #[error("block {0} not found")]
    NoSuchBlock(u64),
    /// A fault injected by `--chaos.commit` (never in production).
    #[error("injected fault: {0}")]
    Injected(String),
    /// The block has fewer transactions.
    #[error("block {block} has no transaction {index}")]
    NoSuchTx {
        /// The block.
        block: u64,
        /// The index asked for.
        index: u64,
    },
    /// Impersonation asked of a chain that takes no impersonated transactions.
    #[error("this chain does not take impersonated transactions")]
    NoImpersonation,
    /// A dev control this node does not know.
    #[error("unknown dev control {0}")]
    UnknownDevControl(u8),
}

/// What is wrong with a block proposed elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBlock {
    /// It does not extend the committed head.
    #[error("its parent {parent} is not the head {head}")]
    NotOnHead {
        /// Its parent hash.
        parent: B256,
        /// The head's hash.
        head: B256,
    },
    /// Its timestamp is not after its parent's.
    #[error("timestamp {timestamp} is not after the parent's {parent}")]
    Timestamp {
        /// Its timestamp.
        timestamp: u64,
        /// The parent's.
        parent: u64,
    },
    /// Its gas limit is not the chain's.
    #[error("gas limit {found} is not the chain's {expected}")]
    GasLimit {
        /// Its gas limit.
        found: u64,
        /// The chain's.
        expected: u64,
    },
    /// Its base fee is not the one its parent sets.
    #[error("base fee {found:?} is not the {expected} its parent sets")]
    BaseFee {
        /// Its base fee.
        found: Option<u64>,
        /// The one the parent sets.
        expected: u64,
    },
    /// One of its transactions is not valid on re-execution.
    #[error("transaction {index} is not valid here: {reason}")]
    Rejected {
        /// Its index in the block.
        index: usize,
        /// Why the execution module rejects it.
        reason: String,
    },
    /// Re-executed, it comes out different.
    #[error("its {what} differs from its re-execution")]
    Differs {
        /// What differs first: state root, transactions root, receipts root, logs
        /// bloom, gas used, header.
        what: &'static str,
    },
    /// The consensus module refuses its header.
    #[error("the consensus module refuses its header: {0}")]
    Rules(String),
    /// The consensus module refuses its finality evidence.
    #[error("the consensus module refuses its seal: {0}")]
    Seal(String),
}
