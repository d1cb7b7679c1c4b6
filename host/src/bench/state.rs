//! `molt bench state`: does a node slow down as its state grows? Against `molt dev`
//! and `anvil`, in the same run, over the same load.
//!
//! For each target: start it as a separate process, deploy a filler contract, then in
//! `steps` equal steps fill the state up to `slots` storage slots (one contract) and
//! `accounts` new accounts (funded with 1 wei each by the filler), and after each
//! step measure transfer throughput as `molt bench rpc` does — `workers` clients
//! sending pre-signed transfers as fast as the node answers, each with at most 256 in
//! flight — and the time per block
//! (the phase's wall time over the blocks it produced). The first step is the fresh
//! chain; the last row's throughput over the first's is the figure to watch.
//!
//! Fill transactions go one at a time, each under half a block's gas, so that the
//! base fee falls rather than climbs while filling.

use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use anyhow::{Context, bail};
use serde_json::json;

use super::rpc::{Conn, Target, clients, hex, quantity, start};
use molt_chain::signer::Signer;

const GWEI: u128 = 1_000_000_000;

/// The filler's code (with its 11-byte init prefix). Called with three words
/// `[start, count, kind]`: kind 0 sets slots `start..start + count` to 1; any other
/// kind sends 1 wei (from the call's value) to each address `0x10000 + i` for `i` in
/// that range, creating the accounts.
const FILLER: &str = "603d80600b6000396000f3\
    6040356000358060203501905b81811015603b5782601f57600181556034565b\
    600060006000600060018562010000016000f1505b600101600c565b00";

/// Most transfers a client has in flight (sent, not yet mined).
const WINDOW: u64 = 256;

/// New slots per fill transaction (about 13.3 M gas: under half a 30 M block).
const SLOTS_PER_TX: u64 = 600;
/// New accounts per fill transaction (about 13.9 M gas).
const ACCOUNTS_PER_TX: u64 = 380;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Concurrent transfer clients (each with its own dev account; at most 8).
    pub workers: usize,
    /// Transfers each client sends per measurement.
    pub txs_per_worker: u64,
    /// Storage slots to fill in all.
    pub slots: u64,
    /// Accounts to create in all.
    pub accounts: u64,
    /// Fill steps (a measurement before the first and after each).
    pub steps: u64,
}

/// One measurement.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Step {
    /// Slots filled so far.
    pub slots: u64,
    /// Accounts created so far.
    pub accounts: u64,
    /// Transfers mined per second.
    pub tx_per_s: f64,
    /// Blocks the transfers took.
    pub blocks: u64,
    /// Wall time per block, ms.
    pub ms_per_block: f64,
    /// Seconds the fill before this measurement took.
    pub fill_s: f64,
}

/// One target's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figures {
    /// Target name.
    pub name: String,
    /// The measurements, fresh chain first.
    pub steps: Vec<Step>,
}

impl Figures {
    /// Throughput with the state filled over throughput on the fresh chain.
    pub fn ratio(&self) -> f64 {
        match (self.steps.first(), self.steps.last()) {
            (Some(a), Some(b)) if a.tx_per_s > 0.0 => b.tx_per_s / a.tx_per_s,
            _ => 0.0,
        }
    }
}

/// A dev account's next nonce.
fn nonce(conn: &mut Conn, who: Address) -> anyhow::Result<u64> {
    quantity(&conn.call("eth_getTransactionCount", json!([who, "latest"]))?)
}

fn head(conn: &mut Conn) -> anyhow::Result<u64> {
    quantity(&conn.call("eth_blockNumber", json!([]))?)
}

