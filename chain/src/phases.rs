//! How a block gets onto the chain: three phases a consensus engine can drive.
//!
//! ```text
//!   pool ─▶ consensus module selects ─▶ propose ──▶ ┐
//!                                                   ├─▶ kept by hash ─▶ commit(hash, finality) ─▶ sled, head
//!   a block from someone else ─────────▶ verify ──▶ ┘      (until the head moves)
//! ```
//!
//! - [`Chain::propose`]: the execution module builds the next block on the committed
//!   head from the transactions the consensus module selected; a transaction the
//!   module itself fails on is dropped from the pool and the block built without it.
//! - [`Chain::verify`]: a block proposed elsewhere must extend the head, keep the
//!   chain's rules (timestamp, gas limit, base fee) and the consensus module's, include every one of its
//!   transactions on re-execution with the module in force at its height, and come out
//!   with the same roots, bloom, gas and hash.
//! - [`Chain::commit`]: writes a proposed or verified block with the evidence that it
//!   is final ([`Finality`]) — today the proposer's ed25519 seal, which the consensus
//!   module judges for a block from elsewhere; next a BFT commit certificate — in one
//!   atomic batch, flushed before anyone can see it.
//!
//! `molt dev`'s instant sealing ([`Chain::tick`], [`Chain::mine`]) is propose → commit
//! with its own seal: its own proposal was executed here, so it needs no second run.

use alloy_consensus::Header;
use alloy_primitives::{B256, Bytes};
use molt_abi::consensus::{Candidate, Head, ProposeInput, ValidateInput, Verdict};
use molt_abi::execution::{TxOutcome, reject};
use molt_runtime::Consensus;
use molt_storage::{SealedBlock, StorageError};

use crate::block::{Executed, Finality, build_block, env_of};
use crate::chain::{Chain, CommitFault};
use crate::error::{ChainError, InvalidBlock};
use crate::events::ChainEvent;
use crate::metrics::ChainMetrics;
use crate::pool::PoolTx;
use crate::upgrades;

impl Chain {
    /// Asks the consensus module whether to seal now (`now` in unix seconds,
    /// `block_time` 0 for a block per transaction) and, if so, proposes the block with
    /// the transactions it selected and commits it with this node's seal.
    pub fn tick(&self, now: u64, block_time: u64) -> Result<Option<SealedBlock>, ChainError> {
        let now = self.dev_now(now);
        let (proposal, selected) = self.select(now, block_time)?;
        if !proposal.seal {
            return Ok(None);
        }
        self.produce(proposal.timestamp, selected).map(Some)
    }

    /// **Propose** on a network: the next block, whenever the consensus engine asks
    /// for one, with the transactions the consensus module selects at `now` and its
    /// timestamp (it may be empty).
    pub fn propose_next(&self, now: u64) -> Result<SealedBlock, ChainError> {
        let (proposal, selected) = self.select(now, 0)?;
        self.propose(proposal.timestamp, selected)
    }

    /// The consensus module's proposal for the next block at `now`, and the pending
    /// transactions it selected, in its order.
    fn select(
        &self,
        now: u64,
        block_time: u64,
    ) -> Result<(molt_abi::consensus::Proposal, Vec<PoolTx>), ChainError> {
        let pending = self.pool.lock().pending(&self.db)?;
        // The header only: the head's transactions and receipts are not needed here.
        let head = self.head.lock().header.clone();
        let proposal = self.consensus_at(head.number + 1)?.propose(&ProposeInput {
            now,
            block_time,
            head: Head {
                number: head.number,
                timestamp: head.timestamp,
                gas_limit: self.config.gas_limit,
            },
            pending: pending
                .iter()
                .map(|t| Candidate {
                    hash: t.hash,
                    gas_limit: t.gas_limit,
                    tip: t.max_priority_fee,
                })
                .collect(),
        })?;
        let selected = proposal
            .selected
            .iter()
            .filter_map(|i| pending.get(usize::try_from(*i).ok()?).cloned())
            .collect();
        Ok((proposal, selected))
    }

