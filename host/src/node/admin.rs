//! The admin API (off by default; its own port; a bearer token): the operator's
//! interface to the router. JSON-RPC methods:
//!
//! - `molt_moduleStatus` → each slot's active, previous and canary versions;
//! - `molt_moduleLog [limit?]` → the audit log, oldest first;
//! - `molt_metrics` → the router's counters (also `GET /metrics` in Prometheus' text
//!   format, with the chain head and each slot's active version);
//! - `molt_deployModule [wasmHex, canaryPercent?]` → verify, load, gate, then activate
//!   (or start a canary);
//! - `molt_rollback [slot]`, `molt_promoteCanary [slot]`, `molt_abortCanary [slot]`;
//! - `molt_stageModule [wasmHex]` → verify an execution or consensus module, replay
//!   recent blocks with it (identical outputs required) and keep it, ready for an
//!   upgrade announcement that names its digest;
//! - `molt_scheduleModule [wasmHex, height | {"after": blocks}]` → stage it, then
//!   announce it on the chain
//!   (the upgrade transaction, signed by an upgrade authority whose key the node holds)
//!   to handle every block from `height` on.
//!
//! Only the `rpc` slot swaps at a node-local moment. `execution` and `consensus` change
//! at a block height written on the chain ([`crate::chain::upgrades`]), so block h is
//! executed and decided by the same code wherever and whenever that happens.

use std::sync::Arc;

use molt_abi::Kind;
use molt_abi::interface::MIGRATE_EXPORT;
use molt_upgrade_proxy::package::{Package, Verifier};
use molt_upgrade_proxy::router::{Version, VersionInfo};
use serde_json::{Value, json};

use super::audit::{Audit, describe};
use super::gate;
use super::metrics::Metrics;
use super::rpc::{RpcEngine, RpcSlot, Sample};
use super::slots::SlotFiles;
use super::staging::Staging;
use crate::chain::driver::Chain;
use crate::chain::upgrades::Staged;
use crate::http::RpcHandler;
use crate::signer::Signer;
use molt_runtime::services::ChainService;
use molt_runtime::{CallError, Grants, LoadedModule, Runtime};
use molt_upgrade_proxy::budget::Budget;

/// What the admin API works on.
pub struct AdminParts {
    /// Loads candidates.
    pub runtime: Arc<Runtime>,
    /// Decides which packages may run (the node's trusted keys).
    pub verifier: Verifier,
    /// The rpc slot.
    pub rpc: Arc<RpcSlot>,
    /// The chain queries rpc candidates answer from (for the gate).
    pub queries: Arc<dyn ChainService>,
    /// The chain (execution schedule, replays).
    pub chain: Arc<Chain>,
    /// Where deployed packages and slot choices are kept.
    pub files: SlotFiles,
    /// Loads staged execution and consensus packages.
    pub staging: Arc<Staging>,
    /// The audit log.
    pub audit: Audit,
    /// The built-in execution and consensus versions (in force from genesis).
    pub builtins: [VersionInfo; 2],
    /// The built-in rpc version.
    pub builtin_rpc: VersionInfo,
    /// The node's unlocked accounts (one may be an upgrade authority).
    pub accounts: Vec<Signer>,
    /// Recent live requests, replayed by the rpc gate.
    pub sample: Arc<Sample>,
    /// The router's counters.
    pub metrics: Arc<Metrics>,
    /// The gate's red lines.
    pub budget: Budget,
}

/// The admin API's handler.
pub struct Admin {
    p: AdminParts,
}

impl Admin {
    /// The admin API over `parts`.
    pub fn new(parts: AdminParts) -> Self {
        Admin { p: parts }
    }

