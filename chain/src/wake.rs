//! Wakes the block producer: the chain notifies it when a transaction is pooled, so
//! no caller has to remember to.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A transaction arrived, or the producer is to stop.
#[derive(Debug, Default)]
pub struct Wake {
    pending: Mutex<bool>,
    cv: Condvar,
    stop: AtomicBool,
}

impl Wake {
    /// Something changed: look at the pool now.
    pub fn notify(&self) {
        *self.pending.lock() = true;
        self.cv.notify_one();
    }

    /// Asks the producer to stop, and wakes it.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Waits for a notification or `timeout`.
    pub fn wait(&self, timeout: Duration) {
        let mut pending = self.pending.lock();
        self.cv.wait_while_for(&mut pending, |p| !*p, timeout);
        *pending = false;
    }
}
