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
//! Entry points: [`execute_block`] (`molt_execute_block`) and [`execute_call`]
//! (`molt_execute_call`).

mod block;
mod call;
mod db;
mod env;
mod tx;

pub use block::execute_block;
pub use call::execute_call;

molt_abi::export_execution!(execute_block, execute_call);
