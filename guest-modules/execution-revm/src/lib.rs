//! # molt-execution-revm — the `execution` guest
//!
//! revm executes Ethereum blocks and calls. The crate builds as a `wasm32-wasip1`
//! module (the node's `execution` slot) and as a native library (its twin, for
//! WASM-vs-native measurements and `--engine native`). Both run exactly this code.
//!
//! It owns the mapping between ABI v1's execution payloads
//! ([`molt_abi::execution`]) and revm: decoding EIP-2718 transactions, configuring
//! the fork, executing, turning revm's verdicts into receipts, rejections and a state
//! diff. It reads state only through [`molt_abi::imports::StateHost`] and keeps no
//! state between calls. revm's types stay inside this crate; they never reach the ABI.
//!
//! Entry points: [`execute_block`] (`molt_execute_block`), [`execute_call`]
//! (`molt_execute_call`) and [`execute_trace`] (`molt_execute_trace`).

mod arith;
mod block;
mod call;
#[cfg(target_arch = "wasm32")]
mod crypto;
mod db;
mod dispatch;
mod env;
mod trace;
mod tx;

pub use block::execute_block;
pub use call::execute_call;
pub use trace::execute_trace;

/// revm's EVM memory is a `Vec` that doubles as a contract touches more of it; without
/// this, linear memory would end near twice the live heap (see [`molt_abi::heap`]).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: molt_abi::heap::GrowInPlace<std::alloc::System> =
    molt_abi::heap::GrowInPlace(std::alloc::System);

#[cfg(target_arch = "wasm32")]
fn wasm_execute_block(
    host: &molt_abi::guest::WasmHost,
    input: &[u8],
) -> Result<Vec<u8>, molt_abi::GuestError> {
    crypto::install();
    execute_block(host, input)
}

#[cfg(target_arch = "wasm32")]
fn wasm_execute_call(
    host: &molt_abi::guest::WasmHost,
    input: &[u8],
) -> Result<Vec<u8>, molt_abi::GuestError> {
    crypto::install();
    execute_call(host, input)
}

#[cfg(target_arch = "wasm32")]
fn wasm_execute_trace(
    host: &molt_abi::guest::WasmHost,
    input: &[u8],
) -> Result<Vec<u8>, molt_abi::GuestError> {
    crypto::install();
    execute_trace(host, input)
}

molt_abi::export_execution!(wasm_execute_block, wasm_execute_call, wasm_execute_trace);

/// Entry points for the native twin, taking the host as a trait object.
///
/// They are not generic, so revm is compiled (and optimised) as part of this crate
/// rather than in whichever crate calls them — a host built without optimisation
/// still runs the twin at full speed.
pub mod native {
    use molt_abi::GuestError;
    use molt_abi::imports::StateHost;

    /// [`execute_block`](crate::execute_block) on a `dyn StateHost`.
    pub fn execute_block(host: &dyn StateHost, input: &[u8]) -> Result<Vec<u8>, GuestError> {
        crate::execute_block(host, input)
    }

    /// [`execute_call`](crate::execute_call) on a `dyn StateHost`.
    pub fn execute_call(host: &dyn StateHost, input: &[u8]) -> Result<Vec<u8>, GuestError> {
        crate::execute_call(host, input)
    }

    /// [`execute_trace`](crate::execute_trace) on a `dyn StateHost`.
    pub fn execute_trace(host: &dyn StateHost, input: &[u8]) -> Result<Vec<u8>, GuestError> {
        crate::execute_trace(host, input)
    }
}
