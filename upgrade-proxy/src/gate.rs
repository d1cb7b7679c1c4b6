//! What the gate refuses a candidate for: the figures that broke a red line of the
//! [`Budget`](crate::budget::Budget), a request it failed, or outputs that differ
//! where they must be identical. The gate itself — what work a candidate replays —
//! is the node's, since only the node knows what its kinds compute.

use std::time::Duration;

/// Why the gate refused a candidate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GateRefusal {
    /// The candidate failed a request the active version answers.
    #[error("{error} (on {request})")]
    Failed {
        /// The request, named (method and id).
        request: String,
        /// How the candidate failed.
        error: String,
    },
    /// Peak memory over the operator's ratio to the active version's.
    #[error(
        "peak memory {candidate} bytes is over {:.0}% of the active version's {active} \
         (memory ratio {ratio})",
        .ratio * 100.0
    )]
    Memory {
        /// The candidate's peak, bytes.
        candidate: u64,
        /// The active version's, bytes.
        active: u64,
        /// The ratio allowed.
        ratio: f64,
    },
    /// A latency more than the slack above the active version's.
    #[error(
        "{what} {:.1} ms is over the active version's {:.1} ms + {:.0} ms",
        ms(.candidate), ms(.active), ms(.slack)
    )]
    LatencySlack {
        /// Which latency ("p99", "slowest block").
        what: &'static str,
        /// The candidate's.
        candidate: Duration,
        /// The active version's.
        active: Duration,
        /// The slack allowed.
        slack: Duration,
    },
    /// A latency over the ratio to the active version's.
    #[error(
        "{what} {:.1} ms is over {ratio}× the active version's {:.1} ms",
        ms(.candidate), ms(.active)
    )]
    LatencyRatio {
        /// Which latency ("p99", "slowest block").
        what: &'static str,
        /// The candidate's.
        candidate: Duration,
        /// The active version's.
        active: Duration,
        /// The ratio allowed.
        ratio: f64,
    },
    /// Replaying recent work failed.
    #[error("replay failed: {0}")]
    Replay(String),
    /// The candidate's outputs differ where they must be identical.
    #[error("{0}")]
    Differs(String),
}

fn ms(d: &Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
