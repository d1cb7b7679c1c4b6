//! The router: one [`Slot`] per module kind, each serving its active version, an
//! optional canary, and the previous version kept warm for rollback.
//!
//! A call takes a [`Lease`] on the version it starts on (an `Arc` clone of the slot's
//! current state: no lock). A swap builds the slot's next state and stores it with one
//! atomic pointer store; calls in flight finish on the version they leased, which is
//! dropped with its last lease. The router is generic over what a version holds (`M`:
//! in the node, a loaded module), so it knows nothing of wasmtime or Ethereum.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::watch::{self, Call, Figures, JUDGE_EVERY, Ring, Rules, Watch};

/// What identifies a version: the package it came from. Serialises as
/// `{"name", "version", "digest"}`, the shape the audit log and the admin API show.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VersionInfo {
    /// Module name from the manifest.
    pub name: String,
    /// Semantic version from the manifest.
    pub version: String,
    /// SHA-256 of the signed package, hex.
    pub digest: String,
}

/// A version in a slot: its identity and what runs it.
#[derive(Debug)]
pub struct Version<M> {
    /// Identity.
    pub info: VersionInfo,
    /// The runnable module.
    pub module: M,
}

/// A canary: a candidate version taking a share of the calls.
#[derive(Debug)]
pub struct Canary<M> {
    /// The candidate.
    pub version: Arc<Version<M>>,
    /// Percentage of calls routed to it (1–100).
    pub percent: u8,
    /// Its calls' figures.
    canary: Ring,
    /// The active version's figures while the canary runs.
    active: Ring,
}

impl<M> Canary<M> {
    /// The canary's figures next to the active version's so far.
    pub fn figures(&self) -> Figures {
        watch::figures(&self.canary, &self.active)
    }
}

/// A slot's state, replaced as a whole on every change.
#[derive(Debug)]
pub struct SlotState<M> {
    /// The version serving traffic.
    pub active: Arc<Version<M>>,
    /// The version active before it, kept loaded for rollback.
    pub previous: Option<Arc<Version<M>>>,
    /// A candidate taking a share of the calls.
    pub canary: Option<Canary<M>>,
}

/// The version a call runs on, held for the whole call.
pub type Lease<M> = Arc<Version<M>>;

/// Why a slot refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    /// Rollback with no previous version.
    #[error("nothing to roll back to: the slot has no previous version")]
    NoPrevious,
    /// Promote or abort with no canary.
    #[error("the slot has no canary")]
    NoCanary,
    /// A canary weight outside 1–100.
    #[error("a canary takes 1 to 100 percent of calls, not {0}")]
    BadWeight(u8),
}

/// One module slot.
#[derive(Debug)]
pub struct Slot<M> {
    state: ArcSwap<SlotState<M>>,
    calls: AtomicU64,
}

impl<M> Slot<M> {
    /// A slot serving `active`.
    pub fn new(active: Version<M>) -> Self {
        Slot {
            state: ArcSwap::from_pointee(SlotState {
                active: Arc::new(active),
                previous: None,
                canary: None,
            }),
            calls: AtomicU64::new(0),
        }
    }

    /// The version the next call should run on: the canary for its share of calls
    /// (spread evenly, deterministic), the active version otherwise. Lock-free.
    pub fn lease(&self) -> Lease<M> {
        let state = self.state.load();
        if let Some(canary) = &state.canary {
            let n = self.calls.fetch_add(1, Ordering::Relaxed);
            // Of every 100 calls, the first `percent` (by a stride that spreads
            // them) go to the canary.
            if (n.wrapping_mul(37) % 100) < u64::from(canary.percent) {
                return canary.version.clone();
            }
        }
        state.active.clone()
    }

    /// The active version (what [`lease`](Self::lease) returns without a canary).
    pub fn active(&self) -> Lease<M> {
        self.state.load().active.clone()
    }

    /// The whole current state.
    pub fn state(&self) -> Arc<SlotState<M>> {
        self.state.load_full()
    }

    /// Makes `next` the active version; the current one becomes the previous. Any
    /// canary is dropped.
    pub fn activate(&self, next: Version<M>) -> Lease<M> {
        let next = Arc::new(next);
        self.state.rcu(|s| SlotState {
            active: next.clone(),
            previous: Some(s.active.clone()),
            canary: None,
        });
        next
    }

