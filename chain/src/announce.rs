//! Sending an upgrade announcement: the transaction that calls
//! `schedule(digest, height)` on the upgrade contract, signed by an upgrade authority
//! whose key the node holds, then waiting for the block that carries it.

use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_primitives::Address;
use alloy_primitives::{B256, TxKind, U256};
use molt_abi::rpc::CallRequest;

use crate::chain::Chain;
use crate::clock;
use crate::error::ChainError;
use crate::pool::PoolError;
use crate::signer::Signer;
use crate::upgrades::{SCHEDULE_SIGNATURE, UPGRADE_ADDRESS, schedule_calldata};

/// How long to wait for the announcement to be mined.
const MINED_WITHIN: Duration = Duration::from_secs(60);

/// An announcement sent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Announced {
    /// The announcing transaction.
    pub transaction: B256,
    /// The block that carries it (`None` if not mined within a minute).
    pub block: Option<u64>,
    /// The upgrade authority that sent it.
    pub authority: Address,
}

/// Why an announcement was not sent, or did not take.
#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    /// The node holds no upgrade authority's key.
    #[error(
        "this node holds no upgrade authority's key; an authority sends the \
         announcement: cast send {UPGRADE_ADDRESS} '{SCHEDULE_SIGNATURE}' {digest} {height}"
    )]
    NoAuthority {
        /// The module's digest.
        digest: B256,
        /// Its activation height.
        height: u64,
    },
    /// The upgrade contract would revert it.
    #[error("the upgrade contract refuses: {0}")]
    Refused(String),
    /// The pool refused the transaction.
    #[error("the announcement was refused by the pool: {0}")]
    Pool(#[from] PoolError),
    /// It was mined, and reverted.
    #[error(
        "the announcement {transaction} was mined in block {block} but the upgrade \
         contract reverted it (was the height no longer above that block?)"
    )]
    Reverted {
        /// The transaction.
        transaction: B256,
        /// Its block.
        block: u64,
    },
    /// The chain failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// Announces that `digest`'s module runs from `height` on. Refused, with the reason,
/// if none of `accounts` is an upgrade authority or the contract would revert.
pub fn announce(
    chain: &Chain,
    accounts: &[Signer],
    digest: &B256,
    height: u64,
) -> Result<Announced, AnnounceError> {
    let mut authority = None;
    for signer in accounts {
        if chain.is_upgrade_authority(&signer.address())? {
            authority = Some(signer);
            break;
        }
    }
    let Some(authority) = authority else {
        return Err(AnnounceError::NoAuthority {
            digest: *digest,
            height,
        });
    };
    let from = authority.address();
    let data = schedule_calldata(digest, height);
    let now = clock::now();
    // Dry run first: the contract's own words if it refuses.
    let dry = chain.call(
        now,
        &CallRequest {
            from,
            to: UPGRADE_ADDRESS.to_vec().into(),
            data: data.clone(),
            ..CallRequest::default()
        },
    )?;
    if dry.status != 0 {
        return Err(AnnounceError::Refused(
            revert_reason(&dry.output).unwrap_or(dry.message),
        ));
    }
    let base_fee = u128::from(chain.next_env(now).base_fee);
    let tx = TxEip1559 {
        chain_id: chain.config().chain_id,
        nonce: chain.pending_nonce(&from)?,
        gas_limit: dry.gas_used * 2 + 21_000,
        max_fee_per_gas: base_fee * 2 + 1_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(UPGRADE_ADDRESS),
        value: U256::ZERO,
        access_list: Default::default(),
        input: data,
    };
    let hash = chain.submit(authority.sign(tx))?;
    let deadline = Instant::now() + MINED_WITHIN;
    loop {
        let db = chain.db();
        if let Some((block, index)) = db.transaction_location(&hash).map_err(ChainError::from)?
            && block <= chain.head_number()
        {
            let succeeded = db
                .receipts(block)
                .map_err(ChainError::from)?
                .and_then(|r| r.get(index as usize).map(|r| r.status()));
            if succeeded != Some(true) {
                return Err(AnnounceError::Reverted {
                    transaction: hash,
                    block,
                });
            }
            return Ok(Announced {
                transaction: hash,
                block: Some(block),
                authority: from,
            });
        }
        if Instant::now() > deadline {
            return Ok(Announced {
                transaction: hash,
                block: None,
                authority: from,
            });
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
