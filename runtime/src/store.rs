//! What each guest store carries: the module's name, its WASI context, its memory
//! limiter, and what the kind's imports serve during this call.

use std::sync::Arc;

use molt_storage::state::StateView;

use crate::limits::Limiter;
use crate::services::ChainService;

/// The state each guest store carries.
pub struct StoreData {
    /// The module's name, for log lines.
    pub module: Arc<str>,
    pub(crate) wasi: wasi_common::WasiCtx,
    pub(crate) limiter: Limiter,
    pub(crate) context: CallContext,
    /// The last `molt.chain` response, until `molt.chain_read` copies it out.
    pub(crate) chain_response: Vec<u8>,
    /// The last `molt.precompile` answer, until `molt.precompile_read` copies it out.
    pub(crate) precompile_answer: Vec<u8>,
    /// The runtime's injected faults, and the module version they are looked up by.
    pub(crate) chaos: (Arc<crate::chaos::Chaos>, Arc<crate::metrics::ModuleLabels>),
}

/// What a call's kind-specific imports serve.
#[derive(Clone, Default)]
pub enum CallContext {
    /// Nothing: only the common imports work.
    #[default]
    None,
    /// The `execution` kind's state reads.
    State(Arc<dyn StateView>),
    /// The `rpc` kind's chain queries.
    Chain(Arc<dyn ChainService>),
}

impl From<Option<Arc<dyn StateView>>> for CallContext {
    fn from(state: Option<Arc<dyn StateView>>) -> Self {
        state.map_or(CallContext::None, CallContext::State)
    }
}
