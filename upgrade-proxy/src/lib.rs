//! # molt-upgrade-proxy — signed module packages and the router that serves them
//!
//! This crate owns what makes a `.wasm` file a trustworthy molt module: the package
//! format (a `molt.manifest` and a `molt.signature` custom section), signing and
//! verification with ed25519, and the checks that refuse a module before it can run
//! (unsigned, tampered, unknown signer, wrong kind, unknown ABI, malformed manifest,
//! missing export, forbidden import, downgrade); the [`router`], whose slots serve
//! one version of each module kind and swap versions atomically; the canary's
//! [`watch`]; and the generic parts of the upgrade [`pipeline`]: its phases, the one
//! [`Refusal`](refusal::Refusal) type, the [`budget`] a candidate is held to, the
//! [`shadow`] traffic a gate replays, the [`registry`] of packages on disk, and the
//! [`audit`] log and [`metrics`] every operation writes through one
//! [`Ledger`](pipeline::Ledger).
//!
//! It knows nothing of Ethereum and nothing of wasmtime: it reads modules with
//! `wasmparser`, and the node compiles and runs what this crate accepts, and decides
//! what "the same output" means for each kind.
//!
//! Start with [`package::sign`] and [`package::Verifier`]; keys are in [`keys`]; then
//! [`router::Slot`] and [`pipeline`].

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod audit;
pub mod budget;
pub mod gate;
pub mod keys;
pub mod metrics;
pub mod package;
pub mod pipeline;
pub mod refusal;
pub mod registry;
pub mod router;
pub mod shadow;
pub mod watch;
