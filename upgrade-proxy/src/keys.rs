//! Publisher keys: ed25519, stored as hex text files.
//!
//! A secret key file holds 64 hex characters (the 32-byte seed) and a newline; its
//! public key file, conventionally the same path with `.pub` appended, holds the
//! 32-byte public key in 64 hex characters. Trusted keys are given to the node as hex
//! strings or as paths to `.pub` files.

use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};

/// Why a key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// What the filesystem said.
        source: std::io::Error,
    },
    /// The text is not 32 bytes of hex.
    #[error("{what}: expected 64 hex characters (32 bytes)")]
    Format {
        /// Where the text came from.
        what: String,
    },
    /// The bytes are not a valid ed25519 public key.
    #[error("{what}: not a valid ed25519 public key")]
    NotAPoint {
        /// Where the key came from.
        what: String,
    },
}

/// A fresh signing key from the operating system's randomness.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

/// Writes `key` to `path` (mode 0600 on Unix) and its public half to `path.pub`.
pub fn write_signing_key(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let secret = format!("{}\n", hex::encode(key.to_bytes()));
    write_private(path, secret.as_bytes()).map_err(io)?;
    let public = format!("{}\n", hex::encode(key.verifying_key().to_bytes()));
    std::fs::write(public_path(path), public).map_err(io)
}

/// The conventional path of the public key for the secret key at `path`.
pub fn public_path(path: &Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".pub");
    p.into()
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Reads a secret key file written by [`write_signing_key`].
pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(SigningKey::from_bytes(&parse_32(
        text.trim(),
        &path.display().to_string(),
    )?))
}

/// Parses a trusted key given as hex (optionally `0x`-prefixed) or as a path to a file
/// holding that hex.
pub fn parse_verifying_key(text_or_path: &str) -> Result<VerifyingKey, KeyError> {
    let hex_text = text_or_path.strip_prefix("0x").unwrap_or(text_or_path);
    let (text, what) = if hex_text.len() == 64 && hex_text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (hex_text.to_string(), "key".to_string())
    } else {
        let text = std::fs::read_to_string(text_or_path).map_err(|source| KeyError::Io {
            path: text_or_path.to_string(),
            source,
        })?;
        (text.trim().to_string(), text_or_path.to_string())
    };
    let bytes = parse_32(&text, &what)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotAPoint { what })
}

fn parse_32(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| KeyError::Format {
        what: what.to_string(),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_files() {
        let dir = std::env::temp_dir().join(format!("molt-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("publisher.key");
        let key = generate();
        write_signing_key(&path, &key).unwrap();
        assert_eq!(read_signing_key(&path).unwrap().to_bytes(), key.to_bytes());
        let pub_path = public_path(&path);
        let vk = parse_verifying_key(pub_path.to_str().unwrap()).unwrap();
        assert_eq!(vk, key.verifying_key());
        let hex_key = hex::encode(vk.to_bytes());
        assert_eq!(parse_verifying_key(&hex_key).unwrap(), vk);
        assert!(matches!(
            parse_verifying_key("0x1234"),
            Err(KeyError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
