//! What the chain's work costs, for Prometheus: block build, execution, state root,
//! verification and commit times, transactions per block, and — read when scraped —
//! the head, the finalised height and the pool's pending and queued counts.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::chain::Chain;

/// The chain's figures.
pub struct ChainMetrics {
    registry: Registry,
    pub(crate) build: Histogram,
    pub(crate) execution: Histogram,
    pub(crate) state_root: Histogram,
    pub(crate) verify: Histogram,
    pub(crate) commit: Histogram,
    pub(crate) block_txs: Histogram,
    pub(crate) blocks: Counter,
    head: Gauge<u64, AtomicU64>,
    finalized: Gauge<u64, AtomicU64>,
    pending: Gauge<u64, AtomicU64>,
    queued: Gauge<u64, AtomicU64>,
}

impl std::fmt::Debug for ChainMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainMetrics").finish_non_exhaustive()
    }
}

/// Seconds, 100 µs to ~26 s.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 19))
}

impl Default for ChainMetrics {
    fn default() -> Self {
        let mut r = Registry::with_prefix("molt_chain");
        let m = ChainMetrics {
            build: seconds(),
            execution: seconds(),
            state_root: seconds(),
            verify: seconds(),
            commit: seconds(),
            block_txs: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            blocks: Counter::default(),
            head: Gauge::default(),
            finalized: Gauge::default(),
            pending: Gauge::default(),
            queued: Gauge::default(),
            registry: Registry::default(),
        };
        let seconds = [
            (
                "block_build_seconds",
                "Building a block here: execution, state root, assembly",
                &m.build,
            ),
            (
                "execution_seconds",
                "The execution module's run over a block's transactions",
                &m.execution,
            ),
            (
                "state_root_seconds",
                "Applying a block's state diff and computing its state root",
                &m.state_root,
            ),
            (
                "block_verify_seconds",
                "Re-executing and checking a block proposed elsewhere",
                &m.verify,
            ),
            (
                "block_commit_seconds",
                "Writing and flushing a block",
                &m.commit,
            ),
        ];
        for (name, help, h) in seconds {
            r.register(name, help, h.clone());
        }
        r.register(
            "block_transactions",
            "Transactions per committed block",
            m.block_txs.clone(),
        );
        r.register("blocks_committed", "Blocks committed", m.blocks.clone());
        r.register("head", "Number of the last committed block", m.head.clone());
        r.register(
            "finalized",
            "Number of the last final block (every committed block is final)",
            m.finalized.clone(),
        );
        r.register(
            "pool_pending",
            "Pooled transactions ready to be included",
            m.pending.clone(),
        );
        r.register(
            "pool_queued",
            "Pooled transactions waiting for an earlier nonce",
            m.queued.clone(),
        );
        ChainMetrics { registry: r, ..m }
    }
}

impl ChainMetrics {
    /// Records a duration into `h`.
    pub(crate) fn time(h: &Histogram, d: Duration) {
        h.observe(d.as_secs_f64());
    }

    /// The figures in Prometheus' text format, the gauges read from `chain` now.
    pub fn prometheus(&self, chain: &Chain) -> String {
        let head = chain.head_number();
        self.head.set(head);
        self.finalized.set(head);
        if let Ok((pending, queued)) = chain.pool.lock().content(&chain.db) {
            self.pending.set(pending.len() as u64);
            self.queued.set(queued.len() as u64);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        out
    }
}
