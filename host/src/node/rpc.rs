//! The `rpc` slot as the HTTP server's handler: each request body is one call of the
//! rpc module version the slot serves at that moment (WebAssembly or the native twin),
//! with the node's chain queries. The call holds its lease on that version to the end.

use std::sync::Arc;

use molt_upgrade_proxy::budget::Budget;
use molt_upgrade_proxy::gate::GateRefusal;
use molt_upgrade_proxy::metrics::Metrics;
use molt_upgrade_proxy::pipeline::{Action, Attempt, Entry, Ledger};
use molt_upgrade_proxy::refusal::Refusal;
use molt_upgrade_proxy::registry::SlotFiles;
use molt_upgrade_proxy::router::Slot;
use molt_upgrade_proxy::shadow::Sample;
use molt_upgrade_proxy::watch::{Call, Figures, Rules, Watch};
use serde_json::{Value, json};

use crate::http::{Notifier, Page, RpcHandler, Session, error_body};
use crate::node::health::Health;
use crate::node::pubsub::RpcSession;
use molt_runtime::RpcEngine;
use molt_runtime::services::ChainService;

/// The `rpc` slot.
pub type RpcSlot = Slot<RpcEngine>;

/// A canary that answers this many calls without a failure, within the gate's budget
/// of the active version's p99 and memory, becomes the active version; one failed call
/// (trap, timeout, memory) or figures over budget roll it back.
pub const CANARY_PROMOTE_AFTER: u64 = 200;

/// The rpc slot with the chain its modules query.
pub struct RpcModule {
    slot: Arc<RpcSlot>,
    chain: Arc<dyn ChainService>,
    parts: RpcParts,
}

/// What serving needs besides the slot and the chain.
pub struct RpcParts {
    /// Where the watch records a promoted canary.
    pub files: SlotFiles,
    /// The audit log and the router's counters.
    pub ledger: Ledger,
    /// Recent requests, for the gate.
    pub sample: Arc<Sample>,
    /// The red lines the canary's watch holds it to.
    pub budget: Budget,
    /// On a network node: the chain that takes the transactions peers relay to
    /// [`RELAY_PATH`].
    pub relay: Option<Arc<molt_chain::Chain>>,
    /// The chain's events, for WebSocket subscriptions.
    pub events: Arc<molt_chain::Events>,
    /// What `GET /healthz` and `GET /readyz` answer.
    pub health: Arc<Health>,
}

/// Where a network node's peers POST the transactions their clients submitted: a JSON
/// array of raw transactions (hex). The answer counts those pooled.
pub const RELAY_PATH: &str = "/molt/relay";

impl RpcModule {
    /// Serves whatever `slot` holds, answering with `chain`'s data.
    pub fn new(slot: Arc<RpcSlot>, chain: Arc<dyn ChainService>, parts: RpcParts) -> Self {
        RpcModule { slot, chain, parts }
    }

    /// The watch's rule: a canary within the gate's budget of the active version.
    fn judge(&self, f: &Figures) -> Result<(), GateRefusal> {
        let budget = &self.parts.budget;
        budget.check_memory(f.canary_peak_memory, f.active_peak_memory)?;
        match f.active_p99 {
            Some(active) => budget.check_latency("p99", f.canary_p99, active),
            None => Ok(()),
        }
    }
}

impl RpcHandler for RpcModule {
    fn get(&self, path: &str) -> Option<Page> {
        self.parts.health.probe(path)
    }

    fn post(&self, path: &str, body: &[u8]) -> Vec<u8> {
        match (path, &self.parts.relay) {
            (RELAY_PATH, Some(chain)) => relayed(chain, body),
            _ => self.handle(body),
        }
    }

    fn session(self: Arc<Self>, notifier: Notifier) -> Option<Arc<dyn Session>> {
        let events = self.parts.events.clone();
        Some(Arc::new(RpcSession::new(self, events, notifier)))
    }

    fn handle(&self, body: &[u8]) -> Vec<u8> {
        self.parts.sample.offer(body);
        let lease = self.slot.lease();
        let started = std::time::Instant::now();
        let result = tracing::info_span!(
            target: "molt::router",
            "router",
            slot = "rpc",
            version = %lease.info.version
        )
        .in_scope(|| lease.module.call(&self.chain, body));
        let call = Call {
            ok: result.is_ok(),
            elapsed: started.elapsed(),
            peak_memory: match &result {
                Ok((_, Some(stats))) => stats.peak_memory,
                _ => 0,
            },
        };
        let result = result.map(|(out, _)| out);
        let metrics = self.parts.ledger.metrics();
        Metrics::inc(&metrics.rpc_calls);
        if result.is_err() {
            Metrics::inc(&metrics.rpc_failures);
        }
        let rules = Rules {
            promote_after: CANARY_PROMOTE_AFTER,
            judge: &|f| self.judge(f),
        };
        match self.slot.report(&lease, call, &rules) {
            Watch::Continue => {}
            Watch::Promoted(figures) => {
                tracing::info!(
                    target: "molt::router",
                    module = %lease.info.name, version = %lease.info.version,
                    "canary promoted after {CANARY_PROMOTE_AFTER} calls within budget"
                );
                self.parts.files.record_active("rpc", &lease.info);
                self.parts.ledger.record(Entry {
                    action: Action::CanaryPromoted,
                    slot: "rpc",
                    attempt: &Attempt::default(),
                    outcome: Ok(&Value::Null),
                    extra: json!({
                        "module": lease.info,
                        "reason": format!("{CANARY_PROMOTE_AFTER} calls without a failure, within budget"),
                        "figures": watch_figures(&figures),
                    }),
                });
            }
            Watch::RolledBack(why) => {
                let reason = Refusal::Watch(match &result {
                    Err(e) => format!("a live call failed: {e}"),
                    Ok(_) => why,
                });
                tracing::warn!(
                    target: "molt::router",
                    module = %lease.info.name, version = %lease.info.version,
                    "canary rolled back: {reason}"
                );
                self.parts.ledger.record(Entry {
                    action: Action::CanaryRolledBack,
                    slot: "rpc",
                    attempt: &Attempt::default(),
                    outcome: Err(&reason),
                    extra: json!({ "module": lease.info }),
                });
            }
        }
        result.unwrap_or_else(|e| {
            tracing::warn!("rpc module failed: {e}");
            error_body(-32603, &format!("internal error: {e}"))
        })
    }
}

/// The watch's figures for the audit log.
fn watch_figures(f: &Figures) -> Value {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    json!({
        "canaryCalls": f.canary_calls,
        "p99Ms": ms(f.canary_p99),
        "activeP99Ms": f.active_p99.map(ms),
        "peakMemory": f.canary_peak_memory,
        "activePeakMemory": f.active_peak_memory,
    })
}

/// Pools the transactions a peer relayed; the answer counts those taken (a transaction
/// the pool already holds, or refuses, is not).
fn relayed(chain: &molt_chain::Chain, body: &[u8]) -> Vec<u8> {
    let Ok(txs) = serde_json::from_slice::<Vec<alloy_primitives::Bytes>>(body) else {
        return error_body(-32600, "expected a JSON array of raw transactions");
    };
    let pooled = txs
        .into_iter()
        .filter(|raw| chain.submit_relayed(raw.clone()).is_ok())
        .count();
    json!({ "pooled": pooled }).to_string().into_bytes()
}
