//! What the validator network counts: blocks proposed and committed, proposals
//! refused, synced blocks — for the node's `/metrics` (Prometheus text).

use std::sync::atomic::{AtomicU64, Ordering};

use molt_abi::rpc::NodeStatus;

/// The network's counters.
#[derive(Debug, Default)]
pub struct BftMetrics {
    /// Blocks this node proposed.
    pub proposed: AtomicU64,
    /// Decided blocks committed.
    pub committed: AtomicU64,
    /// Proposals that re-executed differently or broke a rule (voted nil).
    pub proposals_invalid: AtomicU64,
    /// Proposals dropped unjudged: not from the round's proposer, or undecodable.
    pub proposals_dropped: AtomicU64,
    /// Blocks received by block sync and verified.
    pub synced: AtomicU64,
    /// Synced blocks refused: undecodable, or different on re-execution.
    pub synced_refused: AtomicU64,
    /// The height consensus is deciding (0 until the engine has started).
    pub height: AtomicU64,
    /// The highest height a peer has proposed a block for: how far the network is.
    pub peer_height: AtomicU64,
    /// Peers the network layer is connected to.
    pub peers: AtomicU64,
}

impl BftMetrics {
    /// Adds one to `counter`.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn counters(&self) -> [(&'static str, &'static str, u64); 6] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("proposed", "blocks this node proposed", get(&self.proposed)),
            (
                "committed",
                "decided blocks committed",
                get(&self.committed),
            ),
            (
                "proposals_invalid",
                "proposals voted nil: a broken rule or a different re-execution",
                get(&self.proposals_invalid),
            ),
            (
                "proposals_dropped",
                "proposals dropped: not from the round's proposer, or undecodable",
                get(&self.proposals_dropped),
            ),
            (
                "synced",
                "blocks verified from block sync",
                get(&self.synced),
            ),
            (
                "synced_refused",
                "synced blocks refused: undecodable or different on re-execution",
                get(&self.synced_refused),
            ),
        ]
    }

    /// Records that consensus has moved to `height`.
    pub fn at_height(&self, height: u64) {
        self.height.store(height, Ordering::Relaxed);
    }

    /// Records that a peer proposed a block at `height`.
    pub fn peer_at(&self, height: u64) {
        self.peer_height.fetch_max(height, Ordering::Relaxed);
    }

    /// How many heights this node is behind the furthest peer proposal it has seen
    /// (0 when it is level or has seen none).
    pub fn sync_lag(&self) -> u64 {
        let here = self.height.load(Ordering::Relaxed);
        self.peer_height
            .load(Ordering::Relaxed)
            .saturating_sub(here)
    }

    /// The node among its peers (`net_peerCount`, `eth_syncing`): syncing while more
    /// than `max_lag` heights behind the furthest peer proposal seen — since `starting`
    /// (the head when the node started), towards the block before that proposal.
    pub fn node_status(&self, max_lag: u64, starting: u64) -> NodeStatus {
        let lag = self.sync_lag();
        NodeStatus {
            peers: self.peers.load(Ordering::Relaxed),
            syncing: lag > max_lag,
            starting,
            highest: self.peer_height.load(Ordering::Relaxed).saturating_sub(1),
        }
    }

    /// The counters in Prometheus' text format, as `molt_bft_<name>_total`, then the
    /// consensus height and sync lag as gauges, then Malachite's `malachitebft_*`.
    pub fn prometheus(&self) -> String {
        let mut out: String = self
            .counters()
            .iter()
            .map(|(name, help, value)| {
                format!(
                    "# HELP molt_bft_{name}_total {help}\n# TYPE molt_bft_{name}_total counter\nmolt_bft_{name}_total {value}\n"
                )
            })
            .collect();
        out.push_str(&format!(
            "# HELP molt_bft_height The height consensus is deciding.\n\
             # TYPE molt_bft_height gauge\nmolt_bft_height {}\n\
             # HELP molt_bft_sync_lag Heights behind the furthest peer proposal seen.\n\
             # TYPE molt_bft_sync_lag gauge\nmolt_bft_sync_lag {}\n",
            self.height.load(Ordering::Relaxed),
            self.sync_lag()
        ));
        // The engine's own figures (Malachite's process-wide registry): connected
        // peers, height and round, time per block and step, equivocations, gossip.
        let mut engine = String::new();
        malachitebft_app_channel::app::metrics::export(&mut engine);
        out.push_str(engine.trim_end().trim_end_matches("# EOF"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_far_behind_its_peers_is_syncing() {
        let m = BftMetrics::default();
        m.peers.store(3, Ordering::Relaxed);
        m.at_height(11);
        m.peer_at(12);
        assert_eq!(
            m.node_status(2, 0),
            NodeStatus {
                peers: 3,
                syncing: false,
                starting: 0,
                highest: 11
            }
        );
        m.at_height(4);
        let status = m.node_status(2, 3);
        assert!(status.syncing);
        assert_eq!((status.starting, status.highest), (3, 11));
    }

    #[test]
    fn counters_read_as_prometheus_text() {
        let m = BftMetrics::default();
        BftMetrics::inc(&m.proposals_invalid);
        BftMetrics::inc(&m.proposals_invalid);
        let text = m.prometheus();
        assert!(
            text.contains("\nmolt_bft_proposals_invalid_total 2\n"),
            "{text}"
        );
        assert!(text.contains("\nmolt_bft_committed_total 0\n"), "{text}");
        m.at_height(5);
        m.peer_at(9);
        m.peer_at(7);
        assert_eq!(m.sync_lag(), 4);
        assert!(m.prometheus().contains("\nmolt_bft_sync_lag 4\n"));
        m.at_height(12);
        assert_eq!(m.sync_lag(), 0);
    }
}