    /// Proposes and commits the next block from all the pool's pending transactions
    /// (`evm_mine`). Transactions the block rejects leave the pool.
    pub fn mine(&self, timestamp: u64) -> Result<SealedBlock, ChainError> {
        let pending = self.pool.lock().pending(&self.db)?;
        self.produce(timestamp, pending)
    }

    /// Propose, then commit with this node's seal, under one write lock.
    fn produce(&self, timestamp: u64, pending: Vec<PoolTx>) -> Result<SealedBlock, ChainError> {
        let _write = self.write.lock();
        // `evm_setNextBlockTimestamp` names this block's timestamp, once.
        let timestamp = self
            .controls
            .lock()
            .next_timestamp
            .take()
            .unwrap_or(timestamp);
        let block = self.propose_locked(timestamp, pending)?;
        let seal = self.seal(&block.hash);
        let committed = self.commit_locked(&block.hash, seal)?;
        // `anvil_setNextBlockBaseFeePerGas` named this block's base fee, once.
        self.controls.lock().next_base_fee = None;
        Ok(committed)
    }

    /// This node's seal of block `hash`.
    pub fn seal(&self, hash: &B256) -> Finality {
        Finality::sealed_by(&self.seal_key, hash)
    }

    /// **Propose**: builds the next block on the committed head from `txs` (in order),
    /// at `timestamp` (at least the head's + 1), and keeps it for
    /// [`commit`](Self::commit). Transactions the block finds invalid leave the pool;
    /// those that only did not fit stay for the next block.
    pub fn propose(&self, timestamp: u64, txs: Vec<PoolTx>) -> Result<SealedBlock, ChainError> {
        let _write = self.write.lock();
        self.propose_locked(timestamp, txs)
    }

    fn propose_locked(
        &self,
        timestamp: u64,
        mut pending: Vec<PoolTx>,
    ) -> Result<SealedBlock, ChainError> {
        let env = self.next_env(timestamp);
        let parent = self.head.lock().hash;
        let executor = self.executor_at(env.number)?;
        let build = |txs: &[PoolTx]| {
            let candidates = txs.iter().map(|t| t.raw.clone()).collect();
            build_block(
                &self.db,
                &executor,
                parent,
                &self.block_input(env.clone(), candidates),
                &self.metrics,
            )
        };
        let started = std::time::Instant::now();
        // A transaction on which the module itself fails (a trap, out of fuel) must not
        // stop the chain: find it, drop it from the pool, and build without it.
        let (block, output, update) = loop {
            match build(&pending) {
                Err(ChainError::Exec(e)) if e.is_module_failure() && !pending.is_empty() => {
                    let culprit = first_failing(
                        pending.len(),
                        |n| matches!(build(&pending[..n]), Err(ChainError::Exec(e)) if e.is_module_failure()),
                    );
                    let Some(i) = culprit else {
                        return Err(ChainError::Exec(e));
                    };
                    let tx = pending.remove(i);
                    tracing::warn!(
                        target: "molt::pool",
                        hash = %tx.hash, sender = %tx.sender,
                        "dropped: the execution module fails on this transaction: {e}"
                    );
                    self.pool.lock().remove(&tx.hash);
                }
                other => break other?,
            }
        };
        ChainMetrics::time(&self.metrics.build, started.elapsed());
        {
            let mut pool = self.pool.lock();
            // Drop what the block found invalid; keep what only did not fit this block
            // (out of gas room, or behind such a transaction of the same sender).
            for (tx, outcome) in pending.iter().zip(&output.outcomes) {
                if let TxOutcome::Rejected(r) = outcome
                    && r.code != reject::BLOCK_GAS_EXHAUSTED
                    && r.code != reject::NONCE_TOO_HIGH
                {
                    tracing::warn!(
                        target: "molt::pool",
                        hash = %tx.hash, sender = %tx.sender, code = %r.code,
                        "dropped: {}", r.message
                    );
                    pool.remove(&tx.hash);
                }
            }
        }
        self.executed.lock().insert(
            block.hash,
            Executed {
                block: block.clone(),
                update,
                own: true,
            },
        );
        Ok(block)
    }

