//! # molt-host — the molt node
//!
//! The host owns everything that must never be swapped at run time: keys, storage,
//! networking, the command line and the sandbox that runs guest modules. It never
//! interprets what a module decides; a module never touches what the host owns.
//!
//! The crates below it, one way down: `molt-chain` (pool, blocks, propose / verify /
//! commit, replay, upgrades, chain queries) → `molt-runtime` (wasmtime, budgets, one
//! engine shape per kind) and `molt-storage` (sled) → `molt-abi`; `molt-upgrade-proxy`
//! (packages, router, gate budget). This crate wires them into the `molt` binary and
//! is the only one that names the guest crates.
//!
//! Where to start reading:
//! - [`cli`]: the `molt` command; `molt dev` starts a [`node`].
//! - [`node`]: a running node: the chain and its producer, the rpc slot behind HTTP,
//!   the admin API and the upgrade pipeline.
//! - [`builtin`]: the guest modules compiled into the binary and their native twins.
//! - [`http`]: the JSON-RPC HTTP endpoint (hyper).
//! - [`dev_accounts`]: the dev chain's funded, unlocked accounts.
//! - [`statetest`]: the Ethereum GeneralStateTests conformance runner.
//! - [`bench`](mod@bench): `molt bench`, WASM against native and molt against anvil.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod bench;
pub mod builtin;
pub mod check;
pub mod cli;
pub mod dev_accounts;
pub mod http;
pub mod node;
pub mod scaffold;
pub mod statetest;
