//! Ethereum blocks from the execution module's output: receipts, roots, header.
//!
//! The module decides what each transaction did; this module turns that into the
//! block every Ethereum tool expects — transactions and receipts roots, logs bloom,
//! state root after the diff, header hash = keccak256(RLP(header)) — ready for
//! [`Db::commit_block`](molt_storage::Db::commit_block) with its [`Finality`].

use std::sync::Arc;
use std::time::Instant;

use alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH;
use alloy_consensus::proofs::calculate_receipt_root;
use alloy_consensus::{Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxType};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::{Address, B256, Bloom, Bytes};
use alloy_rlp::BufMut;
use alloy_trie::EMPTY_ROOT_HASH;
use alloy_trie::root::ordered_trie_root_with_encoder;
use ed25519_dalek::{Signer as _, SigningKey};
use molt_abi::execution::{BlockEnv, BlockInput, BlockOutput, TxOutcome};
use molt_runtime::Executor;
use molt_storage::{Db, SealedBlock, StateUpdate};

use crate::error::ChainError;
use crate::metrics::ChainMetrics;

/// Executes the candidate transactions of `input` on the state in `db` as block
/// `input.env.number`, child of `parent_hash`, and assembles the block from what was
/// included, with its state update (the state root along the changed paths).
/// Rejected candidates are returned with their outcome so the caller (the pool) can
/// drop or keep them; the output's state diff has moved into the update. The
/// execution and state-root times go into `metrics`.
pub fn build_block(
    db: &Db,
    executor: &Executor,
    parent_hash: B256,
    input: &BlockInput,
    metrics: &ChainMetrics,
) -> Result<(SealedBlock, BlockOutput, StateUpdate), ChainError> {
    let env = &input.env;
    let started = Instant::now();
    let mut output = executor.execute_block(Arc::new(db.clone()), input)?;
    ChainMetrics::time(&metrics.execution, started.elapsed());
    let (transactions, senders, receipts) = included(&input.txs, &output);
    // Every included transaction was decoded by the module; check the host agrees.
    for t in &transactions {
        <alloy_consensus::TxEnvelope as alloy_eips::eip2718::Decodable2718>::decode_2718_exact(t)
            .map_err(|e| ChainError::Decode(e.to_string()))?;
    }
    let started = Instant::now();
    let update = db.state_update(
        std::mem::take(&mut output.accounts),
        std::mem::take(&mut output.codes),
    )?;
    ChainMetrics::time(&metrics.state_root, started.elapsed());
    let block = assemble(
        parent_hash,
        env,
        (transactions, senders),
        receipts,
        output.gas_used,
        update.root,
    );
    Ok((block, output, update))
}

/// Whether fork `spec` has EIP-7702 set-code transactions and EIP-7685 requests
/// (Prague on).
pub fn has_set_code(spec: &str) -> bool {
    matches!(spec, "Prague" | "Osaka")
}

/// What a block keeps of an execution: the included transactions (in order), their
/// senders, and their receipts.
pub fn included(
    txs: &[Bytes],
    output: &BlockOutput,
) -> (Vec<Bytes>, Vec<Address>, Vec<ReceiptEnvelope>) {
    let mut transactions = Vec::new();
    let mut senders = Vec::new();
    let mut receipts = Vec::new();
    for (tx, outcome) in txs.iter().zip(&output.outcomes) {
        let TxOutcome::Included(r) = outcome else {
            continue;
        };
        transactions.push(tx.clone());
        senders.push(r.sender);
        let receipt = Receipt {
            status: Eip658Value::Eip658(r.success),
            cumulative_gas_used: r.cumulative_gas_used,
            logs: r.logs.clone(),
        };
        let with_bloom = ReceiptWithBloom::from(receipt);
        receipts.push(
            match TxType::try_from(r.tx_type).unwrap_or(TxType::Legacy) {
                TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
                TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
                TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
                TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
                TxType::Eip7702 => ReceiptEnvelope::Eip7702(with_bloom),
            },
        );
    }
    (transactions, senders, receipts)
}

