//! The transaction pool: what users submitted and no block has included yet.
//!
//! Per sender, transactions are kept by nonce. Those whose nonces continue the
//! account's nonce without a gap are *pending* (offered to the next block); the others
//! wait, as in geth and anvil. A transaction with the nonce of one already pooled
//! replaces it only if it raises both the fee cap and the tip by at least
//! [`REPLACEMENT_BUMP_PERCENT`]. Every refusal says why, in geth's words where geth has
//! them, so clients print what users expect.

use std::collections::{BTreeMap, HashMap};

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction as _, TxEnvelope, TxType};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use molt_abi::execution::impersonation;

use molt_storage::state::{StateError, StateView};

/// How much a replacement must raise the fee cap and the tip, in percent (geth's
/// default).
pub const REPLACEMENT_BUMP_PERCENT: u128 = 10;

/// Most transactions the pool holds.
pub const CAPACITY: usize = 10_000;

/// A pooled transaction and what the pool needs to know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolTx {
    /// EIP-2718 encoding.
    pub raw: Bytes,
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender.
    pub sender: Address,
    /// Nonce.
    pub nonce: u64,
    /// Fee cap per gas (the gas price for legacy transactions).
    pub max_fee: u128,
    /// Tip cap per gas (the gas price for legacy transactions).
    pub max_priority_fee: u128,
    /// Gas limit.
    pub gas_limit: u64,
}

/// Why the pool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Not a valid EIP-2718 transaction.
    #[error("invalid transaction: {0}")]
    Malformed(String),
    /// The signature does not recover a sender.
    #[error("invalid sender: {0}")]
    BadSignature(String),
    /// Signed for another chain.
    #[error("invalid chain id: expected {expected}, got {got}")]
    WrongChainId {
        /// This chain.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The nonce was already used.
    #[error("nonce too low: next nonce {next}, tx nonce {got}")]
    NonceTooLow {
        /// The account's next nonce.
        next: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The very same transaction is already pooled.
    #[error("already known")]
    AlreadyKnown,
    /// A replacement that does not pay enough more.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The fee cap is below the current base fee.
    #[error(
        "max fee per gas less than block base fee: maxFeePerGas: {max_fee}, baseFee: {base_fee}"
    )]
    FeeCapTooLow {
        /// The transaction's fee cap.
        max_fee: u128,
        /// The base fee of the next block.
        base_fee: u64,
    },
    /// The tip is above the fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// More gas than a block holds.
    #[error("exceeds block gas limit")]
    GasLimitExceedsBlock,
    /// The sender cannot pay gas and value.
    #[error("insufficient funds for gas * price + value: have {have} want {want}")]
    InsufficientFunds {
        /// Balance.
        have: U256,
        /// Cost.
        want: U256,
    },
    /// A transaction type this chain does not take.
    #[error("transaction type not supported: {0}")]
    TypeNotSupported(&'static str),
    /// A set-code transaction without authorizations.
    #[error("EIP-7702 transaction with empty auth list")]
    EmptyAuthorizationList,
    /// The pool is full.
    #[error("txpool is full")]
    Full,
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The conditions a transaction is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// This chain's id.
    pub chain_id: u64,
    /// Base fee of the next block.
    pub base_fee: u64,
    /// Gas limit of the next block.
    pub block_gas_limit: u64,
    /// Whether the fork has set-code transactions (EIP-7702, Prague on).
    pub set_code: bool,
}