    /// Returns to the previous version (which becomes active; the current one becomes
    /// the previous, so a second rollback undoes the first).
    pub fn rollback(&self) -> Result<Lease<M>, SlotError> {
        let mut result = Err(SlotError::NoPrevious);
        self.state.rcu(|s| match &s.previous {
            Some(prev) => {
                result = Ok(prev.clone());
                Arc::new(SlotState {
                    active: prev.clone(),
                    previous: Some(s.active.clone()),
                    canary: None,
                })
            }
            None => {
                result = Err(SlotError::NoPrevious);
                s.clone()
            }
        });
        result
    }

    /// Routes `percent` of calls to `candidate`, replacing any canary.
    pub fn start_canary(&self, candidate: Version<M>, percent: u8) -> Result<(), SlotError> {
        if !(1..=100).contains(&percent) {
            return Err(SlotError::BadWeight(percent));
        }
        let candidate = Arc::new(candidate);
        self.state.rcu(|s| SlotState {
            active: s.active.clone(),
            previous: s.previous.clone(),
            canary: Some(Canary {
                version: candidate.clone(),
                percent,
                canary: Ring::new(),
                active: Ring::new(),
            }),
        });
        Ok(())
    }

    /// Makes the canary the active version.
    pub fn promote_canary(&self) -> Result<Lease<M>, SlotError> {
        self.end_canary(None, true).ok_or(SlotError::NoCanary)
    }

    /// The watch: reports how a call on `lease` went. While a canary runs, the calls
    /// of both versions are measured; a failed canary call rolls it back at once, and
    /// `rules.judge` rolls it back if its figures are over budget. After
    /// `rules.promote_after` good calls within budget it becomes the active version.
    pub fn report(&self, lease: &Lease<M>, call: Call, rules: &Rules<'_>) -> Watch {
        let state = self.state.load();
        let Some(canary) = &state.canary else {
            return Watch::Continue;
        };
        if !Arc::ptr_eq(&canary.version, lease) {
            if Arc::ptr_eq(&state.active, lease) {
                canary.active.record(&call);
            }
            return Watch::Continue;
        }
        if !call.ok {
            return self.roll_back(lease, "a call failed".into());
        }
        canary.canary.record(&call);
        let calls = canary.canary.calls();
        let promote = calls >= rules.promote_after;
        // Figures (two sorted rings) only when they are judged, not on every call.
        let judge_now = calls.is_multiple_of(JUDGE_EVERY) && canary.active.calls() >= JUDGE_EVERY;
        if !(promote || judge_now) {
            return Watch::Continue;
        }
        let figures = canary.figures();
        if let Err(reason) = (rules.judge)(&figures) {
            return self.roll_back(lease, reason.to_string());
        }
        if promote && self.end_canary(Some(lease), true).is_some() {
            return Watch::Promoted(figures);
        }
        Watch::Continue
    }

    fn roll_back(&self, lease: &Lease<M>, reason: String) -> Watch {
        match self.end_canary(Some(lease), false) {
            Some(_) => Watch::RolledBack(reason),
            None => Watch::Continue,
        }
    }

    /// Drops the canary; all calls go to the active version again.
    pub fn abort_canary(&self) -> Result<(), SlotError> {
        self.end_canary(None, false)
            .map(|_| ())
            .ok_or(SlotError::NoCanary)
    }

