//! # molt-chain — the chain a node keeps
//!
//! This crate owns the Ethereum chain as the host sees it: the transaction pool, block
//! building from the execution module's output, the phases that put a block on the
//! chain (propose, verify, commit), re-running history, the on-chain schedule of
//! module upgrades, and the answers to the chain queries rpc modules ask.
//!
//! ```text
//!  rpc module ──chain query──▶ Queries ──▶ Chain::submit ──▶ Pool ──▶ wake ──▶ Producer
//!                                 │                                          │
//!                                 └─▶ reads: Db (headers, receipts, state)    ▼
//!                                                       Chain::tick: consensus module selects
//!                                                                            │
//!    a block from elsewhere ──▶ Chain::verify ─┐                Chain::propose (execution module)
//!                                              ▼                             │
//!                                  kept by hash on the head ◀────────────────┘
//!                                              │
//!                              Chain::commit(hash, Finality) ──▶ Db (one batch, flushed)
//!                                              │
//!                              upgrade announcements ──▶ Schedule ──▶ ModuleStore
//! ```
//!
//! It must not touch: how modules are run (`molt-runtime`: it is handed an
//! [`Executor`](molt_runtime::Executor) and a [`Consensus`](molt_runtime::Consensus)),
//! how bytes are stored (`molt-storage`), which packages are trusted or how files are
//! kept (the node's [`ModuleStore`](upgrades::ModuleStore)), HTTP or the command line.
//! It depends on no guest crate: its tests that need a real EVM run in the `molt`
//! binary's crate, where the built-in guests are (`host/src/builtin/tests`).
//!
//! Where to start reading: [`Chain`] ([`chain`]), then [`phases`] (propose, verify,
//! commit), [`pool`], [`queries`] and [`upgrades`]; [`events`] tells listeners of new
//! heads and pooled transactions, [`filters`] keeps the JSON-RPC filters modules
//! install, [`trace`] has blocks and messages traced by the execution module, and
//! [`metrics`] times the phases for Prometheus.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod announce;
pub mod block;
pub mod chain;
pub mod clock;
pub mod dev;
pub mod error;
pub mod events;
pub mod filters;
pub mod metrics;
pub mod phases;
pub mod pool;
pub mod producer;
pub mod queries;
pub mod replay;
pub mod signer;
mod sync;
pub mod trace;
pub mod upgrades;
pub mod wake;

pub use block::Finality;
pub use chain::{CallLimits, Chain, ChainConfig, CommitFault, Modules};
pub use error::{ChainError, InvalidBlock};
pub use events::{ChainEvent, Events};
