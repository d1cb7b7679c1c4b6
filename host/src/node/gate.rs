//! The gate: a candidate runs real work next to the active version before it takes
//! traffic, and is refused — with the figures — if it traps, differs where outputs must
//! be identical, or is over its [`Budget`].
//!
//! - `rpc`: shadow copies of live read requests while the gate runs (answers
//!   discarded), the recorded [`Sample`] when traffic is idle, and a fixed set;
//! - `execution`: the last [`REPLAY_BLOCKS`] blocks replayed from storage, outputs
//!   (receipts, state changes) identical;
//! - `consensus`: the same blocks' validation verdicts and sealing decisions, identical.

use std::sync::Arc;
use std::time::{Duration, Instant};

use molt_abi::rpc;
use molt_chain::Chain;
use molt_runtime::services::ChainService;
use molt_runtime::{Consensus, EngineError, Executor, RpcEngine};
use molt_upgrade_proxy::budget::Budget;
use molt_upgrade_proxy::gate::GateRefusal;
use molt_upgrade_proxy::metrics::GateFigures;
use molt_upgrade_proxy::shadow::Sample;
use serde_json::{Value, json};

/// How many recent blocks the execution and consensus gates replay.
pub const REPLAY_BLOCKS: u64 = 16;

/// Requests every rpc candidate answers, besides live and recorded ones.
const FIXED: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion"}"#,
    r#"{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}"#,
    r#"{"jsonrpc":"2.0","id":3,"method":"eth_blockNumber"}"#,
    r#"{"jsonrpc":"2.0","id":4,"method":"eth_getBlockByNumber","params":["latest",true]}"#,
    r#"[{"jsonrpc":"2.0","id":5,"method":"eth_gasPrice"},{"jsonrpc":"2.0","id":6,"method":"eth_syncing"}]"#,
];

/// How long the rpc gate shadows live traffic, and how many requests it takes at most;
/// no request within `IDLE_AFTER` means traffic is idle.
const SHADOW_WINDOW: Duration = Duration::from_millis(250);
const IDLE_AFTER: Duration = Duration::from_millis(50);
const SHADOW_MAX: usize = 64;
/// Fewer shadowed requests than this: traffic is idle, the recorded sample is added.
const SHADOW_ENOUGH: usize = 16;

/// The budget as the gate's figures show it.
fn budget_figures(budget: &Budget) -> Value {
    json!({
        "memoryRatio": budget.memory_ratio,
        "p99SlackMs": budget.p99_slack.as_secs_f64() * 1e3,
        "p99Ratio": budget.p99_ratio,
    })
}

/// Runs an rpc candidate next to the active version on shadowed live requests (or the
/// recorded sample when idle) and the fixed set, both on a read-only view of `chain`
/// ([`ShadowChain`]): nothing either answers changes the chain.
///
/// A request the candidate fails on refuses it, named; one the active version fails
/// on is no reason to: it is left out of the comparison (counted as `activeFailed`, and
/// as `candidateAnswered` where the candidate handles it). Once both versions have
/// answered every request, `measured` gets the figures the budget then judges.
pub fn rpc(
    chain: &Arc<dyn ChainService>,
    sample: &Sample,
    active: &RpcEngine,
    candidate: &RpcEngine,
    budget: &Budget,
    measured: &dyn Fn(GateFigures),
) -> Result<Value, GateRefusal> {
    let chain: Arc<dyn ChainService> = Arc::new(ShadowChain(chain.clone()));
    let chain = &chain;
    let mut active_run = Run::default();
    let mut candidate_run = Run::default();
    let (mut active_failed, mut candidate_answered) = (0u64, 0u64);
    let mut both = |request: &[u8]| -> Result<(), GateRefusal> {
        let active_ok = active_run.call(chain, active, request).is_ok();
        let answered = candidate_run.call(chain, candidate, request);
        if !active_ok {
            active_failed += 1;
            candidate_answered += u64::from(answered.is_ok());
            return Ok(());
        }
        answered.map_err(|e| GateRefusal::Failed {
            request: describe(request),
            error: e.to_string(),
        })
    };
    for request in FIXED {
        both(request.as_bytes())?;
    }
    // Shadow live traffic as it arrives.
    let mut shadowed = 0;
    {
        let tap = sample.tap(SHADOW_MAX);
        let started = Instant::now();
        while shadowed < SHADOW_MAX {
            let window = if shadowed == 0 {
                IDLE_AFTER
            } else {
                SHADOW_WINDOW
            };
            let Some(left) = (started + window).checked_duration_since(Instant::now()) else {
                break;
            };
            let Some(request) = tap.recv_timeout(left) else {
                break;
            };
            both(&request)?;
            shadowed += 1;
        }
    }
    let mut recorded = 0;
    if shadowed < SHADOW_ENOUGH {
        for request in sample.bodies() {
            both(&request)?;
            recorded += 1;
        }
    }
    let (active_p99, p99) = (active_run.p99(), candidate_run.p99());
    measured(GateFigures {
        measure: "p99",
        candidate: p99,
        active: active_p99,
        candidate_peak_memory: candidate_run.peak,
        active_peak_memory: active_run.peak,
    });
    budget.check_memory(candidate_run.peak, active_run.peak)?;
    budget.check_latency("p99", p99, active_p99)?;
    Ok(json!({
        "requests": active_run.times.len(),
        "shadowed": shadowed, "recorded": recorded, "fixed": FIXED.len(),
        "activeFailed": active_failed, "candidateAnswered": candidate_answered,
        "peakMemory": candidate_run.peak, "activePeakMemory": active_run.peak,
        "p99Ms": p99.as_secs_f64() * 1e3, "activeP99Ms": active_p99.as_secs_f64() * 1e3,
        "budget": budget_figures(budget),
    }))
}

