//! Running blocks and calls on the `execution` module, as WebAssembly or natively.
//!
//! [`Executor`] hides which engine runs: the loaded guest module, or its native twin
//! linked into the host. Both take the same encoded input and give the same encoded
//! output, which is what the WASM-vs-native tests and benches compare.

use std::sync::Arc;
use std::time::Duration;

use molt_abi::GuestError;
use molt_abi::execution::{self, BlockInput, BlockOutput, CallInput, CallOutput};

use crate::native::NativeStateHost;
use molt_runtime::{CallError, CallStats, LoadedModule};
use molt_storage::state::{StateError, StateView};

/// Why a block or call could not be executed at all (individual transactions are
/// rejected inside a successful [`BlockOutput`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The WebAssembly call failed (trap, fuel, memory, ...).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The native twin refused its input.
    #[error("refused by the module: {0}")]
    Refused(String),
    /// The native twin needed state the host could not read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The module's output does not decode.
    #[error("malformed output from the execution module: {0}")]
    Output(String),
}

impl ExecError {
    /// Whether the module itself failed (trapped, ran out of fuel or memory, refused
    /// its input) rather than the host (a state read) — the failure a transaction can
    /// cause.
    pub fn is_module_failure(&self) -> bool {
        !matches!(
            self,
            ExecError::Call(CallError::State(_) | CallError::Timeout { .. }) | ExecError::State(_)
        )
    }
}

/// Which engine runs the execution logic.
#[derive(Clone, Debug)]
pub enum Executor {
    /// The signed guest module, in wasmtime.
    Wasm(LoadedModule),
    /// The guest crate linked natively.
    Native,
}

/// The name native-twin log lines carry.
const NATIVE_NAME: &str = "execution-revm";

impl Executor {
    /// Runs `molt_execute_block` on encoded input; returns the encoded output and, for
    /// WebAssembly, the call's figures.
    pub fn execute_block_raw(
        &self,
        state: Arc<dyn StateView>,
        input: &[u8],
    ) -> Result<(Vec<u8>, Option<CallStats>), ExecError> {
        self.run(
            "molt_execute_block",
            |h, i| molt_execution_revm::native::execute_block(h, i),
            state,
            input,
            None,
        )
    }

    /// Runs a block.
    pub fn execute_block(
        &self,
        state: Arc<dyn StateView>,
        input: &BlockInput,
    ) -> Result<BlockOutput, ExecError> {
        let (out, _) = self.execute_block_raw(state, &execution::encode(input))?;
        execution::decode(&out).map_err(|e| ExecError::Output(e.to_string()))
    }

    /// Runs a call (no commit).
    pub fn execute_call(
        &self,
        state: Arc<dyn StateView>,
        input: &CallInput,
    ) -> Result<CallOutput, ExecError> {
        self.execute_call_until(state, input, None)
    }

    /// Runs a call, interrupted after `timeout` ([`CallError::Timeout`]). In
    /// WebAssembly the module is interrupted where it is; the native twin cannot be,
    /// and runs to the end of its gas.
    pub fn execute_call_until(
        &self,
        state: Arc<dyn StateView>,
        input: &CallInput,
        timeout: Option<Duration>,
    ) -> Result<CallOutput, ExecError> {
        let (out, _) = self.run(
            "molt_execute_call",
            |h, i| molt_execution_revm::native::execute_call(h, i),
            state,
            &execution::encode(input),
            timeout,
        )?;
        execution::decode(&out).map_err(|e| ExecError::Output(e.to_string()))
    }

    fn run(
        &self,
        entry: &str,
        native: impl Fn(&NativeStateHost<'_>, &[u8]) -> Result<Vec<u8>, GuestError>,
        state: Arc<dyn StateView>,
        input: &[u8],
        timeout: Option<Duration>,
    ) -> Result<(Vec<u8>, Option<CallStats>), ExecError> {
        match self {
            Executor::Wasm(module) => {
                let (out, stats) = match timeout {
                    None => module.call_with_state(entry, input, Some(state))?,
                    Some(timeout) => {
                        module.call_interruptible(entry, input, Some(state).into(), timeout)?
                    }
                };
                Ok((out, Some(stats)))
            }
            Executor::Native => {
                let host = NativeStateHost::new(NATIVE_NAME, state.as_ref());
                let out = native(&host, input);
                if let Some(e) = host.take_error() {
                    return Err(ExecError::State(e));
                }
                Ok((out.map_err(|e| ExecError::Refused(e.0))?, None))
            }
        }
    }
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
