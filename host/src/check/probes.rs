//! Checks every kind gets, on one sample call: that it answers within its budgets,
//! the same bytes twice (and, for deterministic kinds, on a second engine
//! configuration), that its allocator keeps apart what the host holds, how it behaves
//! when memory cannot grow, and that bad input is refused rather than trapped on.

use molt_abi::{Kind, Manifest};
use molt_runtime::{CallContext, CallError, Grants, LoadedModule, Runtime, RuntimeConfig};

use super::Report;

/// One call a module of its kind is made for.
pub struct Sample {
    /// The entry point.
    pub entry: &'static str,
    /// Its input.
    pub input: Vec<u8>,
    /// What the kind's imports serve.
    pub context: CallContext,
}

/// Calls made in one instance to look for leaks and overlaps.
const SOAK_CALLS: u32 = 50;

/// Runs the probes on `module` (loaded by `runtime` from `manifest` and `bytes`) with
/// `sample`.
pub fn run(
    report: &mut Report,
    runtime: &Runtime,
    manifest: &Manifest,
    bytes: &[u8],
    module: &LoadedModule,
    sample: &Sample,
) {
    let Some(first) = answers(report, module, sample) else {
        return;
    };
    same_twice(report, manifest, bytes, module, sample, &first);
    soak(report, module, sample);
    bad_input(report, module, sample);
    at_memory_budget(report, runtime, manifest, bytes, module, sample);
}

/// The sample call within budget; its output for the comparisons after.
fn answers(report: &mut Report, module: &LoadedModule, sample: &Sample) -> Option<Vec<u8>> {
    let what = format!("{} on the sample input", sample.entry);
    match module.call_with(sample.entry, &sample.input, sample.context.clone()) {
        Ok((out, stats)) => {
            let ms = stats.elapsed.as_secs_f64() * 1e3;
            let used = match module.kind().is_deterministic() {
                true => format!(
                    "fuel {} of {} ({:.1} %)",
                    stats.fuel_used,
                    module.fuel_budget(),
                    100.0 * stats.fuel_used as f64 / module.fuel_budget().max(1) as f64
                ),
                false => format!("{ms:.2} ms of {} ms", module.time_budget_ms()),
            };
            let figures = format!(
                "{used}, peak memory {} KiB of {} KiB",
                stats.peak_memory / 1024,
                module.memory_budget() / 1024
            );
            let heavy = match module.kind().is_deterministic() {
                true => stats.fuel_used * 2 > module.fuel_budget(),
                false => ms * 2.0 > module.time_budget_ms() as f64,
            };
            match heavy {
                true => report.warn(
                    "budget",
                    format!("{what} used over half its budget: {figures}"),
                ),
                false => report.pass("budget", format!("{what}: {figures}")),
            }
            Some(out)
        }
        Err(e) => {
            report.fail("budget", format!("{what} failed: {e}"));
            None
        }
    }
}

/// The same input twice gives the same bytes; for a deterministic kind, on a second
/// engine configuration too (on-demand instances and a smaller stack instead of the
/// pool).
fn same_twice(
    report: &mut Report,
    manifest: &Manifest,
    bytes: &[u8],
    module: &LoadedModule,
    sample: &Sample,
    first: &[u8],
) {
    let deterministic = module.kind().is_deterministic();
    let again = module.call_with(sample.entry, &sample.input, sample.context.clone());
    let differ = |what: &str| format!("{what} gave other bytes for the same input");
    match (again, deterministic) {
        (Ok((out, _)), _) if out == first => {}
        (Ok(_), true) => return report.fail("determinism", differ("a second call")),
        (Ok(_), false) => {
            return report.warn(
                "determinism",
                differ("a second call") + " (allowed for rpc, but clients may be surprised)",
            );
        }
        (Err(e), _) => return report.fail("determinism", format!("a second call failed: {e}")),
    }
    if !deterministic {
        return report.pass("determinism", "a second call gave the same bytes");
    }
    let other = Runtime::new(RuntimeConfig {
        pooling: false,
        max_wasm_stack: 256 * 1024,
        ..RuntimeConfig::default()
    })
    .map_err(|e| e.to_string())
    .and_then(|rt| {
        rt.load(manifest, bytes, &Grants::default())
            .map_err(|e| e.to_string())
    })
    .and_then(|m| {
        m.call_with(sample.entry, &sample.input, sample.context.clone())
            .map_err(|e| e.to_string())
    });
    match other {
        Ok((out, _)) if out == first => report.pass(
            "determinism",
            "a second call, and a call on a second engine configuration, gave the same bytes",
        ),
        Ok(_) => report.fail(
            "determinism",
            differ("a second engine configuration (no pooling, 256 KiB stack)"),
        ),
        Err(e) => report.fail(
            "determinism",
            format!("on a second engine configuration (no pooling, 256 KiB stack): {e}"),
        ),
    }
}

