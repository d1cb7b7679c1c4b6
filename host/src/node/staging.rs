//! The node's [`ModuleStore`]: the signed packages staged in `<datadir>/modules`,
//! verified against the module publishers named in genesis (the upgrade contract's
//! storage) and loaded into the runtime when the chain asks for the module an upgrade
//! announcement names.

use std::sync::Arc;

use alloy_primitives::B256;
use molt_abi::Kind;
use molt_chain::upgrades::{ModuleStore, Staged, Unavailable, Upgrade, is_publisher};
use molt_runtime::{Engine, Runtime};
use molt_storage::Db;
use molt_upgrade_proxy::audit::Audit;
use molt_upgrade_proxy::package::{Package, Verified, Verifier};
use molt_upgrade_proxy::refusal::Refusal;
use molt_upgrade_proxy::registry::SlotFiles;
use molt_upgrade_proxy::router::VersionInfo;
use serde_json::json;

/// Staged packages, by digest.
pub struct Staging {
    files: SlotFiles,
    db: Db,
    runtime: Arc<Runtime>,
    audit: Audit,
    grants: super::ModuleGrants,
}

impl Staging {
    /// Packages kept in `files`, trusted if signed by a publisher the chain in `db`
    /// names, loaded into `runtime`; announcements the chain commits are recorded in
    /// `audit`, with the capabilities the operator `grants`.
    pub fn new(
        files: SlotFiles,
        db: Db,
        runtime: Arc<Runtime>,
        audit: Audit,
        grants: super::ModuleGrants,
    ) -> Self {
        Staging {
            files,
            db,
            runtime,
            audit,
            grants,
        }
    }

    /// Verifies an execution or consensus package: signed (untampered) by a publisher
    /// named in genesis, of kind `expected` if given, no downgrade against `history`.
    pub fn verify(
        &self,
        package: Package,
        expected: Option<Kind>,
        history: &[VersionInfo],
    ) -> Result<Verified, Refusal> {
        let signer = package.signature.as_ref().ok().map(|s| s.signer);
        let mut trusted = Vec::new();
        if let Some(key) = signer
            && is_publisher(&self.db, key.as_bytes()).map_err(|e| Refusal::Node(e.to_string()))?
        {
            trusted.push(key);
        }
        Ok(Verifier::new(trusted).verify(package, expected, history)?)
    }

    /// Loads a verified execution or consensus package.
    pub fn stage(&self, verified: &Verified) -> Result<Staged, Refusal> {
        let grants = (self.grants)
            .of(&verified.manifest)
            .map_err(|e| Refusal::Node(e.to_string()))?;
        let loaded = self
            .runtime
            .load(&verified.manifest, &verified.bytes, &grants)
            .map_err(|e| Refusal::Compile(e.to_string()))?;
        let info = verified.info();
        match verified.manifest.kind {
            Kind::Execution => Ok(Staged::Execution(Engine::Wasm(loaded), info)),
            Kind::Consensus => Ok(Staged::Consensus(Engine::Wasm(loaded), info)),
            Kind::Rpc => Err(Refusal::WrongRoute(
                "an rpc module cannot be scheduled at a height".into(),
            )),
        }
    }
}

impl ModuleStore for Staging {
    fn load(&self, digest: &B256) -> Result<Staged, Unavailable> {
        let hex = hex::encode(digest);
        let bytes = self.files.package(&hex).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Unavailable::NotStaged,
            _ => Unavailable::Unreadable(e.to_string()),
        })?;
        let refused = |e: Refusal| Unavailable::Refused(e.to_string());
        let package = Package::parse(bytes).map_err(|e| refused(e.into()))?;
        if package.digest != digest.0 {
            return Err(Unavailable::OtherDigest(hex));
        }
        let verified = self.verify(package, None, &[]).map_err(refused)?;
        self.stage(&verified).map_err(refused)
    }

    fn announced(&self, upgrade: &Upgrade) {
        let a = &upgrade.announcement;
        let mut entry = json!({
            "action": "announced", "height": a.height, "digest": hex::encode(a.digest),
            "block": a.block, "transaction": a.tx, "authority": a.authority,
        });
        match &upgrade.module {
            Ok(m) => {
                entry["slot"] = json!(m.kind().to_string());
                entry["module"] = json!({"name": m.info().name, "version": m.info().version});
                entry["decision"] = json!("scheduled");
            }
            Err(reason) => {
                entry["decision"] = json!("unresolved");
                entry["reason"] = json!(format!(
                    "{reason}: the chain stops at block {} until it is staged",
                    a.height
                ));
            }
        }
        self.audit.record(entry);
    }
}
