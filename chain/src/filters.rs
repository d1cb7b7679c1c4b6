//! The JSON-RPC filters rpc modules install (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`) and poll (`eth_getFilterChanges`): the node keeps
//! them, so they outlive any one module version and a hot swap loses none.
//!
//! A logs or blocks filter is a cursor: the first block it has not reported. A pending
//! filter collects the hashes of the transactions pooled since it was last polled
//! (from the chain's [`Events`]), at most [`MAX_PENDING`] of them. A filter nobody
//! polled for [`IDLE`] is dropped, as geth drops it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use alloy_primitives::{B256, Bytes};
use molt_abi::rpc::{FilterChanges, filter_kind};

use crate::events::{ChainEvent, Events};
use crate::sync::Mutex;

/// How long a filter lives without being polled (geth: 5 minutes).
pub const IDLE: Duration = Duration::from_secs(300);

/// Most transaction hashes a pending filter keeps between polls; beyond, the oldest
/// are dropped.
pub const MAX_PENDING: usize = 10_000;

/// Most filters installed at once.
pub const MAX_FILTERS: usize = 10_000;

/// Why a filter operation failed (the words are geth's where it has them).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// No filter has this id (never installed, uninstalled, or expired).
    #[error("filter not found")]
    NotFound,
    /// The kind is none of [`filter_kind`].
    #[error("unknown filter kind {0}")]
    UnknownKind(u8),
    /// [`MAX_FILTERS`] are installed.
    #[error("too many filters installed (at most {MAX_FILTERS}); uninstall some")]
    TooMany,
}

struct Filter {
    kind: u8,
    criteria: Bytes,
    /// The first block not reported yet.
    next_block: u64,
    /// Pending filter: hashes pooled since the last poll, oldest first.
    pending: VecDeque<B256>,
    polled: Instant,
}

#[derive(Default)]
struct Installed {
    next_id: u64,
    filters: HashMap<u64, Filter>,
}

impl Installed {
    fn expire(&mut self, now: Instant) {
        self.filters
            .retain(|_, f| now.duration_since(f.polled) < IDLE);
    }
}

/// The installed filters.
pub struct Filters {
    installed: Arc<Mutex<Installed>>,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters")
            .field("installed", &self.installed.lock().filters.len())
            .finish()
    }
}

impl Filters {
    /// No filters yet; pending filters will hear of pooled transactions from
    /// `events`.
    pub fn new(events: &Events) -> Self {
        let installed = Arc::new(Mutex::new(Installed::default()));
        let weak: Weak<Mutex<Installed>> = Arc::downgrade(&installed);
        events.listen(Box::new(move |event| {
            let Some(installed) = weak.upgrade() else {
                return false;
            };
            if let ChainEvent::Pending(hash) = event {
                for f in installed.lock().filters.values_mut() {
                    if f.kind == filter_kind::PENDING {
                        if f.pending.len() == MAX_PENDING {
                            f.pending.pop_front();
                        }
                        f.pending.push_back(*hash);
                    }
                }
            }
            true
        }));
        Filters { installed }
    }

    /// Installs a filter of `kind` that reports blocks from `start` on (at most
    /// `head + 1`, the first block to come); its id.
    pub fn install(
        &self,
        kind: u8,
        criteria: Bytes,
        start: u64,
        head: u64,
    ) -> Result<u64, FilterError> {
        if kind > filter_kind::PENDING {
            return Err(FilterError::UnknownKind(kind));
        }
        let now = Instant::now();
        let mut installed = self.installed.lock();
        installed.expire(now);
        if installed.filters.len() >= MAX_FILTERS {
            return Err(FilterError::TooMany);
        }
        installed.next_id += 1;
        let id = installed.next_id;
        installed.filters.insert(
            id,
            Filter {
                kind,
                criteria,
                next_block: start.min(head + 1),
                pending: VecDeque::new(),
                polled: now,
            },
        );
        Ok(id)
    }

    /// What filter `id` has to report, the head being `head`; with `advance` it will
    /// not report it again. `hash_of` gives a block's hash (for blocks filters).
    pub fn poll<E>(
        &self,
        id: u64,
        advance: bool,
        head: u64,
        hash_of: impl Fn(u64) -> Result<B256, E>,
    ) -> Result<Result<FilterChanges, FilterError>, E> {
        let now = Instant::now();
        let mut installed = self.installed.lock();
        installed.expire(now);
        let Some(f) = installed.filters.get_mut(&id) else {
            return Ok(Err(FilterError::NotFound));
        };
        f.polled = now;
        // After `evm_revert` the head may be below the cursor: report from above it.
        let from = f.next_block.min(head + 1);
        let mut hashes = Vec::new();
        if advance {
            match f.kind {
                filter_kind::BLOCKS => {
                    for n in from..=head {
                        hashes.push(hash_of(n)?);
                    }
                }
                filter_kind::PENDING => hashes.extend(f.pending.drain(..)),
                _ => {}
            }
            f.next_block = head + 1;
        }
        Ok(Ok(FilterChanges {
            kind: f.kind,
            criteria: f.criteria.clone(),
            from,
            to: head,
            hashes,
        }))
    }

