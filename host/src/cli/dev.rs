//! `molt dev`: the node's main job. For now it prepares the data directory and the dev
//! key, signs the built-in modules, verifies and loads them, and calls the `echo`
//! guest — the path every real request will take once the node serves JSON-RPC.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ed25519_dalek::SigningKey;
use molt_upgrade_proxy::keys;
use molt_upgrade_proxy::package::{self, Package, Verifier};

use super::Engine;
use crate::builtin;
use crate::runtime::{Grants, Runtime, RuntimeConfig};

#[derive(Debug, Args)]
pub(super) struct DevArgs {
    /// Data directory (dev key, signed modules, compiled-module cache).
    #[arg(long, default_value_os_t = super::default_datadir())]
    datadir: PathBuf,
    /// Use a temporary data directory, removed on exit.
    #[arg(long)]
    ephemeral: bool,
    /// Run modules natively (linked in) instead of as WebAssembly.
    #[arg(long, value_enum, default_value_t = Engine::Wasm)]
    engine: Engine,
}

/// Requests the dev node sends its `echo` module, as a smoke test of the whole path.
const SMOKE_REQUESTS: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion"}"#,
    r#"{"jsonrpc":"2.0","id":2,"method":"molt_keccak","params":["0x"]}"#,
];

pub(super) fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    let tmp;
    let datadir = if args.ephemeral {
        tmp = tempfile::tempdir()?;
        tmp.path().to_path_buf()
    } else {
        args.datadir.clone()
    };
    std::fs::create_dir_all(&datadir).with_context(|| format!("creating {}", datadir.display()))?;
    println!("molt dev: data dir {}", datadir.display());

    let key = dev_key(&datadir)?;
    let public = hex::encode(key.verifying_key().to_bytes());
    println!("dev key   {public}");
    let verifier = Verifier::new([key.verifying_key()]);

    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(datadir.join("module-cache")),
        ..RuntimeConfig::default()
    })?;
    let modules_dir = datadir.join("modules");
    std::fs::create_dir_all(&modules_dir)?;
    for b in builtin::ALL {
        let manifest = b.manifest();
        let signed = package::sign(b.wasm, &manifest, &key)?;
        let path = modules_dir.join(format!("{}-{}.wasm", b.name, b.version));
        std::fs::write(&path, &signed)?;
        let verified = verifier.verify(Package::parse(signed)?, Some(b.kind), None)?;
        let started = std::time::Instant::now();
        let loaded = runtime.load(
            &verified.manifest,
            &verified.bytes,
            &Grants {
                stdio: true,
                dir: None,
            },
        )?;
        println!(
            "module    {} {} ({}) sha256:{} -> {} ({:?}, loaded in {:.1} ms)",
            b.name,
            b.version,
            b.kind,
            &hex::encode(verified.digest)[..16],
            path.display(),
            loaded.cache_hit(),
            started.elapsed().as_secs_f64() * 1e3
        );
        if b.name != builtin::ECHO.name {
            continue;
        }
        for req in SMOKE_REQUESTS {
            let (out, how) = match args.engine {
                Engine::Wasm => {
                    let (out, s) = loaded.call_measured("molt_rpc_handle", req.as_bytes())?;
                    let how = format!(
                        "wasm, {:.3} ms, peak memory {} KiB",
                        s.elapsed.as_secs_f64() * 1e3,
                        s.peak_memory / 1024
                    );
                    (out, how)
                }
                Engine::Native => {
                    let host = crate::native::NativeHost::new(b.name);
                    let started = std::time::Instant::now();
                    let out = molt_echo::handle(&host, req.as_bytes())?;
                    let how = format!("native, {:.3} ms", started.elapsed().as_secs_f64() * 1e3);
                    (out, how)
                }
            };
            println!("call      {req}");
            println!("  -> {} ({how})", String::from_utf8_lossy(&out));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The node's dev signing key, created on first use.
fn dev_key(datadir: &std::path::Path) -> anyhow::Result<SigningKey> {
    let dir = datadir.join("keys");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("dev.key");
    if path.exists() {
        return Ok(keys::read_signing_key(&path)?);
    }
    let key = keys::generate();
    keys::write_signing_key(&path, &key)?;
    Ok(key)
}
