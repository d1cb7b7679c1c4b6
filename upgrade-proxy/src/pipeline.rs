//! The upgrade pipeline as named phases, and the one place where what happened is
//! written down.
//!
//! ```text
//!  receive ─▶ verify ─▶ compile ─▶ gate ─▶ migrate ─▶ keep ─▶ activate | canary ─▶ watch ─▶ (promote | roll back)
//!                                                        └─▶ announce (execution, consensus: at a height)
//! ```
//!
//! A node runs each phase as a function that returns a [`Refusal`] on failure, inside
//! an [`Attempt`] that remembers which phases it entered. When the operation ends,
//! [`Ledger::record`] writes its audit entry and its counters from the attempt and
//! the outcome: no phase counts or logs anything itself.

use std::sync::Arc;

use molt_abi::Kind;
use serde_json::{Value, json};

use crate::audit::{Audit, describe};
use crate::metrics::Metrics;
use crate::package::Package;
use crate::refusal::Refusal;

/// A step of the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Read the package.
    Receive,
    /// Check its signature, manifest, interface and version against the slot's history.
    Verify,
    /// Compile and load it into the runtime.
    Compile,
    /// Run it next to the active version on real work.
    Gate,
    /// Call its `molt_migrate`, once.
    Migrate,
    /// Keep its package on disk.
    Keep,
    /// Make it the slot's active version.
    Activate,
    /// Give it a share of the calls.
    Canary,
    /// Announce it on the chain, from a height.
    Announce,
}

impl Phase {
    /// The phase's name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Receive => "receive",
            Phase::Verify => "verify",
            Phase::Compile => "compile",
            Phase::Gate => "gate",
            Phase::Migrate => "migrate",
            Phase::Keep => "keep",
            Phase::Activate => "activate",
            Phase::Canary => "canary",
            Phase::Announce => "announce",
        }
    }
}

/// One run of the pipeline: the phases it entered, in order, and what the package
/// said of itself when it was received.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attempt {
    entered: Vec<Phase>,
    package: Option<Value>,
    kind: Option<Kind>,
}

impl Attempt {
    /// **Receive**: reads a package (nothing about it is trusted yet) and remembers
    /// what it says of itself — digest, name, version, kind, signer — for the record.
    pub fn receive(&mut self, bytes: Vec<u8>) -> Result<Package, Refusal> {
        self.entered.push(Phase::Receive);
        match Package::parse(bytes) {
            Ok(package) => {
                self.package = Some(describe(&package));
                self.kind = package.manifest.as_ref().ok().map(|m| m.kind);
                Ok(package)
            }
            Err(e) => {
                self.package = Some(json!({ "error": e.to_string() }));
                Err(e.into())
            }
        }
    }

    /// The kind the received package's manifest names, if it has one that decodes.
    pub fn kind(&self) -> Option<Kind> {
        self.kind
    }

    /// Runs `step` as `phase`.
    pub fn run<T>(
        &mut self,
        phase: Phase,
        step: impl FnOnce() -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        self.entered.push(phase);
        step()
    }

    /// Whether the attempt entered `phase`.
    pub fn entered(&self, phase: Phase) -> bool {
        self.entered.contains(&phase)
    }

    /// The last phase entered: where a refused attempt stopped.
    pub fn last(&self) -> Option<Phase> {
        self.entered.last().copied()
    }
}

/// What an operator (or the watch) did to a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Deploy an rpc module (activate or canary).
    Deploy,
    /// Stage an execution or consensus module.
    Stage,
    /// Stage, then announce at a height.
    Schedule,
    /// Back to the previous version.
    Rollback,
    /// The operator promoted the canary.
    Promote,
    /// The operator dropped the canary.
    AbortCanary,
    /// The watch promoted the canary.
    CanaryPromoted,
    /// The watch rolled the canary back.
    CanaryRolledBack,
}

impl Action {
    /// The action's name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Action::Deploy => "deploy",
            Action::Stage => "stage",
            Action::Schedule => "schedule",
            Action::Rollback => "rollback",
            Action::Promote => "promote",
            Action::AbortCanary => "abort-canary",
            Action::CanaryPromoted => "canary-promoted",
            Action::CanaryRolledBack => "canary-rolled-back",
        }
    }

    /// Whether the action brings a package.
    pub fn receives(self) -> bool {
        matches!(self, Action::Deploy | Action::Stage | Action::Schedule)
    }
}

/// One finished operation, as the ledger records it.
#[derive(Debug)]
pub struct Entry<'a> {
    /// What was done.
    pub action: Action,
    /// To which slot (`rpc`, `execution`, `consensus`).
    pub slot: &'a str,
    /// The phases it went through, and the package it brought.
    pub attempt: &'a Attempt,
    /// What came of it: the result shown to the operator, or the refusal.
    pub outcome: Result<&'a Value, &'a Refusal>,
    /// Anything else the entry carries (the version concerned, the watch's figures).
    pub extra: Value,
}

/// The audit log and the counters, written together.
#[derive(Clone, Debug)]
pub struct Ledger {
    audit: Audit,
    metrics: Arc<Metrics>,
}

impl Ledger {
    /// Writes to `audit` and counts in `metrics`.
    pub fn new(audit: Audit, metrics: Arc<Metrics>) -> Self {
        Ledger { audit, metrics }
    }

