//! One engine shape for every guest kind: a signed module in wasmtime, or its native
//! twin — the same guest crate linked into the node — handed in by whoever builds the
//! node (this crate depends on no guest).
//!
//! ```text
//!               Engine<Twin>
//!              /            \
//!   Wasm(LoadedModule)    Native(Twin)      Twin = ExecutionTwin | ConsensusTwin | RpcTwin
//!         |                    |                    (the guest crate's entry points)
//!   call_with(entry, bytes)   twin.entry(&NativeHost…, bytes)
//!         \                    /
//!          the same encoded output, or an EngineError
//! ```
//!
//! Each kind's typed calls live in its own file: [`execution`] (blocks and calls),
//! [`consensus`] (propose, validate), [`rpc`] (one JSON-RPC body).

pub mod consensus;
pub mod execution;
pub mod rpc;

use molt_storage::state::StateError;

use crate::error::CallError;
use crate::module::LoadedModule;

/// A guest of one kind, run as WebAssembly or as its native twin `T` (the kind's entry
/// points in the guest crate).
#[derive(Clone, Debug)]
pub enum Engine<T> {
    /// The signed guest module, in wasmtime.
    Wasm(LoadedModule),
    /// The guest crate linked natively.
    Native(T),
}

impl<T> Engine<T> {
    /// The WebAssembly module, unless this is a native twin.
    pub fn wasm(&self) -> Option<&LoadedModule> {
        match self {
            Engine::Wasm(m) => Some(m),
            Engine::Native(_) => None,
        }
    }
}

/// Why a guest could not answer at all (an Ethereum transaction the guest rejects is
/// an answer, not an error).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The WebAssembly call failed (trap, fuel, memory, time, ...).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The native twin refused its input.
    #[error("refused by the module: {0}")]
    Refused(String),
    /// The native twin needed state the host could not read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The module does not export an optional entry point the caller needs.
    #[error("this {kind} module does not export `{entry}`")]
    NotExported {
        /// The module's kind.
        kind: molt_abi::Kind,
        /// The entry point.
        entry: &'static str,
    },
    /// The module's output does not decode.
    #[error("malformed output from the {kind} module: {reason}")]
    Output {
        /// The module's kind.
        kind: molt_abi::Kind,
        /// What is wrong with it.
        reason: String,
    },
}

impl EngineError {
    /// Whether the module itself failed (trapped, ran out of fuel or memory, refused
    /// its input) rather than the host (a state read) or the caller's deadline — the
    /// failure a transaction can cause.
    pub fn is_module_failure(&self) -> bool {
        !matches!(
            self,
            EngineError::Call(CallError::State(_) | CallError::Timeout { .. })
                | EngineError::State(_)
        )
    }

    /// Whether the call was interrupted at its deadline.
    pub fn is_timeout(&self) -> bool {
        matches!(self, EngineError::Call(CallError::Timeout { .. }))
    }

    fn output(kind: molt_abi::Kind, e: impl std::fmt::Display) -> Self {
        EngineError::Output {
            kind,
            reason: e.to_string(),
        }
    }
}
