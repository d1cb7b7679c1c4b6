//! molt's validator network: the [Malachite](https://github.com/circlefin/malachite)
//! BFT engine (Tendermint, one height at a time, final on decide) driving the chain's
//! propose / verify / commit phases between validators over libp2p.
//!
//! What this crate owns: molt's Malachite context (heights, validator addresses,
//! votes on block hashes, proposals — [`context`]), validator signatures
//! ([`signing`]), the engine's encoding ([`codec`], borsh), blocks on the wire
//! ([`wire`]), proposal streams ([`parts`]), proposals kept across a crash
//! ([`store`]), the network's [`genesis`], its counters ([`metrics`]), and the loop that answers the engine
//! ([`app`]), started by [`network::Network::start`].
//!
//! What it must not touch: rounds, votes, timeouts, gossip and block sync are the
//! engine's; blocks, state and the modules in force are the chain's ([`molt_chain`]);
//! keys and configuration files are read by the node (`molt-host`). A reader starts
//! at [`app`].

pub mod app;
pub mod codec;
pub mod context;
pub mod error;
pub mod genesis;
pub mod metrics;
pub mod network;
pub mod parts;
pub mod signing;
pub mod store;
pub mod wire;

pub use context::{Address, Height, MoltContext, PublicKey, Validator, ValidatorSet};
pub use error::BftError;
pub use genesis::{Genesis, GenesisValidator};
pub use malachitebft_app_channel::app::net::Multiaddr;
pub use malachitebft_app_channel::app::types::core::LinearTimeouts;
pub use metrics::BftMetrics;
pub use network::{Network, NetworkConfig};