    /// The audit log.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Writes the audit entry and the counters of a finished operation.
    pub fn record(&self, entry: Entry<'_>) {
        self.count(&entry);
        let mut line = json!({
            "action": entry.action.name(),
            "slot": entry.slot,
            "decision": if entry.outcome.is_ok() { "accepted" } else { "refused" },
        });
        if entry.action.receives() {
            line["package"] = entry.attempt.package.clone().unwrap_or(Value::Null);
        }
        match entry.outcome {
            Ok(result) if !result.is_null() => line["result"] = result.clone(),
            Ok(_) => {}
            Err(refusal) => {
                line["reason"] = json!(refusal.to_string());
                if let Some(phase) = entry.attempt.last() {
                    line["phase"] = json!(phase.name());
                }
            }
        }
        if let Value::Object(extra) = entry.extra {
            for (k, v) in extra {
                line[k] = v;
            }
        }
        self.audit.record(line);
    }

    /// The counters an operation moves, from what it is, the phases it entered and
    /// whether it succeeded.
    fn count(&self, entry: &Entry<'_>) {
        let m = &self.metrics;
        let (action, attempt) = (entry.action, entry.attempt);
        let ok = entry.outcome.is_ok();
        let refused_in = |phase| !ok && attempt.last() == Some(phase);
        let bump = |counter: &std::sync::atomic::AtomicU64, when: bool| {
            if when {
                Metrics::inc(counter);
            }
        };
        bump(&m.received, action.receives());
        bump(&m.verify_refused, refused_in(Phase::Verify));
        bump(&m.gate_runs, attempt.entered(Phase::Gate));
        bump(&m.gate_refused, refused_in(Phase::Gate));
        bump(
            &m.activations,
            ok && (attempt.entered(Phase::Activate)
                || matches!(
                    action,
                    Action::Rollback | Action::Promote | Action::CanaryPromoted
                )),
        );
        bump(&m.canaries, ok && attempt.entered(Phase::Canary));
        bump(
            &m.canary_promoted,
            ok && matches!(action, Action::Promote | Action::CanaryPromoted),
        );
        bump(
            &m.canary_rolled_back,
            (ok && action == Action::AbortCanary) || action == Action::CanaryRolledBack,
        );
        bump(&m.rollbacks, ok && action == Action::Rollback);
        bump(
            &m.staged,
            matches!(action, Action::Stage | Action::Schedule)
                && (ok || attempt.entered(Phase::Announce)),
        );
        bump(&m.scheduled, ok && action == Action::Schedule);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditError, AuditStore};
    use crate::gate::GateRefusal;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Memory(Mutex<Vec<Vec<u8>>>);

    impl AuditStore for Memory {
        fn append(&self, entry: &[u8]) -> Result<(), AuditError> {
            self.0.lock().push(entry.to_vec());
            Ok(())
        }
        fn last(&self, limit: usize) -> Result<Vec<Vec<u8>>, AuditError> {
            let all = self.0.lock();
            Ok(all[all.len().saturating_sub(limit)..].to_vec())
        }
    }

    fn ledger() -> Ledger {
        Ledger::new(
            Audit::new(Arc::new(Memory::default())),
            Arc::new(Metrics::default()),
        )
    }

    #[test]
    fn one_record_writes_the_entry_and_the_counters_of_where_an_attempt_stopped() {
        let ledger = ledger();
        // Refused by the gate: received, the gate ran and refused.
        let mut attempt = Attempt::default();
        let refused = attempt
            .run(Phase::Verify, || Ok(()))
            .and_then(|()| {
                attempt.run(Phase::Gate, || {
                    Err::<(), _>(GateRefusal::Differs("block 3".into()).into())
                })
            })
            .unwrap_err();
        assert!(matches!(refused, Refusal::Gate(GateRefusal::Differs(_))));
        assert_eq!(attempt.last(), Some(Phase::Gate));
        ledger.record(Entry {
            action: Action::Stage,
            slot: "execution",
            attempt: &attempt,
            outcome: Err(&refused),
            extra: Value::Null,
        });
        // Accepted and activated.
        let mut attempt = Attempt::default();
        attempt.run(Phase::Gate, || Ok(())).unwrap();
        attempt.run(Phase::Activate, || Ok(())).unwrap();
        ledger.record(Entry {
            action: Action::Deploy,
            slot: "rpc",
            attempt: &attempt,
            outcome: Ok(&json!({"activated": true})),
            extra: Value::Null,
        });
        // The watch rolls a canary back.
        ledger.record(Entry {
            action: Action::CanaryRolledBack,
            slot: "rpc",
            attempt: &Attempt::default(),
            outcome: Err(&Refusal::Watch("a live call failed".into())),
            extra: json!({"module": {"name": "echo"}}),
        });

        let m = ledger.metrics().snapshot();
        assert_eq!(m["packages_received"], 2);
        assert_eq!(m["gate_runs"], 2);
        assert_eq!(m["gate_refused"], 1);
        assert_eq!(m["verify_refused"], 0);
        assert_eq!(m["staged"], 0);
        assert_eq!(m["activations"], 1);
        assert_eq!(m["canary_rolled_back"], 1);

        let log = ledger.audit().entries(10).unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(log[0]["action"], "stage");
        assert_eq!(log[0]["decision"], "refused");
        assert_eq!(log[0]["phase"], "gate");
        assert_eq!(log[0]["reason"], "refused by the gate: block 3");
        assert_eq!(log[1]["decision"], "accepted");
        assert_eq!(log[1]["result"]["activated"], true);
        assert_eq!(log[2]["action"], "canary-rolled-back");
        assert_eq!(log[2]["decision"], "refused");
        assert_eq!(log[2]["module"]["name"], "echo");
        assert!(log.iter().all(|e| e["time"].is_u64()));
    }
}
