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

    /// Every counter: name, what it counts, value.
    fn counters(&self) -> [(&'static str, &'static str, u64); 13] {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            (
                "rpc_calls",
                "JSON-RPC bodies answered by the rpc slot",
                g(&self.rpc_calls),
            ),
            (
                "rpc_failures",
                "rpc calls that failed (trap, timeout, budget)",
                g(&self.rpc_failures),
            ),
            (
                "packages_received",
                "packages received by the admin API",
                g(&self.received),
            ),
            (
                "verify_refused",
                "packages the verifier refused",
                g(&self.verify_refused),
            ),
            ("gate_runs", "gate runs", g(&self.gate_runs)),
            (
                "gate_refused",
                "candidates the gate refused",
                g(&self.gate_refused),
            ),
            (
                "activations",
                "rpc versions activated (deploys, promotions, rollbacks)",
                g(&self.activations),
            ),
            ("canaries", "canaries started", g(&self.canaries)),
            (
                "canary_promoted",
                "canaries promoted",
                g(&self.canary_promoted),
            ),
            (
                "canary_rolled_back",
                "canaries rolled back",
                g(&self.canary_rolled_back),
            ),
            ("rollbacks", "manual rollbacks", g(&self.rollbacks)),
            (
                "staged",
                "execution and consensus packages staged",
                g(&self.staged),
            ),
            (
                "scheduled",
                "upgrade announcements sent",
                g(&self.scheduled),
            ),
        ]
    }

    /// All counters, by name.
    pub fn snapshot(&self) -> Value {
        Value::Object(
            self.counters()
                .into_iter()
                .map(|(name, _, v)| (name.to_string(), json!(v)))
                .collect(),
        )
    }

    /// All counters in Prometheus' text format (`molt_<name>_total`), followed by
    /// `extra` lines.
    pub fn prometheus(&self, extra: &str) -> String {
        let mut out = String::new();
        for (name, help, value) in self.counters() {
            out.push_str(&format!(
                "# HELP molt_{name}_total {help}\n# TYPE molt_{name}_total counter\nmolt_{name}_total {value}\n"
            ));
        }
        out.push_str(extra);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_read_as_json_and_as_prometheus_text() {
        let m = Metrics::default();
        Metrics::inc(&m.rpc_calls);
        Metrics::inc(&m.rpc_calls);
        Metrics::inc(&m.gate_refused);
        let json = m.snapshot();
        assert_eq!(json["rpc_calls"], 2);
        assert_eq!(json["gate_refused"], 1);
        assert_eq!(json.as_object().unwrap().len(), 13);
        let text = m.prometheus("molt_chain_head 7\n");
        assert!(text.contains("# TYPE molt_rpc_calls_total counter\nmolt_rpc_calls_total 2\n"));
        assert!(text.contains("molt_scheduled_total 0\n"));
        assert!(text.ends_with("molt_chain_head 7\n"));
    }
}
