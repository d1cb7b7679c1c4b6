//! `molt bench rpc`: a JSON-RPC load generator run against `molt dev` (both engines)
//! and against `anvil`, in the same run, over the same workload.
//!
//! For each target: start it as a separate process on a free port, deploy an ERC-20
//! from dev account 9, then
//! 1. **throughput** — `workers` clients, each with its own dev account and a
//!    keep-alive connection, send pre-signed transfers with `eth_sendRawTransaction`
//!    as fast as the node answers; the clock stops when every sender's mined nonce
//!    has reached its last transaction;
//! 2. **latency** — the same clients issue `eth_getBalance` and then `eth_call`
//!    (`balanceOf` on the token), and every request's round trip is recorded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::workloads::{bytecode, calldata};
use molt_chain::signer::Signer;

const GWEI: u128 = 1_000_000_000;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Concurrent clients (each sends from its own dev account; at most 9).
    pub workers: usize,
    /// Transfers each client sends.
    pub txs_per_worker: u64,
    /// Read requests of each kind each client sends.
    pub reads_per_worker: usize,
}

/// A node to measure: how to start it.
#[derive(Clone, Debug)]
pub struct Target {
    /// Name in the table.
    pub name: String,
    /// Program and arguments; `{port}` is replaced by a free port.
    pub command: Vec<String>,
}

/// Latency percentiles, milliseconds.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// One target's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figures {
    /// Target name.
    pub name: String,
    /// Transfers sent.
    pub txs: u64,
    /// Transfers mined per second.
    pub tx_per_s: f64,
    /// `eth_sendRawTransaction` round trips.
    pub send: Latency,
    /// `eth_getBalance` round trips.
    pub get_balance: Latency,
    /// `eth_call` round trips.
    pub call: Latency,
}

/// A running target; killed on drop.
pub(super) struct Running {
    child: Child,
    pub(super) addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(super) fn start(target: &Target) -> anyhow::Result<Running> {
    let port = free_port()?.to_string();
    let args: Vec<String> = target
        .command
        .iter()
        .map(|a| a.replace("{port}", &port))
        .collect();
    let log = std::env::temp_dir().join(format!("molt-bench-rpc-{port}.log"));
    let child = Command::new(&args[0])
        .args(&args[1..])
        .stdout(Stdio::from(std::fs::File::create(&log)?))
        .stderr(Stdio::from(std::fs::File::create(&log)?))
        .spawn()
        .with_context(|| format!("starting {}", args.join(" ")))?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let running = Running { child, addr };
    wait_serving(addr, Duration::from_secs(120)).with_context(|| target.name.clone())?;
    Ok(running)
}

/// Waits until `addr` answers JSON-RPC, at most `within`.
pub(super) fn wait_serving(addr: SocketAddr, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(mut c) = Conn::open(addr)
            && c.call("eth_chainId", json!([])).is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("nothing answered on {addr} within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A keep-alive HTTP/1.1 JSON-RPC connection.
pub(super) struct Conn {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Conn {
    pub(super) fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            reader: BufReader::new(stream),
            addr,
        })
    }

    /// One call; if the server closed the idle connection, reconnects once.
    pub(super) fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let body = body.to_string();
        match self.exchange(&body) {
            Ok(v) => Self::result(method, v),
            Err(_) => {
                *self = Conn::open(self.addr)?;
                Self::result(method, self.exchange(&body)?)
            }
        }
    }

    fn result(method: &str, v: Value) -> anyhow::Result<Value> {
        match v.get("result") {
            Some(r) => Ok(r.clone()),
            None => bail!("{method}: {}", v["error"]),
        }
    }

    /// Sends one request body and reads the response.
    fn exchange(&mut self, body: &str) -> anyhow::Result<Value> {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.reader.get_mut().write_all(request.as_bytes())?;
        let mut length = None;
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = Some(v.trim().parse::<usize>()?);
            }
        }
        let Some(length) = length else {
            bail!("response without Content-Length");
        };
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(serde_json::from_slice(&body)?)
    }
}

pub(super) fn hex(b: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(b))
}

pub(super) fn quantity(v: &Value) -> anyhow::Result<u64> {
    let s = v.as_str().context("expected a hex quantity")?;
    Ok(u64::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

pub(super) fn percentiles(mut samples: Vec<Duration>) -> Latency {
    if samples.is_empty() {
        return Latency::default();
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1e3
    };
    Latency {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

fn wait_mined(conn: &mut Conn, sender: Address, nonce: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while quantity(&conn.call("eth_getTransactionCount", json!([sender, "latest"]))?)? < nonce {
        if Instant::now() > deadline {
            bail!("transactions of {sender} were not mined");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// How long `f` took, if it succeeded.
fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<Duration> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed())
}

/// Runs `client(connection, i)` on `n` threads, each with its own keep-alive
/// connection, and gathers their round-trip times.
pub(super) fn clients(
    addr: SocketAddr,
    n: usize,
    client: impl Fn(&mut Conn, usize) -> anyhow::Result<Vec<Duration>> + Sync,
) -> anyhow::Result<Vec<Duration>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let client = &client;
                scope.spawn(move || client(&mut Conn::open(addr)?, i))
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a client panicked"))??,
            );
        }
        Ok(all)
    })
}

