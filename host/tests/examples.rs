//! The guests in `examples/`, written in other languages from `abi/ABI.md` alone, built
//! with their own toolchains, signed with `molt module sign`, deployed into a running
//! `molt dev`, answering clients, and rolled back.
//!
//! The AssemblyScript compiler comes from npm, pinned by the example's
//! `package-lock.json` (`npm ci`), so that test needs Node.js with npm.
//! The C toolchain is Debian's `clang lld wasi-libc libclang-rt-14-dev-wasm32`: when
//! `clang` cannot build for `wasm32-wasi`, the test installs them with `apt-get` if it
//! runs as root, and otherwise skips with a message saying what to install.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{ACCOUNT0, DevNode, admin_addr, molt_module};
use serde_json::json;

/// The repository's `examples/`.
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// The Debian packages of the C toolchain for WebAssembly.
const C_PACKAGES: &[&str] = &["clang", "lld", "wasi-libc", "libclang-rt-14-dev-wasm32"];

/// Whether clang builds C for `wasm32-wasi` here, installing the toolchain first if it
/// does not and this process may (root, with apt-get).
fn c_toolchain() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let builds = || {
            let dir = tempfile::tempdir().unwrap();
            let source = dir.path().join("probe.c");
            std::fs::write(
                &source,
                "#include <stdlib.h>\nint probe(void) { return 1; }\n",
            )
            .unwrap();
            Command::new("clang")
                .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-o"])
                .arg(dir.path().join("probe.wasm"))
                .arg(&source)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if builds() {
            return true;
        }
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if root {
            let install = |args: &[&str]| {
                Command::new("apt-get")
                    .args(args)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .status()
                    .is_ok_and(|s| s.success())
            };
            let _ = install(&["-qq", "update"]);
            let mut args = vec!["-qq", "install", "-y", "--no-install-recommends"];
            args.extend(C_PACKAGES);
            if install(&args) && builds() {
                return true;
            }
        }
        false
    })
}

/// Skips the calling test, saying why, when the C toolchain is missing.
macro_rules! need_c_toolchain {
    () => {
        if !c_toolchain() {
            eprintln!(
                "SKIPPED: clang cannot build for wasm32-wasi; install the Debian packages {}",
                C_PACKAGES.join(" ")
            );
            return;
        }
    };
}

/// Signs `module` (a `.wasm` or `.wat`) with the example's manifest, at `version`, with
/// the dev node's publisher key; the signed file.
fn sign(datadir: &Path, module: &Path, manifest: &Path, version: &str) -> String {
    let out = datadir.join(format!(
        "{}-{version}.wasm",
        module.file_stem().unwrap().to_str().unwrap()
    ));
    let status = Command::new(env!("CARGO_BIN_EXE_molt"))
        .args(["module", "sign", "--key"])
        .arg(datadir.join("keys/dev.key"))
        .arg("--manifest")
        .arg(manifest)
        .args(["--module-version", version])
        .arg(module)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    out.to_str().unwrap().to_string()
}

/// Builds `examples/<name>` into `out` with the example's own `build.sh`.
fn build_example(name: &str, out: &Path) {
    let built = Command::new(examples().join(name).join("build.sh"))
        .arg(out)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
}

