//! The node's wall clock: block timestamps, audit entries, dev-chain genesis.

/// Unix time, seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
