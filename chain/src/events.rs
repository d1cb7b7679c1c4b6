//! What the chain tells whoever listens: a block became the head, a transaction was
//! pooled. WebSocket subscriptions and JSON-RPC filters are made of these.
//!
//! A listener is a function called on the thread that commits the block or pools the
//! transaction, so it must be quick and must not block: it hands the event on (a
//! bounded queue's `try_send`, a push onto a capped list) and says whether it wants
//! more. One that answers `false` — its queue is full or its reader is gone — is
//! dropped, and block production never waits for it.

use alloy_primitives::B256;

use crate::sync::Mutex;

/// One thing that happened to the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainEvent {
    /// Block `number` (hash `hash`) was committed and is the head.
    Block {
        /// Its number.
        number: u64,
        /// Its hash.
        hash: B256,
    },
    /// A transaction entered the pool.
    Pending(B256),
}

/// Called with each event; `false` drops it.
pub type Listener = Box<dyn FnMut(&ChainEvent) -> bool + Send>;

/// The chain's listeners.
#[derive(Default)]
pub struct Events {
    listeners: Mutex<Vec<Listener>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("listeners", &self.listeners.lock().len())
            .finish()
    }
}

impl Events {
    /// Calls `listener` with every event from now on, until it answers `false`.
    pub fn listen(&self, listener: Listener) {
        self.listeners.lock().push(listener);
    }

    /// Tells every listener of `event`.
    pub(crate) fn emit(&self, event: ChainEvent) {
        self.listeners.lock().retain_mut(|l| l(&event));
    }

    /// Number of listeners.
    pub fn len(&self) -> usize {
        self.listeners.lock().len()
    }

    /// Whether nobody listens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_listener_that_says_no_more_or_is_full_is_dropped_and_others_go_on() {
        let events = Events::default();
        let (tx, rx) = mpsc::sync_channel(1);
        events.listen(Box::new(move |e| tx.try_send(*e).is_ok()));
        let mut seen = 0;
        events.listen(Box::new(move |_| {
            seen += 1;
            seen < 3
        }));
        let block = |n| ChainEvent::Block {
            number: n,
            hash: B256::with_last_byte(n as u8),
        };
        events.emit(block(1));
        assert_eq!(events.len(), 2);
        // The channel holds one event: the second does not fit and its listener goes.
        events.emit(block(2));
        assert_eq!(events.len(), 1);
        assert_eq!(rx.try_recv(), Ok(block(1)));
        events.emit(ChainEvent::Pending(B256::ZERO));
        assert!(events.is_empty());
    }
}