    /// **Verify**: checks a block proposed elsewhere against the committed head — it
    /// extends the head, keeps the chain's timestamp, gas limit and base fee, every one
    /// of its transactions is included on re-execution by the module in force at its
    /// height, and the roots, bloom, gas used and hash come out the same — and keeps
    /// the result for [`commit`](Self::commit). Its senders and receipts are this
    /// node's own, from the re-execution.
    pub fn verify(&self, block: &SealedBlock) -> Result<(), ChainError> {
        let _write = self.write.lock();
        let started = std::time::Instant::now();
        let verified = self.verify_locked(block);
        ChainMetrics::time(&self.metrics.verify, started.elapsed());
        verified
    }

    fn verify_locked(&self, block: &SealedBlock) -> Result<(), ChainError> {
        let header = &block.header;
        let hash = header.hash_slow();
        if self.executed.lock().contains_key(&hash) {
            return Ok(());
        }
        let (parent, parent_hash) = self.head_header();
        let invalid = |reason| ChainError::Invalid {
            number: header.number,
            reason,
        };
        if header.parent_hash != parent_hash || header.number != parent.number + 1 {
            return Err(invalid(InvalidBlock::NotOnHead {
                parent: header.parent_hash,
                head: parent_hash,
            }));
        }
        if header.timestamp <= parent.timestamp {
            return Err(invalid(InvalidBlock::Timestamp {
                timestamp: header.timestamp,
                parent: parent.timestamp,
            }));
        }
        if header.gas_limit != self.config.gas_limit {
            return Err(invalid(InvalidBlock::GasLimit {
                found: header.gas_limit,
                expected: self.config.gas_limit,
            }));
        }
        let base_fee = self.base_fee_after(&parent);
        if header.base_fee_per_gas != Some(base_fee) {
            return Err(invalid(InvalidBlock::BaseFee {
                found: header.base_fee_per_gas,
                expected: base_fee,
            }));
        }
        // The consensus module's rules for the header; its finality evidence is
        // judged at commit (a seal) or by the consensus engine (a certificate).
        let verdict = self.consensus_at(header.number)?.validate(&ValidateInput {
            parent: alloy_rlp::encode(&parent).into(),
            header: alloy_rlp::encode(header).into(),
            seal: Bytes::new(),
            authorities: Vec::new(),
        })?;
        if !verdict.valid {
            return Err(invalid(InvalidBlock::Rules(verdict.reason)));
        }
        let (rebuilt, output, update) = build_block(
            &self.db,
            &self.executor_at(header.number)?,
            parent_hash,
            &self.block_input(
                env_of(&self.config.spec, self.config.chain_id, header),
                block.transactions.clone(),
            ),
            &self.metrics,
        )?;
        if let Some((index, reason)) =
            output
                .outcomes
                .iter()
                .enumerate()
                .find_map(|(i, outcome)| match outcome {
                    TxOutcome::Rejected(r) => Some((i, r.message.clone())),
                    TxOutcome::Included(_) => None,
                })
        {
            return Err(invalid(InvalidBlock::Rejected { index, reason }));
        }
        let ours = &rebuilt.header;
        let differs = [
            ("state root", ours.state_root != header.state_root),
            (
                "transactions root",
                ours.transactions_root != header.transactions_root,
            ),
            ("receipts root", ours.receipts_root != header.receipts_root),
            ("logs bloom", ours.logs_bloom != header.logs_bloom),
            ("gas used", ours.gas_used != header.gas_used),
            ("header", rebuilt.hash != hash),
        ]
        .into_iter()
        .find_map(|(what, differs)| differs.then_some(what));
        if let Some(what) = differs {
            return Err(invalid(InvalidBlock::Differs { what }));
        }
        self.executed.lock().insert(
            hash,
            Executed {
                block: rebuilt,
                update,
                own: false,
            },
        );
        Ok(())
    }

