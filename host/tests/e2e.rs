//! Real Ethereum clients against the real `molt dev`: ethers v6 with solc-js, viem,
//! Foundry's `cast` and `forge` (compiling with solc-js through `e2e/solc.cjs`), and
//! web3.py. The JavaScript tools come from the npm registry, pinned by
//! `host/tests/e2e/package-lock.json`, installed (`npm ci`) into
//! `host/tests/e2e/node_modules` the first time; the Python ones from PyPI, pinned
//! by `host/tests/e2e/requirements.txt`, into the virtual environment
//! `host/tests/e2e/.venv`. So these tests need Node.js with npm, and Python 3 with
//! `venv`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{ACCOUNT0, ACCOUNT1, DevNode, KEY0};

/// `host/tests/e2e`, with its npm packages installed.
fn tools() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
        let stamp = dir.join("node_modules/.package-lock.json");
        let lock = dir.join("package-lock.json");
        let fresh = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if fresh(&stamp).is_none() || fresh(&stamp) < fresh(&lock) {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("the end-to-end tests need npm (Node.js) on PATH");
            assert!(status.success(), "npm ci in {} failed", dir.display());
        }
        dir
    })
}

/// The Python of `host/tests/e2e/.venv`, with `requirements.txt` installed.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
        let venv = dir.join(".venv");
        let python = venv.join("bin/python");
        let stamp = venv.join("installed.txt");
        let requirements = dir.join("requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).unwrap();
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("the end-to-end tests need python3 (with venv) on PATH");
            assert!(
                status.success(),
                "python3 -m venv {} failed",
                venv.display()
            );
            let status = Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements)
                .status()
                .unwrap();
            assert!(
                status.success(),
                "pip install -r {} failed",
                requirements.display()
            );
            std::fs::write(&stamp, wanted).unwrap();
        }
        python
    })
}

/// An anvil process (from `node_modules`) on a free port, the reference some scripts
/// run against before molt; killed when dropped.
struct Anvil {
    child: std::process::Child,
    port: u16,
}

impl Anvil {
    fn start() -> Anvil {
        Self::start_with(&[])
    }

