//! The kinds of guest module, one per router slot.

use core::fmt;
use core::str::FromStr;

/// What a module does, and so which slot it may occupy, which exports it must
/// provide and which imports it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Block production and validation rules. Deterministic.
    Consensus,
    /// Transaction and block execution. Deterministic.
    Execution,
    /// JSON-RPC request handling. May read the clock and randomness.
    Rpc,
}

impl Kind {
    /// Every kind, in slot order.
    pub const ALL: [Kind; 3] = [Kind::Consensus, Kind::Execution, Kind::Rpc];

    /// The kind's name as it appears in manifests and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Consensus => "consensus",
            Kind::Execution => "execution",
            Kind::Rpc => "rpc",
        }
    }

    /// Whether every node must compute the same result from the same input: such
    /// modules get no clock, randomness or filesystem, and are metered with fuel.
    pub const fn is_deterministic(self) -> bool {
        matches!(self, Kind::Consensus | Kind::Execution)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that is not one of `consensus`, `execution`, `rpc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownKind;

impl fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown module kind (expected consensus, execution or rpc)")
    }
}

impl core::error::Error for UnknownKind {}

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownKind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(k));
        }
        assert_eq!("Rpc".parse::<Kind>(), Err(UnknownKind));
    }
}
