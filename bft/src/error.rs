//! What can go wrong in the validator network glue.

use std::path::PathBuf;

use molt_chain::ChainError;

/// An error of the network layer.
#[derive(Debug, thiserror::Error)]
pub enum BftError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A configuration or genesis file is wrong.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The consensus engine could not start or stopped.
    #[error("consensus engine: {0}")]
    Engine(String),
    /// The chain refused an operation.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A chain call could not run (its task panicked).
    #[error("a chain call did not finish: {0}")]
    Task(String),
}

impl BftError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BftError::Io {
            path: path.into(),
            source,
        }
    }
}
