//! Positional JSON-RPC parameters, decoded with serde into alloy's types.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::RpcError;

/// A request's `params` array.
#[derive(Debug)]
pub struct Params(Vec<Value>);

impl Params {
    /// Wraps the array.
    pub fn new(values: Vec<Value>) -> Self {
        Params(values)
    }

    /// Refuses more than `n` parameters.
    pub fn at_most(&self, n: usize) -> Result<(), RpcError> {
        if self.0.len() > n {
            return Err(RpcError::invalid_params(format!(
                "too many arguments, want at most {n}"
            )));
        }
        Ok(())
    }

    /// Parameter `i`, which must be present.
    pub fn required<T: DeserializeOwned>(&self, i: usize) -> Result<T, RpcError> {
        self.optional(i)?.ok_or_else(|| {
            RpcError::invalid_params(format!("missing value for required argument {i}"))
        })
    }

    /// Parameter `i`, or `None` if absent or null.
    pub fn optional<T: DeserializeOwned>(&self, i: usize) -> Result<Option<T>, RpcError> {
        match self.0.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| RpcError::invalid_params(format!("argument {i}: {e}"))),
        }
    }
}
