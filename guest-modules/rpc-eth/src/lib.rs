//! # molt-rpc-eth — the `rpc` guest: Ethereum JSON-RPC
//!
//! Turns JSON-RPC 2.0 request bodies (single or batch) into answers, asking the node
//! for everything it knows through the `rpc` kind's chain queries
//! ([`molt_abi::rpc`]): blocks, receipts, state, calls on the execution module, the
//! transaction pool and the unlocked dev keys. It builds as a `wasm32-wasip1` module
//! (the node's `rpc` slot) and as a native library (its twin, `--engine native`).
//!
//! It owns the JSON shapes (alloy's RPC types), parameter parsing, block tags, gas
//! estimation, fee suggestions, log filtering and the error codes. It keeps nothing
//! between calls and never touches storage, keys or the network itself.
//!
//! Errors follow geth: -32700 parse error, -32600 invalid request, -32601 unknown
//! method, -32602 invalid params, -32000 for what the node refuses (with the pool's
//! reason), and 3 "execution reverted" with the revert data for `eth_call` and
//! `eth_estimateGas`.

mod blocks;
mod cheats;
mod dump;
mod error;
mod eth;
mod filters;
mod ots;
mod params;
mod pool;
mod request;
mod sign;
mod state;
mod trace;

use molt_abi::GuestError;
use molt_abi::imports::ChainHost;
use serde_json::{Value, json};

pub use error::RpcError;

/// This crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `web3_clientVersion` answers.
pub const CLIENT_VERSION: &str = concat!("molt/v", env!("CARGO_PKG_VERSION"), "/rpc-eth");

/// Most requests one batch may carry (geth's default is 1000).
pub const MAX_BATCH: usize = 1000;

/// `molt_rpc_handle`: one JSON-RPC body in, one out (empty if it held only
/// notifications).
pub fn handle(host: &(impl ChainHost + ?Sized), body: &[u8]) -> Result<Vec<u8>, GuestError> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Ok(
                error::response(Value::Null, &RpcError::parse(e.to_string()))
                    .to_string()
                    .into(),
            );
        }
    };
    let out = match value {
        Value::Array(requests) if requests.is_empty() => {
            error::response(Value::Null, &RpcError::invalid_request("empty batch"))
        }
        Value::Array(requests) if requests.len() > MAX_BATCH => error::response(
            Value::Null,
            &RpcError::invalid_request(format!("batch of more than {MAX_BATCH} requests")),
        ),
        Value::Array(requests) => {
            let answers: Vec<Value> = requests.into_iter().filter_map(|r| one(host, r)).collect();
            if answers.is_empty() {
                return Ok(Vec::new());
            }
            Value::Array(answers)
        }
        single => match one(host, single) {
            Some(answer) => answer,
            None => return Ok(Vec::new()),
        },
    };
    Ok(out.to_string().into_bytes())
}

/// Answers one request object; `None` for a notification (no `id`).
fn one(host: &(impl ChainHost + ?Sized), request: Value) -> Option<Value> {
    let Value::Object(mut request) = request else {
        return Some(error::response(
            Value::Null,
            &RpcError::invalid_request("a request must be an object"),
        ));
    };
    let id = request.remove("id");
    let respond = |result: Result<Value, RpcError>| {
        let id = id.clone().unwrap_or(Value::Null);
        match result {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err(e) => error::response(id, &e),
        }
    };
    if let Some(id) = &id
        && !(id.is_string() || id.is_number() || id.is_null())
    {
        return Some(error::response(
            Value::Null,
            &RpcError::invalid_request("id must be a string, a number or null"),
        ));
    }
    if request.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(respond(Err(RpcError::invalid_request(
            "jsonrpc must be \"2.0\"",
        ))));
    }
    let Some(Value::String(method)) = request.remove("method") else {
        return Some(respond(Err(RpcError::invalid_request(
            "method must be a string",
        ))));
    };
    let params = match request.remove("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(p)) => p,
        Some(_) => {
            return Some(respond(Err(RpcError::invalid_params(
                "params must be an array",
            ))));
        }
    };
    let result = eth::dispatch(host, &method, params::Params::new(params));
    id.is_some().then(|| respond(result))
}

/// Entry points for the native twin, taking the host as a trait object (so the crate
/// is compiled optimised on its own, whatever the caller's profile).
pub mod native {
    use molt_abi::GuestError;
    use molt_abi::imports::ChainHost;

    /// [`handle`](crate::handle) on a `dyn ChainHost`.
    pub fn handle(host: &dyn ChainHost, body: &[u8]) -> Result<Vec<u8>, GuestError> {
        crate::handle(host, body)
    }
}

molt_abi::export_rpc!(handle);