/// The pool.
#[derive(Clone, Debug, Default)]
pub struct Pool {
    by_sender: BTreeMap<Address, BTreeMap<u64, PoolTx>>,
    by_hash: HashMap<B256, (Address, u64)>,
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Checks `raw` and pools it; returns its hash. A transaction signed with the
    /// impersonation marker (`molt_abi::execution::impersonation`) is taken from the
    /// account it names if `impersonating` says that account may be impersonated.
    pub fn add(
        &mut self,
        raw: Bytes,
        state: &dyn StateView,
        rules: Rules,
        impersonating: &dyn Fn(&Address) -> bool,
    ) -> Result<B256, PoolError> {
        let tx =
            TxEnvelope::decode_2718_exact(&raw).map_err(|e| PoolError::Malformed(e.to_string()))?;
        // A marker for an account not impersonated is no signature at all.
        let sender = match impersonation::sender(tx.signature()).filter(|s| impersonating(s)) {
            Some(sender) => sender,
            None => tx
                .recover_signer()
                .map_err(|e| PoolError::BadSignature(e.to_string()))?,
        };
        match tx.tx_type() {
            // A blob transaction needs its sidecar kept, verified (KZG) and served to
            // peers, and the block's blob gas accounted: none of which this node does
            // yet. Refused here, before it is given a hash a client would wait on.
            TxType::Eip4844 => {
                return Err(PoolError::TypeNotSupported(
                    "blob transactions (type 3) are not accepted by this node",
                ));
            }
            TxType::Eip7702 if !rules.set_code => {
                return Err(PoolError::TypeNotSupported(
                    "set-code transactions (type 4) need the Prague fork",
                ));
            }
            TxType::Eip7702 if tx.authorization_list().is_none_or(<[_]>::is_empty) => {
                return Err(PoolError::EmptyAuthorizationList);
            }
            _ => {}
        }
        let hash = keccak256(&raw);
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        if let Some(got) = tx.chain_id().filter(|c| *c != rules.chain_id) {
            return Err(PoolError::WrongChainId {
                expected: rules.chain_id,
                got,
            });
        }
        let max_fee = tx.max_fee_per_gas();
        let max_priority_fee = tx.max_priority_fee_per_gas().unwrap_or(max_fee);
        if max_priority_fee > max_fee {
            return Err(PoolError::TipAboveFeeCap);
        }
        if max_fee < u128::from(rules.base_fee) {
            return Err(PoolError::FeeCapTooLow {
                max_fee,
                base_fee: rules.base_fee,
            });
        }
        if tx.gas_limit() > rules.block_gas_limit {
            return Err(PoolError::GasLimitExceedsBlock);
        }
        let account = state.account(&sender)?;
        let next = account.map(|a| a.nonce).unwrap_or_default();
        if tx.nonce() < next {
            return Err(PoolError::NonceTooLow {
                next,
                got: tx.nonce(),
            });
        }
        let have = account.map(|a| a.balance).unwrap_or_default();
        let want = U256::from(tx.gas_limit()) * U256::from(max_fee) + tx.value();
        if have < want {
            return Err(PoolError::InsufficientFunds { have, want });
        }
        let entry = PoolTx {
            raw,
            hash,
            sender,
            nonce: tx.nonce(),
            max_fee,
            max_priority_fee,
            gas_limit: tx.gas_limit(),
        };
        let replaced = match self
            .by_sender
            .get(&sender)
            .and_then(|m| m.get(&entry.nonce))
        {
            Some(old) if !bumps(old, &entry) => return Err(PoolError::ReplacementUnderpriced),
            Some(old) => Some(old.hash),
            None if self.len() >= CAPACITY => return Err(PoolError::Full),
            None => None,
        };
        if let Some(old) = replaced {
            self.by_hash.remove(&old);
        }
        self.by_hash.insert(hash, (sender, entry.nonce));
        self.by_sender
            .entry(sender)
            .or_default()
            .insert(entry.nonce, entry);
        Ok(hash)
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<&PoolTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce)
    }

    /// The nonce `sender`'s next transaction should carry, counting pending ones
    /// (`eth_getTransactionCount(…, "pending")`).
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(txs) = self.by_sender.get(sender) {
            while txs.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// The transactions the next block can include, in order: for each sender its
    /// gapless run from the account's nonce; senders interleaved by tip, highest first.
    pub fn pending(&self, state: &dyn StateView) -> Result<Vec<PoolTx>, StateError> {
        let mut runs: Vec<std::collections::VecDeque<&PoolTx>> = Vec::new();
        for (sender, txs) in &self.by_sender {
            let mut nonce = state.account(sender)?.map(|a| a.nonce).unwrap_or_default();
            let mut run = std::collections::VecDeque::new();
            while let Some(tx) = txs.get(&nonce) {
                run.push_back(tx);
                nonce += 1;
            }
            if !run.is_empty() {
                runs.push(run);
            }
        }
        let mut out = Vec::new();
        loop {
            let best = runs
                .iter_mut()
                .filter(|r| !r.is_empty())
                .max_by_key(|r| r.front().map(|t| t.max_priority_fee));
            let Some(tx) = best.and_then(|r| r.pop_front()) else {
                break;
            };
            out.push(tx.clone());
        }
        Ok(out)
    }

    /// Every pooled transaction by sender then nonce, split into pending (a gapless
    /// run from the account's nonce) and queued (the rest).
    pub fn content(&self, state: &dyn StateView) -> Result<(Vec<PoolTx>, Vec<PoolTx>), StateError> {
        let (mut pending, mut queued) = (Vec::new(), Vec::new());
        for (sender, txs) in &self.by_sender {
            let mut next = state.account(sender)?.map(|a| a.nonce).unwrap_or_default();
            for (nonce, tx) in txs {
                if *nonce == next {
                    pending.push(tx.clone());
                    next += 1;
                } else {
                    queued.push(tx.clone());
                }
            }
        }
        Ok((pending, queued))
    }

    /// Drops transactions whose nonce the state has passed (included, or replaced on
    /// chain).
    pub fn prune(&mut self, state: &dyn StateView) -> Result<(), StateError> {
        let mut dropped = Vec::new();
        for (sender, txs) in &mut self.by_sender {
            let next = state.account(sender)?.map(|a| a.nonce).unwrap_or_default();
            let keep = txs.split_off(&next);
            dropped.extend(std::mem::replace(txs, keep).into_values().map(|t| t.hash));
        }
        self.by_sender.retain(|_, txs| !txs.is_empty());
        for hash in dropped {
            self.by_hash.remove(&hash);
        }
        Ok(())
    }

    /// Removes one transaction (e.g. one the block refused as invalid).
    pub fn remove(&mut self, hash: &B256) -> Option<PoolTx> {
        let (sender, nonce) = self.by_hash.remove(hash)?;
        let txs = self.by_sender.get_mut(&sender)?;
        let tx = txs.remove(&nonce);
        if txs.is_empty() {
            self.by_sender.remove(&sender);
        }
        tx
    }
}