    /// Starts anvil with `extra` arguments.
    fn start_with(extra: &[&str]) -> Anvil {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The platform package's binary, not npm's shim: a killed shim leaves anvil.
        let binary = std::fs::read_dir(tools().join("node_modules/@foundry-rs"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin/anvil"))
            .find(|p| p.is_file())
            .expect("anvil's platform package in node_modules/@foundry-rs");
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--silent"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("anvil from node_modules");
        let anvil = Anvil { child, port };
        // Step: anvil answers eth_chainId.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let ask = br#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        while common::try_post(addr, ask).is_none() {
            assert!(std::time::Instant::now() < deadline, "anvil did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        anvil
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `node e2e/SCRIPT URL WHICH` against anvil (the reference) and then molt, each
/// started with `args`; `WHICH` is `anvil` or `molt`, for checks only one of them
/// passes. Each run must print `done` last.
fn script_on_anvil_then_molt(script: &str, args: &[&str], done: &str) {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), args);
    let anvil = Anvil::start_with(args);
    for (url, which) in [(anvil.url(), "anvil"), (node.url(), "molt")] {
        let out = run(Command::new("node")
            .arg(tools().join(script))
            .args([&url, which]));
        assert!(out.ends_with(done), "{which} ({url}): {out}");
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn cast(node: &DevNode, args: &[&str]) -> String {
    cast_at(&node.url(), args)
}

/// Deploys, with `cast send --create`, a contract whose every call returns 42 (init
/// code returning `PUSH1 42 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN`); its address.
fn deploy_answer(url: &str) -> String {
    let init = "0x600a600c600039600a6000f3602a60005260206000f3";
    let deployed = cast_at(
        url,
        &["send", "--private-key", KEY0, "--create", init, "--json"],
    );
    let deployed: serde_json::Value = serde_json::from_str(&deployed).unwrap();
    deployed["contractAddress"].as_str().unwrap().to_string()
}

/// `cast` against the node at `url`.
fn cast_at(url: &str, args: &[&str]) -> String {
    // The subcommand, then the node, then the rest (after `send … --create` every
    // argument belongs to the creation).
    run(Command::new(tools().join("node_modules/.bin/cast"))
        .arg(args[0])
        .args(["--rpc-url", url])
        .args(&args[1..]))
}

#[test]
fn ethers_and_solc_deploy_transfer_query_logs_and_catch_a_revert() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    let out = run(Command::new("node")
        .arg(tools().join("ethers.mjs"))
        .arg(node.url()));
    assert!(out.contains(r#""ok":true"#), "{out}");
}

#[test]
fn viem_and_ethers_read_past_blocks_and_call_with_state_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    let out = run(Command::new("node")
        .arg(tools().join("history.mjs"))
        .arg(node.url()));
    assert!(out.contains(r#""ok":true"#), "{out}");
}

#[test]
fn websocket_subscriptions_and_filters_through_ethers_viem_and_a_raw_socket() {
    script_on_anvil_then_molt("pubsub.mjs", &[], "pubsub ok");
}

#[test]
fn web3_py_reads_past_blocks_and_its_proofs_verify_with_py_trie() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--engine", "native"]);
    let script = tools().join("history.py");
    let out = run(Command::new(python()).arg(script).arg(node.url()));
    assert!(out.contains(r#""ok": true"#), "{out}");
}

#[test]
fn ethers_and_viem_sign_messages_typed_data_and_transactions_with_unlocked_accounts() {
    script_on_anvil_then_molt("sign.mjs", &[], "sign ok");
}

#[test]
fn the_pool_as_txpool_methods_and_sender_nonce_lookups_show_it() {
    // Blocks only when asked (evm_mine), so transactions stay pending.
    script_on_anvil_then_molt("pool.mjs", &["--block-time", "3600"], "pool ok");
}

#[test]
fn transactions_blocks_and_calls_trace_as_geth_and_parity_give_them() {
    script_on_anvil_then_molt("trace.mjs", &[], "trace ok");
}

#[test]
fn otterscan_methods_answer_as_erigon_defined_them() {
    script_on_anvil_then_molt("ots.mjs", &[], "ots ok");
}

#[test]
fn cast_run_replays_a_transaction_and_cast_rpc_traces_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    // The contract that answers 42, and a transaction calling it.
    let contract = &deploy_answer(&node.url());
    let sent = cast(
        &node,
        &[
            "send",
            "--private-key",
            KEY0,
            contract,
            "answer()",
            "--json",
        ],
    );
    let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
    let hash = sent["transactionHash"].as_str().unwrap();

    // `cast run` forks the node at the block before and executes the transaction
    // again in Foundry's own EVM: the call and its return value traced. (Its "Gas
    // used" leaves out Prague's calldata floor, which the receipt includes.)
    let replayed = cast(&node, &["run", hash]);
    assert!(
        replayed.contains("Transaction successfully executed"),
        "{replayed}"
    );
    let call = format!("{contract}::85bb7d69()").to_lowercase();
    assert!(replayed.to_lowercase().contains(&call), "{replayed}");
    assert!(
        replayed.contains(&format!("[Return] 0x{:064x}", 42)),
        "{replayed}"
    );

    // The node's own trace through `cast rpc`.
    let traced = cast(
        &node,
        &[
            "rpc",
            "debug_traceTransaction",
            hash,
            r#"{"tracer":"callTracer"}"#,
        ],
    );
    let traced: serde_json::Value = serde_json::from_str(&traced).unwrap();
    assert_eq!(traced["type"], "CALL");
    assert_eq!(
        traced["to"].as_str(),
        Some(contract.to_lowercase().as_str())
    );
    assert_eq!(traced["output"], format!("0x{:064x}", 42));
    assert_eq!(traced["gasUsed"], sent["gasUsed"]);
}

#[test]
fn a_state_dumped_by_anvil_loads_into_molt_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    let anvil = Anvil::start();
    // On anvil: the contract that answers 42, and a slot set.
    let contract = &deploy_answer(&anvil.url());
    let word = format!("0x{:064x}", 42);
    cast_at(
        &anvil.url(),
        &["rpc", "anvil_setStorageAt", contract, "0x7", &word],
    );
    let json_string = |s: String| -> String { serde_json::from_str(&s).unwrap() };
    let dump = json_string(cast_at(&anvil.url(), &["rpc", "anvil_dumpState"]));

    // Into molt: the code and the slot are there, and stay after a block.
    assert_eq!(cast(&node, &["rpc", "anvil_loadState", &dump]), "true");
    for _ in 0..2 {
        assert_eq!(cast(&node, &["call", contract, "answer()(uint256)"]), "42");
        assert_eq!(cast(&node, &["storage", contract, "7"]), word);
        cast(&node, &["rpc", "evm_mine"]);
    }

    // And back: molt's dump loads into a fresh anvil.
    let back = json_string(cast(&node, &["rpc", "anvil_dumpState"]));
    let fresh = Anvil::start();
    assert_eq!(
        cast_at(&fresh.url(), &["rpc", "anvil_loadState", &back]),
        "true"
    );
    assert_eq!(
        cast_at(&fresh.url(), &["call", contract, "answer()(uint256)"]),
        "42"
    );
    assert_eq!(cast_at(&fresh.url(), &["storage", contract, "7"]), word);
}

#[test]
fn dev_controls_move_the_clock_set_the_coinbase_and_switch_mining() {
    script_on_anvil_then_molt("cheats.mjs", &[], "cheats ok");
}

#[test]
fn web3_py_block_pending_and_event_filters() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    let script = tools().join("filters.py");
    for url in [Anvil::start().url(), node.url()] {
        let out = run(Command::new(python()).arg(&script).arg(&url));
        assert!(out.contains(r#""ok": true"#), "{url}: {out}");
    }
}

#[test]
fn cast_sends_calls_and_reads_receipts_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    assert_eq!(cast(&node, &["chain-id"]), "31337");
    let to = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
    let before: u128 = cast(&node, &["balance", to]).parse().unwrap();

    // With a private key, and from an unlocked account (the node signs).
    let sent = cast(
        &node,
        &[
            "send",
            "--private-key",
            KEY0,
            to,
            "--value",
            "1ether",
            "--json",
        ],
    );
    let receipt: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["from"], ACCOUNT0.to_lowercase());
    let unlocked = cast(
        &node,
        &[
            "send",
            "--unlocked",
            "--from",
            ACCOUNT1,
            to,
            "--value",
            "2ether",
            "--json",
        ],
    );
    let unlocked: serde_json::Value = serde_json::from_str(&unlocked).unwrap();
    assert_eq!(unlocked["status"], "0x1");
    assert_eq!(unlocked["from"], ACCOUNT1.to_lowercase());
    let after: u128 = cast(&node, &["balance", to]).parse().unwrap();
    assert_eq!(after - before, 3 * 10u128.pow(18));

    // Receipts and blocks as cast prints them.
    let hash = receipt["transactionHash"].as_str().unwrap();
    let fetched: serde_json::Value =
        serde_json::from_str(&cast(&node, &["receipt", hash, "--json"])).unwrap();
    assert_eq!(fetched, receipt);
    let block = cast(&node, &["block", "latest", "--json"]);
    let block: serde_json::Value = serde_json::from_str(&block).unwrap();
    assert_eq!(block["hash"], unlocked["blockHash"]);

    // Deploy a contract and call it.
    let contract = &deploy_answer(&node.url());
    assert_eq!(cast(&node, &["call", contract, "answer()(uint256)"]), "42");
}

#[test]
fn cast_reads_the_upgrade_contract_and_only_an_authority_schedules() {
    const CONTRACT: &str = "0x000000000000000000000000000000006d6f6c74";
    // The contract in genesis is what solc makes of its committed source.
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../chain/src/upgrades/MoltUpgrades.sol");
    let compiled = run(Command::new("node")
        .arg(tools().join("upgrade-contract.cjs"))
        .arg(&source)
        .current_dir(tools()));
    assert_eq!(compiled, molt_chain::upgrades::RUNTIME_CODE_HEX.trim());

    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    assert_eq!(cast(&node, &["code", CONTRACT]), format!("0x{compiled}"));
    let authority = |who: &str| cast(&node, &["call", CONTRACT, "authority(address)(bool)", who]);
    assert_eq!(authority(ACCOUNT0), "true");
    assert_eq!(authority(ACCOUNT1), "false");
    // The node's key is the publisher execution and consensus modules must be signed by.
    let node_key = std::fs::read_to_string(dir.path().join("keys/dev.key.pub")).unwrap();
    let node_key = format!("0x{}", node_key.trim());
    let publisher = |key: &str| cast(&node, &["call", CONTRACT, "publisher(bytes32)(bool)", key]);
    assert_eq!(publisher(&node_key), "true");
    assert_eq!(publisher(&format!("0x{}", "11".repeat(32))), "false");

    let digest = format!("0x{}", "ab".repeat(32));
    let refused = Command::new(tools().join("node_modules/.bin/cast"))
        .args([
            "send",
            "--rpc-url",
            &node.url(),
            "--unlocked",
            "--from",
            ACCOUNT1,
        ])
        .args([CONTRACT, "schedule(bytes32,uint64)", &digest, "1000"])
        .output()
        .unwrap();
    // (The npm package's `cast` shim exits 0 even when cast fails: read what it said.)
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !String::from_utf8_lossy(&refused.stdout).contains("transactionHash"),
        "a non-authority scheduled: {text}"
    );
    assert!(text.contains("molt: not an upgrade authority"), "{text}");

    let sent = cast(
        &node,
        &["send", "--unlocked", "--from", ACCOUNT0, "--json"]
            .into_iter()
            .chain([CONTRACT, "schedule(bytes32,uint64)", &digest, "1000"])
            .collect::<Vec<_>>(),
    );
    let receipt: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(receipt["logs"][0]["topics"][1], digest.as_str());
}

/// What cast prints on stdout and stderr, whatever its exit status (the npm shim
/// exits 0 even when cast fails).
fn cast_output(node: &DevNode, args: &[&str]) -> (String, String) {
    let out = Command::new(tools().join("node_modules/.bin/cast"))
        .arg(args[0])
        .args(["--rpc-url", &node.url()])
        .args(&args[1..])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cast_blob_and_set_code_transactions_on_both_engines() {
    for engine in ["wasm", "native"] {
        let dir = tempfile::tempdir().unwrap();
        let node = DevNode::start(dir.path(), &["--engine", engine]);
        let to = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";

        // A plain transfer is estimated at exactly 21000, as geth and anvil answer.
        assert_eq!(
            cast(&node, &["estimate", "--from", ACCOUNT0, to, "--value", "1"]),
            "21000"
        );

        // A blob transaction (type 3, with its sidecar) is refused at submission with
        // a clear error, never given a hash to wait on.
        let blob = dir.path().join("blob.bin");
        std::fs::write(&blob, b"molt does not keep blobs".repeat(40)).unwrap();
        let (stdout, stderr) = cast_output(
            &node,
            &[
                "send",
                "--private-key",
                KEY0,
                "--blob",
                "--path",
                blob.to_str().unwrap(),
                to,
            ],
        );
        assert!(!stdout.contains("transactionHash"), "{engine}: {stdout}");
        assert!(
            stderr.contains("transaction type not supported: blob transactions (type 3)"),
            "{engine}: {stderr}"
        );

        // A set-code transaction (type 4): the sender delegates its account to a
        // contract; the receipt is type 4 and the code is the delegation designator.
        let delegate = "0x00000000000000000000000000000000000000c1";
        let sent = cast(
            &node,
            &[
                "send",
                "--private-key",
                KEY0,
                "--auth",
                delegate,
                ACCOUNT0,
                "--json",
            ],
        );
        let receipt: serde_json::Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(receipt["status"], "0x1", "{engine}: {receipt}");
        assert_eq!(receipt["type"], "0x4", "{engine}: {receipt}");
        assert_eq!(
            cast(&node, &["code", ACCOUNT0]),
            format!("0xef0100{}", &delegate[2..])
        );
        let tx: serde_json::Value = serde_json::from_str(&cast(
            &node,
            &["tx", receipt["transactionHash"].as_str().unwrap(), "--json"],
        ))
        .unwrap();
        assert_eq!(
            tx["authorizationList"][0]["address"], delegate,
            "{engine}: {tx}"
        );

        // The chain keeps sealing after both.
        let after = cast(
            &node,
            &["send", "--private-key", KEY0, to, "--value", "1", "--json"],
        );
        let after: serde_json::Value = serde_json::from_str(&after).unwrap();
        assert_eq!(after["status"], "0x1", "{engine}: {after}");
        node.stop();
    }
}

#[test]
fn cast_reads_past_blocks_replays_a_transaction_and_fetches_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    let deployed = deploy_slot0(&node);
    let contract = deployed["contractAddress"].as_str().unwrap().to_string();
    let set = |n: u8| store(&node, &contract, n);
    let first = set(7);
    let at_first = cast(&node, &["block-number"]);
    let second = set(9);
    assert_eq!(second["status"], "0x1");

    // Reads at a past block, by number, as cast sends them.
    let call = |block: &str| cast(&node, &["call", &contract, "--block", block]);
    assert_eq!(call(&at_first), format!("0x{:064x}", 7));
    assert_eq!(call("latest"), format!("0x{:064x}", 9));
    let deployed_at = deployed["blockNumber"].as_str().unwrap();
    let deployed_at = u64::from_str_radix(deployed_at.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(
        cast(&node, &["storage", &contract, "0", "--block", &at_first]),
        format!("0x{:064x}", 7)
    );
    assert_eq!(
        cast(
            &node,
            &["code", &contract, "--block", &(deployed_at - 1).to_string()]
        ),
        "0x"
    );
    let nonce_then = cast(&node, &["nonce", ACCOUNT0, "--block", &at_first]);
    let nonce_now = cast(&node, &["nonce", ACCOUNT0]);
    assert_eq!(
        nonce_now.parse::<u64>().unwrap(),
        nonce_then.parse::<u64>().unwrap() + 1
    );

    // `cast run` replays a mined transaction on the state before its block.
    let hash = first["transactionHash"].as_str().unwrap();
    let replay = cast(&node, &["run", hash]);
    assert!(
        replay.contains("Transaction successfully executed"),
        "{replay}"
    );

    // `cast proof` at a past block: the value proven is the value then.
    let proof = cast(&node, &["proof", &contract, "0", "--block", &at_first]);
    let proof: serde_json::Value = serde_json::from_str(&proof).unwrap();
    assert_eq!(proof["storageProof"][0]["value"], "0x7");
    assert!(!proof["accountProof"].as_array().unwrap().is_empty());
}

/// Deploys a contract that returns its slot 0 when called with less than a word of
/// data and stores its first calldata word in slot 0 otherwise; its receipt.
fn deploy_slot0(node: &DevNode) -> serde_json::Value {
    let deployed = cast(
        node,
        &[
            "send",
            "--private-key",
            KEY0,
            "--create",
            "0x601a80600b6000396000f3601f361160125760005460005260206000f35b60003560005500",
            "--json",
        ],
    );
    serde_json::from_str(&deployed).unwrap()
}

/// Stores `n` in slot 0 of the [`deploy_slot0`] contract; the receipt.
fn store(node: &DevNode, contract: &str, n: u8) -> serde_json::Value {
    let word = format!("0x{n:064x}");
    let out = cast(
        node,
        &[
            "send",
            "--private-key",
            KEY0,
            contract,
            &word,
            "--gas-limit",
            "100000",
            "--json",
        ],
    );
    serde_json::from_str(&out).unwrap()
}

#[test]
fn forge_tests_run_on_a_fork_of_a_past_block() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &[]);
    let deployed = deploy_slot0(&node);
    let contract = deployed["contractAddress"].as_str().unwrap().to_string();
    store(&node, &contract, 7);
    let at_first = cast(&node, &["block-number"]);
    assert_eq!(store(&node, &contract, 9)["status"], "0x1");

    // `forge test --fork-url --fork-block-number` on the project in `e2e/forge`,
    // compiled by solc-js through `e2e/solc.cjs`; it checks the block number, the
    // code and slot 0 as they were at that block, then writes inside the fork.
    let out = tempfile::tempdir().unwrap();
    let forge = Command::new(tools().join("node_modules/.bin/forge"))
        .current_dir(tools().join("forge"))
        .arg("test")
        .arg("--use")
        .arg(tools().join("solc.cjs"))
        .arg("--out")
        .arg(out.path().join("out"))
        .arg("--cache-path")
        .arg(out.path().join("cache"))
        .args(["--fork-url", &node.url(), "--fork-block-number", &at_first])
        .arg("--json")
        .env("MOLT_TARGET", &contract)
        .env("MOLT_BLOCK", &at_first)
        .env("MOLT_VALUE", "7")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&forge.stdout);
    let report = stdout.lines().rev().find(|l| l.starts_with('{'));
    let report: serde_json::Value = report
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "forge printed no report:\n{stdout}\n{}",
                String::from_utf8_lossy(&forge.stderr)
            )
        });
    let result =
        &report["test/Fork.t.sol:ForkTest"]["test_results"]["testReadsTheStateOfTheForkBlock()"];
    assert_eq!(result["status"], "Success", "{result}");
}
