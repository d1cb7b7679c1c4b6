//! Re-running history. [`Chain::verify_history`] re-executes stored blocks with the modules in
//! force at their heights and checks them against their headers, as an importing node
//! would. [`Chain::replay`] and [`Chain::replay_consensus`] run a candidate module next
//! to the module in force: the gates of consensus-critical upgrades. For execution, both modules execute the
//! last blocks on the state before them (read from the state history) and their outputs
//! must be identical byte for byte; for consensus, both validate the last headers and
//! decide the last sealings, and their verdicts and proposals must be identical.

use std::sync::Arc;
use std::time::{Duration, Instant};

use molt_abi::consensus::{Candidate, Head, ProposeInput};
use molt_abi::execution::{self, BlockEnv};
use molt_storage::state::StateView;

use alloy_consensus::Header;
use alloy_consensus::proofs::calculate_receipt_root;

use molt_runtime::{Consensus, Executor};

use crate::block::{env_of, included};
use crate::chain::Chain;
use crate::error::ChainError;

/// A block's `molt_execute_block` input bytes and the state before it.
pub type ExecutionInput = (Vec<u8>, Arc<dyn StateView>);

/// What the replay measured.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Replay {
    /// Blocks replayed.
    pub blocks: u64,
    /// The first block whose outputs differ, and how.
    pub mismatch: Option<String>,
    /// Time the current module took over all blocks.
    pub active_ms: f64,
    /// Time the candidate took.
    pub candidate_ms: f64,
    /// Slowest block, current module, ms.
    pub active_max_ms: f64,
    /// Slowest block, candidate, ms.
    pub candidate_max_ms: f64,
    /// Peak linear memory of the current module (0 natively).
    pub active_peak_memory: u64,
    /// Peak linear memory of the candidate.
    pub candidate_peak_memory: u64,
}

impl Chain {
    /// Replays the last `blocks` blocks (at most the chain's length) with `candidate`
    /// and with the module active at each height, on the same states.
    pub fn replay(&self, blocks: u64, candidate: &Executor) -> Result<Replay, ChainError> {
        let head = self.head_number();
        let first = head.saturating_sub(blocks.saturating_sub(1)).max(1);
        let mut replay = Replay::default();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        for n in first..=head {
            let Some((input, pre)) = self.execution_input(n)? else {
                break;
            };
            let run = |e: &Executor| -> Result<(Vec<u8>, Duration, u64), ChainError> {
                let t = Instant::now();
                let (out, stats) = e.execute_block_raw(pre.clone(), &input)?;
                Ok((out, t.elapsed(), stats.map_or(0, |s| s.peak_memory)))
            };
            let (active_out, active_t, active_mem) = run(&self.executor_at(n)?)?;
            let (cand_out, cand_t, cand_mem) = run(candidate)?;
            replay.blocks += 1;
            replay.active_ms += ms(active_t);
            replay.candidate_ms += ms(cand_t);
            replay.active_max_ms = replay.active_max_ms.max(ms(active_t));
            replay.candidate_max_ms = replay.candidate_max_ms.max(ms(cand_t));
            replay.active_peak_memory = replay.active_peak_memory.max(active_mem);
            replay.candidate_peak_memory = replay.candidate_peak_memory.max(cand_mem);
            if active_out != cand_out {
                replay.mismatch = Some(format!(
                    "block {n}: the candidate's receipts or state changes differ from the \
                     active module's"
                ));
                break;
            }
        }
        Ok(replay)
    }

    /// The environment block `header` was executed in.
    /// The `molt_execute_block` input of stored block `number` and the state before
    /// it, as a module executing it sees them; `None` past the head.
    pub fn execution_input(&self, number: u64) -> Result<Option<ExecutionInput>, ChainError> {
        let (Some(header), Some(txs)) =
            (self.db().header(number)?, self.db().transactions(number)?)
        else {
            return Ok(None);
        };
        let input = execution::encode(&self.block_input(self.env_of(&header), txs));
        let pre: Arc<dyn StateView> = Arc::new(self.db().state_at(number.saturating_sub(1))?);
        Ok(Some((input, pre)))
    }

    fn env_of(&self, header: &Header) -> BlockEnv {
        env_of(&self.config().spec, self.config().chain_id, header)
    }

