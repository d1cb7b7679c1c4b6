//! # molt-host — the molt node
//!
//! The host owns everything that must never be swapped at run time: keys, storage,
//! networking, the command line and the sandbox that runs guest modules. It never
//! interprets what a module decides; a module never touches what the host owns.
//!
//! Where to start reading:
//! - `molt_runtime` (its own crate): wasmtime engines, budgets, WASI without ambient
//!   authority, host imports; load a module, call it.
//! - [`builtin`]: the guest modules compiled into the binary.
//! - [`native`]: the same guests linked natively, for WASM-vs-native comparisons.
//! - `molt_storage` (its own crate): the sled database, state and roots, committed
//!   atomically per block.
//! - [`chain`]: Ethereum blocks (receipts, roots, header) from the execution output.
//! - [`http`]: the JSON-RPC HTTP endpoint (hyper).
//! - [`node`]: a running node (`molt dev`): chain, block producer, the rpc slot behind
//!   HTTP, the admin API that upgrades it.
//! - [`execution`]: runs blocks and calls on the execution module, WASM or native.
//! - [`statetest`]: the Ethereum GeneralStateTests conformance runner.
//! - [`cli`]: the `molt` command.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod bench;
pub mod builtin;
pub mod chain;
pub mod cli;
pub mod consensus;
pub mod dev_accounts;
pub mod execution;
pub mod http;
pub mod native;
pub mod node;
pub mod signer;
pub mod statetest;
