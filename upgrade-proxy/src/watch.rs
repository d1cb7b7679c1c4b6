//! The canary's watch: what the calls of a canary and of the active version cost while
//! they share traffic, gathered without locks, and the rules that promote the canary or
//! roll it back on those figures.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How one call went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Call {
    /// It answered (no trap, timeout or budget failure).
    pub ok: bool,
    /// How long it took.
    pub elapsed: Duration,
    /// Peak linear memory of the instance (0 when not measured).
    pub peak_memory: u64,
}

/// The canary's figures next to the active version's, over the same window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Calls the canary answered.
    pub canary_calls: u64,
    /// Its p99 latency over its recent calls.
    pub canary_p99: Duration,
    /// The active version's p99 over its recent calls; `None` with too few of them to
    /// compare (a canary taking all the traffic).
    pub active_p99: Option<Duration>,
    /// The canary's peak memory.
    pub canary_peak_memory: u64,
    /// The active version's peak memory over the window.
    pub active_peak_memory: u64,
}

/// What the watch applies.
pub struct Rules<'a> {
    /// Calls the canary must answer without a failure to be promoted.
    pub promote_after: u64,
    /// Judges the figures; an error (the reason) rolls the canary back. Asked every
    /// [`JUDGE_EVERY`] canary calls once both versions have answered that many, and
    /// before a promotion.
    pub judge: &'a dyn Fn(&Figures) -> Result<(), crate::gate::GateRefusal>,
}

/// Calls between two judgements, and the fewest calls a p99 is taken over.
pub const JUDGE_EVERY: u64 = 20;

/// What the watch decided after a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    /// Still watching (or the call was not the canary's business).
    Continue,
    /// The canary served enough calls within its figures: it is now active.
    Promoted(Figures),
    /// The canary failed a call or its figures are over budget: it no longer takes
    /// traffic. The reason.
    RolledBack(String),
}

/// Recent latencies of one version, in a fixed ring (lock-free).
#[derive(Debug)]
pub(crate) struct Ring {
    nanos: Box<[AtomicU64]>,
    next: AtomicU64,
    peak_memory: AtomicU64,
}

impl Ring {
    const SIZE: usize = 256;

    pub(crate) fn new() -> Self {
        Ring {
            nanos: (0..Self::SIZE).map(|_| AtomicU64::new(0)).collect(),
            next: AtomicU64::new(0),
            peak_memory: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, call: &Call) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) as usize % Self::SIZE;
        let nanos = u64::try_from(call.elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.nanos[i].store(nanos, Ordering::Relaxed);
        self.peak_memory
            .fetch_max(call.peak_memory, Ordering::Relaxed);
    }

    /// Calls recorded.
    pub(crate) fn calls(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }

    pub(crate) fn peak_memory(&self) -> u64 {
        self.peak_memory.load(Ordering::Relaxed)
    }

    /// p99 (nearest rank) over the recent calls.
    pub(crate) fn p99(&self) -> Duration {
        let n = (self.calls() as usize).min(Self::SIZE);
        let mut v: Vec<u64> = self.nanos[..n]
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect();
        v.sort_unstable();
        let rank = (n * 99).div_ceil(100);
        Duration::from_nanos(v.get(rank.saturating_sub(1)).copied().unwrap_or(0))
    }
}

/// The canary's figures against the active version's.
pub(crate) fn figures(canary: &Ring, active: &Ring) -> Figures {
    Figures {
        canary_calls: canary.calls(),
        canary_p99: canary.p99(),
        active_p99: (active.calls() >= JUDGE_EVERY).then(|| active.p99()),
        canary_peak_memory: canary.peak_memory(),
        active_peak_memory: active.peak_memory(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_recent_calls_and_their_p99() {
        let ring = Ring::new();
        for ms in 1..=300u64 {
            ring.record(&Call {
                ok: true,
                elapsed: Duration::from_millis(ms),
                peak_memory: ms * 10,
            });
        }
        assert_eq!(ring.calls(), 300);
        // The last 256 calls: 45..=300 ms; nearest-rank p99 of 256 is the 254th.
        assert_eq!(ring.p99(), Duration::from_millis(298));
        assert_eq!(ring.peak_memory(), 3000);
        let f = figures(&ring, &Ring::new());
        assert_eq!(f.active_p99, None);
    }
}
