//! Modules as signed packages.
//!
//! A package is one WebAssembly module binary with two custom sections:
//! `molt.manifest` (the [`Manifest`], canonical RLP) and `molt.signature` (see
//! [`signature`]). The module's *digest* is the SHA-256 of the binary with the
//! `molt.signature` section removed, so the signature covers the code and the
//! manifest alike.
//!
//! [`sign`] turns a plain module into a package; [`Package::parse`] reads one;
//! [`Verifier::verify`] decides whether the node may run it and says why not.

mod interface;
mod manifest_file;
mod sections;
pub mod signature;

use ed25519_dalek::{SigningKey, VerifyingKey};
use molt_abi::interface::InterfaceError;
use molt_abi::{ABI_VERSION, Kind, MANIFEST_SECTION, Manifest, SIGNATURE_SECTION};
use sha2::{Digest, Sha256};

use crate::router::VersionInfo;

pub use interface::{ABI_FEATURES, Interface};
pub use manifest_file::parse_toml;
pub use signature::SignatureSection;

/// Why a module was refused. Each variant names one reason, so an operator (and a
/// test) can tell them apart.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PackageError {
    /// Not a valid WebAssembly module.
    #[error("not a valid WebAssembly module: {0}")]
    NotWasm(String),
    /// No `molt.signature` section.
    #[error("unsigned module: no molt.signature section")]
    Unsigned,
    /// No `molt.manifest` section.
    #[error("no molt.manifest section")]
    MissingManifest,
    /// A molt section appears more than once.
    #[error("section {0} appears more than once")]
    DuplicateSection(&'static str),
    /// The manifest does not decode or breaks a rule.
    #[error("malformed manifest: {0}")]
    MalformedManifest(String),
    /// The signature section does not decode.
    #[error("malformed signature section: {0}")]
    MalformedSignature(String),
    /// The signature does not match the module's bytes.
    #[error("tampered module: the signature does not match the module's digest {digest}")]
    Tampered {
        /// The digest of the bytes as they are now (hex).
        digest: String,
    },
    /// The signer is not among the trusted publisher keys.
    #[error("unknown signer {0}: not among the trusted publisher keys")]
    UnknownSigner(String),
    /// The module is for another slot.
    #[error("wrong kind: expected kind {expected}, found {found}")]
    WrongKind {
        /// The kind asked for.
        expected: Kind,
        /// The manifest's kind.
        found: Kind,
    },
    /// The manifest names an ABI version this node does not speak.
    #[error("unknown ABI version {found} (this node speaks {ABI_VERSION})")]
    UnknownAbi {
        /// The manifest's ABI version.
        found: u32,
    },
    /// The module's imports or exports do not fit its kind.
    #[error("does not fit the ABI: {0}")]
    Interface(InterfaceError),
    /// The module is older than the newest version of the same name the slot has run.
    #[error("downgrade refused: {name} {candidate} is older than {installed}, active before")]
    Downgrade {
        /// The module's name.
        name: String,
        /// The newest version of that name the slot has run.
        installed: String,
        /// The candidate's version.
        candidate: String,
    },
    /// The module has the version of one the slot has run, but other code.
    #[error(
        "same version, different code: {name} {version} ran here as sha256:{installed}, \
         this is sha256:{candidate}; give a new version a new number"
    )]
    SameVersionDifferentCode {
        /// The module's name.
        name: String,
        /// The version both claim.
        version: String,
        /// The digest of the one that ran.
        installed: String,
        /// The candidate's digest.
        candidate: String,
    },
}

/// A module binary, read but not yet trusted.
#[derive(Debug, Clone)]
pub struct Package {
    /// The whole binary, as received.
    pub bytes: Vec<u8>,
    /// SHA-256 of the binary without its `molt.signature` section.
    pub digest: [u8; 32],
    /// The manifest, if the module has one that decodes.
    pub manifest: Result<Manifest, PackageError>,
    /// The signature, if the module has one that decodes.
    pub signature: Result<SignatureSection, PackageError>,
    /// The module's imports and exports.
    pub interface: Interface,
}

impl Package {
    /// Reads a module binary: validates it as WebAssembly, finds the molt sections and
    /// computes its digest. Only a binary that is not WebAssembly at all, or that
    /// repeats a molt section, is an error here; everything else is judged by
    /// [`Verifier::verify`].
    pub fn parse(bytes: Vec<u8>) -> Result<Package, PackageError> {
        let not_wasm = |e: wasmparser::BinaryReaderError| PackageError::NotWasm(e.to_string());
        let interface = Interface::read(&bytes).map_err(not_wasm)?;
        let sections = sections::split(&bytes).map_err(not_wasm)?;
        let find = |wanted: &'static str| {
            let mut found = sections
                .iter()
                .filter_map(|s| s.custom)
                .filter(|(name, _)| *name == wanted)
                .map(|(_, data)| data);
            let first = found.next();
            match found.next() {
                Some(_) => Err(PackageError::DuplicateSection(wanted)),
                None => Ok(first),
            }
        };
        let manifest = find(MANIFEST_SECTION)?
            .ok_or(PackageError::MissingManifest)
            .and_then(|data| {
                Manifest::decode_exact(data)
                    .map_err(|e| PackageError::MalformedManifest(e.to_string()))
            });
        let signature = find(SIGNATURE_SECTION)?
            .ok_or(PackageError::Unsigned)
            .and_then(|data| {
                SignatureSection::decode_exact(data).map_err(PackageError::MalformedSignature)
            });
        let unsigned = sections::without(&bytes, &sections, |n| n == SIGNATURE_SECTION);
        let digest = Sha256::digest(&unsigned).into();
        Ok(Package {
            bytes,
            digest,
            manifest,
            signature,
            interface,
        })
    }

    /// The digest as lowercase hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }
}

