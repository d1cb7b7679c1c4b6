//! The manifest a module carries in its `molt.manifest` custom section.
//!
//! Canonical encoding (RLP, see `ABI.md` §Manifest):
//!
//! ```text
//! manifest     = [abi_version: uint, kind: string, name: string, version: string,
//!                 budgets, capabilities]
//! budgets      = [memory_bytes: uint, fuel: uint, time_ms: uint]   ; 0 = host default
//! capabilities = [string, ...]                                     ; "stdio", "preopen-dir"
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloy_rlp::{Decodable, Encodable, Header, RlpDecodable, RlpEncodable};
use core::fmt;
use core::str::FromStr;

use crate::Kind;

/// What a module is and what it asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// ABI version the module was built against; must equal [`crate::ABI_VERSION`].
    pub abi_version: u32,
    /// Which slot the module is for.
    pub kind: Kind,
    /// Module name: 1–64 characters of `a-z`, `0-9`, `-`, `_`, `.`.
    pub name: String,
    /// Semantic version, `MAJOR.MINOR.PATCH[-pre][+build]`.
    pub version: String,
    /// Resource ceilings the module asks for; the operator's limits still apply.
    pub budgets: Budgets,
    /// Capabilities the module asks for; the operator must also grant them.
    pub capabilities: Vec<Capability>,
}

/// Resource ceilings per call. `0` means "the host's default".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Budgets {
    /// Peak linear memory in bytes.
    pub memory_bytes: u64,
    /// Fuel units per call, for deterministic kinds (roughly one per wasm instruction).
    pub fuel: u64,
    /// Wall-clock time per call in milliseconds, for `rpc` modules.
    pub time_ms: u64,
}

/// An authority a module may ask for. Anything not listed here, a module never gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// WASI stdout and stderr, forwarded line by line into the node log.
    Stdio,
    /// One preopened directory (guest path `/data`), chosen by the operator. `rpc` only.
    PreopenDir,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 2] = [Capability::Stdio, Capability::PreopenDir];

    /// The capability's name in manifests.
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::Stdio => "stdio",
            Capability::PreopenDir => "preopen-dir",
        }
    }
}

impl FromStr for Capability {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| ManifestError::UnknownCapability(s.to_string()))
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a manifest could not be decoded or is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestError {
    /// The bytes are not the canonical RLP encoding.
    Encoding(String),
    /// The kind is not `consensus`, `execution` or `rpc`.
    UnknownKind(String),
    /// A capability name this ABI does not define.
    UnknownCapability(String),
    /// The same capability is listed twice.
    DuplicateCapability(Capability),
    /// A capability the module's kind may never have.
    CapabilityNotForKind(Capability, Kind),
    /// The name is empty, too long or uses characters outside `a-z0-9-_.`.
    BadName(String),
    /// The version is empty or longer than 64 bytes.
    BadVersion(String),
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Encoding(e) => write!(f, "not canonical RLP: {e}"),
            ManifestError::UnknownKind(k) => write!(f, "unknown kind {k:?}"),
            ManifestError::UnknownCapability(c) => write!(f, "unknown capability {c:?}"),
            ManifestError::DuplicateCapability(c) => write!(f, "capability {c} listed twice"),
            ManifestError::CapabilityNotForKind(c, k) => {
                write!(f, "capability {c} is not available to {k} modules")
            }
            ManifestError::BadName(n) => {
                write!(f, "bad name {n:?} (1-64 characters of a-z 0-9 - _ .)")
            }
            ManifestError::BadVersion(v) => write!(f, "bad version {v:?}"),
        }
    }
}

impl core::error::Error for ManifestError {}

