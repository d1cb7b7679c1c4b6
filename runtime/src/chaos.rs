//! Fault injection (`molt dev --chaos.*`, the admin API's `molt_chaos`): make a slot's
//! calls trap, slow them down, or fail the host imports they make, at a given rate —
//! to watch the node degrade and recover as designed (an rpc canary rolled back, a
//! block left out while the chain goes on) before production does it.
//!
//! The [`Runtime`](crate::Runtime) owns one [`Chaos`]; every module it loads consults
//! it on each call. Off until a fault is set. Rates draw from a seeded generator, so a
//! run can be repeated; chaos is never deterministic across nodes and belongs on test
//! networks only.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// The faults of one slot.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SlotFaults {
    /// Share of calls (0–1) that trap before the module runs.
    #[serde(default)]
    pub trap: f64,
    /// Latency added to every call, ms.
    #[serde(default)]
    pub delay_ms: u64,
    /// Share of host imports (chain queries) that fail.
    #[serde(default)]
    pub import_failure: f64,
    /// Only calls of this version of the slot's module (all versions if unset): an rpc
    /// canary, say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Faults by slot (`rpc`, `execution`, `consensus`).
pub type Faults = BTreeMap<String, SlotFaults>;

/// The faults in force and the generator their rates draw from.
#[derive(Debug, Default)]
pub struct Chaos {
    state: Mutex<(Faults, u64)>,
}

/// What a call should suffer.
pub(crate) struct Verdict {
    pub trap: bool,
    pub delay: Duration,
}

impl Chaos {
    /// Replaces every fault; `seed` restarts the generator.
    pub fn set(&self, faults: Faults, seed: u64) {
        if let Ok(mut state) = self.state.lock() {
            *state = (faults, seed.max(1));
        }
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.state.lock().map(|s| s.0.clone()).unwrap_or_default()
    }

    /// Draws the fate of a call of `version` in `slot`; `None` when it has no fault.
    pub(crate) fn call(&self, slot: &str, version: &str) -> Option<Verdict> {
        let mut state = self.state.lock().ok()?;
        let faults = state.0.get(slot).filter(|f| f.applies_to(version))?.clone();
        let trap = draw(&mut state.1, faults.trap);
        Some(Verdict {
            trap,
            delay: Duration::from_millis(faults.delay_ms),
        })
    }

    /// Whether a host import of a call of `version` in `slot` fails.
    pub(crate) fn import_fails(&self, slot: &str, version: &str) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let rate = state
            .0
            .get(slot)
            .filter(|f| f.applies_to(version))
            .map_or(0.0, |f| f.import_failure);
        draw(&mut state.1, rate)
    }
}

impl SlotFaults {
    fn applies_to(&self, version: &str) -> bool {
        self.version.as_deref().is_none_or(|v| v == version)
    }
}

/// `true` with probability `rate`, from a xorshift generator.
fn draw(seed: &mut u64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    let mut x = (*seed).max(1);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *seed = x;
    (x >> 11) as f64 / (1u64 << 53) as f64 <= rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_honoured_and_other_slots_untouched() {
        let chaos = Chaos::default();
        assert!(chaos.call("rpc", "1").is_none());
        let faults = Faults::from([(
            "rpc".to_string(),
            SlotFaults {
                trap: 0.25,
                delay_ms: 3,
                import_failure: 1.0,
                version: None,
            },
        )]);
        chaos.set(faults.clone(), 7);
        assert_eq!(chaos.faults(), faults);
        let traps = (0..4000)
            .filter(|_| chaos.call("rpc", "1").unwrap().trap)
            .count();
        assert!((800..1200).contains(&traps), "{traps} of 4000");
        assert_eq!(
            chaos.call("rpc", "1").unwrap().delay,
            Duration::from_millis(3)
        );
        assert!(chaos.import_fails("rpc", "1"));
        assert!(chaos.call("execution", "1").is_none() && !chaos.import_fails("execution", "1"));
        // A fault for one version leaves the others alone.
        let canary = SlotFaults {
            trap: 1.0,
            version: Some("2".into()),
            ..SlotFaults::default()
        };
        chaos.set(Faults::from([("rpc".to_string(), canary)]), 1);
        assert!(chaos.call("rpc", "1").is_none());
        assert!(chaos.call("rpc", "2").unwrap().trap);
        chaos.set(Faults::new(), 0);
        assert!(chaos.call("rpc", "2").is_none());
    }
}