fn bumps(old: &PoolTx, new: &PoolTx) -> bool {
    let enough = |old: u128, new: u128| new * 100 >= old * (100 + REPLACEMENT_BUMP_PERCENT);
    enough(old.max_fee, new.max_fee) && enough(old.max_priority_fee, new.max_priority_fee)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::Signer;
    use alloy_consensus::{TxEip1559, TxLegacy};
    use alloy_primitives::{TxKind, address};
    use molt_storage::state::MemState;

    const GWEI: u128 = 1_000_000_000;
    const RULES: Rules = Rules {
        chain_id: 31337,
        base_fee: 1_000_000_000,
        block_gas_limit: 30_000_000,
        set_code: true,
    };

    fn signer(i: u32) -> Signer {
        Signer::from_secret(&B256::with_last_byte(i as u8 + 1)).unwrap()
    }

    fn tx(s: &Signer, nonce: u64, max_fee: u128, tip: u128) -> Bytes {
        s.sign(TxEip1559 {
            chain_id: 31337,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(address!("00000000000000000000000000000000000000b0")),
            value: U256::from(1),
            access_list: Default::default(),
            input: Bytes::new(),
        })
    }

    fn state(accounts: &[(&Signer, u64)]) -> MemState {
        let mut s = MemState::new();
        for (signer, nonce) in accounts {
            s.insert_account(
                signer.address(),
                U256::from(10u128.pow(20)),
                *nonce,
                Bytes::new(),
                [],
            );
        }
        s
    }

    #[test]
    fn refuses_with_the_reason_clients_expect() {
        let a = signer(0);
        let st = state(&[(&a, 3)]);
        let mut pool = Pool::new();
        assert!(matches!(
            pool.add(Bytes::from_static(b"\x02\xc1\x00"), &st, RULES, &|_| false),
            Err(PoolError::Malformed(_))
        ));
        assert_eq!(
            pool.add(tx(&a, 2, 2 * GWEI, GWEI), &st, RULES, &|_| false),
            Err(PoolError::NonceTooLow { next: 3, got: 2 })
        );
        assert_eq!(
            pool.add(tx(&a, 3, GWEI / 2, 0), &st, RULES, &|_| false),
            Err(PoolError::FeeCapTooLow {
                max_fee: GWEI / 2,
                base_fee: RULES.base_fee
            })
        );
        assert_eq!(
            pool.add(tx(&a, 3, GWEI, 2 * GWEI), &st, RULES, &|_| false),
            Err(PoolError::TipAboveFeeCap)
        );
        let other_chain = a.sign(TxLegacy {
            chain_id: Some(1),
            nonce: 3,
            gas_price: 2 * GWEI,
            gas_limit: 21_000,
            to: TxKind::Call(a.address()),
            ..Default::default()
        });
        assert_eq!(
            pool.add(other_chain, &st, RULES, &|_| false),
            Err(PoolError::WrongChainId {
                expected: 31337,
                got: 1
            })
        );
        let poor = signer(1);
        assert!(matches!(
            pool.add(tx(&poor, 0, 2 * GWEI, GWEI), &st, RULES, &|_| false),
            Err(PoolError::InsufficientFunds { .. })
        ));
        let ok = tx(&a, 3, 2 * GWEI, GWEI);
        pool.add(ok.clone(), &st, RULES, &|_| false).unwrap();
        assert_eq!(
            pool.add(ok, &st, RULES, &|_| false),
            Err(PoolError::AlreadyKnown)
        );
        assert_eq!(
            pool.add(tx(&a, 3, 2 * GWEI + 1, GWEI + 1), &st, RULES, &|_| false),
            Err(PoolError::ReplacementUnderpriced)
        );
        assert_eq!(pool.len(), 1);
        assert_eq!(
            PoolError::NonceTooLow { next: 3, got: 2 }.to_string(),
            "nonce too low: next nonce 3, tx nonce 2"
        );
    }

    #[test]
    fn a_bumped_replacement_takes_the_slot() {
        let a = signer(0);
        let st = state(&[(&a, 0)]);
        let mut pool = Pool::new();
        let first = pool
            .add(tx(&a, 0, 2 * GWEI, GWEI), &st, RULES, &|_| false)
            .unwrap();
        let second = pool
            .add(tx(&a, 0, 3 * GWEI, 2 * GWEI), &st, RULES, &|_| false)
            .unwrap();
        assert_eq!(pool.len(), 1);
        assert!(pool.get(&first).is_none());
        assert_eq!(pool.pending(&st).unwrap()[0].hash, second);
    }

    #[test]
    fn gaps_wait_and_pending_follows_nonces_and_tips() {
        let (a, b) = (signer(0), signer(1));
        let mut st = state(&[(&a, 0), (&b, 5)]);
        let mut pool = Pool::new();
        for (s, nonce, tip) in [(&a, 1, 3), (&a, 0, 1), (&a, 3, 9), (&b, 5, 2), (&b, 6, 2)] {
            pool.add(tx(s, nonce, 20 * GWEI, tip * GWEI), &st, RULES, &|_| false)
                .unwrap();
        }
        let order: Vec<(Address, u64)> = pool
            .pending(&st)
            .unwrap()
            .iter()
            .map(|t| (t.sender, t.nonce))
            .collect();
        // a:3 waits behind the gap at a:2; b's head (tip 2) beats a's head (tip 1).
        assert_eq!(
            order,
            [
                (b.address(), 5),
                (b.address(), 6),
                (a.address(), 0),
                (a.address(), 1)
            ]
        );
        assert_eq!(pool.pending_nonce(&a.address(), 0), 2);
        // The chain includes a:0 and a:1; pruning drops them and keeps a:3.
        st.insert_account(a.address(), U256::from(10u128.pow(20)), 2, Bytes::new(), []);
        pool.prune(&st).unwrap();
        assert_eq!(pool.len(), 3);
        assert!(
            pool.pending(&st)
                .unwrap()
                .iter()
                .all(|t| t.sender == b.address())
        );
    }
}
