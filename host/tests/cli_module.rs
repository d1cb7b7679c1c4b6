//! `molt module keygen | sign | verify | inspect | call`, driven as a user would: the
//! real binary, real files, the built-in Rust guest and the hand-written WAT guest.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn molt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_molt"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run molt")
}

fn ok(args: &[&str]) -> String {
    let out = molt(args);
    assert!(
        out.status.success(),
        "molt {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `molt module verify` and returns its refusal line.
fn refusal(module: &Path, key: &Path, extra: &[&str]) -> String {
    let mut args = vec!["module", "verify", "--trusted", key.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(module.to_str().unwrap());
    let out = molt(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify should refuse {module:?}"
    );
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        for name in ["publisher.key", "stranger.key"] {
            ok(&["module", "keygen", "-o", f.path(name).to_str().unwrap()]);
        }
        std::fs::write(f.echo(), molt_host::builtin::ECHO.wasm()).unwrap();
        f
    }

    /// The built-in echo guest, unsigned.
    fn echo(&self) -> PathBuf {
        self.path("echo-unsigned.wasm")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn public(&self, name: &str) -> PathBuf {
        self.path(&format!("{name}.pub"))
    }

    fn public_hex(&self, name: &str) -> String {
        std::fs::read_to_string(self.public(name))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Signs the echo guest as `version` with `key`, returns the package path.
    /// Writes `source` (WAT) as `<stem>.wat` and signs it with `publisher.key` into
    /// `<stem>.wasm`; `manifest` are `molt module sign`'s manifest arguments.
    fn sign_wat(&self, stem: &str, source: &str, manifest: &[&str]) -> PathBuf {
        let wat = self.path(&format!("{stem}.wat"));
        std::fs::write(&wat, source).unwrap();
        let out = self.path(&format!("{stem}.wasm"));
        let key = self.path("publisher.key");
        let mut args = vec!["module", "sign", "--key", key.to_str().unwrap()];
        args.extend_from_slice(manifest);
        args.extend([wat.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        ok(&args);
        out
    }

    fn sign_echo(&self, key: &str, version: &str, out: &str) -> PathBuf {
        let out = self.path(out);
        ok(&[
            "module",
            "sign",
            "--key",
            self.path(key).to_str().unwrap(),
            "--kind",
            "rpc",
            "--name",
            "echo",
            "--module-version",
            version,
            "--cap",
            "stdio",
            self.echo().to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        out
    }
}

#[test]
fn keygen_writes_a_key_pair_and_never_overwrites() {
    let f = Fixture::new();
    assert_eq!(f.public_hex("publisher.key").len(), 64);
    let again = molt(&[
        "module",
        "keygen",
        "-o",
        f.path("publisher.key").to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
}

#[test]
fn a_signed_guest_verifies_inspects_and_runs() {
    let f = Fixture::new();
    let pkg = f.sign_echo("publisher.key", "0.1.0", "echo.wasm");
    let out = ok(&[
        "module",
        "verify",
        "--trusted",
        f.public("publisher.key").to_str().unwrap(),
        "--kind",
        "rpc",
        pkg.to_str().unwrap(),
    ]);
    assert!(out.starts_with("ok: echo 0.1.0 (rpc) digest "), "{out}");

    let text = ok(&["module", "inspect", pkg.to_str().unwrap()]);
    assert!(
        text.contains("manifest  echo 0.1.0 (rpc), ABI v1"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "signer    {} (signature valid)",
        f.public_hex("publisher.key")
    )));
    assert!(text.contains("abi       fits its kind"));
    assert!(text.contains("  molt.keccak256: func (i32, i32, i32) -> ()"));
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["module", "inspect", "--json", pkg.to_str().unwrap()])).unwrap();
    assert_eq!(json["manifest"]["kind"], "rpc");
    assert_eq!(json["abi"]["fits"], true);
    assert_eq!(json["signer"]["valid"], true);

    let answer = ok(&[
        "module",
        "call",
        "--trusted",
        f.public("publisher.key").to_str().unwrap(),
        pkg.to_str().unwrap(),
        "--input",
        r#"{"jsonrpc":"2.0","id":9,"method":"web3_clientVersion"}"#,
    ]);
    let v: serde_json::Value = serde_json::from_str(answer.trim()).unwrap();
    assert_eq!(v["result"], "molt-echo/0.1.0");
}

#[test]
fn every_refusal_names_its_reason() {
    let f = Fixture::new();
    let key = f.public("publisher.key");
    let pkg = f.sign_echo("publisher.key", "0.1.0", "echo.wasm");

    assert_eq!(
        refusal(&f.echo(), &key, &[]),
        "refused: unsigned module: no molt.signature section"
    );

    // Change what the module answers (a string in its data segment): still valid
    // WebAssembly, no longer what was signed.
    let mut bytes = std::fs::read(&pkg).unwrap();
    let at = bytes.windows(10).position(|w| w == b"molt-echo/").unwrap();
    bytes[at..at + 4].copy_from_slice(b"MOLT");
    let tampered = f.path("tampered.wasm");
    std::fs::write(&tampered, bytes).unwrap();
    let r = refusal(&tampered, &key, &[]);
    assert!(
        r.starts_with("refused: tampered module: the signature does not match the module's digest"),
        "{r}"
    );

    let strangers = f.sign_echo("stranger.key", "0.1.0", "strangers.wasm");
    assert_eq!(
        refusal(&strangers, &key, &[]),
        format!(
            "refused: unknown signer {}: not among the trusted publisher keys",
            f.public_hex("stranger.key")
        )
    );

    assert_eq!(
        refusal(&pkg, &key, &["--kind", "execution"]),
        "refused: wrong kind: expected kind execution, found rpc"
    );
    assert_eq!(
        refusal(&pkg, &key, &["--installed", "0.2.0"]),
        "refused: downgrade refused: echo 0.1.0 is older than 0.2.0, active before"
    );
    assert!(
        refusal(&pkg, &key, &["--installed", "0.1.0"])
            .starts_with("refused: same version, different code: echo 0.1.0"),
    );

    let manifest = f.path("v2.toml");
    std::fs::write(
        &manifest,
        "abi_version = 2\nkind = \"rpc\"\nname = \"echo\"\nversion = \"0.2.0\"\n",
    )
    .unwrap();
    let v2 = f.path("v2.wasm");
    ok(&[
        "module",
        "sign",
        "--key",
        f.path("publisher.key").to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        f.echo().to_str().unwrap(),
        "-o",
        v2.to_str().unwrap(),
    ]);
    assert_eq!(
        refusal(&v2, &key, &[]),
        "refused: unknown ABI version 2 (this node speaks 1)"
    );

    // A malformed manifest is refused at signing already.
    let bad = molt(&[
        "module",
        "sign",
        "--key",
        f.path("publisher.key").to_str().unwrap(),
        "--kind",
        "rpc",
        "--name",
        "Echo Module",
        "--module-version",
        "1.0.0",
        f.echo().to_str().unwrap(),
        "-o",
        f.path("bad.wasm").to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("malformed manifest: bad name \"Echo Module\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn modules_that_do_not_fit_their_kind_are_refused() {
    let f = Fixture::new();
    let key = f.public("publisher.key");
    // An rpc-shaped module signed as an execution module lacks execution's entry points.
    let rpc_shaped = f.path("rpc-shaped.wat");
    std::fs::write(
        &rpc_shaped,
        r#"(module
            (memory (export "memory") 1)
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_alloc") (param i32) (result i32) i32.const 8)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_rpc_handle") (param i32 i32) (result i64) i64.const 0))"#,
    )
    .unwrap();
    let as_exec = f.path("as-exec.wasm");
    let out = molt(&[
        "module",
        "sign",
        "--key",
        f.path("publisher.key").to_str().unwrap(),
        "--kind",
        "execution",
        "--name",
        "echo",
        "--module-version",
        "1.0.0",
        rpc_shaped.to_str().unwrap(),
        "-o",
        as_exec.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: signed anyway"));
    assert_eq!(
        refusal(&as_exec, &key, &[]),
        "refused: does not fit the ABI: missing required export `molt_execute_block`"
    );

    let random = f.sign_wat(
        "random",
        r#"(module
            (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
            (memory (export "memory") 1)
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_alloc") (param i32) (result i32) i32.const 8)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_execute_block") (param i32 i32) (result i64) i64.const 0)
            (func (export "molt_execute_call") (param i32 i32) (result i64) i64.const 0))"#,
        &[
            "--kind",
            "execution",
            "--name",
            "dice",
            "--module-version",
            "1.0.0",
        ],
    );
    assert_eq!(
        refusal(&random, &key, &[]),
        "refused: does not fit the ABI: import `wasi_snapshot_preview1.random_get` is not allowed for execution modules"
    );
}

#[test]
fn a_module_whose_abi_version_disagrees_with_its_manifest_is_refused_by_verify_and_inspect() {
    let f = Fixture::new();
    let key = f.public("publisher.key");
    let pkg = f.sign_wat(
        "abi2",
        r#"(module
            (memory (export "memory") 1)
            (func (export "molt_abi_version") (result i32) i32.const 2)
            (func (export "molt_alloc") (param i32) (result i32) i32.const 8)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_rpc_handle") (param i32 i32) (result i64) i64.const 0))"#,
        &[
            "--kind",
            "rpc",
            "--name",
            "liar",
            "--module-version",
            "1.0.0",
        ],
    );
    assert_eq!(
        refusal(&pkg, &key, &[]),
        "refused: molt_abi_version returned 2, the manifest says 1"
    );
    let inspect = ok(&["module", "inspect", pkg.to_str().unwrap()]);
    assert!(
        inspect
            .contains("abi       DOES NOT FIT: molt_abi_version returned 2, the manifest says 1"),
        "{inspect}"
    );
}

#[test]
fn memory_grow_past_the_budget_returns_minus_one_to_the_guest() {
    // Grows one page at a time until `memory.grow` says -1, then answers with the
    // number of pages it holds (one ASCII digit: 4 pages = 256 KiB, its budget).
    let f = Fixture::new();
    let manifest = f.path("grower.toml");
    std::fs::write(
        &manifest,
        "kind = \"rpc\"\nname = \"grower\"\nversion = \"1.0.0\"\n[budgets]\nmemory_bytes = 262144\n",
    )
    .unwrap();
    let pkg = f.sign_wat(
        "grower",
        r#"(module
            (memory (export "memory") 1)
            (data (i32.const 16) "\00?")
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_alloc") (param i32) (result i32) i32.const 1024)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_rpc_handle") (param i32 i32) (result i64)
                (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
                (i32.store8 (i32.const 17) (i32.add (i32.const 48) (memory.size)))
                (i64.const 0x0000001000000002)))"#,
        &["--manifest", manifest.to_str().unwrap()],
    );
    let answer = ok(&[
        "module",
        "call",
        "--trusted",
        f.public("publisher.key").to_str().unwrap(),
        pkg.to_str().unwrap(),
        "--input",
        "{}",
    ]);
    assert_eq!(answer.lines().next(), Some("4"), "{answer}");
}

#[test]
fn the_wat_example_guest_round_trips_a_request() {
    let f = Fixture::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let pkg = f.path("wat-echo.wasm");
    ok(&[
        "module",
        "sign",
        "--key",
        f.path("publisher.key").to_str().unwrap(),
        "--manifest",
        root.join("examples/wat-echo/manifest.toml")
            .to_str()
            .unwrap(),
        root.join("examples/wat-echo/echo.wat").to_str().unwrap(),
        "-o",
        pkg.to_str().unwrap(),
    ]);
    let request = r#"{"jsonrpc":"2.0","id":1,"method":"anything","params":["é",1]}"#;
    let answer = ok(&[
        "module",
        "call",
        "--trusted",
        f.public("publisher.key").to_str().unwrap(),
        pkg.to_str().unwrap(),
        "--input",
        request,
    ]);
    assert_eq!(answer, format!("{request}\n"));
}
