//! The Ethereum GeneralStateTests conformance runner behind `molt statetest`.
//!
//! Each test case is one transaction (its `txbytes`) on a pre-state, under one fork.
//! The runner executes it as a one-transaction block through an [`Executor`] —
//! the WebAssembly module or its native twin — applies the state diff to the
//! pre-state, and compares the Ethereum state root and the hash of the logs with the
//! expected `hash` and `logs`. A case that expects an exception passes when the
//! transaction is rejected (or the block refused).
//!
//! Test files are parsed with `revm-statetest-types`; everything else is molt's own
//! path (ABI encoding, guest, host state, `alloy-trie` roots).

mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::{U256, keccak256};
use molt_abi::execution::{BlockEnv, BlockInput, TxOutcome};
use revm_statetest_types::{SpecName, Test, TestSuite, TestUnit};

use molt_runtime::Executor;
use molt_storage::state::MemState;

pub use report::{Counts, Failure, Report};

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only these forks (names as in the test files, e.g. `Cancun`); all if empty.
    pub forks: Vec<String>,
    /// Worker threads.
    pub jobs: usize,
}

/// The GeneralStateTests shipped beside the repository (`../shared/fixtures/…`), or
/// `$MOLT_FIXTURES` if set. Tests and benches read their cases from here.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("MOLT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/fixtures/ethereum-tests/GeneralStateTests")
        })
}

/// For each test unit in `file` with cases for `fork`: its name, its pre-state, and one
/// block holding every one of those cases' transactions, in order.
pub fn blocks(file: &Path, fork: &str) -> Result<Vec<(String, MemState, BlockInput)>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let suite: TestSuite = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (name, unit) in suite.0 {
        let Some((spec, tests)) = unit.post.iter().find(|(s, _)| format!("{s:?}") == fork) else {
            continue;
        };
        let txs = tests.iter().filter_map(|t| t.txbytes.clone()).collect();
        let input = BlockInput {
            env: block_env(&unit, spec),
            txs,
            impersonation: None,
        };
        out.push((name, pre_state(&unit), input));
    }
    Ok(out)
}

/// Every `.json` file under `paths`, sorted.
pub fn collect_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        if p.is_dir() {
            for entry in std::fs::read_dir(p)? {
                walk(&entry?.path(), out)?;
            }
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p.to_path_buf());
        } else if !p.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} does not exist", p.display()),
            ));
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// Runs every case in `files` and reports.
pub fn run(executor: &Executor, files: &[PathBuf], options: &Options) -> Report {
    let next = AtomicUsize::new(0);
    let jobs = options.jobs.max(1);
    let reports: Vec<Report> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    let mut report = Report::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        run_file(executor, file, options, &mut report);
                    }
                    report
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let mut total = Report::default();
    for r in reports {
        total.merge(r);
    }
    total.sort();
    total
}

fn run_file(executor: &Executor, file: &Path, options: &Options, report: &mut Report) {
    let suite = std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str::<TestSuite>(&text).map_err(|e| e.to_string()));
    let suite = match suite {
        Ok(s) => s,
        Err(e) => {
            report.file_error(file, format!("cannot read test file: {e}"));
            return;
        }
    };
    for (name, unit) in &suite.0 {
        let pre = pre_state(unit);
        for (spec, tests) in &unit.post {
            let fork = format!("{spec:?}");
            if !options.forks.is_empty() && !options.forks.contains(&fork) {
                continue;
            }
            for (index, test) in tests.iter().enumerate() {
                let case = report::Case {
                    file,
                    name,
                    fork: &fork,
                    index,
                };
                match run_case(executor, unit, spec, test, &pre) {
                    Verdict::Pass => report.pass(&case),
                    Verdict::Skip(why) => report.skip(&case, why),
                    Verdict::Fail(why) => report.fail(&case, why),
                }
            }
        }
    }
}

