//! Why the upgrade pipeline refused: one [`Refusal`] type for every phase, with a
//! [`GateRefusal`] that keeps the gate's figures. Operators read the words; tests and
//! metrics read the variants.

use crate::gate::GateRefusal;
use crate::package::PackageError;
use crate::router::SlotError;

/// Why a candidate (or an operator's request) was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The request itself is wrong: a missing or malformed parameter, an unknown
    /// method or slot.
    #[error("{0}")]
    Request(String),
    /// The package is not a module, or not one this node may run (unsigned, tampered,
    /// unknown signer, wrong kind, unknown ABI, downgrade, ...).
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The module is for a slot that does not change this way.
    #[error("{0}")]
    WrongRoute(String),
    /// The runtime could not compile or load it.
    #[error("{0}")]
    Compile(String),
    /// The gate refused it, with the figures.
    #[error("refused by the gate: {0}")]
    Gate(#[from] GateRefusal),
    /// Its `molt_migrate` failed.
    #[error("refused: molt_migrate failed: {0}")]
    Migrate(String),
    /// Its package could not be kept on disk.
    #[error("keeping the package: {0}")]
    Keep(#[source] std::io::Error),
    /// The slot refused the change.
    #[error(transparent)]
    Slot(#[from] SlotError),
    /// The node could not do its part (announce on the chain, read its state).
    #[error("{0}")]
    Node(String),
    /// The canary's watch rolled it back: a live call failed, or its figures are over
    /// budget.
    #[error("{0}")]
    Watch(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

    /// Operators (and the scripts they write) read these words: they stay as they
    /// were when the refusals were strings.
    #[test]
    fn refusals_read_as_operators_know_them() {
        let gate = |g: GateRefusal| Refusal::Gate(g).to_string();
        assert_eq!(
            gate(GateRefusal::Memory {
                candidate: 151,
                active: 100,
                ratio: 1.5
            }),
            "refused by the gate: peak memory 151 bytes is over 150% of the active \
             version's 100 (memory ratio 1.5)"
        );
        assert_eq!(
            gate(GateRefusal::LatencySlack {
                what: "p99",
                candidate: 700 * MS,
                active: 400 * MS,
                slack: 200 * MS
            }),
            "refused by the gate: p99 700.0 ms is over the active version's 400.0 ms + 200 ms"
        );
        assert_eq!(
            gate(GateRefusal::LatencyRatio {
                what: "slowest block",
                candidate: 250 * MS,
                active: 100 * MS,
                ratio: 2.0
            }),
            "refused by the gate: slowest block 250.0 ms is over 2× the active version's 100.0 ms"
        );
        assert_eq!(
            gate(GateRefusal::Failed {
                request: "web3_clientVersion (id 1)".into(),
                error: "guest trapped: unreachable".into()
            }),
            "refused by the gate: guest trapped: unreachable (on web3_clientVersion (id 1))"
        );
        assert_eq!(
            Refusal::Migrate("refused by the module: no".into()).to_string(),
            "refused: molt_migrate failed: refused by the module: no"
        );
        assert_eq!(
            Refusal::from(PackageError::Unsigned).to_string(),
            "unsigned module: no molt.signature section"
        );
    }
}
