//! The `execution` kind: blocks and calls on the execution module, as WebAssembly or
//! natively.
//!
//! [`Executor`] hides which engine runs: the loaded guest module, or its native twin.
//! Both take the same encoded input and give the same encoded output, which is what
//! the WASM-vs-native tests and benches compare. State reads go to the
//! [`StateView`] each call is given.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Bytes;
use molt_abi::execution::{self, BlockInput, BlockOutput, CallInput, CallOutput, TraceInput};
use molt_abi::imports::StateHost;
use molt_abi::{GuestError, Kind};

use super::{Engine, EngineError};
use crate::module::CallStats;
use crate::native::NativeStateHost;
use molt_storage::state::StateView;

/// A native entry point of the `execution` kind.
pub type StateEntry = fn(&dyn StateHost, &[u8]) -> Result<Vec<u8>, GuestError>;

/// The entry points of an execution guest crate linked natively.
#[derive(Clone, Copy, Debug)]
pub struct ExecutionTwin {
    /// The module's name, for its log lines.
    pub name: &'static str,
    /// `molt_execute_block`.
    pub execute_block: StateEntry,
    /// `molt_execute_call`.
    pub execute_call: StateEntry,
    /// `molt_execute_trace`, if the crate has it.
    pub execute_trace: Option<StateEntry>,
}

/// Which engine runs the execution logic.
pub type Executor = Engine<ExecutionTwin>;

impl Executor {
    /// Runs `molt_execute_block` on encoded input; returns the encoded output and, for
    /// WebAssembly, the call's figures.
    pub fn execute_block_raw(
        &self,
        state: Arc<dyn StateView>,
        input: &[u8],
    ) -> Result<(Vec<u8>, Option<CallStats>), EngineError> {
        self.run(
            "molt_execute_block",
            |t| Some(t.execute_block),
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
    ) -> Result<BlockOutput, EngineError> {
        let (out, _) = self.execute_block_raw(state, &execution::encode(input))?;
        execution::decode(&out).map_err(|e| EngineError::output(Kind::Execution, e))
    }

    /// Runs a call (no commit).
    pub fn execute_call(
        &self,
        state: Arc<dyn StateView>,
        input: &CallInput,
    ) -> Result<CallOutput, EngineError> {
        self.execute_call_until(state, input, None)
    }

    /// Runs a call, interrupted after `timeout` ([`CallError::Timeout`](crate::CallError::Timeout)).
    /// In WebAssembly the module is interrupted where it is; the native twin cannot
    /// be, and runs to the end of its gas.
    pub fn execute_call_until(
        &self,
        state: Arc<dyn StateView>,
        input: &CallInput,
        timeout: Option<Duration>,
    ) -> Result<CallOutput, EngineError> {
        let (out, _) = self.run(
            "molt_execute_call",
            |t| Some(t.execute_call),
            state,
            &execution::encode(input),
            timeout,
        )?;
        execution::decode(&out).map_err(|e| EngineError::output(Kind::Execution, e))
    }

    /// Runs `molt_execute_trace`: one JSON trace per traced transaction or message,
    /// interrupted after `timeout` like [`execute_call_until`](Self::execute_call_until).
    /// [`EngineError::NotExported`] if the module does not trace.
    pub fn execute_trace(
        &self,
        state: Arc<dyn StateView>,
        input: &TraceInput,
        timeout: Option<Duration>,
    ) -> Result<Vec<Bytes>, EngineError> {
        let (out, _) = self.run(
            "molt_execute_trace",
            |t| t.execute_trace,
            state,
            &execution::encode(input),
            timeout,
        )?;
        execution::decode(&out).map_err(|e| EngineError::output(Kind::Execution, e))
    }

    fn run(
        &self,
        entry: &'static str,
        native: fn(&ExecutionTwin) -> Option<StateEntry>,
        state: Arc<dyn StateView>,
        input: &[u8],
        timeout: Option<Duration>,
    ) -> Result<(Vec<u8>, Option<CallStats>), EngineError> {
        let missing = || EngineError::NotExported {
            kind: Kind::Execution,
            entry,
        };
        match self {
            Engine::Wasm(module) if !module.exports(entry) => Err(missing()),
            Engine::Wasm(module) => {
                let (out, stats) = match timeout {
                    None => module.call_with_state(entry, input, Some(state))?,
                    Some(timeout) => {
                        module.call_interruptible(entry, input, Some(state).into(), timeout)?
                    }
                };
                Ok((out, Some(stats)))
            }
            Engine::Native(twin) => {
                let run = native(twin).ok_or_else(missing)?;
                let host = NativeStateHost::new(twin.name, state.as_ref());
                let out = run(&host, input);
                if let Some(e) = host.take_error() {
                    return Err(EngineError::State(e));
                }
                Ok((out.map_err(|e| EngineError::Refused(e.0))?, None))
            }
        }
    }
}
