//! Asking the `consensus` module when to seal and whether a header is valid, as
//! WebAssembly or natively.

use molt_abi::GuestError;
use molt_abi::consensus::{Proposal, ProposeInput, ValidateInput, Verdict};
use molt_abi::execution::{decode, encode};

use crate::execution::ExecError;
use crate::native::NativeHost;
use molt_runtime::LoadedModule;

/// A native twin's entry point.
type NativeEntry = fn(&dyn molt_abi::imports::Host, &[u8]) -> Result<Vec<u8>, GuestError>;

/// Which engine runs the consensus rules.
#[derive(Clone, Debug)]
pub enum Consensus {
    /// The signed guest module, in wasmtime.
    Wasm(LoadedModule),
    /// The guest crate linked natively.
    Native,
}

impl Consensus {
    /// `molt_consensus_propose`.
    pub fn propose(&self, input: &ProposeInput) -> Result<Proposal, ExecError> {
        let out = self.run(
            "molt_consensus_propose",
            molt_consensus_poa::native::propose,
            &encode(input),
        )?;
        decode(&out).map_err(|e| ExecError::Output(e.to_string()))
    }

    /// `molt_consensus_validate`.
    pub fn validate(&self, input: &ValidateInput) -> Result<Verdict, ExecError> {
        let out = self.run(
            "molt_consensus_validate",
            molt_consensus_poa::native::validate,
            &encode(input),
        )?;
        decode(&out).map_err(|e| ExecError::Output(e.to_string()))
    }

    fn run(&self, entry: &str, native: NativeEntry, input: &[u8]) -> Result<Vec<u8>, ExecError> {
        match self {
            Consensus::Wasm(module) => Ok(module.call(entry, input)?),
            Consensus::Native => native(&NativeHost::new("consensus-poa"), input)
                .map_err(|e| ExecError::Refused(e.0)),
        }
    }
}
