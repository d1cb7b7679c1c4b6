//! The red lines a candidate version must stay within, next to the active version:
//! the gate holds a candidate to them before it takes traffic, the canary's watch
//! while it does. Figures in, a refusal that names them out; nothing here measures.

use std::time::Duration;

use crate::gate::GateRefusal;

/// Latencies below this are too small for a ratio to mean anything on a shared machine
/// (one scheduling hiccup doubles them): the ratio rule applies only above it.
pub const NOISE_FLOOR: Duration = Duration::from_millis(50);

/// The red lines a candidate must stay within, relative to the active version.
///
/// Memory is held first of all to the candidate's own manifest budget and the node's
/// ceiling (the runtime refuses growth past them, and a call that fails for it fails
/// the gate); a ratio to the active version's peak applies only where the operator
/// asks for one (`--gate.memory-ratio`), since a rule relative to the last version
/// only ever tightens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// Peak linear memory at most this many times the active version's (`None`: no
    /// such rule).
    pub memory_ratio: Option<f64>,
    /// p99 at most the active p99 plus this.
    pub p99_slack: Duration,
    /// p99 at most this many times the active p99, or [`NOISE_FLOOR`], whichever is
    /// larger.
    pub p99_ratio: f64,
}

impl Default for Budget {
    /// This project's red lines: p99 ≤ active + 200 ms and ≤ 2×; memory within the
    /// candidate's own budget.
    fn default() -> Self {
        Budget {
            memory_ratio: None,
            p99_slack: Duration::from_millis(200),
            p99_ratio: 2.0,
        }
    }
}

impl Budget {
    /// Refuses a peak memory over budget.
    pub fn check_memory(&self, candidate: u64, active: u64) -> Result<(), GateRefusal> {
        if let Some(ratio) = self.memory_ratio
            && active > 0
            && candidate as f64 > active as f64 * ratio
        {
            return Err(GateRefusal::Memory {
                candidate,
                active,
                ratio,
            });
        }
        Ok(())
    }

    /// Refuses a latency (`what`: "p99", "slowest block") over budget.
    pub fn check_latency(
        &self,
        what: &'static str,
        candidate: Duration,
        active: Duration,
    ) -> Result<(), GateRefusal> {
        if candidate > active + self.p99_slack {
            return Err(GateRefusal::LatencySlack {
                what,
                candidate,
                active,
                slack: self.p99_slack,
            });
        }
        let ratio_limit = active.mul_f64(self.p99_ratio).max(NOISE_FLOOR);
        if candidate > ratio_limit {
            return Err(GateRefusal::LatencyRatio {
                what,
                candidate,
                active,
                ratio: self.p99_ratio,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_default_budget_holds_the_red_lines() {
        let b = Budget::default();
        // No memory rule relative to the active version unless asked for.
        assert!(b.check_memory(1 << 30, 100).is_ok());
        let m = Budget {
            memory_ratio: Some(1.5),
            ..b
        };
        assert!(m.check_memory(150, 100).is_ok());
        assert_eq!(
            m.check_memory(151, 100),
            Err(GateRefusal::Memory {
                candidate: 151,
                active: 100,
                ratio: 1.5
            })
        );
        // Natively there is no linear memory to compare.
        assert!(m.check_memory(1 << 30, 0).is_ok());

        // Below the noise floor a ratio means nothing: 0.1 ms → 40 ms passes.
        assert!(b.check_latency("p99", 40 * MS, MS / 10).is_ok());
        // Above it, the ratio applies: 100 ms → 250 ms is over 2×.
        assert_eq!(
            b.check_latency("p99", 250 * MS, 100 * MS),
            Err(GateRefusal::LatencyRatio {
                what: "p99",
                candidate: 250 * MS,
                active: 100 * MS,
                ratio: 2.0
            })
        );
        assert!(b.check_latency("p99", 200 * MS, 100 * MS).is_ok());
        // And never more than +200 ms, whatever the ratio.
        assert_eq!(
            b.check_latency("p99", 700 * MS, 400 * MS),
            Err(GateRefusal::LatencySlack {
                what: "p99",
                candidate: 700 * MS,
                active: 400 * MS,
                slack: 200 * MS
            })
        );
    }

    #[test]
    fn the_ratio_is_configurable() {
        let b = Budget {
            p99_ratio: 1.2,
            ..Budget::default()
        };
        assert!(matches!(
            b.check_latency("p99", 130 * MS, 100 * MS),
            Err(GateRefusal::LatencyRatio { .. })
        ));
        assert!(b.check_latency("p99", 115 * MS, 100 * MS).is_ok());
    }
}
