//! The router's audit log: every deployment, refusal, promotion and rollback, with
//! who signed what, the gate's figures and the reason, kept in the node's database.

use serde_json::{Value, json};

use molt_storage::Db;

/// Appends to and reads the audit log.
#[derive(Clone, Debug)]
pub struct Audit {
    db: Db,
}

impl Audit {
    /// The log in `db`.
    pub fn new(db: Db) -> Self {
        Audit { db }
    }

    /// Records `entry` (an object), stamped with the time.
    pub fn record(&self, mut entry: Value) {
        entry["time"] = json!(super::clock::now());
        if let Err(e) = self.db.append_audit(entry.to_string().as_bytes()) {
            tracing::error!(target: "molt::admin", "could not write the audit log: {e}");
        }
    }

    /// The last `limit` entries, oldest first.
    pub fn entries(&self, limit: usize) -> Result<Vec<Value>, String> {
        self.db
            .audit_log(limit)
            .map_err(|e| e.to_string())?
            .iter()
            .map(|e| serde_json::from_slice(e).map_err(|e| e.to_string()))
            .collect()
    }
}

/// What a package says about itself, before anything is trusted: digest, manifest and
/// signer, as far as they decode.
pub fn describe(wasm: &[u8]) -> Value {
    match molt_upgrade_proxy::package::Package::parse(wasm.to_vec()) {
        Ok(p) => json!({
            "digest": hex::encode(p.digest),
            "name": p.manifest.as_ref().ok().map(|m| m.name.clone()),
            "version": p.manifest.as_ref().ok().map(|m| m.version.clone()),
            "kind": p.manifest.as_ref().ok().map(|m| m.kind.to_string()),
            "signer": p.signature.as_ref().ok().map(|s| hex::encode(s.signer.to_bytes())),
        }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}
