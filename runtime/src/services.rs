//! What the host does for a guest when it calls one of the `molt` imports, shared by
//! the WebAssembly glue (`runtime::imports`) and the native twins (`native`).

use molt_abi::imports::Level;

/// The node's answer to the `rpc` kind's chain queries (`molt_abi::rpc`): takes a
/// request (operation byte ‖ RLP arguments) and returns the response (status byte ‖
/// payload). Implemented by the node; the WebAssembly glue and the native twin both
/// call it with the same bytes.
pub trait ChainService: Send + Sync {
    /// Answers one request.
    fn query(&self, request: &[u8]) -> Vec<u8>;
}

/// Writes one guest log line into the node log, tagged with the module's name.
pub fn log(module: &str, level: Level, message: &str) {
    match level {
        Level::Error => tracing::error!(target: "molt::guest", module, "{message}"),
        Level::Warn => tracing::warn!(target: "molt::guest", module, "{message}"),
        Level::Info => tracing::info!(target: "molt::guest", module, "{message}"),
        Level::Debug => tracing::debug!(target: "molt::guest", module, "{message}"),
        Level::Trace => tracing::trace!(target: "molt::guest", module, "{message}"),
    }
}

/// Keccak-256 of `data` (the same function as everywhere else in the node:
/// `alloy_primitives::keccak256`).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    alloy_primitives::keccak256(data).0
}

/// The address that signed `msg`, as Ethereum's `ecrecover` computes it: a high `s`
/// is normalised and the recovery id flipped; `None` if nothing recovers.
pub fn secp256k1_recover(msg: &[u8; 32], sig: &[u8; 64], recid: u8) -> Option<[u8; 20]> {
    use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
    let mut signature = Signature::from_slice(sig).ok()?;
    let mut recid = recid;
    if let Some(normalized) = signature.normalize_s() {
        signature = normalized;
        recid ^= 1;
    }
    let recid = RecoveryId::from_byte(recid)?;
    let key = VerifyingKey::recover_from_prehash(msg, &signature, recid).ok()?;
    Some(alloy_primitives::Address::from_public_key(&key).into_array())
}

/// Whether `signature` (64 bytes) is `key`'s (32 bytes) ed25519 signature of `msg`,
/// as ed25519-dalek's `verify` decides (RFC 8032, the node's own seal check).
pub fn ed25519_verify(msg: &[u8], signature: &[u8; 64], key: &[u8; 32]) -> bool {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    VerifyingKey::from_bytes(key)
        .is_ok_and(|k| k.verify(msg, &Signature::from_bytes(signature)).is_ok())
}

/// What a precompile did, as [`precompile`] reports it.
pub mod precompile_status {
    /// It ran: the output is its return data.
    pub const SUCCESS: u8 = 0;
    /// It reverted: the output is its revert data.
    pub const REVERT: u8 = 1;
    /// It failed (out of gas, malformed input): all the gas given is used.
    pub const HALT: u8 = 2;
    /// No precompile at this address in this fork.
    pub const NONE: u8 = 3;
}

/// Runs the precompile at `address` of fork `spec` (a name as in the block
/// environment, `"Prague"`) on `input` with `gas_limit`, as revm runs it:
/// `status ‖ gas used (8 bytes, big-endian) ‖ output` ([`precompile_status`]);
/// `None` if the fork is unknown. Deterministic.
pub fn precompile(spec: &str, address: &[u8; 20], input: &[u8], gas_limit: u64) -> Option<Vec<u8>> {
    use revm::precompile::{PrecompileSpecId, Precompiles};
    use revm::primitives::hardfork::SpecId;
    let spec: SpecId = spec.parse().ok()?;
    let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(spec));
    let answer = |status: u8, gas: u64, output: &[u8]| {
        let mut out = Vec::with_capacity(9 + output.len());
        out.push(status);
        out.extend_from_slice(&gas.to_be_bytes());
        out.extend_from_slice(output);
        out
    };
    let Some(p) = precompiles.get(&alloy_primitives::Address::from(*address)) else {
        return Some(answer(precompile_status::NONE, 0, &[]));
    };
    Some(match p.execute(input, gas_limit, 0) {
        Ok(out) if out.status.is_success() => {
            answer(precompile_status::SUCCESS, out.gas_used, &out.bytes)
        }
        Ok(out) if out.status.is_revert() => {
            answer(precompile_status::REVERT, out.gas_used, &out.bytes)
        }
        Ok(_) | Err(_) => answer(precompile_status::HALT, gas_limit, &[]),
    })
}

#[cfg(test)]
mod tests {
    use super::precompile_status::*;

    fn run(address: u8, input: &[u8], gas: u64) -> (u8, u64, Vec<u8>) {
        let mut a = [0u8; 20];
        a[19] = address;
        let out = super::precompile("Prague", &a, input, gas).expect("a known fork");
        let gas_used = u64::from_be_bytes(out[1..9].try_into().expect("8 bytes"));
        (out[0], gas_used, out[9..].to_vec())
    }

    #[test]
    fn precompiles_run_as_revm_runs_them() {
        // SHA-256 of "abc": 60 + 12 per word.
        let (status, gas, out) = run(2, b"abc", 100);
        assert_eq!((status, gas), (SUCCESS, 72));
        assert_eq!(
            hex::encode(out),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // The identity, and too little gas for it.
        assert_eq!(run(4, b"molt", 100), (SUCCESS, 18, b"molt".to_vec()));
        assert_eq!(run(4, b"molt", 17), (HALT, 17, vec![]));
        // 3^5 mod 7 = 5 (modexp: lengths 1, 1, 1).
        let mut input = vec![0u8; 96];
        input[31] = 1;
        input[63] = 1;
        input[95] = 1;
        input.extend([3, 5, 7]);
        let (status, _, out) = run(5, &input, 1_000);
        assert_eq!((status, out), (SUCCESS, vec![5]));
        // Nothing at 0x…ff; BLS12-381 exists from Prague only.
        assert_eq!(run(0xff, b"", 100).0, NONE);
        let mut g1add = [0u8; 20];
        g1add[19] = 0x0b;
        assert_eq!(
            super::precompile("Cancun", &g1add, b"", 1_000).unwrap()[0],
            NONE
        );
        assert_eq!(super::precompile("no such fork", &g1add, b"", 1_000), None);
    }

    #[test]
    fn keccak_of_empty_input_is_the_known_constant() {
        assert_eq!(
            hex::encode(super::keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }
}
