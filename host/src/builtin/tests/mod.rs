//! The chain with the built-in guests, on both engines: what `molt-chain` and
//! `molt-runtime` cannot test alone, since they depend on no guest crate.

mod chain;
mod differential;
mod execution;
mod upgrades;
