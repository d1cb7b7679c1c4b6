//! `--chaos.*`: faults to inject, for watching a node degrade and recover on a test
//! network (`molt_runtime::chaos`, `molt_chain::CommitFault`). Never on a production
//! node: an injected fault is a real failure.

use clap::Args;
use molt_chain::CommitFault;
use molt_runtime::chaos::{Faults, SlotFaults};

use crate::node::ChaosPlan;

/// The chaos flags of `molt dev` and `molt node`.
#[derive(Debug, Default, Args)]
pub(super) struct ChaosArgs {
    /// Make this share of a slot's calls trap: `rpc=0.5`, `execution=1` (repeatable).
    #[arg(long = "chaos.trap", value_name = "SLOT=RATE", value_parser = rate)]
    trap: Vec<(String, f64)>,
    /// Slow every call of a slot down: `rpc=200ms` (repeatable).
    #[arg(long = "chaos.delay", value_name = "SLOT=DURATION", value_parser = delay)]
    delay: Vec<(String, u64)>,
    /// Fail this share of a slot's host imports (state reads, chain queries):
    /// `rpc=0.1` (repeatable).
    #[arg(long = "chaos.import-fail", value_name = "SLOT=RATE", value_parser = rate)]
    import_fail: Vec<(String, f64)>,
    /// Seed of the rates' generator, to repeat a run.
    #[arg(long = "chaos.seed", default_value_t = 1)]
    seed: u64,
    /// Make the commit of a block fail once (`fail@5`) or abort the process after the
    /// block is written and before it is flushed (`abort@5`).
    #[arg(long = "chaos.commit", value_name = "fail@H|abort@H", value_parser = commit)]
    commit: Option<CommitFault>,
}

impl ChaosArgs {
    pub(super) fn plan(&self) -> ChaosPlan {
        let mut faults = Faults::new();
        fn slot<'a>(faults: &'a mut Faults, name: &str) -> &'a mut SlotFaults {
            faults.entry(name.to_string()).or_default()
        }
        for (name, rate) in &self.trap {
            slot(&mut faults, name).trap = *rate;
        }
        for (name, ms) in &self.delay {
            slot(&mut faults, name).delay_ms = *ms;
        }
        for (name, rate) in &self.import_fail {
            slot(&mut faults, name).import_failure = *rate;
        }
        ChaosPlan {
            faults,
            seed: self.seed,
            commit: self.commit,
        }
    }
}

fn slot_and(s: &str) -> Result<(String, &str), String> {
    let (slot, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected SLOT=VALUE"))?;
    // A slot is named by the kind of module it holds.
    match slot.parse::<molt_abi::Kind>() {
        Ok(_) => Ok((slot.to_string(), value)),
        Err(_) => Err(format!(
            "{slot:?} is not a slot (rpc, execution, consensus)"
        )),
    }
}

fn rate(s: &str) -> Result<(String, f64), String> {
    let (slot, value) = slot_and(s)?;
    let rate: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a rate"))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!("{value}: a rate is between 0 and 1"));
    }
    Ok((slot, rate))
}

fn delay(s: &str) -> Result<(String, u64), String> {
    let (slot, value) = slot_and(s)?;
    Ok((slot, super::dev::parse_duration(value)?.as_millis() as u64))
}

fn commit(s: &str) -> Result<CommitFault, String> {
    let (kind, height) = s
        .split_once('@')
        .ok_or_else(|| format!("{s:?}: expected fail@HEIGHT or abort@HEIGHT"))?;
    let height: u64 = height
        .parse()
        .map_err(|_| format!("{height:?} is not a block height"))?;
    match kind {
        "fail" => Ok(CommitFault::Fail { height }),
        "abort" => Ok(CommitFault::Abort { height }),
        _ => Err(format!("{kind:?}: a commit fault is fail or abort")),
    }
}
