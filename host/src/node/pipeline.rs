//! This node's upgrade pipeline, phase by phase ([`molt_upgrade_proxy::pipeline`]):
//!
//! ```text
//!  deploy (rpc):        receive ─▶ verify ─▶ compile ─▶ gate ─▶ migrate ─▶ keep ─▶ activate | canary
//!  stage (exec, cons):  receive ─▶ verify ─▶ compile ─▶ migrate ─▶ gate ─▶ keep
//!  schedule:            stage ─▶ announce (an upgrade transaction: from a height on)
//! ```
//!
//! Each phase is a function returning a [`Refusal`], run inside the operation's
//! [`Attempt`]; the admin API records the attempt once it ends. The watch and the
//! rollback of the rpc slot are in `node::rpc` and the admin API.

use alloy_primitives::B256;
use molt_abi::Kind;
use molt_abi::interface::MIGRATE_EXPORT;
use molt_chain::upgrades::Staged;
use molt_runtime::{CallError, Engine, LoadedModule};
use molt_upgrade_proxy::package::Verified;
use molt_upgrade_proxy::pipeline::{Attempt, Phase};
use molt_upgrade_proxy::refusal::Refusal;
use molt_upgrade_proxy::router::{Version, VersionInfo};
use serde_json::{Value, json};

use super::admin::{Activation, Admin};
use super::gate;

impl Admin {
    /// Deploys an rpc module: verified against the node's keys and the slot's history,
    /// gated next to the active version, migrated, kept, then active (or a canary).
    pub(super) fn deploy(
        &self,
        attempt: &mut Attempt,
        wasm: Vec<u8>,
        canary: Option<u8>,
    ) -> Result<Value, Refusal> {
        let package = attempt.receive(wasm)?;
        // The verifier names what is wrong (unsigned first); the kind decides the path.
        let kind = attempt.kind().unwrap_or(Kind::Rpc);
        if kind != Kind::Rpc {
            // Refuse what is unsigned or tampered for that reason first.
            attempt.run(Phase::Verify, || {
                Ok(self.p.verifier.verify(package, Some(kind), &[])?)
            })?;
            return Err(Refusal::WrongRoute(format!(
                "{kind} modules change only at a block height, the same on every node: \
                 use `molt module schedule FILE --height H`"
            )));
        }
        let active = self.p.rpc.active();
        let mut history = self.p.files.history("rpc");
        history.extend([active.info.clone(), self.p.builtins.rpc.clone()]);
        let verified = attempt.run(Phase::Verify, || {
            Ok(self.p.verifier.verify(package, Some(kind), &history)?)
        })?;
        let loaded = attempt.run(Phase::Compile, || self.compile(&verified))?;
        let candidate = Engine::Wasm(loaded.clone());
        let measured = |f| {
            self.p
                .ledger
                .metrics()
                .gate_measured("rpc", &verified.manifest.version, f)
        };
        let figures = attempt.run(Phase::Gate, || {
            Ok(gate::rpc(
                &self.p.queries,
                &self.p.sample,
                &active.module,
                &candidate,
                &self.p.budget,
                &measured,
            )?)
        })?;
        // The migration hook, once, before the candidate takes traffic.
        attempt.run(Phase::Migrate, || migrate(&loaded, &active.info))?;
        let info = verified.info();
        attempt.run(Phase::Keep, || self.keep(&verified))?;
        let version = Version {
            info: info.clone(),
            module: candidate,
        };
        match canary {
            Some(percent) => attempt.run(Phase::Canary, || {
                Ok(self.p.rpc.start_canary(version, percent)?)
            })?,
            None => attempt.run(Phase::Activate, || {
                self.p.rpc.activate(version);
                self.record_active();
                Ok(())
            })?,
        }
        tracing::info!(
            target: "molt::admin",
            module = %info.name, version = %info.version, digest = %info.digest,
            ?canary, "rpc module deployed"
        );
        Ok(json!({
            "slot": "rpc",
            "activated": info,
            "canaryPercent": canary,
            "gate": figures,
        }))
    }