    /// The versions of `kind` the chain knows: the built-in (from genesis), then each
    /// announced one this node can run, as `(activation height, version)`.
    fn versions(&self, kind: Kind) -> Vec<(u64, VersionInfo)> {
        let builtin = match kind {
            Kind::Consensus => &self.p.builtins[1],
            _ => &self.p.builtins[0],
        };
        let mut versions = vec![(0, builtin.clone())];
        for u in self.p.chain.upgrades() {
            if let Ok(m) = &u.module
                && m.kind() == kind
            {
                versions.push((u.announcement.height, m.info().clone()));
            }
        }
        versions
    }

    /// Verifies a signed execution or consensus module (signed by a publisher named in
    /// genesis, no downgrade from the newest version the chain knows), replays recent blocks with it and keeps its package:
    /// from then on an upgrade announcement naming its digest can activate it.
    fn stage(&self, wasm: &[u8]) -> Result<(Staged, Value), String> {
        let package = Package::parse(wasm.to_vec()).map_err(|e| e.to_string())?;
        let kind = package
            .manifest
            .as_ref()
            .map_or(Kind::Execution, |m| m.kind);
        if kind == Kind::Rpc {
            return Err("rpc modules swap at once: use `molt module deploy`".into());
        }
        let history: Vec<VersionInfo> = self.versions(kind).into_iter().map(|(_, i)| i).collect();
        let newest = history
            .iter()
            .filter_map(|i| Some((semver::Version::parse(&i.version).ok()?, i.clone())))
            .max_by(|a, b| a.0.cmp(&b.0));
        // Signed by a publisher named in genesis, not the node's own trust.
        let verified = self
            .p
            .staging
            .verify(package, Some(kind), &history)
            .map_err(|e| self.refused_by_verifier(e))?;
        let staged = self.p.staging.stage(&verified)?;
        // The migration hook runs here, not at the activation height: activation is a
        // chain event that cannot fail on one node alone.
        if let (Some((_, previous)), Some(module)) = (&newest, staged.wasm()) {
            migrate(module, previous)?;
        }
        let figures = match &staged {
            Staged::Execution(candidate, _) => {
                self.gated(|| gate::execution(&self.p.chain, candidate, &self.p.budget))?
            }
            Staged::Consensus(candidate, _) => {
                self.gated(|| gate::consensus(&self.p.chain, candidate))?
            }
        };
        self.p
            .files
            .save_package(&staged.info().digest, wasm)
            .map_err(|e| format!("keeping the package: {e}"))?;
        Metrics::inc(&self.p.metrics.staged);
        Ok((staged, figures))
    }

    /// Stages a module, then announces on the chain that it handles every block from
    /// `height` on.
    fn schedule(&self, wasm: &[u8], when: Activation) -> Result<Value, String> {
        let above_next = |height: u64| {
            let next = self.p.chain.head_number() + 1;
            match height > next {
                true => Ok(height),
                false => Err(format!(
                    "activation height {height} must be above the next block ({next}): the \
                     announcement itself goes into that block"
                )),
            }
        };
        if let Activation::At(height) = when {
            above_next(height)?;
        }
        let (staged, figures) = self.stage(wasm)?;
        // Relative to the head once the gate has run (it takes seconds, and a dev chain
        // may produce many blocks meanwhile).
        let height = match when {
            Activation::At(height) => height,
            Activation::After(blocks) => {
                above_next(self.p.chain.head_number().saturating_add(blocks))?
            }
        };
        let info = staged.info();
        let digest: alloy_primitives::B256 =
            info.digest.parse().map_err(|e| format!("digest: {e}"))?;
        let announced =
            super::announce::announce(&self.p.chain, &self.p.accounts, &digest, height)?;
        Metrics::inc(&self.p.metrics.scheduled);
        Ok(json!({
            "slot": staged.kind().to_string(), "height": height,
            "scheduled": info,
            "announcement": announced,
            "gate": figures,
        }))
    }

    /// Counts a verifier refusal and words it.
    fn refused_by_verifier(&self, e: impl std::fmt::Display) -> String {
        Metrics::inc(&self.p.metrics.verify_refused);
        e.to_string()
    }

