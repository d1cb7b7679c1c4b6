//! `molt statetest` on a subset of Ethereum's GeneralStateTests, both engines, as a
//! user runs it. The full suite: `molt statetest --fork Cancun <fixtures>` (README).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::PathBuf;
use std::process::Command;

/// Directories of the CI subset: every area of the EVM at least once, a few hundred
/// cases, seconds to run.
const SUBSET: &[&str] = &[
    "stExample",
    "stChainId",
    "stSLoadTest",
    "stCodeCopyTest",
    "stEIP2930",
    "stEIP3607",
    "stSelfBalance",
    "stEIP158Specific",
    "Shanghai",
    "stPreCompiledContracts",
    "stLogTests",
    "stShift",
    "stCreateTest",
    "stReturnDataTest",
    "stStaticFlagEnabled",
    "stInitCodeTest",
    "Pyspecs/cancun",
];

fn fixtures() -> PathBuf {
    std::env::var_os("MOLT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/fixtures/ethereum-tests/GeneralStateTests")
        })
}

fn run(engine: &str) -> serde_json::Value {
    let root = fixtures();
    let out = Command::new(env!("CARGO_BIN_EXE_molt"))
        .args([
            "statetest",
            "--json",
            "--fork",
            "Cancun",
            "--engine",
            engine,
        ])
        .args(SUBSET.iter().map(|d| root.join(d)))
        .output()
        .expect("run molt statetest");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert!(
        out.status.success(),
        "failures with --engine {engine}: {:#}",
        report["failures"]
    );
    report
}

#[test]
fn the_cancun_subset_passes_on_both_engines_with_the_same_counts() {
    let wasm = run("wasm");
    let native = run("native");
    let passed = wasm["forks"]["Cancun"]["passed"].as_u64().unwrap();
    assert!(passed >= 1000, "only {passed} cases ran");
    assert_eq!(wasm["forks"], native["forks"]);
}
