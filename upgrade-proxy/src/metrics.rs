//! The router's counters: calls and failures of the rpc slot, every step of the
//! upgrade pipeline, what the gate last measured in each slot, and a running canary's
//! figures ([`canary_gauges`]). Read through the admin API (`molt_metrics`, `molt module
//! metrics`) and `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::watch::Figures;

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
    /// The gate's last measurement in each slot, by slot name.
    gate: Mutex<BTreeMap<&'static str, (String, GateFigures)>>,
}

/// What the gate measured of a candidate next to the active version — whether or not
/// it then refused it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GateFigures {
    /// Which latency the budget judges: `p99` (of the requests an rpc candidate
    /// answered) or `slowest_block` (of the blocks an execution candidate replayed).
    pub measure: &'static str,
    /// That latency, the candidate's.
    pub candidate: Duration,
    /// That latency, the active version's.
    pub active: Duration,
    /// Peak linear memory, the candidate's.
    pub candidate_peak_memory: u64,
    /// Peak linear memory, the active version's.
    pub active_peak_memory: u64,
}

impl Metrics {
    /// Adds one to `counter`.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps what the gate measured of `version` in `slot`, replacing the slot's
    /// previous figures.
    pub fn gate_measured(&self, slot: &'static str, version: &str, figures: GateFigures) {
        let mut gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        gate.insert(slot, (version.to_string(), figures));
    }

    /// The gate's last figures per slot as gauges (`molt_gate_latency_seconds`,
    /// `molt_gate_peak_memory_bytes`, with `role="candidate"` and `role="active"`).
    fn gate_gauges(&self) -> String {
        let gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        if gate.is_empty() {
            return String::new();
        }
        let mut latency = String::from(
            "# HELP molt_gate_latency_seconds The latency the gate last judged in a slot, \
             of the candidate and of the active version.\n\
             # TYPE molt_gate_latency_seconds gauge\n",
        );
        let mut memory = String::from(
            "# HELP molt_gate_peak_memory_bytes Peak linear memory the gate last measured in a \
             slot, of the candidate and of the active version.\n\
             # TYPE molt_gate_peak_memory_bytes gauge\n",
        );
        for (slot, (version, f)) in gate.iter() {
            let version = label_value(version);
            let labels = |role| format!("slot=\"{slot}\",version=\"{version}\",role=\"{role}\"");
            for (role, seconds, bytes) in [
                ("candidate", f.candidate, f.candidate_peak_memory),
                ("active", f.active, f.active_peak_memory),
            ] {
                let _ = writeln!(
                    latency,
                    "molt_gate_latency_seconds{{{},measure=\"{}\"}} {}",
                    labels(role),
                    f.measure,
                    seconds.as_secs_f64()
                );
                let _ = writeln!(
                    memory,
                    "molt_gate_peak_memory_bytes{{{}}} {bytes}",
                    labels(role)
                );
            }
        }
        latency + &memory
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

    /// All counters in Prometheus' text format (`molt_<name>_total`), the gate's last
    /// figures, then `extra` lines.
    pub fn prometheus(&self, extra: &str) -> String {
        let mut out = String::new();
        for (name, help, value) in self.counters() {
            out.push_str(&format!(
                "# HELP molt_{name}_total {help}\n# TYPE molt_{name}_total counter\nmolt_{name}_total {value}\n"
            ));
        }
        out.push_str(&self.gate_gauges());
        out.push_str(extra);
        out
    }
}

/// `value` as a Prometheus label value: quotes, backslashes and line breaks dropped.
pub fn label_value(value: &str) -> String {
    value.replace(['"', '\\', '\n'], "")
}

/// The rpc canary's watch as gauges, while one runs: its share of calls, the calls it
/// answered, and its p99 latency and peak memory next to the active version's over the
/// same window (the figures the watch promotes or rolls back on).
pub fn canary_gauges(version: &str, percent: u8, f: &Figures) -> String {
    let version = label_value(version);
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, series: &[(Option<&str>, f64)]| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (role, value) in series {
            let role = role.map(|r| format!(",role=\"{r}\"")).unwrap_or_default();
            out.push_str(&format!(
                "{name}{{slot=\"rpc\",version=\"{version}\"{role}}} {value}\n"
            ));
        }
    };
    gauge(
        "molt_canary_percent",
        "Share of rpc calls routed to the canary.",
        &[(None, f64::from(percent))],
    );
    gauge(
        "molt_canary_calls",
        "Calls the canary answered.",
        &[(None, f.canary_calls as f64)],
    );
    let mut p99 = vec![(Some("canary"), f.canary_p99.as_secs_f64())];
    p99.extend(f.active_p99.map(|a| (Some("active"), a.as_secs_f64())));
    gauge(
        "molt_canary_p99_seconds",
        "p99 latency over recent calls: the canary's, and the active version's once it \
         answered enough calls to compare.",
        &p99,
    );
    gauge(
        "molt_canary_peak_memory_bytes",
        "Peak linear memory over the watch's window: the canary's and the active version's.",
        &[
            (Some("canary"), f.canary_peak_memory as f64),
            (Some("active"), f.active_peak_memory as f64),
        ],
    );
    out
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
        assert!(
            !text.contains("molt_gate_latency_seconds"),
            "nothing gated yet"
        );
    }

    #[test]
    fn the_gates_last_figures_read_as_gauges() {
        let m = Metrics::default();
        let figures = |ms| GateFigures {
            measure: "p99",
            candidate: Duration::from_millis(ms),
            active: Duration::from_millis(2),
            candidate_peak_memory: 131072,
            active_peak_memory: 65536,
        };
        m.gate_measured("rpc", "1.0.0", figures(5));
        m.gate_measured("rpc", "1.1.0", figures(3));
        let text = m.prometheus("");
        let rpc = "slot=\"rpc\",version=\"1.1.0\"";
        for line in [
            format!(
                "molt_gate_latency_seconds{{{rpc},role=\"candidate\",measure=\"p99\"}} 0.003\n"
            ),
            format!("molt_gate_latency_seconds{{{rpc},role=\"active\",measure=\"p99\"}} 0.002\n"),
            format!("molt_gate_peak_memory_bytes{{{rpc},role=\"candidate\"}} 131072\n"),
            format!("molt_gate_peak_memory_bytes{{{rpc},role=\"active\"}} 65536\n"),
        ] {
            assert!(text.contains(&line), "{line} in {text}");
        }
        assert!(!text.contains("1.0.0"), "only the last figures: {text}");
    }
}
