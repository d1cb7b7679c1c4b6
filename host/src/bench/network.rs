//! `molt bench network`: validator networks of several sizes on loopback against a
//! single `molt dev`, in the same run, over the same workload.
//!
//! For each size n: `molt testnet init --validators n` into a temporary directory,
//! every node started as its own process, the network left to decide its first
//! heights, then `workers` clients send pre-signed
//! transfers with `eth_sendRawTransaction`, client i to node i mod n (the nodes relay
//! them to each other's pools). A watcher follows the chain on node 0 and notes when
//! each transfer's block appears there: the **submit-to-receipt latency**. Reported:
//! finalised blocks per second and transfers per second over the run (from the first
//! send to the block with the last transfer), and the latency's p50 and p99. `molt
//! dev` (instant sealing, one node) is measured the same way as the baseline.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use anyhow::{Context, bail};
use serde_json::json;

use super::rpc::{Conn, Latency, free_port, hex, percentiles, quantity, wait_serving};
use molt_chain::signer::Signer;
use std::sync::atomic::{AtomicBool, Ordering};

const GWEI: u128 = 1_000_000_000;
/// How long a node may take to start serving (it compiles its modules first).
const SERVING_WITHIN: Duration = Duration::from_secs(180);

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Network sizes (validators) to measure.
    pub sizes: Vec<usize>,
    /// Concurrent clients, each sending from its own dev account (at most 10).
    pub workers: usize,
    /// Transfers each client sends.
    pub txs_per_worker: u64,
    /// The networks' least time between blocks, ms.
    pub block_time_ms: u64,
    /// Engine for the guests (`wasm` or `native`).
    pub engine: String,
}

/// One row.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figures {
    /// `molt dev` or `n validators`.
    pub name: String,
    /// Transfers sent.
    pub txs: u64,
    /// Blocks finalised per second during the run.
    pub blocks_per_s: f64,
    /// Transfers included per second.
    pub tx_per_s: f64,
    /// From `eth_sendRawTransaction` to the block on node 0.
    pub latency: Latency,
}

/// Child processes, killed on drop.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(args: &[&str], log: &Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    Command::new(&exe)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log)?))
        .spawn()
        .with_context(|| format!("starting {} {}", exe.display(), args.join(" ")))
}

/// A p2p base port with the ports a network of `n` needs free (p2p, RPC, admin).
fn free_base(n: usize) -> anyhow::Result<u16> {
    for attempt in 0..50u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(attempt);
        let base = 20_000 + ((nanos / 1000 + attempt * 7919) % 2_000) as u16 * 10;
        let free = (0..n as u16).all(|i| {
            [0, 1000, 2000]
                .iter()
                .all(|o| std::net::TcpListener::bind(("127.0.0.1", base + o + i)).is_ok())
        });
        if free {
            return Ok(base);
        }
    }
    bail!("no free port range for {n} nodes")
}