    /// Removes filter `id`; whether it was installed.
    pub fn uninstall(&self, id: u64) -> bool {
        let mut installed = self.installed.lock();
        installed.expire(Instant::now());
        installed.filters.remove(&id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u64) -> Result<B256, std::convert::Infallible> {
        Ok(B256::with_last_byte(n as u8))
    }

    #[test]
    fn cursors_report_each_block_once_and_pending_filters_collect_pooled_hashes() {
        let events = Events::default();
        let filters = Filters::new(&events);
        let blocks = filters
            .install(filter_kind::BLOCKS, Bytes::new(), 4, 3)
            .unwrap();
        let logs = filters
            .install(filter_kind::LOGS, Bytes::from_static(b"{}"), 2, 3)
            .unwrap();
        let pending = filters
            .install(filter_kind::PENDING, Bytes::new(), 9, 3)
            .unwrap();
        assert_ne!(blocks, logs);

        // Nothing new yet.
        let changes = filters.poll(blocks, true, 3, hash).unwrap().unwrap();
        assert!(changes.hashes.is_empty() && changes.to < changes.from);

        // Two blocks: reported once.
        let changes = filters.poll(blocks, true, 5, hash).unwrap().unwrap();
        assert_eq!(changes.hashes, vec![hash(4).unwrap(), hash(5).unwrap()]);
        assert!(
            filters
                .poll(blocks, true, 5, hash)
                .unwrap()
                .unwrap()
                .hashes
                .is_empty()
        );

        // A logs filter hands back its criteria and the new range (this one starts
        // in the past, at block 2); without `advance` nothing moves.
        let peek = filters.poll(logs, false, 5, hash).unwrap().unwrap();
        assert_eq!((peek.from, peek.to, &peek.criteria[..]), (2, 5, &b"{}"[..]));
        let changes = filters.poll(logs, true, 5, hash).unwrap().unwrap();
        assert_eq!((changes.from, changes.to), (2, 5));
        let changes = filters.poll(logs, true, 6, hash).unwrap().unwrap();
        assert_eq!((changes.from, changes.to), (6, 6));

        // Pooled transactions reach pending filters only.
        events.emit(ChainEvent::Pending(B256::repeat_byte(1)));
        events.emit(ChainEvent::Pending(B256::repeat_byte(2)));
        let changes = filters.poll(pending, true, 6, hash).unwrap().unwrap();
        assert_eq!(
            changes.hashes,
            vec![B256::repeat_byte(1), B256::repeat_byte(2)]
        );
        assert!(
            filters
                .poll(blocks, true, 6, hash)
                .unwrap()
                .unwrap()
                .hashes
                .len()
                == 1
        );

        // After a revert below the cursor, the new blocks are reported.
        let changes = filters.poll(blocks, true, 4, hash).unwrap().unwrap();
        assert!(changes.hashes.is_empty());
        let changes = filters.poll(blocks, true, 5, hash).unwrap().unwrap();
        assert_eq!(changes.hashes, vec![hash(5).unwrap()]);

        assert!(filters.uninstall(pending));
        assert!(!filters.uninstall(pending));
        assert_eq!(
            filters.poll(pending, true, 6, hash).unwrap(),
            Err(FilterError::NotFound)
        );
        assert_eq!(
            filters.install(7, Bytes::new(), 1, 0),
            Err(FilterError::UnknownKind(7))
        );
    }

    #[test]
    fn a_pending_filter_keeps_the_newest_hashes_and_dropped_filters_stop_listening() {
        let events = Events::default();
        let filters = Filters::new(&events);
        let pending = filters
            .install(filter_kind::PENDING, Bytes::new(), 1, 0)
            .unwrap();
        for i in 0..MAX_PENDING as u64 + 5 {
            events.emit(ChainEvent::Pending(B256::left_padding_from(
                &i.to_be_bytes(),
            )));
        }
        let changes = filters.poll(pending, true, 0, hash).unwrap().unwrap();
        assert_eq!(changes.hashes.len(), MAX_PENDING);
        assert_eq!(
            changes.hashes[0],
            B256::left_padding_from(&5u64.to_be_bytes())
        );
        drop(filters);
        events.emit(ChainEvent::Pending(B256::ZERO));
        assert!(events.is_empty());
    }
}
