//! Signing with the node's unlocked dev accounts: `eth_sign`, `personal_sign`,
//! `eth_signTypedData_v4` (and `eth_signTypedData`), `eth_signTransaction`. The keys
//! stay in the node: this module works out the hash to sign — EIP-191's for a
//! message, EIP-712's for typed data, a transaction's signing hash — and asks the node
//! to sign it (`SIGN`), which refuses an account whose key it does not hold.

use alloy_dyn_abi::TypedData;
use alloy_primitives::{Address, B256, Bytes, Signature, eip191_hash_message};
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{ChainQueries, SignRequest};
use serde_json::Value;

use crate::RpcError;
use crate::eth::signed_transaction;
use crate::params::Params;
use crate::request::CallParams;

type Answer = Result<Value, RpcError>;

/// Runs signing method `method`, or `None` if it is not one.
pub fn dispatch(host: &(impl ChainHost + ?Sized), method: &str, p: &Params) -> Option<Answer> {
    Some(match method {
        // geth's order: account, then data.
        "eth_sign" => message(host, p, 0, 1),
        // personal_sign's: data, then account.
        "personal_sign" => message(host, p, 1, 0),
        "eth_signTypedData_v4" | "eth_signTypedData" => typed_data(host, p),
        "eth_signTransaction" => (|| {
            p.at_most(1)?;
            let request = p.required::<CallParams>(0)?.into_request()?;
            Ok(Value::String(
                signed_transaction(host, request)?.to_string(),
            ))
        })(),
        _ => return None,
    })
}

fn message(host: &(impl ChainHost + ?Sized), p: &Params, account: usize, data: usize) -> Answer {
    p.at_most(3)?;
    let address: Address = p.required(account)?;
    let data: Bytes = p.required(data)?;
    signature_value(sign(host, address, eip191_hash_message(&data))?)
}

fn typed_data(host: &(impl ChainHost + ?Sized), p: &Params) -> Answer {
    p.at_most(2)?;
    let address: Address = p.required(0)?;
    // Clients send the typed data as an object or as its JSON in a string.
    let typed: TypedData = match p.required::<Value>(1)? {
        Value::String(json) => serde_json::from_str(&json),
        v => serde_json::from_value(v),
    }
    .map_err(|e| RpcError::invalid_params(format!("typed data: {e}")))?;
    let hash = typed
        .eip712_signing_hash()
        .map_err(|e| RpcError::invalid_params(format!("typed data: {e}")))?;
    signature_value(sign(host, address, hash)?)
}

/// Has the node sign `hash` with `address`'s key.
pub fn sign(
    host: &(impl ChainHost + ?Sized),
    address: Address,
    hash: B256,
) -> Result<Signature, RpcError> {
    let signature = host.sign(&SignRequest { address, hash })?;
    if signature.len() != 65 {
        return Err(RpcError::internal(
            "the node returned a malformed signature",
        ));
    }
    Ok(Signature::from_bytes_and_parity(
        &signature[..64],
        signature[64] != 0,
    ))
}

/// `r ‖ s ‖ v` in hex, `v` 27 or 28, as message signatures carry it.
fn signature_value(signature: Signature) -> Answer {
    Ok(Value::String(
        Bytes::from(signature.as_bytes().to_vec()).to_string(),
    ))
}