/// Starts a network of `n` validators in `dir`; their RPC addresses.
fn start_network(
    n: usize,
    dir: &Path,
    config: &Config,
) -> anyhow::Result<(Processes, Vec<SocketAddr>)> {
    let base = free_base(n)?;
    let out = Command::new(std::env::current_exe()?)
        .args(["testnet", "init", "--out"])
        .arg(dir)
        .args(["--validators", &n.to_string()])
        .args(["--base-port", &base.to_string()])
        .args(["--block-time-ms", &config.block_time_ms.to_string()])
        .output()?;
    if !out.status.success() {
        bail!("testnet init: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut processes = Processes(Vec::new());
    let mut addrs = Vec::new();
    for i in 0..n {
        let datadir = dir.join(format!("node{i}"));
        let node_dir = datadir.to_str().context("a UTF-8 path")?;
        processes.0.push(spawn(
            &["node", "--datadir", node_dir, "--engine", &config.engine],
            &datadir.join("node.log"),
        )?);
        addrs.push(SocketAddr::from(([127, 0, 0, 1], base + 1000 + i as u16)));
    }
    for addr in &addrs {
        wait_serving(*addr, SERVING_WITHIN)?;
    }
    // Measure a network that decides: its peers connected and a few heights behind it.
    let mut conn = Conn::open(addrs[0])?;
    let deadline = Instant::now() + Duration::from_secs(180);
    while quantity(&conn.call("eth_blockNumber", json!([]))?)? < 3 {
        if Instant::now() > deadline {
            bail!("the network of {n} did not reach height 3");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((processes, addrs))
}

/// Measures a network of `n` validators (`None`: `molt dev`).
pub fn measure(n: Option<usize>, config: &Config) -> anyhow::Result<Figures> {
    let tmp = tempfile::tempdir()?;
    let (processes, addrs, name) = match n {
        Some(n) => {
            let (p, a) = start_network(n, tmp.path(), config)?;
            (p, a, format!("{n} validators"))
        }
        None => {
            let port = free_port()?;
            let dir = tmp.path().to_str().context("a UTF-8 path")?;
            let child = spawn(
                &[
                    "dev",
                    "--datadir",
                    dir,
                    "--http.port",
                    &port.to_string(),
                    "--engine",
                    &config.engine,
                ],
                &tmp.path().join("node.log"),
            )?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let processes = Processes(vec![child]);
            wait_serving(addr, SERVING_WITHIN)?;
            (processes, vec![addr], "molt dev".to_string())
        }
    };
    eprintln!("  {name}: nodes on {addrs:?}");
    let figures = run_load(&name, &addrs, config);
    drop(processes);
    figures
}

fn run_load(name: &str, addrs: &[SocketAddr], config: &Config) -> anyhow::Result<Figures> {
    let workers = config.workers.clamp(1, 10);
    let signers: Vec<Signer> = crate::dev_accounts::secrets(10)?
        .iter()
        .map(Signer::from_secret)
        .collect::<Result<_, _>>()?;
    let recipient = Address::repeat_byte(0x42);
    let batches: Vec<Vec<Bytes>> = signers[..workers]
        .iter()
        .map(|s| {
            (0..config.txs_per_worker)
                .map(|nonce| {
                    s.sign(TxEip1559 {
                        chain_id: 31337,
                        nonce,
                        gas_limit: 21_000,
                        max_fee_per_gas: 100 * GWEI,
                        max_priority_fee_per_gas: GWEI,
                        to: TxKind::Call(recipient),
                        value: U256::from(1),
                        ..TxEip1559::default()
                    })
                })
                .collect()
        })
        .collect();
    let total = workers as u64 * config.txs_per_worker;
    let sent: Mutex<HashMap<B256, Instant>> = Mutex::new(HashMap::new());
    let mut watcher = Conn::open(addrs[0])?;
    let first_block = quantity(&watcher.call("eth_blockNumber", json!([]))?)?;
    let failed = AtomicBool::new(false);
    let started = Instant::now();
    let (latencies, last_block, finished) = std::thread::scope(|scope| {
        for (i, batch) in batches.iter().enumerate() {
            let addr = addrs[i % addrs.len()];
            let (sent, failed) = (&sent, &failed);
            scope.spawn(move || {
                let send = || -> anyhow::Result<()> {
                    let mut conn = Conn::open(addr)?;
                    for raw in batch {
                        sent.lock()
                            .map_err(|_| anyhow::anyhow!("poisoned"))?
                            .insert(keccak256(raw), Instant::now());
                        conn.call("eth_sendRawTransaction", json!([hex(raw)]))?;
                    }
                    Ok(())
                };
                if let Err(e) = send() {
                    eprintln!("  client {i} to {addr}: {e:#}");
                    failed.store(true, Ordering::Relaxed);
                }
            });
        }
        // Follow node 0's chain until every transfer is in a block.
        let mut latencies = Vec::with_capacity(total as usize);
        let mut next = first_block + 1;
        let deadline = Instant::now() + Duration::from_secs(600);
        while (latencies.len() as u64) < total {
            if failed.load(Ordering::Relaxed) {
                bail!("{name}: a client failed to send");
            }
            if Instant::now() > deadline {
                bail!(
                    "{name}: only {} of {total} transfers were included",
                    latencies.len()
                );
            }
            let head = quantity(&watcher.call("eth_blockNumber", json!([]))?)?;
            if head < next {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let seen = Instant::now();
            for number in next..=head {
                let block = watcher.call(
                    "eth_getBlockByNumber",
                    json!([format!("0x{number:x}"), false]),
                )?;
                let hashes = block["transactions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let sent = sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                for h in hashes {
                    if let Some(at) = h
                        .as_str()
                        .and_then(|h| h.parse::<B256>().ok())
                        .and_then(|h| sent.get(&h))
                    {
                        latencies.push(seen.duration_since(*at));
                    }
                }
            }
            next = head + 1;
        }
        Ok((latencies, next - 1, started.elapsed()))
    })?;
    let seconds = finished.as_secs_f64();
    Ok(Figures {
        name: name.to_string(),
        txs: total,
        blocks_per_s: (last_block - first_block) as f64 / seconds,
        tx_per_s: total as f64 / seconds,
        latency: percentiles(latencies),
    })
}

/// The figures as a table, each network's ratio to `molt dev` (the first row) below.
pub fn table(rows: &[Figures]) -> String {
    let mut out = format!(
        "{:<14} {:>6} {:>9} {:>8} {:>22}\n",
        "target", "txs", "blocks/s", "tx/s", "submit→receipt p50/p99"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<14} {:>6} {:>9.1} {:>8.0} {:>22}\n",
            r.name,
            r.txs,
            r.blocks_per_s,
            r.tx_per_s,
            format!("{:.0}/{:.0} ms", r.latency.p50_ms, r.latency.p99_ms)
        ));
    }
    if let Some(base) = rows.first() {
        for r in &rows[1..] {
            out.push_str(&format!(
                "{} vs {}: throughput {:.2}x, latency p50 {:.1}x, p99 {:.1}x\n",
                r.name,
                base.name,
                r.tx_per_s / base.tx_per_s,
                r.latency.p50_ms / base.latency.p50_ms,
                r.latency.p99_ms / base.latency.p99_ms,
            ));
        }
    }
    out
}
