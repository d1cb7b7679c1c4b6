//! The human-written form of a manifest: a TOML file given to `molt module sign`.
//!
//! ```toml
//! kind = "rpc"                 # consensus | execution | rpc
//! name = "echo"
//! version = "0.1.0"
//! capabilities = ["stdio"]     # optional: stdio, preopen-dir
//!
//! [budgets]                    # optional; 0 or absent = the node's default
//! memory_bytes = 67108864
//! fuel = 0
//! time_ms = 1000
//! ```

use molt_abi::{ABI_VERSION, Budgets, Manifest};
use serde::Deserialize;

use super::PackageError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    abi_version: Option<u32>,
    kind: String,
    name: String,
    version: String,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    budgets: BudgetsFile,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BudgetsFile {
    #[serde(default)]
    memory_bytes: u64,
    #[serde(default)]
    fuel: u64,
    #[serde(default)]
    time_ms: u64,
}

/// Parses a manifest TOML file and validates the result.
pub fn parse_toml(text: &str) -> Result<Manifest, PackageError> {
    let bad = |e: String| PackageError::MalformedManifest(e);
    let f: File = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let manifest = Manifest {
        abi_version: f.abi_version.unwrap_or(ABI_VERSION),
        kind: f
            .kind
            .parse()
            .map_err(|e: molt_abi::kind::UnknownKind| bad(e.to_string()))?,
        name: f.name,
        version: f.version,
        budgets: Budgets {
            memory_bytes: f.budgets.memory_bytes,
            fuel: f.budgets.fuel,
            time_ms: f.budgets.time_ms,
        },
        capabilities: f
            .capabilities
            .iter()
            .map(|c| c.parse())
            .collect::<Result<_, _>>()
            .map_err(|e: molt_abi::ManifestError| bad(e.to_string()))?,
    };
    manifest.validate().map_err(|e| bad(e.to_string()))?;
    super::parse_version(&manifest.version)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use molt_abi::{Capability, Kind};

    #[test]
    fn reads_a_full_file() {
        let m = parse_toml(
            "kind = \"rpc\"\nname = \"echo\"\nversion = \"0.2.0\"\ncapabilities = [\"stdio\"]\n[budgets]\ntime_ms = 50\n",
        )
        .unwrap();
        assert_eq!(m.kind, Kind::Rpc);
        assert_eq!(m.capabilities, vec![Capability::Stdio]);
        assert_eq!(m.budgets.time_ms, 50);
        assert_eq!(m.abi_version, ABI_VERSION);
    }

    #[test]
    fn names_what_is_wrong() {
        let err = parse_toml("kind = \"wallet\"\nname = \"x\"\nversion = \"1.0.0\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown module kind"), "{err}");
        let err = parse_toml("kind = \"rpc\"\nname = \"x\"\nversion = \"1.0.0\"\ncolour = 1\n")
            .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = parse_toml("kind = \"rpc\"\nname = \"x\"\nversion = \"latest\"\n").unwrap_err();
        assert!(err.to_string().contains("latest"), "{err}");
    }
}