    /// **Commit**: writes block `hash` — proposed or verified here on the current head —
    /// with `finality`, atomically (state, header, evidence, transactions, senders,
    /// receipts, indexes, its change sets) and flushed before the head moves to it. The
    /// consensus module in force judges the evidence of a block from elsewhere. Then
    /// the announcements it carries are scheduled and the pool forgets what it
    /// included.
    pub fn commit(&self, hash: &B256, finality: Finality) -> Result<SealedBlock, ChainError> {
        let _write = self.write.lock();
        self.commit_locked(hash, finality)
    }

    fn commit_locked(&self, hash: &B256, finality: Finality) -> Result<SealedBlock, ChainError> {
        let started = std::time::Instant::now();
        let executed = self
            .executed
            .lock()
            .remove(hash)
            .ok_or(ChainError::NotExecuted(*hash))?;
        let block = executed.block;
        let number = block.header.number;
        let (head, head_hash) = self.head_header();
        if block.header.parent_hash != head_hash {
            return Err(ChainError::Invalid {
                number,
                reason: InvalidBlock::NotOnHead {
                    parent: block.header.parent_hash,
                    head: head_hash,
                },
            });
        }
        if let (false, Finality::Seal(seal)) = (executed.own, &finality) {
            let verdict =
                self.judge_seal(&self.consensus_at(number)?, &head, &block.header, seal)?;
            if !verdict.valid {
                return Err(ChainError::Invalid {
                    number,
                    reason: InvalidBlock::Seal(verdict.reason),
                });
            }
        }
        let fault = self.commit_fault.lock().filter(|f| match f {
            CommitFault::Fail { height } | CommitFault::Abort { height } => *height == number,
        });
        if let Some(CommitFault::Fail { .. }) = fault {
            *self.commit_fault.lock() = None;
            // Kept, so that the next attempt commits it.
            self.executed
                .lock()
                .insert(*hash, Executed { block, ..executed });
            return Err(ChainError::Injected(format!(
                "the write of block {number} failed"
            )));
        }
        self.db
            .commit_block(&block, &finality.to_bytes(), &executed.update)?;
        if let Some(CommitFault::Abort { .. }) = fault {
            tracing::error!(target: "molt::chain", "chaos: aborting in the commit of block {number}");
            std::process::abort();
        }
        // Durable before anyone hears of it: readers see blocks up to the head only.
        self.db.flush()?;
        for a in upgrades::announcements(&block) {
            self.schedule.announce(a, true);
        }
        self.pool.lock().prune(&self.db)?;
        *self.head.lock() = block.clone();
        self.executed.lock().clear();
        self.events().emit(ChainEvent::Block {
            number,
            hash: block.hash,
        });
        ChainMetrics::time(&self.metrics.commit, started.elapsed());
        self.metrics.blocks.inc();
        self.metrics
            .block_txs
            .observe(block.transactions.len() as f64);
        Ok(block)
    }

    /// Whether stored block `number` is a valid child of its parent, sealed by this
    /// node's key, according to the consensus module in force at its height. A block
    /// finalised by a commit certificate has no seal for the module to judge: the
    /// consensus engine checked its certificate before it was committed.
    pub fn validate(&self, number: u64) -> Result<Verdict, ChainError> {
        self.validate_with(number, &self.consensus_at(number)?)
    }

    /// [`validate`](Self::validate) with a given consensus module.
    pub fn validate_with(&self, number: u64, consensus: &Consensus) -> Result<Verdict, ChainError> {
        match self.validate_input(number)? {
            Some(input) => Ok(consensus.validate(&input)?),
            None => Ok(Verdict {
                valid: true,
                reason: String::new(),
            }),
        }
    }

