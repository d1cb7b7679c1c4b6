//! The router's audit log: every deployment, refusal, promotion, rollback and
//! announcement, with who signed what, the gate's figures and the reason, appended to
//! a store the node provides ([`AuditStore`]: the node's database).

use std::sync::Arc;

use serde_json::{Value, json};

/// Where the audit log is kept: an append-only list of JSON entries.
pub trait AuditStore: Send + Sync {
    /// Appends one entry.
    fn append(&self, entry: &[u8]) -> Result<(), AuditError>;
    /// The last `limit` entries, oldest first.
    fn last(&self, limit: usize) -> Result<Vec<Vec<u8>>, AuditError>;
}

/// The store failed, or holds an entry that is not JSON.
#[derive(Debug, thiserror::Error)]
#[error("audit log: {0}")]
pub struct AuditError(pub String);

/// Appends to and reads the audit log.
#[derive(Clone)]
pub struct Audit {
    store: Arc<dyn AuditStore>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit").finish_non_exhaustive()
    }
}

impl Audit {
    /// The log in `store`.
    pub fn new(store: Arc<dyn AuditStore>) -> Self {
        Audit { store }
    }

    /// Records `entry` (an object), stamped with the time (unix seconds).
    pub fn record(&self, mut entry: Value) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        entry["time"] = json!(now);
        if let Err(e) = self.store.append(entry.to_string().as_bytes()) {
            tracing::error!(target: "molt::admin", "could not write the audit log: {e}");
        }
    }

    /// The last `limit` entries, oldest first.
    pub fn entries(&self, limit: usize) -> Result<Vec<Value>, AuditError> {
        self.store
            .last(limit)?
            .iter()
            .map(|e| serde_json::from_slice(e).map_err(|e| AuditError(e.to_string())))
            .collect()
    }
}

/// What a package says about itself, before anything is trusted: digest, manifest and
/// signer, as far as they decode.
pub fn describe(p: &crate::package::Package) -> Value {
    json!({
        "digest": hex::encode(p.digest),
        "name": p.manifest.as_ref().ok().map(|m| m.name.clone()),
        "version": p.manifest.as_ref().ok().map(|m| m.version.clone()),
        "kind": p.manifest.as_ref().ok().map(|m| m.kind.to_string()),
        "signer": p.signature.as_ref().ok().map(|s| hex::encode(s.signer.to_bytes())),
    })
}
