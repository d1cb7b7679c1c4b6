//! Proposed blocks kept on disk until their height is decided, so that a validator
//! restarted mid-height (the engine replays its WAL) can still commit the block it
//! voted for and re-proposes the very block it proposed before — never a second one
//! for the same height and round.
//!
//! ```text
//! <dir>/<height>/<hash>.block   a complete proposed block (wire encoding)
//! <dir>/<height>/own-<round>    the hash this node proposed in that round
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use alloy_primitives::B256;

use crate::error::BftError;

/// The proposal store in a directory.
pub struct ProposalStore {
    dir: PathBuf,
}

impl ProposalStore {
    /// The store in `dir` (created if missing).
    pub fn open(dir: &Path) -> Result<Self, BftError> {
        fs::create_dir_all(dir).map_err(|e| BftError::io(dir, e))?;
        Ok(ProposalStore {
            dir: dir.to_owned(),
        })
    }

    fn height_dir(&self, height: u64) -> PathBuf {
        self.dir.join(height.to_string())
    }

    /// Keeps block `hash` of `height`, durably.
    pub fn put_block(&self, height: u64, hash: &B256, bytes: &[u8]) -> Result<(), BftError> {
        let path = self.height_dir(height).join(format!("{hash}.block"));
        write_durably(&path, bytes)
    }

    /// Block `hash` of `height`, if kept.
    pub fn block(&self, height: u64, hash: &B256) -> Option<Vec<u8>> {
        fs::read(self.height_dir(height).join(format!("{hash}.block"))).ok()
    }

    /// Records, durably, that this node proposed `hash` at `height` and `round`.
    pub fn put_own(&self, height: u64, round: u32, hash: &B256) -> Result<(), BftError> {
        let path = self.height_dir(height).join(format!("own-{round}"));
        write_durably(&path, hash.as_slice())
    }

    /// The hash this node proposed at `height` and `round`, if any.
    pub fn own(&self, height: u64, round: u32) -> Option<B256> {
        let bytes = fs::read(self.height_dir(height).join(format!("own-{round}"))).ok()?;
        B256::try_from(bytes.as_slice()).ok()
    }

    /// Forgets every height up to `height` (decided and committed).
    pub fn prune(&self, height: u64) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some(h) = name.to_str().and_then(|n| n.parse::<u64>().ok())
                && h <= height
            {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Writes `bytes` to `path` through a temporary file, synced before the rename.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), BftError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| BftError::io(dir, e))?;
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp).map_err(|e| BftError::io(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| BftError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| BftError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_blocks_and_own_proposals_until_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ProposalStore::open(dir.path()).expect("open");
        let hash = B256::repeat_byte(4);
        store.put_block(5, &hash, b"block").expect("put");
        store.put_own(5, 1, &hash).expect("own");
        store.put_block(6, &hash, b"next").expect("put");
        assert_eq!(store.block(5, &hash).as_deref(), Some(&b"block"[..]));
        assert_eq!(store.own(5, 1), Some(hash));
        assert_eq!(store.own(5, 0), None);
        store.prune(5);
        assert_eq!(store.block(5, &hash), None);
        assert_eq!(store.own(5, 1), None);
        assert_eq!(store.block(6, &hash).as_deref(), Some(&b"next"[..]));
    }
}
