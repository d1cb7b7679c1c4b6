//! {{name}} — an `rpc` guest module for molt.
//!
//! `molt_rpc_handle` gets one JSON-RPC body (a request or a batch) and returns the
//! answer's bytes. This one answers `web3_clientVersion` itself, `eth_chainId` and
//! `eth_blockNumber` from the node's chain queries, and any other method with
//! JSON-RPC's -32601. Add methods in `one`; the chain queries are the methods of
//! `molt_abi::rpc::ChainQueries`, which `host` implements.

use molt_abi::GuestError;
use molt_abi::imports::ChainHost;
use molt_abi::rpc::ChainQueries;
use serde_json::{Value, json};

/// This module's `molt_rpc_handle`.
pub fn handle(host: &impl ChainHost, body: &[u8]) -> Result<Vec<u8>, GuestError> {
    let answer = match serde_json::from_slice::<Value>(body) {
        Err(e) => error(Value::Null, -32700, &format!("parse error: {e}")),
        Ok(Value::Array(batch)) if batch.is_empty() => error(Value::Null, -32600, "empty batch"),
        Ok(Value::Array(batch)) => Value::Array(batch.into_iter().map(|r| one(host, r)).collect()),
        Ok(request) => one(host, request),
    };
    serde_json::to_vec(&answer).map_err(|e| GuestError::new(e.to_string()))
}

fn one(host: &impl ChainHost, request: Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error(id, -32600, "invalid request: no method");
    };
    let result = match method {
        "web3_clientVersion" => json!("{{name}}/0.1.0"),
        "eth_chainId" | "eth_blockNumber" => match host.chain_info() {
            Ok(info) if method == "eth_chainId" => json!(format!("{:#x}", info.chain_id)),
            Ok(info) => json!(format!("{:#x}", info.head)),
            Err(e) => return error(id, -32000, &e.to_string()),
        },
        _ => return error(id, -32601, &format!("the method {method} does not exist/is not available")),
    };
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

molt_abi::export_rpc!(handle);
