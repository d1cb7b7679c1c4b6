//! # molt-echo — a tiny `rpc` guest that exercises ABI v1 from Rust
//!
//! It answers JSON-RPC 2.0 requests (single or batch) and exists to test and measure
//! the host: it echoes, hashes through the host's `keccak256` import, logs through
//! `log`, and spins on pure integer work so the same function can be timed as
//! WebAssembly and natively. It owns no state and must not grow Ethereum logic; the
//! real `rpc` module lives in `guest-modules/rpc-eth`.
//!
//! Methods:
//! - `web3_clientVersion` → `"molt-echo/<version>"`
//! - `molt_echo` → the request's `params`, unchanged
//! - `molt_keccak` `[hex]` → keccak-256 of the bytes, computed by the host
//! - `molt_spin` `[rounds]` → a 64-bit checksum of `rounds` rounds of integer mixing
//! - `molt_logLoop` `[n]` → calls the host's `log` at trace level `n` times, returns `n`
//! - `molt_refuse` → refuses the call (an ABI-level error, not a JSON-RPC error)

use molt_abi::GuestError;
use molt_abi::imports::{Host, Level};
use serde_json::{Value, json};

/// The version reported by `web3_clientVersion`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Handles one JSON-RPC body. This is the module's `molt_rpc_handle`.
pub fn handle(host: &impl Host, body: &[u8]) -> Result<Vec<u8>, GuestError> {
    let response = match serde_json::from_slice::<Value>(body) {
        Err(e) => error(Value::Null, -32700, &format!("parse error: {e}")),
        Ok(Value::Array(batch)) if batch.is_empty() => error(Value::Null, -32600, "empty batch"),
        Ok(Value::Array(batch)) => Value::Array(
            batch
                .into_iter()
                .map(|req| one(host, req))
                .collect::<Result<_, _>>()?,
        ),
        Ok(req) => one(host, req)?,
    };
    serde_json::to_vec(&response).map_err(|e| GuestError::new(e.to_string()))
}

fn one(host: &impl Host, req: Value) -> Result<Value, GuestError> {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = req.get("method").and_then(Value::as_str) else {
        return Ok(error(id, -32600, "invalid request: no method"));
    };
    let params = req.get("params").cloned().unwrap_or(Value::Null);
    let arg_u64 = || params.get(0).and_then(Value::as_u64);
    let result = match method {
        "web3_clientVersion" => json!(format!("molt-echo/{VERSION}")),
        "molt_echo" => params.clone(),
        "molt_keccak" => {
            let Some(bytes) = params.get(0).and_then(Value::as_str).and_then(from_hex) else {
                return Ok(error(id, -32602, "expected one hex string"));
            };
            json!(to_hex(&host.keccak256(&bytes)))
        }
        "molt_spin" => match arg_u64() {
            Some(rounds) => json!(spin(rounds)),
            None => return Ok(error(id, -32602, "expected a round count")),
        },
        "molt_logLoop" => match arg_u64() {
            Some(n) => {
                for _ in 0..n {
                    host.log(Level::Trace, "molt_logLoop");
                }
                json!(n)
            }
            None => return Ok(error(id, -32602, "expected a count")),
        },
        "molt_refuse" => return Err(GuestError::new("refused on request")),
        other => return Ok(error(id, -32601, &format!("method not found: {other}"))),
    };
    Ok(json!({ "jsonrpc": "2.0", "id": id, "result": result }))
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// Pure integer work: `rounds` rounds of xorshift and multiply, folded to a checksum.
pub fn spin(rounds: u64) -> u64 {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut acc: u64 = 0;
    for i in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc = acc.wrapping_add(x.wrapping_mul(i | 1)).rotate_left(5);
    }
    acc
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

molt_abi::export_rpc!(handle);

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A host for tests: counts log lines, fakes keccak with a recognisable pattern.
    #[derive(Default)]
    struct FakeHost {
        logs: Cell<u64>,
    }

    impl Host for FakeHost {
        fn log(&self, _: Level, _: &str) {
            self.logs.set(self.logs.get() + 1);
        }
        fn keccak256(&self, data: &[u8]) -> [u8; 32] {
            [data.len() as u8; 32]
        }
        fn secp256k1_recover(&self, _: &[u8; 32], _: &[u8; 64], _: u8) -> Option<[u8; 20]> {
            None
        }
        fn ed25519_verify(&self, _: &[u8], _: &[u8; 64], _: &[u8; 32]) -> bool {
            false
        }
    }

    fn call(host: &FakeHost, body: &str) -> Value {
        let out = handle(host, body.as_bytes()).expect("handled");
        serde_json::from_slice(&out).expect("json")
    }

    #[test]
    fn answers_single_and_batch_requests() {
        let host = FakeHost::default();
        let v = call(
            &host,
            r#"{"jsonrpc":"2.0","id":7,"method":"molt_echo","params":[1,"a"]}"#,
        );
        assert_eq!(v, json!({"jsonrpc":"2.0","id":7,"result":[1,"a"]}));
        let v = call(
            &host,
            r#"[{"id":1,"method":"molt_logLoop","params":[3]},{"id":2,"method":"nope"}]"#,
        );
        assert_eq!(v[0]["result"], json!(3));
        assert_eq!(v[1]["error"]["code"], json!(-32601));
        assert_eq!(host.logs.get(), 3);
    }

    #[test]
    fn reports_json_rpc_errors() {
        let host = FakeHost::default();
        assert_eq!(call(&host, "{oops")["error"]["code"], json!(-32700));
        assert_eq!(call(&host, "[]")["error"]["code"], json!(-32600));
        let v = call(
            &host,
            r#"{"id":1,"method":"molt_keccak","params":["0xabc"]}"#,
        );
        assert_eq!(v["error"]["code"], json!(-32602));
        let v = call(
            &host,
            r#"{"id":1,"method":"molt_keccak","params":["0xabcd"]}"#,
        );
        assert_eq!(v["result"], json!(format!("0x{}", "02".repeat(32))));
    }

    #[test]
    fn refusal_is_an_abi_error() {
        let host = FakeHost::default();
        let err = handle(&host, br#"{"id":1,"method":"molt_refuse"}"#).unwrap_err();
        assert_eq!(err, GuestError::new("refused on request"));
    }

    #[test]
    fn spin_depends_on_every_round() {
        assert_ne!(spin(1000), spin(1001));
        assert_eq!(spin(0), 0);
    }
}