    /// Runs a gate, counting runs and refusals.
    fn gated<T>(&self, gate: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        Metrics::inc(&self.p.metrics.gate_runs);
        gate().inspect_err(|_| Metrics::inc(&self.p.metrics.gate_refused))
    }

    /// Persists which rpc version is active now.
    fn record(&self) {
        self.p.files.record_active("rpc", &self.p.rpc.active().info);
    }

    fn status(&self) -> Value {
        let rpc = self.p.rpc.state();
        let mut slots = json!({
            "rpc": {
                "active": rpc.active.info,
                "previous": rpc.previous.as_ref().map(|p| &p.info),
                "canary": rpc.canary.as_ref().map(|c| json!({"version": c.version.info, "percent": c.percent})),
            }
        });
        let head = self.p.chain.head_number();
        for kind in [Kind::Execution, Kind::Consensus] {
            let versions = self.versions(kind);
            let active = versions
                .iter()
                .filter(|(h, _)| *h <= head)
                .max_by_key(|(h, _)| *h);
            slots[kind.to_string()] = json!({
                "active": active.map(|(h, i)| json!({"name": i.name, "version": i.version, "digest": i.digest, "since": h})),
                "schedule": versions.iter().map(|(h, i)| json!({"height": h, "name": i.name, "version": i.version, "digest": i.digest})).collect::<Vec<_>>(),
            });
        }
        // Announcements naming a module this node cannot run: the chain stops at their
        // height until the package is staged.
        slots["unresolved"] = self
            .p
            .chain
            .upgrades()
            .iter()
            .filter_map(|u| {
                let reason = u.module.as_ref().err()?;
                let a = &u.announcement;
                Some(json!({"height": a.height, "digest": a.digest, "transaction": a.tx, "reason": reason}))
            })
            .collect();
        slots
    }

