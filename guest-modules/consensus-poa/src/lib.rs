//! # molt-consensus-poa — the `consensus` guest
//!
//! Proof of authority for a dev chain: it decides when the node seals a block and
//! which pending transactions it offers ([`propose`]), and checks that a header is a
//! valid child of its parent sealed by an authority ([`validate`]). On a validator
//! network it keeps the genesis validators at every height ([`validators`]) and
//! judges headers alone (the BFT engine checks commit certificates). Deterministic: it
//! has no clock (the host passes the time in) and keeps no state. It owns these rules
//! only; the host executes, stores and signs.
//!
//! Payloads: [`molt_abi::consensus`], specified in `ABI.md` §9.

use alloy_consensus::Header;
use alloy_eips::eip1559::BaseFeeParams;
use alloy_rlp::Decodable;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use molt_abi::GuestError;
use molt_abi::consensus::{
    Proposal, ProposeInput, ValidateInput, Validators, ValidatorsInput, Verdict,
};
use molt_abi::execution::{decode, encode};
use molt_abi::imports::Host;

/// `molt_consensus_propose`: seal now? with which transactions?
///
/// With `block_time` 0 a block is sealed as soon as something is pending; otherwise
/// once `block_time` seconds have passed since the head, even if empty. Transactions
/// are taken in the pool's order while they fit the gas limit; the first that does
/// not fit ends the selection, so no sender's nonce sequence gets a hole.
pub fn propose<H: Host + ?Sized>(_host: &H, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    let input: ProposeInput =
        decode(input).map_err(|e| GuestError::new(format!("malformed proposal input: {e}")))?;
    let head = input.head;
    let timestamp = input.now.max(head.timestamp + 1);
    let due = match input.block_time {
        0 => !input.pending.is_empty(),
        t => input.now >= head.timestamp.saturating_add(t),
    };
    let mut selected = Vec::new();
    if due {
        let mut gas: u64 = 0;
        for (i, c) in input.pending.iter().enumerate() {
            match gas.checked_add(c.gas_limit) {
                Some(total) if total <= head.gas_limit => {
                    gas = total;
                    selected.push(i as u64);
                }
                _ => break,
            }
        }
    }
    Ok(encode(&Proposal {
        seal: due,
        timestamp,
        selected,
    }))
}

/// `molt_consensus_validate`: is the header a valid, sealed child of its parent?
pub fn validate<H: Host + ?Sized>(_host: &H, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    let input: ValidateInput =
        decode(input).map_err(|e| GuestError::new(format!("malformed validation input: {e}")))?;
    let verdict = match check(&input) {
        Ok(()) => Verdict {
            valid: true,
            reason: String::new(),
        },
        Err(reason) => Verdict {
            valid: false,
            reason,
        },
    };
    Ok(encode(&verdict))
}

fn check(input: &ValidateInput) -> Result<(), String> {
    let header_of = |bytes: &[u8], what: &str| {
        Header::decode(&mut &bytes[..]).map_err(|e| format!("{what} header does not decode: {e}"))
    };
    let parent = header_of(&input.parent, "parent")?;
    let header = header_of(&input.header, "block")?;
    if header.number != parent.number + 1 {
        return Err(format!(
            "number {} does not follow parent {}",
            header.number, parent.number
        ));
    }
    if header.parent_hash != parent.hash_slow() {
        return Err("parent hash does not match the parent".into());
    }
    if header.timestamp <= parent.timestamp {
        return Err(format!(
            "timestamp {} is not after the parent's {}",
            header.timestamp, parent.timestamp
        ));
    }
    if header.gas_used > header.gas_limit {
        return Err(format!(
            "gas used {} exceeds the limit {}",
            header.gas_used, header.gas_limit
        ));
    }
    if header.gas_limit != parent.gas_limit {
        return Err(format!(
            "gas limit {} differs from the parent's {}",
            header.gas_limit, parent.gas_limit
        ));
    }
    let expected_fee = parent.next_block_base_fee(BaseFeeParams::ethereum());
    if header.base_fee_per_gas != expected_fee {
        return Err(format!(
            "base fee {:?}, expected {:?}",
            header.base_fee_per_gas, expected_fee
        ));
    }
    // No authorities: a BFT engine's certificate makes the block final, not a seal.
    if input.authorities.is_empty() && input.seal.is_empty() {
        return Ok(());
    }
    let seal = input.seal.as_ref();
    if seal.len() != 96 {
        return Err(format!("seal is {} bytes, expected 96", seal.len()));
    }
    let (signature, signer) = seal.split_at(64);
    if !input.authorities.iter().any(|a| a.as_ref() == signer) {
        return Err("sealed by a key that is not an authority".into());
    }
    let key = VerifyingKey::try_from(signer).map_err(|_| "seal key is not a valid ed25519 key")?;
    let signature = Signature::from_slice(signature).map_err(|_| "seal signature is malformed")?;
    key.verify(header.hash_slow().as_slice(), &signature)
        .map_err(|_| "seal does not match the header".to_string())
}

/// `molt_consensus_validators`: the genesis validators, at every height.
pub fn validators<H: Host + ?Sized>(_host: &H, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    let input: ValidatorsInput =
        decode(input).map_err(|e| GuestError::new(format!("malformed validators input: {e}")))?;
    Ok(encode(&Validators {
        validators: input.genesis,
    }))
}

#[cfg(target_arch = "wasm32")]
fn wasm_validators(host: &molt_abi::guest::WasmHost, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    validators(host, input)
}

#[cfg(target_arch = "wasm32")]
fn wasm_propose(host: &molt_abi::guest::WasmHost, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    propose(host, input)
}

#[cfg(target_arch = "wasm32")]
fn wasm_validate(host: &molt_abi::guest::WasmHost, input: &[u8]) -> Result<Vec<u8>, GuestError> {
    validate(host, input)
}

molt_abi::export_consensus!(wasm_propose, wasm_validate, wasm_validators);

/// Entry points for the native twin, taking the host as a trait object (compiled and
/// optimised here rather than in the caller).
pub mod native {
    use molt_abi::GuestError;
    use molt_abi::imports::Host;

    /// [`propose`](crate::propose) on a `dyn Host`.
    pub fn propose(host: &dyn Host, input: &[u8]) -> Result<Vec<u8>, GuestError> {
        crate::propose(host, input)
    }

    /// [`validate`](crate::validate) on a `dyn Host`.
    pub fn validate(host: &dyn Host, input: &[u8]) -> Result<Vec<u8>, GuestError> {
        crate::validate(host, input)
    }

    /// [`validators`](crate::validators) on a `dyn Host`.
    pub fn validators(host: &dyn Host, input: &[u8]) -> Result<Vec<u8>, GuestError> {
        crate::validators(host, input)
    }
}
