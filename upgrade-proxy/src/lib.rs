//! # molt-upgrade-proxy — signed module packages and the router that serves them
//!
//! This crate owns what makes a `.wasm` file a trustworthy molt module: the package
//! format (a `molt.manifest` and a `molt.signature` custom section), signing and
//! verification with ed25519, and the checks that refuse a module before it can run
//! (unsigned, tampered, unknown signer, wrong kind, unknown ABI, malformed manifest,
//! missing export, forbidden import, downgrade); the [`router`], whose slots serve
//! one version of each module kind and swap versions atomically; the canary's
//! [`watch`]; and the [`budget`] a candidate is held to.
//!
//! It knows nothing of Ethereum and nothing of wasmtime: it reads modules with
//! `wasmparser`, and the host compiles and runs what this crate accepts.
//!
//! Start with [`package::sign`] and [`package::Verifier`]; keys are in [`keys`].

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod budget;
pub mod keys;
pub mod package;
pub mod router;
pub mod watch;