    fn deploy(&self, wasm: &[u8], canary: Option<u8>) -> Result<Value, String> {
        let package = Package::parse(wasm.to_vec()).map_err(|e| e.to_string())?;
        // The verifier names what is wrong (unsigned first); the kind decides the path.
        let kind = package.manifest.as_ref().map_or(Kind::Rpc, |m| m.kind);
        if kind != Kind::Rpc {
            // Refuse what is unsigned or tampered for that reason first.
            self.p
                .verifier
                .verify(package, Some(kind), &[])
                .map_err(|e| self.refused_by_verifier(e))?;
            return Err(format!(
                "{kind} modules change only at a block height, the same on every node: \
                 use `molt module schedule FILE --height H`"
            ));
        }
        let active = self.p.rpc.active();
        let mut history = self.p.files.history("rpc");
        history.extend([active.info.clone(), self.p.builtin_rpc.clone()]);
        let verified = self
            .p
            .verifier
            .verify(package, Some(kind), &history)
            .map_err(|e| self.refused_by_verifier(e))?;
        let loaded = self
            .p
            .runtime
            .load(&verified.manifest, &verified.bytes, &Grants::default())
            .map_err(|e| e.to_string())?;
        let candidate = RpcEngine::Wasm(loaded.clone());
        let figures = self.gated(|| {
            gate::rpc(
                &self.p.queries,
                &self.p.sample,
                &active.module,
                &candidate,
                &self.p.budget,
            )
        })?;
        // The migration hook, once, before the candidate takes traffic.
        migrate(&loaded, &active.info)?;
        let version = Version {
            info: VersionInfo {
                name: verified.manifest.name.clone(),
                version: verified.manifest.version.clone(),
                digest: hex::encode(verified.digest),
            },
            module: candidate,
        };
        let info = version.info.clone();
        self.p
            .files
            .save_package(&info.digest, wasm)
            .map_err(|e| format!("keeping the package: {e}"))?;
        match canary {
            Some(percent) => self
                .p
                .rpc
                .start_canary(version, percent)
                .map(|()| Metrics::inc(&self.p.metrics.canaries))
                .map_err(|e| e.to_string())?,
            None => {
                self.p.rpc.activate(version);
                Metrics::inc(&self.p.metrics.activations);
                self.record();
            }
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

    /// Runs an admin method and records what it changed (or refused) in the audit log.
    fn dispatch(&self, method: &str, params: &[Value]) -> Result<Value, String> {
        if matches!(
            method,
            "molt_deployModule" | "molt_scheduleModule" | "molt_stageModule"
        ) {
            Metrics::inc(&self.p.metrics.received);
        }
        let result = self.run(method, params);
        let action = match method {
            "molt_deployModule" => "deploy",
            "molt_scheduleModule" => "schedule",
            "molt_stageModule" => "stage",
            "molt_rollback" => "rollback",
            "molt_promoteCanary" => "promote",
            "molt_abortCanary" => "abort-canary",
            _ => return result,
        };
        let package = match (action, params.first().and_then(Value::as_str)) {
            ("deploy" | "schedule" | "stage", Some(h)) => hex::decode(h.trim_start_matches("0x"))
                .map(|w| describe(&w))
                .unwrap_or(Value::Null),
            _ => Value::Null,
        };
        // The slot: the package's kind, else the one named (rollback, canary).
        let slot = package
            .get("kind")
            .and_then(Value::as_str)
            .or_else(|| {
                params
                    .first()
                    .and_then(Value::as_str)
                    .filter(|_| package.is_null())
            })
            .unwrap_or("rpc")
            .to_string();
        let mut entry = json!({
            "action": action, "slot": slot, "package": package,
            "decision": if result.is_ok() { "accepted" } else { "refused" },
        });
        match &result {
            Ok(v) => entry["result"] = v.clone(),
            Err(reason) => entry["reason"] = json!(reason),
        }
        self.p.audit.record(entry);
        result
    }

    fn run(&self, method: &str, params: &[Value]) -> Result<Value, String> {
        let slot = || -> Result<(), String> {
            match params.first().and_then(Value::as_str) {
                Some("rpc") => Ok(()),
                Some(other) => Err(format!("slot {other} cannot be changed from here")),
                None => Err("which slot? (rpc)".into()),
            }
        };
        match method {
            "molt_moduleStatus" => Ok(self.status()),
            "molt_metrics" => Ok(self.p.metrics.snapshot()),
            "molt_moduleLog" => {
                let limit = params.first().and_then(Value::as_u64).unwrap_or(100);
                Ok(Value::Array(self.p.audit.entries(limit as usize)?))
            }
            "molt_deployModule" => {
                let wasm = module_param(params, "params: [module as 0x-hex, canary percent?]")?;
                let canary = match params.get(1) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        v.as_u64()
                            .and_then(|p| u8::try_from(p).ok())
                            .ok_or("canary percent must be 1-100")?,
                    ),
                };
                self.deploy(&wasm, canary)
            }
            "molt_stageModule" => {
                let wasm = module_param(params, "params: [module as 0x-hex]")?;
                let (staged, figures) = self.stage(&wasm)?;
                let i = staged.info();
                Ok(json!({
                    "slot": staged.kind().to_string(),
                    "staged": i,
                    "gate": figures,
                }))
            }
            "molt_scheduleModule" => {
                let wasm = module_param(
                    params,
                    r#"params: [module as 0x-hex, height or {"after": blocks}]"#,
                )?;
                let when = match params.get(1) {
                    Some(Value::Object(o)) => o
                        .get("after")
                        .and_then(Value::as_u64)
                        .map(Activation::After),
                    Some(v) => v.as_u64().map(Activation::At),
                    None => None,
                }
                .ok_or(r#"the activation must be a height or {"after": blocks}"#)?;
                self.schedule(&wasm, when)
            }
            "molt_rollback" => {
                slot()?;
                let v = self.p.rpc.rollback().map_err(|e| e.to_string())?;
                Metrics::inc(&self.p.metrics.rollbacks);
                Metrics::inc(&self.p.metrics.activations);
                self.record();
                Ok(json!({"active": {"name": v.info.name, "version": v.info.version}}))
            }
            "molt_promoteCanary" => {
                slot()?;
                let v = self.p.rpc.promote_canary().map_err(|e| e.to_string())?;
                Metrics::inc(&self.p.metrics.canary_promoted);
                Metrics::inc(&self.p.metrics.activations);
                self.record();
                Ok(json!({"active": {"name": v.info.name, "version": v.info.version}}))
            }
            "molt_abortCanary" => {
                slot()?;
                self.p.rpc.abort_canary().map_err(|e| e.to_string())?;
                Metrics::inc(&self.p.metrics.canary_rolled_back);
                Ok(Value::Null)
            }
            other => Err(format!("unknown admin method {other}")),
        }
    }
}

/// The module package in `params[0]` (0x-hex); `usage` if it is missing.
fn module_param(params: &[Value], usage: &str) -> Result<Vec<u8>, String> {
    let hex = params.first().and_then(Value::as_str).ok_or(usage)?;
    hex::decode(hex.trim_start_matches("0x")).map_err(|e| format!("module is not hex: {e}"))
}

/// When a scheduled module takes over.
#[derive(Clone, Copy, Debug)]
enum Activation {
    /// At this block height.
    At(u64),
    /// This many blocks after the head at the time of the announcement.
    After(u64),
}

/// Calls a module's optional `molt_migrate` with the version it replaces; its failure
/// refuses the module.
fn migrate(module: &LoadedModule, previous: &VersionInfo) -> Result<(), String> {
    let previous = json!({
        "name": previous.name, "version": previous.version, "digest": previous.digest,
    });
    match module.call(MIGRATE_EXPORT, previous.to_string().as_bytes()) {
        Ok(_) | Err(CallError::NoEntry(_)) => Ok(()),
        Err(e) => Err(format!("refused: {MIGRATE_EXPORT} failed: {e}")),
    }
}

impl Admin {
    /// Prometheus' text format: the router's counters, the chain's head, and one
    /// `molt_module_info` series per active version.
    fn prometheus(&self) -> String {
        let mut extra = format!(
            "# HELP molt_chain_head Number of the last committed block.\n\
             # TYPE molt_chain_head gauge\nmolt_chain_head {}\n\
             # HELP molt_module_info The version each slot serves (value 1).\n\
             # TYPE molt_module_info gauge\n",
            self.p.chain.head_number()
        );
        let status = self.status();
        for slot in ["rpc", "execution", "consensus"] {
            let active = &status[slot]["active"];
            let label = |k: &str| {
                active[k]
                    .as_str()
                    .unwrap_or_default()
                    .replace(['"', '\\', '\n'], "")
            };
            extra.push_str(&format!(
                "molt_module_info{{slot=\"{slot}\",name=\"{}\",version=\"{}\",digest=\"{}\"}} 1\n",
                label("name"),
                label("version"),
                label("digest")
            ));
        }
        self.p.metrics.prometheus(&extra)
    }
}

impl RpcHandler for Admin {
    fn get(&self, path: &str) -> Option<(&'static str, Vec<u8>)> {
        (path == "/metrics").then(|| {
            (
                "text/plain; version=0.0.4; charset=utf-8",
                self.prometheus().into_bytes(),
            )
        })
    }

    fn handle(&self, body: &[u8]) -> Vec<u8> {
        let request: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return crate::http::error_body(-32700, &format!("parse error: {e}")),
        };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let params = request
            .get("params")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let response = match self.dispatch(method, &params) {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(message) => json!({
                "jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": message}
            }),
        };
        response.to_string().into_bytes()
    }
}
