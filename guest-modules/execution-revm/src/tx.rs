//! From EIP-2718 bytes to revm's transaction environment.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Eip2718Error};
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

/// Whether `bytes` is a type-3 transaction in its network form: the RLP list
/// `[tx_payload_body, blobs, commitments, proofs]` (EIP-4844), or with a wrapper
/// version byte and cell proofs (EIP-7594), rather than the bare signed payload.
///
/// Checked before decoding because decoding a sidecar puts each 128 KiB blob on the
/// stack: more than this module's 64 KiB WebAssembly stack, which then overflows into
/// an out-of-bounds access (natively, with a larger stack, it decoded). A block never
/// carries sidecars, so the bytes are refused without being decoded.
fn carries_blob_sidecar(bytes: &[u8]) -> bool {
    let Some((&3, mut rest)) = bytes.split_first() else {
        return false;
    };
    match alloy_rlp::Header::decode(&mut rest) {
        // The bare payload starts with the chain id (a string); the network form with
        // the payload body (a list).
        Ok(outer) if outer.list => rest.first().is_some_and(|b| *b >= 0xc0),
        _ => false,
    }
}

/// The decoder's error as every platform words it. alloy-rlp refuses an RLP length
/// that does not fit a `usize` with "Input too big" before it sees whether the input
/// holds that many bytes: on 32-bit WebAssembly a length of 2^32 or more, which a
/// 64-bit native twin reports as "input too short" for the same bytes. No input holds
/// that many bytes, so both are "input too short" here (found by the differential
/// test).
fn same_everywhere(e: Eip2718Error) -> Eip2718Error {
    match e {
        Eip2718Error::RlpError(alloy_rlp::Error::Custom("Input too big")) => {
            Eip2718Error::RlpError(alloy_rlp::Error::InputTooShort)
        }
        e => e,
    }
}

/// Decodes and recovers `bytes`, or says why it cannot be. With `impersonation` (a
/// dev chain's), a transaction whose signature is the
/// [`impersonation`](molt_abi::execution::impersonation) marker is from the account it
/// names.
pub fn decode(bytes: &[u8], impersonation: bool) -> Result<DecodedTx, Rejection> {
    let reject = |code: &str, message: String| Rejection {
        code: code.into(),
        message,
    };
    if carries_blob_sidecar(bytes) {
        return Err(reject(
            reject::MALFORMED,
            "a blob transaction with its sidecar (the pool's network form); a block carries \
             blob transactions without blobs, commitments and proofs"
                .into(),
        ));
    }
    let envelope = TxEnvelope::decode_2718_exact(bytes).map_err(|e| {
        reject(
            reject::MALFORMED,
            format!("not a valid EIP-2718 transaction: {}", same_everywhere(e)),
        )
    })?;
    let marked = impersonation
        .then(|| molt_abi::execution::impersonation::sender(envelope.signature()))
        .flatten();
    let sender = match marked {
        Some(sender) => sender,
        None => envelope.recover_signer().map_err(|e| {
            reject(
                reject::BAD_SIGNATURE,
                format!("cannot recover the sender: {e}"),
            )
        })?,
    };
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