/// Sends `raw` and waits until `sender`'s mined nonce passes `nonce`.
fn send_and_wait(conn: &mut Conn, raw: &Bytes, sender: Address, nonce: u64) -> anyhow::Result<()> {
    conn.call("eth_sendRawTransaction", json!([hex(raw)]))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while self::nonce(conn, sender)? <= nonce {
        if Instant::now() > deadline {
            bail!("transaction {nonce} of {sender} was not mined within 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn tx(s: &Signer, nonce: u64, to: TxKind, gas: u64, value: u64, input: Vec<u8>) -> Bytes {
    s.sign(TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 1_000 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to,
        value: U256::from(value),
        input: input.into(),
        ..TxEip1559::default()
    })
}

/// The filler's calldata.
fn fill_call(start: u64, count: u64, kind: u64) -> Vec<u8> {
    [start, count, kind]
        .iter()
        .flat_map(|w| B256::from(U256::from(*w)).0)
        .collect()
}

/// Grows the state from `(slots, accounts)` to `(to_slots, to_accounts)`.
fn fill(
    conn: &mut Conn,
    filler: (Address, &Signer),
    (slots, accounts): (u64, u64),
    (to_slots, to_accounts): (u64, u64),
) -> anyhow::Result<()> {
    let (contract, s) = filler;
    let mut n = nonce(conn, s.address())?;
    let mut run = |from: u64, to: u64, per_tx: u64, kind: u64| -> anyhow::Result<()> {
        let mut at = from;
        while at < to {
            let count = per_tx.min(to - at);
            let value = if kind == 0 { 0 } else { count };
            let raw = tx(
                s,
                n,
                TxKind::Call(contract),
                14_500_000,
                value,
                fill_call(at, count, kind),
            );
            send_and_wait(conn, &raw, s.address(), n)?;
            n += 1;
            at += count;
        }
        Ok(())
    };
    run(slots, to_slots, SLOTS_PER_TX, 0)?;
    run(accounts, to_accounts, ACCOUNTS_PER_TX, 1)
}

/// Transfer throughput now: each worker sends `txs` pre-signed transfers.
fn transfers(
    conn: &mut Conn,
    addr: std::net::SocketAddr,
    workers: &[Signer],
    txs: u64,
) -> anyhow::Result<(f64, u64, f64)> {
    let recipient = Address::repeat_byte(0x42);
    let mut batches = Vec::new();
    for s in workers {
        let first = nonce(conn, s.address())?;
        let raws: Vec<Bytes> = (first..first + txs)
            .map(|n| tx(s, n, TxKind::Call(recipient), 21_000, 1, Vec::new()))
            .collect();
        batches.push((s.address(), first + txs, raws));
    }
    let head_before = head(conn)?;
    let started = Instant::now();
    clients(addr, workers.len(), |c, i| {
        let (sender, last, raws) = &batches[i];
        let first = last - txs;
        for (k, raw) in raws.iter().enumerate() {
            // At most WINDOW in flight per sender: anvil stops mining a sender's
            // transactions when hundreds are pending at once.
            let k = k as u64;
            if k >= WINDOW && k.is_multiple_of(32) {
                while nonce(c, *sender)? + WINDOW < first + k {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            c.call("eth_sendRawTransaction", json!([hex(raw)]))?;
        }
        Ok(Vec::new())
    })?;
    let deadline = Instant::now() + Duration::from_secs(300);
    for (sender, last, _) in &batches {
        while nonce(conn, *sender)? < *last {
            if Instant::now() > deadline {
                bail!("the transfers of {sender} were not mined within 5 minutes");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let blocks = head(conn)? - head_before;
    let total = (workers.len() as u64 * txs) as f64;
    Ok((
        total / elapsed,
        blocks,
        elapsed * 1e3 / blocks.max(1) as f64,
    ))
}

/// Measures one target.
pub fn measure(target: &Target, config: &Config) -> anyhow::Result<Figures> {
    let running = start(target)?;
    let addr = running.addr;
    eprintln!("  {} on {addr}", target.name);
    let signers: Vec<Signer> = crate::dev_accounts::secrets(10)?
        .iter()
        .map(Signer::from_secret)
        .collect::<Result<_, _>>()?;
    let workers = &signers[..config.workers.clamp(1, 8)];
    let (filler_key, deployer) = (&signers[8], &signers[9]);
    let mut conn = Conn::open(addr)?;

    let n = nonce(&mut conn, deployer.address())?;
    let init = alloy_primitives::hex::decode(FILLER).context("filler code")?;
    let raw = tx(deployer, n, TxKind::Create, 200_000, 0, init);
    send_and_wait(&mut conn, &raw, deployer.address(), n)?;
    let contract = deployer.address().create(n);

    let steps = config.steps.max(1);
    let mut figures = Figures {
        name: target.name.clone(),
        steps: Vec::new(),
    };
    let mut filled = (0, 0);
    for step in 0..=steps {
        let goal = (config.slots * step / steps, config.accounts * step / steps);
        let t = Instant::now();
        fill(&mut conn, (contract, filler_key), filled, goal)?;
        let fill_s = t.elapsed().as_secs_f64();
        filled = goal;
        let (tx_per_s, blocks, ms_per_block) =
            transfers(&mut conn, addr, workers, config.txs_per_worker)?;
        eprintln!(
            "    {} slots, {} accounts: {tx_per_s:.0} tx/s, {ms_per_block:.1} ms/block (fill {fill_s:.1} s)",
            goal.0, goal.1
        );
        figures.steps.push(Step {
            slots: goal.0,
            accounts: goal.1,
            tx_per_s,
            blocks,
            ms_per_block,
            fill_s,
        });
    }
    // The fill really happened: the last slot is set and the last account funded.
    if config.slots > 0 {
        let last = format!("0x{:x}", config.slots - 1);
        let v = conn.call("eth_getStorageAt", json!([contract, last, "latest"]))?;
        if v.as_str()
            .map(|s| s.trim_start_matches("0x").trim_start_matches('0'))
            != Some("1")
        {
            bail!("{}: slot {last} of the filler is {v}, not 1", target.name);
        }
    }
    if config.accounts > 0 {
        let last = Address::left_padding_from(&(0x10000 + config.accounts - 1).to_be_bytes());
        let v = quantity(&conn.call("eth_getBalance", json!([last, "latest"]))?)?;
        if v != 1 {
            bail!("{}: account {last} holds {v} wei, not 1", target.name);
        }
    }
    drop(running);
    Ok(figures)
}

/// The figures as a table, with each target's filled/fresh ratio.
pub fn table(rows: &[Figures]) -> String {
    let mut out = format!(
        "{:<12} {:>9} {:>9} {:>9} {:>8} {:>10} {:>8}\n",
        "target", "slots", "accounts", "tx/s", "blocks", "ms/block", "fill s"
    );
    for r in rows {
        for s in &r.steps {
            out.push_str(&format!(
                "{:<12} {:>9} {:>9} {:>9.0} {:>8} {:>10.1} {:>8.1}\n",
                r.name, s.slots, s.accounts, s.tx_per_s, s.blocks, s.ms_per_block, s.fill_s
            ));
        }
    }
    for r in rows {
        out.push_str(&format!(
            "{}: throughput with the state filled / fresh = {:.2}\n",
            r.name,
            r.ratio()
        ));
    }
    out
}
