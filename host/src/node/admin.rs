//! The admin API (off by default; its own port; a bearer token): the operator's
//! interface to the router. JSON-RPC methods:
//!
//! - `molt_moduleStatus` → each slot's active, previous and canary versions;
//! - `molt_moduleLog [limit?]` → the audit log, oldest first;
//! - `molt_metrics` → the router's counters;
//! - `molt_deployModule [wasmHex, canaryPercent?]` → verify, load, gate, then activate
//!   (or start a canary);
//! - `molt_rollback [slot]`, `molt_promoteCanary [slot]`, `molt_abortCanary [slot]`;
//! - `molt_scheduleModule [wasmHex, height]` → verify, replay recent blocks with it
//!   (identical outputs required), then have it handle every block from `height` on.
//!
//! Only the `rpc` slot swaps at a node-local moment. `execution` and `consensus` change
//! at a block height, so block h is executed and decided by the same code wherever and
//! whenever that happens.

use std::sync::Arc;
use std::time::Duration;

use molt_abi::Kind;
use molt_abi::interface::MIGRATE_EXPORT;
use molt_upgrade_proxy::package::{Package, Verifier};
use molt_upgrade_proxy::router::{Version, VersionInfo};
use serde_json::{Value, json};

use super::audit::{Audit, describe};
use super::metrics::Metrics;
use super::rpc::{RpcEngine, RpcSlot, Sample};
use super::slots::SlotFiles;
use crate::chain::driver::Chain;
use crate::consensus::Consensus;
use crate::execution::Executor;
use crate::http::RpcHandler;
use crate::runtime::{CallError, Grants, Runtime};
use crate::services::ChainService;

/// Requests every rpc candidate must answer before it takes traffic, besides the
/// recent live requests in the [`Sample`]: no trap, memory and latency within budget
/// of the active version's.
const GATE_SAMPLE: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion"}"#,
    r#"{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}"#,
    r#"{"jsonrpc":"2.0","id":3,"method":"eth_blockNumber"}"#,
    r#"{"jsonrpc":"2.0","id":4,"method":"eth_getBlockByNumber","params":["latest",true]}"#,
    r#"[{"jsonrpc":"2.0","id":5,"method":"eth_gasPrice"},{"jsonrpc":"2.0","id":6,"method":"eth_syncing"}]"#,
];

/// How many recent blocks the execution and consensus gates replay.
const REPLAY_BLOCKS: u64 = 16;

/// The gate's red lines: memory at most 150% of the active version's peak, p99 at
/// most the active p99 + 200 ms.
const MEMORY_RATIO: f64 = 1.5;
const LATENCY_SLACK: Duration = Duration::from_millis(200);

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
    /// The audit log.
    pub audit: Audit,
    /// Execution versions by activation height (0: the built-in).
    pub execution: Vec<(u64, VersionInfo)>,
    /// Consensus versions by activation height (0: the built-in).
    pub consensus: Vec<(u64, VersionInfo)>,
    /// Recent live requests, replayed by the rpc gate.
    pub sample: Arc<Sample>,
    /// The router's counters.
    pub metrics: Arc<Metrics>,
}

/// The admin API's handler.
pub struct Admin {
    runtime: Arc<Runtime>,
    verifier: Verifier,
    rpc: Arc<RpcSlot>,
    chain: Arc<dyn ChainService>,
    files: SlotFiles,
    audit: Audit,
    chain_handle: Arc<Chain>,
    /// Execution versions by activation height (0: the built-in).
    execution: std::sync::Mutex<Vec<(u64, VersionInfo)>>,
    /// Consensus versions by activation height.
    consensus: std::sync::Mutex<Vec<(u64, VersionInfo)>>,
    sample: Arc<Sample>,
    metrics: Arc<Metrics>,
}

impl Admin {
    /// The admin API over `parts`.
    pub fn new(parts: AdminParts) -> Self {
        Admin {
            runtime: parts.runtime,
            verifier: parts.verifier,
            rpc: parts.rpc,
            chain: parts.queries,
            files: parts.files,
            audit: parts.audit,
            chain_handle: parts.chain,
            execution: std::sync::Mutex::new(parts.execution),
            consensus: std::sync::Mutex::new(parts.consensus),
            sample: parts.sample,
            metrics: parts.metrics,
        }
    }

