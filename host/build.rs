//! Builds the built-in guest modules for `wasm32-wasip1`, gzips them into `OUT_DIR` and
//! tells the host crate where they are (`MOLT_GUEST_<NAME>` environment variables for
//! `include_bytes!`). Compressed, the four guests take 1.5 MB of the binary instead of
//! 4.5 MB; the host inflates one when it signs or loads it.
//!
//! This is the project's one way to build guests: the README's commands, the tests,
//! CI and the benches all get them through here. The guests get their own target
//! directory (`<target>/guest-build`), so this nested cargo never waits on the outer
//! one's lock, and every host profile shares one guest build.

use std::env;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `(env suffix, package, artifact stem)` of a built-in guest.
type Guest = (&'static str, &'static str, &'static str);

/// The built-in guests, in groups built by
/// one cargo invocation each. Deterministic guests build apart from the `rpc` ones:
/// in one invocation cargo would unify features across them, and the rpc guests'
/// `std` alloy would give the deterministic ones a randomly seeded hasher (a WASI
/// `random_get` import, which their kinds may not have).
///
/// Each group also has its own shadow-stack size. The deterministic guests keep deep
/// state (revm's call frames) on the heap, and every page counts against their memory
/// budget: 64 KiB instead of Rust's default 1 MiB. The rpc guests get 256 KiB:
/// JSON decoding needs deeper stacks (see guest-modules/rpc-eth/src/request.rs for a
/// type whose decoder needed more than 512 KiB).
const GUESTS: &[(&[Guest], u32)] = &[
    (
        &[
            ("EXECUTION", "molt-execution-revm", "molt_execution_revm"),
            ("CONSENSUS", "molt-consensus-poa", "molt_consensus_poa"),
        ],
        64 << 10,
    ),
    (
        &[
            ("ECHO", "molt-echo", "molt_echo"),
            ("RPC_ETH", "molt-rpc-eth", "molt_rpc_eth"),
        ],
        256 << 10,
    ),
];

const TARGET: &str = "wasm32-wasip1";
/// SIMD, which the host's engines enable. Not `+wide-arithmetic`: rustc 1.95's LLVM
/// (22.1.2) miscompiles it. LLVM's WebAssembly `RegStackify` pass mishandles
/// instructions with two results (`i64.add128`, `i64.mul_wide_u`, multivalue calls): an
/// instruction after one can read a stale operand where it should read a result
/// (llvm/llvm-project#199910 and #98323; fixed by #200429, June 2026, which stops
/// stackifying such results — later than the LLVM of the pinned rustc). Here it made the rpc guest's `2 * base_fee + tip`
/// (`eth::completed`) come out with the tip's low half as its high half; cranelift,
/// cranelift without optimisation and Winch all compute that same wrong value from the
/// module, so the engines are right and the module is wrong. The engines keep the
/// proposal on (a module from a fixed LLVM is welcome). Turn it on for the guests with a
/// toolchain whose LLVM has the fix: it makes 256-bit arithmetic 5–25 % faster
/// (`molt bench execution`). Reproduce the fault with
/// `MOLT_GUEST_TARGET_FEATURES=+simd128,+wide-arithmetic cargo test -p molt-host --lib
/// check::`.
const GUEST_RUSTFLAGS: &[&str] = &["-C", "target-feature=+simd128"];
const PROFILE: &str = "guest";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits in the workspace root");
    for watched in ["guest-modules", "abi", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    // Experiments only: other wasm target features for every guest
    // (`MOLT_GUEST_TARGET_FEATURES=+simd128,+wide-arithmetic`).
    println!("cargo:rerun-if-env-changed=MOLT_GUEST_TARGET_FEATURES");
    let features = env::var("MOLT_GUEST_TARGET_FEATURES")
        .map(|f| format!("target-feature={f}"))
        .ok();
    // A relative CARGO_TARGET_DIR is taken from the workspace root (this script runs in
    // the package's directory, not where cargo was started).
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(|d| root.join(d))
        .unwrap_or_else(|| root.join("target"))
        .join("guest-build");

    ensure_target_installed();

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for (group, stack) in GUESTS {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(root)
            .args([
                "build",
                "--target",
                TARGET,
                "--profile",
                PROFILE,
                "--target-dir",
            ])
            .arg(&target_dir);
        for (_, package, _) in *group {
            cmd.args(["-p", package]);
        }
        clean_env(&mut cmd);
        let stack = format!("link-arg=-zstack-size={stack}");
        let flags: Vec<&str> = match &features {
            Some(f) => vec!["-C", f.as_str()],
            None => GUEST_RUSTFLAGS.to_vec(),
        }
        .into_iter()
        .chain(["-C", &stack])
        .collect();
        cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
        let status = cmd.status().expect("run cargo for the guest modules");
        assert!(
            status.success(),
            "building the guest modules failed (see the output above)"
        );
    }

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    for (name, _, stem) in GUESTS.iter().flat_map(|(g, _)| g.iter()) {
        let wasm = target_dir
            .join(TARGET)
            .join(PROFILE)
            .join(format!("{stem}.wasm"));
        let bytes =
            fs::read(&wasm).unwrap_or_else(|e| panic!("{} was not produced: {e}", wasm.display()));
        let gz = out_dir.join(format!("{stem}.wasm.gz"));
        fs::write(&gz, gzip(&bytes)).expect("write the compressed guest");
        println!("cargo:rustc-env=MOLT_GUEST_{name}={}", gz.display());
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// The outer cargo's settings (its target, flags, wrappers such as clippy) must not
/// leak into the guest build.
fn clean_env(cmd: &mut Command) {
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let keep = matches!(key, "CARGO_HOME" | "CARGO_NET_OFFLINE")
            || key.starts_with("CARGO_REGISTRIES_")
            || key.starts_with("CARGO_HTTP_");
        let drop = (key.starts_with("CARGO_") && !keep)
            || matches!(
                key,
                "RUSTFLAGS" | "RUSTDOCFLAGS" | "RUSTC_WRAPPER" | "RUSTC_WORKSPACE_WRAPPER"
            );
        if drop {
            cmd.env_remove(key);
        }
    }
}

/// Installs the wasm target with rustup if the active toolchain lacks it, so a fresh
/// machine needs no manual step (`rust-toolchain.toml` lists it, but rustup only
/// honours that when it installs the toolchain itself).
fn ensure_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |root: &Path| root.join("lib/rustlib").join(TARGET).exists();
    if sysroot.as_deref().is_some_and(installed) {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "the {TARGET} target is missing and `rustup target add {TARGET}` failed"
    );
}
