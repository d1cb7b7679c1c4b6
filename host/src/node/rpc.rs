//! The `rpc` slot as the HTTP server's handler: each request body is one call of the
//! rpc module (WebAssembly or its native twin), with the node's chain queries.

use std::sync::Arc;

use crate::http::{RpcHandler, error_body};
use crate::native::NativeChainHost;
use crate::runtime::{CallContext, LoadedModule};
use crate::services::ChainService;

/// Which engine answers JSON-RPC.
#[derive(Clone, Debug)]
pub enum RpcEngine {
    /// The signed `rpc` module, in wasmtime.
    Wasm(LoadedModule),
    /// `molt-rpc-eth` linked natively.
    Native,
}

/// The rpc module with the chain it queries.
pub struct RpcModule {
    engine: RpcEngine,
    chain: Arc<dyn ChainService>,
}

impl RpcModule {
    /// `engine` answering with `chain`'s data.
    pub fn new(engine: RpcEngine, chain: Arc<dyn ChainService>) -> Self {
        RpcModule { engine, chain }
    }
}

impl RpcHandler for RpcModule {
    fn handle(&self, body: &[u8]) -> Vec<u8> {
        let result = match &self.engine {
            RpcEngine::Wasm(module) => module
                .call_with(
                    "molt_rpc_handle",
                    body,
                    CallContext::Chain(self.chain.clone()),
                )
                .map(|(out, _)| out)
                .map_err(|e| e.to_string()),
            RpcEngine::Native => {
                let host = NativeChainHost::new("rpc-eth", self.chain.as_ref());
                molt_rpc_eth::native::handle(&host, body).map_err(|e| e.to_string())
            }
        };
        result.unwrap_or_else(|e| {
            tracing::warn!("rpc module failed: {e}");
            error_body(-32603, &format!("internal error: {e}"))
        })
    }
}