    /// Has a signed execution module take over at block `height`, after replaying the
    /// last blocks with it: its outputs must be identical to the active module's, its
    /// memory within 150% and its slowest block within 200 ms of the active one's.
    fn schedule(&self, wasm: &[u8], height: u64) -> Result<Value, String> {
        let package = Package::parse(wasm.to_vec()).map_err(|e| e.to_string())?;
        let kind = package
            .manifest
            .as_ref()
            .map_or(Kind::Execution, |m| m.kind);
        let versions = match kind {
            Kind::Execution => &self.execution,
            Kind::Consensus => &self.consensus,
            Kind::Rpc => {
                return Err("rpc modules swap at once: use `molt module deploy`".into());
            }
        };
        let latest = super::lock(versions).last().map(|(_, i)| i.version.clone());
        let installed = latest.and_then(|v| semver::Version::parse(&v).ok());
        let verified = self
            .verifier
            .verify(package, Some(kind), installed.as_ref())
            .map_err(|e| self.refused_by_verifier(e))?;
        let head = self.chain_handle.head_number();
        if height <= head {
            return Err(format!(
                "activation height {height} is not above the head ({head})"
            ));
        }
        let loaded = self
            .runtime
            .load(&verified.manifest, &verified.bytes, &Grants::default())
            .map_err(|e| e.to_string())?;
        let chain = &self.chain_handle;
        let figures = match kind {
            Kind::Execution => {
                let candidate = Executor::Wasm(loaded);
                let figures = self.gated(|| self.execution_gate(&candidate))?;
                chain
                    .schedule_executor(height, candidate)
                    .map_err(|e| e.to_string())?;
                figures
            }
            _ => {
                let candidate = Consensus::Wasm(loaded);
                let replay = self.gated(|| {
                    let replay = chain
                        .replay_consensus(REPLAY_BLOCKS, &candidate)
                        .map_err(|e| format!("refused by the gate: replay failed: {e}"))?;
                    match &replay.mismatch {
                        Some(m) => Err(format!("refused by the gate: {m}")),
                        None => Ok(replay),
                    }
                })?;
                chain
                    .schedule_consensus(height, candidate)
                    .map_err(|e| e.to_string())?;
                serde_json::to_value(&replay).map_err(|e| e.to_string())?
            }
        };
        let info = VersionInfo {
            name: verified.manifest.name.clone(),
            version: verified.manifest.version.clone(),
            digest: hex::encode(verified.digest),
        };
        self.files
            .save_package(&info.digest, wasm)
            .map_err(|e| format!("keeping the package: {e}"))?;
        self.files
            .add_schedule(&kind.to_string(), height, &info.digest)
            .map_err(|e| format!("recording the schedule: {e}"))?;
        super::lock(versions).push((height, info.clone()));
        Metrics::inc(&self.metrics.scheduled);
        Ok(json!({
            "slot": kind.to_string(), "height": height,
            "scheduled": {"name": info.name, "version": info.version, "digest": info.digest},
            "gate": figures,
        }))
    }

    /// Replays recent blocks with `candidate`: identical outputs, memory within 150%,
    /// slowest block within 200 ms of the active module's.
    fn execution_gate(&self, candidate: &Executor) -> Result<Value, String> {
        let replay = self
            .chain_handle
            .replay(REPLAY_BLOCKS, candidate)
            .map_err(|e| format!("refused by the gate: replay failed: {e}"))?;
        if let Some(m) = &replay.mismatch {
            return Err(format!("refused by the gate: {m}"));
        }
        if replay.active_peak_memory > 0
            && replay.candidate_peak_memory as f64 > replay.active_peak_memory as f64 * MEMORY_RATIO
        {
            return Err(format!(
                "refused by the gate: peak memory {} bytes is over 150% of the active version's {}",
                replay.candidate_peak_memory, replay.active_peak_memory
            ));
        }
        if replay.candidate_max_ms > replay.active_max_ms + LATENCY_SLACK.as_secs_f64() * 1e3 {
            return Err(format!(
                "refused by the gate: slowest block {:.1} ms is over the active version's {:.1} ms + 200 ms",
                replay.candidate_max_ms, replay.active_max_ms
            ));
        }
        serde_json::to_value(&replay).map_err(|e| e.to_string())
    }

    /// Counts a verifier refusal and words it.
    fn refused_by_verifier(&self, e: impl std::fmt::Display) -> String {
        Metrics::inc(&self.metrics.verify_refused);
        e.to_string()
    }

    /// Runs a gate, counting runs and refusals.
    fn gated<T>(&self, gate: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        Metrics::inc(&self.metrics.gate_runs);
        gate().inspect_err(|_| Metrics::inc(&self.metrics.gate_refused))
    }