enum Verdict {
    Pass,
    Skip(&'static str),
    Fail(String),
}

fn run_case(
    executor: &Executor,
    unit: &TestUnit,
    spec: &SpecName,
    test: &Test,
    pre: &MemState,
) -> Verdict {
    if matches!(
        spec,
        SpecName::Constantinople | SpecName::ByzantiumToConstantinopleAt5 | SpecName::Unknown
    ) {
        return Verdict::Skip("fork not run (superseded or unknown)");
    }
    let Some(txbytes) = &test.txbytes else {
        return Verdict::Skip("no txbytes");
    };
    let input = BlockInput {
        env: block_env(unit, spec),
        txs: vec![txbytes.clone()],
        impersonation: None,
    };
    let expects_exception = test.expect_exception.is_some();
    let output = match executor.execute_block(Arc::new(pre.clone()), &input) {
        Ok(out) => out,
        Err(_) if expects_exception => return Verdict::Pass,
        Err(e) => return Verdict::Fail(format!("block failed: {e}")),
    };
    let receipt = match output.outcomes.first() {
        Some(TxOutcome::Included(r)) if !expects_exception => r,
        Some(TxOutcome::Included(_)) => {
            return Verdict::Fail(format!(
                "expected exception {}, but the transaction was included",
                test.expect_exception.as_deref().unwrap_or_default()
            ));
        }
        Some(TxOutcome::Rejected(_)) if expects_exception => return Verdict::Pass,
        Some(TxOutcome::Rejected(r)) => {
            return Verdict::Fail(format!("unexpected rejection {}: {}", r.code, r.message));
        }
        None => return Verdict::Fail("no outcome for the transaction".into()),
    };
    let logs_hash = keccak256(alloy_rlp::encode(&receipt.logs));
    if logs_hash != test.logs {
        return Verdict::Fail(format!("logs hash {logs_hash}, expected {}", test.logs));
    }
    let mut post = pre.clone();
    post.apply(&output.accounts, &output.codes);
    let root = post.state_root();
    if root != test.hash {
        return Verdict::Fail(format!(
            "state root {root}, expected {}{}",
            test.hash,
            first_difference(&post, test)
        ));
    }
    Verdict::Pass
}

/// The block a test unit's transaction executes in, under `spec`.
fn block_env(unit: &TestUnit, spec: &SpecName) -> BlockEnv {
    let spec_name: &'static str = spec.to_spec_id().into();
    let env = &unit.env;
    let u64_of = |v: U256| u64::try_from(v).unwrap_or(u64::MAX);
    BlockEnv {
        spec: spec_name.to_string(),
        chain_id: env.current_chain_id.map(u64_of).unwrap_or(1),
        number: u64_of(env.current_number),
        timestamp: u64_of(env.current_timestamp),
        coinbase: env.current_coinbase,
        gas_limit: u64_of(env.current_gas_limit),
        base_fee: env.current_base_fee.map(u64_of).unwrap_or_default(),
        difficulty: env.current_difficulty,
        prevrandao: env.current_random.unwrap_or_default(),
        excess_blob_gas: env.current_excess_blob_gas.map(u64_of).unwrap_or_default(),
    }
}

/// The pre-state of a test unit, with the block hashes tests expect for `BLOCKHASH`
/// (Keccak-256 of the decimal block number, the convention of the test suite).
fn pre_state(unit: &TestUnit) -> MemState {
    let mut state = MemState::new();
    for (address, acc) in &unit.pre {
        state.insert_account(
            *address,
            acc.balance,
            acc.nonce,
            acc.code.clone(),
            acc.storage.iter().map(|(k, v)| (*k, *v)),
        );
    }
    let number = u64::try_from(unit.env.current_number).unwrap_or(u64::MAX);
    for n in number.saturating_sub(256)..number {
        state.set_block_hash(n, keccak256(n.to_string().as_bytes()));
    }
    state
}

/// Where the post-state differs from the expected one, when the test lists it.
fn first_difference(post: &MemState, test: &Test) -> String {
    for (address, want) in &test.post_state {
        let Some((_, got)) = post.accounts().find(|(a, _)| *a == address) else {
            return format!(" ({address} missing)");
        };
        let code_hash = if want.code.is_empty() {
            alloy_trie::KECCAK_EMPTY
        } else {
            keccak256(&want.code)
        };
        if got.balance != want.balance || got.nonce != want.nonce || got.code_hash != code_hash {
            return format!(
                " ({address}: balance {} nonce {} code {}, expected balance {} nonce {} code {code_hash})",
                got.balance, got.nonce, got.code_hash, want.balance, want.nonce
            );
        }
        let got_storage: Vec<_> = post.storage_of(address).map(|(k, v)| (*k, *v)).collect();
        let mut want_storage: Vec<_> = want
            .storage
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (*k, *v))
            .collect();
        want_storage.sort();
        if got_storage != want_storage {
            return format!(" ({address}: storage {got_storage:?}, expected {want_storage:?})");
        }
    }
    if let Some((extra, _)) = post
        .accounts()
        .find(|(a, _)| !test.post_state.is_empty() && !test.post_state.contains_key(*a))
    {
        return format!(" ({extra} should not exist)");
    }
    String::new()
}
