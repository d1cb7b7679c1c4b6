//! The admin API (off by default; its own port; a bearer token): the operator's
//! interface to the router. JSON-RPC methods:
//!
//! - `molt_moduleStatus` → each slot's active, previous and canary versions;
//! - `molt_moduleLog [limit?]` → the audit log, oldest first;
//! - `molt_chaos [faults?, seed?]` → replace the faults injected into module calls
//!   (`molt_runtime::chaos`), answer those in force;
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
//! at a block height written on the chain ([`molt_chain::upgrades`]), so block h is
//! executed and decided by the same code wherever and whenever that happens.
//!
//! The pipeline's phases are in [`super::pipeline`]; every operation that changes a
//! slot ends in `Admin::dispatch`, which writes its audit entry and counters through
//! the [`Ledger`] — the one place they are written.

use std::sync::Arc;

use molt_abi::Kind;
use molt_chain::Chain;
use molt_chain::signer::Signer;
use molt_runtime::Runtime;
use molt_runtime::services::ChainService;
use molt_upgrade_proxy::budget::Budget;
use molt_upgrade_proxy::metrics;
use molt_upgrade_proxy::package::Verifier;
use molt_upgrade_proxy::pipeline::{Action, Attempt, Entry, Ledger, Phase};
use molt_upgrade_proxy::refusal::Refusal;
use molt_upgrade_proxy::registry::SlotFiles;
use molt_upgrade_proxy::router::VersionInfo;
use molt_upgrade_proxy::shadow::Sample;
use serde_json::{Value, json};

use super::rpc::RpcSlot;
use super::staging::Staging;
use crate::http::{Page, RpcHandler};

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
    /// The audit log and the router's counters.
    pub ledger: Ledger,
    /// The built-in versions: execution and consensus (in force from genesis), rpc.
    pub builtins: Builtins,
    /// The node's unlocked accounts (one may be an upgrade authority).
    pub accounts: Vec<Signer>,
    /// Recent live requests, replayed by the rpc gate.
    pub sample: Arc<Sample>,
    /// The gate's red lines.
    pub budget: Budget,
    /// What modules that ask for capabilities get.
    pub grants: super::ModuleGrants,
    /// A network node's consensus counters, for `/metrics`.
    pub network: Option<Arc<molt_bft::BftMetrics>>,
}

/// The versions of the built-in modules.
#[derive(Clone, Debug)]
pub struct Builtins {
    /// The execution module in force from genesis.
    pub execution: VersionInfo,
    /// The consensus module in force from genesis.
    pub consensus: VersionInfo,
    /// The rpc module the node starts with.
    pub rpc: VersionInfo,
}

/// When a scheduled module takes over.
#[derive(Clone, Copy, Debug)]
pub enum Activation {
    /// At this block height.
    At(u64),
    /// This many blocks after the head at the time of the announcement.
    After(u64),
}

/// The admin API's handler.
pub struct Admin {
    pub(super) p: AdminParts,
}

impl Admin {
    /// The admin API over `parts`.
    pub fn new(parts: AdminParts) -> Self {
        Admin { p: parts }
    }

