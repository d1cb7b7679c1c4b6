//! The chain `molt module check` runs a module on: a fresh dev chain in a temporary
//! directory, three blocks made through the built-in modules as a client would make
//! them — a transfer; two contract creations; a call that logs and writes a slot, and
//! one that reverts.

use std::sync::Arc;

use alloy_primitives::{Address, B256};
use anyhow::{Context, bail};
use molt_runtime::services::ChainService;
use serde_json::{Value, json};

use crate::node::gate::ShadowChain;
use crate::node::{Node, NodeConfig, Offline};

/// Init code of a contract whose code stores 42 in slot 0 and logs 32 zero bytes
/// (`PUSH1 42 PUSH1 0 SSTORE PUSH1 32 PUSH1 0 LOG0 STOP`).
const LOGGER: &str = "0x600b600c600039600b6000f3602a60005560206000a000";
/// Init code of a contract whose code reverts (`PUSH1 0 PUSH1 0 REVERT`).
const REVERTER: &str = "0x6005600c60003960056000f360006000fd";

/// A chain with a few blocks, and what a check asks about it.
pub struct Fixture {
    /// Holds the data directory while the chain is open.
    _dir: tempfile::TempDir,
    /// The chain, its queries and the built-in rpc module.
    pub node: Offline,
    /// The chain as a module under check sees it: every read, no change.
    pub view: Arc<dyn ChainService>,
    /// Two funded dev accounts.
    pub accounts: [Address; 2],
    /// The logging contract.
    pub logger: Address,
    /// The transaction that called it.
    pub log_tx: B256,
    /// The transaction that reverted.
    pub reverted_tx: B256,
}

impl Fixture {
    /// Makes the chain. The built-in modules come from the per-user compile cache,
    /// so this takes a fraction of a second after the first time.
    pub fn new() -> anyhow::Result<Fixture> {
        let dir = tempfile::tempdir().context("creating the fixture chain's directory")?;
        let node = Node::open_offline(&NodeConfig {
            datadir: dir.path().to_path_buf(),
            ..NodeConfig::default()
        })?;
        let queries: Arc<dyn ChainService> = node.queries.clone();
        let view: Arc<dyn ChainService> = Arc::new(ShadowChain(queries.clone()));
        let ask = |method: &str, params: Value| -> anyhow::Result<Value> {
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
            let (out, _) = node
                .rpc
                .call(&queries, body.to_string().as_bytes())
                .with_context(|| format!("the built-in rpc module on {method}"))?;
            let mut answer: Value = serde_json::from_slice(&out)?;
            match answer.get_mut("result") {
                Some(result) => Ok(result.take()),
                None => bail!("fixture chain: {method} answered {answer}"),
            }
        };
        let accounts: Vec<Address> = serde_json::from_value(ask("eth_accounts", json!([]))?)?;
        let [a, b] = [accounts[0], accounts[1]];
        let send = |tx: Value| -> anyhow::Result<B256> {
            Ok(serde_json::from_value(ask(
                "eth_sendTransaction",
                json!([tx]),
            )?)?)
        };
        let mine = || ask("evm_mine", json!([]));
        let created = |tx: B256| -> anyhow::Result<Address> {
            let receipt = ask("eth_getTransactionReceipt", json!([tx]))?;
            Ok(serde_json::from_value(receipt["contractAddress"].clone())?)
        };

        send(json!({"from": a, "to": b, "value": "0xde0b6b3a7640000"}))?;
        mine()?;
        let logger = send(json!({"from": a, "data": LOGGER}))?;
        let reverter = send(json!({"from": b, "data": REVERTER}))?;
        mine()?;
        let (logger, reverter) = (created(logger)?, created(reverter)?);
        let log_tx = send(json!({"from": a, "to": logger}))?;
        let reverted_tx = send(json!({"from": b, "to": reverter, "gas": "0x186a0"}))?;
        mine()?;
        Ok(Fixture {
            _dir: dir,
            node,
            view,
            accounts: [a, b],
            logger,
            log_tx,
            reverted_tx,
        })
    }

    /// The number of the chain's last block.
    pub fn head(&self) -> u64 {
        self.node.chain.head_number()
    }
}