/// A request as a refusal names it: its method and id (each, for a batch).
fn describe(request: &[u8]) -> String {
    let one = |v: &Value| {
        format!(
            "{} (id {})",
            v.get("method").and_then(Value::as_str).unwrap_or("?"),
            v.get("id").unwrap_or(&Value::Null)
        )
    };
    match serde_json::from_slice::<Value>(request) {
        Ok(Value::Array(calls)) => {
            let names: Vec<String> = calls.iter().map(one).collect();
            format!("the batch [{}]", names.join(", "))
        }
        Ok(v) => one(&v),
        Err(_) => format!("a request of {} bytes that is not JSON", request.len()),
    }
}

/// The chain as a shadow run sees it: every read, no change. Operations that change
/// anything or use the node's keys — and any this node does not know — answer "not
/// allowed in a shadow run", decided by the operation byte ([`rpc::op::is_read`]).
pub struct ShadowChain(pub Arc<dyn ChainService>);

impl ChainService for ShadowChain {
    fn query(&self, request: &[u8]) -> Vec<u8> {
        match request.first() {
            Some(op) if rpc::op::is_read(*op) => self.0.query(request),
            _ => rpc::err("not allowed in a shadow run"),
        }
    }
}

/// Latencies and peak memory of one version over the gate's requests.
#[derive(Default)]
struct Run {
    times: Vec<Duration>,
    peak: u64,
}

impl Run {
    fn call(
        &mut self,
        chain: &Arc<dyn ChainService>,
        engine: &RpcEngine,
        request: &[u8],
    ) -> Result<(), EngineError> {
        let started = Instant::now();
        let (_, stats) = engine.call(chain, request)?;
        self.times.push(started.elapsed());
        self.peak = self.peak.max(stats.map_or(0, |s| s.peak_memory));
        Ok(())
    }

    /// The 99th percentile, nearest rank.
    fn p99(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        let rank = (t.len() * 99).div_ceil(100);
        t.get(rank.saturating_sub(1)).copied().unwrap_or_default()
    }
}

/// Replays recent blocks with an execution candidate: identical outputs, memory and
/// slowest block within budget. `measured` gets the figures the budget judges.
pub fn execution(
    chain: &Chain,
    candidate: &Executor,
    budget: &Budget,
    measured: &dyn Fn(GateFigures),
) -> Result<Value, GateRefusal> {
    let replay = chain
        .replay(REPLAY_BLOCKS, candidate)
        .map_err(|e| GateRefusal::Replay(e.to_string()))?;
    if let Some(m) = &replay.mismatch {
        return Err(GateRefusal::Differs(m.clone()));
    }
    let ms = |v: f64| Duration::from_secs_f64(v / 1e3);
    let figures = GateFigures {
        measure: "slowest_block",
        candidate: ms(replay.candidate_max_ms),
        active: ms(replay.active_max_ms),
        candidate_peak_memory: replay.candidate_peak_memory,
        active_peak_memory: replay.active_peak_memory,
    };
    measured(figures);
    budget.check_memory(figures.candidate_peak_memory, figures.active_peak_memory)?;
    budget.check_latency("slowest block", figures.candidate, figures.active)?;
    let mut figures = json!(replay);
    figures["budget"] = budget_figures(budget);
    Ok(figures)
}

/// Replays recent blocks' consensus decisions with a candidate: identical verdicts and
/// proposals.
pub fn consensus(chain: &Chain, candidate: &Consensus) -> Result<Value, GateRefusal> {
    let replay = chain
        .replay_consensus(REPLAY_BLOCKS, candidate)
        .map_err(|e| GateRefusal::Replay(e.to_string()))?;
    if let Some(m) = &replay.mismatch {
        return Err(GateRefusal::Differs(m.clone()));
    }
    Ok(json!(replay))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn refusals_name_the_request() {
        assert_eq!(
            describe(br#"{"jsonrpc":"2.0","id":7,"method":"eth_call"}"#),
            "eth_call (id 7)"
        );
        assert_eq!(
            describe(br#"[{"id":"a","method":"x"},{"method":"y"}]"#),
            r#"the batch [x (id "a"), y (id null)]"#
        );
        assert_eq!(describe(b"\xff"), "a request of 1 bytes that is not JSON");
    }

    #[test]
    fn p99_is_the_nearest_rank() {
        let run = Run {
            times: (1..=200).map(|i| i * MS).collect(),
            peak: 0,
        };
        assert_eq!(run.p99(), 198 * MS);
        assert_eq!(Run::default().p99(), Duration::ZERO);
    }
}