    /// The versions of `kind` the chain knows: the built-in (from genesis), then each
    /// announced one this node can run, as `(activation height, version)`.
    pub(super) fn versions(&self, kind: Kind) -> Vec<(u64, VersionInfo)> {
        let builtin = match kind {
            Kind::Consensus => &self.p.builtins.consensus,
            _ => &self.p.builtins.execution,
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

    /// Persists which rpc version is active now.
    pub(super) fn record_active(&self) {
        self.p.files.record_active("rpc", &self.p.rpc.active().info);
    }

    /// The version each slot serves, by slot.
    fn active_versions(&self) -> [(Kind, Option<VersionInfo>); 3] {
        let head = self.p.chain.head_number();
        let in_force = |kind| in_force(&self.versions(kind), head).map(|(_, i)| i.clone());
        [
            (Kind::Rpc, Some(self.p.rpc.active().info.clone())),
            (Kind::Execution, in_force(Kind::Execution)),
            (Kind::Consensus, in_force(Kind::Consensus)),
        ]
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
            let active = in_force(&versions, head);
            let at = |h: &u64, i: &VersionInfo, key: &str| {
                let mut v = json!(i);
                v[key] = json!(h);
                v
            };
            slots[kind.to_string()] = json!({
                "active": active.map(|(h, i)| at(h, i, "since")),
                "schedule": versions.iter().map(|(h, i)| at(h, i, "height")).collect::<Vec<_>>(),
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
                Some(json!({"height": a.height, "digest": a.digest, "transaction": a.tx, "reason": reason.to_string()}))
            })
            .collect();
        slots
    }

    /// Runs an admin method; one that changes a slot is recorded (audit entry and
    /// counters) whatever came of it.
    fn dispatch(&self, method: &str, params: &[Value]) -> Result<Value, Refusal> {
        let action = match method {
            "molt_deployModule" => Action::Deploy,
            "molt_stageModule" => Action::Stage,
            "molt_scheduleModule" => Action::Schedule,
            "molt_rollback" => Action::Rollback,
            "molt_promoteCanary" => Action::Promote,
            "molt_abortCanary" => Action::AbortCanary,
            _ => return self.read(method, params),
        };
        let mut attempt = Attempt::default();
        let result = self.change(action, &mut attempt, params);
        // The slot: the package's kind, else the one named (rollback, canary).
        let slot = match attempt.kind() {
            Some(kind) => kind.to_string(),
            None if action.receives() => "rpc".into(),
            None => params
                .first()
                .and_then(Value::as_str)
                .unwrap_or("rpc")
                .into(),
        };
        self.p.ledger.record(Entry {
            action,
            slot: &slot,
            attempt: &attempt,
            outcome: result.as_ref(),
            extra: Value::Null,
        });
        result
    }

    /// The methods that change no slot.
    fn read(&self, method: &str, params: &[Value]) -> Result<Value, Refusal> {
        match method {
            "molt_moduleStatus" => Ok(self.status()),
            "molt_metrics" => Ok(self.p.ledger.metrics().snapshot()),
            "molt_moduleLog" => {
                let limit = params.first().and_then(Value::as_u64).unwrap_or(100);
                let entries = self
                    .p
                    .ledger
                    .audit()
                    .entries(limit as usize)
                    .map_err(|e| Refusal::Node(e.to_string()))?;
                Ok(Value::Array(entries))
            }
            "molt_chaos" => self.chaos(params),
            other => Err(Refusal::Request(format!("unknown admin method {other}"))),
        }
    }

    /// `molt_chaos [faults?, seed?]`: replaces the faults injected into module calls
    /// (`{"execution": {"trap": 1}}`; `{}` clears them) and answers those in force.
    fn chaos(&self, params: &[Value]) -> Result<Value, Refusal> {
        let chaos = self.p.runtime.chaos();
        if let Some(faults) = params.first() {
            let faults: molt_runtime::chaos::Faults = serde_json::from_value(faults.clone())
                .map_err(|e| Refusal::Request(format!("faults: {e}")))?;
            if let Some(slot) = faults.keys().find(|s| s.parse::<Kind>().is_err()) {
                return Err(Refusal::Request(format!("{slot:?} is not a slot")));
            }
            let seed = params.get(1).and_then(Value::as_u64).unwrap_or(1);
            tracing::warn!(target: "molt::chaos", ?faults, "injected faults replaced");
            chaos.set(faults, seed);
        }
        serde_json::to_value(chaos.faults()).map_err(|e| Refusal::Node(e.to_string()))
    }

    /// The methods that change a slot.
    fn change(
        &self,
        action: Action,
        attempt: &mut Attempt,
        params: &[Value],
    ) -> Result<Value, Refusal> {
        let slot = || -> Result<(), Refusal> {
            match params.first().and_then(Value::as_str) {
                Some("rpc") => Ok(()),
                Some(other) => Err(Refusal::Request(format!(
                    "slot {other} cannot be changed from here"
                ))),
                None => Err(Refusal::Request("which slot? (rpc)".into())),
            }
        };
        let active = |v: &VersionInfo| json!({"active": {"name": v.name, "version": v.version}});
        match action {
            Action::Deploy => {
                let wasm = module_param(params, "params: [module as 0x-hex, canary percent?]")?;
                let canary =
                    match params.get(1) {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(v.as_u64().and_then(|p| u8::try_from(p).ok()).ok_or_else(
                            || Refusal::Request("canary percent must be 1-100".into()),
                        )?),
                    };
                self.deploy(attempt, wasm, canary)
            }
            Action::Stage => {
                let wasm = module_param(params, "params: [module as 0x-hex]")?;
                let (staged, figures) = self.stage(attempt, wasm)?;
                Ok(json!({
                    "slot": staged.kind().to_string(),
                    "staged": staged.info(),
                    "gate": figures,
                }))
            }
            Action::Schedule => {
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
                .ok_or_else(|| {
                    Refusal::Request(
                        r#"the activation must be a height or {"after": blocks}"#.into(),
                    )
                })?;
                self.schedule(attempt, wasm, when)
            }
            Action::Rollback => {
                slot()?;
                let v = attempt.run(Phase::Activate, || Ok(self.p.rpc.rollback()?))?;
                self.record_active();
                Ok(active(&v.info))
            }
            Action::Promote => {
                slot()?;
                let v = attempt.run(Phase::Activate, || Ok(self.p.rpc.promote_canary()?))?;
                self.record_active();
                Ok(active(&v.info))
            }
            Action::AbortCanary => {
                slot()?;
                attempt.run(Phase::Canary, || Ok(self.p.rpc.abort_canary()?))?;
                Ok(Value::Null)
            }
            Action::CanaryPromoted | Action::CanaryRolledBack => Err(Refusal::Request(
                "the canary's watch decides that, not the admin API".into(),
            )),
        }
    }

    /// Prometheus' text format: the router's counters, the chain's head, and one
    /// `molt_module_info` series per active version.
    fn prometheus(&self) -> String {
        let mut extra = String::from(
            "# HELP molt_module_info The version each slot serves (value 1).\n\
             # TYPE molt_module_info gauge\n",
        );
        for (slot, active) in self.active_versions() {
            let label = |f: fn(&VersionInfo) -> &str| {
                metrics::label_value(active.as_ref().map(f).unwrap_or_default())
            };
            extra.push_str(&format!(
                "molt_module_info{{slot=\"{slot}\",name=\"{}\",version=\"{}\",digest=\"{}\"}} 1\n",
                label(|v| &v.name),
                label(|v| &v.version),
                label(|v| &v.digest)
            ));
        }
        if let Some(canary) = &self.p.rpc.state().canary {
            extra.push_str(&metrics::canary_gauges(
                &canary.version.info.version,
                canary.percent,
                &canary.figures(),
            ));
        }
        if let Some(network) = &self.p.network {
            extra.push_str(&network.prometheus());
        }
        extra.push_str(&self.p.chain.metrics().prometheus(&self.p.chain));
        extra.push_str(&self.p.runtime.metrics().prometheus());
        self.p.ledger.metrics().prometheus(&extra)
    }
}

/// Of `versions` (`(activation height, version)`, in announcement order), the one in
/// force at block `head`: the greatest activation height at or below it, the later
/// announcement on a tie.
fn in_force(versions: &[(u64, VersionInfo)], head: u64) -> Option<&(u64, VersionInfo)> {
    versions
        .iter()
        .filter(|(h, _)| *h <= head)
        .max_by_key(|(h, _)| *h)
}

/// The module package in `params[0]` (0x-hex); `usage` if it is missing.
fn module_param(params: &[Value], usage: &str) -> Result<Vec<u8>, Refusal> {
    let hex = params
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::Request(usage.into()))?;
    hex::decode(hex.trim_start_matches("0x"))
        .map_err(|e| Refusal::Request(format!("module is not hex: {e}")))
}

/// The admin API's `GET /metrics` alone, without its token: what `--metrics.addr`
/// serves to a Prometheus that should not hold the admin token. Everything else is
/// refused.
pub struct MetricsOnly(pub Arc<Admin>);

impl RpcHandler for MetricsOnly {
    fn get(&self, path: &str) -> Option<Page> {
        self.0.get(path)
    }

    fn handle(&self, _body: &[u8]) -> Vec<u8> {
        crate::http::error_body(-32601, "this address serves GET /metrics only")
    }
}

impl RpcHandler for Admin {
    fn get(&self, path: &str) -> Option<Page> {
        (path == "/metrics").then(|| {
            Page::ok(
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
            Err(refusal) => json!({
                "jsonrpc": "2.0", "id": id,
                "error": {"code": -32000, "message": refusal.to_string()}
            }),
        };
        response.to_string().into_bytes()
    }
}
