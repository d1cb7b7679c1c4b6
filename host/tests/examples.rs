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
    let built = Command::new(examples().join("c-rpc/build.sh"))
        .arg(&wasm)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
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
