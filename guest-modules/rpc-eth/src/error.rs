//! JSON-RPC errors: codes, messages and the error response object.

use serde_json::{Value, json};

/// A JSON-RPC error: code, message and optional data.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcError {
    /// The code (-32700 … -32000, or 3 for a revert).
    pub code: i64,
    /// The message.
    pub message: String,
    /// Extra data: the revert data of a reverted call.
    pub data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// -32700: the body is not JSON.
    pub fn parse(detail: String) -> Self {
        Self::new(-32700, format!("parse error: {detail}"))
    }

    /// -32600: JSON, but not a JSON-RPC request.
    pub fn invalid_request(detail: impl core::fmt::Display) -> Self {
        Self::new(-32600, format!("invalid request: {detail}"))
    }

    /// -32601: no such method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            -32601,
            format!("the method {method} does not exist/is not available"),
        )
    }

    /// -32602: the parameters do not fit the method.
    pub fn invalid_params(detail: impl core::fmt::Display) -> Self {
        Self::new(-32602, format!("invalid params: {detail}"))
    }

    /// -32000: the node refuses or cannot serve the request.
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(-32000, message)
    }

    /// -32603: the node failed (a host/module mismatch, not the client's fault).
    pub fn internal(message: impl core::fmt::Display) -> Self {
        Self::new(-32603, format!("internal error: {message}"))
    }

    /// 3: the call reverted; `data` is the revert data, decoded into the message when
    /// it is an `Error(string)`.
    pub fn reverted(output: &[u8]) -> Self {
        let message = match revert_reason(output) {
            Some(reason) => format!("execution reverted: {reason}"),
            None => "execution reverted".to_string(),
        };
        RpcError {
            code: 3,
            message,
            data: Some(Value::String(format!("0x{}", hex(output)))),
        }
    }
}

impl From<molt_abi::rpc::QueryError> for RpcError {
    fn from(e: molt_abi::rpc::QueryError) -> Self {
        match e {
            molt_abi::rpc::QueryError::Node(m) => RpcError::server(m),
            e @ molt_abi::rpc::QueryError::Decode(_) => RpcError::internal(e),
        }
    }
}

/// The error response for request `id`.
pub fn response(id: Value, e: &RpcError) -> Value {
    let mut error = json!({ "code": e.code, "message": e.message });
    if let Some(data) = &e.data {
        error["data"] = data.clone();
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

fn hex(bytes: &[u8]) -> String {
    alloy_primitives::hex::encode(bytes)
}

/// The string of a Solidity `Error(string)` revert, if `output` is one.
fn revert_reason(output: &[u8]) -> Option<String> {
    const SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    let body = output.strip_prefix(&SELECTOR)?;
    let word = |i: usize| -> Option<usize> {
        let w = body.get(i * 32..(i + 1) * 32)?;
        if w[..24].iter().any(|b| *b != 0) {
            return None;
        }
        Some(u64::from_be_bytes(w[24..].try_into().ok()?) as usize)
    };
    let offset = word(0)?;
    let len_word = body.get(offset..offset + 32)?;
    if len_word[..24].iter().any(|b| *b != 0) {
        return None;
    }
    let len = u64::from_be_bytes(len_word[24..].try_into().ok()?) as usize;
    let start = offset + 32;
    let text = body.get(start..start.checked_add(len)?)?;
    String::from_utf8(text.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_error_string_reverts() {
        // Error("insufficient balance")
        let data = alloy_primitives::hex::decode(
            "08c379a0\
             0000000000000000000000000000000000000000000000000000000000000020\
             0000000000000000000000000000000000000000000000000000000000000014\
             696e73756666696369656e742062616c616e6365000000000000000000000000",
        )
        .unwrap();
        let e = RpcError::reverted(&data);
        assert_eq!(e.code, 3);
        assert_eq!(e.message, "execution reverted: insufficient balance");
        assert_eq!(e.data, Some(Value::String(format!("0x{}", hex(&data)))));
        assert_eq!(RpcError::reverted(&[]).message, "execution reverted");
        assert_eq!(
            RpcError::reverted(&[0x08, 0xc3]).message,
            "execution reverted"
        );
    }
}