    /// The `molt_consensus_validate` input for stored block `number`: its parent, its
    /// header, its seal, and this node's key as the one authority. `None` for a block
    /// finalised by a commit certificate, which has no seal for a module to judge.
    pub fn validate_input(&self, number: u64) -> Result<Option<ValidateInput>, ChainError> {
        let missing = || {
            ChainError::Storage(StorageError::Corrupt {
                key: format!("block {number}"),
                reason: "missing header or seal".into(),
            })
        };
        let parent = self
            .db
            .header(number.checked_sub(1).ok_or_else(missing)?)?
            .ok_or_else(missing)?;
        let header = self.db.header(number)?.ok_or_else(missing)?;
        let seal = self.db.seal(number)?.ok_or_else(missing)?;
        Ok(match Finality::from_bytes(&seal) {
            Finality::Seal(seal) => Some(self.seal_input(&parent, &header, seal)),
            Finality::Certificate(_) => None,
        })
    }

    /// The consensus module's verdict on `header` (a child of `parent`) with `seal`.
    fn judge_seal(
        &self,
        consensus: &Consensus,
        parent: &Header,
        header: &Header,
        seal: &Bytes,
    ) -> Result<Verdict, ChainError> {
        Ok(consensus.validate(&self.seal_input(parent, header, seal.clone()))?)
    }

    /// What a consensus module judges of a sealed header; the node's key is the one
    /// authority.
    fn seal_input(&self, parent: &Header, header: &Header, seal: Bytes) -> ValidateInput {
        ValidateInput {
            parent: alloy_rlp::encode(parent).into(),
            header: alloy_rlp::encode(header).into(),
            seal,
            authorities: vec![Bytes::copy_from_slice(
                self.seal_key.verifying_key().as_bytes(),
            )],
        }
    }
}

/// The index of the transaction to blame when a block of `len` transactions fails:
/// the last one of the shortest failing prefix, where `fails(n)` says whether the block
/// of the first `n` fails (`fails(len)` must hold). `None` if the empty block fails
/// too, or if that prefix does not fail a second time: then no transaction is to blame.
/// A failure that comes and goes (a host hiccup, chaos at a rate below 1) can make an
/// innocent prefix fail once; a transaction the module fails on fails every time.
fn first_failing(len: usize, mut fails: impl FnMut(usize) -> bool) -> Option<usize> {
    if fails(0) {
        return None;
    }
    let (mut ok, mut bad) = (0, len);
    while bad - ok > 1 {
        let mid = ok + (bad - ok) / 2;
        if fails(mid) {
            bad = mid;
        } else {
            ok = mid;
        }
    }
    fails(bad).then(|| bad - 1)
}

#[cfg(test)]
mod tests {
    use super::first_failing;

    #[test]
    fn finds_the_transaction_whose_prefix_first_fails() {
        // Prefixes of 4 or more fail: transaction 3 is to blame.
        for len in 4..10 {
            assert_eq!(first_failing(len, |n| n >= 4), Some(3), "{len}");
        }
        assert_eq!(first_failing(1, |n| n >= 1), Some(0));
        // The empty block fails too: no transaction is to blame.
        assert_eq!(first_failing(5, |_| true), None);
    }

    #[test]
    fn blames_no_transaction_for_a_failure_that_does_not_come_back() {
        // Only the first build of prefix 2 fails (a transient fault): bisecting 5
        // transactions tries prefixes 0, 2 and 1, so before the second look at prefix 2
        // transaction 1 would have been blamed.
        let mut seen = Vec::new();
        let blamed = first_failing(5, |n| {
            seen.push(n);
            n == 2 && seen.iter().filter(|&&m| m == 2).count() == 1
        });
        assert_eq!(blamed, None);
        assert_eq!(seen, [0, 2, 1, 2]);
    }
}