    /// Re-executes each of blocks `first..=last` on the stored state before it with
    /// the modules in force at each height — as a node importing them would — and checks
    /// every result against what is stored: the transactions all included, the
    /// receipts root, logs bloom, gas used and state root of each header, and each
    /// seal accepted by the consensus module in force.
    pub fn verify_history(&self, first: u64, last: u64) -> Result<Verification, ChainError> {
        let first = first.max(1);
        let last = last.min(self.head_number());
        let mut report = Verification::default();
        for n in first..=last {
            let missing = || {
                ChainError::Storage(molt_storage::StorageError::Corrupt {
                    key: format!("block {n}"),
                    reason: "missing header or transactions".into(),
                })
            };
            let header = self.db().header(n)?.ok_or_else(missing)?;
            let txs = self.db().transactions(n)?.ok_or_else(missing)?;
            let input = self.block_input(self.env_of(&header), txs);
            let pre = Arc::new(self.db().state_at(n - 1)?);
            let out = self.executor_at(n)?.execute_block(pre, &input)?;
            let (included, _, receipts) = included(&input.txs, &out);
            let bloom = receipts
                .iter()
                .fold(alloy_primitives::Bloom::ZERO, |acc, r| {
                    acc | *r.logs_bloom()
                });
            let verdict = self.validate(n)?;
            let differs = if included.len() != input.txs.len() {
                Some(format!(
                    "{} of its {} transactions are not valid on re-execution",
                    input.txs.len() - included.len(),
                    input.txs.len()
                ))
            } else if calculate_receipt_root(&receipts) != header.receipts_root {
                Some("the receipts differ".into())
            } else if bloom != header.logs_bloom {
                Some("the logs bloom differs".into())
            } else if out.gas_used != header.gas_used {
                Some(format!(
                    "gas used {} differs from the header's {}",
                    out.gas_used, header.gas_used
                ))
            } else if self.db().state_root_after(n - 1, &out.accounts)? != header.state_root {
                Some("the state root differs".into())
            } else if !verdict.valid {
                Some(format!(
                    "the consensus module refuses it: {}",
                    verdict.reason
                ))
            } else {
                None
            };
            if let Some(how) = differs {
                report.mismatch = Some(format!("block {n}: {how}"));
                break;
            }
            report.blocks += 1;
            report.transactions += input.txs.len() as u64;
        }
        Ok(report)
    }
}

/// What [`Chain::verify_history`] found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Verification {
    /// Blocks re-executed and found identical to the stored ones.
    pub blocks: u64,
    /// Their transactions.
    pub transactions: u64,
    /// The first block that differs, and how.
    pub mismatch: Option<String>,
}

/// What the consensus replay found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ConsensusReplay {
    /// Decisions compared (validations and proposals).
    pub decisions: u64,
    /// The first decision that differs.
    pub mismatch: Option<String>,
}

impl Chain {
    /// Validates the last `blocks` headers and re-decides their sealing (instant and
    /// with a 1 s block time) with `candidate` and with the module in force at each.
    pub fn replay_consensus(
        &self,
        blocks: u64,
        candidate: &Consensus,
    ) -> Result<ConsensusReplay, ChainError> {
        let head = self.head_number();
        let first = head.saturating_sub(blocks.saturating_sub(1)).max(1);
        let mut replay = ConsensusReplay::default();
        for n in first..=head {
            let active = self.consensus_at(n)?;
            let (a, c) = (
                self.validate_with(n, &active)?,
                self.validate_with(n, candidate)?,
            );
            replay.decisions += 1;
            if a != c {
                replay.mismatch = Some(format!(
                    "block {n}: validation verdicts differ ({a:?} vs {c:?})"
                ));
                return Ok(replay);
            }
            let (Some(parent), Some(header), Some(txs)) = (
                self.db().header(n - 1)?,
                self.db().header(n)?,
                self.db().transactions(n)?,
            ) else {
                break;
            };
            for block_time in [0, 1] {
                let input = ProposeInput {
                    now: header.timestamp,
                    block_time,
                    head: Head {
                        number: parent.number,
                        timestamp: parent.timestamp,
                        gas_limit: header.gas_limit,
                    },
                    pending: txs
                        .iter()
                        .map(|t| Candidate {
                            hash: alloy_primitives::keccak256(t),
                            gas_limit: 21_000,
                            tip: 0,
                        })
                        .collect(),
                };
                let (a, c) = (active.propose(&input)?, candidate.propose(&input)?);
                replay.decisions += 1;
                if a != c {
                    replay.mismatch = Some(format!(
                        "block {n}: sealing decisions differ ({a:?} vs {c:?})"
                    ));
                    return Ok(replay);
                }
            }
        }
        Ok(replay)
    }
}