fn client_version(node: &DevNode) -> String {
    node.ok("web3_clientVersion", json!([]))
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_c_and_wat_rpc_examples_build_deploy_answer_and_roll_back() {
    need_c_toolchain!();
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--admin.port", "0"]);
    let admin = admin_addr(&node);
    let builtin = client_version(&node);
    let balance = node.ok("eth_getBalance", json!([ACCOUNT0, "latest"]));
    let head = node.ok("eth_blockNumber", json!([]));

    // examples/c-rpc, built by its own script.
    let wasm = dir.path().join("c-rpc.wasm");
    build_example("c-rpc", &wasm);
    let c_rpc = sign(
        dir.path(),
        &wasm,
        &examples().join("c-rpc/manifest.toml"),
        "1.0.0",
    );
    let (ok, out) = molt_module(&["deploy", &c_rpc], &admin, dir.path());
    assert!(ok, "{out}");

    // It answers from the chain queries what the built-in module answered.
    assert_eq!(client_version(&node), "c-rpc/0.1.0");
    assert_eq!(node.ok("eth_chainId", json!([])), "0x7a69");
    assert_eq!(node.ok("eth_blockNumber", json!([])), head);
    assert_eq!(
        node.ok("eth_getBalance", json!([ACCOUNT0, "latest"])),
        balance
    );
    let unknown = node.err("eth_gasPrice", json!([]));
    assert_eq!(unknown["code"], -32601, "{unknown}");
    let bad = node.err("eth_getBalance", json!(["0x12"]));
    assert_eq!(bad["code"], -32602, "{bad}");

    // A rollback returns to the built-in module; another returns to the C one (the
    // node keeps the active and the previous version).
    let rollback = || {
        let (ok, out) = molt_module(&["rollback", "rpc"], &admin, dir.path());
        assert!(ok, "{out}");
    };
    rollback();
    assert_eq!(client_version(&node), builtin);
    rollback();
    assert_eq!(client_version(&node), "c-rpc/0.1.0");

    // examples/wat-echo replaces it (signed from its text), and rolls back to it.
    let echo = sign(
        dir.path(),
        &examples().join("wat-echo/echo.wat"),
        &examples().join("wat-echo/manifest.toml"),
        "1.0.1",
    );
    let (ok, out) = molt_module(&["deploy", &echo], &admin, dir.path());
    assert!(ok, "{out}");
    let mirrored = node.call_raw(r#"{"jsonrpc":"2.0","id":5,"method":"anything"}"#);
    assert_eq!(mirrored["method"], "anything", "{mirrored}");
    rollback();
    assert_eq!(client_version(&node), "c-rpc/0.1.0");
}

#[test]
fn the_assemblyscript_rpc_example_builds_deploys_answers_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--admin.port", "0"]);
    let admin = admin_addr(&node);
    let builtin = client_version(&node);
    let head = node.ok("eth_blockNumber", json!([]));

    // examples/assemblyscript-rpc, built by its own package: `npm ci`, `npm run build`.
    let example = examples().join("assemblyscript-rpc");
    for args in [
        &["ci", "--no-audit", "--no-fund", "--loglevel=error"][..],
        &["run", "build"],
    ] {
        let out = Command::new("npm")
            .args(args)
            .current_dir(&example)
            .output()
            .expect("the AssemblyScript example needs npm (Node.js) on PATH");
        assert!(
            out.status.success(),
            "npm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let as_rpc = sign(
        dir.path(),
        &example.join("build/as-rpc.wasm"),
        &example.join("manifest.toml"),
        "1.0.0",
    );
    let (ok, out) = molt_module(&["deploy", &as_rpc], &admin, dir.path());
    assert!(ok, "{out}");
    assert_eq!(client_version(&node), "as-rpc/0.1.0");
    assert_eq!(node.ok("eth_chainId", json!([])), "0x7a69");
    assert_eq!(node.ok("eth_blockNumber", json!([])), head);
    let unknown = node.err("eth_gasPrice", json!([]));
    assert_eq!(unknown["code"], -32601, "{unknown}");
    let (ok, out) = molt_module(&["rollback", "rpc"], &admin, dir.path());
    assert!(ok, "{out}");
    assert_eq!(client_version(&node), builtin);
}

/// The upgrade contract, from genesis.
const UPGRADE_CONTRACT: &str = "0x000000000000000000000000000000006d6f6c74";

#[test]
fn the_c_consensus_example_takes_over_at_its_scheduled_height() {
    need_c_toolchain!();
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--admin.port", "0"]);
    let admin = admin_addr(&node);
    let send = || {
        let hash = node.ok(
            "eth_sendTransaction",
            json!([{"from": ACCOUNT0, "to": common::ACCOUNT1, "value": "0x1"}]),
        );
        let receipt = node.wait_for("eth_getTransactionReceipt", json!([hash]));
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        common::quantity(&receipt["blockNumber"])
    };
    for _ in 0..3 {
        send();
    }

    // examples/c-consensus, built by its script and signed by the node's publisher key.
    let wasm = dir.path().join("c-consensus.wasm");
    build_example("c-consensus", &wasm);
    let package = sign(
        dir.path(),
        &wasm,
        &examples().join("c-consensus/manifest.toml"),
        "1.0.0",
    );

    // Staged: the gate replays its decisions on the recent blocks (their seals checked
    // with `molt.ed25519_verify`) and finds them the built-in module's.
    let (ok, out) = molt_module(&["stage", &package], &admin, dir.path());
    assert!(ok, "{out}");
    let staged: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(staged["gate"]["decisions"].as_u64().unwrap() >= 3, "{out}");

    // Announced on the chain by the upgrade authority, two blocks on.
    let head = common::quantity(&node.ok("eth_blockNumber", json!([])));
    let digest = staged["staged"]["digest"].as_str().unwrap();
    let calldata = format!("0x2eb9fbb1{digest}{:064x}", head + 2);
    let hash = node.ok(
        "eth_sendTransaction",
        json!([{"from": ACCOUNT0, "to": UPGRADE_CONTRACT, "data": calldata}]),
    );
    let receipt = node.wait_for("eth_getTransactionReceipt", json!([hash]));
    assert_eq!(receipt["status"], "0x1", "{receipt}");

    // Blocks go on under it past the height.
    let mined: Vec<u64> = (0..4).map(|_| send()).collect();
    assert!(mined.iter().any(|b| *b > head + 2), "{mined:?}");
    let (ok, out) = molt_module(&["status"], &admin, dir.path());
    assert!(ok, "{out}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let active = &status["consensus"]["active"];
    assert_eq!(active["name"], "c-consensus", "{status}");
    assert_eq!(active["since"], head + 2, "{status}");
}

#[test]
fn the_c_consensus_example_judges_seals_round_robin() {
    use alloy_consensus::Header;
    use ed25519_dalek::{Signer, SigningKey};
    use molt_abi::consensus::ValidateInput;
    use molt_abi::{ABI_VERSION, Budgets, Kind, Manifest};
    use molt_runtime::{Consensus, Grants, Runtime, RuntimeConfig};

    need_c_toolchain!();
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("c-consensus.wasm");
    build_example("c-consensus", &wasm);
    let manifest = Manifest {
        abi_version: ABI_VERSION,
        kind: Kind::Consensus,
        name: "c-consensus".into(),
        version: "0.1.0".into(),
        budgets: Budgets::default(),
        capabilities: vec![],
    };
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let module = runtime
        .load(
            &manifest,
            &std::fs::read(&wasm).unwrap(),
            &Grants::default(),
        )
        .unwrap();
    let consensus = Consensus::Wasm(module);

    // A parent and its child (an empty block: the base fee falls by an eighth).
    let parent = Header {
        number: 1,
        gas_limit: 30_000_000,
        timestamp: 10,
        base_fee_per_gas: Some(1_000_000_000),
        ..Header::default()
    };
    let child = Header {
        number: 2,
        parent_hash: parent.hash_slow(),
        gas_limit: 30_000_000,
        timestamp: 11,
        base_fee_per_gas: Some(875_000_000),
        ..Header::default()
    };
    let sealer = SigningKey::from_bytes(&[7; 32]);
    let other = SigningKey::from_bytes(&[8; 32]);
    let seal_of = |key: &SigningKey, header: &Header| {
        let signature = key.sign(header.hash_slow().as_slice());
        [&signature.to_bytes()[..], key.verifying_key().as_bytes()].concat()
    };
    let key =
        |k: &SigningKey| alloy_primitives::Bytes::copy_from_slice(k.verifying_key().as_bytes());
    let judge = |header: &Header, seal: Vec<u8>, authorities: Vec<alloy_primitives::Bytes>| {
        consensus
            .validate(&ValidateInput {
                parent: alloy_rlp::encode(&parent).into(),
                header: alloy_rlp::encode(header).into(),
                seal: seal.into(),
                authorities,
            })
            .unwrap()
    };

    let v = judge(&child, seal_of(&sealer, &child), vec![key(&sealer)]);
    assert!(v.valid, "{}", v.reason);
    // Round robin: block 2 of two authorities is the first one's.
    let v = judge(
        &child,
        seal_of(&sealer, &child),
        vec![key(&sealer), key(&other)],
    );
    assert!(v.valid, "{}", v.reason);
    let v = judge(
        &child,
        seal_of(&sealer, &child),
        vec![key(&other), key(&sealer)],
    );
    assert_eq!(
        v.reason,
        "not sealed by this height's authority (round robin)"
    );
    // A seal of something else.
    let mut forged = seal_of(&sealer, &child);
    forged[0] ^= 1;
    let v = judge(&child, forged, vec![key(&sealer)]);
    assert_eq!(v.reason, "seal does not match the header");
    // The header's own rules, with no authorities and no seal.
    let v = judge(&child, Vec::new(), Vec::new());
    assert!(v.valid, "{}", v.reason);
    let wrong_fee = Header {
        base_fee_per_gas: Some(1_000_000_000),
        ..child.clone()
    };
    let v = judge(&wrong_fee, Vec::new(), Vec::new());
    assert_eq!(v.reason, "base fee is not the one the parent sets");
    let orphan = Header {
        parent_hash: alloy_primitives::B256::repeat_byte(1),
        ..child
    };
    let v = judge(&orphan, Vec::new(), Vec::new());
    assert_eq!(v.reason, "parent hash does not match the parent");
}

/// `molt module new --kind KIND --lang LANG` writes a project whose own `test.sh`
/// builds it, signs it with a throwaway key and passes `molt module check`.
fn scaffold_passes_its_own_test(kind: &str, lang: &str) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join(format!("my-{lang}-{kind}"));
    let new = Command::new(env!("CARGO_BIN_EXE_molt"))
        .args(["module", "new", "--kind", kind, "--lang", lang])
        .arg(&project)
        .output()
        .unwrap();
    assert!(
        new.status.success(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
    let test = Command::new(project.join("test.sh"))
        .env("MOLT", env!("CARGO_BIN_EXE_molt"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success(),
        "{kind} in {lang}: test.sh failed\n{stdout}\n{}",
        String::from_utf8_lossy(&test.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(stdout.contains("pass  signature"), "{stdout}");
}

#[test]
fn c_scaffolds_of_rpc_and_consensus_pass_their_own_tests() {
    need_c_toolchain!();
    scaffold_passes_its_own_test("rpc", "c");
    scaffold_passes_its_own_test("consensus", "c");
}

#[test]
fn a_wat_scaffold_passes_its_own_test() {
    scaffold_passes_its_own_test("rpc", "wat");
}

#[test]
fn an_assemblyscript_scaffold_passes_its_own_test() {
    scaffold_passes_its_own_test("rpc", "assemblyscript");
}

#[test]
fn a_rust_scaffold_passes_its_own_test() {
    scaffold_passes_its_own_test("rpc", "rust");
}

#[test]
fn scaffolds_refuse_what_they_cannot_offer() {
    let dir = tempfile::tempdir().unwrap();
    let molt_new = |kind: &str, lang: &str, name: &str| {
        Command::new(env!("CARGO_BIN_EXE_molt"))
            .args(["module", "new", "--kind", kind, "--lang", lang])
            .arg(dir.path().join(name))
            .output()
            .unwrap()
    };
    let out = molt_new("execution", "c", "my-exec");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("guest-modules/execution-revm"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = molt_new("rpc", "c", "Not A Name");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot name a module"));
}

#[test]
fn a_chain_module_runs_offline_on_a_stopped_nodes_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("node");
    {
        let node = DevNode::start(&datadir, &[]);
        node.ok("anvil_mine", json!(["0x3"]));
        assert_eq!(node.ok("eth_blockNumber", json!([])), "0x3");
    }
    // The wat scaffold answers eth_blockNumber through CHAIN_INFO.
    let project = dir.path().join("offline-rpc");
    let molt = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_molt"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let (ok, _, err) = molt(&[
        "module",
        "new",
        "--kind",
        "rpc",
        "--lang",
        "wat",
        &path(&project),
    ]);
    assert!(ok, "{err}");
    let signed = sign(
        &datadir,
        &project.join("offline-rpc.wat"),
        &project.join("manifest.toml"),
        "0.1.0",
    );
    let call = |chain: Option<&Path>| {
        let mut args = vec![
            "module".to_string(),
            "call".into(),
            "--trusted".into(),
            path(&datadir.join("keys/dev.key.pub")),
            signed.clone(),
            "--input".into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#.into(),
        ];
        if let Some(c) = chain {
            args.extend(["--chain".into(), path(c)]);
        }
        molt(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (ok, out, err) = call(Some(&datadir));
    assert!(ok, "{err}");
    assert!(out.contains(r#""result":"0x3""#), "{out}");
    // Without a chain the query has nothing to answer it, and the error says so.
    let (ok, _, err) = call(None);
    assert!(!ok);
    assert!(
        err.contains("no chain to query") && err.contains("--chain"),
        "{err}"
    );
    // A directory with no chain is refused.
    let (ok, _, err) = call(Some(dir.path()));
    assert!(!ok);
    assert!(err.contains("holds no chain"), "{err}");
}
