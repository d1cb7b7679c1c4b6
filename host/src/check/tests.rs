#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use super::*;
use crate::builtin;

fn outcomes(report: &Report, check: &str) -> Vec<Outcome> {
    report
        .findings
        .iter()
        .filter(|f| f.check == check)
        .map(|f| f.outcome)
        .collect()
}

#[test]
fn the_built_in_modules_pass_with_the_fixture_answered_as_they_answer_it() {
    for b in [builtin::RPC_ETH, builtin::EXECUTION, builtin::CONSENSUS] {
        let signed = molt_upgrade_proxy::package::sign(
            &b.wasm(),
            &b.manifest(),
            &molt_upgrade_proxy::keys::generate(),
        )
        .unwrap();
        let report = check(signed, None).unwrap();
        let text = report.text();
        assert!(!report.failed(), "{}:\n{text}", b.name);
        assert_eq!(outcomes(&report, "signature"), [Outcome::Pass], "{text}");
        assert_eq!(outcomes(&report, "determinism"), [Outcome::Pass], "{text}");
        match b.kind {
            // The same module on both sides.
            Kind::Rpc => assert_eq!(
                outcomes(&report, "json-rpc"),
                [Outcome::Pass, Outcome::Pass],
                "{text}"
            ),
            _ => assert_eq!(outcomes(&report, "agreement"), [Outcome::Pass], "{text}"),
        }
    }
}

/// An rpc module with every defect the check looks for: an allocator that hands out
/// one region again and again, a trap on an empty body, and one canned answer.
const SLOPPY: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 2048) "\00{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"}")
  (func (export "molt_abi_version") (result i32) (i32.const 1))
  (func (export "molt_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "molt_free") (param i32 i32))
  (func (export "molt_rpc_handle") (param i32 i32) (result i64)
    (if (i32.eqz (local.get 1)) (then unreachable))
    (i64.const 8796093022248)))"#;

#[test]
fn a_sloppy_module_fails_with_each_defect_named() {
    assert_eq!(8796093022248, (2048u64 << 32) | 40);
    let wasm = wat::parse_str(SLOPPY).unwrap();
    let report = check(wasm, Some(Kind::Rpc)).unwrap();
    let text = report.text();
    assert!(report.failed(), "{text}");
    assert_eq!(outcomes(&report, "manifest"), [Outcome::Warn], "{text}");
    assert_eq!(outcomes(&report, "signature"), [Outcome::Warn], "{text}");
    assert_eq!(outcomes(&report, "alloc/free"), [Outcome::Fail], "{text}");
    assert!(text.contains("molt_alloc(7) returned 0x400"), "{text}");
    assert!(
        outcomes(&report, "bad input").contains(&Outcome::Fail),
        "{text}"
    );
    assert!(
        outcomes(&report, "json-rpc").contains(&Outcome::Fail),
        "{text}"
    );
    assert!(text.contains("answered with id"), "{text}");
}

#[test]
fn a_module_without_a_manifest_needs_a_kind() {
    let wasm = wat::parse_str(SLOPPY).unwrap();
    let e = check(wasm, None).unwrap_err().to_string();
    assert!(e.contains("give --kind"), "{e}");
}

#[test]
fn a_module_of_another_kind_is_failed_before_it_runs() {
    let b = builtin::ECHO;
    let signed = molt_upgrade_proxy::package::sign(
        &b.wasm(),
        &b.manifest(),
        &molt_upgrade_proxy::keys::generate(),
    )
    .unwrap();
    let report = check(signed.clone(), Some(Kind::Execution)).unwrap();
    assert_eq!(outcomes(&report, "manifest"), [Outcome::Fail]);
    assert_eq!(report.findings.len(), 1, "{}", report.text());
    // Checked as an execution module without its manifest: the exports do not fit.
    let report = check(b.wasm(), Some(Kind::Execution)).unwrap();
    assert_eq!(
        outcomes(&report, "interface"),
        [Outcome::Fail],
        "{}",
        report.text()
    );
}
