//! Sending an upgrade announcement: the transaction that calls
//! `schedule(digest, height)` on the upgrade contract, signed by an upgrade authority
//! whose key the node holds, then waiting for the block that carries it.

use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_primitives::{B256, TxKind, U256};
use molt_abi::rpc::CallRequest;
use serde_json::{Value, json};

use crate::chain::driver::Chain;
use crate::chain::upgrades::{SCHEDULE_SIGNATURE, UPGRADE_ADDRESS, schedule_calldata};
use crate::signer::Signer;

/// How long to wait for the announcement to be mined.
const MINED_WITHIN: Duration = Duration::from_secs(60);

/// Announces that `digest`'s module runs from `height` on. Refused, with the reason,
/// if none of `accounts` is an upgrade authority or the contract would revert.
pub fn announce(
    chain: &Chain,
    accounts: &[Signer],
    digest: &B256,
    height: u64,
) -> Result<Value, String> {
    let mut authority = None;
    for signer in accounts {
        if chain
            .is_upgrade_authority(&signer.address())
            .map_err(|e| e.to_string())?
        {
            authority = Some(signer);
            break;
        }
    }
    let Some(authority) = authority else {
        return Err(format!(
            "this node holds no upgrade authority's key; an authority sends the \
             announcement: cast send {UPGRADE_ADDRESS} '{SCHEDULE_SIGNATURE}' {digest} {height}"
        ));
    };
    let from = authority.address();
    let data = schedule_calldata(digest, height);
    let now = super::clock::now();
    // Dry run first: the contract's own words if it refuses.
    let dry = chain
        .call(
            now,
            &CallRequest {
                from,
                to: UPGRADE_ADDRESS.to_vec().into(),
                data: data.clone(),
                ..CallRequest::default()
            },
        )
        .map_err(|e| e.to_string())?;
    if dry.status != 0 {
        return Err(format!(
            "the upgrade contract refuses: {}",
            revert_reason(&dry.output).unwrap_or(dry.message)
        ));
    }
    let base_fee = u128::from(chain.next_env(now).base_fee);
    let tx = TxEip1559 {
        chain_id: chain.config().chain_id,
        nonce: chain.pending_nonce(&from).map_err(|e| e.to_string())?,
        gas_limit: dry.gas_used * 2 + 21_000,
        max_fee_per_gas: base_fee * 2 + 1_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(UPGRADE_ADDRESS),
        value: U256::ZERO,
        access_list: Default::default(),
        input: data,
    };
    let hash = chain
        .submit(authority.sign(tx))
        .map_err(|e| format!("the announcement was refused by the pool: {e}"))?;
    let deadline = Instant::now() + MINED_WITHIN;
    loop {
        if let Some((block, index)) = chain
            .db()
            .transaction_location(&hash)
            .map_err(|e| e.to_string())?
            && block <= chain.head_number()
        {
            let succeeded = chain
                .db()
                .receipts(block)
                .map_err(|e| e.to_string())?
                .and_then(|r| r.get(index as usize).map(|r| r.status()));
            if succeeded != Some(true) {
                return Err(format!(
                    "the announcement {hash} was mined in block {block} but the upgrade \
                     contract reverted it (was the height no longer above that block?)"
                ));
            }
            return Ok(json!({"transaction": hash, "block": block, "authority": from}));
        }
        if Instant::now() > deadline {
            return Ok(json!({"transaction": hash, "block": null, "authority": from}));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The message of a Solidity `Error(string)` revert.
fn revert_reason(output: &[u8]) -> Option<String> {
    let body = output.strip_prefix(&[0x08, 0xc3, 0x79, 0xa0])?;
    let len = usize::try_from(U256::from_be_slice(body.get(32..64)?)).ok()?;
    let text = body.get(64..64usize.checked_add(len)?)?;
    Some(String::from_utf8_lossy(text).into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_solidity_revert_reason() {
        let out = hex::decode(
            "08c379a0\
             0000000000000000000000000000000000000000000000000000000000000020\
             0000000000000000000000000000000000000000000000000000000000000002\
             6869000000000000000000000000000000000000000000000000000000000000",
        )
        .unwrap();
        assert_eq!(super::revert_reason(&out).as_deref(), Some("hi"));
        assert_eq!(super::revert_reason(&out[..40]), None);
        assert_eq!(super::revert_reason(b"\x01\x02"), None);
    }
}
