//! From EIP-2718 bytes to revm's transaction environment.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, TxKind, keccak256};
use molt_abi::execution::{Rejection, reject};
use revm::context::TxEnv;
use revm::context::either::Either;

/// A decoded, sender-recovered transaction.
pub struct DecodedTx {
    /// Its hash.
    pub hash: B256,
    /// Its EIP-2718 type.
    pub tx_type: u8,
    /// Its sender.
    pub sender: Address,
    /// What revm executes.
    pub env: TxEnv,
}

/// Decodes and recovers `bytes`, or says why it cannot be.
pub fn decode(bytes: &[u8]) -> Result<DecodedTx, Rejection> {
    let reject = |code: &str, message: String| Rejection {
        code: code.into(),
        message,
    };
    let envelope = TxEnvelope::decode_2718_exact(bytes).map_err(|e| {
        reject(
            reject::MALFORMED,
            format!("not a valid EIP-2718 transaction: {e}"),
        )
    })?;
    let sender = envelope.recover_signer().map_err(|e| {
        reject(
            reject::BAD_SIGNATURE,
            format!("cannot recover the sender: {e}"),
        )
    })?;
    let tx_type = envelope.tx_type() as u8;
    let mut env = TxEnv {
        tx_type,
        caller: sender,
        gas_limit: envelope.gas_limit(),
        gas_price: envelope.max_fee_per_gas(),
        kind: envelope.kind(),
        value: envelope.value(),
        data: envelope.input().clone(),
        nonce: envelope.nonce(),
        chain_id: envelope.chain_id(),
        access_list: envelope.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: envelope.max_priority_fee_per_gas(),
        blob_hashes: envelope
            .blob_versioned_hashes()
            .map(<[B256]>::to_vec)
            .unwrap_or_default(),
        max_fee_per_blob_gas: envelope.max_fee_per_blob_gas().unwrap_or_default(),
        ..TxEnv::default()
    };
    if let Some(list) = envelope.authorization_list() {
        env.authorization_list = list.iter().cloned().map(Either::Left).collect();
    }
    if matches!(env.kind, TxKind::Create) && tx_type >= 3 {
        // Blob and set-code transactions cannot create; alloy's decoder already
        // refuses them, this keeps the invariant explicit.
        return Err(reject(
            reject::INVALID,
            "this transaction type cannot create contracts".into(),
        ));
    }
    Ok(DecodedTx {
        hash: keccak256(bytes),
        tx_type,
        sender,
        env,
    })
}