/// Measures one target.
pub fn measure(target: &Target, config: &Config) -> anyhow::Result<Figures> {
    let running = start(target)?;
    eprintln!(
        "  {} on {} (log: molt-bench-rpc-{}.log in the temp dir)",
        target.name,
        running.addr,
        running.addr.port()
    );
    let addr = running.addr;
    let keys = crate::dev_accounts::secrets(10)?;
    let signers: Vec<Signer> = keys
        .iter()
        .map(Signer::from_secret)
        .collect::<Result<_, _>>()?;
    let workers = config.workers.clamp(1, 9);

    // The token the reads call.
    let mut conn = Conn::open(addr)?;
    let deployer = &signers[9];
    let mut init = bytecode("Token", "init").to_vec();
    init.extend_from_slice(&U256::from(10u128.pow(24)).to_be_bytes::<32>());
    let deploy = deployer.sign(TxEip1559 {
        chain_id: 31337,
        nonce: 0,
        gas_limit: 2_000_000,
        max_fee_per_gas: 100 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Create,
        input: init.into(),
        ..TxEip1559::default()
    });
    conn.call("eth_sendRawTransaction", json!([hex(&deploy)]))?;
    wait_mined(&mut conn, deployer.address(), 1)?;
    let token = deployer.address().create(0);

    // Pre-signed transfers, one sequence per worker.
    let recipient = Address::repeat_byte(0x42);
    let batches: Vec<(Address, Vec<Bytes>)> = signers[..workers]
        .iter()
        .map(|s| {
            let txs = (0..config.txs_per_worker)
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
                .collect();
            (s.address(), txs)
        })
        .collect();

    let started = Instant::now();
    let sends = clients(addr, workers, |conn, i| {
        batches[i]
            .1
            .iter()
            .map(|raw| timed(|| conn.call("eth_sendRawTransaction", json!([hex(raw)]))))
            .collect()
    })?;
    for (sender, txs) in &batches {
        wait_mined(&mut conn, *sender, txs.len() as u64)?;
    }
    let elapsed = started.elapsed();
    let txs = workers as u64 * config.txs_per_worker;

    let balance_of = calldata::call(
        "balanceOf(address)",
        &[B256::left_padding_from(deployer.address().as_slice())],
    );
    let reads = |method: &str, params: Value| {
        clients(addr, workers, |conn, _| {
            (0..config.reads_per_worker)
                .map(|_| timed(|| conn.call(method, params.clone())))
                .collect()
        })
    };
    let get_balance = percentiles(reads("eth_getBalance", json!([recipient, "latest"]))?);
    let call = percentiles(reads(
        "eth_call",
        json!([{"to": token, "data": hex(&balance_of)}, "latest"]),
    )?);
    drop(running);
    Ok(Figures {
        name: target.name.clone(),
        txs,
        tx_per_s: txs as f64 / elapsed.as_secs_f64(),
        send: percentiles(sends),
        get_balance,
        call,
    })
}

/// The figures as a table, with each molt row's ratio to the first row.
pub fn table(rows: &[Figures]) -> String {
    let mut out = format!(
        "{:<14} {:>7} {:>9} {:>15} {:>19} {:>17}\n",
        "target", "txs", "tx/s", "send p50/p99", "getBalance p50/p99", "eth_call p50/p99"
    );
    let ms = |l: &Latency| format!("{:.2}/{:.2} ms", l.p50_ms, l.p99_ms);
    for r in rows {
        out.push_str(&format!(
            "{:<14} {:>7} {:>9.0} {:>15} {:>19} {:>17}\n",
            r.name,
            r.txs,
            r.tx_per_s,
            ms(&r.send),
            ms(&r.get_balance),
            ms(&r.call)
        ));
    }
    if let Some(base) = rows.first() {
        for r in &rows[1..] {
            out.push_str(&format!(
                "{} vs {}: throughput {:.2}x, eth_call p99 {:.2}x, getBalance p99 {:.2}x\n",
                r.name,
                base.name,
                r.tx_per_s / base.tx_per_s,
                r.call.p99_ms / base.call.p99_ms,
                r.get_balance.p99_ms / base.get_balance.p99_ms,
            ));
        }
    }
    out
}

/// Where `npm ci` in `host/tests/e2e` puts anvil: the platform package's binary if
/// there is one (npm's `.bin/anvil` shim does not pass a kill on, and would leave
/// anvil running after the bench), else the shim.
pub fn default_anvil() -> PathBuf {
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/node_modules");
    std::fs::read_dir(modules.join("@foundry-rs"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("anvil-"))
        .map(|e| e.path().join("bin/anvil"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| modules.join(".bin/anvil"))
}
