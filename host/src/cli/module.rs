//! `molt module …`: publisher keys and module packages.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use molt_abi::{ABI_VERSION, Budgets, Capability, Kind, Manifest};
use molt_upgrade_proxy::keys;
use molt_upgrade_proxy::package::{self, Package, Verifier};
use molt_upgrade_proxy::router::VersionInfo;

use molt_runtime::services::ChainService;
use molt_runtime::{CallContext, Grants, Runtime, RuntimeConfig};

use crate::node::gate::ShadowChain;
use crate::node::{Node, NodeConfig};

#[derive(Debug, Subcommand)]
pub(super) enum ModuleCommand {
    /// Generate a publisher key: writes KEY (secret, mode 0600) and KEY.pub.
    Keygen {
        /// Where to write the secret key.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Add a manifest and a signature to a module.
    Sign(SignArgs),
    /// Check that a module may run: exit 0 if so, 1 with the reason if not.
    Verify(VerifyArgs),
    /// Print a module's manifest, digest, signer, imports and exports.
    Inspect {
        /// The module.
        module: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Verify a module, load it and call one entry point; prints the output.
    Call(CallArgs),
    /// Write a new guest module project into DIR (named after it): sources, a
    /// manifest, build.sh and test.sh (build, sign with a throwaway key, check).
    New {
        /// consensus, execution or rpc.
        #[arg(long)]
        kind: Kind,
        /// The language.
        #[arg(long, value_enum)]
        lang: crate::scaffold::Lang,
        /// The directory to create.
        dir: PathBuf,
    },
    /// Run a module (signed or not) through the conformance checks a module author
    /// makes before publishing, on a fixture chain; exit 1 if any fails.
    Check {
        /// The module (`.wasm`, or `.wat`).
        module: PathBuf,
        /// Check it as this kind (needed for a module without a manifest).
        #[arg(long)]
        kind: Option<Kind>,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deploy a signed module to a running node through its admin API: verified,
    /// gated on sample requests, then active (or a canary).
    Deploy(DeployArgs),
    /// Stage a signed execution or consensus module on a running node: verified,
    /// gated on a replay of recent blocks, kept. An upgrade announcement naming its
    /// digest (`schedule(bytes32,uint64)` on the upgrade contract) then activates it.
    Stage {
        /// The signed module.
        module: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Stage a signed execution or consensus module, then announce on the chain (a
    /// transaction from an upgrade authority the node holds) that it handles every
    /// block from a height on.
    Schedule {
        /// The signed module.
        module: PathBuf,
        /// The first block it handles (above the next block).
        #[arg(long, required_unless_present = "after", conflicts_with = "after")]
        height: Option<u64>,
        /// Or: this many blocks after the head when the announcement is sent (after
        /// the gate, which takes seconds).
        #[arg(long)]
        after: Option<u64>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show a running node's slots: active, previous and canary versions.
    Status(AdminArgs),
    /// Print a running node's audit log: deployments, refusals, promotions, rollbacks.
    Log(AdminArgs),
    /// Print a running node's router counters (calls, failures, pipeline steps).
    Metrics(AdminArgs),
    /// Return a running node's slot to its previous version.
    Rollback {
        /// The slot (`rpc`).
        slot: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// How to reach a node's admin API (`molt dev --admin.port 8551`).
#[derive(Debug, Args)]
pub(super) struct AdminArgs {
    /// The admin API's address.
    #[arg(long, default_value = "127.0.0.1:8551")]
    admin: std::net::SocketAddr,
    /// The bearer token; by default read from `<datadir>/admin.token`.
    #[arg(long)]
    token: Option<String>,
    /// The node's data directory (for its token file).
    #[arg(long, default_value_os_t = super::default_datadir())]
    datadir: PathBuf,
}

#[derive(Debug, Args)]
pub(super) struct DeployArgs {
    /// The signed module.
    module: PathBuf,
    /// Send this share of calls to it as a canary (e.g. `5%`) instead of activating it.
    #[arg(long)]
    canary: Option<String>,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Args)]
pub(super) struct SignArgs {
    /// The module to sign (a plain module or a package to re-sign).
    input: PathBuf,
    /// Where to write the signed module.
    #[arg(short, long)]
    out: PathBuf,
    /// The publisher's secret key file.
    #[arg(long)]
    key: PathBuf,
    /// A manifest TOML file; the flags below override its fields.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// consensus, execution or rpc.
    #[arg(long)]
    kind: Option<Kind>,
    /// Module name.
    #[arg(long)]
    name: Option<String>,
    /// Semantic version.
    #[arg(long = "module-version")]
    version: Option<String>,
    /// Memory budget in bytes.
    #[arg(long)]
    memory: Option<u64>,
    /// Fuel budget per call.
    #[arg(long)]
    fuel: Option<u64>,
    /// Time budget per call, in milliseconds.
    #[arg(long)]
    time_ms: Option<u64>,
    /// A capability to ask for (repeatable): stdio, preopen-dir.
    #[arg(long = "cap")]
    caps: Vec<String>,
}

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// The module.
    module: PathBuf,
    /// A trusted publisher key: hex, or a path to a .pub file (repeatable).
    #[arg(long, required = true)]
    trusted: Vec<String>,
    /// Refuse a module of another kind.
    #[arg(long)]
    kind: Option<Kind>,
    /// Refuse a module that is not newer than this installed version of its name.
    #[arg(long)]
    installed: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct CallArgs {
    #[command(flatten)]
    verify: VerifyArgs,
    /// Entry point to call (default: the kind's first entry point).
    #[arg(long)]
    entry: Option<String>,
    /// Input bytes, as text.
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// Input bytes, from a file.
    #[arg(long)]
    input_file: Option<PathBuf>,
    /// Forward the module's stdout/stderr into the log (if it asks for stdio).
    #[arg(long)]
    grant_stdio: bool,
    /// Give the module this directory as /data (if it asks for preopen-dir).
    #[arg(long)]
    grant_dir: Option<PathBuf>,
    /// Serve the module's chain queries (rpc) or state reads (execution, at the
    /// head) from a stopped node's data directory, read-only.
    #[arg(long)]
    chain: Option<PathBuf>,
}

pub(super) fn run(cmd: ModuleCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ModuleCommand::Deploy(args) => {
            let wasm = std::fs::read(&args.module)
                .with_context(|| format!("reading {}", args.module.display()))?;
            let canary = args
                .canary
                .as_deref()
                .map(|c| c.trim_end_matches('%').parse::<u8>())
                .transpose()
                .context("--canary takes a percentage such as 5%")?;
            admin(
                &args.admin,
                "molt_deployModule",
                serde_json::json!([format!("0x{}", hex::encode(wasm)), canary]),
            )
        }
        ModuleCommand::Stage {
            module,
            admin: args,
        } => {
            let wasm =
                std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
            admin(
                &args,
                "molt_stageModule",
                serde_json::json!([format!("0x{}", hex::encode(wasm))]),
            )
        }
        ModuleCommand::Schedule {
            module,
            height,
            after,
            admin: args,
        } => {
            let wasm =
                std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
            let when = match (height, after) {
                (Some(h), _) => serde_json::json!(h),
                (None, a) => serde_json::json!({"after": a}),
            };
            admin(
                &args,
                "molt_scheduleModule",
                serde_json::json!([format!("0x{}", hex::encode(wasm)), when]),
            )
        }
        ModuleCommand::Status(args) => admin(&args, "molt_moduleStatus", serde_json::json!([])),
        ModuleCommand::Log(args) => admin(&args, "molt_moduleLog", serde_json::json!([])),
        ModuleCommand::Metrics(args) => admin(&args, "molt_metrics", serde_json::json!([])),
        ModuleCommand::Rollback { slot, admin: args } => {
            admin(&args, "molt_rollback", serde_json::json!([slot]))
        }
        ModuleCommand::Keygen { out } => keygen(&out),
        ModuleCommand::Sign(args) => sign(args),
        ModuleCommand::Verify(args) => Ok(match verify(&args) {
            Ok(v) => {
                println!(
                    "ok: {} {} ({}) digest {} signed by {}",
                    v.manifest.name,
                    v.manifest.version,
                    v.manifest.kind,
                    hex::encode(v.digest),
                    hex::encode(v.signer.to_bytes())
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("refused: {e:#}");
                ExitCode::FAILURE
            }
        }),
        ModuleCommand::Inspect { module, json } => inspect(&module, json),
        ModuleCommand::Call(args) => call(args),
        ModuleCommand::New { kind, lang, dir } => {
            let files = crate::scaffold::write(&dir, kind, lang)?;
            for f in &files {
                println!("{}", f.display());
            }
            eprintln!(
                "wrote a {kind} module in {lang:?}; build and check it with {}/test.sh",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        ModuleCommand::Check { module, kind, json } => {
            let report = crate::check::check(read_module(&module)?, kind)?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&report)?),
                false => print!("{}", report.text()),
            }
            Ok(match report.failed() {
                true => ExitCode::FAILURE,
                false => ExitCode::SUCCESS,
            })
        }
    }
}

fn keygen(out: &Path) -> anyhow::Result<ExitCode> {
    if out.exists() {
        bail!("{} exists; refusing to overwrite a key", out.display());
    }
    let key = keys::generate();
    keys::write_signing_key(out, &key)?;
    println!("{}", hex::encode(key.verifying_key().to_bytes()));
    eprintln!(
        "wrote {} and {}",
        out.display(),
        keys::public_path(out).display()
    );
    Ok(ExitCode::SUCCESS)
}

fn sign(a: SignArgs) -> anyhow::Result<ExitCode> {
    let key = keys::read_signing_key(&a.key)?;
    let mut manifest = match &a.manifest {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            package::parse_toml(&text)?
        }
        None => {
            let (Some(kind), Some(name), Some(version)) = (a.kind, &a.name, &a.version) else {
                bail!("give --manifest FILE, or --kind, --name and --module-version");
            };
            Manifest {
                abi_version: ABI_VERSION,
                kind,
                name: name.clone(),
                version: version.clone(),
                budgets: Budgets::default(),
                capabilities: vec![],
            }
        }
    };
    if let Some(k) = a.kind {
        manifest.kind = k;
    }
    if let Some(n) = a.name {
        manifest.name = n;
    }
    if let Some(v) = a.version {
        manifest.version = v;
    }
    if let Some(m) = a.memory {
        manifest.budgets.memory_bytes = m;
    }
    if let Some(f) = a.fuel {
        manifest.budgets.fuel = f;
    }
    if let Some(t) = a.time_ms {
        manifest.budgets.time_ms = t;
    }
    for c in &a.caps {
        let cap: Capability = c.parse()?;
        if !manifest.wants(cap) {
            manifest.capabilities.push(cap);
        }
    }
    package::parse_version(&manifest.version)?;
    let module = read_module(&a.input)?;
    let signed = package::sign(&module, &manifest, &key)?;
    let package = Package::parse(signed.clone())?;
    if let Err(e) = package.interface.check(manifest.kind) {
        eprintln!("warning: signed anyway, but nodes will refuse it: {e}");
    }
    std::fs::write(&a.out, &signed).with_context(|| format!("writing {}", a.out.display()))?;
    let digest = package.digest_hex();
    println!(
        "signed {} {} ({}) -> {} digest {digest}",
        manifest.name,
        manifest.version,
        manifest.kind,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_module(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let is_text = path.extension().is_some_and(|e| e == "wat");
    if is_text {
        return wat::parse_bytes(&bytes)
            .map(|b| b.into_owned())
            .with_context(|| format!("parsing {}", path.display()));
    }
    Ok(bytes)
}

fn verify(a: &VerifyArgs) -> anyhow::Result<package::Verified> {
    let trusted = a
        .trusted
        .iter()
        .map(|t| keys::parse_verifying_key(t))
        .collect::<Result<Vec<_>, _>>()?;
    let installed = a
        .installed
        .as_deref()
        .map(semver::Version::parse)
        .transpose()
        .context("--installed")?;
    let package = Package::parse(read_module(&a.module)?)?;
    // `--installed` is a version of this module's name whose code is not known here.
    let history: Vec<VersionInfo> = match (installed, &package.manifest) {
        (Some(v), Ok(m)) => vec![VersionInfo {
            name: m.name.clone(),
            version: v.to_string(),
            digest: "unknown".into(),
        }],
        _ => Vec::new(),
    };
    let verified = Verifier::new(trusted).verify(package, a.kind, &history)?;
    check_abi_version(&verified)?;
    Ok(verified)
}

/// Instantiates a verified module under a tiny budget and calls `molt_abi_version`,
/// which must agree with its manifest: a module that would fail only when called is
/// refused here, before anyone deploys it.
fn check_abi_version(verified: &package::Verified) -> anyhow::Result<()> {
    molt_runtime::probe_abi_version(&verified.manifest, &verified.bytes)?;
    Ok(())
}

fn inspect(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let p = Package::parse(read_module(path)?)?;
    let manifest = p.manifest.as_ref().map_err(|e| e.to_string());
    let signer = p
        .signature
        .as_ref()
        .map_err(|e| e.to_string())
        .map(|s| (hex::encode(s.signer.to_bytes()), s.is_valid_for(&p.digest)));
    let abi_fit = match &manifest {
        Ok(m) => p
            .interface
            .check(m.kind)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                molt_runtime::probe_abi_version(m, &p.bytes)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        Err(_) => Err("no manifest, so no kind to check against".to_string()),
    };
    let imports: Vec<String> = p
        .interface
        .imports
        .iter()
        .map(|(m, n, t)| format!("{m}.{n}: {t}"))
        .collect();
    let exports: Vec<String> = p
        .interface
        .exports
        .iter()
        .map(|(n, t)| format!("{n}: {t}"))
        .collect();
    if json {
        let v = serde_json::json!({
            "digest": p.digest_hex(),
            "size": p.bytes.len(),
            "manifest": manifest.as_ref().map(|m| serde_json::json!({
                "abi_version": m.abi_version, "kind": m.kind.as_str(), "name": m.name,
                "version": m.version,
                "budgets": {"memory_bytes": m.budgets.memory_bytes, "fuel": m.budgets.fuel, "time_ms": m.budgets.time_ms},
                "capabilities": m.capabilities.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            })).map_err(|e| serde_json::json!({"error": e})).unwrap_or_else(|e| e),
            "signer": signer.as_ref().map(|(k, valid)| serde_json::json!({"key": k, "valid": valid}))
                .unwrap_or_else(|e| serde_json::json!({"error": e})),
            "abi": abi_fit.as_ref().map(|_| serde_json::json!({"fits": true}))
                .unwrap_or_else(|e| serde_json::json!({"fits": false, "error": e})),
            "imports": imports,
            "exports": exports,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("module    {}", path.display());
    println!("size      {} bytes", p.bytes.len());
    println!("digest    sha256:{}", p.digest_hex());
    match &manifest {
        Ok(m) => {
            println!(
                "manifest  {} {} ({}), ABI v{}",
                m.name, m.version, m.kind, m.abi_version
            );
            let b = m.budgets;
            println!(
                "budgets   memory {} bytes, fuel {}, time {} ms (0 = node default)",
                b.memory_bytes, b.fuel, b.time_ms
            );
            let caps: Vec<_> = m.capabilities.iter().map(|c| c.as_str()).collect();
            println!(
                "caps      {}",
                if caps.is_empty() {
                    "none".into()
                } else {
                    caps.join(", ")
                }
            );
        }
        Err(e) => println!("manifest  {e}"),
    }
    match &signer {
        Ok((key, true)) => println!("signer    {key} (signature valid)"),
        Ok((key, false)) => println!("signer    {key} (SIGNATURE DOES NOT MATCH: tampered)"),
        Err(e) => println!("signer    {e}"),
    }
    match &abi_fit {
        Ok(()) => println!("abi       fits its kind; molt_abi_version agrees with the manifest"),
        Err(e) => println!("abi       DOES NOT FIT: {e}"),
    }
    println!("imports");
    for i in &imports {
        println!("  {i}");
    }
    println!("exports");
    for e in &exports {
        println!("  {e}");
    }
    Ok(ExitCode::SUCCESS)
}

fn call(a: CallArgs) -> anyhow::Result<ExitCode> {
    let verified = verify(&a.verify)?;
    let input = match (&a.input, &a.input_file) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(path)) => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, None) => Vec::new(),
    };
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let grants = Grants {
        stdio: a.grant_stdio,
        dir: a.grant_dir,
    };
    let module = runtime.load(&verified.manifest, &verified.bytes, &grants)?;
    let entry = a.entry.unwrap_or_else(|| {
        molt_abi::interface::entry_points(verified.manifest.kind)[0].to_string()
    });
    // Held while the call runs: the chain it reads.
    let offline = a.chain.as_deref().map(open_chain).transpose()?;
    let context = match (&offline, verified.manifest.kind) {
        (None, _) => CallContext::None,
        (Some(node), Kind::Rpc) => {
            let queries: Arc<dyn ChainService> = node.queries.clone();
            CallContext::Chain(Arc::new(ShadowChain(queries)))
        }
        (Some(node), Kind::Execution) => {
            let head = node.chain.head_number();
            CallContext::State(Arc::new(node.chain.db().state_at(head)?))
        }
        (Some(_), kind) => bail!("--chain serves rpc and execution modules, not {kind}"),
    };
    let no_chain = offline.is_none();
    let (out, stats) = module
        .call_with(&entry, &input, context)
        .map_err(|e| match e {
            molt_runtime::CallError::State(_) if no_chain => {
                anyhow::anyhow!("{e} (--chain DATADIR serves a stopped node's chain to the module)")
            }
            e => e.into(),
        })?;
    use std::io::Write;
    std::io::stdout().write_all(&out)?;
    println!();
    eprintln!(
        "{entry}: {} bytes out in {:.3} ms, peak memory {} KiB, fuel {}",
        out.len(),
        stats.elapsed.as_secs_f64() * 1e3,
        stats.peak_memory / 1024,
        stats.fuel_used
    );
    Ok(ExitCode::SUCCESS)
}

/// Opens a stopped node's chain for reading.
fn open_chain(datadir: &Path) -> anyhow::Result<crate::node::Offline> {
    if !datadir.join("db").is_dir() {
        bail!("{} holds no chain", datadir.display());
    }
    Node::open_offline(&NodeConfig {
        datadir: datadir.to_path_buf(),
        ..NodeConfig::default()
    })
}

/// Calls the admin API; prints the result, or the refusal and exit code 1.
fn admin(args: &AdminArgs, method: &str, params: serde_json::Value) -> anyhow::Result<ExitCode> {
    let token = match &args.token {
        Some(t) => t.clone(),
        None => {
            let path = args.datadir.join(super::dev::ADMIN_TOKEN_FILE);
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading the admin token from {}", path.display()))?
                .trim()
                .to_string()
        }
    };
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (status, body) =
        crate::http::post_json(args.admin, Some(&token), body.to_string().as_bytes())
            .with_context(|| format!("reaching the admin API at {}", args.admin))?;
    let response: serde_json::Value = serde_json::from_slice(&body)
        .with_context(|| format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))?;
    if let Some(result) = response.get("result") {
        println!("{}", serde_json::to_string_pretty(result)?);
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "refused: {}",
        response["error"]["message"]
            .as_str()
            .unwrap_or("unknown error")
    );
    Ok(ExitCode::from(1))
}
