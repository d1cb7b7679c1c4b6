//! `molt verify`: re-executes a stopped node's chain from its data directory with the
//! modules in force at each height, as a node importing it would, and checks every
//! block against what is stored (receipts, logs bloom, gas used, state root, seal).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use crate::node::{EngineKind, Node, NodeConfig};

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// The node's data directory (the node must not be running).
    #[arg(long, default_value_os_t = super::default_datadir())]
    datadir: PathBuf,
    /// Run the modules as WebAssembly (default) or natively linked.
    #[arg(long, value_enum, default_value_t = EngineKind::Wasm)]
    engine: EngineKind,
    /// First block to re-execute.
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Last block to re-execute (default: the head).
    #[arg(long)]
    to: Option<u64>,
}

pub(super) fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if !args.datadir.join("db").is_dir() {
        bail!("{} holds no chain", args.datadir.display());
    }
    let chain = Node::open_chain(&NodeConfig {
        datadir: args.datadir.clone(),
        engine: args.engine,
        ..NodeConfig::default()
    })?;
    let last = args.to.unwrap_or_else(|| chain.head_number());
    for u in chain.upgrades() {
        let a = &u.announcement;
        match &u.module {
            Ok(m) => println!(
                "{} {} {} from block {} (announced in block {})",
                m.kind(),
                m.info().name,
                m.info().version,
                a.height,
                a.block
            ),
            Err(reason) => println!(
                "module {} from block {} (announced in block {}): {reason}",
                a.digest, a.height, a.block
            ),
        }
    }
    let started = std::time::Instant::now();
    let report = chain.verify_history(args.from, last)?;
    let seconds = started.elapsed().as_secs_f64();
    match report.mismatch {
        None => {
            println!(
                "ok: blocks {}..={last} ({} transactions) re-executed in {seconds:.1} s; \
                 receipts, state roots and seals match",
                args.from.max(1),
                report.transactions
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(m) => {
            eprintln!("mismatch: {m} ({} blocks before it matched)", report.blocks);
            Ok(ExitCode::FAILURE)
        }
    }
}
