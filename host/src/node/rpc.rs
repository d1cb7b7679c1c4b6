//! The `rpc` slot as the HTTP server's handler: each request body is one call of the
//! rpc module version the slot serves at that moment (WebAssembly or the native twin),
//! with the node's chain queries. The call holds its lease on that version to the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use molt_upgrade_proxy::router::Slot;
use molt_upgrade_proxy::watch::{Call, Figures, Rules, Watch};

use super::audit::Audit;
use super::metrics::Metrics;
use super::slots::SlotFiles;
use crate::http::{RpcHandler, error_body};
use crate::native::NativeChainHost;
use molt_runtime::services::ChainService;
use molt_runtime::{CallContext, CallStats, LoadedModule};
use molt_upgrade_proxy::budget::Budget;

/// Which engine answers JSON-RPC.
#[derive(Clone, Debug)]
pub enum RpcEngine {
    /// The signed `rpc` module, in wasmtime.
    Wasm(LoadedModule),
    /// `molt-rpc-eth` linked natively.
    Native,
}

/// The `rpc` slot.
pub type RpcSlot = Slot<RpcEngine>;

/// A canary that answers this many calls without a failure, within the gate's budget
/// of the active version's p99 and memory, becomes the active version; one failed call
/// (trap, timeout, memory) or figures over budget roll it back.
pub const CANARY_PROMOTE_AFTER: u64 = 200;

impl RpcEngine {
    /// Answers one body; for WebAssembly, with the call's figures.
    pub fn call(
        &self,
        chain: &Arc<dyn ChainService>,
        body: &[u8],
    ) -> Result<(Vec<u8>, Option<CallStats>), String> {
        match self {
            RpcEngine::Wasm(module) => module
                .call_with("molt_rpc_handle", body, CallContext::Chain(chain.clone()))
                .map(|(out, stats)| (out, Some(stats)))
                .map_err(|e| e.to_string()),
            RpcEngine::Native => {
                let host = NativeChainHost::new("rpc-eth", chain.as_ref());
                molt_rpc_eth::native::handle(&host, body)
                    .map(|out| (out, None))
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// Requests for the gate, which runs them on a candidate (its answers are discarded):
/// a sample of recent ones — one request in [`Sample::EVERY`] is kept, up to
/// [`Sample::SIZE`] — and, while a gate holds a [`Tap`], a copy of every live one.
/// The gate runs them on a read-only view of the chain, so a request
/// that would change something gets an error there instead.
#[derive(Debug, Default)]
pub struct Sample {
    bodies: std::sync::Mutex<std::collections::VecDeque<Vec<u8>>>,
    seen: AtomicU64,
    tapping: AtomicBool,
    tap: std::sync::Mutex<Option<SyncSender<Vec<u8>>>>,
}

impl Sample {
    /// How many requests are kept.
    pub const SIZE: usize = 64;
    /// One request in this many is considered.
    pub const EVERY: u64 = 16;
    /// Largest body kept.
    const MAX_BODY: usize = 16 << 10;

    /// Considers a live request `body` for the sample and the tap; never waits for the
    /// gate (a full tap drops the copy).
    pub fn offer(&self, body: &[u8]) {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        let keep = n.is_multiple_of(Self::EVERY);
        let tapping = self.tapping.load(Ordering::Relaxed);
        if !(keep || tapping) || body.len() > Self::MAX_BODY {
            return;
        }
        if tapping && let Some(tap) = super::lock(&self.tap).as_ref() {
            // A full tap drops the copy: the live request never waits for the gate.
            let _ = tap.try_send(body.to_vec());
        }
        if keep {
            let mut bodies = super::lock(&self.bodies);
            if bodies.len() == Self::SIZE {
                bodies.pop_front();
            }
            bodies.push_back(body.to_vec());
        }
    }

    /// The kept requests, oldest first.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        super::lock(&self.bodies).iter().cloned().collect()
    }

    /// Copies of live read requests from now until the tap is dropped, at most
    /// `capacity` waiting.
    pub fn tap(&self, capacity: usize) -> Tap<'_> {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        *super::lock(&self.tap) = Some(tx);
        self.tapping.store(true, Ordering::Relaxed);
        Tap { sample: self, rx }
    }
}

/// Copies of live requests, while it lives.
pub struct Tap<'a> {
    sample: &'a Sample,
    rx: Receiver<Vec<u8>>,
}

impl Tap<'_> {
    /// The next live request, if one arrives within `timeout`.
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Option<Vec<u8>> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Drop for Tap<'_> {
    fn drop(&mut self) {
        self.sample.tapping.store(false, Ordering::Relaxed);
        *super::lock(&self.sample.tap) = None;
    }
}

