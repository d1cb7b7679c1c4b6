//! `molt bench swap`: what a hot swap of the `rpc` slot costs, in one process.
//!
//! - **activation**: time from the start of `Slot::activate` to the end of the first
//!   call served by the new version (median and max over many swaps);
//! - **p99 across swaps**: latency of `eth_blockNumber` calls from client threads in
//!   steady state, then while the slot swaps between two versions every few
//!   milliseconds;
//! - **gate**: what the rpc gate costs on an idle node (the fixed requests on the
//!   active version and on the candidate, plus the 50 ms it listens for live traffic
//!   to shadow before it calls the node idle).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use molt_chain::ChainConfig;
use molt_chain::queries::Queries;
use molt_runtime::services::ChainService;
use molt_runtime::{Engine, Grants, RpcEngine, Runtime, RuntimeConfig};
use molt_storage::Db;
use molt_upgrade_proxy::metrics::Metrics;
use molt_upgrade_proxy::pipeline::Ledger;
use molt_upgrade_proxy::registry::SlotFiles;
use molt_upgrade_proxy::router::{Version, VersionInfo};
use molt_upgrade_proxy::shadow::Sample;

use crate::builtin;
use crate::http::RpcHandler;
use crate::node::rpc::{RpcModule, RpcParts, RpcSlot};

/// The figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SwapFigures {
    /// Swaps measured.
    pub swaps: usize,
    /// Median activation latency (activate → first call served by the new version), µs.
    pub activation_p50_us: f64,
    /// Slowest activation, µs.
    pub activation_max_us: f64,
    /// Calls measured in each phase.
    pub calls: usize,
    /// p50 / p99 of calls in steady state, µs.
    pub steady_p50_us: f64,
    /// p99 in steady state, µs.
    pub steady_p99_us: f64,
    /// p50 of calls while swapping, µs.
    pub swapping_p50_us: f64,
    /// p99 of calls while swapping, µs.
    pub swapping_p99_us: f64,
    /// The gate on one candidate, ms.
    pub gate_ms: f64,
}

const BODY: &[u8] = br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#;

fn percentile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[i].as_secs_f64() * 1e6
}

/// Runs the measurement with `calls` client calls per phase and `swaps` timed swaps.
pub fn run(calls: usize, swaps: usize) -> anyhow::Result<SwapFigures> {
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default())?);
    let b = builtin::RPC_ETH;
    let load = || runtime.load(&b.manifest(), &b.wasm(), &Grants::default());
    let version = |n: usize| -> anyhow::Result<Version<RpcEngine>> {
        Ok(Version {
            info: VersionInfo {
                name: b.name.into(),
                version: format!("0.{n}.0"),
                digest: format!("{n:064x}"),
            },
            module: Engine::Wasm(load()?),
        })
    };
    let db = Db::temporary()?;
    let chain = Arc::new(builtin::native_chain(
        db.clone(),
        ChainConfig::dev(),
        molt_upgrade_proxy::keys::generate(),
        &[],
    )?);
    let queries: Arc<dyn ChainService> = Arc::new(Queries::new(
        chain.clone(),
        Vec::new(),
        false,
        Default::default(),
    ));
    let slot = Arc::new(RpcSlot::new(version(0)?));
    let dir = tempfile::tempdir()?;
    let files = SlotFiles::new(dir.path());
    let handler = Arc::new(RpcModule::new(
        slot.clone(),
        queries.clone(),
        RpcParts {
            files,
            ledger: Ledger::new(crate::node::audit(&db), Arc::new(Metrics::default())),
            sample: Arc::new(Sample::default()),
            budget: Default::default(),
            relay: None,
            events: chain.events().clone(),
            health: Arc::new(crate::node::health::Health::new(chain.clone(), None)),
        },
    ));
    // Two versions to swap between, loaded ahead (loading is not activation).
    let versions = Arc::new([version(1)?, version(2)?]);
    let copy = |v: &Version<RpcEngine>| Version {
        info: v.info.clone(),
        module: v.module.clone(),
    };

    // Activation: activate, then one call that must run on the new version.
    let mut activations = Vec::with_capacity(swaps);
    for i in 0..swaps {
        let next = copy(&versions[i % 2]);
        let digest = next.info.digest.clone();
        let started = Instant::now();
        slot.activate(next);
        let lease = slot.lease();
        lease.module.call(&queries, BODY)?;
        activations.push(started.elapsed());
        anyhow::ensure!(
            lease.info.digest == digest,
            "the call ran on the old version"
        );
    }

    let clients = 2;
    let measure = |swapping: bool| -> anyhow::Result<Vec<Duration>> {
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = swapping.then(|| {
            let (slot, stop, versions) = (slot.clone(), stop.clone(), versions.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let v = &versions[i % 2];
                    slot.activate(Version {
                        info: v.info.clone(),
                        module: v.module.clone(),
                    });
                    i += 1;
                    std::thread::sleep(Duration::from_millis(2));
                }
                i
            })
        });
        let samples = std::thread::scope(|s| {
            let handles: Vec<_> = (0..clients)
                .map(|_| {
                    let handler = handler.clone();
                    s.spawn(move || {
                        (0..calls / clients)
                            .map(|_| {
                                let t = Instant::now();
                                let out = handler.handle(BODY);
                                let elapsed = t.elapsed();
                                (out, elapsed)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect::<Vec<_>>()
        });
        stop.store(true, Ordering::Relaxed);
        if let Some(t) = swapper {
            let n = t.join().unwrap_or(0);
            anyhow::ensure!(n > 0, "no swap happened during the calls");
        }
        for (out, _) in &samples {
            anyhow::ensure!(
                out.windows(8).any(|w| w == b"\"result\""),
                "a call failed: {}",
                String::from_utf8_lossy(out)
            );
        }
        Ok(samples.into_iter().map(|(_, d)| d).collect())
    };
    let mut steady = measure(false)?;
    let mut swapping = measure(true)?;

    let candidate: RpcEngine = Engine::Wasm(load()?);
    let started = Instant::now();
    crate::node::gate::rpc(
        &queries,
        &Sample::default(),
        &slot.active().module,
        &candidate,
        &Default::default(),
        &|_| {},
    )?;
    let gate_ms = started.elapsed().as_secs_f64() * 1e3;

    Ok(SwapFigures {
        swaps,
        activation_p50_us: percentile(&mut activations, 0.5),
        activation_max_us: percentile(&mut activations, 1.0),
        calls,
        steady_p50_us: percentile(&mut steady, 0.5),
        steady_p99_us: percentile(&mut steady, 0.99),
        swapping_p50_us: percentile(&mut swapping, 0.5),
        swapping_p99_us: percentile(&mut swapping, 0.99),
        gate_ms,
    })
}