    /// Persists which rpc version is active now.
    fn record(&self) {
        self.files
            .record_active("rpc", &self.rpc.active().info.digest);
    }

    fn status(&self) -> Value {
        let info =
            |i: &VersionInfo| json!({"name": i.name, "version": i.version, "digest": i.digest});
        let rpc = self.rpc.state();
        let mut slots = json!({
            "rpc": {
                "active": info(&rpc.active.info),
                "previous": rpc.previous.as_ref().map(|p| info(&p.info)),
                "canary": rpc.canary.as_ref().map(|c| json!({"version": info(&c.version.info), "percent": c.percent})),
            }
        });
        let head = self.chain_handle.head_number();
        for (slot, versions) in [
            ("execution", &self.execution),
            ("consensus", &self.consensus),
        ] {
            let versions = super::lock(versions);
            let active = versions.iter().rev().find(|(h, _)| *h <= head);
            slots[slot] = json!({
                "active": active.map(|(h, i)| json!({"name": i.name, "version": i.version, "digest": i.digest, "since": h})),
                "schedule": versions.iter().map(|(h, i)| json!({"height": h, "name": i.name, "version": i.version, "digest": i.digest})).collect::<Vec<_>>(),
            });
        }
        slots
    }

    fn deploy(&self, wasm: &[u8], canary: Option<u8>) -> Result<Value, String> {
        let package = Package::parse(wasm.to_vec()).map_err(|e| e.to_string())?;
        // The verifier names what is wrong (unsigned first); the kind decides the path.
        let kind = package.manifest.as_ref().map_or(Kind::Rpc, |m| m.kind);
        if kind != Kind::Rpc {
            // Refuse what is unsigned or tampered for that reason first.
            self.verifier
                .verify(package, Some(kind), None)
                .map_err(|e| self.refused_by_verifier(e))?;
            return Err(format!(
                "{kind} modules change only at a block height, the same on every node: \
                 use `molt module schedule FILE --height H`"
            ));
        }
        let active = self.rpc.active();
        let installed = semver::Version::parse(&active.info.version).ok();
        let verified = self
            .verifier
            .verify(package, Some(kind), installed.as_ref())
            .map_err(|e| self.refused_by_verifier(e))?;
        let loaded = self
            .runtime
            .load(&verified.manifest, &verified.bytes, &Grants::default())
            .map_err(|e| e.to_string())?;
        let candidate = RpcEngine::Wasm(loaded.clone());
        let figures = self.gated(|| self.gate(&active.module, &candidate))?;
        // The migration hook, once, before the candidate takes traffic.
        let previous = json!({
            "name": active.info.name, "version": active.info.version, "digest": active.info.digest,
        });
        match loaded.call(MIGRATE_EXPORT, previous.to_string().as_bytes()) {
            Ok(_) | Err(CallError::NoEntry(_)) => {}
            Err(e) => return Err(format!("refused: {MIGRATE_EXPORT} failed: {e}")),
        }
        let version = Version {
            info: VersionInfo {
                name: verified.manifest.name.clone(),
                version: verified.manifest.version.clone(),
                digest: hex::encode(verified.digest),
            },
            module: candidate,
        };
        let info = version.info.clone();
        self.files
            .save_package(&info.digest, wasm)
            .map_err(|e| format!("keeping the package: {e}"))?;
        match canary {
            Some(percent) => self
                .rpc
                .start_canary(version, percent)
                .map(|()| Metrics::inc(&self.metrics.canaries))
                .map_err(|e| e.to_string())?,
            None => {
                self.rpc.activate(version);
                Metrics::inc(&self.metrics.activations);
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
            "activated": {"name": info.name, "version": info.version, "digest": info.digest},
            "canaryPercent": canary,
            "gate": figures,
        }))
    }

    /// Runs the sample on the active version and the candidate; refuses a candidate
    /// that traps, needs more than 150% of the memory or is 200 ms slower at p99.
    pub fn gate(&self, active: &RpcEngine, candidate: &RpcEngine) -> Result<Value, String> {
        let mut requests: Vec<Vec<u8>> =
            GATE_SAMPLE.iter().map(|r| r.as_bytes().to_vec()).collect();
        requests.extend(self.sample.bodies());
        let run = |engine: &RpcEngine| -> Result<(u64, Duration), String> {
            let mut peak = 0;
            let mut slowest = Duration::ZERO;
            for request in &requests {
                let started = std::time::Instant::now();
                let (_, stats) = engine.call(&self.chain, request)?;
                slowest = slowest.max(started.elapsed());
                peak = peak.max(stats.map_or(0, |s| s.peak_memory));
            }
            Ok((peak, slowest))
        };
        let (active_mem, active_p99) = run(active).map_err(|e| format!("active version: {e}"))?;
        let (mem, p99) = run(candidate).map_err(|e| format!("refused by the gate: {e}"))?;
        let figures = json!({
            "requests": requests.len(),
            "peakMemory": mem, "activePeakMemory": active_mem,
            "p99Ms": p99.as_secs_f64() * 1e3, "activeP99Ms": active_p99.as_secs_f64() * 1e3,
        });
        if active_mem > 0 && mem as f64 > active_mem as f64 * MEMORY_RATIO {
            return Err(format!(
                "refused by the gate: peak memory {mem} bytes is over 150% of the active \
                 version's {active_mem}"
            ));
        }
        if p99 > active_p99 + LATENCY_SLACK {
            return Err(format!(
                "refused by the gate: p99 {:.1} ms is over the active version's {:.1} ms + 200 ms",
                p99.as_secs_f64() * 1e3,
                active_p99.as_secs_f64() * 1e3
            ));
        }
        Ok(figures)
    }

    /// Runs an admin method and records what it changed (or refused) in the audit log.
    fn dispatch(&self, method: &str, params: &[Value]) -> Result<Value, String> {
        if matches!(method, "molt_deployModule" | "molt_scheduleModule") {
            Metrics::inc(&self.metrics.received);
        }
        let result = self.run(method, params);
        let action = match method {
            "molt_deployModule" => "deploy",
            "molt_scheduleModule" => "schedule",
            "molt_rollback" => "rollback",
            "molt_promoteCanary" => "promote",
            "molt_abortCanary" => "abort-canary",
            _ => return result,
        };
        let package = match (action, params.first().and_then(Value::as_str)) {
            ("deploy" | "schedule", Some(h)) => hex::decode(h.trim_start_matches("0x"))
                .map(|w| describe(&w))
                .unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let mut entry = json!({
            "action": action, "slot": "rpc", "package": package,
            "decision": if result.is_ok() { "accepted" } else { "refused" },
        });
        match &result {
            Ok(v) => entry["result"] = v.clone(),
            Err(reason) => entry["reason"] = json!(reason),
        }
        self.audit.record(entry);
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
            "molt_metrics" => Ok(self.metrics.snapshot()),
            "molt_moduleLog" => {
                let limit = params.first().and_then(Value::as_u64).unwrap_or(100);
                Ok(Value::Array(self.audit.entries(limit as usize)?))
            }
            "molt_deployModule" => {
                let hex = params
                    .first()
                    .and_then(Value::as_str)
                    .ok_or("params: [module as 0x-hex, canary percent?]")?;
                let wasm = hex::decode(hex.trim_start_matches("0x"))
                    .map_err(|e| format!("module is not hex: {e}"))?;
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
            "molt_scheduleModule" => {
                let hex = params
                    .first()
                    .and_then(Value::as_str)
                    .ok_or("params: [module as 0x-hex, height]")?;
                let wasm = hex::decode(hex.trim_start_matches("0x"))
                    .map_err(|e| format!("module is not hex: {e}"))?;
                let height = params
                    .get(1)
                    .and_then(Value::as_u64)
                    .ok_or("the activation height must be a number")?;
                self.schedule(&wasm, height)
            }
            "molt_rollback" => {
                slot()?;
                let v = self.rpc.rollback().map_err(|e| e.to_string())?;
                Metrics::inc(&self.metrics.rollbacks);
                Metrics::inc(&self.metrics.activations);
                self.record();
                Ok(json!({"active": {"name": v.info.name, "version": v.info.version}}))
            }
            "molt_promoteCanary" => {
                slot()?;
                let v = self.rpc.promote_canary().map_err(|e| e.to_string())?;
                Metrics::inc(&self.metrics.canary_promoted);
                Metrics::inc(&self.metrics.activations);
                self.record();
                Ok(json!({"active": {"name": v.info.name, "version": v.info.version}}))
            }
            "molt_abortCanary" => {
                slot()?;
                self.rpc.abort_canary().map_err(|e| e.to_string())?;
                Metrics::inc(&self.metrics.canary_rolled_back);
                Ok(Value::Null)
            }
            other => Err(format!("unknown admin method {other}")),
        }
    }
}

impl RpcHandler for Admin {
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