/// The rpc slot with the chain its modules query.
pub struct RpcModule {
    slot: Arc<RpcSlot>,
    chain: Arc<dyn ChainService>,
    files: SlotFiles,
    audit: Audit,
    sample: Arc<Sample>,
    metrics: Arc<Metrics>,
    budget: Budget,
}

/// What serving needs besides the slot and the chain.
pub struct RpcParts {
    /// Where the watch records a promoted canary.
    pub files: SlotFiles,
    /// The audit log.
    pub audit: Audit,
    /// Recent requests, for the gate.
    pub sample: Arc<Sample>,
    /// The router's counters.
    pub metrics: Arc<Metrics>,
    /// The red lines the canary's watch holds it to.
    pub budget: Budget,
}

impl RpcModule {
    /// Serves whatever `slot` holds, answering with `chain`'s data.
    pub fn new(slot: Arc<RpcSlot>, chain: Arc<dyn ChainService>, parts: RpcParts) -> Self {
        RpcModule {
            slot,
            chain,
            files: parts.files,
            audit: parts.audit,
            sample: parts.sample,
            metrics: parts.metrics,
            budget: parts.budget,
        }
    }

    /// The watch's rule: a canary within the gate's budget of the active version.
    fn judge(&self, f: &Figures) -> Result<(), String> {
        self.budget
            .check_memory(f.canary_peak_memory, f.active_peak_memory)?;
        match f.active_p99 {
            Some(active) => self.budget.check_latency("p99", f.canary_p99, active),
            None => Ok(()),
        }
    }
}

impl RpcHandler for RpcModule {
    fn handle(&self, body: &[u8]) -> Vec<u8> {
        self.sample.offer(body);
        let lease = self.slot.lease();
        let started = std::time::Instant::now();
        let result = lease.module.call(&self.chain, body);
        let call = Call {
            ok: result.is_ok(),
            elapsed: started.elapsed(),
            peak_memory: match &result {
                Ok((_, Some(stats))) => stats.peak_memory,
                _ => 0,
            },
        };
        let result = result.map(|(out, _)| out);
        Metrics::inc(&self.metrics.rpc_calls);
        if result.is_err() {
            Metrics::inc(&self.metrics.rpc_failures);
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
                self.files.record_active("rpc", &lease.info);
                Metrics::inc(&self.metrics.canary_promoted);
                Metrics::inc(&self.metrics.activations);
                self.audit.record(serde_json::json!({
                    "action": "canary-promoted", "slot": "rpc",
                    "module": lease.info,
                    "decision": "accepted",
                    "reason": format!("{CANARY_PROMOTE_AFTER} calls without a failure, within budget"),
                    "figures": watch_figures(&figures),
                }));
            }
            Watch::RolledBack(why) => {
                let reason = match &result {
                    Err(e) => format!("a live call failed: {e}"),
                    Ok(_) => why,
                };
                Metrics::inc(&self.metrics.canary_rolled_back);
                tracing::warn!(
                    target: "molt::router",
                    module = %lease.info.name, version = %lease.info.version,
                    "canary rolled back: {reason}"
                );
                self.audit.record(serde_json::json!({
                    "action": "canary-rolled-back", "slot": "rpc",
                    "module": lease.info,
                    "decision": "refused",
                    "reason": reason,
                }));
            }
        }
        result.unwrap_or_else(|e| {
            tracing::warn!("rpc module failed: {e}");
            error_body(-32603, &format!("internal error: {e}"))
        })
    }
}

/// The watch's figures for the audit log.
fn watch_figures(f: &Figures) -> serde_json::Value {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    serde_json::json!({
        "canaryCalls": f.canary_calls,
        "p99Ms": ms(f.canary_p99),
        "activeP99Ms": f.active_p99.map(ms),
        "peakMemory": f.canary_peak_memory,
        "activePeakMemory": f.active_peak_memory,
    })
}
