//! # molt-runtime — the sandbox that runs guest modules
//!
//! wasmtime engines, the compiled-module cache, budgets, WASI without ambient
//! authority, and the host imports of every kind.
//!
//! [`Runtime::load`] compiles (or finds in the cache) a module, checks it against the
//! ABI for its kind, and returns a [`LoadedModule`]. Every [`LoadedModule::call`] runs in
//! a fresh instance (the pooling allocator makes that cheap), so a call that traps,
//! runs out of fuel or time, or exceeds its memory fails alone with a [`CallError`]
//! and the next call starts clean. What an import does for the guest is in
//! [`services`], shared with the native twins ([`native`]).
//!
//! [`Engine`] is the one shape every kind runs in — a [`LoadedModule`] or the kind's
//! native twin, whose entry points the caller hands in (this crate depends on no
//! guest crate) — with the typed calls of each kind: [`Executor`], [`Consensus`],
//! [`RpcEngine`].
//!
//! Every call is counted per module version in [`Runtime::metrics`] ([`metrics`]),
//! runs in a `guest` tracing span naming its slot, module and version, and passes
//! through the faults [`Runtime::chaos`] injects, if any ([`chaos`]).
//!
//! This crate owns execution of guest code; it does not decide which module to run
//! (the router does), whether a module is trusted (`molt-upgrade-proxy` does), nor
//! what the chain is (the host serves a [`services::ChainService`] and a
//! [`StateView`]). Start at [`Runtime::load`], then
//! [`LoadedModule::call_with`].

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

mod cache;
mod engine;
mod error;
mod imports;
mod limits;
mod module;
mod runtime;
mod soak;
mod store;
mod wasi;

pub mod chaos;
pub mod kinds;
pub mod metrics;
pub mod native;
pub mod services;

#[cfg(test)]
mod tests;

pub use cache::CacheHit;
pub use engine::{EPOCH_TICK, Metering};
pub use error::{CallError, LoadError};
pub use imports::GuestFault;
pub use kinds::consensus::{Consensus, ConsensusTwin};
pub use kinds::execution::{ExecutionTwin, Executor};
pub use kinds::rpc::{RpcEngine, RpcTwin};
pub use kinds::{Engine, EngineError};
pub use limits::MemoryLimitExceeded;
pub use metrics::ModuleMetrics;
pub use module::{CallStats, LoadedModule};
pub use molt_storage::state::StateView;
pub use runtime::{Runtime, RuntimeConfig, probe_abi_version};
pub use soak::Soak;
pub use store::{CallContext, StoreData};
pub use wasi::{GUEST_DIR, Grants};
