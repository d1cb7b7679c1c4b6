//! Shadow traffic for the gate: copies of live requests a candidate answers next to
//! the active version (its answers discarded) — a sample of recent ones, and while a
//! gate listens, a copy of every live one. Bytes in, bytes out: what a request means is
//! the node's business.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use parking_lot::Mutex;

/// Requests for the gate, which runs them on a candidate (its answers are discarded):
/// a sample of recent ones — one request in [`Sample::EVERY`] is kept, up to
/// [`Sample::SIZE`] — and, while a gate holds a [`Tap`], a copy of every live one.
/// The node runs them on a read-only view of what they ask for, so a request that
/// would change something gets an error there instead.
#[derive(Debug, Default)]
pub struct Sample {
    bodies: Mutex<VecDeque<Vec<u8>>>,
    seen: AtomicU64,
    tapping: AtomicBool,
    tap: Mutex<Option<SyncSender<Vec<u8>>>>,
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
        if tapping && let Some(tap) = self.tap.lock().as_ref() {
            // A full tap drops the copy: the live request never waits for the gate.
            let _ = tap.try_send(body.to_vec());
        }
        if keep {
            let mut bodies = self.bodies.lock();
            if bodies.len() == Self::SIZE {
                bodies.pop_front();
            }
            bodies.push_back(body.to_vec());
        }
    }

    /// The kept requests, oldest first.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.bodies.lock().iter().cloned().collect()
    }

    /// Copies of live read requests from now until the tap is dropped, at most
    /// `capacity` waiting.
    pub fn tap(&self, capacity: usize) -> Tap<'_> {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        *self.tap.lock() = Some(tx);
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
        *self.sample.tap.lock() = None;
    }
}