/// The block with these contents: roots, bloom and header hash computed here.
pub fn assemble(
    parent_hash: B256,
    env: &BlockEnv,
    (transactions, senders): (Vec<Bytes>, Vec<Address>),
    receipts: Vec<ReceiptEnvelope>,
    gas_used: u64,
    state_root: B256,
) -> SealedBlock {
    let logs_bloom = receipts
        .iter()
        .fold(Bloom::ZERO, |acc, r| acc | *r.logs_bloom());
    let header = Header {
        parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: env.coinbase,
        state_root,
        transactions_root: ordered_trie_root_with_encoder(&transactions, |t, buf| buf.put_slice(t)),
        receipts_root: calculate_receipt_root(&receipts),
        logs_bloom,
        difficulty: env.difficulty,
        number: env.number,
        gas_limit: env.gas_limit,
        gas_used,
        timestamp: env.timestamp,
        mix_hash: env.prevrandao,
        base_fee_per_gas: Some(env.base_fee),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(env.excess_blob_gas),
        parent_beacon_block_root: Some(B256::ZERO),
        // No deposits, withdrawals or consolidations on this chain: the hash of no
        // requests.
        requests_hash: has_set_code(&env.spec).then_some(EMPTY_REQUESTS_HASH),
        ..Header::default()
    };
    SealedBlock {
        hash: header.hash_slow(),
        header,
        transactions,
        senders,
        receipts,
    }
}

/// The environment block `header` was executed in, on a chain of fork `spec` and id
/// `chain_id`.
pub fn env_of(spec: &str, chain_id: u64, header: &Header) -> BlockEnv {
    BlockEnv {
        spec: spec.into(),
        chain_id,
        number: header.number,
        timestamp: header.timestamp,
        coinbase: header.beneficiary,
        gas_limit: header.gas_limit,
        base_fee: header.base_fee_per_gas.unwrap_or_default(),
        difficulty: header.difficulty,
        prevrandao: header.mix_hash,
        excess_blob_gas: header.excess_blob_gas.unwrap_or_default(),
    }
}

/// A block this node executed on the current head — its own proposal or one it
/// verified — with the state changes its execution produced, ready to commit.
#[derive(Clone, Debug)]
pub struct Executed {
    pub(crate) block: SealedBlock,
    pub(crate) update: StateUpdate,
    /// Proposed here: the finality evidence is this node's own.
    pub(crate) own: bool,
}

/// The evidence that a block is final, kept with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finality {
    /// The proposer's seal: ed25519 over the block hash, then the public key (96
    /// bytes).
    Seal(Bytes),
    /// A BFT commit certificate, already checked by the consensus engine against the
    /// validator set of the block's height (its encoding is the engine's).
    Certificate(Bytes),
}

/// What a stored commit certificate starts with, to tell it from a 96-byte seal.
const CERTIFICATE_MAGIC: &[u8; 8] = b"molt-cc1";

impl Finality {
    /// `key`'s seal of block `hash`.
    pub fn sealed_by(key: &SigningKey, hash: &B256) -> Self {
        let signature = key.sign(hash.as_slice());
        Finality::Seal(
            [
                signature.to_bytes().as_slice(),
                key.verifying_key().as_bytes(),
            ]
            .concat()
            .into(),
        )
    }

    /// The bytes the database keeps with the block.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Finality::Seal(seal) => seal.to_vec(),
            Finality::Certificate(certificate) => {
                [CERTIFICATE_MAGIC.as_slice(), certificate].concat()
            }
        }
    }

    /// Reads back what [`to_bytes`](Self::to_bytes) stored.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match bytes.strip_prefix(CERTIFICATE_MAGIC.as_slice()) {
            Some(certificate) => Finality::Certificate(Bytes::copy_from_slice(certificate)),
            None => Finality::Seal(Bytes::copy_from_slice(bytes)),
        }
    }
}
