//! The transaction object of `eth_call`, `eth_estimateGas` and `eth_sendTransaction`.
//!
//! Decoded into this small struct rather than alloy's `TransactionRequest`: the
//! derived deserializer of that type (blob sidecars included) needs a stack frame of
//! over half a MiB in WebAssembly, which would make every rpc instance that much
//! bigger. Blob transactions are not accepted here; set-code ones are (an
//! `authorizationList`).

use alloy_eips::eip2930::AccessList;
use alloy_eips::eip7702::SignedAuthorization;
use alloy_primitives::{Address, Bytes, TxKind, U64, U128, U256};
use alloy_rpc_types_eth::{TransactionInput, TransactionRequest};
use serde::Deserialize;

use crate::RpcError;

/// A transaction as JSON-RPC clients send it; every field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallParams {
    from: Option<Address>,
    to: Option<Address>,
    gas: Option<U64>,
    gas_price: Option<U128>,
    max_fee_per_gas: Option<U128>,
    max_priority_fee_per_gas: Option<U128>,
    value: Option<U256>,
    input: Option<Bytes>,
    data: Option<Bytes>,
    nonce: Option<U64>,
    chain_id: Option<U64>,
    access_list: Option<AccessList>,
    authorization_list: Option<Vec<SignedAuthorization>>,
}

impl CallParams {
    /// The same request as alloy's type; `input` and `data` must agree if both given.
    pub fn into_request(self) -> Result<TransactionRequest, RpcError> {
        let input = match (self.input, self.data) {
            (Some(i), Some(d)) if i != d => {
                return Err(RpcError::invalid_params(
                    "both \"data\" and \"input\" are set and not equal",
                ));
            }
            (Some(b), _) | (None, Some(b)) => TransactionInput::new(b),
            (None, None) => TransactionInput::default(),
        };
        Ok(TransactionRequest {
            from: self.from,
            to: self.to.map(TxKind::Call),
            gas: self.gas.map(|g| g.to()),
            gas_price: self.gas_price.map(|g| g.to()),
            max_fee_per_gas: self.max_fee_per_gas.map(|g| g.to()),
            max_priority_fee_per_gas: self.max_priority_fee_per_gas.map(|g| g.to()),
            value: self.value,
            input,
            nonce: self.nonce.map(|n| n.to()),
            chain_id: self.chain_id.map(|c| c.to()),
            access_list: self.access_list,
            authorization_list: self.authorization_list,
            ..TransactionRequest::default()
        })
    }
}