impl Manifest {
    /// Checks the rules an encoding alone cannot express.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if !name_ok {
            return Err(ManifestError::BadName(self.name.clone()));
        }
        if self.version.is_empty() || self.version.len() > 64 {
            return Err(ManifestError::BadVersion(self.version.clone()));
        }
        for (i, cap) in self.capabilities.iter().enumerate() {
            if self.capabilities[..i].contains(cap) {
                return Err(ManifestError::DuplicateCapability(*cap));
            }
            if *cap == Capability::PreopenDir && self.kind.is_deterministic() {
                return Err(ManifestError::CapabilityNotForKind(*cap, self.kind));
            }
        }
        Ok(())
    }

    /// Whether the manifest asks for `cap`.
    pub fn wants(&self, cap: Capability) -> bool {
        self.capabilities.contains(&cap)
    }

    /// The canonical encoding.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes the canonical encoding and [validates](Self::validate) it. Trailing
    /// bytes are an error.
    pub fn decode_exact(mut bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest = Self::decode_fields(&mut bytes)?;
        if !bytes.is_empty() {
            return Err(ManifestError::Encoding("trailing bytes".into()));
        }
        manifest.validate()?;
        Ok(manifest)
    }

    fn decode_fields(buf: &mut &[u8]) -> Result<Self, ManifestError> {
        let enc = |e: alloy_rlp::Error| ManifestError::Encoding(e.to_string());
        let mut body = list_body(buf).map_err(enc)?;
        let abi_version = u32::decode(&mut body).map_err(enc)?;
        let kind_name = String::decode(&mut body).map_err(enc)?;
        let kind = kind_name
            .parse()
            .map_err(|_| ManifestError::UnknownKind(kind_name))?;
        let name = String::decode(&mut body).map_err(enc)?;
        let version = String::decode(&mut body).map_err(enc)?;
        let budgets = Budgets::decode(&mut body).map_err(enc)?;
        let capabilities = Vec::<String>::decode(&mut body)
            .map_err(enc)?
            .iter()
            .map(|c| c.parse())
            .collect::<Result<Vec<_>, _>>()?;
        if !body.is_empty() {
            return Err(ManifestError::Encoding("extra manifest fields".into()));
        }
        Ok(Manifest {
            abi_version,
            kind,
            name,
            version,
            budgets,
            capabilities,
        })
    }

    fn fields_len(&self) -> usize {
        self.abi_version.length()
            + self.kind.as_str().length()
            + self.name.length()
            + self.version.length()
            + self.budgets.length()
            + self.capability_names().length()
    }

    fn capability_names(&self) -> Vec<&'static str> {
        self.capabilities.iter().map(|c| c.as_str()).collect()
    }
}

/// Reads a list header and returns the list's payload, advancing `buf` past it.
fn list_body<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], alloy_rlp::Error> {
    let header = Header::decode(buf)?;
    if !header.list {
        return Err(alloy_rlp::Error::UnexpectedString);
    }
    if buf.len() < header.payload_length {
        return Err(alloy_rlp::Error::InputTooShort);
    }
    let (body, rest) = buf.split_at(header.payload_length);
    *buf = rest;
    Ok(body)
}

impl Encodable for Manifest {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        Header {
            list: true,
            payload_length: self.fields_len(),
        }
        .encode(out);
        self.abi_version.encode(out);
        self.kind.as_str().encode(out);
        self.name.encode(out);
        self.version.encode(out);
        self.budgets.encode(out);
        self.capability_names().encode(out);
    }

    fn length(&self) -> usize {
        let payload_length = self.fields_len();
        Header {
            list: true,
            payload_length,
        }
        .length()
            + payload_length
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> Manifest {
        Manifest {
            abi_version: 1,
            kind: Kind::Rpc,
            name: "echo".into(),
            version: "1.2.3-beta.1".into(),
            budgets: Budgets {
                memory_bytes: 64 << 20,
                fuel: 0,
                time_ms: 250,
            },
            capabilities: vec![Capability::Stdio, Capability::PreopenDir],
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        let bytes = m.encode_to_vec();
        assert_eq!(bytes.len(), m.length());
        assert_eq!(Manifest::decode_exact(&bytes), Ok(m));
    }

    #[test]
    fn refuses_trailing_bytes_and_truncation() {
        let mut bytes = sample().encode_to_vec();
        bytes.push(0x80);
        assert!(matches!(
            Manifest::decode_exact(&bytes),
            Err(ManifestError::Encoding(_))
        ));
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(
            Manifest::decode_exact(&bytes),
            Err(ManifestError::Encoding(_))
        ));
    }

    #[test]
    fn refuses_dir_for_deterministic_kinds() {
        let mut m = sample();
        m.kind = Kind::Execution;
        let bytes = m.encode_to_vec();
        assert_eq!(
            Manifest::decode_exact(&bytes),
            Err(ManifestError::CapabilityNotForKind(
                Capability::PreopenDir,
                Kind::Execution
            ))
        );
    }

    #[test]
    fn refuses_bad_names_and_duplicates() {
        let mut m = sample();
        m.name = "Echo!".into();
        assert!(matches!(m.validate(), Err(ManifestError::BadName(_))));
        let mut m = sample();
        m.capabilities = vec![Capability::Stdio, Capability::Stdio];
        assert_eq!(
            m.validate(),
            Err(ManifestError::DuplicateCapability(Capability::Stdio))
        );
    }
}