    /// Stages an execution or consensus module: signed by a publisher named in
    /// genesis, no downgrade from the newest version the chain knows, migrated, its
    /// recent blocks replayed next to the version in force, and kept: from then on an
    /// upgrade announcement naming its digest can activate it.
    pub(super) fn stage(
        &self,
        attempt: &mut Attempt,
        wasm: Vec<u8>,
    ) -> Result<(Staged, Value), Refusal> {
        let package = attempt.receive(wasm)?;
        let kind = attempt.kind().unwrap_or(Kind::Execution);
        if kind == Kind::Rpc {
            return Err(Refusal::WrongRoute(
                "rpc modules swap at once: use `molt module deploy`".into(),
            ));
        }
        let history: Vec<VersionInfo> = self.versions(kind).into_iter().map(|(_, i)| i).collect();
        let newest = history
            .iter()
            .filter_map(|i| Some((semver::Version::parse(&i.version).ok()?, i.clone())))
            .max_by(|a, b| a.0.cmp(&b.0));
        // Signed by a publisher named in genesis, not the node's own trust.
        let verified = attempt.run(Phase::Verify, || {
            self.p.staging.verify(package, Some(kind), &history)
        })?;
        let staged = attempt.run(Phase::Compile, || self.p.staging.stage(&verified))?;
        // The migration hook runs here, not at the activation height: activation is a
        // chain event that cannot fail on one node alone.
        if let (Some((_, previous)), Some(module)) = (&newest, staged.wasm()) {
            attempt.run(Phase::Migrate, || migrate(module, previous))?;
        }
        let figures = attempt.run(Phase::Gate, || {
            Ok(match &staged {
                Staged::Execution(candidate, _) => {
                    let measured = |f| {
                        let version = &verified.manifest.version;
                        self.p
                            .ledger
                            .metrics()
                            .gate_measured("execution", version, f)
                    };
                    gate::execution(&self.p.chain, candidate, &self.p.budget, &measured)?
                }
                Staged::Consensus(candidate, _) => gate::consensus(&self.p.chain, candidate)?,
            })
        })?;
        attempt.run(Phase::Keep, || self.keep(&verified))?;
        Ok((staged, figures))
    }

    /// Stages a module, then announces on the chain that it handles every block from
    /// its activation height on.
    pub(super) fn schedule(
        &self,
        attempt: &mut Attempt,
        wasm: Vec<u8>,
        when: Activation,
    ) -> Result<Value, Refusal> {
        let above_next = |height: u64| {
            let next = self.p.chain.head_number() + 1;
            match height > next {
                true => Ok(height),
                false => Err(Refusal::Request(format!(
                    "activation height {height} must be above the next block ({next}): the \
                     announcement itself goes into that block"
                ))),
            }
        };
        if let Activation::At(height) = when {
            above_next(height)?;
        }
        let (staged, figures) = self.stage(attempt, wasm)?;
        let info = staged.info();
        let (height, announced) = attempt.run(Phase::Announce, || {
            // Relative to the head once the gate has run (it takes seconds, and a dev
            // chain may produce many blocks meanwhile).
            let height = match when {
                Activation::At(height) => height,
                Activation::After(blocks) => {
                    above_next(self.p.chain.head_number().saturating_add(blocks))?
                }
            };
            let digest: B256 = info
                .digest
                .parse()
                .map_err(|e| Refusal::Node(format!("digest: {e}")))?;
            let announced =
                molt_chain::announce::announce(&self.p.chain, &self.p.accounts, &digest, height)
                    .map_err(|e| Refusal::Node(e.to_string()))?;
            Ok((height, announced))
        })?;
        Ok(json!({
            "slot": staged.kind().to_string(), "height": height,
            "scheduled": info,
            "announcement": announced,
            "gate": figures,
        }))
    }

    /// **Compile**: loads a verified package into the runtime.
    fn compile(&self, verified: &Verified) -> Result<LoadedModule, Refusal> {
        let grants = (self.p.grants)
            .of(&verified.manifest)
            .map_err(|e| Refusal::Node(e.to_string()))?;
        self.p
            .runtime
            .load(&verified.manifest, &verified.bytes, &grants)
            .map_err(|e| Refusal::Compile(e.to_string()))
    }

    /// **Keep**: the package on disk, under its digest.
    fn keep(&self, verified: &Verified) -> Result<(), Refusal> {
        self.p
            .files
            .save_package(&hex::encode(verified.digest), &verified.bytes)
            .map_err(Refusal::Keep)
    }
}

/// **Migrate**: calls a module's optional `molt_migrate` with the version it replaces;
/// its failure refuses the module.
fn migrate(module: &LoadedModule, previous: &VersionInfo) -> Result<(), Refusal> {
    let previous = json!(previous).to_string();
    match module.call(MIGRATE_EXPORT, previous.as_bytes()) {
        Ok(_) | Err(CallError::NoEntry(_)) => Ok(()),
        Err(e) => Err(Refusal::Migrate(e.to_string())),
    }
}
