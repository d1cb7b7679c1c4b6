//! `molt module check`: the conformance run a module author makes before publishing.
//!
//! [`check`] reads a module (signed or not) as a node would — package, interface,
//! `molt_abi_version`, budgets — then runs it on a [`fixture::Fixture`] chain: the
//! probes every kind gets ([`probes`]: budgets, determinism, allocator discipline,
//! bad input, memory that cannot grow), and its kind's own: an rpc module answers
//! sample JSON-RPC requests ([`rpc`]); an execution module re-executes the fixture's
//! blocks and must give the built-in module's bytes; a consensus module re-judges and
//! re-decides them and must give the built-in's verdicts. Each finding passes, warns
//! or fails; a failure makes the command exit non-zero.
//!
//! It only calls the runtime and the chain the way a node does; it changes nothing a
//! node runs.

pub mod fixture;
mod probes;
mod rpc;

use std::fmt::Write as _;

use molt_abi::{ABI_VERSION, Budgets, Kind, Manifest, execution};
use molt_runtime::{CallContext, Engine, Grants, LoadedModule, Runtime, RuntimeConfig};
use molt_upgrade_proxy::package::{self, Package};

use fixture::Fixture;
use probes::Sample;

/// How a finding came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// As it should be.
    Pass,
    /// Works, but worth knowing before publishing.
    Warn,
    /// A node would refuse the module, or the module misbehaves.
    Fail,
}

/// One thing the check found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    /// What was checked.
    pub check: &'static str,
    /// How it came out.
    pub outcome: Outcome,
    /// What was seen.
    pub detail: String,
}

/// Everything the check found, in order.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl Report {
    fn add(&mut self, check: &'static str, outcome: Outcome, detail: impl Into<String>) {
        self.findings.push(Finding {
            check,
            outcome,
            detail: detail.into(),
        });
    }

    fn pass(&mut self, check: &'static str, detail: impl Into<String>) {
        self.add(check, Outcome::Pass, detail);
    }

    fn warn(&mut self, check: &'static str, detail: impl Into<String>) {
        self.add(check, Outcome::Warn, detail);
    }

    fn fail(&mut self, check: &'static str, detail: impl Into<String>) {
        self.add(check, Outcome::Fail, detail);
    }

    /// Findings with this outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.findings
            .iter()
            .filter(|f| f.outcome == outcome)
            .count()
    }

    /// Whether anything failed.
    pub fn failed(&self) -> bool {
        self.count(Outcome::Fail) > 0
    }

    /// The report as text, a line per finding and a summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let mark = match f.outcome {
                Outcome::Pass => "pass",
                Outcome::Warn => "WARN",
                Outcome::Fail => "FAIL",
            };
            let _ = writeln!(out, "{mark}  {:<14} {}", f.check, f.detail);
        }
        let _ = writeln!(
            out,
            "{} passed, {} warnings, {} failed",
            self.count(Outcome::Pass),
            self.count(Outcome::Warn),
            self.count(Outcome::Fail)
        );
        out
    }
}

/// Checks module `bytes` as a module of `kind` (default: its manifest's).
pub fn check(bytes: Vec<u8>, kind: Option<Kind>) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let package = Package::parse(bytes)?;
    let Some(manifest) = manifest(&mut report, &package, kind)? else {
        return Ok(report);
    };
    if let Err(e) = package.interface.check(manifest.kind) {
        report.fail("interface", format!("a node refuses it: {e}"));
        return Ok(report);
    }
    report.pass(
        "interface",
        format!(
            "exports and imports fit the {} kind (ABI v{ABI_VERSION})",
            manifest.kind
        ),
    );
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let module = match runtime.load(&manifest, &package.bytes, &Grants::default()) {
        Ok(m) => m,
        Err(e) => {
            report.fail("load", format!("a node cannot load it: {e}"));
            return Ok(report);
        }
    };
    report.pass(
        "abi version",
        format!(
            "molt_abi_version returns {}, as the manifest says",
            manifest.abi_version
        ),
    );
    budgets(&mut report, &manifest, &module);
    let fixture = Fixture::new()?;
    let sample = sample(&fixture, manifest.kind)?;
    probes::run(
        &mut report,
        &runtime,
        &manifest,
        &package.bytes,
        &module,
        &sample,
    );
    let chain = &fixture.node.chain;
    let blocks = fixture.head();
    match manifest.kind {
        Kind::Rpc => rpc::run(&mut report, &fixture, &Engine::Wasm(module)),
        Kind::Execution => match chain.replay(blocks, &Engine::Wasm(module)) {
            Ok(r) => match r.mismatch {
                Some(m) => report.fail("agreement", format!("against the built-in: {m}")),
                None => report.pass(
                    "agreement",
                    format!(
                        "re-executed the fixture's {} blocks (transfer, creations, a log, a \
                         revert) byte for byte as the built-in execution module",
                        r.blocks
                    ),
                ),
            },
            Err(e) => report.fail("agreement", format!("re-executing the fixture: {e}")),
        },
        Kind::Consensus => match chain.replay_consensus(blocks, &Engine::Wasm(module)) {
            Ok(r) => match r.mismatch {
                Some(m) => report.fail("agreement", format!("against the built-in: {m}")),
                None => report.pass(
                    "agreement",
                    format!(
                        "{} validations and sealing decisions on the fixture's blocks, as the \
                         built-in consensus module's",
                        r.decisions
                    ),
                ),
            },
            Err(e) => report.fail("agreement", format!("re-deciding the fixture: {e}")),
        },
    }
    Ok(report)
}