/// Turns a module into a package: replaces any molt sections with `manifest` and a
/// signature by `key`. The manifest is validated first.
pub fn sign(module: &[u8], manifest: &Manifest, key: &SigningKey) -> Result<Vec<u8>, PackageError> {
    manifest
        .validate()
        .map_err(|e| PackageError::MalformedManifest(e.to_string()))?;
    let not_wasm = |e: wasmparser::BinaryReaderError| PackageError::NotWasm(e.to_string());
    Interface::read(module).map_err(not_wasm)?;
    let sections = sections::split(module).map_err(not_wasm)?;
    let mut out = sections::without(module, &sections, |n| {
        n == MANIFEST_SECTION || n == SIGNATURE_SECTION
    });
    sections::append_custom(&mut out, MANIFEST_SECTION, &manifest.encode_to_vec());
    let digest: [u8; 32] = Sha256::digest(&out).into();
    let signature = SignatureSection::sign(key, &digest);
    sections::append_custom(&mut out, SIGNATURE_SECTION, &signature.encode_to_vec());
    Ok(out)
}

// Not `#[from]`: that would also make the inner error the `source`, and reports that
// print the chain would say it twice.
impl From<InterfaceError> for PackageError {
    fn from(e: InterfaceError) -> Self {
        PackageError::Interface(e)
    }
}

/// A package the node may run: signed by a trusted key, fitting the ABI for its kind.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The package's binary, as received (sections included; they do not affect
    /// execution).
    pub bytes: Vec<u8>,
    /// The package's digest (hex-encodable with [`hex::encode`]).
    pub digest: [u8; 32],
    /// Its manifest.
    pub manifest: Manifest,
    /// Who signed it.
    pub signer: VerifyingKey,
}

impl Verified {
    /// Its identity in a slot: name and version from the manifest, digest in hex.
    pub fn info(&self) -> VersionInfo {
        VersionInfo {
            name: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
            digest: hex::encode(self.digest),
        }
    }
}

/// Decides whether packages may run, against a set of trusted publisher keys.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    trusted: Vec<VerifyingKey>,
}

impl Verifier {
    /// A verifier that trusts exactly these keys.
    pub fn new(trusted: impl IntoIterator<Item = VerifyingKey>) -> Self {
        Verifier {
            trusted: trusted.into_iter().collect(),
        }
    }

    /// The trusted keys.
    pub fn trusted(&self) -> &[VerifyingKey] {
        &self.trusted
    }

    /// Checks a package, in this order: signed, untampered, trusted signer, manifest
    /// well formed, known ABI, expected kind (if given), fits the ABI for its kind,
    /// and no downgrade against `history`, the versions the slot has run.
    ///
    /// A downgrade is judged only against the newest version *of the same name*: a
    /// module of another name may replace the active one (replacing an implementation
    /// is what a slot is for). The same version again is accepted only with the same
    /// code (going back to a version that ran); with other code it is refused.
    pub fn verify(
        &self,
        package: Package,
        expected: Option<Kind>,
        history: &[VersionInfo],
    ) -> Result<Verified, PackageError> {
        let signature = package.signature?;
        if !signature.is_valid_for(&package.digest) {
            return Err(PackageError::Tampered {
                digest: hex::encode(package.digest),
            });
        }
        if !self.trusted.contains(&signature.signer) {
            return Err(PackageError::UnknownSigner(hex::encode(
                signature.signer.to_bytes(),
            )));
        }
        let manifest = package.manifest?;
        let version = parse_version(&manifest.version)?;
        if manifest.abi_version != ABI_VERSION {
            return Err(PackageError::UnknownAbi {
                found: manifest.abi_version,
            });
        }
        if let Some(expected) = expected.filter(|k| *k != manifest.kind) {
            return Err(PackageError::WrongKind {
                expected,
                found: manifest.kind,
            });
        }
        package.interface.check(manifest.kind)?;
        let digest = hex::encode(package.digest);
        let newest = history
            .iter()
            .filter(|v| v.name == manifest.name)
            .filter_map(|v| Some((semver::Version::parse(&v.version).ok()?, v)))
            .filter(|(v, _)| *v >= version)
            .max_by(|a, b| a.0.cmp(&b.0));
        match newest {
            Some((newest, _)) if newest > version => {
                return Err(PackageError::Downgrade {
                    name: manifest.name,
                    installed: newest.to_string(),
                    candidate: version.to_string(),
                });
            }
            Some((_, same))
                if !history.iter().any(|v| {
                    v.name == manifest.name && v.version == same.version && v.digest == digest
                }) =>
            {
                return Err(PackageError::SameVersionDifferentCode {
                    name: manifest.name,
                    version: version.to_string(),
                    installed: same.digest.clone(),
                    candidate: digest,
                });
            }
            _ => {}
        }
        Ok(Verified {
            bytes: package.bytes,
            digest: package.digest,
            manifest,
            signer: signature.signer,
        })
    }
}

/// Parses a manifest's semantic version.
pub fn parse_version(text: &str) -> Result<semver::Version, PackageError> {
    semver::Version::parse(text)
        .map_err(|e| PackageError::MalformedManifest(format!("version {text:?}: {e}")))
}

#[cfg(test)]
mod tests;
