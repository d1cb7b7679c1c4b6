//! What each module version's calls cost, for Prometheus: calls, failures by kind,
//! latency and instantiation histograms, fuel, peak linear memory — labelled by slot
//! (the module's kind), module name and version.
//!
//! The [`Runtime`](crate::Runtime) owns one [`ModuleMetrics`]; every
//! [`LoadedModule`](crate::LoadedModule) it loads records each call into it.
//! Native twins run outside the runtime and are not counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::CallError;
use crate::module::CallStats;

/// Which module version a figure belongs to.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModuleLabels {
    /// The slot: the module's kind (`rpc`, `execution`, `consensus`).
    pub slot: String,
    /// The manifest's name.
    pub module: String,
    /// The manifest's version.
    pub version: String,
}

/// A failed call's module version and the kind of failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    slot: String,
    module: String,
    version: String,
    kind: &'static str,
}

type Histograms = Family<ModuleLabels, Histogram, fn() -> Histogram>;

/// Seconds, 50 µs to ~13 s.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.00005, 2.0, 19))
}

/// Fuel units, 1 000 to 10^12.
fn fuel() -> Histogram {
    Histogram::new(exponential_buckets(1e3, 10.0, 10))
}

/// The figures of every module version the runtime has called.
pub struct ModuleMetrics {
    registry: Registry,
    calls: Family<ModuleLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    latency: Histograms,
    instantiation: Histograms,
    fuel: Histograms,
    peak_memory: Family<ModuleLabels, Gauge<u64, AtomicU64>>,
}

impl std::fmt::Debug for ModuleMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleMetrics").finish_non_exhaustive()
    }
}

impl Default for ModuleMetrics {
    fn default() -> Self {
        let calls = Family::default();
        let failures = Family::default();
        let latency = Histograms::new_with_constructor(seconds);
        let instantiation = Histograms::new_with_constructor(seconds);
        let fuel_used = Histograms::new_with_constructor(fuel);
        let peak_memory = Family::default();
        let mut registry = Registry::with_prefix("molt_module");
        registry.register("calls", "Guest calls", calls.clone());
        registry.register(
            "failures",
            "Failed guest calls, by kind: trap, out_of_fuel, timeout, memory_budget, refused, host",
            failures.clone(),
        );
        registry.register(
            "call_seconds",
            "Wall time of a guest call, instantiation included",
            latency.clone(),
        );
        registry.register(
            "instantiation_seconds",
            "Time to instantiate the module for a call",
            instantiation.clone(),
        );
        registry.register(
            "fuel",
            "Fuel a call used (deterministic kinds)",
            fuel_used.clone(),
        );
        registry.register(
            "peak_memory_bytes",
            "Largest linear memory any call of the version had",
            peak_memory.clone(),
        );
        ModuleMetrics {
            registry,
            calls,
            failures,
            latency,
            instantiation,
            fuel: fuel_used,
            peak_memory,
        }
    }
}

impl ModuleMetrics {
    /// A new, empty set, shared.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Records one call: its outcome, and how long instantiating took if it got that
    /// far.
    pub(crate) fn record(
        &self,
        labels: &ModuleLabels,
        outcome: Result<&CallStats, &CallError>,
        instantiation: Option<Duration>,
        elapsed: Duration,
    ) {
        self.calls.get_or_create(labels).inc();
        self.latency
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
        if let Some(i) = instantiation {
            self.instantiation
                .get_or_create(labels)
                .observe(i.as_secs_f64());
        }
        match outcome {
            Ok(stats) => {
                if stats.fuel_used > 0 {
                    self.fuel
                        .get_or_create(labels)
                        .observe(stats.fuel_used as f64);
                }
                self.peak_memory
                    .get_or_create(labels)
                    .inner()
                    .fetch_max(stats.peak_memory, Ordering::Relaxed);
            }
            Err(e) => {
                self.failures
                    .get_or_create(&FailureLabels {
                        slot: labels.slot.clone(),
                        module: labels.module.clone(),
                        version: labels.version.clone(),
                        kind: e.kind(),
                    })
                    .inc();
            }
        }
    }

    /// The figures in Prometheus' text format (no `# EOF`: they are appended to the
    /// node's other metrics).
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_failures_are_counted_per_version_and_kind() {
        let m = ModuleMetrics::default();
        let v1 = ModuleLabels {
            slot: "rpc".into(),
            module: "rpc-eth".into(),
            version: "1.0.0".into(),
        };
        let stats = CallStats {
            peak_memory: 1 << 20,
            fuel_used: 0,
            elapsed: Duration::from_millis(2),
        };
        let ms = Duration::from_millis(2);
        m.record(&v1, Ok(&stats), Some(ms / 4), ms);
        m.record(&v1, Err(&CallError::Timeout { budget_ms: 1 }), None, ms);
        m.record(
            &v1,
            Err(&CallError::Trap("unreachable".into())),
            Some(ms),
            ms,
        );
        let text = m.prometheus();
        let labels = r#"slot="rpc",module="rpc-eth",version="1.0.0""#;
        for line in [
            format!("molt_module_calls_total{{{labels}}} 3"),
            format!("molt_module_failures_total{{{labels},kind=\"timeout\"}} 1"),
            format!("molt_module_failures_total{{{labels},kind=\"trap\"}} 1"),
            format!("molt_module_call_seconds_count{{{labels}}} 3"),
            format!("molt_module_instantiation_seconds_count{{{labels}}} 2"),
            format!("molt_module_peak_memory_bytes{{{labels}}} 1048576"),
        ] {
            assert!(text.contains(&line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("# EOF"));
    }
}
