//! The router's counters: calls and failures of the rpc slot, and every step of the
//! upgrade pipeline. Read through the admin API (`molt_metrics`, `molt module metrics`).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// Counters, updated without locks.
#[derive(Debug, Default)]
pub struct Metrics {
    /// JSON-RPC bodies answered by the rpc slot.
    pub rpc_calls: AtomicU64,
    /// Bodies whose call failed (trap, timeout, budget).
    pub rpc_failures: AtomicU64,
    /// Packages received by the admin API (deploy, stage or schedule).
    pub received: AtomicU64,
    /// Packages the verifier refused.
    pub verify_refused: AtomicU64,
    /// Gate runs.
    pub gate_runs: AtomicU64,
    /// Candidates the gate refused.
    pub gate_refused: AtomicU64,
    /// rpc versions activated (deploys, promotions, rollbacks).
    pub activations: AtomicU64,
    /// Canaries started.
    pub canaries: AtomicU64,
    /// Canaries promoted by the watch or the operator.
    pub canary_promoted: AtomicU64,
    /// Canaries rolled back by the watch or the operator.
    pub canary_rolled_back: AtomicU64,
    /// Manual rollbacks.
    pub rollbacks: AtomicU64,
    /// Execution and consensus packages staged (verified, gated, kept).
    pub staged: AtomicU64,
    /// Upgrade announcements sent (a staged version scheduled at a height).
    pub scheduled: AtomicU64,
}

impl Metrics {
    /// Adds one to `counter`.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// All counters, by name.
    pub fn snapshot(&self) -> Value {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "rpc_calls": g(&self.rpc_calls),
            "rpc_failures": g(&self.rpc_failures),
            "packages_received": g(&self.received),
            "verify_refused": g(&self.verify_refused),
            "gate_runs": g(&self.gate_runs),
            "gate_refused": g(&self.gate_refused),
            "activations": g(&self.activations),
            "canaries": g(&self.canaries),
            "canary_promoted": g(&self.canary_promoted),
            "canary_rolled_back": g(&self.canary_rolled_back),
            "rollbacks": g(&self.rollbacks),
            "staged": g(&self.staged),
            "scheduled": g(&self.scheduled),
        })
    }
}