/// Many calls in one instance: no region handed out twice, memory that settles.
fn soak(report: &mut Report, module: &LoadedModule, sample: &Sample) {
    let soak = match module.soak(
        sample.entry,
        &sample.input,
        sample.context.clone(),
        SOAK_CALLS,
    ) {
        Ok(soak) => soak,
        Err(e) => {
            return report.fail(
                "alloc/free",
                format!("{SOAK_CALLS} calls in one instance, each output freed: failed: {e}"),
            );
        }
    };
    if let Some(overlap) = soak.overlap {
        return report.fail(
            "alloc/free",
            format!("{overlap} (a double free, or an allocator that ignores live regions)"),
        );
    }
    let grown = soak.memory_after_last - soak.memory_after_first;
    match grown {
        0 => report.pass(
            "alloc/free",
            format!(
                "{} calls in one instance, each output freed with molt_free: no region handed \
                 out twice, memory steady at {} KiB",
                soak.calls,
                soak.memory_after_last / 1024
            ),
        ),
        _ => report.warn(
            "alloc/free",
            format!(
                "memory grew {} KiB over {} calls in one instance although every output was \
                 freed (a leak, or an allocator that never reuses). Harmless while nodes give \
                 every call a fresh instance, as they do today",
                grown / 1024,
                soak.calls - 1
            ),
        ),
    }
}

/// Bytes that are no valid input are refused (status 1), not trapped on; for `rpc`,
/// answered with a JSON-RPC error.
fn bad_input(report: &mut Report, module: &LoadedModule, sample: &Sample) {
    for (what, input) in [
        ("garbage input", &b"\xc1\xff\x00not an input"[..]),
        ("empty input", &b""[..]),
    ] {
        match module.call_with(sample.entry, input, sample.context.clone()) {
            Err(CallError::Refused(msg)) => {
                report.pass("bad input", format!("{what}: refused ({msg})"));
            }
            Ok((out, _)) if module.kind() == Kind::Rpc => {
                let error = serde_json::from_slice::<serde_json::Value>(&out)
                    .ok()
                    .and_then(|v| v.get("error").cloned());
                match error {
                    Some(e) => report.pass("bad input", format!("{what}: answered {e}")),
                    None => report.fail(
                        "bad input",
                        format!("{what}: answered without a JSON-RPC error object"),
                    ),
                }
            }
            Ok(_) => report.warn("bad input", format!("{what}: accepted")),
            Err(e) => report.fail(
                "bad input",
                format!("{what}: the call failed ({e}) instead of refusing with status 1"),
            ),
        }
    }
}

/// The sample call with a memory budget of the module's initial memory: every
/// `memory.grow` returns -1.
fn at_memory_budget(
    report: &mut Report,
    runtime: &Runtime,
    manifest: &Manifest,
    bytes: &[u8],
    module: &LoadedModule,
    sample: &Sample,
) {
    let initial = module.initial_memory();
    let mut tight = manifest.clone();
    tight.budgets.memory_bytes = initial.max(1);
    // The same runtime: the compiled module comes from its cache.
    let outcome = runtime
        .load(&tight, bytes, &Grants::default())
        .map_err(|e| e.to_string())
        .map(|m| m.call_with(sample.entry, &sample.input, sample.context.clone()));
    let at = format!("with no memory beyond its initial {} KiB", initial / 1024);
    match outcome {
        Ok(Ok(_)) => report.pass("memory budget", format!("{at}: answered (needs no growth)")),
        Ok(Err(CallError::Refused(msg))) => report.pass(
            "memory budget",
            format!("{at}: memory.grow returned -1 and the module refused ({msg})"),
        ),
        Ok(Err(e @ CallError::MemoryLimit { .. })) => report.warn(
            "memory budget",
            format!(
                "{at}: memory.grow returned -1 and the module then failed the call ({e}); \
                 it fails alone, but a module that refuses with status 1 says why"
            ),
        ),
        Ok(Err(e)) => report.fail("memory budget", format!("{at}: {e}")),
        Err(e) => report.fail("memory budget", format!("{at}: could not load: {e}")),
    }
}