    /// Ends the canary (only if it is `which`, when given): promoted to active, or
    /// dropped. Returns it, or `None` if there was no such canary.
    fn end_canary(&self, which: Option<&Lease<M>>, promote: bool) -> Option<Lease<M>> {
        let mut ended = None;
        self.state.rcu(|s| {
            ended = None;
            match &s.canary {
                Some(c) if which.is_none_or(|l| Arc::ptr_eq(&c.version, l)) => {
                    ended = Some(c.version.clone());
                    let (active, previous) = if promote {
                        (c.version.clone(), Some(s.active.clone()))
                    } else {
                        (s.active.clone(), s.previous.clone())
                    };
                    Arc::new(SlotState {
                        active,
                        previous,
                        canary: None,
                    })
                }
                _ => s.clone(),
            }
        });
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::GateRefusal;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    fn v(name: &str, module: u32) -> Version<u32> {
        Version {
            info: VersionInfo {
                name: name.into(),
                version: format!("0.{module}.0"),
                digest: format!("{module:064x}"),
            },
            module,
        }
    }

    #[test]
    fn activate_and_roll_back_swap_whole_versions() {
        let slot = Slot::new(v("a", 1));
        assert_eq!(slot.rollback().unwrap_err(), SlotError::NoPrevious);
        let old = slot.lease();
        slot.activate(v("b", 2));
        // A lease taken before the swap still runs the old version.
        assert_eq!(old.module, 1);
        assert_eq!(slot.lease().module, 2);
        assert_eq!(slot.rollback().unwrap().module, 1);
        assert_eq!(slot.lease().module, 1);
        // Rolling back twice returns to where we were.
        assert_eq!(slot.rollback().unwrap().module, 2);
    }

    #[test]
    fn a_canary_takes_its_share_and_is_promoted_or_aborted() {
        let slot = Slot::new(v("a", 1));
        assert_eq!(
            slot.start_canary(v("c", 3), 0),
            Err(SlotError::BadWeight(0))
        );
        slot.start_canary(v("c", 3), 5).unwrap();
        let to_canary = (0..1000).filter(|_| slot.lease().module == 3).count();
        assert_eq!(to_canary, 50);
        slot.abort_canary().unwrap();
        assert!((0..100).all(|_| slot.lease().module == 1));
        assert_eq!(slot.abort_canary(), Err(SlotError::NoCanary));
        slot.start_canary(v("c", 3), 50).unwrap();
        assert_eq!(slot.promote_canary().unwrap().module, 3);
        assert!((0..100).all(|_| slot.lease().module == 3));
        assert_eq!(slot.state().previous.as_ref().unwrap().module, 1);
    }

    fn call(ok: bool, ms: u64) -> Call {
        Call {
            ok,
            elapsed: std::time::Duration::from_millis(ms),
            peak_memory: 0,
        }
    }

    /// Within budget: at most twice the active p99.
    fn twice(f: &Figures) -> Result<(), GateRefusal> {
        match f.active_p99 {
            Some(active) if f.canary_p99 > 2 * active => Err(GateRefusal::LatencyRatio {
                what: "p99",
                candidate: f.canary_p99,
                active,
                ratio: 2.0,
            }),
            _ => Ok(()),
        }
    }

    #[test]
    fn the_watch_promotes_a_good_canary_and_rolls_back_a_failing_one() {
        let rules = Rules {
            promote_after: 10,
            judge: &twice,
        };
        let slot = Slot::new(v("a", 1));
        slot.start_canary(v("good", 2), 50).unwrap();
        let mut outcome = Watch::Continue;
        for _ in 0..40 {
            let lease = slot.lease();
            outcome = slot.report(&lease, call(true, 1), &rules);
            if outcome != Watch::Continue {
                break;
            }
        }
        let Watch::Promoted(figures) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(figures.canary_calls, 10);
        assert_eq!(slot.active().module, 2);

        slot.start_canary(v("bad", 3), 100).unwrap();
        let lease = slot.lease();
        assert_eq!(lease.module, 3);
        assert_eq!(
            slot.report(&lease, call(false, 1), &rules),
            Watch::RolledBack("a call failed".into())
        );
        assert!(slot.state().canary.is_none());
        assert_eq!(slot.lease().module, 2);
        // A late report about a canary that is gone changes nothing.
        assert_eq!(slot.report(&lease, call(false, 1), &rules), Watch::Continue);
    }

    #[test]
    fn the_watch_rolls_back_a_canary_slower_than_its_budget() {
        let rules = Rules {
            promote_after: 1000,
            judge: &twice,
        };
        let slot = Slot::new(v("a", 1));
        slot.start_canary(v("slow", 2), 50).unwrap();
        let mut outcome = Watch::Continue;
        let mut calls = 0;
        while outcome == Watch::Continue && calls < 1000 {
            let lease = slot.lease();
            let ms = if lease.module == 2 { 9 } else { 3 };
            outcome = slot.report(&lease, call(true, ms), &rules);
            calls += 1;
        }
        // Judged as soon as both versions had answered 20 calls.
        assert!(calls <= 100, "{calls}");
        let over = GateRefusal::LatencyRatio {
            what: "p99",
            candidate: Duration::from_millis(9),
            active: Duration::from_millis(3),
            ratio: 2.0,
        };
        assert_eq!(outcome, Watch::RolledBack(over.to_string()));
        assert_eq!(slot.active().module, 1);
        assert!(slot.state().canary.is_none());
    }

    #[test]
    fn calls_across_a_swap_see_one_version_or_the_other_never_a_torn_one() {
        let slot = Arc::new(Slot::new(v("a", 1)));
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (slot, stop, reads) = (slot.clone(), stop.clone(), reads.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let lease = slot.lease();
                        assert_eq!(lease.info.digest, format!("{:064x}", lease.module));
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        // Swap while the readers are reading.
        let mut i = 1;
        while i < 200 || reads.load(Ordering::Relaxed) < 10_000 {
            i += 1;
            slot.activate(v("x", i));
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(slot.active().module, i);
        // Old versions are freed once no lease holds them.
        assert_eq!(
            Arc::strong_count(&slot.state().previous.clone().unwrap()),
            2
        );
    }
}
