//! # molt-abi — the contract between the molt host and its guest modules (ABI v1)
//!
//! This crate owns everything both sides of the WebAssembly boundary must agree on,
//! and nothing else: the module [`Kind`]s, the [`Manifest`] a module carries, the
//! exports each kind must provide and the imports it may use ([`interface`]), how
//! results cross the boundary ([`envelope`]), and the host services a guest may call
//! ([`imports::Host`]), and the shape of the payloads of each kind ([`execution`],
//! [`consensus`], [`rpc`]).
//! It is `no_std` + `alloc`, depending only on `alloy-rlp` and `alloy-primitives`, so
//! that any guest can use it. It must not know about wasmtime, storage or networking,
//! nor implement Ethereum semantics: those belong to the host and to the modules.
//!
//! The language-neutral specification is `abi/ABI.md`; a C, AssemblyScript or WAT
//! author reads that instead of this crate.
//!
//! ## Writing a Rust guest
//!
//! Enable the `guest` feature, write your logic against the [`imports::Host`] trait so
//! the same code runs natively (the "native twin") and as WebAssembly, and let a macro
//! generate the exports — no `unsafe` in your crate:
//!
//! ```ignore
//! use molt_abi::imports::Host;
//!
//! pub fn handle(host: &impl Host, request: &[u8]) -> Result<Vec<u8>, molt_abi::GuestError> {
//!     host.log(molt_abi::imports::Level::Info, "hello from a guest");
//!     Ok(request.to_vec())
//! }
//!
//! molt_abi::export_rpc!(handle);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip1` as a `cdylib`, then sign it with
//! `molt module sign`.
//!
//! ## Cargo features
//!
//! - `guest`: safe bindings to the host imports for `wasm32` targets and the
//!   `export_*!` macros that generate a module's exports, and [`heap::GrowInPlace`],
//!   an allocator wrapper that keeps doubling buffers from leaving holes in linear
//!   memory.

#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod consensus;
pub mod envelope;
pub mod execution;
pub mod imports;
pub mod interface;
pub mod kind;
pub mod manifest;
pub mod rpc;

#[cfg(feature = "guest")]
pub mod guest;
#[cfg(feature = "guest")]
pub mod heap;

pub use envelope::{GuestError, pack, unpack};
pub use kind::Kind;
pub use manifest::{Budgets, Capability, Manifest, ManifestError};

/// The ABI version this crate describes. A module reports it from its
/// `molt_abi_version` export and in its manifest; the host refuses any other.
pub const ABI_VERSION: u32 = 1;

/// The import module name under which the host provides its functions.
pub const IMPORT_MODULE: &str = "molt";

/// The name of the custom section that holds a module's [`Manifest`].
pub const MANIFEST_SECTION: &str = "molt.manifest";

/// The name of the custom section that holds a module's signature.
pub const SIGNATURE_SECTION: &str = "molt.signature";
