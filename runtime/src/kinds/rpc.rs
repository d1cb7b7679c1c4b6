//! The `rpc` kind: one JSON-RPC body answered by the rpc module, as WebAssembly or
//! natively, with the node's chain queries behind it.

use std::sync::Arc;

use molt_abi::GuestError;
use molt_abi::imports::ChainHost;

use super::{Engine, EngineError};
use crate::module::CallStats;
use crate::native::NativeChainHost;
use crate::services::ChainService;
use crate::store::CallContext;

/// The native entry point of the `rpc` kind.
pub type Entry = fn(&dyn ChainHost, &[u8]) -> Result<Vec<u8>, GuestError>;

/// The entry point of an rpc guest crate linked natively.
#[derive(Clone, Copy, Debug)]
pub struct RpcTwin {
    /// The module's name, for its log lines.
    pub name: &'static str,
    /// `molt_rpc_handle`.
    pub handle: Entry,
}

/// Which engine answers JSON-RPC.
pub type RpcEngine = Engine<RpcTwin>;

impl RpcEngine {
    /// Answers one body with `chain`'s data; for WebAssembly, with the call's figures.
    pub fn call(
        &self,
        chain: &Arc<dyn ChainService>,
        body: &[u8],
    ) -> Result<(Vec<u8>, Option<CallStats>), EngineError> {
        match self {
            Engine::Wasm(module) => module
                .call_with("molt_rpc_handle", body, CallContext::Chain(chain.clone()))
                .map(|(out, stats)| (out, Some(stats)))
                .map_err(EngineError::from),
            Engine::Native(twin) => {
                let host = NativeChainHost::new(twin.name, chain.as_ref());
                (twin.handle)(&host, body)
                    .map(|out| (out, None))
                    .map_err(|e| EngineError::Refused(e.0))
            }
        }
    }
}