/// The manifest to check against; `None` (with a failure reported) if there is none
/// that fits.
fn manifest(
    report: &mut Report,
    package: &Package,
    kind: Option<Kind>,
) -> anyhow::Result<Option<Manifest>> {
    let manifest = match (&package.manifest, kind) {
        (Ok(m), Some(k)) if m.kind != k => {
            report.fail("manifest", format!("the manifest says {}, not {k}", m.kind));
            return Ok(None);
        }
        (Ok(m), _) => {
            match package::parse_version(&m.version) {
                Ok(_) => report.pass(
                    "manifest",
                    format!(
                        "{} {} ({}), ABI v{}",
                        m.name, m.version, m.kind, m.abi_version
                    ),
                ),
                Err(e) => report.fail("manifest", e.to_string()),
            }
            if m.abi_version != ABI_VERSION {
                report.fail(
                    "manifest",
                    format!("ABI v{} (nodes run v{ABI_VERSION})", m.abi_version),
                );
                return Ok(None);
            }
            m.clone()
        }
        (Err(e), Some(kind)) => {
            report.warn(
                "manifest",
                format!("{e}: checked as {kind} with default budgets; sign it before publishing"),
            );
            Manifest {
                abi_version: ABI_VERSION,
                kind,
                name: "unsigned".into(),
                version: "0.0.0".into(),
                budgets: Budgets::default(),
                capabilities: vec![],
            }
        }
        (Err(e), None) => anyhow::bail!("{e}: give --kind to check a module without one"),
    };
    match &package.signature {
        Ok(s) if s.is_valid_for(&package.digest) => report.pass(
            "signature",
            format!("signed by {}", hex::encode(s.signer.to_bytes())),
        ),
        Ok(_) => report.fail(
            "signature",
            "does not match the module: changed after signing",
        ),
        Err(e) => report.warn("signature", format!("{e}: nodes refuse unsigned modules")),
    }
    Ok(Some(manifest))
}

/// The budgets a node gives the module, and whether it can start within them.
fn budgets(report: &mut Report, manifest: &Manifest, module: &LoadedModule) {
    let asked = manifest.budgets;
    let initial = module.initial_memory();
    if initial > module.memory_budget() {
        report.fail(
            "budget",
            format!(
                "its initial memory ({} KiB) is over its memory budget ({} KiB): no \
                 instance can start",
                initial / 1024,
                module.memory_budget() / 1024
            ),
        );
    }
    let given = |asked: u64, given: u64| match asked {
        0 => format!("{given} (the node's default)"),
        a if a > given => format!("{given} (asked {a}: capped at the node's ceiling)"),
        _ => format!("{given}"),
    };
    let per_call = match manifest.kind.is_deterministic() {
        true => format!("fuel {}", given(asked.fuel, module.fuel_budget())),
        false => format!("time {} ms", given(asked.time_ms, module.time_budget_ms())),
    };
    report.pass(
        "budget",
        format!(
            "memory {} bytes, {per_call}; initial memory {} KiB",
            given(asked.memory_bytes, module.memory_budget()),
            initial / 1024
        ),
    );
}

/// The call a module of `kind` is most made for, on the fixture chain.
fn sample(fixture: &Fixture, kind: Kind) -> anyhow::Result<Sample> {
    let chain = &fixture.node.chain;
    let head = fixture.head();
    Ok(match kind {
        Kind::Rpc => Sample {
            entry: "molt_rpc_handle",
            input: br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",true]}"#.to_vec(),
            context: CallContext::Chain(fixture.view.clone()),
        },
        Kind::Execution => {
            let (input, pre) = chain
                .execution_input(head)?
                .ok_or_else(|| anyhow::anyhow!("the fixture chain has no block {head}"))?;
            Sample {
                entry: "molt_execute_block",
                input,
                context: CallContext::State(pre),
            }
        }
        Kind::Consensus => {
            let input = chain
                .validate_input(head)?
                .ok_or_else(|| anyhow::anyhow!("the fixture chain's block {head} has no seal"))?;
            Sample {
                entry: "molt_consensus_validate",
                input: execution::encode(&input),
                context: CallContext::None,
            }
        }
    })
}

#[cfg(test)]
mod tests;
