//! The `consensus` kind: asking the consensus module when to seal and whether a header
//! is valid, as WebAssembly or natively.

use molt_abi::consensus::{
    Proposal, ProposeInput, ValidateInput, Validators, ValidatorsInput, Verdict,
};
use molt_abi::execution::{decode, encode};
use molt_abi::imports::Host;
use molt_abi::{GuestError, Kind};

use super::{Engine, EngineError};
use crate::native::NativeHost;

/// A native entry point of the `consensus` kind.
pub type Entry = fn(&dyn Host, &[u8]) -> Result<Vec<u8>, GuestError>;

/// The entry points of a consensus guest crate linked natively.
#[derive(Clone, Copy, Debug)]
pub struct ConsensusTwin {
    /// The module's name, for its log lines.
    pub name: &'static str,
    /// `molt_consensus_propose`.
    pub propose: Entry,
    /// `molt_consensus_validate`.
    pub validate: Entry,
    /// `molt_consensus_validators`, if the module exports it.
    pub validators: Option<Entry>,
}

/// Which engine runs the consensus rules.
pub type Consensus = Engine<ConsensusTwin>;

impl Consensus {
    /// `molt_consensus_propose`.
    pub fn propose(&self, input: &ProposeInput) -> Result<Proposal, EngineError> {
        let out = self.run("molt_consensus_propose", |t| t.propose, &encode(input))?;
        decode(&out).map_err(|e| EngineError::output(Kind::Consensus, e))
    }

    /// `molt_consensus_validate`.
    pub fn validate(&self, input: &ValidateInput) -> Result<Verdict, EngineError> {
        let out = self.run("molt_consensus_validate", |t| t.validate, &encode(input))?;
        decode(&out).map_err(|e| EngineError::output(Kind::Consensus, e))
    }

    /// `molt_consensus_validators`; `None` if the module does not export it (the
    /// genesis validators then stay in force).
    pub fn validators(&self, input: &ValidatorsInput) -> Result<Option<Validators>, EngineError> {
        const ENTRY: &str = "molt_consensus_validators";
        let out = match self {
            Engine::Wasm(module) if module.exports(ENTRY) => module.call(ENTRY, &encode(input))?,
            Engine::Native(ConsensusTwin {
                name,
                validators: Some(entry),
                ..
            }) => entry(&NativeHost::new(*name), &encode(input))
                .map_err(|e| EngineError::Refused(e.0))?,
            _ => return Ok(None),
        };
        decode(&out)
            .map(Some)
            .map_err(|e| EngineError::output(Kind::Consensus, e))
    }

    fn run(
        &self,
        entry: &str,
        native: fn(&ConsensusTwin) -> Entry,
        input: &[u8],
    ) -> Result<Vec<u8>, EngineError> {
        match self {
            Engine::Wasm(module) => Ok(module.call(entry, input)?),
            Engine::Native(twin) => native(twin)(&NativeHost::new(twin.name), input)
                .map_err(|e| EngineError::Refused(e.0)),
        }
    }
}
