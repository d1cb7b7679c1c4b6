//! The guest modules compiled into the `molt` binary (built by `host/build.rs`), and
//! their native twins.
//!
//! They are embedded unsigned; a node signs them with its dev key at start so that
//! they go through the same verification as any module an operator deploys. The twins
//! are the same guest crates linked natively (`--engine native`), handed to the
//! runtime's engines as entry points: this is the one place the node names a guest
//! crate.
//!
//! The tests beside this file run the chain (`molt-chain`) with these guests on both
//! engines: blocks, restarts, history, upgrades, and the differential test that the
//! WebAssembly module and its twin give byte-identical outputs.

use std::io::Read;

use molt_abi::{ABI_VERSION, Budgets, Capability, Kind, Manifest};
use molt_runtime::{Consensus, ConsensusTwin, Engine, ExecutionTwin, Executor, RpcEngine, RpcTwin};

/// A built-in guest: its code and the manifest it is signed with.
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    /// Module name.
    pub name: &'static str,
    /// Module kind.
    pub kind: Kind,
    /// Module version (the guest crate's version).
    pub version: &'static str,
    /// The unsigned `wasm32-wasip1` binary, gzipped (`host/build.rs`); [`Builtin::wasm`]
    /// inflates it.
    gz: &'static [u8],
}

/// The `echo` test guest (kind `rpc`).
pub const ECHO: Builtin = Builtin {
    name: "echo",
    kind: Kind::Rpc,
    version: molt_echo::VERSION,
    gz: include_bytes!(env!("MOLT_GUEST_ECHO")),
};

/// The revm execution guest (kind `execution`).
pub const EXECUTION: Builtin = Builtin {
    name: "execution-revm",
    kind: Kind::Execution,
    version: env!("CARGO_PKG_VERSION"),
    gz: include_bytes!(env!("MOLT_GUEST_EXECUTION")),
};

/// The proof-of-authority consensus guest (kind `consensus`).
pub const CONSENSUS: Builtin = Builtin {
    name: "consensus-poa",
    kind: Kind::Consensus,
    version: env!("CARGO_PKG_VERSION"),
    gz: include_bytes!(env!("MOLT_GUEST_CONSENSUS")),
};

/// The Ethereum JSON-RPC guest (kind `rpc`).
pub const RPC_ETH: Builtin = Builtin {
    name: "rpc-eth",
    kind: Kind::Rpc,
    version: molt_rpc_eth::VERSION,
    gz: include_bytes!(env!("MOLT_GUEST_RPC_ETH")),
};

/// Every built-in guest.
pub const ALL: &[Builtin] = &[ECHO, EXECUTION, CONSENSUS, RPC_ETH];

/// `execution-revm` linked natively.
pub const EXECUTION_TWIN: ExecutionTwin = ExecutionTwin {
    name: "execution-revm",
    execute_block: molt_execution_revm::native::execute_block,
    execute_call: molt_execution_revm::native::execute_call,
    execute_trace: Some(molt_execution_revm::native::execute_trace),
};

/// `consensus-poa` linked natively.
pub const CONSENSUS_TWIN: ConsensusTwin = ConsensusTwin {
    name: "consensus-poa",
    propose: molt_consensus_poa::native::propose,
    validate: molt_consensus_poa::native::validate,
    validators: Some(molt_consensus_poa::native::validators),
};

/// `rpc-eth` linked natively.
pub const RPC_ETH_TWIN: RpcTwin = RpcTwin {
    name: "rpc-eth",
    handle: molt_rpc_eth::native::handle,
};

/// The native execution twin as an engine.
pub fn native_executor() -> Executor {
    Engine::Native(EXECUTION_TWIN)
}

/// The native consensus twin as an engine.
pub fn native_consensus() -> Consensus {
    Engine::Native(CONSENSUS_TWIN)
}

/// A chain on `db` that runs the native twins from genesis and stages no modules.
pub fn native_chain(
    db: molt_storage::Db,
    config: molt_chain::ChainConfig,
    seal_key: ed25519_dalek::SigningKey,
    alloc: &[(alloy_primitives::Address, alloy_primitives::U256)],
) -> Result<molt_chain::Chain, molt_chain::ChainError> {
    let modules = molt_chain::Modules {
        execution: native_executor(),
        consensus: native_consensus(),
        store: std::sync::Arc::new(molt_chain::upgrades::NoStagedModules),
    };
    molt_chain::Chain::open(db, modules, config, seal_key, alloc)
}

/// The native rpc twin as an engine.
pub fn native_rpc() -> RpcEngine {
    Engine::Native(RPC_ETH_TWIN)
}

impl Builtin {
    /// The unsigned `wasm32-wasip1` binary.
    pub fn wasm(&self) -> Vec<u8> {
        let mut wasm = Vec::with_capacity(self.gz.len() * 4);
        flate2::read::GzDecoder::new(self.gz)
            .read_to_end(&mut wasm)
            .expect("host/build.rs gzipped this module");
        wasm
    }

    /// The manifest the node signs this module with.
    pub fn manifest(&self) -> Manifest {
        let budgets = match self.kind {
            // Deep call stacks with large memory (1024 frames) need far more than
            // the default; 1 GiB is the node's ceiling.
            Kind::Execution => Budgets {
                memory_bytes: 1 << 30,
                ..Budgets::default()
            },
            _ => Budgets::default(),
        };
        Manifest {
            abi_version: ABI_VERSION,
            kind: self.kind,
            name: self.name.into(),
            version: self.version.into(),
            budgets,
            capabilities: vec![Capability::Stdio],
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod echo_tests {
    use molt_runtime::{CallError, Grants, Runtime, RuntimeConfig};

    #[test]
    fn the_rust_echo_guest_runs_and_refuses() {
        let echo = super::ECHO;
        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let m = rt
            .load(
                &echo.manifest(),
                &echo.wasm(),
                &Grants {
                    stdio: true,
                    dir: None,
                },
            )
            .unwrap();
        let (out, stats) = m
            .call_measured(
                "molt_rpc_handle",
                br#"{"jsonrpc":"2.0","id":1,"method":"molt_keccak","params":["0x"]}"#,
            )
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["result"],
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert!(stats.peak_memory > 0);
        assert_eq!(
            m.call("molt_rpc_handle", br#"{"id":1,"method":"molt_refuse"}"#),
            Err(CallError::Refused("refused on request".into()))
        );
    }
}
